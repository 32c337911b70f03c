#!/usr/bin/env bash
# CLI smoke test: the unmodified AWS CLI v2 (/usr/bin/aws, query protocol)
# against a real sluice on port 0 with its own data directory (or against
# SLUICE_ENDPOINT when set). Prints "N passed, M failed"; exits non-zero on
# any failure.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
BIN=${SLUICE_BIN:-$repo/build/sluice}
AWS=/usr/bin/aws

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-cli.XXXXXX")
server_pid=""

cleanup() {
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

# A clean CLI environment: dummy credentials, no user config, no pager.
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE="$tmp/aws-config" AWS_SHARED_CREDENTIALS_FILE="$tmp/aws-credentials"
export AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL 2>/dev/null || true

if [[ -n "${SLUICE_ENDPOINT:-}" ]]; then
    endpoint=${SLUICE_ENDPOINT%/}
else
    [[ -x "$BIN" ]] || { echo "sluice binary not found at $BIN (set SLUICE_BIN)" >&2; exit 2; }
    "$BIN" serve --listen 127.0.0.1:0 --data-dir "$tmp/data" >"$tmp/server.out" 2>"$tmp/server.err" &
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
fi

passed=0
failed=0
ok()   { passed=$((passed + 1)); echo "ok   - $1"; }
fail() { failed=$((failed + 1)); echo "FAIL - $1"; shift; for line in "$@"; do echo "       $line"; done; }

# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
    if [[ "$2" == "$3" ]]; then ok "$1"; else fail "$1" "expected: $2" "actual:   $3"; fi
}

# run ARGS...: the aws CLI against sluice; stdout in $out, stderr in $err, exit code in $rc
run() {
    rc=0
    out=$("$AWS" --endpoint-url "$endpoint" --output json "$@" 2>"$tmp/stderr") || rc=$?
    err=$(cat "$tmp/stderr")
}

name="cli-smoke-$$-$RANDOM"
url="$endpoint/000000000000/$name"
body="hello from the aws cli"
body_md5=$(printf '%s' "$body" | md5sum | cut -d' ' -f1)

# create-queue
run sqs create-queue --queue-name "$name" --query QueueUrl --output text
expect_eq "create-queue exits 0" 0 "$rc"
expect_eq "create-queue returns the queue URL" "$url" "$out"

# list-queues
run sqs list-queues --queue-name-prefix "$name" --query 'QueueUrls[0]' --output text
expect_eq "list-queues exits 0" 0 "$rc"
expect_eq "list-queues lists the queue" "$url" "$out"

# get-queue-url
run sqs get-queue-url --queue-name "$name" --query QueueUrl --output text
expect_eq "get-queue-url returns the queue URL" "$url" "$out"

# send-message
run sqs send-message --queue-url "$url" --message-body "$body" --query MD5OfMessageBody --output text
expect_eq "send-message exits 0" 0 "$rc"
expect_eq "send-message MD5OfMessageBody" "$body_md5" "$out"

# receive-message: body checked with --query
run sqs receive-message --queue-url "$url" --wait-time-seconds 2 --query 'Messages[0].Body' --output text
expect_eq "receive-message exits 0" 0 "$rc"
expect_eq "receive-message returns the body" "$body" "$out"

# that receive hid the message for the queue's 30 s
run sqs receive-message --queue-url "$url" --visibility-timeout 0 --query 'Messages[0].Body' --output text
expect_eq "received message is in flight" "None" "$out"
run sqs get-queue-attributes --queue-url "$url" --attribute-names ApproximateNumberOfMessagesNotVisible \
    --query Attributes.ApproximateNumberOfMessagesNotVisible --output text
expect_eq "one message not visible" "1" "$out"

# a second queue: attributes on create, message attributes, delete-message
name2="$name-2"
url2="$endpoint/000000000000/$name2"
run sqs create-queue --queue-name "$name2" --attributes VisibilityTimeout=60 --query QueueUrl --output text
expect_eq "create-queue with attributes" "$url2" "$out"
run sqs send-message --queue-url "$url2" --message-body hello \
    --message-attributes '{"attr1":{"DataType":"String","StringValue":"v"}}' \
    --query '[MD5OfMessageBody,MD5OfMessageAttributes]' --output text
expect_eq "send-message with attributes: MD5s" $'5d41402abc4b2a76b9719d911017c592\t5d7451cdb6bb563786f0f121888def84' "$out"
run sqs receive-message --queue-url "$url2" --wait-time-seconds 2 --message-attribute-names All \
    --attribute-names All --query 'Messages[0].[Body,MessageAttributes.attr1.StringValue,Attributes.ApproximateReceiveCount,ReceiptHandle]' --output text
IFS=$'\t' read -r got_body got_attr got_count handle <<<"$out" || true
expect_eq "receive-message body (attributes)" "hello" "$got_body"
expect_eq "receive-message message attribute" "v" "$got_attr"
expect_eq "receive-message ApproximateReceiveCount" "1" "$got_count"

# delete-message
run sqs delete-message --queue-url "$url2" --receipt-handle "${handle:-missing}"
expect_eq "delete-message exits 0" 0 "$rc"

# get-queue-attributes
run sqs get-queue-attributes --queue-url "$url2" --attribute-names All \
    --query 'Attributes.[ApproximateNumberOfMessages,ApproximateNumberOfMessagesNotVisible,VisibilityTimeout,QueueArn]' --output text
expect_eq "get-queue-attributes after delete" $'0\t0\t60\tarn:aws:sqs:us-east-1:000000000000:'"$name2" "$out"

# delete-queue
run sqs delete-queue --queue-url "$url2"
expect_eq "delete-queue exits 0" 0 "$rc"
run sqs delete-queue --queue-url "$url"
expect_eq "delete-queue (first queue) exits 0" 0 "$rc"
run sqs list-queues --queue-name-prefix "$name" --query 'length(QueueUrls || `[]`)' --output text
expect_eq "deleted queues are not listed" "0" "$out"

# an error: get-queue-url on a missing queue
run sqs get-queue-url --queue-name "$name"
expect_eq "get-queue-url on a missing queue exits 254" 254 "$rc"
if [[ "$err" == *"AWS.SimpleQueueService.NonExistentQueue"* ]]; then
    ok "error names AWS.SimpleQueueService.NonExistentQueue"
else
    fail "error names AWS.SimpleQueueService.NonExistentQueue" "stderr: $err"
fi

# sts get-caller-identity: test suites ask it for the account id
run sts get-caller-identity --query '[Account,Arn,UserId]' --output text
expect_eq "sts get-caller-identity exits 0" 0 "$rc"
expect_eq "sts get-caller-identity: account, root ARN, user id" \
    $'000000000000\tarn:aws:iam::000000000000:root\tAKIAIOSFODNN7EXAMPLE' "$out"

# cloudwatch: put-metric-data, then read it back (query protocol, like boto3 1.26)
ns="Smoke/$name"
t0=$(date -u -d "@$(( $(date +%s) / 60 * 60 - 300 ))" +%Y-%m-%dT%H:%M:%SZ)
t1=$(date -u -d "@$(( $(date +%s) / 60 * 60 - 240 ))" +%Y-%m-%dT%H:%M:%SZ)
run cloudwatch put-metric-data --namespace "$ns" --metric-data \
    "[{\"MetricName\":\"Jobs\",\"Dimensions\":[{\"Name\":\"Queue\",\"Value\":\"q1\"}],\"Timestamp\":\"$t0\",\"Value\":2,\"Unit\":\"Count\"},
      {\"MetricName\":\"Jobs\",\"Dimensions\":[{\"Name\":\"Queue\",\"Value\":\"q1\"}],\"Timestamp\":\"$t0\",\"Value\":5,\"Unit\":\"Count\"},
      {\"MetricName\":\"Jobs\",\"Dimensions\":[{\"Name\":\"Queue\",\"Value\":\"q1\"}],\"Timestamp\":\"$t1\",\"Values\":[1,3],\"Counts\":[2,1],\"Unit\":\"Count\"}]"
expect_eq "cloudwatch put-metric-data exits 0" 0 "$rc"
run cloudwatch get-metric-statistics --namespace "$ns" --metric-name Jobs --dimensions Name=Queue,Value=q1 \
    --start-time "$(date -u -d "@$(( $(date +%s) - 900 ))" +%Y-%m-%dT%H:%M:%SZ)" --end-time "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --period 60 --statistics Sum SampleCount Minimum Maximum Average \
    --query 'sort_by(Datapoints,&Timestamp)[].[Sum,SampleCount,Minimum,Maximum,Average,Unit]' --output text
expect_eq "cloudwatch get-metric-statistics: two minutes, exact statistics" \
    $'7.0\t2.0\t2.0\t5.0\t3.5\tCount\n5.0\t3.0\t1.0\t3.0\t1.6666666666666667\tCount' "$out"
run cloudwatch get-metric-data --start-time "$(date -u -d "@$(( $(date +%s) - 900 ))" +%Y-%m-%dT%H:%M:%SZ)" \
    --end-time "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --scan-by TimestampAscending \
    --metric-data-queries "[{\"Id\":\"jobs\",\"MetricStat\":{\"Metric\":{\"Namespace\":\"$ns\",\"MetricName\":\"Jobs\",\"Dimensions\":[{\"Name\":\"Queue\",\"Value\":\"q1\"}]},\"Period\":60,\"Stat\":\"Maximum\"}}]" \
    --query 'MetricDataResults[0].[Id,StatusCode,join(`,`,Values[].to_string(@))]' --output text
expect_eq "cloudwatch get-metric-data: Maximum per minute, oldest first" $'jobs\tComplete\t5.0,3.0' "$out"
run cloudwatch list-metrics --namespace "$ns" --query 'Metrics[].[MetricName,Dimensions[0].Name,Dimensions[0].Value]' --output text
expect_eq "cloudwatch list-metrics lists the metric with its dimension" $'Jobs\tQueue\tq1' "$out"
run cloudwatch put-metric-data --namespace AWS/Smoke --metric-name Jobs --value 1
expect_eq "cloudwatch put-metric-data into AWS/ exits 254" 254 "$rc"
if [[ "$err" == *"(InvalidParameterValue)"*"The value AWS/Smoke for parameter Namespace is invalid."* ]]; then
    ok "cloudwatch: AWS/ is reserved (InvalidParameterValue)"
else
    fail "cloudwatch: AWS/ is reserved (InvalidParameterValue)" "stderr: $err"
fi

# cloudwatch alarms: put-metric-alarm, describe-alarms, set-alarm-state, describe-alarm-history, delete-alarms
# (treat-missing-data ignore: the alarm has no data, and a set state must
# survive the next minute's evaluation, which CloudWatch and sluice run at
# every period boundary; with notBreaching a boundary between two calls
# turned it back to OK)
alarm="$name-alarm"
run cloudwatch put-metric-alarm --alarm-name "$alarm" --namespace "$ns" --metric-name Jobs \
    --dimensions Name=Queue,Value=q1 --statistic Maximum --period 60 --evaluation-periods 2 --datapoints-to-alarm 1 \
    --threshold 4 --comparison-operator GreaterThanThreshold --treat-missing-data ignore
expect_eq "cloudwatch put-metric-alarm exits 0" 0 "$rc"
run cloudwatch describe-alarms --alarm-names "$alarm" \
    --query 'MetricAlarms[0].[StateValue,Period,EvaluationPeriods,DatapointsToAlarm,Threshold,TreatMissingData]' --output text
expect_eq "cloudwatch describe-alarms: a new alarm, as defined" $'INSUFFICIENT_DATA\t60\t2\t1\t4.0\tignore' "$out"
run cloudwatch set-alarm-state --alarm-name "$alarm" --state-value ALARM --state-reason "smoke"
expect_eq "cloudwatch set-alarm-state exits 0" 0 "$rc"
run cloudwatch describe-alarm-history --alarm-name "$alarm" --history-item-type StateUpdate \
    --query 'AlarmHistoryItems[].HistorySummary' --output text
expect_eq "cloudwatch describe-alarm-history: the state change" "Alarm updated from INSUFFICIENT_DATA to ALARM" "$out"
run cloudwatch describe-alarms --state-value ALARM --alarm-name-prefix "$alarm" --query 'MetricAlarms[].StateReason' --output text
expect_eq "cloudwatch describe-alarms --state-value ALARM" "smoke" "$out"
run cloudwatch delete-alarms --alarm-names "$alarm"
run cloudwatch describe-alarms --alarm-names "$alarm" --query 'length(MetricAlarms)' --output text
expect_eq "cloudwatch delete-alarms: gone" "0" "$out"
run cloudwatch set-alarm-state --alarm-name "$alarm" --state-value OK --state-reason "gone"
if [[ $rc -ne 0 && "$err" == *"(ResourceNotFound)"* ]]; then
    ok "cloudwatch: set-alarm-state on a deleted alarm is ResourceNotFound"
else
    fail "cloudwatch: set-alarm-state on a deleted alarm is ResourceNotFound" "rc: $rc" "stderr: $err"
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
