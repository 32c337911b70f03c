#!/bin/sh
# Example sluice handler for events.fifo (POSIX sh, sed and grep only): logs
# how many records the batch holds, then one line per messageId, on stderr
# (the function's log), and answers {} on stdout. sluice runs it once per
# SQS batch with the event JSON on stdin (docs/handlers.md).
#
# Try it without sluice:
#   printf '%s' '{"Records":[{"messageId":"m1","body":"x"}]}' | config/handlers/audit.sh
#
# The event is JSON, read here with sed rather than a JSON parser: the first
# sed starts a new line, marked with "@id@", at each "messageId": "..." key,
# and the second keeps what follows a mark up to its closing quote. A body
# cannot fool it: inside a JSON string every quote is escaped (\"), so the
# text "messageId" followed by a quote only occurs as a record's own key.

ids=$(sed 's/"messageId"[[:space:]]*:[[:space:]]*"/\
@id@/g' | sed -n 's/^@id@\([^"]*\)".*/\1/p')

if [ -n "$ids" ]; then
    count=$(printf '%s\n' "$ids" | grep -c .)
else
    count=0
fi

printf 'audit: function=%s request_id=%s records=%s\n' \
    "${AWS_LAMBDA_FUNCTION_NAME:-audit}" "${AWS_REQUEST_ID:--}" "$count" >&2
if [ "$count" -gt 0 ]; then
    printf '%s\n' "$ids" | while IFS= read -r id; do
        printf 'audit: messageId=%s\n' "$id" >&2
    done
fi

printf '{}\n'
