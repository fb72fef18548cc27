#!/usr/bin/env bash
# A Citus cluster on this machine, for development and tests: a coordinator and two
# workers, three PostgreSQL instances on three ports (9700, 9701, 9702).
#
#   bash scripts/citus_cluster.sh up [DATABASE ...]  start it (idempotent); make each
#                                                    DATABASE (default: postgres) a
#                                                    Citus database on every node
#   bash scripts/citus_cluster.sh dropdb DATABASE    drop a database on every node
#   bash scripts/citus_cluster.sh down               stop the instances (data kept)
#   bash scripts/citus_cluster.sh destroy            stop them and delete their data
#   bash scripts/citus_cluster.sh url [DATABASE]     print the coordinator's URL
#
# Needs PostgreSQL and the Citus extension installed (https://docs.citusdata.com).
# Settings: CITUS_PORT (9700; the workers take the next ports), CITUS_WORKERS (2),
# CITUS_DATA (where the data directories go), PG_BIN (PostgreSQL's programs),
# CITUS_SHARDS (4: how many shards a table distributed in a database made by `up` has;
# Citus's default, 32, suits a production cluster's many cores, and here would only
# make each migration, and each statement that asks every shard, eight times the work).
# Run as root, it runs PostgreSQL as the `postgres` user. Every node trusts local
# connections: a cluster for one machine, never for production. Each database with
# the extension has a Citus maintenance worker: max_worker_processes leaves room for
# dozens of them.
set -euo pipefail

port="${CITUS_PORT:-9700}"
workers="${CITUS_WORKERS:-2}"
shards="${CITUS_SHARDS:-4}"
data="${CITUS_DATA:-${TMPDIR:-/tmp}/citus-cluster-$port}"
pg_bin="${PG_BIN:-$(pg_config --bindir 2>/dev/null || true)}"
export PGCONNECT_TIMEOUT=10 PGUSER=postgres PGHOST=127.0.0.1 PGOPTIONS="-c client_min_messages=warning"

fail() {
    echo "citus_cluster: $*" >&2
    exit 1
}

[[ "$shards" =~ ^[1-9][0-9]*$ ]] || fail "CITUS_SHARDS is a number of shards, not '$shards'"
[[ -x "$pg_bin/pg_ctl" ]] || fail "PostgreSQL's programs are not in '$pg_bin' (set PG_BIN)"
[[ -f "$("$pg_bin/pg_config" --pkglibdir 2>/dev/null || pg_config --pkglibdir)/citus.so" ]] \
    || fail "the Citus extension is not installed for $("$pg_bin/postgres" --version)"

as_owner() {  # PostgreSQL refuses to run as root
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

nodes() { seq "$port" $((port + workers)); }

sql() {  # sql PORT DATABASE STATEMENT: run one statement, print its rows
    psql -X -q -v ON_ERROR_STOP=1 -t -A -p "$1" -d "$2" -c "$3"
}

init_node() {
    local node_port="$1" dir="$data/$1"
    [[ -f "$dir/PG_VERSION" ]] && return
    as_owner "$pg_bin/initdb" -D "$dir" -U postgres -A trust -E UTF8 --no-locale --no-sync >/dev/null
    cat >>"$dir/postgresql.conf" <<EOF
port = $node_port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$data'
shared_preload_libraries = 'citus'
wal_level = logical
max_connections = 300
max_prepared_transactions = 300
max_worker_processes = 64
EOF
}

start_node() {
    local dir="$data/$1"
    as_owner "$pg_bin/pg_ctl" -D "$dir" status >/dev/null 2>&1 && return
    # 9>&-: the server must not inherit (and hold for ever) this script's lock
    as_owner "$pg_bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null 9>&- \
        || fail "the node on port $1 did not start: see $dir/server.log"
}

distribute_database() {
    local database="$1" node_port
    for node_port in $(nodes); do
        if [[ -z "$(sql "$node_port" postgres "SELECT 1 FROM pg_database WHERE datname = '$database'")" ]]; then
            sql "$node_port" postgres "CREATE DATABASE \"$database\""
        fi
        sql "$node_port" "$database" "CREATE EXTENSION IF NOT EXISTS citus" >/dev/null
    done
    sql "$port" "$database" "SELECT citus_set_coordinator_host('127.0.0.1', $port)" >/dev/null
    sql "$port" postgres "ALTER DATABASE \"$database\" SET citus.shard_count = $shards"
    for node_port in $(seq $((port + 1)) $((port + workers))); do
        sql "$port" "$database" "SELECT citus_add_node('127.0.0.1', $node_port)
            WHERE NOT EXISTS (SELECT FROM pg_dist_node WHERE nodeport = $node_port)" >/dev/null
    done
}

up() {
    mkdir -p "$data"
    [[ "$(id -u)" == 0 ]] && chown postgres: "$data"
    local node_port database
    for node_port in $(nodes); do
        init_node "$node_port"
        start_node "$node_port"
    done
    for database in "${@:-postgres}"; do
        distribute_database "$database"
    done
    echo "citus_cluster: coordinator at $(url "${1:-postgres}"), workers on ports" \
        "$((port + 1))-$((port + workers))"
}

down() {
    local node_port
    for node_port in $(nodes); do
        if [[ -f "$data/$node_port/PG_VERSION" ]]; then
            as_owner "$pg_bin/pg_ctl" -D "$data/$node_port" status >/dev/null 2>&1 \
                && as_owner "$pg_bin/pg_ctl" -D "$data/$node_port" -m fast -w -t 60 stop >/dev/null
        fi
    done
    return 0
}

dropdb() {
    local node_port
    [[ -n "${1:-}" ]] || fail "dropdb needs a database name"
    for node_port in $(nodes); do
        sql "$node_port" postgres "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)"
    done
}

url() { echo "postgresql://postgres@127.0.0.1:$port/${1:-postgres}"; }

command="${1:-}"
shift || true
if [[ "$command" != url ]]; then  # one at a time: test runs start it from several processes
    mkdir -p "$(dirname "$data")"
    exec 9>"$data.lock"
    flock -w 300 9 || fail "another citus_cluster.sh still holds $data.lock"
fi
case "$command" in
    up) up "$@" ;;
    down) down ;;
    destroy) down && rm -rf "$data" ;;
    dropdb) dropdb "$@" ;;
    url) url "$@" ;;
    *) fail "usage: $0 up [DATABASE ...] | dropdb DATABASE | down | destroy | url [DATABASE]" ;;
esac
