"""Disk full: nothing answered 200 is lost, nothing answered 500 stays.

SLUICE_TEST_DISK_BYTES (a test-only hook, read when the store opens) caps
the growth of the database files (a VFS in sqs/store.c answers SQLITE_FULL as
a full file system does, WAL spills included), without mounting one. Eight clients send at
once, so several calls share each loop turn's group transaction: the case
where a statement error used to roll the whole transaction back while the
other calls in it were still answered 200 (issue 11)."""

import json
from datetime import datetime, timedelta, timezone
import os
import sqlite3
import threading
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sluice_helpers import SluiceProcess, make_client, sluice_binary

DISK_BYTES = "1500000"  # the files may grow by 1.5 MB: full after a few hundred sends
THREADS = 8
BODY_PAD = "x" * 1500


def _status(exc):
    return exc.response["ResponseMetadata"]["HTTPStatusCode"]


def _start(tmp_path, disk_bytes):
    old = os.environ.pop("SLUICE_TEST_DISK_BYTES", None)
    if disk_bytes:
        os.environ["SLUICE_TEST_DISK_BYTES"] = disk_bytes
    try:
        return SluiceProcess(sluice_binary(), tmp_path / "data", tmp_path / "sluice.log")
    finally:
        os.environ.pop("SLUICE_TEST_DISK_BYTES", None)
        if old is not None:
            os.environ["SLUICE_TEST_DISK_BYTES"] = old


@pytest.mark.timeout(120)
def test_disk_full_loses_no_acknowledged_message_and_leaves_no_ghost_queue(tmp_path):
    if not sluice_binary().exists():
        pytest.skip("needs the sluice binary; set SLUICE_BIN")
    server = _start(tmp_path, DISK_BYTES)
    lock = threading.Lock()
    acked, failed, other = set(), set(), []
    queues_ok, queues_failed = set(), set()
    try:
        url = make_client(server.endpoint).create_queue(QueueName="full")["QueueUrl"]
        stop = threading.Event()

        def sender(t):
            sqs = make_client(server.endpoint)
            i = 0
            fails = 0
            while not stop.is_set() and fails < 40:
                i += 1
                if i % 10 == 0:  # queues created while the database fills
                    name = f"made-{t}-{i}"
                    try:
                        sqs.create_queue(QueueName=name)
                        with lock:
                            queues_ok.add(name)
                    except ClientError as e:
                        with lock:
                            (queues_failed.add(name) if _status(e) == 500 else other.append(e.response))
                    continue
                body = f"m-{t}-{i}-{BODY_PAD}"
                try:
                    sqs.send_message(QueueUrl=url, MessageBody=body)
                    with lock:
                        acked.add(body)
                except ClientError as e:
                    fails += 1
                    with lock:
                        if _status(e) == 500:
                            failed.add(body)
                            assert e.response["Error"]["Code"] == "InternalError", e.response
                        else:
                            other.append(e.response)

        threads = [threading.Thread(target=sender, args=(t,)) for t in range(THREADS)]
        for th in threads:
            th.start()
        deadline = time.monotonic() + 60
        for th in threads:
            th.join(timeout=max(0.1, deadline - time.monotonic()))
        stop.set()
        for th in threads:
            th.join()
        assert not other, other[:3]
        assert acked, "no send was acknowledged"
        assert failed, "the database never filled up"

        # While it runs, memory agrees with the database: a queue answered
        # 500 does not exist (no ghost that accepts sends).
        sqs = make_client(server.endpoint)
        listed = {u.rsplit("/", 1)[1] for u in sqs.list_queues(MaxResults=1000).get("QueueUrls", [])}
        assert not (queues_failed & listed), sorted(queues_failed & listed)[:5]
        assert queues_ok <= listed
    finally:
        server.stop()

    db = sqlite3.connect(str(tmp_path / "data" / "sluice.db"))
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        orphans = db.execute("SELECT count(*) FROM messages WHERE queue_id NOT IN (SELECT id FROM queues)").fetchone()[0]
        assert orphans == 0
    finally:
        db.close()

    # Restarted without the cap: every acknowledged message is there, and
    # nothing answered 500 is.
    server = _start(tmp_path, None)
    try:
        sqs = make_client(server.endpoint)
        listed = {u.rsplit("/", 1)[1] for u in sqs.list_queues(MaxResults=1000).get("QueueUrls", [])}
        assert queues_ok <= listed
        assert not (queues_failed & listed), sorted(queues_failed & listed)[:5]
        url = sqs.get_queue_url(QueueName="full")["QueueUrl"]
        got = set()
        empty = 0
        while empty < 2:
            r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300)
            msgs = r.get("Messages", [])
            empty = 0 if msgs else empty + 1
            got.update(m["Body"] for m in msgs)
        missing = acked - got
        assert not missing, f"{len(missing)} of {len(acked)} acknowledged sends lost"
        assert not (got & failed), f"{len(got & failed)} sends answered 500 were stored"
        assert got == acked
    finally:
        server.stop()


# A trace segment's hops blob (observe/traces.c): kind (1 byte), presence
# (2 bytes LE: bits 0-8 the strings trace, message, request, a..f; bit 9
# failed, bit 10 a duration, bit 11 n), the time as a zigzag varint delta,
# each present string as a varint length and UTF-8 bytes, the duration as 8
# bytes, n as a zigzag varint.
SEND, MESSAGE, A = 1, 1, 3


def _varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def _segment_hops(b):
    i = 0
    while i < len(b):
        kind, presence = b[i], b[i + 1] | b[i + 2] << 8
        _, i = _varint(b, i + 3)
        strings = {}
        for s in range(9):
            if presence & (1 << s):
                n, i = _varint(b, i)
                strings[s] = b[i:i + n].decode()
                i += n
        if presence & (1 << 10):
            i += 8
        if presence & (1 << 11):
            _, i = _varint(b, i)
        yield kind, strings


@pytest.mark.timeout(120)
def test_disk_full_send_answered_500_leaves_no_trace_hop(tmp_path):
    """A send's trace hop and its NumberOfMessagesSent count are recorded
    only once its message is committed: a send answered 500 (its transaction
    rolled back, disk full) has no send hop and is not counted, and every
    acknowledged send has exactly one hop (observe.db is not capped, so it
    takes every hop it is given) and one count."""
    if not sluice_binary().exists():
        pytest.skip("needs the sluice binary; set SLUICE_BIN")
    server = _start(tmp_path, DISK_BYTES)
    lock = threading.Lock()
    acked_ids, failures, other = set(), [0], []
    try:
        url = make_client(server.endpoint).create_queue(QueueName="full")["QueueUrl"]

        def sender(t):
            sqs = make_client(server.endpoint)
            fails = 0
            i = 0
            while fails < 20:
                i += 1
                try:
                    mid = sqs.send_message(QueueUrl=url, MessageBody=f"m-{t}-{i}-{BODY_PAD}")["MessageId"]
                    with lock:
                        acked_ids.add(mid)
                except ClientError as e:
                    fails += 1
                    with lock:
                        if _status(e) == 500:
                            failures[0] += 1
                        else:
                            other.append(e.response)

        threads = [threading.Thread(target=sender, args=(t,)) for t in range(THREADS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=90)
        assert not other, other[:3]
        assert acked_ids, "no send was acknowledged"
        assert failures[0] > 0, "the database never filled up"
        # The counters wait for the commit as the hops do: NumberOfMessagesSent
        # counts the sends answered 200, not the ones answered 500.
        sent = _sum_metric(server.endpoint, "NumberOfMessagesSent")
        assert sent == len(acked_ids), f"NumberOfMessagesSent {sent}, sends answered 200 {len(acked_ids)}, " \
                                       f"answered 500 {failures[0]}"
    finally:
        server.stop()  # flushes observe.db

    db = sqlite3.connect(str(tmp_path / "data" / "observe.db"))
    try:
        blobs = [row[0] for row in db.execute("SELECT hops FROM trace_segs ORDER BY id")]
    finally:
        db.close()
    hops = {}
    for blob in blobs:
        for kind, strings in _segment_hops(blob):
            if kind == SEND and strings.get(A) == "full":
                mid = strings[MESSAGE]
                hops[mid] = hops.get(mid, 0) + 1
    stray = set(hops) - acked_ids
    assert not stray, f"{len(stray)} send hops of sends answered 500, e.g. {sorted(stray)[:3]}"
    assert set(hops) == acked_ids, f"{len(acked_ids - set(hops))} acknowledged sends have no send hop"
    assert all(n == 1 for n in hops.values())


def _sum_metric(endpoint, name, queue="full"):
    """The Sum of an AWS/SQS metric of queue over the last hour."""
    cw = boto3.session.Session().client(
        "cloudwatch", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test",
        endpoint_url=endpoint, config=Config(retries={"max_attempts": 1}))
    now = datetime.now(timezone.utc)
    points = cw.get_metric_statistics(
        Namespace="AWS/SQS", MetricName=name, Dimensions=[{"Name": "QueueName", "Value": queue}],
        StartTime=now - timedelta(hours=1), EndTime=now + timedelta(minutes=5), Period=3600,
        Statistics=["Sum"])["Datapoints"]
    return sum(p["Sum"] for p in points)


def _chain(endpoint, msg_id):
    try:
        with urllib.request.urlopen(f"{endpoint}/_sluice/traces/{msg_id}", timeout=10) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        assert e.code == 404, e
        return {"hops": []}


@pytest.mark.timeout(180)
def test_disk_full_receive_and_delete_answered_500_leave_no_trace_hop(tmp_path):
    """Receive, delete and dead-letter hops wait for their commit as a send's
    does: a receive or delete answered 500 (rolled back, disk full) leaves no
    hop, so each message's chain has exactly the receives (by receive count)
    and the delete its client saw succeed. Before, each hop was recorded when
    the statement ran: a failed receive left a receive hop whose receive
    count the next successful receive then had again."""
    if not sluice_binary().exists():
        pytest.skip("needs the sluice binary; set SLUICE_BIN")
    server = _start(tmp_path, DISK_BYTES)
    seen = {}  # message id -> receive counts the client got
    deleted, receive_failures, delete_failures = set(), [0], [0]
    lock = threading.Lock()
    try:
        sqs = make_client(server.endpoint)
        url = sqs.create_queue(QueueName="full")["QueueUrl"]
        acked, fails = set(), 0
        while fails < 5:
            try:
                acked.add(sqs.send_message(QueueUrl=url, MessageBody=f"m-{len(acked)}-{BODY_PAD}")["MessageId"])
            except ClientError as e:
                assert _status(e) == 500, e.response
                fails += 1
        assert acked, "no send was acknowledged"

        def consumer(t):
            c = make_client(server.endpoint)
            for _ in range(20):
                try:
                    r = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                          AttributeNames=["ApproximateReceiveCount"])
                except ClientError as e:
                    assert _status(e) == 500, e.response
                    with lock:
                        receive_failures[0] += 1
                    continue
                for m in r.get("Messages", []):
                    with lock:
                        seen.setdefault(m["MessageId"], []).append(int(m["Attributes"]["ApproximateReceiveCount"]))
                    if t % 2:
                        continue
                    try:
                        c.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                        with lock:
                            deleted.add(m["MessageId"])
                    except ClientError as e:
                        assert _status(e) == 500, e.response
                        with lock:
                            delete_failures[0] += 1

        threads = [threading.Thread(target=consumer, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=150)
        assert receive_failures[0] + delete_failures[0] > 0, "the full database never refused a receive or delete"
        # NumberOfMessagesReceived / Deleted count what the clients got, not
        # the receives and deletes answered 500.
        assert _sum_metric(server.endpoint, "NumberOfMessagesReceived") == sum(len(v) for v in seen.values())
        assert _sum_metric(server.endpoint, "NumberOfMessagesDeleted") == len(deleted)
        # Read the chains from a sluice without the cap (observe.db is kept).
        server.stop()
        server = _start(tmp_path, None)
        for mid in acked:
            hops = _chain(server.endpoint, mid)["hops"]
            counts = sorted(h["receive_count"] for h in hops if h["kind"] == "receive")
            assert counts == sorted(seen.get(mid, [])), (mid, counts, seen.get(mid))
            deletes = [h for h in hops if h["kind"] == "delete"]
            assert len(deletes) == (1 if mid in deleted else 0), (mid, deletes)
    finally:
        server.stop()
