#!/usr/bin/env bash
# Upgrade check by hand (issues 7 and 14): a SQLite and a PostgreSQL store written and
# loaded by the OLD release's binary, then opened by the NEW one: `verify`, `load` (0
# non-2xx), `replay --check` (no difference) and `verify` again must all pass.
#
#   git worktree add /tmp/old <previous release> && (cd /tmp/old && cargo build -p api --bin edoc-ledger)
#   .ci/previous_release_store.sh /tmp/old/target/debug/edoc-ledger target/debug/edoc-ledger
#
# Uses the local PostgreSQL (database compat14, dropped and created) and a temporary
# SQLite directory; ports 18081 and 18082.
set -uo pipefail
OLD="$1"; NEW="$2"
work=$(mktemp -d)
psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS compat14" -c "CREATE DATABASE compat14" postgres
run_store() {
  local name="$1"; shift
  echo "=== $name"
  local env=("$@")
  local token
  token=$(env "${env[@]}" "$OLD" token create --role operator --name compat 2>/dev/null | tail -1)
  env "${env[@]}" "$OLD" serve --listen 127.0.0.1:18081 >"$work/$name-old.log" 2>&1 & local pid=$!
  sleep 3
  env "${env[@]}" "$OLD" load --url http://127.0.0.1:18081 --token "$token" --agreements 100 --clients 4 --seconds 8 2>&1 | grep -E 'requests|non-2xx' | head -3
  kill -INT $pid; wait $pid
  echo "-- opened by the new release"
  env "${env[@]}" "$NEW" verify 2>&1 | tail -2; echo "verify exit $?"
  env "${env[@]}" "$NEW" serve --listen 127.0.0.1:18082 >"$work/$name-new.log" 2>&1 & pid=$!
  sleep 3
  env "${env[@]}" "$NEW" load --url http://127.0.0.1:18082 --token "$token" --agreements 100 --clients 4 --seconds 8 2>&1 | grep -E 'requests|non-2xx' | head -3
  echo "load exit ${PIPESTATUS[0]}"
  kill -INT $pid; wait $pid
  env "${env[@]}" "$NEW" replay --check 2>&1 | tail -2; echo "replay --check exit ${PIPESTATUS[0]}"
  env "${env[@]}" "$NEW" verify 2>&1 | tail -2; echo "verify exit ${PIPESTATUS[0]}"
}
run_store sqlite "EDOC_DATA_DIR=$work/data" "DATABASE_URL="
run_store postgres "DATABASE_URL=postgres://postgres@127.0.0.1:5432/compat14"
