"""An SQS handler reporting partial batch failures, as in the Lambda docs
("Implementing partial batch responses")."""
import json


def handler(event, context):
    batch_item_failures = []
    for record in event["Records"]:
        try:
            body = json.loads(record["body"])
            if body.get("fail"):
                raise ValueError(f"cannot process {record['messageId']}")
            print(f"processed {record['messageId']} {body}")
        except Exception as e:
            print(f"failed {record['messageId']}: {e}")
            batch_item_failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": batch_item_failures}
