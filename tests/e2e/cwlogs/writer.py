import os
import time

import boto3


def handler(event, context):
    logs = boto3.client("logs", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
    group, stream = event["group"], event["stream"]
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    out = logs.put_log_events(logGroupName=group, logStreamName=stream,
                              logEvents=[{"timestamp": now, "message": m} for m in event["messages"]])
    return {"next": out.get("nextSequenceToken"), "rejected": out.get("rejectedLogEventsInfo")}
