#!/usr/bin/env bash
# Install MiniChat into .venv and start it on http://localhost:8000.
# Uses DATABASE_URL and JWT_SECRET from the environment or .env; on a machine with a local
# PostgreSQL it creates a `minichat` database and a random secret on first run.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh api

if [ ! -f .env ]; then
    secret="$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(48))')"
    {
        echo "DATABASE_URL=${DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/minichat}"
        echo "JWT_SECRET=$secret"
    } > .env
    echo "==> wrote .env (DATABASE_URL, a generated JWT_SECRET); edit it to point elsewhere"
fi
set -a
# shellcheck disable=SC1091
. ./.env
set +a

if command -v psql >/dev/null && [[ "$DATABASE_URL" == *"@127.0.0.1:5432/minichat" ]]; then
    psql "postgresql://postgres@127.0.0.1:5432/postgres" -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'minichat'" | grep -q 1 \
        || psql "postgresql://postgres@127.0.0.1:5432/postgres" -c "CREATE DATABASE minichat"
fi

.venv/bin/minichat migrate
echo "==> MiniChat api on http://localhost:8000 (API docs: http://localhost:8000/api/docs)"
exec .venv/bin/minichat api --host 127.0.0.1 --port 8000
