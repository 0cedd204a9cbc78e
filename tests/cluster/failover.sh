#!/usr/bin/env bash
# A PostgreSQL cluster managed by Patroni, built on this one machine, and the loss of its
# primary under load (issue 20, INTEGRATION.md 4):
#
#   etcd; two PostgreSQL nodes under Patroni with a synchronous standby, on free ports;
#   two ledger servers whose DATABASE_URL lists both nodes
#   (target_session_attrs=read-write); `edoc-ledger load` on each server; then the
#   primary's machine "dies": its Patroni and its postmaster are killed with SIGKILL
#   (killing the postmaster alone, Patroni restarts it in place: no failover). Patroni
#   promotes the standby once the leader key expires. The script checks that the answers
#   while switching were 503 (never 500), that both servers serve again by themselves,
#   and that every payment the load generators saw acknowledged is on the new primary
#   exactly once (`verify`, `replay --check`, and the generators' own lists). Its last
#   line is "acknowledged lost: 0" when all that holds; it exits non-zero otherwise.
#
# Run it from the repository's root after the README's commands:
#     tests/cluster/failover.sh
# It needs Debian's patroni, etcd-server and postgresql (.ci/run installs them), builds
# the release binary (or runs EDOC_LEDGER_BIN), and takes about a minute and a half after
# the build. KEEP=1 keeps its directory (logs); LOAD_SECONDS and KILL_AFTER (40 and 12)
# set the load's length and when the primary dies. The test suite runs it
# (cli/tests/suite/failover.rs).
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
LOAD_SECONDS=${LOAD_SECONDS:-40}
KILL_AFTER=${KILL_AFTER:-12}

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "failover.sh: $1 is missing: apt-get install $2" >&2; exit 2; }
}
need patroni patroni
need etcd etcd-server
need psql postgresql-client
need curl curl
need python3 python3
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/pg_ctl" ] || { echo "failover.sh: PostgreSQL's server is missing: apt-get install postgresql" >&2; exit 2; }

# EDOC_LEDGER_BIN: a binary already built (the test suite passes its own).
if [ -n "${EDOC_LEDGER_BIN:-}" ]; then
  BIN=$EDOC_LEDGER_BIN
else
  echo "== building the release binary"
  cargo build --release --quiet -p edoc-ledger
  BIN=$ROOT/target/release/edoc-ledger
fi

WORK=$(mktemp -d /tmp/edoc-cluster.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  done
  pkill -9 -f "$WORK/" 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# PostgreSQL refuses to run as root: the cluster runs as `postgres` when we are root.
if [ "$(id -u)" = 0 ]; then
  chown postgres:postgres "$WORK"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_for() { # seconds, description, command...
  local seconds=$1 what=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then echo "failover.sh: $what did not happen within ${seconds}s (logs: KEEP=1)" >&2; exit 1; fi
    sleep 0.5
  done
}
http_ok() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ]; }

echo "== etcd"
ETCD_CLIENT=$(free_port); ETCD_PEER=$(free_port)
as_pg etcd --name edoc --data-dir "$WORK/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
  --initial-cluster "edoc=http://127.0.0.1:$ETCD_PEER" >"$WORK/etcd.log" 2>&1 &
PIDS+=($!)
wait_for 30 "etcd's start" curl -sf "http://127.0.0.1:$ETCD_CLIENT/health"

declare -A PG_PORT API_PORT PATRONI_PID
for n in 1 2; do
  PG_PORT[$n]=$(free_port); API_PORT[$n]=$(free_port)
  cat >"$WORK/patroni$n.yml" <<EOF
scope: edoc
namespace: /edoc-$(basename "$WORK")/
name: node$n
restapi:
  listen: 127.0.0.1:${API_PORT[$n]}
  connect_address: 127.0.0.1:${API_PORT[$n]}
etcd3:
  hosts: 127.0.0.1:$ETCD_CLIENT
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 4
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_log_hints: "on"
        fsync: "off"
  initdb:
    - encoding: UTF8
    - auth: trust
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 trust
    - host all all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:${PG_PORT[$n]}
  connect_address: 127.0.0.1:${PG_PORT[$n]}
  data_dir: $WORK/pg$n
  bin_dir: $PGBIN
  pgpass: $WORK/pgpass$n
  authentication:
    replication:
      username: replicator
      password: replicator
    superuser:
      username: postgres
      password: postgres
  parameters:
    unix_socket_directories: $WORK
EOF
done

echo "== Patroni: node1, then node2 as its synchronous standby"
as_pg patroni "$WORK/patroni1.yml" >"$WORK/patroni1.log" 2>&1 &
PATRONI_PID[1]=$!; PIDS+=(${PATRONI_PID[1]})
wait_for 60 "node1's election as the primary" http_ok "http://127.0.0.1:${API_PORT[1]}/primary"
as_pg patroni "$WORK/patroni2.yml" >"$WORK/patroni2.log" 2>&1 &
PATRONI_PID[2]=$!; PIDS+=(${PATRONI_PID[2]})
wait_for 90 "node2's start as the synchronous standby" http_ok "http://127.0.0.1:${API_PORT[2]}/sync"

URL="postgres://postgres@127.0.0.1:${PG_PORT[1]},127.0.0.1:${PG_PORT[2]}/postgres?target_session_attrs=read-write"
export DATABASE_URL=$URL
echo "== the ledger: migrate, a token, two servers on $URL"
"$BIN" migrate
TOKEN=$("$BIN" token create --role operator --name failover | head -1)
declare -A LEDGER_PORT
for n in 1 2; do
  LEDGER_PORT[$n]=$(free_port)
  EDOC_LOG=warn "$BIN" --listen "127.0.0.1:${LEDGER_PORT[$n]}" >"$WORK/ledger$n.log" 2>&1 &
  PIDS+=($!)
done
for n in 1 2; do
  wait_for 30 "ledger server $n's start" http_ok "http://127.0.0.1:${LEDGER_PORT[$n]}/healthz"
done

echo "== load on both servers for ${LOAD_SECONDS}s; the primary dies after ${KILL_AFTER}s"
LOADS=()
for n in 1 2; do
  "$BIN" load --url "http://127.0.0.1:${LEDGER_PORT[$n]}" --token "$TOKEN" --agreements 20 --clients 4 \
    --seconds "$LOAD_SECONDS" --unavailable-ok --first-id $((70000000000 + n * 1000000)) \
    --acknowledged "$WORK/acknowledged$n.jsonl" --out "$WORK/load$n.json" >"$WORK/load$n.log" 2>&1 &
  LOADS+=($!)
done
sleep "$KILL_AFTER"

PRIMARY=""
for n in 1 2; do
  if http_ok "http://127.0.0.1:${API_PORT[$n]}/primary"; then PRIMARY=$n; fi
done
[ -n "$PRIMARY" ] || { echo "failover.sh: no primary before the kill" >&2; exit 1; }
STANDBY=$((3 - PRIMARY))
POSTMASTER=$(head -1 "$WORK/pg$PRIMARY/postmaster.pid")
# The Patroni process itself (as root, PATRONI_PID is runuser's, its parent).
PATRONI=$(pgrep -f "patroni $WORK/patroni$PRIMARY.yml" | tr '\n' ' ')
echo "== SIGKILL: node$PRIMARY's Patroni (pid $PATRONI) and its postmaster (pid $POSTMASTER)"
KILLED_AT=$(date +%s.%N)
# shellcheck disable=SC2086
kill -9 $PATRONI "$POSTMASTER"
wait_for 60 "node$STANDBY's promotion" http_ok "http://127.0.0.1:${API_PORT[$STANDBY]}/primary"
PROMOTED_AT=$(date +%s.%N)
python3 -c "print(f'node$STANDBY promoted {float($PROMOTED_AT) - float($KILLED_AT):.1f} s after the kill')"

LOAD_FAILED=0
for pid in "${LOADS[@]}"; do wait "$pid" || LOAD_FAILED=1; done
for n in 1 2; do echo "-- load on server $n:"; tail -n 6 "$WORK/load$n.log"; done

echo "== both servers serve again by themselves"
for n in 1 2; do
  wait_for 30 "server $n's health" http_ok "http://127.0.0.1:${LEDGER_PORT[$n]}/healthz"
done

echo "== the store on the new primary"
export DATABASE_URL="postgres://postgres@127.0.0.1:${PG_PORT[$STANDBY]}/postgres"
VERIFY=0; "$BIN" verify >"$WORK/verify.log" 2>&1 || VERIFY=1
tail -n 2 "$WORK/verify.log"
REPLAY=0; "$BIN" replay --check >"$WORK/replay.log" 2>&1 || REPLAY=1
tail -n 2 "$WORK/replay.log"
psql -X -A -t -h 127.0.0.1 -p "${PG_PORT[$STANDBY]}" -U postgres postgres -c \
  "SELECT aggregate_id || ' ' || (payload->'PaymentReceived'->>'reference') FROM events WHERE event_type = 'PaymentReceived'" \
  >"$WORK/recorded.txt"

python3 - "$WORK" "$LOAD_FAILED" "$VERIFY" "$REPLAY" <<'PY'
import collections, json, sys
work, load_failed, verify, replay = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
recorded = collections.Counter(line.strip() for line in open(f"{work}/recorded.txt") if line.strip())
acknowledged, statuses = [], collections.Counter()
for n in (1, 2):
    acknowledged += [json.loads(line) for line in open(f"{work}/acknowledged{n}.jsonl") if line.strip()]
    for status, count in json.load(open(f"{work}/load{n}.json"))["statuses"].items():
        statuses[int(status)] += count
lost = [a for a in acknowledged if recorded[f"{a['participant_id']} {a['reference']}"] == 0]
twice = [a for a in acknowledged if recorded[f"{a['participant_id']} {a['reference']}"] > 1]
server_errors = sum(count for status, count in statuses.items() if status >= 500 and status != 503)
print(f"answers by status: {dict(sorted(statuses.items()))} (0: no connection)")
print(f"payments acknowledged: {len(acknowledged)}; recorded: {sum(recorded.values())}; recorded twice: {len(twice)}")
print(f"5xx other than 503: {server_errors}; load generators {'failed' if load_failed else 'ok'}; verify {'failed' if verify else 'ok'}; replay --check {'failed' if replay else 'ok'}")
for a in lost[:10]:
    print(f"  lost: {a}")
print(f"acknowledged lost: {len(lost)}")
ok = not lost and not twice and server_errors == 0 and not load_failed and not verify and not replay
sys.exit(0 if ok else 1)
PY
