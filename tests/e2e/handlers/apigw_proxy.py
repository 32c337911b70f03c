#!/usr/bin/python3
"""Test handler for sluice's API Gateway Lambda proxy integration
(tests/sdk/python/test_apigw.py, config tests/e2e/apigw.yaml).

Protocol: the proxy event (payload 1.0 or 2.0) arrives on stdin; the
response goes to stdout; exit 0 is success, anything else is a function
error. What it answers comes from env MODE:
  echo           {"statusCode": 200, JSON content type, body: the event as JSON}
  respond        201 with a single-value header, a multi-value header, a
                 header given in both maps, and a text body
  base64         200, isBase64Encoded, body: base64 of BINARY below
  malformed      a JSON object with a key the proxy format does not have
  garbage        output that is not JSON at all
  crash          writes to stderr and exits 1 (a function error)
  sleep:S        sleeps S seconds (a float), then behaves as echo
  infer-object   {"a": 1} (no statusCode: HTTP API inference)
  infer-string   "hello from lambda" (a JSON string)
  cookies        payload 2.0 cookies, each a Set-Cookie header
  cors-backend   sets its own Access-Control-Allow-Origin (an HTTP API with
                 cors: configured must ignore it)
"""
import base64
import json
import os
import sys
import time

BINARY = b"\x00\x01\xfe\xffsluice\x80"


def out(doc):
    sys.stdout.write(json.dumps(doc))
    sys.stdout.flush()
    sys.exit(0)


def echo(event):
    out({"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)})


def main():
    raw = sys.stdin.buffer.read()
    try:
        event = json.loads(raw)
    except ValueError:
        event = {"_raw": raw.decode("utf-8", "replace")}
    mode = os.environ.get("MODE") or "echo"
    if mode.startswith("sleep:"):
        time.sleep(float(mode.split(":", 1)[1]))
        mode = "echo"
    if mode == "echo":
        echo(event)
    if mode == "respond":
        out({
            "statusCode": 201,
            "headers": {"Content-Type": "text/plain", "X-Single": "s", "X-Both": "from-headers"},
            "multiValueHeaders": {"X-Multi": ["a", "b"], "X-Both": ["from-multi"]},
            "body": "created",
        })
    if mode == "base64":
        out({
            "statusCode": 200,
            "headers": {"Content-Type": "application/octet-stream"},
            "isBase64Encoded": True,
            "body": base64.b64encode(BINARY).decode("ascii"),
        })
    if mode == "malformed":
        out({"statusCode": 200, "body": "x", "unexpectedKey": True})
    if mode == "garbage":
        sys.stdout.write("this is not json {")
        sys.stdout.flush()
        sys.exit(0)
    if mode == "crash":
        sys.stderr.write("apigw_proxy.py: crashing on purpose\n")
        sys.exit(1)
    if mode == "infer-object":
        out({"a": 1})
    if mode == "infer-string":
        out("hello from lambda")
    if mode == "cookies":
        out({"statusCode": 200, "cookies": ["a=1; Path=/", "b=2"], "body": "ok"})
    if mode == "cors-backend":
        out({"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "https://evil.example"}, "body": "ok"})
    sys.stderr.write(f"apigw_proxy.py: unknown mode {mode!r}\n")
    sys.exit(2)


if __name__ == "__main__":
    main()
