"""FIFO queues through boto3 (query protocol): names and queue-type rules,
MessageGroupId / MessageDeduplicationId rules, de-duplication windows,
SequenceNumber, ordering, group locks, batch fill, delays,
ReceiveRequestAttemptId, receipt-handle expiry, dead-letter queues, purge
and concurrent consumers (sqs.md §1.2, §4.2, §4.4-§4.6, §6.3 items 11-13,
15-17, 19).

Tests that move the clock run on a private server of this module
(`clocked`), so the shared session server's clock never moves; tests that
need AWS's cool-downs off run on `lenient` (sqs: switches set to false)."""
import hashlib
import json
import threading
import time

import pytest

from sluice_helpers import aws_error, counts, queue_attrs, receive, receive_one

pytestmark = pytest.mark.timeout(30)

GROUP_ID_RULE = "can only include alphanumeric and punctuation characters. 1 to 128 in length."
NO_DEDUP_ID = ("The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId "
               "provided explicitly")
NEED_GROUP = "The request must contain the parameter MessageGroupId."
LENIENT_CONFIG = "sqs:\n  purge_cooldown: false\n  recreate_cooldown: false\n  in_flight_limit: false\n"


# --------------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def clocked(private_server):
    """A server of this module's own, whose clock the tests advance."""
    return private_server()


@pytest.fixture(scope="module")
def lenient(private_server):
    """A server with the purge and re-create cool-downs switched off."""
    return private_server(LENIENT_CONFIG)


@pytest.fixture
def fifo_name(unique_name):
    """fifo_name(tag='') -> a unique name ending in .fifo (<= 80 chars)."""
    return lambda tag="": unique_name(tag)[-70:].lstrip("-") + ".fifo"


@pytest.fixture
def new_fifo(new_queue, fifo_name):
    """new_fifo(tag='', **attributes) -> Queue (FIFO) on the session server."""
    def make(tag="", **attributes):
        attrs = {"FifoQueue": "true"}
        attrs.update({k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in attributes.items()})
        return new_queue(name=fifo_name(tag), attributes=attrs)
    return make


def fifo_on(server, name, **attributes):
    attrs = {"FifoQueue": "true"}
    attrs.update({k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in attributes.items()})
    return server.create_queue(name, attrs)


def send(sqs, q, body, group="g", dedup=None, **kwargs):
    kwargs.update(QueueUrl=q.url, MessageBody=body, MessageGroupId=group)
    kwargs["MessageDeduplicationId"] = dedup if dedup is not None else body
    return sqs.send_message(**kwargs)


def bodies(msgs):
    return [m["Body"] for m in msgs]


# ------------------------------------------------------------- queue names/type

def test_fifo_queue_true_requires_fifo_suffix(sqs, unique_name):
    name = unique_name("nosuffix")
    with aws_error("InvalidParameterValue", 400):
        sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})


def test_fifo_suffix_forbidden_on_standard_queue(sqs, fifo_name):
    name = fifo_name("std")
    with aws_error("InvalidParameterValue", 400):
        sqs.create_queue(QueueName=name)


def test_fifo_queue_attributes_reported(sqs, new_fifo):
    q = new_fifo(ContentBasedDeduplication=True)
    attrs = queue_attrs(sqs, q.url, "All")
    assert attrs["FifoQueue"] == "true"
    assert attrs["ContentBasedDeduplication"] == "true"
    assert attrs["QueueArn"].endswith(":" + q.name)
    # a queue created without CBD reports it off
    assert queue_attrs(sqs, new_fifo("plain").url, "ContentBasedDeduplication") == {
        "ContentBasedDeduplication": "false"}


def test_fifo_queue_attribute_on_standard_queue_is_unknown(sqs, new_queue, unique_name):
    with aws_error("InvalidAttributeName", 400, "Unknown Attribute FifoQueue."):
        sqs.create_queue(QueueName=unique_name("std"), Attributes={"FifoQueue": "false"})
    q = new_queue()
    with aws_error("InvalidAttributeName", 400, "Unknown Attribute FifoQueue."):
        sqs.set_queue_attributes(QueueUrl=q.url, Attributes={"FifoQueue": "false"})


def test_fifo_set_queue_type_to_standard_rejected(sqs, new_fifo):
    q = new_fifo()
    with aws_error("InvalidAttributeValue", 400,
                   "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported."):
        sqs.set_queue_attributes(QueueUrl=q.url, Attributes={"FifoQueue": "false"})
    # true on a FIFO queue is accepted and changes nothing
    resp = sqs.set_queue_attributes(QueueUrl=q.url, Attributes={"FifoQueue": "true"})
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert queue_attrs(sqs, q.url, "FifoQueue") == {"FifoQueue": "true"}


def test_fifo_create_changing_content_based_dedup_conflicts(sqs, new_fifo):
    q = new_fifo(ContentBasedDeduplication=False)
    with aws_error("QueueAlreadyExists", 400,
                   "A queue already exists with the same name and a different value for attribute "
                   "ContentBasedDeduplication"):
        sqs.create_queue(QueueName=q.name, Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})
    # the same attributes again return the same URL
    again = sqs.create_queue(QueueName=q.name, Attributes={"FifoQueue": "true",
                                                           "ContentBasedDeduplication": "false"})
    assert again["QueueUrl"] == q.url


def test_fifo_high_throughput_switch_after_creation(sqs, new_fifo):
    q = new_fifo()
    sqs.set_queue_attributes(QueueUrl=q.url, Attributes={
        "DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"})
    assert queue_attrs(sqs, q.url, "DeduplicationScope", "FifoThroughputLimit") == {
        "DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"}
    sqs.set_queue_attributes(QueueUrl=q.url, Attributes={
        "DeduplicationScope": "queue", "FifoThroughputLimit": "perQueue"})
    assert queue_attrs(sqs, q.url, "DeduplicationScope", "FifoThroughputLimit") == {
        "DeduplicationScope": "queue", "FifoThroughputLimit": "perQueue"}


# ------------------------------------------------- group and dedup id parameters

def test_fifo_send_without_group_id(sqs, new_fifo):
    q = new_fifo()
    with aws_error("MissingParameter", 400, NEED_GROUP):
        sqs.send_message(QueueUrl=q.url, MessageBody="x", MessageDeduplicationId="d")
    assert counts(sqs, q.url) == (0, 0, 0)


def test_fifo_batch_without_group_id_fails_whole_request(sqs, new_fifo):
    q = new_fifo()
    with aws_error("InvalidParameterValue", 400, NEED_GROUP):
        sqs.send_message_batch(QueueUrl=q.url, Entries=[
            {"Id": "ok", "MessageBody": "a", "MessageGroupId": "g", "MessageDeduplicationId": "a"},
            {"Id": "nogroup", "MessageBody": "b", "MessageDeduplicationId": "b"},
        ])
    assert counts(sqs, q.url) == (0, 0, 0), "no entry of a failed batch may be enqueued"


def test_fifo_send_without_dedup_id_and_without_cbd(sqs, new_fifo):
    q = new_fifo()
    with aws_error("InvalidParameterValue", 400, NO_DEDUP_ID):
        sqs.send_message(QueueUrl=q.url, MessageBody="x", MessageGroupId="g")
    assert counts(sqs, q.url) == (0, 0, 0)


def test_fifo_send_without_dedup_id_with_cbd(sqs, new_fifo):
    q = new_fifo(ContentBasedDeduplication=True)
    resp = sqs.send_message(QueueUrl=q.url, MessageBody="x", MessageGroupId="g")
    assert resp["MessageId"]
    assert counts(sqs, q.url) == (1, 0, 0)


@pytest.mark.parametrize("value", ["group 123", "a" * 129], ids=["space", "129-chars"])
def test_fifo_invalid_group_id(sqs, new_fifo, value):
    q = new_fifo()
    with aws_error("InvalidParameterValue", 400,
                   f"Value {value} for parameter MessageGroupId is invalid. Reason: MessageGroupId {GROUP_ID_RULE}"):
        sqs.send_message(QueueUrl=q.url, MessageBody="x", MessageGroupId=value, MessageDeduplicationId="d")


@pytest.mark.parametrize("value", ["dedup 123", "a" * 129], ids=["space", "129-chars"])
def test_fifo_invalid_dedup_id(sqs, new_fifo, value):
    q = new_fifo()
    with aws_error("InvalidParameterValue", 400,
                   f"Value {value} for parameter MessageDeduplicationId is invalid. Reason: "
                   f"MessageDeduplicationId {GROUP_ID_RULE}"):
        sqs.send_message(QueueUrl=q.url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId=value)


def test_fifo_group_and_dedup_ids_accept_punctuation_and_128_chars(sqs, new_fifo):
    q = new_fifo()
    punct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    group = "G" * 128
    sent = sqs.send_message(QueueUrl=q.url, MessageBody="x", MessageGroupId=group, MessageDeduplicationId=punct)
    m = receive_one(sqs, q.url, AttributeNames=["All"])
    assert m["MessageId"] == sent["MessageId"]
    assert m["Attributes"]["MessageGroupId"] == group
    assert m["Attributes"]["MessageDeduplicationId"] == punct


# ------------------------------------------------------------------ dedup

def test_fifo_duplicate_returns_first_message_id(sqs, new_fifo):
    q = new_fifo()
    first = send(sqs, q, "first", dedup="d1")
    dup = send(sqs, q, "second body, same id", dedup="d1")
    assert dup["MessageId"] == first["MessageId"]
    assert counts(sqs, q.url) == (1, 0, 0)
    msgs = receive(sqs, q.url, MaxNumberOfMessages=10)
    assert bodies(msgs) == ["first"]


def test_fifo_duplicate_after_delete_is_not_enqueued(sqs, new_fifo):
    q = new_fifo()
    first = send(sqs, q, "once", dedup="d1")
    m = receive_one(sqs, q.url)
    sqs.delete_message(QueueUrl=q.url, ReceiptHandle=m["ReceiptHandle"])
    again = send(sqs, q, "once", dedup="d1")
    assert again["MessageId"] == first["MessageId"]
    assert counts(sqs, q.url) == (0, 0, 0)
    assert receive(sqs, q.url, WaitTimeSeconds=1) == []


def test_fifo_duplicate_in_batch(sqs, new_fifo):
    q = new_fifo()
    first = send(sqs, q, "one", dedup="d1")
    resp = sqs.send_message_batch(QueueUrl=q.url, Entries=[
        {"Id": "dup", "MessageBody": "one", "MessageGroupId": "g", "MessageDeduplicationId": "d1"},
        {"Id": "new", "MessageBody": "two", "MessageGroupId": "g", "MessageDeduplicationId": "d2"},
    ])
    assert resp.get("Failed", []) == []
    by_id = {e["Id"]: e for e in resp["Successful"]}
    assert by_id["dup"]["MessageId"] == first["MessageId"]
    assert by_id["new"]["MessageId"] != first["MessageId"]
    assert bodies(receive(sqs, q.url, MaxNumberOfMessages=10)) == ["one", "two"]


@pytest.mark.timeout(60)
def test_fifo_dedup_window_is_five_minutes(clocked, fifo_name):
    sqs = clocked.sqs
    q = fifo_on(clocked, fifo_name())
    kept = send(sqs, q, "kept", dedup="checked-early")
    late = send(sqs, q, "late", dedup="checked-late")
    clocked.clock.advance(299)
    # still inside the window: a duplicate
    assert send(sqs, q, "kept again", dedup="checked-early")["MessageId"] == kept["MessageId"]
    assert counts(sqs, q.url) == (2, 0, 0)
    clocked.clock.advance(2)
    # 301 s after the first send of "checked-late": a new message
    again = send(sqs, q, "late again", dedup="checked-late")
    assert again["MessageId"] != late["MessageId"]
    assert counts(sqs, q.url) == (3, 0, 0)
    assert bodies(receive(clocked.sqs, q.url, MaxNumberOfMessages=10)) == ["kept", "late", "late again"]


@pytest.mark.timeout(60)
def test_fifo_dedup_window_after_delete_expires(clocked, fifo_name):
    sqs = clocked.sqs
    q = fifo_on(clocked, fifo_name())
    first = send(sqs, q, "x", dedup="d")
    m = receive_one(sqs, q.url)
    sqs.delete_message(QueueUrl=q.url, ReceiptHandle=m["ReceiptHandle"])
    assert send(sqs, q, "x", dedup="d")["MessageId"] == first["MessageId"]
    clocked.clock.advance(301)
    again = send(sqs, q, "x", dedup="d")
    assert again["MessageId"] != first["MessageId"]
    assert [mm["MessageId"] for mm in receive(sqs, q.url)] == [again["MessageId"]]


def test_fifo_content_based_dedup_hashes_the_body_only(sqs, new_fifo):
    q = new_fifo(ContentBasedDeduplication=True)
    a1 = sqs.send_message(QueueUrl=q.url, MessageBody="same", MessageGroupId="g",
                          MessageAttributes={"a": {"DataType": "String", "StringValue": "1"}})
    a2 = sqs.send_message(QueueUrl=q.url, MessageBody="same", MessageGroupId="g",
                          MessageAttributes={"a": {"DataType": "String", "StringValue": "2"}})
    assert a2["MessageId"] == a1["MessageId"], "attributes are not part of the content hash"
    other = sqs.send_message(QueueUrl=q.url, MessageBody="different", MessageGroupId="g")
    assert other["MessageId"] != a1["MessageId"]
    # an explicit id overrides the hash
    explicit = sqs.send_message(QueueUrl=q.url, MessageBody="same", MessageGroupId="g",
                                MessageDeduplicationId="explicit")
    assert explicit["MessageId"] != a1["MessageId"]
    assert counts(sqs, q.url) == (3, 0, 0)
    msgs = receive(sqs, q.url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"])
    assert bodies(msgs) == ["same", "different", "same"]
    assert msgs[0]["MessageAttributes"]["a"]["StringValue"] == "1"
    assert msgs[0]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"same").hexdigest()
    assert msgs[1]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"different").hexdigest()
    assert msgs[2]["Attributes"]["MessageDeduplicationId"] == "explicit"


def test_fifo_dedup_scope_queue_spans_groups(sqs, new_fifo):
    q = new_fifo()
    first = send(sqs, q, "a", group="g1", dedup="d")
    dup = send(sqs, q, "b", group="g2", dedup="d")
    assert dup["MessageId"] == first["MessageId"]
    assert counts(sqs, q.url) == (1, 0, 0)


def test_fifo_dedup_scope_message_group(sqs, new_fifo):
    q = new_fifo(DeduplicationScope="messageGroup", FifoThroughputLimit="perMessageGroupId",
                 ContentBasedDeduplication=True)
    g1 = send(sqs, q, "a", group="g1", dedup="d")
    g2 = send(sqs, q, "b", group="g2", dedup="d")
    assert g2["MessageId"] != g1["MessageId"], "the same id in another group is not a duplicate"
    assert send(sqs, q, "c", group="g1", dedup="d")["MessageId"] == g1["MessageId"]
    # content-based ids are scoped by group too
    c1 = sqs.send_message(QueueUrl=q.url, MessageBody="body", MessageGroupId="g1")
    c2 = sqs.send_message(QueueUrl=q.url, MessageBody="body", MessageGroupId="g2")
    c3 = sqs.send_message(QueueUrl=q.url, MessageBody="body", MessageGroupId="g1")
    assert c1["MessageId"] != c2["MessageId"]
    assert c3["MessageId"] == c1["MessageId"]
    assert counts(sqs, q.url) == (4, 0, 0)


# ---------------------------------------------------------------- SequenceNumber

def test_fifo_sequence_numbers(sqs, new_fifo):
    q = new_fifo()
    seqs = []
    for i in range(3):
        resp = send(sqs, q, f"m{i}", group="g1" if i != 1 else "g2")
        seqs.append(resp["SequenceNumber"])
    batch = sqs.send_message_batch(QueueUrl=q.url, Entries=[
        {"Id": f"e{i}", "MessageBody": f"b{i}", "MessageGroupId": "g1", "MessageDeduplicationId": f"b{i}"}
        for i in range(3)])
    assert batch.get("Failed", []) == []
    assert [e["Id"] for e in batch["Successful"]] == ["e0", "e1", "e2"]
    seqs += [e["SequenceNumber"] for e in batch["Successful"]]
    for s in seqs:
        assert s.isdigit() and len(s) >= 20, f"SequenceNumber {s!r} should be a number of 20 digits or more"
    nums = [int(s) for s in seqs]
    assert nums == sorted(nums) and len(set(nums)) == len(nums), f"not strictly increasing: {seqs}"

    got = []
    while len(got) < 6:
        msgs = receive(sqs, q.url, MaxNumberOfMessages=10, AttributeNames=["All"])
        assert msgs, f"only {len(got)} of 6 messages came back"
        got += msgs
        for m in msgs:
            sqs.delete_message(QueueUrl=q.url, ReceiptHandle=m["ReceiptHandle"])
    by_body = {m["Body"]: m["Attributes"] for m in got}
    expected_groups = {"m0": "g1", "m1": "g2", "m2": "g1", "b0": "g1", "b1": "g1", "b2": "g1"}
    for (body, group), seq in zip(expected_groups.items(), seqs):
        attrs = by_body[body]
        assert attrs["SequenceNumber"] == seq, body
        assert attrs["MessageGroupId"] == group, body
        assert attrs["MessageDeduplicationId"] == body, body
        for key in ("SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp"):
            assert key in attrs, f"{key} missing from {attrs}"


def test_fifo_receive_without_attribute_names_has_no_fifo_attributes(sqs, new_fifo):
    q = new_fifo()
    send(sqs, q, "x")
    m = receive_one(sqs, q.url)
    assert "Attributes" not in m, m


def test_fifo_selected_system_attributes(sqs, new_fifo):
    q = new_fifo()
    sent = send(sqs, q, "x", group="grp", dedup="ddp")
    m = receive_one(sqs, q.url, AttributeNames=["SequenceNumber", "MessageGroupId"])
    assert m["Attributes"] == {"SequenceNumber": sent["SequenceNumber"], "MessageGroupId": "grp"}


# ---------------------------------------------------------- ordering and locks

def test_fifo_strict_order_within_a_group(sqs, new_fifo):
    q = new_fifo()
    for i in range(12):
        send(sqs, q, f"m{i:02d}")
    got = []
    for _ in range(12):
        m = receive_one(sqs, q.url, wait=1)
        got.append(m["Body"])
        sqs.delete_message(QueueUrl=q.url, ReceiptHandle=m["ReceiptHandle"])
    assert got == [f"m{i:02d}" for i in range(12)]


def test_fifo_batch_receive_keeps_group_order(sqs, new_fifo):
    q = new_fifo()
    for i in range(10):
        send(sqs, q, f"m{i}")
    msgs = receive(sqs, q.url, MaxNumberOfMessages=10)
    assert bodies(msgs) == [f"m{i}" for i in range(10)]


def test_fifo_group_locked_while_in_flight(sqs, new_fifo):
    q = new_fifo()
    send(sqs, q, "g1-m1", group="g1")
    send(sqs, q, "g1-m2", group="g1")
    send(sqs, q, "g2-m1", group="g2")
    first = receive_one(sqs, q.url)
    assert first["Body"] == "g1-m1"
    # g1 is locked: only g2's message comes back, however many are asked for
    assert bodies(receive(sqs, q.url, MaxNumberOfMessages=10)) == ["g2-m1"]
    # sending into a locked group does not release the lock
    send(sqs, q, "g1-m3", group="g1")
    assert receive(sqs, q.url, MaxNumberOfMessages=10) == []
    # making the in-flight message visible again returns it first, not g1-m2
    sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0)
    again = receive(sqs, q.url, MaxNumberOfMessages=1, AttributeNames=["ApproximateReceiveCount"])
    assert bodies(again) == ["g1-m1"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    sqs.delete_message(QueueUrl=q.url, ReceiptHandle=again[0]["ReceiptHandle"])
    assert bodies(receive(sqs, q.url, MaxNumberOfMessages=10)) == ["g1-m2", "g1-m3"]


def test_fifo_extended_first_message_blocks_its_group(clocked, fifo_name):
    """localstack#12457, fixed against AWS's behaviour in PR #13386."""
    sqs = clocked.sqs
    q = fifo_on(clocked, fifo_name())
    for i in range(3):
        send(sqs, q, f"m{i}")
    got = receive(sqs, q.url, MaxNumberOfMessages=10, VisibilityTimeout=10)
    assert bodies(got) == ["m0", "m1", "m2"]
    sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=100)
    clocked.clock.advance(11)
    assert receive(sqs, q.url, MaxNumberOfMessages=10) == [], "m1 and m2 must wait for the invisible m0"
    clocked.clock.advance(90)
    assert bodies(receive(sqs, q.url, MaxNumberOfMessages=10)) == ["m0", "m1", "m2"]


def test_fifo_extended_middle_message_delivers_up_to_it(clocked, fifo_name):
    sqs = clocked.sqs
    q = fifo_on(clocked, fifo_name())
    for i in range(3):
        send(sqs, q, f"m{i}")
    got = receive(sqs, q.url, MaxNumberOfMessages=10, VisibilityTimeout=10)
    assert bodies(got) == ["m0", "m1", "m2"]
    sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=got[1]["ReceiptHandle"], VisibilityTimeout=100)
    clocked.clock.advance(11)
    assert bodies(receive(sqs, q.url, MaxNumberOfMessages=10)) == ["m0"]


def test_fifo_batch_fill_takes_one_group_first(sqs, new_fifo):
    q = new_fifo()
    for body, group in [("g1-m1", "g1"), ("g2-m1", "g2"), ("g2-m2", "g2"), ("g3-m1", "g3"), ("g1-m2", "g1")]:
        send(sqs, q, body, group=group)
    msgs = receive(sqs, q.url, MaxNumberOfMessages=3)
    assert bodies(msgs) == ["g1-m1", "g1-m2", "g2-m1"]


# ----------------------------------------------------------------- delays

def test_fifo_per_message_delay_rejected(sqs, new_fifo):
    q = new_fifo()
    with aws_error("InvalidParameterValue", 400,
                   "Value 2 for parameter DelaySeconds is invalid. Reason: The request include parameter that is "
                   "not valid for this queue type."):
        sqs.send_message(QueueUrl=q.url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d",
                         DelaySeconds=2)
    assert counts(sqs, q.url) == (0, 0, 0)


def test_fifo_per_message_delay_zero_accepted(sqs, new_fifo):
    q = new_fifo()
    sent = sqs.send_message(QueueUrl=q.url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d",
                            DelaySeconds=0)
    assert [m["MessageId"] for m in receive(sqs, q.url)] == [sent["MessageId"]]


def test_fifo_queue_delay_applies(clocked, fifo_name):
    sqs = clocked.sqs
    q = fifo_on(clocked, fifo_name(), DelaySeconds=120)
    # DelaySeconds=0 on the message falls back to the queue's delay
    sqs.send_message(QueueUrl=q.url, MessageBody="zero", MessageGroupId="g", MessageDeduplicationId="a",
                     DelaySeconds=0)
    send(sqs, q, "none", group="g")
    assert counts(sqs, q.url) == (0, 0, 2)
    assert receive(sqs, q.url) == []
    clocked.clock.advance(119)
    assert counts(sqs, q.url) == (0, 0, 2)
    clocked.clock.advance(2)
    assert counts(sqs, q.url) == (2, 0, 0)
    assert bodies(receive(sqs, q.url, MaxNumberOfMessages=10)) == ["zero", "none"]


# --------------------------------------------------- ReceiveRequestAttemptId

def test_fifo_receive_request_attempt_id_retry(sqs, new_fifo):
    q = new_fifo()
    for i in range(3):
        send(sqs, q, f"m{i}")
    send(sqs, q, "other", group="g2")
    first = receive(sqs, q.url, MaxNumberOfMessages=3, VisibilityTimeout=30, ReceiveRequestAttemptId="attempt-1")
    assert bodies(first) == ["m0", "m1", "m2"]
    # a retry with the same id returns the same messages and receipt handles
    retry = receive(sqs, q.url, MaxNumberOfMessages=3, VisibilityTimeout=30, ReceiveRequestAttemptId="attempt-1")
    assert [(m["MessageId"], m["ReceiptHandle"]) for m in retry] == \
        [(m["MessageId"], m["ReceiptHandle"]) for m in first]
    # another id gets what is left
    assert bodies(receive(sqs, q.url, MaxNumberOfMessages=10, ReceiveRequestAttemptId="attempt-2")) == ["other"]
    assert counts(sqs, q.url) == (0, 4, 0)
    # the handles work
    for m in retry:
        sqs.delete_message(QueueUrl=q.url, ReceiptHandle=m["ReceiptHandle"])
    assert counts(sqs, q.url) == (0, 1, 0)


def test_fifo_receive_request_attempt_id_is_per_queue(sqs, new_fifo):
    a, b = new_fifo("a"), new_fifo("b")
    send(sqs, a, "in-a")
    send(sqs, b, "in-b")
    assert bodies(receive(sqs, a.url, ReceiveRequestAttemptId="same-id")) == ["in-a"]
    assert bodies(receive(sqs, b.url, ReceiveRequestAttemptId="same-id")) == ["in-b"]


def test_fifo_receive_request_attempt_id_retry_resets_visibility(clocked, fifo_name):
    """Model doc: "If a retry occurs within the deduplication interval, it
    resets the visibility timeout"."""
    sqs = clocked.sqs
    q = fifo_on(clocked, fifo_name())
    for i in range(3):
        send(sqs, q, f"m{i}")
    first = receive(sqs, q.url, MaxNumberOfMessages=3, VisibilityTimeout=30, ReceiveRequestAttemptId="attempt-1")
    assert bodies(first) == ["m0", "m1", "m2"]
    clocked.clock.advance(20)
    retry = receive(sqs, q.url, MaxNumberOfMessages=3, VisibilityTimeout=30, ReceiveRequestAttemptId="attempt-1")
    assert [m["ReceiptHandle"] for m in retry] == [m["ReceiptHandle"] for m in first]
    clocked.clock.advance(20)  # 40 s after the first receive, 20 s after the retry
    assert counts(sqs, q.url) == (0, 3, 0), "the retry should have restarted the 30 s visibility timeout"
    clocked.clock.advance(11)  # 31 s after the retry
    assert counts(sqs, q.url) == (3, 0, 0)


# ----------------------------------------------------------- receipt handles

def test_fifo_delete_with_expired_receipt_handle(clocked, fifo_name):
    sqs = clocked.sqs
    q = fifo_on(clocked, fifo_name())
    send(sqs, q, "x")
    handle = receive_one(sqs, q.url, wait=0, VisibilityTimeout=5)["ReceiptHandle"]
    clocked.clock.advance(6)
    with aws_error("InvalidParameterValue", 400,
                   f"Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."):
        sqs.delete_message(QueueUrl=q.url, ReceiptHandle=handle)
    # the message was not deleted
    assert counts(sqs, q.url) == (1, 0, 0)


def test_fifo_extended_visibility_keeps_handle_valid(clocked, fifo_name):
    sqs = clocked.sqs
    q = fifo_on(clocked, fifo_name())
    send(sqs, q, "x")
    handle = receive_one(sqs, q.url, wait=0, VisibilityTimeout=5)["ReceiptHandle"]
    sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=handle, VisibilityTimeout=60)
    clocked.clock.advance(6)
    assert counts(sqs, q.url) == (0, 1, 0)
    sqs.delete_message(QueueUrl=q.url, ReceiptHandle=handle)
    assert counts(sqs, q.url) == (0, 0, 0)


# ----------------------------------------------------------- dead-letter queues

def test_fifo_dead_letter_queue_must_be_fifo(sqs, new_queue, new_fifo, fifo_name):
    std_dlq = new_queue("stddlq")
    fifo_dlq = new_fifo("fifodlq")
    src = new_fifo("src")
    with aws_error("InvalidParameterValue", 400, message_contains="RedrivePolicy"):
        sqs.set_queue_attributes(QueueUrl=src.url, Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": std_dlq.arn, "maxReceiveCount": 1})})
    with aws_error("InvalidParameterValue", 400, message_contains="RedrivePolicy"):
        sqs.create_queue(QueueName=fifo_name("src2"), Attributes={
            "FifoQueue": "true",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": std_dlq.arn, "maxReceiveCount": 1})})
    # and a standard source cannot use a FIFO dead-letter queue
    std_src = new_queue("stdsrc")
    with aws_error("InvalidParameterValue", 400, message_contains="RedrivePolicy"):
        sqs.set_queue_attributes(QueueUrl=std_src.url, Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": fifo_dlq.arn, "maxReceiveCount": 1})})
    # FIFO to FIFO is fine
    sqs.set_queue_attributes(QueueUrl=src.url, Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": fifo_dlq.arn, "maxReceiveCount": 1})})


def test_fifo_dead_letter_redrive_keeps_message_id(sqs, new_fifo):
    dlq = new_fifo("dlq")
    src = new_fifo("src", RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 1}))
    sent = send(sqs, src, "poison", group="pg", dedup="pd")
    send(sqs, src, "next", group="pg", dedup="nd")
    first = receive_one(sqs, src.url, VisibilityTimeout=0)
    assert first["MessageId"] == sent["MessageId"]
    # the next receive moves it to the DLQ; the group goes on with "next"
    second = receive(sqs, src.url, WaitTimeSeconds=1) or receive(sqs, src.url, WaitTimeSeconds=1)
    assert bodies(second) == ["next"]
    moved = receive_one(sqs, dlq.url, AttributeNames=["All"])
    assert moved["MessageId"] == sent["MessageId"]
    assert moved["Body"] == "poison"
    assert moved["Attributes"]["MessageGroupId"] == "pg"
    assert moved["Attributes"]["DeadLetterQueueSourceArn"] == src.arn


# -------------------------------------------------------------------- purge

@pytest.mark.parametrize("same_name", [False, True], ids=["new-name", "same-name"])
def test_fifo_receive_request_attempt_id_does_not_survive_delete_queue(lenient, fifo_name, same_name):
    """Receive on X with attempt id A, delete X, create Y, send to Y, receive
    on Y with A: Y's own message with a fresh handle, not X's old answer."""
    sqs = lenient.sqs
    x = fifo_on(lenient, fifo_name("x"))
    send(sqs, x, "old-in-x")
    first = receive(sqs, x.url, VisibilityTimeout=30, ReceiveRequestAttemptId="attempt-del")
    assert bodies(first) == ["old-in-x"]
    sqs.delete_queue(QueueUrl=x.url)
    y = fifo_on(lenient, x.name if same_name else fifo_name("y"))  # the re-create cool-down is off here
    sent = send(sqs, y, "new-in-y")
    got = receive(sqs, y.url, VisibilityTimeout=30, ReceiveRequestAttemptId="attempt-del")
    assert bodies(got) == ["new-in-y"]
    assert got[0]["MessageId"] == sent["MessageId"]
    assert got[0]["ReceiptHandle"] != first[0]["ReceiptHandle"]
    sqs.delete_message(QueueUrl=y.url, ReceiptHandle=got[0]["ReceiptHandle"])
    assert counts(sqs, y.url) == (0, 0, 0)


def test_fifo_purge_clears_dedup_cache(lenient, fifo_name):
    sqs = lenient.sqs
    q = fifo_on(lenient, fifo_name())
    first = send(sqs, q, "x", dedup="d")
    sqs.purge_queue(QueueUrl=q.url)
    assert counts(sqs, q.url) == (0, 0, 0)
    second = send(sqs, q, "x", dedup="d")
    assert second["MessageId"] != first["MessageId"]
    assert counts(sqs, q.url) == (1, 0, 0)
    sqs.purge_queue(QueueUrl=q.url)  # the cool-down is off on this server
    third = send(sqs, q, "x", dedup="d")
    assert third["MessageId"] not in (first["MessageId"], second["MessageId"])
    assert [m["MessageId"] for m in receive(sqs, q.url)] == [third["MessageId"]]


def test_fifo_recreated_queue_starts_with_empty_dedup_cache(lenient, fifo_name):
    sqs = lenient.sqs
    name = fifo_name()
    q = fifo_on(lenient, name)
    first = send(sqs, q, "x", dedup="d")
    sqs.delete_queue(QueueUrl=q.url)
    q2 = fifo_on(lenient, name)  # the re-create cool-down is off on this server
    assert q2.url == q.url
    second = send(sqs, q2, "x", dedup="d")
    assert second["MessageId"] != first["MessageId"]
    assert counts(sqs, q2.url) == (1, 0, 0)


# -------------------------------------------------------------- concurrency

@pytest.mark.timeout(120)
def test_fifo_concurrent_consumers_keep_group_order(sqs, new_fifo, client_factory):
    q = new_fifo()
    per_group = 20
    sent = {"A": [], "B": []}
    for i in range(per_group):
        for group in ("A", "B"):
            body = f"{group}-{i:02d}"
            sqs.send_message(QueueUrl=q.url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=body)
            sent[group].append(body)
    total = 2 * per_group
    processed = []  # (group, body, thread), in processing order
    lock = threading.Lock()
    errors = []
    deadline = time.monotonic() + 90

    def worker(n):
        client = client_factory()
        try:
            while time.monotonic() < deadline:
                with lock:
                    if len(processed) >= total:
                        return
                msgs = receive(client, q.url, MaxNumberOfMessages=1, WaitTimeSeconds=1, VisibilityTimeout=60,
                               AttributeNames=["MessageGroupId"])
                for m in msgs:
                    with lock:
                        processed.append((m["Attributes"]["MessageGroupId"], m["Body"], n))
                    client.delete_message(QueueUrl=q.url, ReceiptHandle=m["ReceiptHandle"])
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=100)
    assert not errors, errors
    bodies_seen = [b for _, b, _ in processed]
    assert len(bodies_seen) == len(set(bodies_seen)), "a message was processed twice"
    assert len(bodies_seen) == total, f"processed {len(bodies_seen)} of {total}"
    for group in ("A", "B"):
        order = [b for g, b, _ in processed if g == group]
        assert order == sent[group], f"group {group} processed out of order: {order}"
    assert counts(sqs, q.url) == (0, 0, 0)
