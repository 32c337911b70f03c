#!/usr/bin/env bash
# CloudWatch Logs through the unmodified AWS CLI v2 (/usr/bin/aws): a
# private sluice on tests/e2e/cwlogs.yaml; `aws logs tail` (with
# --filter-pattern, %regex% included, and --follow for a few seconds),
# filter-log-events and get-log-events see the exact lines a function
# printed, START to REPORT; put/delete-retention-policy per group.
# Prints "N passed, M failed"; exits non-zero on any failure.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
BIN=${SLUICE_BIN:-$repo/build/sluice}
AWS=/usr/bin/aws

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-cli-logs.XXXXXX")
server_pid=""
follow_pid=""

cleanup() {
    [[ -n "$follow_pid" ]] && kill "$follow_pid" 2>/dev/null || true
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE="$tmp/aws-config" AWS_SHARED_CREDENTIALS_FILE="$tmp/aws-credentials"
export AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL 2>/dev/null || true

[[ -x "$BIN" ]] || { echo "sluice binary not found at $BIN (set SLUICE_BIN)" >&2; exit 2; }
cp "$repo/tests/e2e/cwlogs.yaml" "$tmp/sluice.yaml"
ln -s "$repo/tests/e2e/cwlogs" "$tmp/cwlogs"
"$BIN" serve --config "$tmp/sluice.yaml" --listen 127.0.0.1:0 --data-dir "$tmp/data" \
    >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
endpoint=""
for _ in $(seq 150); do
    endpoint=$(sed -n 's/^sluice listening on \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$tmp/server.out" | head -n1)
    [[ -n "$endpoint" ]] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
if [[ -z "$endpoint" ]]; then
    echo "sluice did not start; stderr:" >&2
    cat "$tmp/server.err" >&2 || true
    exit 1
fi

passed=0
failed=0
ok()   { passed=$((passed + 1)); echo "ok   - $1"; }
fail() { failed=$((failed + 1)); echo "FAIL - $1"; shift; for line in "$@"; do echo "       $line"; done; }
expect_eq() {
    if [[ "$2" == "$3" ]]; then ok "$1"; else fail "$1" "expected: $2" "actual:   $3"; fi
}
run() {
    rc=0
    out=$("$AWS" --endpoint-url "$endpoint" "$@" 2>"$tmp/stderr") || rc=$?
    err=$(cat "$tmp/stderr")
}
# invoke FN JSON: the answer in $tmp/answer.json
invoke() {
    run lambda invoke --function-name "$1" --payload "$2" --cli-binary-format raw-in-base64-out \
        --output json "$tmp/answer.json"
}

invoke printer '{"tag": "cli1"}'
expect_eq "invoke printer exits 0" 0 "$rc"
stream=$(sed -n 's/.*"stream": *"\([^"]*\)".*/\1/p' "$tmp/answer.json")
[[ "$stream" =~ ^[0-9]{4}/[0-9]{2}/[0-9]{2}/\[\$LATEST\][0-9a-f]{32}$ ]] && ok "the handler saw a Lambda stream name" \
    || fail "the handler saw a Lambda stream name" "got: $stream"

# tail: every line of the invocation, in order, with the stream name
run logs tail /aws/lambda/printer --format short
expect_eq "logs tail exits 0" 0 "$rc"
msgs=$(cut -d' ' -f2- <<<"$out" | grep -v '^INIT_START')
start=$(sed -n 1p <<<"$msgs")
[[ "$start" =~ ^START\ RequestId:\ ([0-9a-f-]{36})\ Version:\ \$LATEST$ ]] && rid=${BASH_REMATCH[1]} && ok "tail: START first" \
    || fail "tail: START first" "got: $start"
expect_eq "tail: the printed lines" $'plain line tag=cli1\nERROR something failed tag=cli1\n{"level": "warn", "tag": "cli1", "ms": 250, "ok": false, "user": null}' \
    "$(sed -n 2,4p <<<"$msgs")"
rid1=$rid
expect_eq "tail: END" "END RequestId: $rid" "$(sed -n 5p <<<"$msgs")"
[[ "$(sed -n 6p <<<"$msgs")" == "REPORT RequestId: $rid"$'\t'"Duration: "* ]] && ok "tail: REPORT last" \
    || fail "tail: REPORT last" "got: $(sed -n 6p <<<"$msgs")"
run logs tail /aws/lambda/printer
[[ "$out" == *" $stream START RequestId: $rid"* ]] && ok "tail names the instance's stream" \
    || fail "tail names the instance's stream" "out: $out"

# tail --filter-pattern ERROR
run logs tail /aws/lambda/printer --filter-pattern ERROR --format short
expect_eq "tail --filter-pattern ERROR: only the ERROR line" "ERROR something failed tag=cli1" "$(cut -d' ' -f2- <<<"$out")"
run logs tail /aws/lambda/printer --filter-pattern '{ $.ms > 100 }' --format short
expect_eq "tail --filter-pattern JSON" '{"level": "warn", "tag": "cli1", "ms": 250, "ok": false, "user": null}' \
    "$(cut -d' ' -f2- <<<"$out")"
run logs tail /aws/lambda/printer --filter-pattern '%^ERROR\s.*tag=cli\d$%' --format short
expect_eq "tail --filter-pattern %regex%" "ERROR something failed tag=cli1" "$(cut -d' ' -f2- <<<"$out")"

# a handler error
invoke raiser '{"n": 5}'
run logs tail /aws/lambda/raiser --filter-pattern '"bad input 5"' --format short
[[ "$(cut -d' ' -f2- <<<"$out")" == "[ERROR] ValueError: bad input 5"* ]] && ok "tail: the handler's error line" \
    || fail "tail: the handler's error line" "out: $out"

# tail --follow: a line printed while following shows up once, old lines once
PYTHONUNBUFFERED=1 timeout 40 "$AWS" --endpoint-url "$endpoint" logs tail /aws/lambda/printer --follow \
    --filter-pattern ERROR --format short >"$tmp/follow.out" 2>"$tmp/follow.err" &
follow_pid=$!
sleep 2
invoke printer '{"tag": "cli2"}'
for _ in $(seq 150); do grep -q 'tag=cli2' "$tmp/follow.out" && break; sleep 0.1; done
invoke printer '{"tag": "cli3"}'
for _ in $(seq 150); do grep -q 'tag=cli3' "$tmp/follow.out" && break; sleep 0.1; done
sleep 6 # one more poll: nothing printed twice
kill "$follow_pid" 2>/dev/null || true
wait "$follow_pid" 2>/dev/null || true
follow_pid=""
expect_eq "tail --follow: each ERROR line once, in order" \
    $'ERROR something failed tag=cli1\nERROR something failed tag=cli2\nERROR something failed tag=cli3' \
    "$(cut -d' ' -f2- "$tmp/follow.out")"

# filter-log-events and get-log-events
run logs filter-log-events --log-group-name /aws/lambda/printer --filter-pattern '?tag=cli2 ?tag=cli3' \
    --query 'events[].message' --output text
expect_eq "filter-log-events ?OR" $'plain line tag=cli2\tERROR something failed tag=cli2\tplain line tag=cli3\tERROR something failed tag=cli3' "$out"
run logs get-log-events --log-group-name /aws/lambda/printer --log-stream-name "$stream" --start-from-head \
    --limit 2 --query 'events[].message' --output text
[[ "$out" == "INIT_START Runtime Version: python3.12"*"START RequestId: $rid1 Version: \$LATEST" ]] \
    && ok "get-log-events --start-from-head: the first two lines" || fail "get-log-events --start-from-head" "out: $out"
run logs describe-log-groups --query 'logGroups[].logGroupName' --output text
expect_eq "describe-log-groups" $'/aws/lambda/printer\t/aws/lambda/raiser' "$out"

# an exec function and the API's access log
invoke shell '{"n": 1}'
run logs filter-log-events --log-group-name /aws/lambda/shell --filter-pattern '[level, ip, ..., status = 404, size]' \
    --query 'events[].message' --output text
expect_eq "exec function: a space-delimited pattern" "[WARN] 10.0.0.1 GET /x 404 12" "$out"
api=$(sed -n 's/^sluice api shop serving on \(http[^ ]*\).*/\1/p' "$tmp/server.out")
curl -s -o /dev/null "$api/teapot"
run logs tail /aws/apigateway/shop --filter-pattern '{ $.status = 418 }' --format short
[[ "$out" == *'"routeKey":"GET /teapot"'*'"status":418'* ]] && ok "access log in /aws/apigateway/shop" \
    || fail "access log in /aws/apigateway/shop" "out: $out"

# errors
run logs tail /aws/lambda/missing
[[ $rc -ne 0 && "$err" == *"ResourceNotFoundException"*"The specified log group does not exist."* ]] \
    && ok "tail on a missing group: ResourceNotFoundException" || fail "tail on a missing group" "rc=$rc err: $err"
run logs create-log-group --log-group-name /aws/lambda/printer
[[ "$err" == *"ResourceAlreadyExistsException"*"The specified log group already exists"* ]] \
    && ok "create-log-group twice: ResourceAlreadyExistsException" || fail "create-log-group twice" "err: $err"


# a group's retention policy
run logs put-retention-policy --log-group-name /aws/lambda/printer --retention-in-days 14
expect_eq "put-retention-policy exits 0" 0 "$rc"
run logs describe-log-groups --log-group-name-prefix /aws/lambda/printer --query 'logGroups[0].retentionInDays' \
    --output text
expect_eq "describe-log-groups shows the policy" "14" "$out"
run logs put-retention-policy --log-group-name /aws/lambda/printer --retention-in-days 2
[[ $rc -ne 0 && "$err" == *"InvalidParameterException"*"Member must satisfy enum value set"* ]] \
    && ok "put-retention-policy 2 days: InvalidParameterException" || fail "put-retention-policy 2 days" "err: $err"
run logs delete-retention-policy --log-group-name /aws/lambda/printer
run logs describe-log-groups --log-group-name-prefix /aws/lambda/printer --query 'logGroups[0].retentionInDays' \
    --output text
expect_eq "delete-retention-policy: the store's retention again" "7" "$out"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
