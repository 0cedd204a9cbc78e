#!/usr/bin/env bash
# Runs schemathesis (a property-based API fuzzer, from PyPI) against a running
# edoc-ledger: every operation of its /openapi.json with generated requests; fails on a
# 5xx, an answer that does not match the documented schema, status or content type.
#
#   tests/schemathesis/run.sh BASE_URL TOKEN [MAX_SECONDS]
#
# Installs schemathesis (pinned) into target/schemathesis-venv the first time.
# `GET /v1/events` is left out: its `wait` holds a request up to 30 s, longer than
# schemathesis waits for an answer (tests/tests/suite/feed.rs covers it).
set -euo pipefail
base_url="$1"
token="$2"
max_seconds="${3:-45}"
version="4.32.5"
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${CARGO_TARGET_DIR:-$root/target}/schemathesis-venv"
target="${CARGO_TARGET_DIR:-$root/target}"
mkdir -p "$target"
# Runs against two servers go side by side: one installs, the other waits for it.
exec 9>"$target/schemathesis-venv.lock"
flock 9
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$version"; then
  echo "installing schemathesis $version into $venv" >&2
  python3 -m venv "$venv" || { echo "python3 -m venv failed: install python3-venv" >&2; exit 2; }
  "$venv/bin/pip" install --quiet "schemathesis==$version" \
    || { echo "pip could not install schemathesis $version (PyPI unreachable?)" >&2; exit 2; }
fi
flock -u 9
# One worker: with two, Python 3.11's ast.parse (used by hypothesis to describe its
# filters) can fail with "AST constructor recursion depth mismatch" in a thread race,
# an internal error of the tool, not a finding.
# Its cache of found failures goes under target/, not into the source tree: one folder
# a run, so that runs side by side do not share it.
workdir="$(mktemp -d "$target/schemathesis-run.XXXXXX")"
cd "$workdir"
run() {
  "$venv/bin/schemathesis" run "$base_url/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance \
    --max-examples 5 --max-time "$max_seconds" --seed 20261125 --workers 1 --no-shrink \
    --exclude-path /v1/events \
    --warnings off
}
log="$(mktemp)"
trap 'rm -rf "$log" "$workdir"' EXIT
if run 2>&1 | tee "$log"; then
  exit 0
fi
# Only the tool's own crash (not a finding: no check failed) earns one more run.
if grep -q "AST constructor recursion depth mismatch" "$log" && ! grep -q "Failures:" "$log"; then
  echo "schemathesis crashed inside Python's ast module; running it once more" >&2
  run
else
  exit 1
fi
