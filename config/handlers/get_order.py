"""Example Lambda proxy handler for GET /orders/{id} (API Gateway REST API,
payload 1.0), written as Lambda runs it (runtime python3.x, handler
get_order.handler). Answers {"statusCode", "headers", "body"}.
"""
import json


def handler(event, context):
    order_id = (event.get("pathParameters") or {}).get("id")
    print(json.dumps({"level": "info", "orderId": order_id,
                      "apiRequestId": (event.get("requestContext") or {}).get("requestId"),
                      "requestId": context.aws_request_id}))
    if not order_id or not order_id.isdigit():
        return {"statusCode": 400, "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"message": "order id must be a number"})}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"id": int(order_id), "status": "received"})}
