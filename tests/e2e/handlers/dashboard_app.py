"""The dashboard test's handler (tests/e2e/dashboard.yaml), on the python
runtime. Each record's body is a JSON object; its "mode" decides:
  ok     success
  fail   raises (the record comes back and, after two receives, goes to
         the dead-letter queue)
  fail_while  raises while the file named by "path" exists (a fault the
         test can clear before it redrives the dead-letter queue)
  slow   sleeps 0.3 s, then succeeds (a slow trace)"""
import json
import os
import time


def handler(event, context):
    for r in event.get("Records", []):
        body = json.loads(r["body"])
        mode = body.get("mode", "ok")
        print(f"dashboard record {r['messageId']} mode={mode}")
        if mode == "fail" or (mode == "fail_while" and os.path.exists(body.get("path", ""))):
            raise RuntimeError(f"order {body.get('id')} cannot be processed")
        if mode == "slow":
            time.sleep(0.3)
    return {}
