#!/usr/bin/env bash
# Make sure PostgreSQL, Redis and RabbitMQ answer on their usual local ports, starting any
# local server that is installed but stopped. Servers elsewhere are configured by URL instead.
set -euo pipefail

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
    local name="$1" port="$2" seconds="${3:-60}"
    for _ in $(seq "$seconds"); do
        listening "$port" && return 0
        sleep 1
    done
    echo "$name did not start listening on 127.0.0.1:$port within ${seconds}s" >&2
    return 1
}

if ! listening 5432; then
    if command -v pg_ctlcluster >/dev/null; then
        echo "==> starting PostgreSQL"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
        wait_for PostgreSQL 5432
    else
        echo "PostgreSQL is not running on 127.0.0.1:5432 and no local cluster is installed;" \
            "start one or set MINICHAT_TEST_POSTGRES_URL" >&2
        exit 1
    fi
fi

if ! listening 6379; then
    if command -v redis-server >/dev/null; then
        echo "==> starting Redis"
        redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
        wait_for Redis 6379
    else
        echo "Redis is not running on 127.0.0.1:6379 and redis-server is not installed" >&2
        exit 1
    fi
fi

if ! listening 5672; then
    if command -v rabbitmq-server >/dev/null; then
        echo "==> starting RabbitMQ"
        rabbitmq-server -detached
        wait_for RabbitMQ 5672 120
    else
        echo "RabbitMQ is not running on 127.0.0.1:5672 and rabbitmq-server is not installed" >&2
        exit 1
    fi
fi
echo "==> PostgreSQL, Redis and RabbitMQ are up"
