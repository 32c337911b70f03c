#!/usr/bin/env python3
r"""Example sluice handler for the `orders` queue (Python 3, stdlib only).

sluice runs this once per SQS batch: the event JSON arrives on stdin, the
response goes to stdout, and stderr is the function's log (docs/handlers.md).
Each record is logged as one JSON line. A record whose body is a JSON object
with "fail": true is reported in batchItemFailures, so with
report_batch_item_failures on, only that message comes back for a retry.

Try it without sluice:
  printf '%s' '{"Records":[{"messageId":"m1","body":"{\"fail\":true}"}]}' \
    | config/handlers/orders.py
"""
import json
import os
import sys


def log(**fields):
    # One JSON object per line: sluice logs each stderr line as it comes.
    print(json.dumps(fields, separators=(",", ":")), file=sys.stderr, flush=True)


def parse_body(body):
    """The body as JSON when it is JSON, else the text itself."""
    try:
        return json.loads(body)
    except (TypeError, ValueError):
        return body


def main():
    level = os.environ.get("LOG_LEVEL", "info")
    request_id = os.environ.get("AWS_REQUEST_ID", "")
    raw = sys.stdin.read()
    try:
        event = json.loads(raw) if raw.strip() else {}
    except ValueError as e:
        # Our own error: printed on stdout, with a non-zero exit status.
        print(json.dumps({"errorMessage": "the event is not JSON: %s" % e,
                          "errorType": "InvalidEvent"}, separators=(",", ":")))
        return 1
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        records = []
    if level == "debug":
        log(level="debug", requestId=request_id, msg="batch", records=len(records))

    failures = []
    for record in records:
        if not isinstance(record, dict):
            continue
        message_id = record.get("messageId")
        attributes = record.get("attributes") or {}
        body = parse_body(record.get("body"))
        fail = isinstance(body, dict) and body.get("fail") is True
        log(level="warn" if fail else "info",
            requestId=request_id,
            messageId=message_id,
            receiveCount=attributes.get("ApproximateReceiveCount"),
            result="failed" if fail else "processed",
            body=body)
        if fail:
            failures.append({"itemIdentifier": message_id})

    json.dump({"batchItemFailures": failures}, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
