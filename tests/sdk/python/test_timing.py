"""Time-driven behaviour: long polling (wake-up and empty waits), delays,
visibility expiry, and dead-letter redrive at receive time."""
import json
import threading
import time

import pytest

from sluice_helpers import counts, receive, receive_one


def test_long_poll_wakes_on_send_from_another_client(sqs, new_queue, client_factory):
    q = new_queue()
    waiter = client_factory()
    result = {}

    def poll():
        t0 = time.monotonic()
        try:
            result["messages"] = receive(waiter, q.url, WaitTimeSeconds=10)
        except Exception as exc:  # reported below
            result["error"] = exc
        result["returned_at"] = time.monotonic()
        result["started_at"] = t0

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    time.sleep(1.0)
    assert "returned_at" not in result, "an empty long poll must wait"
    sender = client_factory()
    sent_at = time.monotonic()
    sent = sender.send_message(QueueUrl=q.url, MessageBody="wake up")
    thread.join(timeout=15)
    assert not thread.is_alive(), "long poll did not return"
    assert "error" not in result, result.get("error")
    assert [m["MessageId"] for m in result["messages"]] == [sent["MessageId"]]
    elapsed = result["returned_at"] - sent_at
    assert elapsed < 3.0, f"long poll returned {elapsed:.2f}s after the send"


def test_empty_long_poll_waits_the_full_time(sqs, new_queue):
    q = new_queue()
    t0 = time.monotonic()
    resp = sqs.receive_message(QueueUrl=q.url, WaitTimeSeconds=2)
    elapsed = time.monotonic() - t0
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "Messages" not in resp
    assert 1.9 <= elapsed < 4.0, f"empty 2 s long poll took {elapsed:.2f}s"


def test_queue_receive_wait_time_applies_when_parameter_absent(sqs, new_queue):
    q = new_queue(attributes={"ReceiveMessageWaitTimeSeconds": 2})
    t0 = time.monotonic()
    assert receive(sqs, q.url) == []
    elapsed = time.monotonic() - t0
    assert 1.9 <= elapsed < 4.0, f"queue-level 2 s wait took {elapsed:.2f}s"
    # an explicit WaitTimeSeconds=0 overrides it: short poll
    t0 = time.monotonic()
    assert receive(sqs, q.url, WaitTimeSeconds=0) == []
    assert time.monotonic() - t0 < 1.0


def test_long_poll_with_messages_present_returns_at_once(sqs, new_queue):
    q = new_queue()
    sqs.send_message(QueueUrl=q.url, MessageBody="one")
    sqs.send_message(QueueUrl=q.url, MessageBody="two")
    t0 = time.monotonic()
    msgs = receive(sqs, q.url, WaitTimeSeconds=10, MaxNumberOfMessages=10)
    assert 1 <= len(msgs) <= 2
    assert time.monotonic() - t0 < 2.0, "a long poll with fewer messages than asked must not block"


def test_long_poll_wakes_when_delay_ends(sqs, new_queue):
    q = new_queue()
    sent = sqs.send_message(QueueUrl=q.url, MessageBody="soon", DelaySeconds=1)
    t0 = time.monotonic()
    msgs = receive(sqs, q.url, WaitTimeSeconds=5)
    elapsed = time.monotonic() - t0
    assert [m["MessageId"] for m in msgs] == [sent["MessageId"]]
    assert 0.5 <= elapsed < 3.0, f"returned after {elapsed:.2f}s for a 1 s delay"


def test_long_poll_wakes_when_visibility_expires(sqs, new_queue):
    q = new_queue()
    sqs.send_message(QueueUrl=q.url, MessageBody="retry me")
    first = receive_one(sqs, q.url, VisibilityTimeout=1)
    t0 = time.monotonic()
    msgs = receive(sqs, q.url, WaitTimeSeconds=5)
    elapsed = time.monotonic() - t0
    assert [m["MessageId"] for m in msgs] == [first["MessageId"]]
    assert elapsed < 3.0


def test_long_poll_follows_a_shortened_visibility_timeout(sqs, new_queue, client_factory):
    """A parked long poll is woken when ChangeMessageVisibility moves the
    message's deadline earlier (not only to 0): the queue's timer was armed
    for the old, 30 s deadline."""
    q = new_queue()
    sqs.send_message(QueueUrl=q.url, MessageBody="sooner")
    first = receive_one(sqs, q.url, VisibilityTimeout=30)
    waiter = client_factory()
    result = {}

    def poll():
        result["messages"] = receive(waiter, q.url, WaitTimeSeconds=8)
        result["returned_at"] = time.monotonic()

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    time.sleep(0.5)
    changed_at = time.monotonic()
    sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=1)
    thread.join(timeout=12)
    assert not thread.is_alive(), "long poll did not return"
    assert [m["MessageId"] for m in result["messages"]] == [first["MessageId"]]
    elapsed = result["returned_at"] - changed_at
    assert elapsed < 3.0, f"long poll returned {elapsed:.2f}s after a change to 1 s"


def test_message_delay_seconds(sqs, new_queue):
    q = new_queue()
    sent = sqs.send_message(QueueUrl=q.url, MessageBody="delayed", DelaySeconds=2)
    assert receive(sqs, q.url) == []
    assert counts(sqs, q.url) == (0, 0, 1)
    time.sleep(1.0)
    assert receive(sqs, q.url) == [], "still delayed after 1 s"
    time.sleep(1.5)
    assert counts(sqs, q.url) == (1, 0, 0)
    msg = receive_one(sqs, q.url, AttributeNames=["All"])
    assert msg["MessageId"] == sent["MessageId"]
    assert msg["Attributes"]["ApproximateReceiveCount"] == "1"


def test_message_delay_overrides_queue_delay(sqs, new_queue):
    q = new_queue(attributes={"DelaySeconds": 60})
    sqs.send_message(QueueUrl=q.url, MessageBody="now", DelaySeconds=0)
    sqs.send_message(QueueUrl=q.url, MessageBody="queue default")
    assert counts(sqs, q.url) == (1, 0, 1)
    assert [m["Body"] for m in receive(sqs, q.url, MaxNumberOfMessages=10)] == ["now"]


def test_visibility_expiry_redelivers_with_new_handle(sqs, new_queue):
    q = new_queue()
    sent = sqs.send_message(QueueUrl=q.url, MessageBody="flaky")
    first = receive_one(sqs, q.url, VisibilityTimeout=1, AttributeNames=["All"])
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    assert receive(sqs, q.url) == []
    time.sleep(1.5)
    second = receive_one(sqs, q.url, wait=1, AttributeNames=["All"])
    assert second["MessageId"] == sent["MessageId"]
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    assert second["Attributes"]["ApproximateFirstReceiveTimestamp"] == first["Attributes"]["ApproximateFirstReceiveTimestamp"]
    # the newest handle deletes it for good
    sqs.delete_message(QueueUrl=q.url, ReceiptHandle=second["ReceiptHandle"])
    assert counts(sqs, q.url) == (0, 0, 0)


@pytest.mark.timeout(30)
def test_dead_letter_redrive_after_max_receive_count(sqs, new_queue):
    dlq = new_queue("dlq")
    src = new_queue("src", attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": "2"})})
    sent = sqs.send_message(QueueUrl=src.url, MessageBody="poison",
                            MessageAttributes={"MyAttribute": {"DataType": "String", "StringValue": "foobar"}})

    for n in (1, 2):
        msg = receive_one(sqs, src.url, VisibilityTimeout=0, AttributeNames=["ApproximateReceiveCount"])
        assert msg["MessageId"] == sent["MessageId"]
        assert msg["Attributes"]["ApproximateReceiveCount"] == str(n)

    # the third attempt exceeds maxReceiveCount: the message moves instead
    assert receive(sqs, src.url, VisibilityTimeout=0) == []
    assert counts(sqs, src.url) == (0, 0, 0)

    moved = receive_one(sqs, dlq.url, wait=5, AttributeNames=["All"], MessageAttributeNames=["All"])
    assert moved["MessageId"] == sent["MessageId"]
    assert moved["Body"] == "poison"
    assert moved["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert moved["MessageAttributes"] == {"MyAttribute": {"DataType": "String", "StringValue": "foobar"}}
    assert moved["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert moved["Attributes"]["DeadLetterQueueSourceArn"] == src.arn


def test_dead_letter_redrive_with_max_receive_count_one(sqs, new_queue):
    dlq = new_queue("dlq")
    src = new_queue("src", attributes={
        "VisibilityTimeout": 0,
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 1})})
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    sent = sqs.send_message(QueueUrl=src.url, MessageBody="test",
                            MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": trace}})
    first = receive(sqs, src.url)
    second = receive(sqs, src.url)
    assert [m["MessageId"] for m in first] == [sent["MessageId"]]
    assert second == []
    moved = receive_one(sqs, dlq.url, wait=5, AttributeNames=["All"])
    assert moved["MessageId"] == sent["MessageId"]
    # AWS snapshot (maxReceiveCount 1): the count carries over, the source is named, the trace header stays
    assert moved["Attributes"]["ApproximateReceiveCount"] == "2"
    assert moved["Attributes"]["DeadLetterQueueSourceArn"] == src.arn
    assert moved["Attributes"]["AWSTraceHeader"] == trace


def test_two_long_polls_one_message(sqs, new_queue, client_factory):
    q = new_queue()
    results = [None, None]

    def poll(i):
        t0 = time.monotonic()
        msgs = receive(client_factory(), q.url, WaitTimeSeconds=3)
        results[i] = (msgs, time.monotonic() - t0)

    threads = [threading.Thread(target=poll, args=(i,), daemon=True) for i in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    sent = sqs.send_message(QueueUrl=q.url, MessageBody="only one")
    for t in threads:
        t.join(timeout=10)
    assert all(r is not None for r in results)
    got = [r for r in results if r[0]]
    empty = [r for r in results if not r[0]]
    assert len(got) == 1 and len(empty) == 1, "exactly one waiter gets the message"
    assert [m["MessageId"] for m in got[0][0]] == [sent["MessageId"]]
    assert got[0][1] < 2.5
    assert empty[0][1] >= 2.9, "the other waiter keeps waiting its full time"
