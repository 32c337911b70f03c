#!/usr/bin/env python3
"""Example Lambda proxy handler for GET /orders/{id} (API Gateway payload 1.0).

Reads the proxy event on stdin and answers with a proxy response on stdout:
{"statusCode": ..., "headers": {...}, "body": "..."}. stderr is its log.
"""
import json
import sys

event = json.load(sys.stdin)
order_id = (event.get("pathParameters") or {}).get("id")
print(json.dumps({"level": "info", "orderId": order_id,
                  "requestId": event.get("requestContext", {}).get("requestId")}), file=sys.stderr)
if not order_id or not order_id.isdigit():
    response = {"statusCode": 400, "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"message": "order id must be a number"})}
else:
    response = {"statusCode": 200, "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"id": int(order_id), "status": "received"})}
print(json.dumps(response))
