#!/usr/bin/env bash
# The command line: `sluice validate` exit codes and FILE:LINE:COLUMN
# problems for what only shows when serving (a function's missing program,
# listeners that want the same socket), --api-listen, and the listener URLs
# printed at start. Runs the binary (SLUICE_BIN or build/sluice) on
# temporary configs; servers listen on port 0. Prints "N passed, M failed";
# exits non-zero on any failure.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
BIN=${SLUICE_BIN:-$repo/build/sluice}
[[ -x "$BIN" ]] || { echo "sluice binary not found at $BIN (set SLUICE_BIN)" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-cmdline.XXXXXX")
server_pid=""

cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

passed=0
failed=0
ok()   { passed=$((passed + 1)); echo "ok   - $1"; }
fail() { failed=$((failed + 1)); echo "FAIL - $1"; shift; for line in "$@"; do echo "       $line"; done; }
expect_eq() { if [[ "$2" == "$3" ]]; then ok "$1"; else fail "$1" "expected: $2" "actual:   $3"; fi; }
expect_in() { if [[ "$3" == *"$2"* ]]; then ok "$1"; else fail "$1" "expected to contain: $2" "actual: $3"; fi; }

# sl ARGS...: the binary; stdout in $out, stderr in $err, exit code in $rc
sl() {
    rc=0
    out=$("$BIN" "$@" 2>"$tmp/stderr") || rc=$?
    err=$(cat "$tmp/stderr")
}

mkdir -p "$tmp/cfg/handlers"
printf '#!/bin/sh\ncat >/dev/null\necho "{}"\n' > "$tmp/cfg/handlers/ok.sh"
chmod +x "$tmp/cfg/handlers/ok.sh"
printf 'print("hi")\n' > "$tmp/cfg/handlers/plain.py"

# 1. a function whose program does not exist
cat > "$tmp/cfg/missing.yaml" <<'YAML'
functions:
  good:
    command: [handlers/ok.sh]
  worker:
    command: [handlers/nope.py, --flag]
YAML
sl validate --config "$tmp/cfg/missing.yaml"
expect_eq "validate: missing program exits 1" 1 "$rc"
expect_eq "validate: missing program at FILE:LINE:COLUMN" \
    "$tmp/cfg/missing.yaml:5:15: function 'worker': command: $tmp/cfg/handlers/nope.py does not exist" "$err"
rc=0
out=$(timeout 10 "$BIN" serve --config "$tmp/cfg/missing.yaml" --listen 127.0.0.1:0 --data-dir "$tmp/data1" 2>/dev/null) || rc=$?
expect_eq "serve: missing program exits 1 before listening" "1:" "$rc:$out"

# 2. not executable; a bare name not on PATH
cat > "$tmp/cfg/noexec.yaml" <<'YAML'
functions:
  a: {command: handlers/plain.py}
  b: {command: [sluice-no-such-interpreter, x.py]}
  c: {command: [python3, handlers/plain.py]}
YAML
sl validate --config "$tmp/cfg/noexec.yaml"
expect_eq "validate: not executable / not on PATH exits 1" 1 "$rc"
expect_in "validate: not executable" \
    "$tmp/cfg/noexec.yaml:2:16: function 'a': command: $tmp/cfg/handlers/plain.py is not executable" "$err"
expect_in "validate: not on PATH" \
    "$tmp/cfg/noexec.yaml:3:17: function 'b': command: 'sluice-no-such-interpreter' is not found on PATH" "$err"
expect_eq "validate: python3 found on PATH (two problems only)" 2 "$(grep -c . <<<"$err")"

# 3. two APIs on one socket written differently
cat > "$tmp/cfg/clash.yaml" <<'YAML'
listen: 127.0.0.1:0
apis:
  shop:
    listen: localhost:38211
    routes: {GET /: {mock: }}
  admin:
    listen: 127.0.0.1:38211
    routes: {GET /: {mock: }}
YAML
sl validate --config "$tmp/cfg/clash.yaml"
expect_eq "validate: localhost:P and 127.0.0.1:P exits 1" 1 "$rc"
expect_eq "validate: the clash at FILE:LINE:COLUMN" \
    "$tmp/cfg/clash.yaml:7:13: listen '127.0.0.1:38211' is already used by api 'shop' as 'localhost:38211' (line 4, column 13)" "$err"

# 4. an API on the AWS endpoint's default address
cat > "$tmp/cfg/default.yaml" <<'YAML'
apis:
  shop:
    listen: 127.0.0.1:4566
    routes: {GET /: {mock: }}
YAML
sl validate --config "$tmp/cfg/default.yaml"
expect_eq "validate: API on the default listen exits 1" 1 "$rc"
expect_in "validate: names the API and the default listen" \
    "$tmp/cfg/default.yaml:2:3: api 'shop': listen '127.0.0.1:4566' is already used by the AWS endpoint (the default listen, 127.0.0.1:4566" "$err"
sl validate --config "$tmp/cfg/default.yaml" --listen 127.0.0.1:0
expect_eq "validate: --listen moves the AWS endpoint away" "0:$tmp/cfg/default.yaml: ok" "$rc:$out"

# 5. quoted integers (as CloudFormation writes them) are taken
cat > "$tmp/cfg/quoted.yaml" <<'YAML'
queues:
  jobs:
    visibility_timeout: "60"
    delay_seconds: '0'
YAML
sl validate --config "$tmp/cfg/quoted.yaml"
expect_eq "validate: quoted integers are ok" "0:$tmp/cfg/quoted.yaml: ok" "$rc:$out"

# 6. --api-listen: bad flags exit 2 with one line
cat > "$tmp/cfg/apis.yaml" <<'YAML'
listen: 127.0.0.1:0
functions:
  echo: {command: handlers/ok.sh}
apis:
  shop:
    listen: 127.0.0.1:38213
    routes:
      GET /health: {mock: {status: 200, body: shop-ok}}
  admin:
    listen: 127.0.0.1:38214
    routes:
      GET /health: {mock: {status: 200, body: admin-ok}}
YAML
sl validate --config "$tmp/cfg/apis.yaml" --api-listen nosuch=127.0.0.1:0
expect_eq "--api-listen for an unknown API exits 2" 2 "$rc"
expect_eq "--api-listen for an unknown API says so" \
    "sluice: --api-listen 'nosuch=127.0.0.1:0': the config has no api 'nosuch'" "$err"
sl validate --config "$tmp/cfg/apis.yaml" --api-listen shop
expect_eq "--api-listen without an address exits 2" 2 "$rc"
sl validate --config "$tmp/cfg/apis.yaml" --api-listen shop=localhost:38214
expect_eq "--api-listen onto another API's socket exits 2" 2 "$rc"
expect_eq "--api-listen onto another API's socket names both" \
    "sluice: --api-listen shop=localhost:38214: the address is already used by api 'admin' (listen '127.0.0.1:38214', line 9)" "$err"

sl validate --config "$tmp/cfg/apis.yaml" --listen 4566
expect_eq "validate --listen without a host exits 2 with one line" \
    "2:sluice: bad listen address '4566' (want HOST:PORT)" "$rc:$err"

# 7. serve: every listener's URL, APIs moved with --api-listen
"$BIN" serve --config "$tmp/cfg/apis.yaml" --data-dir "$tmp/data2" \
    --api-listen shop=127.0.0.1:0 --api-listen=admin=127.0.0.1:0 >"$tmp/serve.out" 2>"$tmp/serve.err" &
server_pid=$!
endpoint=""
for _ in $(seq 100); do
    endpoint=$(sed -n 's/^sluice listening on \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$tmp/serve.out")
    [[ -n "$endpoint" ]] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
expect_in "serve: prints 'sluice listening on URL'" "http://127.0.0.1:" "$endpoint"
shop=$(sed -n 's/^sluice api shop serving on \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$tmp/serve.out")
admin=$(sed -n 's/^sluice api admin serving on \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$tmp/serve.out")
expect_in "serve: prints api shop's URL" "http://127.0.0.1:" "$shop"
expect_in "serve: prints api admin's URL" "http://127.0.0.1:" "$admin"
if [[ -n "$shop" && "$shop" != "http://127.0.0.1:38213" && "$shop" != "$admin" ]]; then
    ok "serve: --api-listen moved shop off its configured port"
else
    fail "serve: --api-listen moved shop off its configured port" "shop=$shop admin=$admin"
fi
expect_eq "serve: api shop answers at its printed URL" "shop-ok" "$(curl -s --max-time 5 "$shop/health")"
expect_eq "serve: api admin answers at its printed URL" "admin-ok" "$(curl -s --max-time 5 "$admin/health")"
expect_eq "serve: the AWS endpoint answers" '{"status":"ok"}' "$(curl -s --max-time 5 "$endpoint/_sluice/health")"

# 8. an address another process holds: named before anything starts
rc=0
out=$(timeout 10 "$BIN" serve --config "$tmp/cfg/apis.yaml" --data-dir "$tmp/data3" \
      --api-listen "shop=${shop#http://}" --api-listen admin=127.0.0.1:0 2>"$tmp/stderr") || rc=$?
err=$(cat "$tmp/stderr")
expect_eq "serve: an API address in use exits 1 without listening" "1:" "$rc:$out"
expect_eq "serve: names the API, the address and the flag" \
    "sluice: api 'shop' cannot listen on ${shop#http://}: Address already in use (move it with --api-listen shop=HOST:PORT)" "$err"
rc=0
out=$(timeout 10 "$BIN" serve --config "$tmp/cfg/apis.yaml" --data-dir "$tmp/data4" \
      --listen "${endpoint#http://}" --api-listen shop=127.0.0.1:0 --api-listen admin=127.0.0.1:0 2>"$tmp/stderr") || rc=$?
err=$(cat "$tmp/stderr")
expect_eq "serve: the AWS endpoint's address in use names it and --listen" \
    "1:sluice: the AWS endpoint cannot listen on ${endpoint#http://}: Address already in use (move it with --listen HOST:PORT)" "$rc:$err"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
