"""Appends each order the API put on the queue to OUT_FILE."""
import json
import os


def handler(event, context):
    with open(os.environ["OUT_FILE"], "a") as out:
        for record in event["Records"]:
            out.write(json.dumps(json.loads(record["body"])) + "\n")
