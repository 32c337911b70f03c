"""Reads each order; forwards it to RESULTS_QUEUE_URL with boto3, or raises
for an order marked "fail" (so the message is retried, then dead-lettered)."""
import json
import os

import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    for record in event["Records"]:
        order = json.loads(record["body"])
        if order.get("fail"):
            raise RuntimeError("order %s refused" % order.get("id"))
        sqs.send_message(
            QueueUrl=os.environ["RESULTS_QUEUE_URL"],
            MessageBody=json.dumps({
                "id": order.get("id"),
                "stage": os.environ["STAGE"],
                "results_queue": os.environ["RESULTS_QUEUE_NAME"],
                "function": context.function_name,
            }),
        )
    return {"ok": True}
