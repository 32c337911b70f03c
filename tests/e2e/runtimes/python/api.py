"""An API Gateway (HTTP API, payload 2.0) handler, as in the Lambda docs."""
import json

calls = 0


def handler(event, context):
    global calls
    calls += 1
    name = (event.get("pathParameters") or {}).get("name", "nobody")
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "X-Request-Id": context.aws_request_id},
        "body": json.dumps({"hello": name, "calls": calls, "route": event.get("routeKey")}),
    }
