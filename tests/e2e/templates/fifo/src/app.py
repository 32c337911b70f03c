"""Appends each order (and its group) to OUT_FILE in the order received;
raises for an order marked "fail" so it is retried, then dead-lettered."""
import json
import os


def handler(event, context):
    for record in event["Records"]:
        order = json.loads(record["body"])
        if order.get("fail"):
            raise ValueError("cannot take order %s" % order["id"])
        with open(os.environ["OUT_FILE"], "a") as out:
            out.write(json.dumps({"id": order["id"], "group": record["attributes"]["MessageGroupId"],
                                  "mode": os.environ["MODE"], "function": context.function_name}) + "\n")
