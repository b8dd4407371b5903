#!/usr/bin/env bash
# Runs every Stratus test:
#   1. cargo test: unit and integration tests of every crate;
#   2. the end-to-end tests (tests/e2e): each starts `stratus up` in a temporary data dir and
#      drives it with the real `openstack` CLI, once on SQLite and once on MariaDB.
# Installs the Python clients into .venv on first use. MariaDB: set STRATUS_TEST_MYSQL_URL
# (mysql://user:password@host:3306/), or run as root with mariadb-server installed and this
# script starts it; without either, the MariaDB runs are reported as skipped. RabbitMQ likewise:
# STRATUS_TEST_AMQP_URL, or rabbitmq-server installed and run as root (the multi-node tests).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/openstack ] || [ ! -x .venv/bin/pytest ] || [ ! -x .venv/bin/swift ]; then
    echo "== installing the OpenStack clients into .venv"
    python3 -m venv .venv
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -r tests/requirements.txt
fi

echo "== cargo test"
cargo build --workspace --bins
cargo test --workspace

if [ -z "${STRATUS_TEST_MYSQL_URL:-}" ] && [ "$(id -u)" = 0 ] && command -v mariadbd >/dev/null 2>&1; then
    if ! mysqladmin ping --silent 2>/dev/null; then
        echo "== starting MariaDB"
        service mariadb start >/dev/null 2>&1 || (mysqld_safe >/dev/null 2>&1 &)
        for _ in $(seq 60); do mysqladmin ping --silent 2>/dev/null && break; sleep 0.5; done
    fi
    mysql -u root -e "CREATE USER IF NOT EXISTS 'stratus_test'@'127.0.0.1' IDENTIFIED BY 'stratus_test';
                      GRANT ALL PRIVILEGES ON *.* TO 'stratus_test'@'127.0.0.1'; FLUSH PRIVILEGES;"
    export STRATUS_TEST_MYSQL_URL="mysql://stratus_test:stratus_test@127.0.0.1:3306/"
fi

if [ -z "${STRATUS_TEST_AMQP_URL:-}" ] && [ "$(id -u)" = 0 ] && command -v rabbitmq-server >/dev/null 2>&1; then
    if ! rabbitmqctl -q status >/dev/null 2>&1; then
        echo "== starting RabbitMQ"
        service rabbitmq-server start >/dev/null 2>&1 || (rabbitmq-server -detached >/dev/null 2>&1 || true)
        timeout 120 rabbitmqctl -q await_startup >/dev/null 2>&1 || true
    fi
    if rabbitmqctl -q status >/dev/null 2>&1; then
        export STRATUS_TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:5672/"
    fi
fi

echo "== end-to-end tests (real openstack CLI against stratus up)"
.venv/bin/pytest -q -rs tests/e2e
