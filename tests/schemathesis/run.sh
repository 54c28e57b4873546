#!/usr/bin/env bash
# Schemathesis against a dev server: every operation of the OpenAPI
# description (as the server itself serves it at /api/v1/openapi.json) gets a
# bounded, seeded number of generated requests, as a logged-in citizen (anna,
# with her CSRF token), a data-protection officer (anna at the dev staff
# provider) and a department (the dev PKI's client certificate of the
# Wohngeldstelle) at once, over the dev TLS listener. Checks: no server
# error (5xx), every response's status and body as described. Any finding
# fails the script.
#
# Usage: bash tests/schemathesis/run.sh   (after `bash .ci/run` installed
# schemathesis; SCHEMATHESIS_MAX_EXAMPLES overrides the bound;
# SCHEMATHESIS_REPORT_DIR=DIR keeps every request and response as HAR files)
set -euo pipefail
cd "$(dirname "$0")/../.."

# The venv `.ci/run` installs tests/schemathesis/requirements.txt into.
VENV="${TRESOR_SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tresor/schemathesis}"
ST="$VENV/bin/st"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-20}"
WANTED="$(sed -n 's/^schemathesis==//p' tests/schemathesis/requirements.txt)"
if [ ! -x "$ST" ] || [ "$("$ST" --version 2>/dev/null)" != "st, version $WANTED" ]; then
  echo "schemathesis $WANTED is not installed in $VENV (bash .ci/run installs it)" >&2
  exit 1
fi

cargo build --locked --quiet --bin tresor
TRESOR="${CARGO_TARGET_DIR:-target}/debug/tresor"

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
HTTP_PORT="$(free_port)"
TLS_PORT="$(free_port)"
HTTP="http://127.0.0.1:$HTTP_PORT"
HTTPS="https://127.0.0.1:$TLS_PORT"

# The rate limits are far above what a test run sends, so that every
# generated request reaches its handler (429 is described and checked too).
cat >"$WORK/tresor.toml" <<EOF
[limits]
public_calls_per_minute = 1000000
department_calls_per_second = 100000
department_refusals_per_minute = 1000000
login_starts_per_minute = 1000
EOF

# Dev mode keeps its data (SQLite, keys, PKI) under TMPDIR: here, $WORK.
mkdir -p "$WORK/tmp"
TMPDIR="$WORK/tmp" TRESOR_LOG=warn "$TRESOR" --config "$WORK/tresor.toml" serve --dev \
  --listen "127.0.0.1:$HTTP_PORT" --tls-listen "127.0.0.1:$TLS_PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -sf -o /dev/null "$HTTP/api/v1/openapi.json" && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.2
done
TLS_DIR="$(find "$WORK/tmp" -maxdepth 3 -type d -name tls | head -n1)"
CA="$TLS_DIR/server-ca.pem"
CERT="$TLS_DIR/wohngeldstelle.pem"
KEY="$TLS_DIR/wohngeldstelle.key"
json() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }

# A citizen's session and a staff session, through the dev identity providers.
curl -sf -o /dev/null -c "$WORK/jar" -b "$WORK/jar" -L "$HTTP/login?login_hint=anna"
curl -sf -o /dev/null -c "$WORK/jar" -b "$WORK/jar" -L "$HTTP/staff/login?login_hint=anna"
CSRF="$(curl -sf -b "$WORK/jar" "$HTTP/api/v1/session" | json '["csrf_token"]')"
cookie() { awk -v name="$1" '$6 == name { print $7 }' "$WORK/jar"; }
CITIZEN_COOKIE="$(cookie tresor)"
STAFF_COOKIE="$(cookie tresor_staff)"
[ -n "$CITIZEN_COOKIE" ] && [ -n "$STAFF_COOKIE" ] || { echo "dev logins failed" >&2; exit 1; }

# Data for the success paths: evidence with a file, a request the
# Wohngeldstelle opened, anna's approval, and one release.
printf '%%PDF-1.4\n%s\n' "$(head -c 3000 /dev/zero | tr '\0' x)" >"$WORK/nachweis.pdf"
citizen() { curl -sf -b "$WORK/jar" -H "x-csrf-token: $CSRF" "$@"; }
department() { curl -sf --cacert "$CA" --cert "$CERT" --key "$KEY" "$@"; }
EVIDENCE="$(citizen -F type=income_statement -F 'field.employer=Zebrafink GmbH' \
  -F field.gross_monthly_income=3250.00 -F field.net_monthly_income=2100.50 \
  -F field.period_from=2026-01-01 -F field.period_to=2026-06-30 \
  -F "file=@$WORK/nachweis.pdf;type=application/pdf" "$HTTP/api/v1/evidence" | json '["id"]')"
REQUEST="$(department -H 'content-type: application/json' \
  -d '{"service":"housing_benefit","reference":"AZ 1"}' "$HTTPS/api/v1/dept/requests" | json '["id"]')"
citizen -o /dev/null -H 'content-type: application/json' \
  -d "{\"evidence\":[\"$EVIDENCE\"],\"fields\":[\"income_statement.net_monthly_income\"],\"duration_days\":30,\"max_uses\":3}" \
  "$HTTP/api/v1/requests/$REQUEST/approve"
GRANT="$(department "$HTTPS/api/v1/dept/requests/$REQUEST" | json '["grant_id"]')"
department -o /dev/null "$HTTPS/api/v1/dept/grants/$GRANT/release"
INDEX="$(department "$HTTPS/api/v1/dept/grants/$GRANT/release" | json '["audit"]["index"]')"
# A second request stays open for the consent preview and the answers.
OPEN_REQUEST="$(department -H 'content-type: application/json' \
  -d '{"service":"housing_benefit","reference":"AZ 2"}' "$HTTPS/api/v1/dept/requests" | json '["id"]')"

# Half of the generated ids, services and types are real ones, so that the
# success paths are exercised besides the refusals.
cat >"$WORK/schemathesis.toml" <<EOF
[dictionaries]
evidence = { values = ["$EVIDENCE"] }
request = { values = ["$REQUEST", "$OPEN_REQUEST"] }
grant = { values = ["$GRANT"] }
release = { values = [$INDEX] }
service = { values = ["housing_benefit"] }
evidence_type = { values = ["income_statement"] }

[[operations]]
include-path-regex = '^/api/v1/evidence/\{id\}'
parameters = { "path.id" = { dictionary = "evidence", probability = 0.5 } }

[[operations]]
include-path-regex = '^/api/v1/(dept/)?requests/\{id\}'
parameters = { "path.id" = { dictionary = "request", probability = 0.5 } }

[[operations]]
include-path-regex = '^/api/v1/dept/grants/\{id\}'
parameters = { "path.id" = { dictionary = "grant", probability = 0.5 }, "path.index" = { dictionary = "release", probability = 0.5 }, "path.evidence" = { dictionary = "evidence", probability = 0.5 } }

[[operations]]
include-path = "/api/v1/dept/requests"
parameters = { "body.service" = { dictionary = "service", probability = 0.5 } }

[[operations]]
include-path = "/api/v1/evidence"
include-method = "POST"
parameters = { "body.type" = { dictionary = "evidence_type", probability = 0.5 } }
EOF

# schemathesis with the citizen's session (cookie and CSRF token), the
# staff session and the department's certificate; extra arguments select.
RUN=0
schemathesis() {
  local citizen_cookie="$1" csrf="$2" report=()
  shift 2
  RUN=$((RUN + 1))
  if [ -n "${SCHEMATHESIS_REPORT_DIR:-}" ]; then
    report=(--report har --report-dir "$(realpath -m "$SCHEMATHESIS_REPORT_DIR")/run-$RUN")
  fi
  # From $WORK: schemathesis keeps a cache in its working directory.
  (cd "$WORK" && "$ST" --config-file "$WORK/schemathesis.toml" run "$HTTP/api/v1/openapi.json" \
    --url "$HTTPS" \
    --tls-verify "$CA" --request-cert "$CERT" --request-cert-key "$KEY" \
    -H "Cookie: tresor=$citizen_cookie; tresor_staff=$STAFF_COOKIE" -H "X-CSRF-Token: $csrf" \
    --checks not_a_server_error,status_code_conformance,response_schema_conformance \
    --max-examples "$MAX_EXAMPLES" --generation-deterministic \
    --generation-with-security-parameters false \
    --phases examples,coverage,fuzzing \
    --workers 1 --request-timeout 30 --no-color "${report[@]}" "$@")
}
# Erasing the account and logging out end the session: they run last, each
# with a session of its own.
schemathesis "$CITIZEN_COOKIE" "$CSRF" --exclude-path /api/v1/logout --exclude-path /api/v1/account
schemathesis "$CITIZEN_COOKIE" "$CSRF" --include-path /api/v1/account
curl -sf -o /dev/null -c "$WORK/jar" -b "$WORK/jar" -L "$HTTP/login?login_hint=anna"
CSRF="$(curl -sf -b "$WORK/jar" "$HTTP/api/v1/session" | json '["csrf_token"]')"
schemathesis "$(cookie tresor)" "$CSRF" --include-path /api/v1/logout

if grep -q 'panicked' "$WORK/server.log"; then
  echo "the server panicked:" >&2
  grep -A5 'panicked' "$WORK/server.log" >&2
  exit 1
fi
echo "schemathesis: no findings"
