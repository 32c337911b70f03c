"""The traces suite's handler (tests/e2e/traces.yaml), on the python
runtime. Each record's body is a JSON object; its "mode" decides:
  ok       success
  error    raises (the whole batch fails)
  sleep    sleeps past the 1 s timeout
  fail     reported in batchItemFailures (a partial failure)
Every invocation appends {"requestId", "trace", "records": [{"messageId",
"awsTraceHeader"}]} to RECORD_FILE (relative to the code folder)."""
import json
import os
import time


def handler(event, context):
    records = event.get("Records", [])
    path = os.environ.get("RECORD_FILE")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({
                "requestId": context.aws_request_id,
                "trace": os.environ.get("_X_AMZN_TRACE_ID"),
                "records": [{"messageId": r["messageId"],
                             "awsTraceHeader": r.get("attributes", {}).get("AWSTraceHeader")} for r in records],
            }) + "\n")
    failures = []
    for r in records:
        body = json.loads(r["body"])
        mode = body.get("mode", "ok")
        print(f"record {r['messageId']} mode={mode}")
        if mode == "error":
            raise RuntimeError(f"cannot process {r['messageId']}")
        if mode == "sleep":
            time.sleep(5)
        if mode == "fail":
            failures.append({"itemIdentifier": r["messageId"]})
    return {"batchItemFailures": failures}
