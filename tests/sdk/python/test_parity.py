"""AWS parity beyond the basics, through boto3 (query protocol): fair queues
(MessageGroupId on standard queues), the PurgeQueue and delete/re-create
cool-downs and their switches, retention, delays and visibility driven by
sluice's clock, per-entry size failures, RedriveAllowPolicy, and the
/_sluice/clock endpoint itself (sqs.md §1.2, §4.4, §4.5, §4.9, §6.3 items
4, 6, 13, 14, 24).

Everything that moves the clock runs on `clocked`, a private server of this
module; `lenient` runs with the sqs: switches off."""
import json
import threading
import time

import pytest

from sluice_helpers import (NON_EXISTENT_QUEUE, NON_EXISTENT_QUEUE_MSG, aws_error, clock_call, counts, queue_arn,
                            queue_attrs, receive, receive_one)

pytestmark = pytest.mark.timeout(30)

LENIENT_CONFIG = "sqs:\n  purge_cooldown: false\n  recreate_cooldown: false\n  in_flight_limit: false\n"
PURGE_IN_PROGRESS = "AWS.SimpleQueueService.PurgeQueueInProgress"
DELETED_RECENTLY = "AWS.SimpleQueueService.QueueDeletedRecently"
DELETED_RECENTLY_MSG = ("You must wait 60 seconds after deleting a queue before you can create another with the "
                        "same name.")
GROUP_ID_RULE = "can only include alphanumeric and punctuation characters. 1 to 128 in length."


@pytest.fixture(scope="module")
def clocked(private_server):
    return private_server()


@pytest.fixture(scope="module")
def lenient(private_server):
    return private_server(LENIENT_CONFIG)


def purge_message(name):
    return f"Only one PurgeQueue operation on {name} is allowed every 60 seconds."


def redrive(dlq_arn, count=3):
    return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": count})


# ----------------------------------------------------------------- fair queues

def test_parity_fair_queue_group_id_round_trips(sqs, new_queue):
    q = new_queue()
    sent = sqs.send_message(QueueUrl=q.url, MessageBody="tenant message", MessageGroupId="test")
    assert "SequenceNumber" not in sent
    m = receive_one(sqs, q.url, AttributeNames=["All"])
    assert m["MessageId"] == sent["MessageId"]
    assert m["Attributes"]["MessageGroupId"] == "test"
    assert "SequenceNumber" not in m["Attributes"]
    assert "MessageDeduplicationId" not in m["Attributes"]
    # MessageGroupId alone can be asked for
    sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    m2 = receive_one(sqs, q.url, AttributeNames=["MessageGroupId"])
    assert m2["Attributes"] == {"MessageGroupId": "test"}


def test_parity_fair_queue_batch_and_no_dedup(sqs, new_queue):
    q = new_queue()
    resp = sqs.send_message_batch(QueueUrl=q.url, Entries=[
        {"Id": "a", "MessageBody": "same", "MessageGroupId": "t1"},
        {"Id": "b", "MessageBody": "same", "MessageGroupId": "t1"},
        {"Id": "c", "MessageBody": "other", "MessageGroupId": "t2"},
    ])
    assert resp.get("Failed", []) == []
    assert len(resp["Successful"]) == 3
    for entry in resp["Successful"]:
        assert "SequenceNumber" not in entry
    assert len({e["MessageId"] for e in resp["Successful"]}) == 3
    # no de-duplication on a standard queue: identical bodies in one group are two messages
    again = sqs.send_message(QueueUrl=q.url, MessageBody="same", MessageGroupId="t1")
    assert again["MessageId"] not in {e["MessageId"] for e in resp["Successful"]}
    assert counts(sqs, q.url) == (4, 0, 0)
    msgs = []
    for _ in range(5):
        msgs += receive(sqs, q.url, MaxNumberOfMessages=10, AttributeNames=["MessageGroupId"], VisibilityTimeout=60)
        if len(msgs) >= 4:
            break
    assert sorted(m["Attributes"]["MessageGroupId"] for m in msgs) == ["t1", "t1", "t1", "t2"]


def test_parity_fair_queue_group_messages_in_parallel(sqs, new_queue):
    """Unlike FIFO, a group on a standard queue is not locked while in flight."""
    q = new_queue()
    for i in range(3):
        sqs.send_message(QueueUrl=q.url, MessageBody=f"m{i}", MessageGroupId="g")
    got = []
    for _ in range(5):
        got += receive(sqs, q.url, MaxNumberOfMessages=1, VisibilityTimeout=60)
        if len(got) == 3:
            break
    assert sorted(m["Body"] for m in got) == ["m0", "m1", "m2"]


@pytest.mark.parametrize("value", ["", "a" * 129, "group 123"], ids=["empty", "129-chars", "space"])
def test_parity_fair_queue_invalid_group_id(sqs, new_queue, value):
    q = new_queue()
    with aws_error("InvalidParameterValue", 400,
                   f"Value {value} for parameter MessageGroupId is invalid. Reason: MessageGroupId {GROUP_ID_RULE}"):
        sqs.send_message(QueueUrl=q.url, MessageBody="x", MessageGroupId=value)
    assert counts(sqs, q.url) == (0, 0, 0)


def test_parity_fair_queue_busy_group_does_not_starve_another(sqs, new_queue):
    q = new_queue()
    for chunk in range(5):
        resp = sqs.send_message_batch(QueueUrl=q.url, Entries=[
            {"Id": str(i), "MessageBody": f"noisy-{chunk}-{i}", "MessageGroupId": "noisy"} for i in range(10)])
        assert resp.get("Failed", []) == []
    quiet = sqs.send_message(QueueUrl=q.url, MessageBody="quiet", MessageGroupId="quiet")
    seen = []
    for _ in range(2):  # 20 of 51 messages: oldest-first dispatch would return only noisy ones
        seen += receive(sqs, q.url, MaxNumberOfMessages=10, VisibilityTimeout=300)
    assert quiet["MessageId"] in {m["MessageId"] for m in seen}, \
        "the quiet tenant's message waited behind the noisy tenant's backlog"


# ------------------------------------------------------------------- purge

def test_parity_purge_queue_in_progress(clocked, unique_name):
    sqs = clocked.sqs
    q = clocked.create_queue(unique_name())
    sqs.send_message(QueueUrl=q.url, MessageBody="x")
    sqs.purge_queue(QueueUrl=q.url)
    assert counts(sqs, q.url) == (0, 0, 0)
    with aws_error(PURGE_IN_PROGRESS, 403, purge_message(q.name)):
        sqs.purge_queue(QueueUrl=q.url)
    clocked.clock.advance(59)
    with aws_error(PURGE_IN_PROGRESS, 403, purge_message(q.name)):
        sqs.purge_queue(QueueUrl=q.url)
    clocked.clock.advance(2)  # 61 s after the first purge
    sqs.send_message(QueueUrl=q.url, MessageBody="y")
    resp = sqs.purge_queue(QueueUrl=q.url)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert counts(sqs, q.url) == (0, 0, 0)
    with aws_error(PURGE_IN_PROGRESS, 403, purge_message(q.name)):
        sqs.purge_queue(QueueUrl=q.url)


def test_parity_purge_cooldown_is_per_queue(clocked, unique_name):
    sqs = clocked.sqs
    a = clocked.create_queue(unique_name("a"))
    b = clocked.create_queue(unique_name("b"))
    sqs.purge_queue(QueueUrl=a.url)
    sqs.purge_queue(QueueUrl=b.url)
    with aws_error(PURGE_IN_PROGRESS, 403, purge_message(a.name)):
        sqs.purge_queue(QueueUrl=a.url)


def test_parity_purge_twice_allowed_with_switch_off(lenient, unique_name):
    sqs = lenient.sqs
    q = lenient.create_queue(unique_name())
    sqs.send_message(QueueUrl=q.url, MessageBody="x")
    sqs.purge_queue(QueueUrl=q.url)
    sqs.send_message(QueueUrl=q.url, MessageBody="y")
    sqs.purge_queue(QueueUrl=q.url)
    assert counts(sqs, q.url) == (0, 0, 0)


# ------------------------------------------------------- delete and re-create

def test_parity_queue_deleted_recently(clocked, unique_name):
    sqs = clocked.sqs
    name = unique_name()
    q = clocked.create_queue(name)
    sqs.send_message(QueueUrl=q.url, MessageBody="from the old queue")
    sqs.delete_queue(QueueUrl=q.url)
    with aws_error(DELETED_RECENTLY, 400, DELETED_RECENTLY_MSG):
        sqs.create_queue(QueueName=name)
    with aws_error(NON_EXISTENT_QUEUE, 400, NON_EXISTENT_QUEUE_MSG):
        sqs.get_queue_url(QueueName=name)
    clocked.clock.advance(59)
    with aws_error(DELETED_RECENTLY, 400, DELETED_RECENTLY_MSG):
        sqs.create_queue(QueueName=name, Attributes={"DelaySeconds": "1"})
    clocked.clock.advance(2)  # 61 s after the delete
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    assert url == q.url
    assert counts(sqs, url) == (0, 0, 0), "the new queue must not inherit the old one's messages"


def test_parity_deleted_recently_is_per_name(clocked, unique_name):
    sqs = clocked.sqs
    q = clocked.create_queue(unique_name("gone"))
    sqs.delete_queue(QueueUrl=q.url)
    other = clocked.create_queue(unique_name("other"))
    assert other.url.endswith("/" + other.name)


def test_parity_recreate_allowed_with_switch_off(lenient, unique_name):
    sqs = lenient.sqs
    name = unique_name()
    q = lenient.create_queue(name)
    sqs.send_message(QueueUrl=q.url, MessageBody="old")
    sqs.delete_queue(QueueUrl=q.url)
    again = lenient.create_queue(name, {"DelaySeconds": 0})
    assert again.url == q.url
    assert counts(sqs, again.url) == (0, 0, 0)


def test_parity_switches_off_together(lenient, unique_name):
    sqs = lenient.sqs
    name = unique_name()
    q = lenient.create_queue(name)
    sqs.purge_queue(QueueUrl=q.url)
    sqs.purge_queue(QueueUrl=q.url)
    sqs.delete_queue(QueueUrl=q.url)
    q2 = lenient.create_queue(name)
    sqs.purge_queue(QueueUrl=q2.url)
    sqs.purge_queue(QueueUrl=q2.url)


# --------------------------------------------------------------- retention

def test_parity_retention_expires_visible_and_in_flight(clocked, unique_name):
    sqs = clocked.sqs
    q = clocked.create_queue(unique_name(), {"MessageRetentionPeriod": 60})
    sqs.send_message(QueueUrl=q.url, MessageBody="one")
    sqs.send_message(QueueUrl=q.url, MessageBody="two")
    in_flight = receive_one(sqs, q.url, wait=0, VisibilityTimeout=600)
    assert counts(sqs, q.url) == (1, 1, 0)
    clocked.clock.advance(59)
    assert counts(sqs, q.url) == (1, 1, 0)
    clocked.clock.advance(2)
    assert counts(sqs, q.url) == (0, 0, 0)
    assert receive(sqs, q.url, MaxNumberOfMessages=10) == []
    # the in-flight message is gone for good: making it visible brings nothing back
    try:
        sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=in_flight["ReceiptHandle"],
                                      VisibilityTimeout=0)
    except Exception:
        pass
    assert receive(sqs, q.url, MaxNumberOfMessages=10) == []
    assert counts(sqs, q.url) == (0, 0, 0)


def test_parity_expired_message_cannot_change_visibility(clocked, unique_name):
    """Past its retention the message no longer exists: ChangeMessageVisibility
    answers as for a deleted message (sqs.md §6.3 item 18)."""
    sqs = clocked.sqs
    q = clocked.create_queue(unique_name(), {"MessageRetentionPeriod": 60})
    sqs.send_message(QueueUrl=q.url, MessageBody="x")
    handle = receive_one(sqs, q.url, wait=0, VisibilityTimeout=600)["ReceiptHandle"]
    clocked.clock.advance(61)
    with aws_error("InvalidParameterValue", 400,
                   f"Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is "
                   f"not available for visibility timeout change."):
        sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=handle, VisibilityTimeout=0)


def test_parity_lowering_retention_expires_old_messages(clocked, unique_name):
    """AWS applies a lowered MessageRetentionPeriod to messages already in the
    queue (it may take up to 15 minutes); advance past that so either way passes."""
    sqs = clocked.sqs
    q = clocked.create_queue(unique_name())  # 4 days
    sqs.send_message(QueueUrl=q.url, MessageBody="old")
    clocked.clock.advance(1000)
    sqs.set_queue_attributes(QueueUrl=q.url, Attributes={"MessageRetentionPeriod": "960"})
    sqs.send_message(QueueUrl=q.url, MessageBody="new")
    clocked.clock.advance(901)  # old: 1901 s, new: 901 s, under the new period of 960 s
    assert counts(sqs, q.url) == (1, 0, 0)
    assert [m["Body"] for m in receive(sqs, q.url, MaxNumberOfMessages=10)] == ["new"]


# --------------------------------------------------------- delays and visibility

def test_parity_queue_delay_via_clock(clocked, unique_name):
    sqs = clocked.sqs
    q = clocked.create_queue(unique_name(), {"DelaySeconds": 300})
    sent = sqs.send_message(QueueUrl=q.url, MessageBody="later")
    assert counts(sqs, q.url) == (0, 0, 1)
    clocked.clock.advance(299)
    assert counts(sqs, q.url) == (0, 0, 1)
    assert receive(sqs, q.url) == []
    clocked.clock.advance(2)
    assert counts(sqs, q.url) == (1, 0, 0)
    assert [m["MessageId"] for m in receive(sqs, q.url)] == [sent["MessageId"]]


def test_parity_message_delay_via_clock(clocked, unique_name):
    sqs = clocked.sqs
    q = clocked.create_queue(unique_name())
    sqs.send_message(QueueUrl=q.url, MessageBody="max delay", DelaySeconds=900)
    sqs.send_message(QueueUrl=q.url, MessageBody="now")
    assert counts(sqs, q.url) == (1, 0, 1)
    clocked.clock.advance(899)
    assert counts(sqs, q.url) == (1, 0, 1)
    clocked.clock.advance(2)
    assert counts(sqs, q.url) == (2, 0, 0)


def test_parity_visibility_timeout_via_clock(clocked, unique_name):
    sqs = clocked.sqs
    q = clocked.create_queue(unique_name())
    sqs.send_message(QueueUrl=q.url, MessageBody="x")
    receive_one(sqs, q.url, wait=0, VisibilityTimeout=600)
    clocked.clock.advance(599)
    assert counts(sqs, q.url) == (0, 1, 0)
    assert receive(sqs, q.url) == []
    clocked.clock.advance(2)
    assert counts(sqs, q.url) == (1, 0, 0)
    m = receive_one(sqs, q.url, wait=0, AttributeNames=["ApproximateReceiveCount"], VisibilityTimeout=100)
    assert m["Attributes"]["ApproximateReceiveCount"] == "2"
    # ChangeMessageVisibility counts from the call
    clocked.clock.advance(50)
    sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=100)
    clocked.clock.advance(60)  # 110 s after the receive, 60 s after the change
    assert counts(sqs, q.url) == (0, 1, 0)
    clocked.clock.advance(41)
    assert counts(sqs, q.url) == (1, 0, 0)


def test_parity_queue_visibility_default_via_clock(clocked, unique_name):
    sqs = clocked.sqs
    q = clocked.create_queue(unique_name())  # VisibilityTimeout 30
    sqs.send_message(QueueUrl=q.url, MessageBody="x")
    receive_one(sqs, q.url, wait=0)
    clocked.clock.advance(29)
    assert counts(sqs, q.url) == (0, 1, 0)
    clocked.clock.advance(2)
    assert counts(sqs, q.url) == (1, 0, 0)


def _long_poll_in_thread(client, url, wait):
    result = {}

    def poll():
        try:
            result["messages"] = receive(client, url, WaitTimeSeconds=wait)
        except Exception as exc:  # reported by the caller
            result["error"] = exc
        result["at"] = time.monotonic()

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    return thread, result


def test_parity_long_poll_wakes_when_clock_ends_a_delay(clocked, unique_name):
    sqs = clocked.sqs
    q = clocked.create_queue(unique_name(), {"DelaySeconds": 300})
    sent = sqs.send_message(QueueUrl=q.url, MessageBody="due after the advance")
    thread, result = _long_poll_in_thread(clocked.new_client(), q.url, 10)
    time.sleep(0.5)
    assert "at" not in result, "the long poll returned before the delay ended"
    advanced_at = time.monotonic()
    clocked.clock.advance(301)
    thread.join(timeout=15)
    assert "error" not in result, result.get("error")
    assert [m["MessageId"] for m in result["messages"]] == [sent["MessageId"]]
    assert result["at"] - advanced_at < 3.0, f"returned {result['at'] - advanced_at:.2f}s after the advance"


def test_parity_long_poll_wakes_when_clock_ends_visibility(clocked, unique_name):
    sqs = clocked.sqs
    q = clocked.create_queue(unique_name())
    sent = sqs.send_message(QueueUrl=q.url, MessageBody="comes back")
    receive_one(sqs, q.url, wait=0, VisibilityTimeout=600)
    thread, result = _long_poll_in_thread(clocked.new_client(), q.url, 10)
    time.sleep(0.5)
    assert "at" not in result, "the long poll returned while the message was in flight"
    advanced_at = time.monotonic()
    clocked.clock.advance(601)
    thread.join(timeout=15)
    assert "error" not in result, result.get("error")
    assert [m["MessageId"] for m in result["messages"]] == [sent["MessageId"]]
    assert result["at"] - advanced_at < 3.0, f"returned {result['at'] - advanced_at:.2f}s after the advance"


# ------------------------------------------------------------------ message size

def test_parity_maximum_message_size_set_later(sqs, new_queue):
    q = new_queue()
    sqs.set_queue_attributes(QueueUrl=q.url, Attributes={"MaximumMessageSize": "1024"})
    assert queue_attrs(sqs, q.url, "MaximumMessageSize") == {"MaximumMessageSize": "1024"}
    with aws_error("InvalidParameterValue", 400,
                   "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes."):
        sqs.send_message(QueueUrl=q.url, MessageBody="a" * 1025)
    resp = sqs.send_message_batch(QueueUrl=q.url, Entries=[
        {"Id": "fits", "MessageBody": "a" * 1024},
        {"Id": "too-big", "MessageBody": "b" * 1025},
        {"Id": "attrs-too-big", "MessageBody": "c" * 1020,
         "MessageAttributes": {"attr": {"DataType": "String", "StringValue": "v" * 20}}},
        {"Id": "small", "MessageBody": "d"},
    ])
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert sorted(e["Id"] for e in resp["Successful"]) == ["fits", "small"]
    failed = sorted(resp["Failed"], key=lambda e: e["Id"])
    reason = "One or more parameters cannot be validated. Reason: Message must be shorter than 1024 bytes."
    assert failed == [
        {"Id": "attrs-too-big", "SenderFault": True, "Code": "InvalidParameterValue", "Message": reason},
        {"Id": "too-big", "SenderFault": True, "Code": "InvalidParameterValue", "Message": reason},
    ]
    assert counts(sqs, q.url) == (2, 0, 0)


# ------------------------------------------------------------ RedriveAllowPolicy

def test_parity_redrive_allow_policy_deny_all(sqs, new_queue, unique_name):
    dlq = new_queue("dlq", attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "denyAll"})})
    src = new_queue("src")
    with aws_error("InvalidParameterValue", 400, message_contains="RedrivePolicy"):
        sqs.set_queue_attributes(QueueUrl=src.url, Attributes={"RedrivePolicy": redrive(dlq.arn)})
    assert "RedrivePolicy" not in queue_attrs(sqs, src.url, "All")
    name = unique_name("src2")
    with aws_error("InvalidParameterValue", 400, message_contains="RedrivePolicy"):
        sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": redrive(dlq.arn)})
    with aws_error(NON_EXISTENT_QUEUE, 400, NON_EXISTENT_QUEUE_MSG):
        sqs.get_queue_url(QueueName=name)


def test_parity_redrive_allow_policy_by_queue(sqs, new_queue, unique_name):
    allowed_name = unique_name("allowed")
    dlq = new_queue("dlq", attributes={"RedriveAllowPolicy": json.dumps({
        "redrivePermission": "byQueue", "sourceQueueArns": [queue_arn(allowed_name)]})})
    other = new_queue("other")
    with aws_error("InvalidParameterValue", 400, message_contains="RedrivePolicy"):
        sqs.set_queue_attributes(QueueUrl=other.url, Attributes={"RedrivePolicy": redrive(dlq.arn)})
    # the named source may use it, at creation and later
    allowed = new_queue(name=allowed_name, attributes={"RedrivePolicy": redrive(dlq.arn)})
    assert json.loads(queue_attrs(sqs, allowed.url, "RedrivePolicy")["RedrivePolicy"])["deadLetterTargetArn"] \
        == dlq.arn
    sqs.set_queue_attributes(QueueUrl=allowed.url, Attributes={"RedrivePolicy": redrive(dlq.arn, 5)})


def test_parity_redrive_allow_policy_allow_all_and_default(sqs, new_queue):
    open_dlq = new_queue("open", attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "allowAll"})})
    plain_dlq = new_queue("plain")
    src = new_queue("src", attributes={"RedrivePolicy": redrive(open_dlq.arn)})
    sqs.set_queue_attributes(QueueUrl=src.url, Attributes={"RedrivePolicy": redrive(plain_dlq.arn)})
    policy = json.loads(queue_attrs(sqs, open_dlq.url, "RedriveAllowPolicy")["RedriveAllowPolicy"])
    assert policy["redrivePermission"] == "allowAll"


def test_parity_redrive_allow_policy_applies_to_later_changes(sqs, new_queue):
    dlq = new_queue("dlq")
    src = new_queue("src")
    sqs.set_queue_attributes(QueueUrl=dlq.url, Attributes={
        "RedriveAllowPolicy": json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [src.arn]})})
    sqs.set_queue_attributes(QueueUrl=src.url, Attributes={"RedrivePolicy": redrive(dlq.arn)})
    intruder = new_queue("intruder")
    with aws_error("InvalidParameterValue", 400, message_contains="RedrivePolicy"):
        sqs.set_queue_attributes(QueueUrl=intruder.url, Attributes={"RedrivePolicy": redrive(dlq.arn)})


# ------------------------------------------------------------ the clock endpoint

def test_parity_clock_endpoint_get(endpoint):
    before = int(time.time() * 1000)
    status, doc = clock_call(endpoint)
    after = int(time.time() * 1000)
    assert status == 200, doc
    assert isinstance(doc, dict) and set(doc) >= {"now_ms", "offset_ms"}, doc
    assert isinstance(doc["now_ms"], int) and isinstance(doc["offset_ms"], (int, float))
    assert before - 1000 <= doc["now_ms"] - doc["offset_ms"] <= after + 1000


def test_parity_clock_endpoint_advance(clocked):
    start = clocked.clock.get()
    status, doc = clock_call(clocked.endpoint, "POST", {"advance_seconds": 1.5})
    assert status == 200, doc
    assert doc["offset_ms"] - start["offset_ms"] == 1500
    assert doc["now_ms"] - start["now_ms"] >= 1500
    status, doc0 = clock_call(clocked.endpoint, "POST", {"advance_seconds": 0})
    assert status == 200, doc0
    assert doc0["offset_ms"] == doc["offset_ms"]
    status, got = clock_call(clocked.endpoint)
    assert status == 200 and got["offset_ms"] == doc["offset_ms"]
    assert got["now_ms"] >= doc["now_ms"]


@pytest.mark.parametrize("body", [
    '{"advance_seconds": -1}',
    '{"advance_seconds": "ten"}',
    '{"advance_seconds": null}',
    '{}',
    '[]',
    'not json',
    '',
], ids=["negative", "string", "null", "missing", "array", "not-json", "empty"])
def test_parity_clock_endpoint_rejects_bad_bodies(clocked, body):
    before = clocked.clock.get()["offset_ms"]
    status, doc = clock_call(clocked.endpoint, "POST", raw_body=body)
    assert status == 400, (status, doc)
    assert isinstance(doc, dict) and isinstance(doc.get("error"), str) and doc["error"], doc
    assert clocked.clock.get()["offset_ms"] == before, "a rejected request must not move the clock"


def test_parity_clock_drives_message_timestamps(clocked, unique_name):
    sqs = clocked.sqs
    q = clocked.create_queue(unique_name())
    now = clocked.clock.advance(3600)["now_ms"]
    sqs.send_message(QueueUrl=q.url, MessageBody="x")
    m = receive_one(sqs, q.url, wait=0, AttributeNames=["All"])
    sent_ts = int(m["Attributes"]["SentTimestamp"])
    first_ts = int(m["Attributes"]["ApproximateFirstReceiveTimestamp"])
    assert now <= sent_ts <= now + 5000, (now, sent_ts)
    assert sent_ts <= first_ts <= now + 5000, (now, first_ts)
    created = int(queue_attrs(sqs, q.url, "CreatedTimestamp")["CreatedTimestamp"])
    assert created <= now // 1000
