#!/usr/bin/env python3
"""The depth suite of scripts/bench (`scripts/bench --depth-only`): what each
call costs when queues are deep. Not a test.

  depth_bench.py SLUICE_BIN CEILING_BIN WORKDIR

1. A fresh sluice creates the queues, then stops; the backlogs are written
   straight into its database (Python's sqlite3, rows shaped as SendMessage
   writes them), which takes seconds where sending would take minutes:
     d0         standard, empty           d100k   100,000 visible
     d1m        1,000,000 visible          inflight 100,000 received, hidden 1 h
     delayed    200,000 delayed 15 min     fifo.fifo, consume.fifo 100,000 in 10,000 groups
     m0000..m0999  empty, for SendMessage spread over 1,000 queues
2. sluice starts again on that database (the start-up time is reported: it
   rebuilds each queue's counts).
3. Per queue, one keep-alive connection times BENCH_DEPTH_CALLS (default
   1000) sequential calls of each of SendMessage, ReceiveMessage
   (MaxNumberOfMessages 1, VisibilityTimeout 600) and GetQueueAttributes
   (All): p50 and p99, after as many sends to another queue as a warm-up (the
   first commits checkpoint the WAL of the prefill). Meanwhile a second
   process sends GET /_sluice/health
   back to back; its slowest answer in each window is the longest stall seen
   by a client (one callback holding the loop delays every request behind
   it; on a busy machine also the scheduler's delays). sluice itself logs
   every SQS callback of 10 ms or more ("slow loop callback": an action, a
   commit, the sweep); the slowest in each window is reported beside it.
4. wrk (BENCH_DEPTH_SECONDS, default 5 s, BENCH_CONNECTIONS connections):
   a FIFO consumer (recvdel.lua: ReceiveMessage 10 + DeleteMessageBatch) on
   consume.fifo (untouched by step 3); SendMessage on one queue, spread over 1,000 queues
   (send_many.lua), and the ceiling (a bare libevent server answering 200).

Prints tables and one "BENCH key=value ..." line.
"""
import http.client
import json
import multiprocessing
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
CALLS = int(os.environ.get("BENCH_DEPTH_CALLS", "1000"))
SECONDS = int(os.environ.get("BENCH_DEPTH_SECONDS", "5"))
# SendMessage on one queue and over 1,000 queues, run in this many
# alternating pairs (the median of the pairs' ratios is reported: single
# runs of the same binary moved by tens of percent on this machine)
PAIRS = max(1, int(os.environ.get("BENCH_DEPTH_PAIRS", "3")))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
BODY = "0123456789" * 10
MD5_BODY = "b3e3e4a7e6a9e3f6e0a8c1f9d6c0c2a1"  # any 32 hex digits: never checked on receive
ACCOUNT = "000000000000"


def fail(msg):
    print(f"depth_bench: {msg}", file=sys.stderr)
    sys.exit(1)


def start(sluice, data_dir):
    """Starts sluice; returns (process, base URL, seconds until it listened)."""
    t0 = time.monotonic()
    err = open(os.path.join(os.path.dirname(data_dir), "sluice.err"), "a")
    p = subprocess.Popen([sluice, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir],
                         stdout=subprocess.PIPE, stderr=err, text=True)
    err.close()
    deadline = t0 + 120
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            with open(os.path.join(os.path.dirname(data_dir), "sluice.err")) as f:
                tail = f.read()[-1500:]
            fail("sluice exited before listening; its stderr ends with:\n" + tail)
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if m:
            # keep reading what it prints, so a full pipe never blocks it
            threading.Thread(target=p.stdout.read, daemon=True).start()
            return p, m.group(1), time.monotonic() - t0
    p.kill()
    fail("sluice did not start")


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


class Client:
    def __init__(self, url):
        host, port = url.split("//")[1].split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)

    def sqs(self, action, params):
        body = json.dumps(params)
        self.conn.request("POST", "/", body=body, headers={
            "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS." + action})
        r = self.conn.getresponse()
        data = r.read()
        if r.status != 200:
            fail(f"{action}: HTTP {r.status} {data[:200]!r}")
        return json.loads(data) if data else {}


def fill(db_path, ids, now_ms):
    """Writes the backlogs into the stopped sluice's database."""
    db = sqlite3.connect(db_path)
    cols = ("queue_id, message_id, body, md5_body, sender_id, sent_ms, visible_ms, expires_ms, receive_count, "
            "first_receive_ms, group_id, dedup_id, sequence_number")
    sql = f"INSERT INTO messages({cols}) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)"
    keep = 4 * 86400 * 1000

    def rows(queue, n, visible, rc, grouped=False):
        for i in range(n):
            sent = now_ms - n + i
            g = f"group-{i % 10000}" if grouped else None
            yield (ids[queue], str(uuid.UUID(int=i + 1, version=4)), BODY, MD5_BODY, ACCOUNT, sent, visible,
                   sent + keep, rc, sent if rc else 0, g, f"d{i}" if grouped else None,
                   f"{i + 1:020d}" if grouped else None)

    db.execute("BEGIN")
    db.executemany(sql, rows("d100k", 100_000, now_ms - 1, 0))
    db.executemany(sql, rows("d1m", 1_000_000, now_ms - 1, 0))
    db.executemany(sql, rows("inflight", 100_000, now_ms + 3_600_000, 1))
    db.executemany(sql, rows("delayed", 200_000, now_ms + 900_000, 0))
    db.executemany(sql, rows("fifo.fifo", 100_000, now_ms - 1, 0, grouped=True))
    db.executemany(sql, rows("consume.fifo", 100_000, now_ms - 1, 0, grouped=True))
    if db.execute("SELECT 1 FROM sqlite_master WHERE name='ready'").fetchone():
        # each row's entries, as sluice writes them once settled (docs/architecture.md,
        # "Pending entries"); else the restart would settle 1.6M rows
        db.execute("INSERT OR IGNORE INTO ready SELECT queue_id, visible_ms, seq FROM messages")
        db.execute("INSERT OR IGNORE INTO expiry SELECT queue_id, expires_ms, seq FROM messages")
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('settled_seq', (SELECT max(seq) FROM messages))")
    db.execute("COMMIT")
    db.close()


def probe(url, out_path, stop_evt):
    """GET /_sluice/health back to back; writes 'start_s rtt_s' for every
    answer slower than 1 ms."""
    host, port = url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    with open(out_path, "w") as out:
        while not stop_evt.is_set():
            t0 = time.time()
            conn.request("GET", "/_sluice/health")
            conn.getresponse().read()
            rtt = time.time() - t0
            if rtt > 0.001:
                out.write(f"{t0:.6f} {rtt:.6f}\n")
            time.sleep(0.0005)


def slow_callbacks(err_path):
    """(epoch s, ms, what) of each "slow loop callback" sluice logged."""
    out = []
    pat = re.compile(r"^(\S+)Z \w+\s+msg=\"slow loop callback\" what=(\S+) detail=(\S+) ms=([\d.]+)")
    with open(err_path) as f:
        for line in f:
            m = pat.match(line)
            if m:
                t = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp()
                what = m.group(2) + ("" if m.group(3) == "-" else ":" + m.group(3))
                out.append((t, float(m.group(4)), what))
    return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))] if xs else 0.0


def timed(fn, n):
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
    return out


def wrk(url, script, args, label, tmp):
    cmd = ["timeout", "-k", "5", str(SECONDS + 30), "wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{SECONDS}s",
           "--timeout", "5s", "-s", os.path.join(HERE, script), url + "/", "--"] + args
    res = subprocess.run(cmd, capture_output=True, text=True)
    with open(os.path.join(tmp, label + ".wrk"), "w") as f:
        f.write(res.stdout + res.stderr)
    m = re.search(r"^BENCH (.*)$", res.stdout, re.M)
    if not m:
        fail(f"no BENCH line from wrk {label}: {res.stdout[-500:]} {res.stderr[-500:]}")
    r = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["errors"] = sum(r[k] for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout"))
    return r


def main():
    if len(sys.argv) != 4:
        fail("usage: depth_bench.py SLUICE_BIN CEILING_BIN WORKDIR")
    sluice, ceiling, work = sys.argv[1:]
    data = os.path.join(work, "data")
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data)

    # 1. queues, then the backlogs written into the stopped database
    p, url, _ = start(sluice, data)
    c = Client(url)
    names = ["d0", "d100k", "d1m", "inflight", "delayed"] + [f"m{i:04d}" for i in range(1000)]
    for n in names:
        c.sqs("CreateQueue", {"QueueName": n})
    for n in ("fifo.fifo", "consume.fifo"):
        c.sqs("CreateQueue", {"QueueName": n, "Attributes": {"FifoQueue": "true"}})
    stop(p)
    db_path = os.path.join(data, "sluice.db")
    if not os.path.exists(db_path):
        fail(f"no database at {db_path}")
    db = sqlite3.connect(db_path)
    ids = dict(db.execute("SELECT name, id FROM queues").fetchall())
    db.close()  # sluice holds its database exclusively: no other connection may stay open
    t0 = time.monotonic()
    fill(db_path, ids, int(time.time() * 1000))
    fill_s = time.monotonic() - t0
    print(f"backlogs written in {fill_s:.1f} s (1.6M rows)", file=sys.stderr)

    # 2. restart on the deep database
    p, url, start_s = start(sluice, data)
    qurl = lambda n: f"{url}/{ACCOUNT}/{n}"
    c = Client(url)
    stall_file = os.path.join(work, "stalls.txt")
    stop_evt = multiprocessing.Event()
    prober = multiprocessing.Process(target=probe, args=(url, stall_file, stop_evt))
    prober.start()

    # 3. latency per queue, after a warm-up (the first commits after the
    # restart checkpoint the WAL the backlog was written into)
    for i in range(CALLS):
        c.sqs("SendMessage", {"QueueUrl": qurl("m0999"), "MessageBody": BODY})
    results = {}
    windows = {}
    for name in ["d0", "d100k", "d1m", "inflight", "delayed", "fifo.fifo"]:
        u = qurl(name)
        fifo = name.endswith(".fifo")
        w0 = time.time()

        def send(i, u=u, fifo=fifo, name=name):
            params = {"QueueUrl": u, "MessageBody": BODY}
            if fifo:
                params["MessageGroupId"] = f"group-{i % 10000}"
                params["MessageDeduplicationId"] = f"bench-{name}-{i}"
            c.sqs("SendMessage", params)

        s = timed(send, CALLS)
        r = timed(lambda i: c.sqs("ReceiveMessage", {"QueueUrl": u, "MaxNumberOfMessages": 1,
                                                     "VisibilityTimeout": 600}), CALLS)
        g = timed(lambda i: c.sqs("GetQueueAttributes", {"QueueUrl": u, "AttributeNames": ["All"]}), CALLS)
        windows[name] = (w0, time.time())
        results[name] = {"send": s, "recv": r, "gqa": g}
        print(f"  {name}: done", file=sys.stderr)
    stop_evt.set()
    prober.join(timeout=10)
    stalls = []
    with open(stall_file) as f:
        for line in f:
            t, rtt = map(float, line.split())
            stalls.append((t, rtt))

    def worst(name):
        a, b = windows[name]
        return max([rtt for t, rtt in stalls if a <= t <= b] or [0.0])

    # 4. throughput runs
    wr = {}
    wr_windows = {}
    # on its own queue: fifo.fifo's latency run left 1,000 groups in flight
    t = time.time()
    wr["fifo_consumer"] = wrk(url, "recvdel.lua", [qurl("consume.fifo")], "fifo_consumer", work)
    wr_windows["fifo_consumer"] = [(t, time.time())]
    runs = {"send_one": [], "send_many": []}
    wr_windows["send_one"], wr_windows["send_many"] = [], []
    for k in range(PAIRS):
        for label in (("send_one", "send_many") if k % 2 == 0 else ("send_many", "send_one")):
            t = time.time()
            if label == "send_one":
                runs[label].append(wrk(url, "send.lua", [qurl("m0000")], f"send_one_{k}", work))
            else:
                runs[label].append(wrk(url, "send_many.lua", [f"{url}/{ACCOUNT}/m", "1000"], f"send_many_{k}", work))
            wr_windows[label].append((t, time.time()))
    pair_ratios = [m["rps"] / o["rps"] for o, m in zip(runs["send_one"], runs["send_many"])]
    # the pair with the median ratio stands for both
    mid = sorted(range(PAIRS), key=lambda i: pair_ratios[i])[PAIRS // 2]
    wr["send_one"], wr["send_many"] = runs["send_one"][mid], runs["send_many"][mid]
    stop(p)
    slow = slow_callbacks(os.path.join(work, "sluice.err"))

    def slowest(windows_):
        hits = [(ms_, what) for t, ms_, what in slow if any(a <= t <= b for a, b in windows_)]
        return max(hits) if hits else (0.0, "-")
    cp = subprocess.Popen([ceiling, "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    m = None
    while not m:
        line = cp.stdout.readline()
        if not line:
            fail("the ceiling server did not start")
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
    wr["ceiling"] = wrk(m.group(1), "send.lua", [qurl("m0000")], "ceiling", work)
    cp.terminate()
    cp.wait()

    # report
    ms = lambda x: x * 1000
    base = results["d0"]
    print()
    print(f"Depth: one keep-alive connection, {CALLS} sequential calls per action and queue; "
          f"ratios are p50 against the empty queue d0; restart on 1.6M rows took {start_s * 1000:.0f} ms")
    print()
    print(f"{'queue':<11} {'Send p50':>9} {'p99':>7} {'x':>5}  {'Recv p50':>9} {'p99':>7} {'x':>5}  "
          f"{'GQA p50':>8} {'p99':>7} {'x':>5}  {'stall ms':>8}  slowest SQS callback")
    line = {}
    for name, res in results.items():
        row = [f"{name:<11}"]
        for k in ("send", "recv", "gqa"):
            p50, p99 = pct(res[k], 50), pct(res[k], 99)
            ratio = p50 / pct(base[k], 50)
            row.append(f"{ms(p50):9.3f} {ms(p99):7.3f} {ratio:5.2f} ")
            key = name.replace(".fifo", "").replace("d0", "empty")
            line[f"{key}_{k}_p50_us"] = int(p50 * 1e6)
            line[f"{key}_{k}_p99_us"] = int(p99 * 1e6)
        row.append(f"{ms(worst(name)):8.2f}")
        sm, sw = slowest([windows[name]])
        row.append(f"  {sm:.1f} ms {sw}" if sm else "  none >= 10 ms")
        key = name.replace(".fifo", "").replace("d0", "empty")
        line[f"{key}_stall_us"] = int(worst(name) * 1e6)
        line[f"{key}_slowest_callback_us"] = int(sm * 1000)
        print(" ".join(row))
    print()
    fc = wr["fifo_consumer"]
    fifo_msgs = fc["received"] / (fc["duration_us"] / 1e6)
    print(f"FIFO consumer (wrk {THREADS}x{CONNECTIONS}, ReceiveMessage 10 + DeleteMessageBatch, {SECONDS} s, "
          f"100k messages in 10,000 groups): {fifo_msgs:.0f} msgs/s, p99 {fc['p99_us'] / 1000:.2f} ms, "
          f"errors {fc['errors']}, empty receives {fc['empty_receives']}")
    one, many, ceil = wr["send_one"], wr["send_many"], wr["ceiling"]
    print(f"SendMessage, wrk {THREADS}x{CONNECTIONS}, {SECONDS} s, {PAIRS} alternating pairs: 1,000 queues / one "
          f"queue = " + ", ".join(f"{100 * r:.0f}%" for r in pair_ratios) +
          f" (median {100 * pair_ratios[mid]:.0f}%: one queue {one['rps']:.0f} req/s, p99 "
          f"{one['p99_us'] / 1000:.2f} ms; 1,000 queues {many['rps']:.0f} req/s, p99 {many['p99_us'] / 1000:.2f} ms); "
          f"ceiling {ceil['rps']:.0f} req/s: one queue = {100 * one['rps'] / ceil['rps']:.0f}% of the ceiling")
    line["send_many_ratios"] = ",".join(f"{r:.3f}" for r in pair_ratios)
    for label, w in wr_windows.items():
        sm, sw = slowest(w)
        n = sum(1 for t, _, _ in slow if any(a <= t <= b for a, b in w))
        print(f"wrk {label}: {n} SQS callbacks of 10 ms or more, the slowest " +
              (f"{sm:.1f} ms ({sw})" if sm else "-"))
        line[f"{label}_slow_callbacks"] = n
        line[f"{label}_slowest_callback_us"] = int(sm * 1000)
    line.update({"restart_ms": int(start_s * 1000), "fifo_consumer_msgs_per_s": int(fifo_msgs),
                 "fifo_consumer_errors": fc["errors"], "send_one_rps": int(one["rps"]),
                 "send_many_rps": int(many["rps"]), "ceiling_rps": int(ceil["rps"]),
                 "send_one_p99_us": one["p99_us"], "send_many_p99_us": many["p99_us"],
                 "errors": one["errors"] + many["errors"] + fc["errors"]})
    print("BENCH " + " ".join(f"{k}={v}" for k, v in line.items()))


if __name__ == "__main__":
    main()
