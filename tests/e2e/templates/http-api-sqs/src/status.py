"""A Lambda proxy handler: answers with the route and the path parameters."""
import json


def handler(event, context):
    route = event.get("routeKey") or "%s %s" % (event.get("httpMethod"), event.get("resource"))
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"route": route, "params": event.get("pathParameters"), "version": event.get("version")}),
    }
