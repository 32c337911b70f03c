"""Sends spread over many queues (issue 10): a send writes only its row and
its queue's ready/expiry entries are settled later, in batches per queue
(docs/architecture.md, "Pending entries"). Whatever is pending when sluice
dies (SIGKILL) is re-pended at the next start: every acknowledged message
is there, counted and received exactly once."""
import sqlite3
import time
from collections import Counter

from sluice_helpers import SluiceProcess, counts, drain, make_client, receive, sluice_binary

QUEUES = 120


def _send_spread(sqs, urls, rounds):
    """rounds x every queue: a single send, then a batch of 3 (one delayed
    far ahead); returns {queue index: Counter of bodies that can be received now}."""
    sent = {i: Counter() for i in range(len(urls))}
    for r in range(rounds):
        for i, url in enumerate(urls):
            body = f"s-{i}-{r}"
            sqs.send_message(QueueUrl=url, MessageBody=body)
            sent[i][body] += 1
            entries = [{"Id": f"b{k}", "MessageBody": f"b-{i}-{r}-{k}"} for k in range(2)]
            entries.append({"Id": "late", "MessageBody": f"late-{i}-{r}", "DelaySeconds": 900})
            out = sqs.send_message_batch(QueueUrl=url, Entries=entries)
            assert len(out.get("Successful", [])) == 3
            for k in range(2):
                sent[i][f"b-{i}-{r}-{k}"] += 1
    return sent


def test_many_queues_kill_9_then_every_message_once(tmp_path):
    data = tmp_path / "data"
    first = SluiceProcess(sluice_binary(), data, tmp_path / "first.log")
    try:
        sqs = make_client(first.endpoint)
        urls = [sqs.create_queue(QueueName=f"spread-{i:03d}")["QueueUrl"] for i in range(QUEUES)]
        sent = _send_spread(sqs, urls, 2)
        # some received (in flight for 300 s) and some deleted on a few queues
        inflight = {}
        for i in (0, 7, 42):
            got = receive_some(sqs, urls[i], 2)
            sqs.delete_message(QueueUrl=urls[i], ReceiptHandle=got[0]["ReceiptHandle"])
            sent[i][got[0]["Body"]] -= 1
            sent[i][got[1]["Body"]] -= 1
            inflight[i] = got[1]["Body"]
        more = _send_spread(sqs, urls, 1)  # pending again when the kill comes
        for i in more:
            sent[i].update(more[i])
    finally:
        first.kill()

    second = SluiceProcess(sluice_binary(), data, tmp_path / "second.log")
    try:
        sqs = make_client(second.endpoint)
        for i, url in enumerate(urls):
            want = +sent[i]
            visible, not_visible, delayed = counts(sqs, url)
            assert (visible, not_visible, delayed) == (sum(want.values()), 1 if i in inflight else 0, 3), i
            got = drain(sqs, url, expected=sum(want.values()))
            assert Counter(m["Body"] for m in got) == want, i
            assert receive(sqs, url, MaxNumberOfMessages=10, WaitTimeSeconds=0) == []
    finally:
        second.stop()


def _settled(db_path):
    """(rows in ready, rows in expiry, rows in messages, watermark, max seq),
    read by a second connection while sluice runs (WAL: a consistent snapshot)."""
    db = sqlite3.connect(str(db_path), timeout=5)
    try:
        one = lambda q: db.execute(q).fetchone()[0]
        return (one("SELECT count(*) FROM ready"), one("SELECT count(*) FROM expiry"),
                one("SELECT count(*) FROM messages"),
                one("SELECT coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key='settled_seq'), 0)"),
                one("SELECT coalesce(max(seq), 0) FROM messages"))
    finally:
        db.close()


def test_the_sweep_settles_what_no_call_touches(tmp_path):
    """Fewer sends per queue than the per-queue bound (64) and in all than
    the cap: only the once-a-second sweep (actions.c) settles them. Once it
    has, the entries are on disk and a kill -9 leaves nothing to re-pend."""
    data = tmp_path / "data"
    first = SluiceProcess(sluice_binary(), data, tmp_path / "first.log")
    try:
        sqs = make_client(first.endpoint)
        urls = [sqs.create_queue(QueueName=f"sweep-{i:03d}")["QueueUrl"] for i in range(QUEUES)]
        sent = {i: Counter() for i in range(QUEUES)}
        for r in range(3):
            for i, url in enumerate(urls):
                sqs.send_message(QueueUrl=url, MessageBody=f"w-{i}-{r}")
                sent[i][f"w-{i}-{r}"] += 1
        n = 3 * QUEUES
        deadline = time.monotonic() + 30
        while True:
            state = _settled(data / "sluice.db")
            if state[0] == n or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        ready, expiry, rows, watermark, top = state
        assert (ready, expiry, rows) == (n, n, n), state
        assert watermark == top, state
    finally:
        first.kill()
    assert "rows above the watermark settled at start" not in (tmp_path / "first.log").read_text()

    second = SluiceProcess(sluice_binary(), data, tmp_path / "second.log")
    try:
        assert "rows above the watermark settled at start" not in (tmp_path / "second.log").read_text()
        sqs = make_client(second.endpoint)
        for i, url in enumerate(urls):
            assert counts(sqs, url) == (3, 0, 0), i
            got = drain(sqs, url, expected=3)
            assert Counter(m["Body"] for m in got) == sent[i], i
    finally:
        second.stop()


def receive_some(sqs, url, n):
    """Exactly n messages received (hidden for 300 s)."""
    got = []
    while len(got) < n:
        got += receive(sqs, url, MaxNumberOfMessages=n - len(got), VisibilityTimeout=300, WaitTimeSeconds=1)
    return got
