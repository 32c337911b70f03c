#!/usr/bin/env python3
"""The Lambda part of scripts/bench: drives a running sluice over keep-alive
HTTP (JSON protocol, loopback) and prints one "BENCH key=value ..." line.

  lambda_bench.py throughput URL QUEUE FUNCTION MESSAGES LOG PID
      The function's mapping on QUEUE must start disabled. Fills QUEUE with
      MESSAGES 100-byte messages (SendMessageBatch), enables the mapping
      (UpdateEventSourceMapping), and times until ApproximateNumberOfMessages
      and ApproximateNumberOfMessagesNotVisible are both 0 (polled every
      50 ms). LOG is the function's log file: its REPORT lines count the
      invocations. PID is sluice's: the CPU time it used while draining,
      and that of the handlers it reaped, come from /proc/PID/stat; what
      all CPUs did over the same time (busy, idle, stolen) from /proc/stat.

  lambda_bench.py latency URL QUEUE CONTROL OUT COUNT
      The mapping on QUEUE runs scripts/bench.d/lambda_latency.c, which
      appends "<start ns> <n>" to OUT. Sends COUNT messages "lat-<n>" one at
      a time on an idle queue: takes the time (CLOCK_REALTIME) right after
      each SendMessage response is read, waits for the handler's line, then
      for the message to be deleted. latency = handler start - response;
      also handler start - the time just before the request was written.
      Also times SendMessage round trips (request written to response read)
      there and, first, on CONTROL, a queue without a mapping.

Standard library only. Exits 1 with a message on stderr if sluice answers
an error or the mapping stalls (no progress for STALL_S seconds).
"""
import http.client
import json
import math
import os
import sys
import time
import urllib.parse

BODY = "x" * 100          # as scripts/bench.d/common.lua
POLL_S = 0.05             # GetQueueAttributes interval while draining
STALL_S = 15              # no progress this long: give up
WARMUP = 5                # latency samples sent first and not counted


def fail(msg):
    print("lambda_bench: " + msg, file=sys.stderr)
    sys.exit(1)


class Sluice:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)

    def _do(self, method, path, body, headers):
        data = json.dumps(body).encode() if body is not None else None
        try:
            self.conn.request(method, path, body=data, headers=headers)
            r = self.conn.getresponse()
            raw = r.read()
        except (OSError, http.client.HTTPException) as e:
            fail("%s %s: %s" % (method, path, e))
        return r.status, raw

    def sqs(self, action, params, stamp=False):
        """One SQS call; with stamp, also the CLOCK_REALTIME ns at which the
        whole response had been read."""
        status, raw = self._do("POST", "/", params, {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "AmazonSQS." + action})
        t = time.clock_gettime_ns(time.CLOCK_REALTIME)
        if status != 200:
            fail("%s answered %d: %s" % (action, status, raw[:300]))
        out = json.loads(raw) if raw else {}
        return (out, t) if stamp else out

    def lam(self, method, path, body=None):
        status, raw = self._do(method, "/2015-03-31/" + path, body,
                               {"Content-Type": "application/json"})
        if status not in (200, 202):
            fail("%s /2015-03-31/%s answered %d: %s" % (method, path, status, raw[:300]))
        return json.loads(raw) if raw else {}

    def queue_url(self, name):
        return self.sqs("GetQueueUrl", {"QueueName": name})["QueueUrl"]

    def depth(self, qurl):
        a = self.sqs("GetQueueAttributes", {"QueueUrl": qurl, "AttributeNames": [
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]})["Attributes"]
        return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])

    def mapping(self, function, queue):
        q = urllib.parse.quote(function)
        found = self.lam("GET", "event-source-mappings/?FunctionName=" + q)["EventSourceMappings"]
        found = [m for m in found if m["EventSourceArn"].endswith(":" + queue)]
        if len(found) != 1:
            fail("expected one mapping from %s to %s, found %d" % (queue, function, len(found)))
        return found[0]


def count_reports(log):
    try:
        with open(log, "rb") as f:
            return sum(1 for line in f if b"REPORT RequestId:" in line)
    except FileNotFoundError:
        return 0


def cpu_ms(pid):
    """(sluice's user+system CPU, its reaped children's) in ms, or (-1, -1)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return -1.0, -1.0
    tick = os.sysconf("SC_CLK_TCK")
    # After the ")" of the command: field 3 (state) is index 0, so utime
    # (14), stime (15), cutime (16), cstime (17) are indices 11-14.
    own = (int(fields[11]) + int(fields[12])) * 1000.0 / tick
    children = (int(fields[13]) + int(fields[14])) * 1000.0 / tick
    return own, children


def machine_ticks():
    """(idle, steal, total) clock ticks of all CPUs from /proc/stat, or None."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice,
    # already counted in user and nice]
    return v[3] + v[4], v[7] if len(v) > 7 else 0, sum(v[:8])


def throughput(url, queue, function, messages, log, pid):
    s = Sluice(url)
    qurl = s.queue_url(queue)
    m = s.mapping(function, queue)
    if m["State"] != "Disabled":
        fail("mapping %s is %s; the config must start it disabled" % (m["UUID"], m["State"]))
    p0 = time.monotonic()
    for i in range(0, messages, 10):
        entries = [{"Id": str(k), "MessageBody": BODY} for k in range(min(10, messages - i))]
        out = s.sqs("SendMessageBatch", {"QueueUrl": qurl, "Entries": entries})
        if out.get("Failed"):
            fail("SendMessageBatch failed entries: %s" % out["Failed"][:3])
    visible, hidden = s.depth(qurl)
    if (visible, hidden) != (messages, 0):
        fail("after the prefill the queue holds %d visible, %d in flight; expected %d, 0"
             % (visible, hidden, messages))
    prefill_s = time.monotonic() - p0
    reports0 = count_reports(log)

    cpu0, m0 = cpu_ms(pid), machine_ticks()
    t0 = time.monotonic()
    s.lam("PUT", "event-source-mappings/" + m["UUID"], {"Enabled": True})
    last, last_change = messages, t0
    while True:
        time.sleep(POLL_S)
        visible, hidden = s.depth(qurl)
        now = time.monotonic()
        left = visible + hidden
        if left != last:
            last, last_change = left, now
        if left == 0:
            break
        if now - last_change > STALL_S:
            st = s.lam("GET", "event-source-mappings/" + m["UUID"])
            fail("mapping %s stalled: %d visible, %d in flight for %d s; State=%s "
                 "LastProcessingResult=%s" % (m["UUID"], visible, hidden, STALL_S,
                                              st.get("State"), st.get("LastProcessingResult")))
    t1 = time.monotonic()
    cpu1, m1 = cpu_ms(pid), machine_ticks()
    # Disable it again so the latency run has the machine to itself.
    s.lam("PUT", "event-source-mappings/" + m["UUID"], {"Enabled": False})
    # The last REPORT line is written as the child is reaped, just before the
    # delete that emptied the queue; give the log a moment to catch up.
    time.sleep(0.2)
    invocations = count_reports(log) - reports0
    known = cpu0[0] >= 0 and cpu1[0] >= 0
    busy = idle = steal = -1.0
    if m0 and m1 and m1[2] > m0[2]:
        ms = 1000.0 / os.sysconf("SC_CLK_TCK")
        idle = (m1[0] - m0[0]) * ms
        steal = (m1[1] - m0[1]) * ms
        busy = (m1[2] - m0[2]) * ms - idle - steal
    print("BENCH messages=%d duration_us=%d invocations=%d prefill_s=%.1f "
          "sluice_cpu_ms=%.0f handlers_cpu_ms=%.0f busy_cpu_ms=%.0f idle_cpu_ms=%.0f "
          "steal_cpu_ms=%.0f"
          % (messages, (t1 - t0) * 1e6, invocations, prefill_s,
             cpu1[0] - cpu0[0] if known else -1, cpu1[1] - cpu0[1] if known else -1,
             busy, idle, steal))


def wait_line(path, pos, deadline):
    """The next complete line of path after byte pos, and the new pos."""
    while True:
        try:
            with open(path, "rb") as f:
                f.seek(pos)
                data = f.readline()
        except FileNotFoundError:
            data = b""
        if data.endswith(b"\n"):
            return data.decode().split(), pos + len(data)
        if time.monotonic() > deadline:
            return None, pos
        time.sleep(0.0005)


def latency(url, queue, control, out, count):
    s = Sluice(url)
    qurl = s.queue_url(queue)
    # SendMessage's own round trip on a queue nothing consumes, for
    # comparison with the round trips below (a waiting mapping spawns its
    # handler in the loop turn of the send).
    curl = s.queue_url(control)
    idle = []
    for n in range(WARMUP + count // 2):
        t = time.clock_gettime_ns(time.CLOCK_REALTIME)
        _, t_resp = s.sqs("SendMessage", {"QueueUrl": curl, "MessageBody": BODY}, stamp=True)
        if n >= WARMUP:
            idle.append((t_resp - t) / 1e6)
        time.sleep(0.002)
    pos = os.path.getsize(out) if os.path.exists(out) else 0
    samples, from_send, rtts = [], [], []
    for n in range(WARMUP + count):
        visible, hidden = s.depth(qurl)
        if visible or hidden:
            fail("queue %s is not idle before message %d (%d visible, %d in flight)"
                 % (queue, n, visible, hidden))
        body = "lat-%d" % n
        sent = time.clock_gettime_ns(time.CLOCK_REALTIME)
        _, t_resp = s.sqs("SendMessage", {"QueueUrl": qurl, "MessageBody": body}, stamp=True)
        fields, pos = wait_line(out, pos, time.monotonic() + 10)
        if fields is None:
            fail("the handler did not start within 10 s of message %d" % n)
        if len(fields) != 2 or fields[1] != str(n):
            fail("handler line %r does not belong to message %d" % (fields, n))
        if n >= WARMUP:
            samples.append((int(fields[0]) - t_resp) / 1e6)
            from_send.append((int(fields[0]) - sent) / 1e6)
            rtts.append((t_resp - sent) / 1e6)
        # Idle again: wait for the mapping to delete it, then settle.
        deadline = time.monotonic() + 10
        while s.depth(qurl) != (0, 0):
            if time.monotonic() > deadline:
                fail("message %d was not deleted within 10 s" % n)
            time.sleep(0.002)
        time.sleep(0.01)

    def pct(xs, p):  # nearest rank
        xs = sorted(xs)
        return xs[max(0, math.ceil(p / 100.0 * len(xs)) - 1)]

    print("BENCH samples=%d p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f min_ms=%.3f "
          "from_send_p50_ms=%.3f from_send_p99_ms=%.3f "
          "send_p50_ms=%.3f send_p99_ms=%.3f send_idle_p50_ms=%.3f send_idle_p99_ms=%.3f"
          % (len(samples), pct(samples, 50), pct(samples, 90), pct(samples, 99), max(samples),
             min(samples), pct(from_send, 50), pct(from_send, 99),
             pct(rtts, 50), pct(rtts, 99), pct(idle, 50), pct(idle, 99)))


def main(argv):
    if len(argv) == 8 and argv[1] == "throughput":
        throughput(argv[2], argv[3], argv[4], int(argv[5]), argv[6], int(argv[7]))
    elif len(argv) == 7 and argv[1] == "latency":
        latency(argv[2], argv[3], argv[4], argv[5], int(argv[6]))
    else:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
