#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: installed from Debian's packages when missing, created in a folder,
# listening on a free port on 127.0.0.1 only, trusted local logins, one database.
#
#   eval "$(scripts/pg.sh start DIR)"   # prints: export SWITCHBOARD_TEST_POSTGRES_URL=... PG_DIR=... PG_BIN=...
#   scripts/pg.sh stop DIR              # stops the cluster (fast shutdown) and removes DIR
#
# As root the cluster runs as the `postgres` system user (initdb refuses root). Logs go to DIR/server.log.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[[ -n $cmd && -n $dir ]] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

find_bin() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]] && { echo "$d"; return 0; }
    done
    return 1
}

as_owner() {
    if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case $cmd in
start)
    if ! bin=$(find_bin); then
        echo "PostgreSQL is not installed: installing it from Debian's packages" >&2
        export DEBIAN_FRONTEND=noninteractive
        # Debian's package creates and starts a default cluster; ours is separate, on its own port.
        (apt-get update -qq && apt-get install -y -qq postgresql >/dev/null) >&2 || {
            echo "pg.sh: apt-get install postgresql failed; install PostgreSQL (initdb, pg_ctl, postgres) to run the tests" >&2
            exit 1
        }
        bin=$(find_bin) || { echo "pg.sh: PostgreSQL installed but initdb/pg_ctl not found under /usr/lib/postgresql" >&2; exit 1; }
    fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
    mkdir -p "$dir"
    data="$dir/data"
    if [[ $(id -u) == 0 ]]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
        chown postgres "$dir"
        # runuser needs to reach the folder.
        d="$dir"
        while [[ $d != / ]]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done
    fi
    as_owner "$bin/initdb" -D "$data" -U postgres --auth=trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    as_owner "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=500" \
        start >&2 || { cat "$dir/server.log" >&2; exit 1; }
    psql=psql
    [[ -x $bin/psql ]] && psql=$bin/psql
    "$psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAt -c "CREATE DATABASE switchboard_test" >&2
    echo "export SWITCHBOARD_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/switchboard_test PG_DIR=$dir PG_BIN=$bin PG_PORT=$port"
    ;;
stop)
    if bin=$(find_bin) && [[ -d $dir/data ]]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
