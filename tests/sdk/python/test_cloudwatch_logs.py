"""CloudWatch Logs through Debian's boto3 (JSON 1.1): each function's output
(INIT_START, START, what it prints, END, REPORT) lands in /aws/lambda/NAME
in the instance's stream with its request id, an exec function's stderr
too, the API access log in /aws/apigateway/shop (stream per stage), and a
handler writes a group of its own with PutLogEvents. FilterLogEvents
filter patterns select the right events; tokens page without repeats;
GetLogEvents echoes the token at the end; retention, limits and errors as
AWS. The config is tests/e2e/cwlogs.yaml."""
import json
import xml.etree.ElementTree as ET
import re
import sqlite3
import time
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sluice_helpers import E2E_DIR, PrivateServer, http_call, make_lambda_client, sluice_binary, wait_until

pytestmark = pytest.mark.timeout(60)

STREAM_RE = re.compile(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$")


def make_logs_client(endpoint):
    return boto3.session.Session().client(
        "logs", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test",
        endpoint_url=endpoint, config=Config(retries={"max_attempts": 1}, read_timeout=30))


class Env:
    def __init__(self, server):
        self.server = server
        self.logs = make_logs_client(server.endpoint)
        self.lam = make_lambda_client(server.endpoint)

    def invoke(self, fn, payload):
        r = self.lam.invoke(FunctionName=fn, Payload=json.dumps(payload).encode())
        body = json.loads(r["Payload"].read())
        return r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"], body, r.get("FunctionError")

    def events(self, group, **kwargs):
        out, token = [], None
        while True:
            args = dict(kwargs, logGroupName=group)
            if token:
                args["nextToken"] = token
            page = self.logs.filter_log_events(**args)
            out += page["events"]
            token = page.get("nextToken")
            if not token:
                return out

    def invocation(self, group, rid):
        """The messages from START to REPORT of request rid, waiting for REPORT."""
        def lines():
            msgs = [e["message"] for e in self.events(group)]
            starts = [i for i, m in enumerate(msgs) if m.startswith(f"START RequestId: {rid}")]
            ends = [i for i, m in enumerate(msgs) if m.startswith(f"REPORT RequestId: {rid}")]
            return msgs[starts[0]:ends[0] + 1] if starts and ends else None
        return wait_until(lines, timeout=10)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cwlogs")
    (folder / "cwlogs").symlink_to(E2E_DIR / "cwlogs")
    server = PrivateServer(sluice_binary(), folder, config=(E2E_DIR / "cwlogs.yaml").read_text())
    try:
        yield Env(server)
    finally:
        code, graceful = server.stop()
        assert graceful and code == 0, f"sluice stopped with code {code}:\n{server.process.log()}"


def error_of(exc_info):
    e = exc_info.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def test_a_functions_lines_land_in_its_group_in_the_instances_stream(env):
    rid, body, err = env.invoke("printer", {"tag": "p1"})
    assert err is None and body["tag"] == "p1"
    stream = body["stream"]
    assert STREAM_RE.match(stream), stream
    lines = env.invocation("/aws/lambda/printer", rid)
    assert lines[0] == f"START RequestId: {rid} Version: $LATEST"
    assert lines[1:4] == ["plain line tag=p1", "ERROR something failed tag=p1",
                          '{"level": "warn", "tag": "p1", "ms": 250, "ok": false, "user": null}']
    assert lines[4] == f"END RequestId: {rid}"
    assert re.match(rf"^REPORT RequestId: {rid}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
                    r"Memory Size: 128 MB\tMax Memory Used: \d+ MB", lines[5]), lines[5]
    events = env.events("/aws/lambda/printer", logStreamNames=[stream])
    assert events[0]["message"].startswith("INIT_START Runtime Version: python3.12\tInstance: " + stream)
    for e in events:
        assert e["logStreamName"] == stream
        assert re.match(r"^\d{56}$", e["eventId"])
        assert e["ingestionTime"] >= e["timestamp"] > 0
    streams = env.logs.describe_log_streams(logGroupName="/aws/lambda/printer")["logStreams"]
    assert [s["logStreamName"] for s in streams] == [stream]
    s = streams[0]
    assert s["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/printer:log-stream:{stream}"
    assert s["firstEventTimestamp"] <= s["lastEventTimestamp"] <= s["lastIngestionTime"]


def test_a_handler_error_is_logged_in_its_invocation(env):
    rid, body, err = env.invoke("raiser", {"n": 3})
    assert err == "Unhandled" and body["errorType"] == "ValueError"
    lines = env.invocation("/aws/lambda/raiser", rid)
    assert lines[1] == "about to fail"
    assert lines[2].startswith("[ERROR] ValueError: bad input 3\r"), lines[2]
    assert lines[3] == f"END RequestId: {rid}"
    hits = env.events("/aws/lambda/raiser", filterPattern="ValueError")
    assert [e["message"] for e in hits] == [lines[2]]


def test_an_exec_functions_stderr_lands_in_its_group(env):
    rid, body, err = env.invoke("shell", {"n": 7})
    assert err is None and body == {"ok": True}
    lines = env.invocation("/aws/lambda/shell", rid)
    assert lines[1:3] == ['shell got {"n": 7}', "[WARN] 10.0.0.1 GET /x 404 12"]
    assert lines[3] == f"END RequestId: {rid}"
    stream = env.events("/aws/lambda/shell")[0]["logStreamName"]
    assert STREAM_RE.match(stream), stream


def test_filter_patterns_select_the_right_events(env):
    env.invoke("printer", {"tag": "f1"})
    rid, _, _ = env.invoke("printer", {"tag": "f2"})
    env.invocation("/aws/lambda/printer", rid)

    def msgs(pattern, group="/aws/lambda/printer"):
        return [e["message"] for e in env.events(group, filterPattern=pattern)]

    assert msgs("ERROR tag=f2") == ["ERROR something failed tag=f2"]
    assert msgs('"failed tag=f1"') == ["ERROR something failed tag=f1"]
    assert msgs("tag=f1 -ERROR -level") == ["plain line tag=f1"]
    assert msgs("?tag=f1 ?tag=f2") == ["plain line tag=f1", "ERROR something failed tag=f1",
                                       "plain line tag=f2", "ERROR something failed tag=f2"]
    assert msgs('{ $.tag = "f2" }') == ['{"level": "warn", "tag": "f2", "ms": 250, "ok": false, "user": null}']
    assert len(msgs("{ ($.ms > 100) && ($.ok IS FALSE) && ($.user IS NULL) }")) >= 2
    assert msgs("{ $.ms > 300 }") == []
    assert msgs("{ $.nothing NOT EXISTS && $.tag = f* }") == [
        '{"level": "warn", "tag": "f1", "ms": 250, "ok": false, "user": null}',
        '{"level": "warn", "tag": "f2", "ms": 250, "ok": false, "user": null}']
    assert all(m.startswith(("START", "END", "REPORT", "INIT_START"))
               for m in msgs("-tag"))
    env.invoke("shell", {"n": 8})
    wait_until(lambda: len(msgs("[level, ip, method, path, status = 404, size]", "/aws/lambda/shell")) >= 2)
    assert set(msgs("[level, ip, method, path, status = 404, size]", "/aws/lambda/shell")) == \
        {"[WARN] 10.0.0.1 GET /x 404 12"}
    assert msgs("[..., status = 5*, size]", "/aws/lambda/shell") == []
    assert msgs("") == msgs('""') == [e["message"] for e in env.events("/aws/lambda/printer")]


def test_regex_filter_patterns_select_the_right_events(env):
    """%regex% patterns (AWS's subset), alone and as a JSON or
    space-delimited value, through FilterLogEvents."""
    env.invoke("printer", {"tag": "rx1"})
    rid, _, _ = env.invoke("printer", {"tag": "rx2"})
    env.invocation("/aws/lambda/printer", rid)

    def msgs(pattern, group="/aws/lambda/printer"):
        return [e["message"] for e in env.events(group, filterPattern=pattern)]

    assert msgs(r"%ERROR.*tag=rx\d$%") == ["ERROR something failed tag=rx1", "ERROR something failed tag=rx2"]
    assert msgs(r"%^plain\sline\stag=rx[2-9]$%") == ["plain line tag=rx2"]
    assert msgs(r"%^plain\sline\stag=rx2$|^ERROR\s.*rx1$%") == [
        "ERROR something failed tag=rx1", "plain line tag=rx2"]
    assert msgs("%tag=RX%") == []  # case-sensitive
    assert msgs(r'{ $.tag = %^rx\d$% && $.ms > 100 }') == [
        '{"level": "warn", "tag": "rx1", "ms": 250, "ok": false, "user": null}',
        '{"level": "warn", "tag": "rx2", "ms": 250, "ok": false, "user": null}']
    assert msgs(r'{ $.ms = %^2\d0$% && $.tag = rx2 }') == [
        '{"level": "warn", "tag": "rx2", "ms": 250, "ok": false, "user": null}']
    env.invoke("shell", {"n": 9})
    got = wait_until(lambda: msgs(r"[level, ip = %^10\.0\.%, method, path, status = %^4\d\d$%, size]",
                                  "/aws/lambda/shell"))
    assert set(got) == {"[WARN] 10.0.0.1 GET /x 404 12"}
    assert msgs(r"[level, ip, method, path, status = %^5%, size]", "/aws/lambda/shell") == []
    for bad, why in [("%something!%", "'!' is not supported"), ("%(a|b)%", "parentheses"),
                     ("%a**%", "cannot follow")]:
        with pytest.raises(ClientError) as e:
            env.logs.filter_log_events(logGroupName="/aws/lambda/printer", filterPattern=bad)
        code, msg, status = error_of(e)
        assert (code, status) == ("InvalidParameterException", 400) and why in msg, (bad, msg)


def test_an_invalid_filter_pattern_is_invalid_parameter(env):
    env.invoke("printer", {"tag": "x"})
    with pytest.raises(ClientError) as e:
        env.logs.filter_log_events(logGroupName="/aws/lambda/printer", filterPattern='{ $.a = }')
    code, msg, status = error_of(e)
    assert (code, status) == ("InvalidParameterException", 400) and msg.startswith("Invalid filter pattern")


def test_the_access_log_lands_in_the_apis_group_per_stage(env):
    api = env.server.apis["shop"]
    assert http_call(api, "GET", "/hello").status == 200
    r = http_call(api, "GET", "/teapot")
    assert r.status == 418
    rid = r.header("apigw-requestid") or r.header("x-amzn-RequestId")
    got = wait_until(lambda: env.events("/aws/apigateway/shop", filterPattern="{ $.status = 418 }"), timeout=5)
    assert len(got) == 1 and got[0]["logStreamName"] == "$default"
    line = json.loads(got[0]["message"])
    assert line["httpMethod"] == "GET" and line["path"] == "/teapot" and line["routeKey"] == "GET /teapot"
    assert line["status"] == 418 and line["responseLength"] == len("short and stout")
    assert line["requestId"] in (rid, r.header("x-amzn-RequestId"))
    ok = env.events("/aws/apigateway/shop", filterPattern='{ $.routeKey = "GET /hello" }')
    assert len(ok) == 1 and json.loads(ok[0]["message"])["status"] == 200
    groups = env.logs.describe_log_groups(logGroupNamePrefix="/aws/apigateway/")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/aws/apigateway/shop"]


def cjson_number(v):
    """A number as cJSON prints it (%1.15g; the access line's numbers are
    whole or hundredths, which read back from 15 digits)."""
    return "%.15g" % v


def cjson_string(s):
    """A string as cJSON prints it: \\" \\\\ \\b \\f \\n \\r \\t, other controls
    as \\u00xx, every other byte as it is."""
    esc = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    return '"' + "".join(esc.get(c) or ("\\u%04x" % ord(c) if ord(c) < 0x20 else c) for c in s) + '"'


def test_the_access_line_is_the_json_cjson_printed(env):
    """The access line is written straight into a buffer, not through
    cJSON: its fields, their order, its escapes and its numbers are still
    byte for byte what cJSON_PrintUnformatted made of them."""
    api = env.server.apis["shop"]
    raw = "/odd%22q%5Cb%01%09%7F%C3%A9/x"
    r = http_call(api, "GET", raw)
    assert r.status == 404
    want_path = '/odd"q\\b\x01\t\x7f\u00e9/x'
    got = wait_until(lambda: [e for e in env.events("/aws/apigateway/shop")
                              if json.loads(e["message"])["path"] == want_path], timeout=5)
    assert len(got) == 1
    msg = got[0]["message"]
    line = json.loads(msg)
    keys = ["requestId", "ip", "requestTime", "httpMethod", "routeKey", "path", "status", "protocol",
            "responseLength", "responseLatency", "integrationLatency", "traceId", "messageId"]
    assert list(line) == keys
    want = "{" + ",".join(
        cjson_string(k) + ":" + (cjson_number(line[k]) if isinstance(line[k], (int, float)) else cjson_string(line[k]))
        for k in keys) + "}"
    assert msg == want
    assert line["routeKey"] == "-" and line["status"] == 404 and line["messageId"] == "-"
    assert isinstance(line["responseLatency"], (int, float)) and line["responseLatency"] >= 0
    # requestTime is the event's own time (stored as it, put in when read)
    assert line["requestTime"] == time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(got[0]["timestamp"] // 1000))

    # A path over 127 bytes: stored as a piece with a two-byte length, read
    # back whole (the line's keys are put back when read).
    long_raw = "/long-" + "%22" * 10 + "y" * 200
    r = http_call(api, "GET", long_raw)
    assert r.status == 404
    long_path = "/long-" + '"' * 10 + "y" * 200
    got = wait_until(lambda: [e for e in env.events("/aws/apigateway/shop")
                              if json.loads(e["message"])["path"] == long_path], timeout=5)
    assert len(got) == 1
    msg = got[0]["message"]
    line = json.loads(msg)
    assert list(line) == keys
    assert msg == "{" + ",".join(
        cjson_string(k) + ":" + (cjson_number(line[k]) if isinstance(line[k], (int, float)) else cjson_string(line[k]))
        for k in keys) + "}"

    # A queue route, the caller's trace header with more fields than its
    # root: the ids, the root and the method are copied without escaping.
    root = "1-5759e988-bd862e3fe1be46a994272793"
    r = http_call(api, "POST", "/orders?a=%22b", body='{"n": 1}',
                  headers={"Content-Type": "application/json", "X-Amzn-Trace-Id": f"Parent=53995c3f42cd8ad8;Root={root};Sampled=1"})
    assert r.status == 200, r.body
    msg_id = ET.fromstring(r.body).find(".//{*}MessageId").text
    got = wait_until(lambda: [e for e in env.events("/aws/apigateway/shop")
                              if json.loads(e["message"])["messageId"] == msg_id], timeout=5)
    assert len(got) == 1
    msg = got[0]["message"]
    line = json.loads(msg)
    assert list(line) == keys
    want = "{" + ",".join(
        cjson_string(k) + ":" + (cjson_number(line[k]) if isinstance(line[k], (int, float)) else cjson_string(line[k]))
        for k in keys) + "}"
    assert msg == want
    assert line["requestId"] == r.header("apigw-requestid") or line["requestId"] == r.header("x-amzn-RequestId")
    assert line["traceId"] == root and line["routeKey"] == "POST /orders" and line["httpMethod"] == "POST"
    assert line["path"] == "/orders" and line["status"] == 200


def test_a_handler_writes_its_own_group(env):
    group = f"/custom/{uuid.uuid4().hex[:8]}"
    rid, body, err = env.invoke("writer", {"group": group, "stream": "s-1", "messages": ["one", "two", "three"]})
    assert err is None, body
    assert re.match(r"^\d+$", body["next"]) and body["rejected"] is None
    got = env.logs.get_log_events(logGroupName=group, logStreamName="s-1", startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["one", "two", "three"]
    streams = env.logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["s-1"]
    env.logs.delete_log_group(logGroupName=group)
    with pytest.raises(ClientError) as e:
        env.logs.describe_log_streams(logGroupName=group)
    assert error_of(e) == ("ResourceNotFoundException", "The specified log group does not exist.", 400)


def test_filter_tokens_page_without_repeats(env):
    group = f"/paging/{uuid.uuid4().hex[:8]}"
    env.logs.create_log_group(logGroupName=group)
    env.logs.create_log_stream(logGroupName=group, logStreamName="a")
    env.logs.create_log_stream(logGroupName=group, logStreamName="b")
    now = int(time.time() * 1000)
    env.logs.put_log_events(logGroupName=group, logStreamName="a",
                            logEvents=[{"timestamp": now + i * 2, "message": f"a{i}"} for i in range(5)])
    env.logs.put_log_events(logGroupName=group, logStreamName="b",
                            logEvents=[{"timestamp": now + i * 2 + 1, "message": f"b{i}"} for i in range(5)])
    pages, tokens, token = [], [], None
    while True:
        args = {"logGroupName": group, "limit": 3, "interleaved": True}
        if token:
            args["nextToken"] = token
        page = env.logs.filter_log_events(**args)
        pages.append([e["message"] for e in page["events"]])
        assert page["searchedLogStreams"] == []
        token = page.get("nextToken")
        if not token:
            break
        assert token not in tokens
        tokens.append(token)
    flat = [m for p in pages for m in p]
    assert flat == ["a0", "b0", "a1", "b1", "a2", "b2", "a3", "b3", "a4", "b4"]
    assert [len(p) for p in pages[:3]] == [3, 3, 3]
    # the paginator (what `aws logs tail` uses) sees the same events with the same ids
    ids1 = [e["eventId"] for p in env.logs.get_paginator("filter_log_events").paginate(logGroupName=group)
            for e in p["events"]]
    ids2 = [e["eventId"] for e in env.events(group)]
    assert ids1 == ids2 and len(set(ids1)) == 10
    only_b = env.events(group, logStreamNamePrefix="b")
    assert [e["message"] for e in only_b] == [f"b{i}" for i in range(5)]
    window = env.events(group, startTime=now + 2, endTime=now + 4)
    assert [e["message"] for e in window] == ["a1", "b1", "a2"]  # both ends inclusive
    with pytest.raises(ClientError) as e:
        env.logs.filter_log_events(logGroupName=group, nextToken="garbage")
    assert error_of(e) == ("InvalidParameterException", "The specified nextToken is invalid.", 400)


def test_filter_merges_many_streams_in_order(env):
    """A group's events come in (timestamp, ingestion time, eventId) order
    across its streams, however many each holds (the store merges the
    streams' scans, reading each in chunks): the same events whatever the
    page size, equal timestamps in the order they were put, a stream
    outside the window left out, prefixes and patterns applied per event."""
    group = f"/merge/{uuid.uuid4().hex[:8]}"
    env.logs.create_log_group(logGroupName=group)
    now = int(time.time() * 1000) - 60_000
    streams = {"s0": 300, "s1": 150, "s2": 40, "t0": 1}
    put = []
    for k, (name, count) in enumerate(streams.items()):
        env.logs.create_log_stream(logGroupName=group, logStreamName=name)
        # s0 every ms, s1 every 2 ms, s2 every 7 ms: many equal timestamps across streams
        step = {0: 1, 1: 2, 2: 7, 3: 1}[k]
        evs = [{"timestamp": now + i * step, "message": f"{name} {i} {'odd' if i % 2 else 'even'}"}
               for i in range(count)]
        if name == "t0":
            evs = [{"timestamp": now - 30_000, "message": "t0 early"}]
        env.logs.put_log_events(logGroupName=group, logStreamName=name, logEvents=evs)
        put += evs
    env.logs.create_log_stream(logGroupName=group, logStreamName="empty")
    every = env.events(group)
    assert len(every) == len(put) == 491
    keys = [(e["timestamp"], e["ingestionTime"], e["eventId"]) for e in every]
    assert keys == sorted(keys) and len(set(e["eventId"] for e in every)) == 491
    assert every[0]["message"] == "t0 early"
    # within a timestamp, the order the events were put (s0's before s1's before s2's)
    at_now = [e["message"] for e in every if e["timestamp"] == now]
    assert at_now == ["s0 0 even", "s1 0 even", "s2 0 even"]
    for limit in (1, 7, 64, 10000):
        assert [e["eventId"] for e in env.events(group, limit=limit)] == [e["eventId"] for e in every]
    window = env.events(group, startTime=now + 10, endTime=now + 14)
    assert [e["message"] for e in window] == [
        "s0 10 even", "s1 5 odd", "s0 11 odd", "s0 12 even", "s1 6 even", "s0 13 odd", "s0 14 even", "s1 7 odd",
        "s2 2 even"]
    only_s1 = env.events(group, logStreamNamePrefix="s1", filterPattern="odd", limit=9)
    assert [e["message"] for e in only_s1] == [f"s1 {i} odd" for i in range(1, 150, 2)]
    named = env.events(group, logStreamNames=["s2", "t0"])
    assert [e["message"] for e in named] == ["t0 early"] + [f"s2 {i} {'odd' if i % 2 else 'even'}" for i in range(40)]


def _get_pages(logs, group, stream, limit, forward, **kw):
    """Every event GetLogEvents gives paging one way to the end, oldest first."""
    pages, token = [], None
    for _ in range(200):
        args = dict(kw, logGroupName=group, logStreamName=stream, limit=limit, startFromHead=forward)
        if token:
            args["nextToken"] = token
        page = logs.get_log_events(**args)
        nxt = page["nextForwardToken" if forward else "nextBackwardToken"]
        if nxt == token:
            assert page["events"] == []
            break
        pages.append([e["message"] for e in page["events"]])
        token = nxt
    if not forward:
        pages.reverse()
    return [m for p in pages for m in p]


def test_blocks_with_overlapping_times_read_in_time_order(env):
    """A stream's events are stored a writer batch at a time (one block per
    PutLogEvents here, each call flushed before the next is answered), and
    blocks overlap in time: one spans an hour, others interleave, equal
    timestamps fall in different blocks. GetLogEvents gives them in
    (timestamp, eventId) order both ways at every page size, with its
    window (endTime exclusive); FilterLogEvents merges the group's streams
    in (timestamp, ingestion time, eventId) order at every page size."""
    group = f"/blocks/{uuid.uuid4().hex[:8]}"
    logs = env.logs
    logs.create_log_group(logGroupName=group)
    for s in ("x", "y"):
        logs.create_log_stream(logGroupName=group, logStreamName=s)
    t0 = int(time.time() * 1000) - 600_000
    puts = [
        ("x", [100, 300, 500]),
        ("y", [150, 300]),
        ("x", [200, 400]),
        ("x", [-3_600_000, 250]),
        ("x", [300, 300]),
        ("y", [-10, 700]),
        ("x", [600]),
        ("x", [50, 1000]),
    ]
    seq, put = 0, []
    for stream, offsets in puts:
        evs = []
        for off in offsets:
            evs.append({"timestamp": t0 + off, "message": f"{stream}{seq}@{off}"})
            put.append((t0 + off, seq, stream, f"{stream}{seq}@{off}"))
            seq += 1
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=evs)
    want_x = [m for ts, q, s, m in sorted(put) if s == "x"]
    want_all = [m for ts, q, s, m in sorted(put)]
    for limit in (1, 2, 3, 5, 100):
        assert _get_pages(logs, group, "x", limit, True) == want_x, limit
        assert _get_pages(logs, group, "x", limit, False) == want_x, limit
        assert [e["message"] for e in env.events(group, limit=limit)] == want_all, limit
    window = [m for ts, q, s, m in sorted(put) if s == "x" and t0 + 200 <= ts < t0 + 500]
    assert _get_pages(logs, group, "x", 2, True, startTime=t0 + 200, endTime=t0 + 500) == window
    assert _get_pages(logs, group, "x", 2, False, startTime=t0 + 200, endTime=t0 + 500) == window
    every = env.events(group)
    keys = [(e["timestamp"], e["ingestionTime"], e["eventId"]) for e in every]
    assert keys == sorted(keys) and len(set(k[2] for k in keys)) == len(put)
    # eventIds grow in the order the events were put
    by_seq = sorted(every, key=lambda e: int(e["message"][1:].split("@")[0]))
    assert [e["eventId"] for e in by_seq] == sorted(e["eventId"] for e in every)
    newest = logs.get_log_events(logGroupName=group, logStreamName="x", limit=1)
    assert [e["message"] for e in newest["events"]] == [want_x[-1]]


def test_filter_reads_at_most_100000_events_a_call(env):
    """FilterLogEvents reads at most 100,000 events a call (in its order,
    whether they are wanted or not) and then hands back a token: a wanted
    event past 100,050 unwanted ones (many blocks) comes on a later page,
    once, and nothing after it."""
    group = f"/cap/{uuid.uuid4().hex[:8]}"
    logs = env.logs
    logs.create_log_group(logGroupName=group)
    for s in ("noise", "want"):
        logs.create_log_stream(logGroupName=group, logStreamName=s)
    t0 = int(time.time() * 1000) - 600_000
    for k in range(11):
        n = 10_000 if k < 10 else 50
        logs.put_log_events(logGroupName=group, logStreamName="noise",
                            logEvents=[{"timestamp": t0 + k * 10_000 + i // 10, "message": "n"} for i in range(n)])
    logs.put_log_events(logGroupName=group, logStreamName="want",
                        logEvents=[{"timestamp": t0 + 200_000, "message": "wanted"}])
    first = logs.filter_log_events(logGroupName=group, logStreamNames=["want"])
    assert first["events"] == [] and "nextToken" in first
    second = logs.filter_log_events(logGroupName=group, logStreamNames=["want"], nextToken=first["nextToken"])
    assert [e["message"] for e in second["events"]] == ["wanted"] and "nextToken" not in second
    assert [e["message"] for e in env.events(group, filterPattern="wanted")] == ["wanted"]


def test_get_log_events_pages_and_echoes_the_token_at_the_end(env):
    group = f"/get/{uuid.uuid4().hex[:8]}"
    env.logs.create_log_group(logGroupName=group)
    env.logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    env.logs.put_log_events(logGroupName=group, logStreamName="s",
                            logEvents=[{"timestamp": now + i, "message": f"m{i}"} for i in range(5)])
    newest = env.logs.get_log_events(logGroupName=group, logStreamName="s", limit=2)
    assert [e["message"] for e in newest["events"]] == ["m3", "m4"]
    older = env.logs.get_log_events(logGroupName=group, logStreamName="s", limit=2,
                                    nextToken=newest["nextBackwardToken"])
    assert [e["message"] for e in older["events"]] == ["m1", "m2"]
    got, token = [], None
    for _ in range(10):
        args = {"logGroupName": group, "logStreamName": "s", "limit": 2, "startFromHead": True}
        if token:
            args["nextToken"] = token
        page = env.logs.get_log_events(**args)
        assert re.match(r"^f/\d{56}$", page["nextForwardToken"]) and re.match(r"^b/\d{56}$",
                                                                              page["nextBackwardToken"])
        got += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            assert page["events"] == []
            break
        token = page["nextForwardToken"]
    assert got == [f"m{i}" for i in range(5)]
    # later events arrive through the same forward token
    env.logs.put_log_events(logGroupName=group, logStreamName="s",
                            logEvents=[{"timestamp": now + 10, "message": "late"}])
    page = env.logs.get_log_events(logGroupName=group, logStreamName="s", nextToken=token)
    assert [e["message"] for e in page["events"]] == ["late"]
    # endTime is exclusive here
    page = env.logs.get_log_events(logGroupName=group, logStreamName="s", startTime=now + 1, endTime=now + 3,
                                   startFromHead=True)
    assert [e["message"] for e in page["events"]] == ["m1", "m2"]
    with pytest.raises(ClientError) as e:
        env.logs.get_log_events(logGroupName=group, logStreamName="s", nextToken="f/12")
    assert error_of(e) == ("InvalidParameterException", "The specified nextToken is invalid.", 400)
    with pytest.raises(ClientError) as e:
        env.logs.get_log_events(logGroupName=group, logStreamName="nope")
    assert error_of(e) == ("ResourceNotFoundException", "The specified log stream does not exist.", 400)


def test_put_log_events_rules(env):
    group = f"/put/{uuid.uuid4().hex[:8]}"
    logs = env.logs
    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[{"timestamp": 1, "message": "x"}])
    assert error_of(e) == ("ResourceNotFoundException", "The specified log group does not exist.", 400)
    logs.create_log_group(logGroupName=group)
    with pytest.raises(ClientError) as e:
        logs.create_log_group(logGroupName=group)
    assert error_of(e) == ("ResourceAlreadyExistsException", "The specified log group already exists", 400)
    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[{"timestamp": 1, "message": "x"}])
    assert error_of(e) == ("ResourceNotFoundException", "The specified log stream does not exist.", 400)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    with pytest.raises(ClientError) as e:
        logs.create_log_stream(logGroupName=group, logStreamName="s")
    assert error_of(e)[0] == "ResourceAlreadyExistsException"
    now = int(time.time() * 1000)
    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName=group, logStreamName="s",
                            logEvents=[{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}])
    assert error_of(e) == ("InvalidParameterException",
                           "Log events in a single PutLogEvents request must be in chronological order.", 400)
    day = 24 * 3600 * 1000
    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName=group, logStreamName="s",
                            logEvents=[{"timestamp": now - day - 1, "message": "a"}, {"timestamp": now, "message": "b"}])
    assert error_of(e) == ("InvalidParameterException", "The batch of log events in a single PutLogEvents request "
                           "cannot span more than 24 hours.", 400)
    out = logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": now - 8 * day, "message": "expired"},
        {"timestamp": now - 8 * day + 1, "message": "expired too"},
    ])
    assert out["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}
    out = logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[{"timestamp": now - 1,
                                                                                 "message": "kept"}])
    assert "rejectedLogEventsInfo" not in out
    out = logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": now, "message": "kept 2"},
        {"timestamp": now + 3 * 3600 * 1000, "message": "too new"},
    ])
    assert out["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    assert [e["message"] for e in env.events(group)] == ["kept", "kept 2"]
    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName=group, logStreamName="s",
                            logEvents=[{"timestamp": now, "message": "x" * 1048576}])
    assert error_of(e)[0] == "InvalidParameterException" and "exceeds limit of 1048576" in error_of(e)[1]


def test_names_limits_and_parameter_errors(env):
    logs = env.logs
    with pytest.raises(ClientError) as e:
        logs.create_log_group(logGroupName="bad name!")
    code, msg, _ = error_of(e)
    assert code == "InvalidParameterException" and "Member must satisfy regular expression pattern" in msg
    with pytest.raises(ClientError) as e:
        logs.create_log_stream(logGroupName="/aws/lambda/printer", logStreamName="a:b")
    assert error_of(e)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        logs.filter_log_events(logGroupName="/aws/lambda/printer",
                               logGroupIdentifier="arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/printer")
    assert error_of(e) == ("ValidationException",
                           "LogGroup name and LogGroup ARN are mutually exclusive parameters.", 400)
    with pytest.raises(ClientError) as e:
        logs.filter_log_events(logGroupName="/aws/lambda/printer", logStreamNames=["x"], logStreamNamePrefix="x")
    assert error_of(e)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        logs.describe_log_streams(logGroupName="/aws/lambda/printer", orderBy="LastEventTime",
                                  logStreamNamePrefix="2")
    assert error_of(e)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        logs.filter_log_events(logGroupName="/no/such/group")
    assert error_of(e) == ("ResourceNotFoundException", "The specified log group does not exist.", 400)
    with pytest.raises(ClientError) as e:
        logs.delete_log_group(logGroupName="/no/such/group")
    assert error_of(e)[0] == "ResourceNotFoundException"
    group = f"/many/{uuid.uuid4().hex[:6]}"
    for i in range(3):
        logs.create_log_group(logGroupName=f"{group}/{i}")
    page = logs.describe_log_groups(logGroupNamePrefix=group, limit=2)
    assert [g["logGroupName"] for g in page["logGroups"]] == [f"{group}/0", f"{group}/1"]
    page2 = logs.describe_log_groups(logGroupNamePrefix=group, limit=2, nextToken=page["nextToken"])
    assert [g["logGroupName"] for g in page2["logGroups"]] == [f"{group}/2"] and "nextToken" not in page2
    g = page["logGroups"][0]
    assert g["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{group}/0:*"
    assert g["retentionInDays"] == 7 and g["storedBytes"] == 0


def test_events_past_the_retention_are_gone(tmp_path):
    (tmp_path / "cwlogs").symlink_to(E2E_DIR / "cwlogs")
    server = PrivateServer(sluice_binary(), tmp_path, config=(E2E_DIR / "cwlogs.yaml").read_text())
    try:
        logs = make_logs_client(server.endpoint)
        logs.create_log_group(logGroupName="/r")
        logs.create_log_stream(logGroupName="/r", logStreamName="s")
        now = server.clock.now_ms()
        logs.put_log_events(logGroupName="/r", logStreamName="s", logEvents=[{"timestamp": now, "message": "old"}])
        assert [e["message"] for e in logs.filter_log_events(logGroupName="/r")["events"]] == ["old"]
        server.clock.advance(6 * 24 * 3600)
        assert [e["message"] for e in logs.filter_log_events(logGroupName="/r")["events"]] == ["old"]
        server.clock.advance(2 * 24 * 3600)
        assert logs.filter_log_events(logGroupName="/r")["events"] == []
        assert logs.get_log_events(logGroupName="/r", logStreamName="s")["events"] == []
    finally:
        code, graceful = server.stop()
        assert graceful and code == 0


def test_a_block_straddling_the_retention_shows_only_its_kept_events(tmp_path):
    """Events put together are stored together (one block); when the older
    of them pass the retention and the newer not, reads show the newer
    only, before the sweep and after it (which rewrites the block)."""
    (tmp_path / "cwlogs").symlink_to(E2E_DIR / "cwlogs")
    server = PrivateServer(sluice_binary(), tmp_path, config=(E2E_DIR / "cwlogs.yaml").read_text())
    try:
        logs = make_logs_client(server.endpoint)
        logs.create_log_group(logGroupName="/r")
        logs.create_log_stream(logGroupName="/r", logStreamName="s")
        logs.put_retention_policy(logGroupName="/r", retentionInDays=1)
        now = server.clock.now_ms()
        hour = 3600 * 1000
        logs.put_log_events(logGroupName="/r", logStreamName="s", logEvents=[
            {"timestamp": now - 20 * hour, "message": "older"}, {"timestamp": now - 16 * hour, "message": "old"},
            {"timestamp": now, "message": "new"}])
        before = logs.describe_log_groups(logGroupNamePrefix="/r")["logGroups"][0]["storedBytes"]
        assert before == len("older") + len("old") + len("new")
        server.clock.advance(10 * 3600)  # older and old are past the day, new is not

        def reads():
            return ([e["message"] for e in logs.filter_log_events(logGroupName="/r")["events"]],
                    [e["message"] for e in logs.get_log_events(logGroupName="/r", logStreamName="s")["events"]],
                    [e["message"] for e in logs.get_log_events(logGroupName="/r", logStreamName="s",
                                                               startFromHead=True)["events"]])
        assert reads() == (["new"], ["new"], ["new"])
        # a line a minute later runs the sweep, which rewrites the block
        server.clock.advance(61)
        logs.put_log_events(logGroupName="/r", logStreamName="s",
                            logEvents=[{"timestamp": server.clock.now_ms(), "message": "z"}])
        assert reads() == (["new", "z"], ["new", "z"], ["new", "z"])
        assert logs.describe_log_groups(logGroupNamePrefix="/r")["logGroups"][0]["storedBytes"] == before + 1
    finally:
        code, graceful = server.stop()
        assert graceful and code == 0
    db = sqlite3.connect(str(tmp_path / "data" / "observe.db"))
    try:
        assert db.execute("SELECT sum(count), count(*) FROM log_blocks").fetchone() == (2, 2)
    finally:
        db.close()


def test_an_observe_db_of_an_event_a_row_is_moved_into_blocks_at_start(tmp_path):
    """An observe.db of the sluice before blocks (log_events, an event a
    row by integer ids): started on it, sluice moves every event into
    blocks once; the Logs API gives back every event with its eventId,
    timestamp, ingestion time and message, in the same orders, the streams
    their times, the group its bytes, and new events go on after the
    high-water mark; the request's block is findable by its request id."""
    data = tmp_path / "data"
    data.mkdir()
    now = int(time.time() * 1000) - 60_000
    rows = [(3, 1, 1, now + 5, now + 100, "req-1", "a three"), (7, 1, 2, now + 1, now + 101, None, "b seven"),
            (8, 1, 1, now + 1, now + 102, "req-1", "a eight"), (20, 1, 2, now + 9, now + 103, None, "b twenty"),
            (21, 1, 1, now + 2, now + 104, None, "a twenty-one \u00e9")]
    db = sqlite3.connect(str(data / "observe.db"))
    db.executescript(
        "CREATE TABLE log_groups (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_ms INTEGER NOT NULL,"
        " stored_bytes INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE log_streams (id INTEGER PRIMARY KEY, grp TEXT NOT NULL, name TEXT NOT NULL,"
        " created_ms INTEGER NOT NULL, first_ts INTEGER, last_ts INTEGER, last_ingest INTEGER, UNIQUE (grp, name));"
        "CREATE TABLE log_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
        "CREATE TABLE log_events (id INTEGER PRIMARY KEY, gid INTEGER NOT NULL, sid INTEGER NOT NULL,"
        " ts INTEGER NOT NULL, ingest INTEGER NOT NULL, request_id TEXT, message TEXT NOT NULL);"
        "CREATE INDEX log_events_by_stream_time ON log_events (sid, ts, ingest);"
        "CREATE INDEX log_events_by_request ON log_events (request_id) WHERE request_id IS NOT NULL;"
        "CREATE TABLE log_retention (grp TEXT PRIMARY KEY, days INTEGER NOT NULL);")
    db.execute("INSERT INTO log_groups VALUES (1, '/old', ?, 51)", (now,))
    db.execute("INSERT INTO log_streams VALUES (1, '/old', 'a', ?, ?, ?, ?)", (now, now + 1, now + 5, now + 104))
    db.execute("INSERT INTO log_streams VALUES (2, '/old', 'b', ?, ?, ?, ?)", (now, now + 1, now + 9, now + 103))
    db.execute("INSERT INTO log_meta VALUES ('last_event_id', 25)")
    db.executemany("INSERT INTO log_events VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()

    want = sorted(rows, key=lambda r: (r[3], r[4], r[0]))
    server = PrivateServer(sluice_binary(), tmp_path, config="queues:\n  q: {}\n")
    try:
        logs = make_logs_client(server.endpoint)
        got = logs.filter_log_events(logGroupName="/old")["events"]
        assert [(int(e["eventId"]), e["timestamp"], e["ingestionTime"], e["logStreamName"], e["message"])
                for e in got] == [(r[0], r[3], r[4], "a" if r[2] == 1 else "b", r[6]) for r in want]
        assert all(len(e["eventId"]) == 56 for e in got)
        a = logs.get_log_events(logGroupName="/old", logStreamName="a", startFromHead=True)["events"]
        assert [(e["timestamp"], e["message"]) for e in a] == [(r[3], r[6]) for r in want if r[2] == 1]
        streams = {s["logStreamName"]: s for s in logs.describe_log_streams(logGroupName="/old")["logStreams"]}
        assert streams["a"]["firstEventTimestamp"] == now + 1 and streams["b"]["lastEventTimestamp"] == now + 9
        assert logs.describe_log_groups()["logGroups"][0]["storedBytes"] == 51
        logs.put_log_events(logGroupName="/old", logStreamName="b",
                            logEvents=[{"timestamp": now + 10, "message": "b new"}])
        last = logs.filter_log_events(logGroupName="/old")["events"][-1]
        assert last["message"] == "b new" and int(last["eventId"]) == 26
    finally:
        code, graceful = server.stop()
        assert graceful and code == 0
    db = sqlite3.connect(str(data / "observe.db"))
    try:
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        assert "log_blocks" in names and "log_events" not in names
        assert db.execute("SELECT value FROM log_meta WHERE key = 'last_event_id'").fetchone() == (26,)
        assert db.execute("SELECT count(*) FROM log_requests WHERE request_id = 'req-1'").fetchone() == (1,)
    finally:
        db.close()


def test_malformed_requests_get_aws_errors(env):
    def post(op, body):
        r = http_call(env.server.endpoint, "POST", "/", body=body,
                      headers={"X-Amz-Target": f"Logs_20140328.{op}", "Content-Type": "application/x-amz-json-1.1"})
        return r.status, json.loads(r.body)

    assert post("FilterLogEvents", b"not json")[1]["__type"] == "SerializationException"
    assert post("FilterLogEvents", b"[1, 2]")[1]["__type"] == "SerializationException"
    assert post("FilterLogEvents", b'{"logGroupName": 5}')[1]["__type"] == "SerializationException"
    assert post("GetLogEvents", b'{"logGroupName": "/aws/lambda/printer", "logStreamName": "s", "limit": 1e300}') \
        [1]["__type"] == "SerializationException"
    status, body = post("StartLiveTail", b"{}")
    assert status == 400 and body["__type"] == "UnknownOperationException"
    env.logs.create_log_group(logGroupName="/malformed")
    env.logs.create_log_stream(logGroupName="/malformed", logStreamName="s")
    status, body = post("PutLogEvents", json.dumps({"logGroupName": "/malformed", "logStreamName": "s",
                                                    "logEvents": [{"timestamp": 1e300, "message": "x"}]}).encode())
    assert status == 400 and body["__type"] == "SerializationException"
    for pattern in ["{", "[", '{ $.a = "x', "{ (((( }", "[a, ..., ]", "{ $. = 1 }", "{ $.a[x] = 1 }", "%x(%"]:
        status, body = post("FilterLogEvents", json.dumps({"logGroupName": "/malformed",
                                                           "filterPattern": pattern}).encode())
        assert status == 400 and body["__type"] == "InvalidParameterException", (pattern, body)
    # still serving
    assert env.logs.describe_log_groups(logGroupNamePrefix="/malformed")["logGroups"][0]["logGroupName"] == \
        "/malformed"


def test_with_recording_off_nothing_is_stored_and_the_api_says_so(tmp_path):
    (tmp_path / "cwlogs").symlink_to(E2E_DIR / "cwlogs")
    config = (E2E_DIR / "cwlogs.yaml").read_text() + "\nobserve:\n  enabled: false\n"
    server = PrivateServer(sluice_binary(), tmp_path, config=config)
    try:
        lam = make_lambda_client(server.endpoint)
        r = lam.invoke(FunctionName="printer", Payload=b'{"tag": "off"}')
        assert json.loads(r["Payload"].read())["tag"] == "off"
        with pytest.raises(ClientError) as e:
            make_logs_client(server.endpoint).describe_log_groups()
        assert error_of(e) == ("ServiceUnavailableException", "Log recording is off (observe: enabled: false).",
                               503)
    finally:
        code, graceful = server.stop()
        assert graceful and code == 0


def test_the_configured_retention_applies(tmp_path):
    (tmp_path / "cwlogs").symlink_to(E2E_DIR / "cwlogs")
    config = (E2E_DIR / "cwlogs.yaml").read_text() + "\nobserve:\n  logs_retention: 2h\n"
    server = PrivateServer(sluice_binary(), tmp_path, config=config)
    try:
        logs = make_logs_client(server.endpoint)
        logs.create_log_group(logGroupName="/short")
        logs.create_log_stream(logGroupName="/short", logStreamName="s")
        now = server.clock.now_ms()
        out = logs.put_log_events(logGroupName="/short", logStreamName="s", logEvents=[
            {"timestamp": now - 3 * 3600 * 1000, "message": "past retention"},
            {"timestamp": now, "message": "fresh"}])
        assert out["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 0}
        assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix="/short")["logGroups"][0]
        assert [e["message"] for e in logs.filter_log_events(logGroupName="/short")["events"]] == ["fresh"]
        server.clock.advance(2 * 3600 + 1)
        assert logs.filter_log_events(logGroupName="/short")["events"] == []
    finally:
        code, graceful = server.stop()
        assert graceful and code == 0


def test_a_groups_retention_policy_is_kept_shown_and_swept(tmp_path):
    """PutRetentionPolicy sets one group's retention (AWS's day values);
    DescribeLogGroups shows it; reads, PutLogEvents and the minute sweep
    honour it; other groups keep observe.logs_retention (7 days here);
    DeleteRetentionPolicy gives the group the default back."""
    (tmp_path / "cwlogs").symlink_to(E2E_DIR / "cwlogs")
    server = PrivateServer(sluice_binary(), tmp_path, config=(E2E_DIR / "cwlogs.yaml").read_text())
    try:
        logs = make_logs_client(server.endpoint)
        day = 24 * 3600 * 1000
        now = server.clock.now_ms()
        for g in ("/keep1", "/keep7"):
            logs.create_log_group(logGroupName=g)
            logs.create_log_stream(logGroupName=g, logStreamName="s")
            logs.put_log_events(logGroupName=g, logStreamName="s",
                                logEvents=[{"timestamp": now - 2 * day, "message": "old"}])
            logs.put_log_events(logGroupName=g, logStreamName="s", logEvents=[{"timestamp": now, "message": "new"}])

        def messages(g):
            return [e["message"] for e in logs.filter_log_events(logGroupName=g)["events"]]

        def retention(g):
            return logs.describe_log_groups(logGroupNamePrefix=g)["logGroups"][0].get("retentionInDays")

        assert logs.put_retention_policy(logGroupName="/keep1", retentionInDays=1)["ResponseMetadata"][
            "HTTPStatusCode"] == 200
        assert retention("/keep1") == 1 and retention("/keep7") == 7
        assert messages("/keep1") == ["new"] and messages("/keep7") == ["old", "new"]
        assert [e["message"] for e in logs.get_log_events(logGroupName="/keep1", logStreamName="s",
                                                          startFromHead=True)["events"]] == ["new"]
        out = logs.put_log_events(logGroupName="/keep1", logStreamName="s",
                                  logEvents=[{"timestamp": now - 2 * day, "message": "late"}])
        assert out["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 0}
        # The sweep (at most once a minute, on the next line) deletes /keep1's
        # old event for good: without the policy it stays deleted.
        server.clock.advance(61)
        logs.put_log_events(logGroupName="/keep7", logStreamName="s",
                            logEvents=[{"timestamp": server.clock.now_ms(), "message": "tick"}])
        messages("/keep7")  # flushes the writer, sweep included
        logs.delete_retention_policy(logGroupName="/keep1")
        assert retention("/keep1") == 7
        assert messages("/keep1") == ["new"] and messages("/keep7") == ["old", "new", "tick"]
        # A longer policy than the default keeps more.
        logs.put_retention_policy(logGroupName="/keep7", retentionInDays=30)
        logs.put_retention_policy(logGroupName="/keep7", retentionInDays=14)
        assert retention("/keep7") == 14
        server.clock.advance(6 * 24 * 3600)
        assert messages("/keep7") == ["old", "new", "tick"]
        # AWS's errors.
        with pytest.raises(ClientError) as e:
            logs.put_retention_policy(logGroupName="/keep1", retentionInDays=2)
        assert error_of(e) == (
            "InvalidParameterException",
            "1 validation error detected: Value '2' at 'retentionInDays' failed to satisfy constraint: Member must "
            "satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, "
            "2192, 2557, 2922, 3288, 3653]", 400)
        for call in (lambda: logs.put_retention_policy(logGroupName="/none", retentionInDays=1),
                     lambda: logs.delete_retention_policy(logGroupName="/none")):
            with pytest.raises(ClientError) as e:
                call()
            assert error_of(e) == ("ResourceNotFoundException", "The specified log group does not exist.", 400)
        # Deleting the group forgets its policy.
        logs.delete_log_group(logGroupName="/keep7")
        logs.create_log_group(logGroupName="/keep7")
        assert retention("/keep7") == 7
    finally:
        code, graceful = server.stop()
        assert graceful and code == 0


def test_names_used_again_after_a_delete_get_their_new_stream_and_group(env):
    """Events carry their stream's and group's ids in observe.db: after
    DeleteLogStream / DeleteLogGroup the same names are new rows, and new
    events must land in them (not under the deleted rows' ids), while the
    deleted events stay gone."""
    group = f"/again/{uuid.uuid4().hex[:8]}"
    logs = env.logs
    now = int(time.time() * 1000)
    logs.create_log_group(logGroupName=group)
    for s in ("a", "b"):
        logs.create_log_stream(logGroupName=group, logStreamName=s)
    logs.put_log_events(logGroupName=group, logStreamName="a", logEvents=[{"timestamp": now, "message": "old a"}])
    logs.put_log_events(logGroupName=group, logStreamName="b", logEvents=[{"timestamp": now, "message": "b"}])
    logs.delete_log_stream(logGroupName=group, logStreamName="a")
    logs.create_log_stream(logGroupName=group, logStreamName="c")
    logs.create_log_stream(logGroupName=group, logStreamName="a")
    logs.put_log_events(logGroupName=group, logStreamName="a", logEvents=[{"timestamp": now + 1, "message": "new a"}])
    logs.put_log_events(logGroupName=group, logStreamName="c", logEvents=[{"timestamp": now + 2, "message": "c"}])
    got = logs.get_log_events(logGroupName=group, logStreamName="a", startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["new a"]
    got = logs.get_log_events(logGroupName=group, logStreamName="c", startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["c"]
    assert [(e["logStreamName"], e["message"]) for e in env.events(group)] == [("b", "b"), ("a", "new a"), ("c", "c")]
    streams = {s["logStreamName"]: s for s in logs.describe_log_streams(logGroupName=group)["logStreams"]}
    assert streams["a"]["firstEventTimestamp"] == now + 1 and streams["a"]["lastEventTimestamp"] == now + 1

    logs.delete_log_group(logGroupName=group)
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="b")
    logs.put_log_events(logGroupName=group, logStreamName="b", logEvents=[{"timestamp": now + 3, "message": "b again"}])
    assert [(e["logStreamName"], e["message"]) for e in env.events(group)] == [("b", "b again")]
    got = logs.get_log_events(logGroupName=group, logStreamName="b", startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["b again"]
    groups = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert len(groups) == 1 and groups[0]["storedBytes"] == len("b again")


def test_log_groups_are_per_region(env):
    """As on AWS, a log group lives in one region: the region of the
    request's credential scope (unsigned: the config's region, us-east-1
    here, where the functions' and APIs' groups are)."""
    west = boto3.session.Session().client(
        "logs", region_name="eu-west-1", aws_access_key_id="test", aws_secret_access_key="test",
        endpoint_url=env.server.endpoint, config=Config(retries={"max_attempts": 1}, read_timeout=30))
    name = f"/own/regional-{uuid.uuid4().hex[:8]}"
    west.create_log_group(logGroupName=name)
    west.create_log_stream(logGroupName=name, logStreamName="s")
    now = int(time.time() * 1000)
    west.put_log_events(logGroupName=name, logStreamName="s", logEvents=[{"timestamp": now, "message": "from west"}])

    got = west.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert [g["logGroupName"] for g in got] == [name]
    assert got[0]["arn"] == f"arn:aws:logs:eu-west-1:000000000000:log-group:{name}:*"
    streams = west.describe_log_streams(logGroupName=name)["logStreams"]
    assert [s["arn"] for s in streams] == [f"arn:aws:logs:eu-west-1:000000000000:log-group:{name}:log-stream:s"]
    # not in us-east-1
    assert env.logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] == []
    with pytest.raises(ClientError) as e:
        env.logs.filter_log_events(logGroupName=name)
    assert error_of(e)[0] == "ResourceNotFoundException"
    # the functions' groups are the config region's only
    assert not [g for g in west.describe_log_groups()["logGroups"] if g["logGroupName"].startswith("/aws/lambda/")]
    assert [g for g in env.logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]]

    # the same name in us-east-1 is another group
    env.logs.create_log_group(logGroupName=name)
    env.logs.create_log_stream(logGroupName=name, logStreamName="s")
    env.logs.put_log_events(logGroupName=name, logStreamName="s",
                            logEvents=[{"timestamp": now, "message": "from east"}])
    assert [e["message"] for e in env.events(name)] == ["from east"]
    assert [e["message"] for e in west.filter_log_events(logGroupName=name)["events"]] == ["from west"]
    west.put_retention_policy(logGroupName=name, retentionInDays=1)
    assert west.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]["retentionInDays"] == 1
    assert env.logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0].get("retentionInDays") != 1

    # pages of one region's groups
    second = name + "-b"
    west.create_log_group(logGroupName=second)
    page = west.describe_log_groups(logGroupNamePrefix=name, limit=1)
    assert [g["logGroupName"] for g in page["logGroups"]] == [name]
    page = west.describe_log_groups(logGroupNamePrefix=name, limit=1, nextToken=page["nextToken"])
    assert [g["logGroupName"] for g in page["logGroups"]] == [second]
    assert "nextToken" not in page

    west.delete_log_group(logGroupName=name)
    west.delete_log_group(logGroupName=second)
    assert west.describe_log_groups(logGroupNamePrefix=name)["logGroups"] == []
    assert [e["message"] for e in env.events(name)] == ["from east"]
    env.logs.delete_log_group(logGroupName=name)
