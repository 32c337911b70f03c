"""Traces through the queue, through real clients: an API request, its
message and each invocation are one chain that `sluice trace` and
GET /_sluice/traces[/ID] show hop by hop (success, handler error, timeout,
partial batch failure, retry, dead-letter queue, move-task redrive), found
by trace id, API request id, message id or Lambda request id; a batch's
records keep their own trace ids; --failed, --dead-lettered and --slow list
recent chains; --data-dir reads a stopped sluice. The config is
tests/e2e/traces.yaml with tests/e2e/handlers/traces_app.py on the python
runtime."""
import json
import re
import shutil
import sqlite3
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from sluice_helpers import (
    E2E_DIR, PrivateServer, http_call, queue_arn, read_json_lines, sluice_binary, wait_until,
)

pytestmark = pytest.mark.timeout(90)

CALLER_ROOT = "1-5759e988-bd862e3fe1be46a994272793"
ROOT_RE = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")


class Env:
    def __init__(self, server, folder):
        self.server = server
        self.sqs = server.sqs
        self.front = server.apis["front"]
        self.folder = folder

    def records(self):
        return read_json_lines(self.folder / "records" / "traces.jsonl")

    def cli(self, *args, endpoint=True):
        argv = [str(sluice_binary()), "trace", *args]
        if endpoint:
            argv += ["--endpoint", self.server.endpoint]
        return subprocess.run(argv, capture_output=True, text=True, timeout=30)

    def chain(self, trace_or_id):
        out = self.cli(trace_or_id, "--json")
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def get(self, path):
        try:
            with urllib.request.urlopen(self.server.endpoint + path, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def post_order(self, body, trace=None):
        headers = {"Content-Type": "application/json"}
        if trace:
            headers["X-Amzn-Trace-Id"] = trace
        out = http_call(self.front, "POST", "/orders", body=json.dumps(body), headers=headers)
        assert out.status == 200, out
        msg_id = re.search(r"<MessageId>([^<]+)</MessageId>", out.text).group(1)
        return msg_id, out.header("x-amzn-RequestId")

    def wait_chain(self, msg_id, done, timeout=20):
        """The message's chain once done(kinds) holds."""
        def ready():
            status, c = self.get(f"/_sluice/traces/{msg_id}")
            return c if status == 200 and done([h["kind"] for h in c["hops"]]) else None
        got = wait_until(ready, timeout=timeout, interval=0.2)
        assert got, f"chain of {msg_id} never completed: {self.get(f'/_sluice/traces/{msg_id}')}"
        return got


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("traces")
    (folder / "code").mkdir()
    (folder / "records").mkdir()
    shutil.copy(E2E_DIR / "handlers" / "traces_app.py", folder / "code" / "traces_app.py")
    config = folder / "sluice.yaml"
    config.write_text((E2E_DIR / "traces.yaml").read_text())
    server = PrivateServer(sluice_binary(), folder / "server", config_path=config)
    try:
        yield Env(server, folder)
    finally:
        code, graceful = server.stop()
        assert graceful and code == 0, f"sluice stopped with code {code}:\n{server.process.log()}"


def kinds(chain):
    return [h["kind"] for h in chain["hops"]]


def hop(chain, kind, n=0):
    return [h for h in chain["hops"] if h["kind"] == kind][n]


def test_success_chain_and_every_kind_of_id(env):
    msg_id, api_rid = env.post_order({"mode": "ok"}, trace=f"Root={CALLER_ROOT};Parent=53995c3f42cd8ad8;Sampled=1")
    chain = env.wait_chain(msg_id, lambda k: "delete" in k)
    assert kinds(chain) == ["api", "send", "receive", "invoke", "delete"]
    assert chain["trace_ids"] == [CALLER_ROOT]
    assert chain["failed"] is False and chain["dead_lettered"] is False
    offsets = [h["offset_ms"] for h in chain["hops"]]
    assert offsets[0] == 0 and offsets == sorted(offsets)
    api = hop(chain, "api")
    assert api["request_id"] == api_rid and api["status"] == 200 and api["route"] == "POST /orders"
    assert api["message_id"] == msg_id
    # The send hop the gateway records with its own (one record): what
    # SendMessage recorded itself.
    send = hop(chain, "send")
    assert send["queue"] == "tr-in" and send["action"] == "SendMessage"
    assert send["trace_id"] == CALLER_ROOT and send["message_id"] == msg_id
    assert send["aws_trace_header"] == f"Root={CALLER_ROOT}"
    assert hop(chain, "receive")["receive_count"] == 1 and hop(chain, "receive")["receiver"].startswith("mapping ")
    inv = hop(chain, "invoke")
    assert inv["function"] == "tr-work" and inv["outcome"] == "success" and inv["message_ids"] == [msg_id]
    assert inv["log_stream"].startswith(tuple("0123456789"))
    # A batch of one record carries on its trace: the handler saw it.
    rec = next(r for r in env.records() if r["requestId"] == inv["request_id"])
    assert rec["trace"].startswith(f"Root={CALLER_ROOT}")
    assert inv["trace_header"] == rec["trace"]
    # The same chain by the trace id, the API request id, the message id
    # and the Lambda request id, and with a whole header.
    for any_id in (CALLER_ROOT, api_rid, msg_id, inv["request_id"], f"Root={CALLER_ROOT};Sampled=1"):
        assert env.chain(any_id)["hops"] == chain["hops"], any_id
    # Text: one hop a line with +ms times, then the invocation's log lines.
    out = env.cli(msg_id)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert CALLER_ROOT in lines[0] and "5 hops" in lines[0]
    hop_lines = lines[1:6]
    assert [ln.split()[1] for ln in hop_lines] == ["api", "send", "receive", "invoke", "delete"]
    assert all(re.match(r"^\+\d+ms ", ln) for ln in hop_lines)
    at = lines.index(f"log lines of tr-work request_id={inv['request_id']}:")
    assert f"  record {msg_id} mode=ok" in lines[at + 1:]
    # The JSON's invocation carries the same lines (START .. REPORT too).
    logs = [entry["message"] for entry in inv["logs"]]
    assert f"record {msg_id} mode=ok" in logs
    assert any(m.startswith(f"START RequestId: {inv['request_id']}") for m in logs)
    assert any(m.startswith(f"REPORT RequestId: {inv['request_id']}") for m in logs)
    assert all(entry["stream"] == inv["log_stream"] for entry in inv["logs"])


def test_lambda_route_is_one_chain(env):
    out = http_call(env.front, "POST", "/direct", body="{}",
                    headers={"Content-Type": "application/json", "X-Amzn-Trace-Id": "Root=1-5759e988-00000000000000000000beef"})
    assert out.status == 200, out
    api_rid = out.header("x-amzn-RequestId")
    chain = env.chain(api_rid)
    assert kinds(chain) == ["api", "invoke"]
    assert chain["trace_ids"] == ["1-5759e988-00000000000000000000beef"]
    inv = hop(chain, "invoke")
    assert inv["outcome"] == "success" and "message_ids" not in inv
    assert inv["trace_header"].startswith("Root=1-5759e988-00000000000000000000beef")
    assert env.chain(inv["request_id"])["hops"] == chain["hops"]


def test_handler_error_retries_then_dead_letters(env):
    msg_id, _ = env.post_order({"mode": "error"})
    chain = env.wait_chain(msg_id, lambda k: "dead_letter" in k)
    assert kinds(chain) == ["api", "send", "receive", "invoke", "retry", "receive", "invoke", "retry", "dead_letter"]
    assert len(chain["trace_ids"]) == 1 and ROOT_RE.match(chain["trace_ids"][0])
    assert chain["failed"] is True and chain["dead_lettered"] is True
    for n in (0, 1):
        inv = hop(chain, "invoke", n)
        assert inv["outcome"] == "error" and inv["error_type"] == "RuntimeError"
        assert msg_id in inv["error_message"]
        assert hop(chain, "receive", n)["receive_count"] == n + 1
        assert hop(chain, "retry", n)["reason"] == "error" and hop(chain, "retry", n)["visibility_timeout"] == 1
    dl = hop(chain, "dead_letter")
    assert dl["queue"] == "tr-in" and dl["dlq"] == "tr-dlq" and dl["receive_count"] == 2
    # A move task sends it back: the chain goes on.
    # (Debian's boto3 1.26 has no StartMessageMoveTask: the query protocol.)
    form = urllib.parse.urlencode({"Action": "StartMessageMoveTask", "Version": "2012-11-05",
                                   "SourceArn": queue_arn("tr-dlq"), "DestinationArn": queue_arn("tr-redrive")})
    out = http_call(env.server.endpoint, "POST", "/", body=form,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert out.status == 200, out
    task = {"TaskHandle": re.search(r"<TaskHandle>([^<]+)</TaskHandle>", out.text).group(1)}
    chain = env.wait_chain(msg_id, lambda k: "redrive" in k)
    rd = hop(chain, "redrive")
    assert kinds(chain)[-1] == "redrive"
    assert rd["source"] == "tr-dlq" and rd["dest"] == "tr-redrive" and rd["task"] == task["TaskHandle"]


def test_timeout_is_an_invocation_outcome(env):
    msg_id, _ = env.post_order({"mode": "sleep"})
    chain = env.wait_chain(msg_id, lambda k: "retry" in k)
    # (The 1 s visibility ends with the 1 s timeout: the next receive may
    # come before the retry hop is recorded.)
    assert kinds(chain)[:4] == ["api", "send", "receive", "invoke"] and "retry" in kinds(chain)[4:6]
    inv = hop(chain, "invoke")
    assert inv["outcome"] == "timeout" and inv["error_type"] == "Sandbox.Timedout"
    assert inv["duration_ms"] >= 1000
    assert hop(chain, "retry")["reason"] == "timeout"


def test_partial_batch_failure_keeps_each_records_trace(env):
    url = env.sqs.get_queue_url(QueueName="tr-batch")["QueueUrl"]
    own = "1-6b10f1bd-418f9b30d4406846906c607c"
    entries = [
        {"Id": "a", "MessageBody": json.dumps({"mode": "ok"}),
         "MessageSystemAttributes": {"AWSTraceHeader": {"DataType": "String", "StringValue": f"Root={own};Sampled=1"}}},
        {"Id": "b", "MessageBody": json.dumps({"mode": "fail"})},
        {"Id": "c", "MessageBody": json.dumps({"mode": "ok"})},
    ]
    sent = env.sqs.send_message_batch(QueueUrl=url, Entries=entries)
    ids = {e["Id"]: e["MessageId"] for e in sent["Successful"]}
    chains = {k: env.wait_chain(m, lambda ks: "retry" in ks or "delete" in ks) for k, m in ids.items()}
    traces = {k: c["trace_ids"] for k, c in chains.items()}
    assert all(len(t) == 1 for t in traces.values()), traces
    assert traces["a"] == [own]
    assert len({t[0] for t in traces.values()}) == 3, traces
    invs = {k: hop(c, "invoke") for k, c in chains.items()}
    rid = invs["a"]["request_id"]
    assert all(i["request_id"] == rid for i in invs.values()), "one invocation for the batch"
    assert invs["a"]["outcome"] == "partial_failure" and invs["a"]["failed_message_ids"] == [ids["b"]]
    assert sorted(invs["a"]["message_ids"]) == sorted(ids.values())
    kb = kinds(chains["b"])
    assert kb[:4] == ["send", "receive", "invoke", "retry"] and hop(chains["b"], "retry")["reason"] == "partial"
    assert "delete" not in kb
    assert kinds(chains["a"]) == ["send", "receive", "invoke", "delete"]
    assert kinds(chains["c"]) == ["send", "receive", "invoke", "delete"]
    # The handler saw its own trace for the batch, and each record's header
    # only where the sender gave one: sluice adds none.
    rec = next(r for r in env.records() if r["requestId"] == rid)
    assert rec["trace"] == invs["a"]["trace_header"]
    root = re.match(r"Root=(1-[0-9a-f]{8}-[0-9a-f]{24});Parent=[0-9a-f]{16};Sampled=0$", rec["trace"]).group(1)
    assert root not in {t[0] for t in traces.values()}
    headers = {r["messageId"]: r["awsTraceHeader"] for r in rec["records"]}
    assert headers == {ids["a"]: f"Root={own};Sampled=1", ids["b"]: None, ids["c"]: None}
    # By the Lambda request id (or the batch's own trace, then listed too):
    # all three records.
    for any_id, extra in ((rid, []), (root, [root])):
        c = env.chain(any_id)
        assert sorted(c["trace_ids"]) == sorted([t[0] for t in traces.values()] + extra)
        assert {h["message_id"] for h in c["hops"] if h["kind"] == "send"} == set(ids.values())
    # The failing record's own trace is listed as failed.
    status, listed = env.get("/_sluice/traces?failed=1&limit=100")
    assert status == 200 and traces["b"][0] in [t["trace_id"] for t in listed["traces"]]


def test_lists_of_recent_chains(env):
    ok_id, _ = env.post_order({"mode": "ok"})
    bad_id, _ = env.post_order({"mode": "error"})
    ok = env.wait_chain(ok_id, lambda k: "delete" in k)["trace_ids"][0]
    bad = env.wait_chain(bad_id, lambda k: "dead_letter" in k)["trace_ids"][0]

    def listed(*args):
        out = env.cli(*args, "--limit", "100", "--json")
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        for t in doc["traces"]:
            assert set(t) >= {"trace_id", "start_ms", "duration_ms", "hops", "failed", "dead_lettered", "first"}
        return {t["trace_id"]: t for t in doc["traces"]}

    failed = listed("--failed")
    assert bad in failed and ok not in failed and failed[bad]["failed"] is True
    dead = listed("--dead-lettered")
    assert bad in dead and ok not in dead and dead[bad]["dead_lettered"] is True
    slow = listed("--slow", "1500")
    assert bad in slow and ok not in slow and slow[bad]["duration_ms"] >= 1500
    assert failed[bad]["first"] == "api POST /orders" and failed[bad]["hops"] == 9
    # The same over HTTP, and as text: one chain a line.
    status, doc = env.get("/_sluice/traces?dead_lettered=1&limit=100")
    assert status == 200 and bad in [t["trace_id"] for t in doc["traces"]]
    out = env.cli("--dead-lettered")
    assert out.returncode == 0 and any(ln.startswith(bad) and "dead-lettered" in ln for ln in out.stdout.splitlines())


def test_unknown_ids_and_bad_arguments(env):
    out = env.cli("no-such-id")
    assert out.returncode == 1 and "no trace, request or message with id 'no-such-id'" in out.stderr
    status, doc = env.get("/_sluice/traces/no-such-id")
    assert status == 404 and "no-such-id" in doc["error"]
    status, doc = env.get("/_sluice/traces?slow_ms=soon")
    assert status == 400
    for args in ([], ["--slow"], ["--slow", "x"], ["--bogus"], ["a", "b"], ["a", "--failed"],
                 ["a", "--endpoint", "http://x:1", "--data-dir", "/tmp"], ["--limit", "5"]):
        out = env.cli(*args, endpoint=False)
        assert out.returncode == 2, (args, out)
        assert "usage: sluice trace" in out.stderr
    out = subprocess.run(
        [str(sluice_binary()), "trace", "x", "--endpoint", "http://127.0.0.1:9"], capture_output=True, text=True,
        timeout=30)
    assert out.returncode == 1 and "cannot reach sluice" in out.stderr


def test_data_dir_of_a_stopped_sluice(tmp_path):
    """An SDK's message with no AWSTraceHeader: sluice makes a trace id and
    keeps it to itself; the chain is readable after the server stopped."""
    server = PrivateServer(sluice_binary(), tmp_path / "s", config="queues:\n  plain: {}\n")
    try:
        url = server.sqs.get_queue_url(QueueName="plain")["QueueUrl"]
        msg_id = server.sqs.send_message(QueueUrl=url, MessageBody="hello")["MessageId"]
        got = server.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, AttributeNames=["All"])
        m = got["Messages"][0]
        assert "AWSTraceHeader" not in m.get("Attributes", {})
        server.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    finally:
        code, graceful = server.stop()
        assert graceful and code == 0
    data_dir = str(tmp_path / "s" / "data")
    out = subprocess.run([str(sluice_binary()), "trace", msg_id, "--data-dir", data_dir, "--json"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    chain = json.loads(out.stdout)
    assert kinds(chain) == ["send", "receive", "delete"]
    assert ROOT_RE.match(chain["trace_ids"][0])
    assert "aws_trace_header" not in hop(chain, "send")
    assert hop(chain, "receive")["receiver"] == "ReceiveMessage" and hop(chain, "delete")["by"] == "DeleteMessage"
    # By its trace id too, as text.
    out = subprocess.run([str(sluice_binary()), "trace", chain["trace_ids"][0], "--data-dir", data_dir],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and [ln.split()[1] for ln in out.stdout.splitlines()[1:4]] == [
        "send", "receive", "delete"]
    out = subprocess.run([str(sluice_binary()), "trace", "nope", "--data-dir", data_dir],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "no trace, request or message with id 'nope'" in out.stderr
    out = subprocess.run([str(sluice_binary()), "trace", "nope", "--data-dir", str(tmp_path / "none")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "observe.db" in out.stderr


def test_data_dir_of_an_older_sluice_is_moved_into_segments_once(tmp_path):
    """An observe.db of the sluice before segments (hops a row each in
    trace_hops, a batch's records in trace_links): `sluice trace --data-dir`
    (read-only) says to start sluice on it; once started, the old hops are
    in segments, the old tables gone, and every chain and list reads as
    before, from the running sluice and from the data directory."""
    data = tmp_path / "s" / "data"
    data.mkdir(parents=True)
    now = int(time.time() * 1000)
    trace, mid, rid = CALLER_ROOT, "6f0c8f3e-0000-4000-8000-0000000000aa", "0b5d6a52-0000-4000-8000-0000000000bb"
    db = sqlite3.connect(str(data / "observe.db"))
    db.executescript(
        "CREATE TABLE trace_hops (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, kind TEXT NOT NULL,"
        " trace_id TEXT, message_id TEXT, request_id TEXT, failed INTEGER NOT NULL DEFAULT 0,"
        " duration_ms REAL, a TEXT, b TEXT, c TEXT, d TEXT, e TEXT, f TEXT, n INTEGER,"
        " th INTEGER, mh INTEGER, rh INTEGER);"
        "CREATE VIEW trace_sends AS SELECT message_id, trace_id, ts_ms FROM trace_hops WHERE kind = 'send';"
        "CREATE TABLE trace_links (request_id TEXT NOT NULL, message_id TEXT NOT NULL, failed INTEGER NOT NULL,"
        " outcome TEXT, ts_ms INTEGER NOT NULL);"
        "CREATE TABLE trace_marks (at_ms INTEGER PRIMARY KEY, max_id INTEGER NOT NULL);")
    rows = [
        (now - 900, "api", trace, mid, "api-req-1", 0, 3.5, "front", "POST /orders", "POST", "/orders", None, None, 200),
        (now - 899, "send", trace, mid, None, 0, None, "tr-in", "SendMessage", f"Root={trace}", None, None, None, None),
        (now - 800, "receive", trace, mid, None, 0, None, "tr-in", "mapping u", None, None, None, None, 1),
        (now - 790, "invoke", "1-6b10f1bd-418f9b30d4406846906c607c", None, rid, 1, 20.0, "tr-work", "stream",
         "error", "RuntimeError", "boom", "Root=1-6b10f1bd-418f9b30d4406846906c607c;Parent=0123456789abcdef",
         None),
        (now - 760, "retry", trace, mid, rid, 1, None, "tr-in", "tr-work", "error", None, None, None, 1),
        (now - 100, "dead_letter", trace, mid, None, 1, None, "tr-in", "tr-dlq", None, None, None, None, 2),
    ]
    db.executemany("INSERT INTO trace_hops (ts_ms, kind, trace_id, message_id, request_id, failed, duration_ms,"
                   " a, b, c, d, e, f, n) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.execute("INSERT INTO trace_links VALUES (?, ?, 1, 'error', ?)", (rid, mid, now - 770))
    db.commit()
    db.close()

    def cli(*args):
        return subprocess.run([str(sluice_binary()), "trace", *args, "--data-dir", str(data)],
                              capture_output=True, text=True, timeout=30)

    out = cli(mid)
    assert out.returncode == 1 and "older sluice" in out.stderr and "start this sluice" in out.stderr
    server = PrivateServer(sluice_binary(), tmp_path / "s", config="queues:\n  plain: {}\n")
    try:
        status, chain = _get(server, f"/_sluice/traces/{rid}")
        assert status == 200
        assert kinds(chain) == ["api", "send", "receive", "invoke", "retry", "dead_letter"]
        assert chain["trace_ids"] == [trace] and chain["dead_lettered"] is True
        inv = hop(chain, "invoke")
        assert inv["message_ids"] == [mid] and inv["error_type"] == "RuntimeError" and inv["duration_ms"] == 20.0
        status, listed = _get(server, "/_sluice/traces?dead_lettered=1")
        assert status == 200 and [t["trace_id"] for t in listed["traces"]] == [trace]
        assert listed["traces"][0]["hops"] == 5 and listed["traces"][0]["first"] == "api POST /orders"
        status, listed = _get(server, "/_sluice/traces?failed=1")
        assert [t["trace_id"] for t in listed["traces"]] == [trace], "a batch invocation's own trace is not listed"
    finally:
        code, graceful = server.stop()
        assert graceful and code == 0
    db = sqlite3.connect(str(data / "observe.db"))
    try:
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    finally:
        db.close()
    assert "trace_segs" in names and not names & {"trace_hops", "trace_links", "trace_marks", "trace_sends"}
    for any_id in (trace, mid, "api-req-1", rid):
        out = cli(any_id, "--json")
        assert out.returncode == 0, out.stderr
        assert kinds(json.loads(out.stdout)) == ["api", "send", "receive", "invoke", "retry", "dead_letter"]
    out = cli("--dead-lettered", "--json")
    assert out.returncode == 0 and [t["trace_id"] for t in json.loads(out.stdout)["traces"]] == [trace]


def _get(server, path):
    try:
        with urllib.request.urlopen(server.endpoint + path, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_nothing_recorded_when_observe_is_off(tmp_path):
    server = PrivateServer(sluice_binary(), tmp_path / "s", config="observe: {enabled: false}\nqueues:\n  plain: {}\n")
    try:
        url = server.sqs.get_queue_url(QueueName="plain")["QueueUrl"]
        msg_id = server.sqs.send_message(QueueUrl=url, MessageBody="hello")["MessageId"]
        try:
            urllib.request.urlopen(f"{server.endpoint}/_sluice/traces/{msg_id}", timeout=10)
            raise AssertionError("expected 503")
        except urllib.error.HTTPError as e:
            assert e.code == 503 and json.loads(e.read()) == {"error": "traces are not recorded"}
        out = subprocess.run([str(sluice_binary()), "trace", msg_id, "--endpoint", server.endpoint],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 1 and "traces are not recorded" in out.stderr
    finally:
        code, graceful = server.stop()
        assert graceful and code == 0


def test_data_dir_prints_the_invocations_log_lines(tmp_path):
    """`sluice trace ID --data-dir DIR` shows each invocation's log lines,
    read from the stopped sluice's observe.db, as --endpoint does."""
    folder = tmp_path / "t"
    (folder / "code").mkdir(parents=True)
    (folder / "records").mkdir()
    shutil.copy(E2E_DIR / "handlers" / "traces_app.py", folder / "code" / "traces_app.py")
    config = folder / "sluice.yaml"
    config.write_text((E2E_DIR / "traces.yaml").read_text())
    server = PrivateServer(sluice_binary(), folder / "server", config_path=config)
    try:
        env = Env(server, folder)
        url = server.sqs.get_queue_url(QueueName="tr-in")["QueueUrl"]
        msg_id = server.sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"mode": "ok"}))["MessageId"]
        chain = env.wait_chain(msg_id, lambda k: "delete" in k)
        rid = hop(chain, "invoke")["request_id"]
    finally:
        code, graceful = server.stop()
        assert graceful and code == 0
    data_dir = str(folder / "server" / "data")
    out = subprocess.run([str(sluice_binary()), "trace", msg_id, "--data-dir", data_dir],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    at = lines.index(f"log lines of tr-work request_id={rid}:")
    shown = lines[at + 1:]
    assert f"  record {msg_id} mode=ok" in shown
    assert any(ln.startswith(f"  START RequestId: {rid}") for ln in shown)
    assert any(ln.startswith(f"  REPORT RequestId: {rid}") for ln in shown)
    assert not any("ask the running sluice" in ln for ln in lines)
    out = subprocess.run([str(sluice_binary()), "trace", msg_id, "--data-dir", data_dir, "--json"],
                         capture_output=True, text=True, timeout=30)
    inv = hop(json.loads(out.stdout), "invoke")
    assert f"record {msg_id} mode=ok" in [e["message"] for e in inv["logs"]]
    assert all(e["stream"] == inv["log_stream"] for e in inv["logs"])
