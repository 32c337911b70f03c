"""Example handler for the `orders` queue, written as Lambda runs it
(runtime python3.x, handler orders.handler): sluice keeps it warm and calls
handler(event, context) once per SQS batch.

Each record is logged as one JSON line. A record whose body is a JSON object
with "fail": true is reported in batchItemFailures, so with
report_batch_item_failures on only that message comes back for a retry,
and after the queue's maxReceiveCount it moves to the dead-letter queue.
Standard library only.
"""
import json
import logging
import os

logger = logging.getLogger()
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())

# Module state survives between invocations of a warm instance, as on Lambda.
batches_seen = 0


def parse_body(body):
    """The body as JSON when it is JSON, else the text itself."""
    try:
        return json.loads(body)
    except (TypeError, ValueError):
        return body


def handler(event, context):
    global batches_seen
    batches_seen += 1
    records = event.get("Records") or []
    logger.debug("batch %d of this instance: %d records, %d ms left", batches_seen, len(records),
                 context.get_remaining_time_in_millis())
    failures = []
    for record in records:
        body = parse_body(record.get("body"))
        fail = isinstance(body, dict) and body.get("fail") is True
        print(json.dumps({
            "level": "warn" if fail else "info",
            "requestId": context.aws_request_id,
            "messageId": record.get("messageId"),
            "receiveCount": (record.get("attributes") or {}).get("ApproximateReceiveCount"),
            "result": "failed" if fail else "processed",
            "body": body,
        }, separators=(",", ":")))
        if fail:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
