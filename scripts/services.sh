#!/usr/bin/env bash
# Make sure PostgreSQL, Redis and RabbitMQ answer on their usual local ports. A server that is
# missing is installed from Debian's packages (as root with apt-get), one that is stopped is
# started, and PostgreSQL lets user postgres in over 127.0.0.1 without a password, as the tests
# expect. Servers that already answer are left alone; servers elsewhere are configured by URL.
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

postgres_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

missing=()
listening 5432 || [ -n "$(postgres_bin)" ] || missing+=(postgresql)
listening 6379 || command -v redis-server >/dev/null || missing+=(redis-server)
listening 5672 || command -v rabbitmq-server >/dev/null || missing+=(rabbitmq-server)

if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        echo "These servers are neither running nor installed: ${missing[*]}." >&2
        echo "Install them (on Debian or Ubuntu: sudo apt-get install ${missing[*]})," >&2
        echo "or point the tests at running ones with MINICHAT_TEST_POSTGRES_URL," \
            "MINICHAT_TEST_REDIS_URL and MINICHAT_TEST_RABBITMQ_URL." >&2
        exit 1
    fi
    echo "==> installing ${missing[*]} from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Trust user postgres on 127.0.0.1 only, ahead of the distribution's password rules. Written once,
# and only into a cluster this script manages (a server that already answers is not touched).
trust_local_postgres() {
    local hba="$1"
    grep -q '^# minichat: local tests' "$hba" && return 0
    local rules
    rules=$(printf '# minichat: local tests connect as postgres without a password\n%s\n%s\n' \
        'host    all    postgres    127.0.0.1/32    trust' \
        'host    all    postgres    ::1/128         trust')
    printf '%s\n%s\n' "$rules" "$(cat "$hba")" >"$hba"
}

if ! listening 5432; then
    if ! command -v pg_ctlcluster >/dev/null; then
        echo "PostgreSQL is not running on 127.0.0.1:5432 and no local cluster can be managed" \
            "here (no pg_ctlcluster); start one or set MINICHAT_TEST_POSTGRES_URL" >&2
        exit 1
    fi
    version=$(basename "$(dirname "$(postgres_bin)")")
    if [ ! -d "/etc/postgresql/$version/main" ]; then
        echo "==> creating PostgreSQL $version cluster main"
        pg_createcluster --port 5432 "$version" main >/dev/null
    fi
    [ -w "/etc/postgresql/$version/main/pg_hba.conf" ] \
        && trust_local_postgres "/etc/postgresql/$version/main/pg_hba.conf"
    echo "==> starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    wait_for PostgreSQL 5432
fi

if ! listening 6379; then
    echo "==> starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    wait_for Redis 6379
fi

if ! listening 5672; then
    echo "==> starting RabbitMQ (takes a few seconds)"
    rabbitmq-server -detached
    wait_for RabbitMQ 5672 120
fi

if [ -z "${MINICHAT_TEST_POSTGRES_URL:-}" ] && command -v psql >/dev/null \
    && ! psql -h 127.0.0.1 -U postgres -d postgres -w -qtAc 'select 1' >/dev/null 2>&1; then
    echo "PostgreSQL answers on 127.0.0.1:5432 but user postgres cannot log in without a" \
        "password; add 'host all postgres 127.0.0.1/32 trust' to pg_hba.conf, or set" \
        "MINICHAT_TEST_POSTGRES_URL with a password" >&2
    exit 1
fi
echo "==> PostgreSQL, Redis and RabbitMQ are up"
