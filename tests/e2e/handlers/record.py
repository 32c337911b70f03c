#!/usr/bin/python3
"""Test handler for sluice's Lambda side (tests/sdk/js, tests/sdk/python).

Protocol: the event JSON arrives on stdin; the response goes to stdout; exit
0 is success, anything else is a function error; stderr is the log.

Every invocation appends JSON lines to the file named by RECORD_FILE
(relative to the working directory; nothing is recorded when it is unset):
  {"phase": "start", "t": <epoch ms>, "pid", "requestId", "mode",
   "env": {...Lambda and test variables...}, "event": <the event>}
  {"phase": "end", "t": <epoch ms>, "pid", "requestId", "mode"}
The "end" line is written just before the response (or the failing exit),
so a killed handler (timeout) leaves only its "start" line.

What it does comes from, in order: the invocation payload's "mode" (direct
Invoke), the first SQS record whose body is a JSON object with a "mode",
then env MODE (default "ok"):
  ok              success; the response is {"ok": true, "requestId", "event",
                  "env"} for a direct Invoke and {} for an SQS batch
  fail            writes to stderr and exits 1
  exit:N          exits N
  sleep:S         sleeps S seconds (a float), then behaves as ok
  sleep-first:S   sleeps S seconds when a record is on its first delivery
                  (ApproximateReceiveCount "1"), then behaves as ok
  partial         {"batchItemFailures": [...]} listing the messageId of every
                  record whose body is a JSON object with "fail": true
  invalid:unknown a batchItemFailures item naming a message not in the batch
  invalid:empty   a batchItemFailures item with an empty itemIdentifier
  invalid:json    a response that is not JSON
  result          prints the payload's "result" (or env RESULT) as JSON
  spam:N          writes N bytes of log lines to stderr, then behaves as ok
"""
import json
import os
import sys
import time

ENV_PREFIXES = ("AWS_", "LAMBDA_", "_X_AMZN", "_HANDLER", "TEST_")
ENV_NAMES = ("MODE", "RECORD_FILE", "RESULT", "TZ", "LANG", "GREETING", "PWD")
SECRET = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def now_ms():
    return int(time.time() * 1000)


def env_subset():
    out = {}
    for k, v in os.environ.items():
        if k.startswith(ENV_PREFIXES) or k in ENV_NAMES:
            out[k] = "<set>" if k in SECRET else v
    out["_cwd"] = os.getcwd()
    return out


def record(doc):
    path = os.environ.get("RECORD_FILE")
    if not path:
        return
    line = (json.dumps(doc, separators=(",", ":")) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)  # one write per line: lines from parallel runs do not interleave
    finally:
        os.close(fd)


def body_json(rec):
    try:
        doc = json.loads(rec.get("body", ""))
    except (ValueError, TypeError):
        return None
    return doc if isinstance(doc, dict) else None


def pick_mode(event, records):
    if records is None and isinstance(event, dict) and isinstance(event.get("mode"), str):
        return event["mode"]
    for rec in records or []:
        doc = body_json(rec)
        if doc is not None and isinstance(doc.get("mode"), str):
            return doc["mode"]
    return os.environ.get("MODE") or "ok"


def main():
    raw = sys.stdin.buffer.read()
    try:
        event = json.loads(raw)
    except ValueError:
        event = {"_raw": raw.decode("utf-8", "replace")}
    records = event.get("Records") if isinstance(event, dict) and isinstance(event.get("Records"), list) else None
    mode = pick_mode(event, records)
    request_id = os.environ.get("AWS_REQUEST_ID")
    base = {"pid": os.getpid(), "requestId": request_id, "mode": mode}
    record(dict(base, phase="start", t=now_ms(), env=env_subset(), event=event))
    sys.stderr.write(f"record.py: mode={mode} records={len(records) if records is not None else '-'}\n")
    sys.stderr.flush()

    def finish(response_text, code=0):
        record(dict(base, phase="end", t=now_ms()))
        if response_text is not None:
            sys.stdout.write(response_text)
            sys.stdout.flush()
        sys.exit(code)

    if mode.startswith("sleep:"):
        time.sleep(float(mode.split(":", 1)[1]))
        mode = "ok"
    if mode.startswith("sleep-first:"):
        if any(r.get("attributes", {}).get("ApproximateReceiveCount") == "1" for r in records or []):
            time.sleep(float(mode.split(":", 1)[1]))
        mode = "ok"
    if mode.startswith("spam:"):
        left = int(mode.split(":", 1)[1])
        n = 0
        while left > 0:
            line = f"spam line {n:06d} " + "x" * 40 + "\n"
            sys.stderr.write(line[:left])
            left -= len(line)
            n += 1
        sys.stderr.flush()
        mode = "ok"

    if mode == "ok":
        if records is not None:
            finish("{}")
        finish(json.dumps({"ok": True, "requestId": request_id, "event": event, "env": env_subset()}))
    if mode == "fail":
        sys.stderr.write("record.py: failing on purpose\n")
        finish(None, 1)
    if mode.startswith("exit:"):
        finish(None, int(mode.split(":", 1)[1]))
    if mode == "partial":
        failed = [{"itemIdentifier": r["messageId"]} for r in records or []
                  if (body_json(r) or {}).get("fail") is True]
        finish(json.dumps({"batchItemFailures": failed}))
    if mode == "invalid:unknown":
        finish(json.dumps({"batchItemFailures": [{"itemIdentifier": "not-a-message-id-in-this-batch"}]}))
    if mode == "invalid:empty":
        finish(json.dumps({"batchItemFailures": [{"itemIdentifier": ""}]}))
    if mode == "invalid:json":
        finish("{this is not json")
    if mode == "result":
        if isinstance(event, dict) and "result" in event:
            finish(json.dumps(event["result"]))
        finish(os.environ.get("RESULT", "null"))
    sys.stderr.write(f"record.py: unknown mode {mode!r}\n")
    finish(None, 2)


if __name__ == "__main__":
    main()
