"""Sends a message with boto3 from inside the handler, to the queue whose URL
is in the function's environment. No endpoint_url: the client must reach
sluice on its own, whatever boto3 version is installed."""
import os

import boto3

sqs = boto3.client("sqs")  # created at import time, as the docs advise
QUEUE_URL = os.environ["QUEUE_URL"]


def handler(event, context):
    out = sqs.send_message(QueueUrl=QUEUE_URL, MessageBody=event["body"])
    import botocore
    return {"MessageId": out["MessageId"], "botocore": botocore.__version__,
            "endpoint": sqs.meta.endpoint_url}


def endpoints(event, context):
    """Where clients made now would go, without sending anything."""
    return {"sqs": boto3.client("sqs").meta.endpoint_url,
            "lambda": boto3.client("lambda").meta.endpoint_url,
            "explicit": boto3.client("sqs", endpoint_url="http://explicit.example:1").meta.endpoint_url}
