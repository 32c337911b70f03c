#!/usr/bin/env python3
"""The runtimes part of scripts/bench (not a test): warm Lambda instances
against today's exec path and against the ceiling of any out-of-process
handler.

  runtime_bench.py SLUICE_BIN PIPE_CEILING_BIN WORKDIR

One handler that does nothing (noop.handler, returning the time it
started) runs four ways from one sluice: the python3.x and nodejs runtimes
(warm instances behind the Runtime API) and, for the same handler, the
exec path (a process per batch that imports it, reads the event on stdin
and prints the answer). For each:
  - throughput: an SQS mapping at batch size 1 (default concurrency 5)
    drains a prefilled queue; invocations/s;
  - warm overhead (runtimes): sequential Invokes whose payload carries the
    CLOCK_REALTIME ns just before the request is written; the handler
    returns the time it started; overhead = handler start - request;
    p50/p99, and the Invoke round trip;
  - cold start (runtimes): the first REPORT's Init Duration, against the
    bare interpreter's start (python3 -c pass, node -e 0) timed here.
The ceiling: PIPE_CEILING_BIN (scripts/bench.d/pipe_ceiling.c), a child
that echoes a line, round trips/s and p50/p99.
Prints tables and one "BENCH key=value ..." line. Standard library only.
"""
import http.client
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse

MSGS = {"py": int(os.environ.get("BENCH_RT_MSGS", "3000")),
        "node": int(os.environ.get("BENCH_RT_MSGS", "3000")),
        "py-exec": int(os.environ.get("BENCH_RT_EXEC_MSGS", "150")),
        "node-exec": int(os.environ.get("BENCH_RT_EXEC_MSGS", "150"))}
SAMPLES = int(os.environ.get("BENCH_RT_SAMPLES", "500"))
WARMUP = 20
STALL_S = 30

NOOP_PY = '''import time


def handler(event, context):
    return {"t1": time.time_ns()}
'''
NOOP_MJS = '''export const handler = async (event) => ({
  t1: Math.round((performance.timeOrigin + performance.now()) * 1e6),
});
'''
EXEC_PY = '''#!/usr/bin/env python3
import json, sys
from noop import handler
print(json.dumps(handler(json.load(sys.stdin), None)))
'''
EXEC_MJS = '''#!/usr/bin/env node
import { handler } from "./noop.mjs";
let raw = "";
process.stdin.on("data", (c) => (raw += c));
process.stdin.on("end", async () => {
  process.stdout.write(JSON.stringify(await handler(JSON.parse(raw || "{}"), {})));
});
'''


def fail(msg):
    print("runtime_bench: " + msg, file=sys.stderr)
    sys.exit(1)


def pct(xs, p):
    xs = sorted(xs)
    return xs[max(0, math.ceil(p / 100.0 * len(xs)) - 1)]


class Sluice:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)

    def call(self, method, path, body, headers):
        self.conn.request(method, path, body=body, headers=headers)
        r = self.conn.getresponse()
        return r.status, r.read()

    def sqs(self, action, params):
        status, raw = self.call("POST", "/", json.dumps(params), {
            "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS." + action})
        if status != 200:
            fail("%s answered %d: %s" % (action, status, raw[:300]))
        return json.loads(raw) if raw else {}

    def lam(self, method, path, body=None):
        status, raw = self.call(method, "/2015-03-31/" + path, json.dumps(body) if body is not None else None,
                                {"Content-Type": "application/json"})
        if status not in (200, 202):
            fail("%s %s answered %d: %s" % (method, path, status, raw[:300]))
        return json.loads(raw) if raw else {}


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def bare_start_ms(argv, n=7):
    times = []
    for _ in range(n):
        t = time.monotonic()
        subprocess.run(argv, check=True)
        times.append((time.monotonic() - t) * 1000)
    return pct(times, 50)


def drain(s, queue, function, messages):
    qurl = s.sqs("GetQueueUrl", {"QueueName": queue})["QueueUrl"]
    maps = [m for m in s.lam("GET", "event-source-mappings/?FunctionName=" + function)["EventSourceMappings"]]
    if len(maps) != 1:
        fail("expected one mapping for %s" % function)
    for i in range(0, messages, 10):
        entries = [{"Id": str(k), "MessageBody": "x" * 100} for k in range(min(10, messages - i))]
        s.sqs("SendMessageBatch", {"QueueUrl": qurl, "Entries": entries})
    t0 = time.monotonic()
    s.lam("PUT", "event-source-mappings/" + maps[0]["UUID"], {"Enabled": True})
    last, last_change = messages, t0
    while True:
        time.sleep(0.02)
        a = s.sqs("GetQueueAttributes", {"QueueUrl": qurl, "AttributeNames": [
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]})["Attributes"]
        left = int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])
        now = time.monotonic()
        if left != last:
            last, last_change = left, now
        if left == 0:
            break
        if now - last_change > STALL_S:
            fail("%s stalled with %d messages left" % (function, left))
    t1 = time.monotonic()
    s.lam("PUT", "event-source-mappings/" + maps[0]["UUID"], {"Enabled": False})
    return messages / (t1 - t0), t1 - t0


def overhead(s, function):
    over, rtt = [], []
    for n in range(WARMUP + SAMPLES):
        t0 = time.clock_gettime_ns(time.CLOCK_REALTIME)
        status, raw = s.call("POST", "/2015-03-31/functions/%s/invocations" % function,
                             json.dumps({"t0": t0}), {"Content-Type": "application/json"})
        t2 = time.clock_gettime_ns(time.CLOCK_REALTIME)
        if status != 200:
            fail("Invoke %s answered %d: %s" % (function, status, raw[:300]))
        t1 = json.loads(raw)["t1"]
        if n >= WARMUP:
            over.append((t1 - t0) / 1e6)
            rtt.append((t2 - t0) / 1e6)
    return over, rtt


def init_ms(log, nth=0):
    with open(log) as f:
        found = re.findall(r"Init Duration: ([0-9.]+) ms", f.read())
    return float(found[nth]) if len(found) > nth else -1.0


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    sluice_bin, ceiling_bin, work = argv[1:]
    code = os.path.join(work, "code")
    data = os.path.join(work, "data")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(code)
    write(os.path.join(code, "noop.py"), NOOP_PY)
    write(os.path.join(code, "noop.mjs"), NOOP_MJS)
    write(os.path.join(code, "exec_noop.py"), EXEC_PY, 0o755)
    write(os.path.join(code, "exec_noop.mjs"), EXEC_MJS, 0o755)
    cfg = ["queues:"]
    for q in ("py", "node", "py-exec", "node-exec"):
        cfg.append("  q-%s: {visibility_timeout: 60}" % q)
    cfg.append("functions:")
    for fn, how in (("py", "runtime: python3.11\n    handler: noop.handler"),
                    ("node", "runtime: nodejs20.x\n    handler: noop.handler"),
                    ("py-exec", 'command: ["%s/exec_noop.py"]' % code),
                    ("node-exec", 'command: ["%s/exec_noop.mjs"]' % code)):
        cfg.append("  %s:\n    %s\n    code: %s\n    timeout: 30" % (fn, how, code) if "runtime" in how else
                   "  %s:\n    %s\n    working_dir: %s\n    timeout: 30" % (fn, how, code))
        cfg.append("    events:\n      - sqs: {queue: q-%s, batch_size: 1, enabled: false}" % fn)
    write(os.path.join(work, "sluice.yaml"), "\n".join(cfg) + "\n")

    ceiling = subprocess.run([ceiling_bin, "20000"], check=True, capture_output=True, text=True).stdout
    c = dict(kv.split("=") for kv in ceiling.split()[1:])
    ceil_rate = int(c["trips"]) / (int(c["duration_us"]) / 1e6)

    py_bare = bare_start_ms(["python3", "-c", "pass"])
    node_bare = bare_start_ms(["node", "-e", "0"])

    proc = subprocess.Popen([sluice_bin, "serve", "--config", os.path.join(work, "sluice.yaml"), "--listen",
                             "127.0.0.1:0", "--data-dir", data, "--log-level", "warn"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        m = re.search(r"sluice listening on (http://\S+)", line)
        if m:
            url = m.group(1)
            break
    if not url:
        proc.kill()
        fail("sluice did not start")
    try:
        s = Sluice(url)
        res = {}
        # Invokes first, one at a time: the first is the instance's cold
        # start, alone on the machine.
        for fn in ("py", "node"):
            print("  %-10s %d warm Invokes ..." % (fn, SAMPLES), file=sys.stderr)
            over, rtt = overhead(s, fn)
            res[fn + ".over50"], res[fn + ".over99"] = pct(over, 50), pct(over, 99)
            res[fn + ".rtt50"], res[fn + ".rtt99"] = pct(rtt, 50), pct(rtt, 99)
            res[fn + ".init"] = init_ms(os.path.join(data, "logs", fn + ".log"))
        for fn in ("py", "node", "py-exec", "node-exec"):
            print("  %-10s draining %d messages at batch size 1 ..." % (fn, MSGS[fn]), file=sys.stderr)
            res[fn + ".rate"], res[fn + ".secs"] = drain(s, "q-" + fn, fn, MSGS[fn])
    finally:
        proc.terminate()
        proc.wait(10)

    print()
    print("Runtimes: one no-op handler, SQS mapping at batch size 1 (concurrency 5), Invoke one at a time, loopback")
    print()
    print("%-34s %12s %12s" % ("path", "invocations/s", "vs exec"))
    for fn, base in (("py", "py-exec"), ("node", "node-exec"), ("py-exec", None), ("node-exec", None)):
        ratio = "%.1fx" % (res[fn + ".rate"] / res[base + ".rate"]) if base else "-"
        print("%-34s %12.0f %12s" % ({"py": "python3.11 runtime (warm)", "node": "nodejs20.x runtime (warm)",
                                       "py-exec": "exec, same Python handler",
                                       "node-exec": "exec, same Node.js handler"}[fn], res[fn + ".rate"], ratio))
    print("%-34s %12.0f %12s" % ("ceiling: pipe echo, 1 at a time", ceil_rate, "-"))
    print()
    for fn, name, bare in (("py", "python3.11", py_bare), ("node", "nodejs20.x", node_bare)):
        print("%s warm overhead (request written -> handler start): p50 %.3f ms, p99 %.3f ms "
              "(target p50 < 1 ms); Invoke round trip p50 %.3f ms, p99 %.3f ms; ceiling round trip p50 %s us"
              % (name, res[fn + ".over50"], res[fn + ".over99"], res[fn + ".rtt50"], res[fn + ".rtt99"],
                 c["p50_us"]))
        print("%s cold start: Init Duration %.1f ms; the bare interpreter starts and exits in %.1f ms"
              % (name, res[fn + ".init"], bare))
    for fn in ("py", "node"):
        ratio = res[fn + ".rate"] / res[fn + "-exec.rate"]
        print("%s warm / exec = %.1fx (%s the 20x target)" % (fn, ratio, "meets" if ratio >= 20 else "BELOW"))
    kv = " ".join("%s=%.3f" % (k.replace(".", "_").replace("-", "_"), v) for k, v in sorted(res.items()))
    print("BENCH %s ceiling_rate=%.0f ceiling_p50_us=%s py_bare_ms=%.1f node_bare_ms=%.1f"
          % (kv, ceil_rate, c["p50_us"], py_bare, node_bare))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
