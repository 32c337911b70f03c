"""Message actions: SendMessage, SendMessageBatch, ReceiveMessage,
DeleteMessage, DeleteMessageBatch, ChangeMessageVisibility,
ChangeMessageVisibilityBatch, with the MD5 digests of sqs.md §3."""
import re
import time

import pytest

from sluice_helpers import (aws_error, counts, drain, md5_hex, md5_of_attributes, queue_attrs, receive,
                            receive_one)

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def S(value, data_type="String"):
    return {"DataType": data_type, "StringValue": value}


def B(raw, data_type="Binary"):
    return {"DataType": data_type, "BinaryValue": raw}


# Published vectors (sqs.md §3, moto's AWS-checked tests, LocalStack AWS snapshots).
BODY_VECTORS = [
    ("derp", "58fd9edd83341c29f1aebba81c31e257"),
    ("test", "098f6bcd4621d373cade4e832627b4f6"),
    ("msg", "6e2baaf3b97dbeef01c0043275f9a0e7"),
    ("hello", "5d41402abc4b2a76b9719d911017c592"),
    ("a", "0cc175b9c0f1b6a831c399e269772661"),
    ("Using name instead of URL", "86a83f96652a1bfad3891e7d523750cb"),
]

ATTR_VECTORS = [
    ({"SOME_Valid.attribute-Name": S("1493147359900", "Number")}, "36655e7e9d7c0e8479fa3f3f42247ae7"),
    ({"timestamp": S("1493147359900", "Number")}, "235c5c510d26fb653d073faed50ae77c"),
    ({"timestamp": S("1493147359900", "Number.java.lang.Long")}, "2e2e4876d8e0bd6b8c2c8f556831c349"),
    ({"somevalue": S("somevalue", "String.custom")}, "9e05cca738e70ff6c6041e82d5e77ef1"),
    ({"id": S("2018fc74-4f77-1a5a-1be0-c2d037d5052b"), "contentType": S("application/json"),
      "timestamp": S("1602845432024", "Number.java.lang.Long")}, "b12289320bb6e494b18b645ef562b4a9"),
    ({"id": S("453ae55e-f03b-21a6-a4b1-70c2e2e8fe71"), "contentType": S("application/json"),
      "timestamp": S("1603134247654", "Number.java.lang.Long"), "mybin": B(b"kekchebukek")},
     "049075255ebc53fb95f7f9f3cedf3c50"),
    ({"attr1": S("v")}, "5d7451cdb6bb563786f0f121888def84"),
    ({"Help.Me": S("Me"), "Hello": S("There"), "General": S("Kenobi")}, "4c360f3fdafd970e05fae2f149d997f5"),
]


def test_md5_helper_matches_published_vectors():
    # Guards the suite's own digest code (no server involved).
    for attrs, expected in ATTR_VECTORS:
        assert md5_of_attributes(attrs) == expected
    assert md5_of_attributes({"AWSTraceHeader": S(TRACE)}) == "5ae4d5d7636402d80f4eb6d213245a88"


# ---------------------------------------------------------------- SendMessage

def test_send_message_response(sqs, new_queue):
    q = new_queue()
    resp = sqs.send_message(QueueUrl=q.url, MessageBody="hello")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp["ResponseMetadata"]["RequestId"]
    assert UUID_RE.match(resp["MessageId"]), resp["MessageId"]
    assert resp["MD5OfMessageBody"] == "5d41402abc4b2a76b9719d911017c592"
    # absent, not empty, when nothing was sent for them; no SequenceNumber on standard queues
    for absent in ("MD5OfMessageAttributes", "MD5OfMessageSystemAttributes", "SequenceNumber"):
        assert absent not in resp, absent
    other = sqs.send_message(QueueUrl=q.url, MessageBody="hello")
    assert other["MessageId"] != resp["MessageId"]


@pytest.mark.parametrize("body,expected", BODY_VECTORS, ids=[b for b, _ in BODY_VECTORS])
def test_send_message_body_md5_vectors(sqs, new_queue, body, expected):
    q = new_queue()
    assert sqs.send_message(QueueUrl=q.url, MessageBody=body)["MD5OfMessageBody"] == expected
    msg = receive_one(sqs, q.url)
    assert msg["Body"] == body
    assert msg["MD5OfBody"] == expected


@pytest.mark.parametrize("attrs,expected", ATTR_VECTORS, ids=[f"v{i}" for i in range(len(ATTR_VECTORS))])
def test_send_message_attribute_md5_vectors(sqs, new_queue, attrs, expected):
    q = new_queue()
    resp = sqs.send_message(QueueUrl=q.url, MessageBody="test", MessageAttributes=attrs)
    assert resp["MD5OfMessageBody"] == "098f6bcd4621d373cade4e832627b4f6"
    assert resp["MD5OfMessageAttributes"] == expected
    msg = receive_one(sqs, q.url, MessageAttributeNames=["All"])
    assert msg["MD5OfMessageAttributes"] == expected
    assert msg["MessageAttributes"] == attrs


def test_send_message_system_attributes_md5(sqs, new_queue):
    q = new_queue()
    attrs = {"timestamp": S("1493147359900", "Number")}
    plain = sqs.send_message(QueueUrl=q.url, MessageBody="test", MessageAttributes=attrs)
    traced = sqs.send_message(QueueUrl=q.url, MessageBody="test", MessageAttributes=attrs,
                              MessageSystemAttributes={"AWSTraceHeader": S(TRACE)})
    assert traced["MD5OfMessageSystemAttributes"] == "5ae4d5d7636402d80f4eb6d213245a88"
    # system attributes are not part of MD5OfMessageAttributes
    assert traced["MD5OfMessageAttributes"] == plain["MD5OfMessageAttributes"] == "235c5c510d26fb653d073faed50ae77c"
    assert "MD5OfMessageSystemAttributes" not in plain

    only_trace = sqs.send_message(QueueUrl=q.url, MessageBody="test",
                                  MessageSystemAttributes={"AWSTraceHeader": S(TRACE)})
    assert only_trace["MD5OfMessageSystemAttributes"] == "5ae4d5d7636402d80f4eb6d213245a88"
    assert "MD5OfMessageAttributes" not in only_trace


def test_aws_trace_header_is_returned_as_system_attribute(sqs, new_queue):
    q = new_queue()
    sent = sqs.send_message(QueueUrl=q.url, MessageBody="traced",
                            MessageSystemAttributes={"AWSTraceHeader": S(TRACE)})
    msg = receive_one(sqs, q.url, AttributeNames=["AWSTraceHeader"], VisibilityTimeout=0)
    assert msg["MessageId"] == sent["MessageId"]
    assert msg["Attributes"] == {"AWSTraceHeader": TRACE}
    assert "MessageAttributes" not in msg and "MD5OfMessageAttributes" not in msg
    msg = receive_one(sqs, q.url, AttributeNames=["All"])
    assert msg["Attributes"]["AWSTraceHeader"] == TRACE


def test_message_attribute_types_round_trip(sqs, new_queue):
    q = new_queue()
    attrs = {
        "str": S("plain text with unicode \u00e9\u2713"),
        "num": S("-12.5e3", "Number"),
        "int": S("1493147359900", "Number"),
        "bin": B(bytes(range(256))),
        "custom.str": S('{"k": 1}', "String.json"),
        "custom.num": S("42", "Number.int"),
        "custom.bin": B(b"GIF89a\x00\x01\xff", "Binary.gif"),
    }
    sent = sqs.send_message(QueueUrl=q.url, MessageBody="typed", MessageAttributes=attrs)
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes(attrs)
    msg = receive_one(sqs, q.url, MessageAttributeNames=["All"])
    assert msg["MessageAttributes"] == attrs
    assert msg["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]


def test_body_characters_round_trip(sqs, new_queue):
    # Allowed: #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF; the
    # carriage return must survive the XML response unchanged.
    body = "tab\there\nnewline\r\ncrlf <xml> & \"quotes\" 'apos' \u00e9\u4e2d\ud7ff\ue000\ufffd \U0001F600 \U0010FFFF"
    q = new_queue()
    sent = sqs.send_message(QueueUrl=q.url, MessageBody=body)
    assert sent["MD5OfMessageBody"] == md5_hex(body)
    msg = receive_one(sqs, q.url)
    assert msg["Body"] == body
    assert msg["MD5OfBody"] == md5_hex(body)


def test_large_message_round_trip(sqs, new_queue):
    q = new_queue()
    body = ("0123456789abcdef" * 65536)  # exactly 1 MiB, the default limit
    assert len(body.encode()) == 1048576
    sent = sqs.send_message(QueueUrl=q.url, MessageBody=body)
    assert sent["MD5OfMessageBody"] == md5_hex(body)
    msg = receive_one(sqs, q.url)
    assert msg["Body"] == body


def test_bare_queue_name_as_queue_url(sqs, new_queue):
    q = new_queue()
    sent = sqs.send_message(QueueUrl=q.name, MessageBody="Using name instead of URL")
    assert sent["MD5OfMessageBody"] == "86a83f96652a1bfad3891e7d523750cb"
    msg = receive_one(sqs, q.name)
    assert msg["MessageId"] == sent["MessageId"]
    sqs.delete_message(QueueUrl=q.name, ReceiptHandle=msg["ReceiptHandle"])
    assert queue_attrs(sqs, q.name, "QueueArn")["QueueArn"] == q.arn
    assert counts(sqs, q.url) == (0, 0, 0)


# ----------------------------------------------------------- SendMessageBatch

def test_send_message_batch(sqs, new_queue):
    q = new_queue()
    attrs = {"attr1": S("v")}
    entries = [
        {"Id": "plain", "MessageBody": "a"},
        {"Id": "with-attrs", "MessageBody": "hello", "MessageAttributes": attrs},
        {"Id": "traced_1", "MessageBody": "test", "MessageSystemAttributes": {"AWSTraceHeader": S(TRACE)}},
        {"Id": "delayed", "MessageBody": "later", "DelaySeconds": 60},
    ]
    resp = sqs.send_message_batch(QueueUrl=q.url, Entries=entries)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp.get("Failed", []) == []
    ok = {e["Id"]: e for e in resp["Successful"]}
    assert set(ok) == {"plain", "with-attrs", "traced_1", "delayed"}
    assert ok["plain"]["MD5OfMessageBody"] == "0cc175b9c0f1b6a831c399e269772661"
    assert "MD5OfMessageAttributes" not in ok["plain"]
    assert "MD5OfMessageSystemAttributes" not in ok["plain"]
    assert ok["with-attrs"]["MD5OfMessageBody"] == "5d41402abc4b2a76b9719d911017c592"
    assert ok["with-attrs"]["MD5OfMessageAttributes"] == "5d7451cdb6bb563786f0f121888def84"
    assert ok["traced_1"]["MD5OfMessageSystemAttributes"] == "5ae4d5d7636402d80f4eb6d213245a88"
    assert "MD5OfMessageAttributes" not in ok["traced_1"]
    assert len({e["MessageId"] for e in ok.values()}) == 4
    for e in ok.values():
        assert UUID_RE.match(e["MessageId"])
        assert "SequenceNumber" not in e

    assert counts(sqs, q.url) == (3, 0, 1)
    got = drain(sqs, q.url, expected=3, MessageAttributeNames=["All"])
    by_id = {m["MessageId"]: m for m in got}
    assert set(by_id) == {ok[i]["MessageId"] for i in ("plain", "with-attrs", "traced_1")}
    assert by_id[ok["with-attrs"]["MessageId"]]["MessageAttributes"] == attrs
    assert by_id[ok["plain"]["MessageId"]]["Body"] == "a"


def test_send_message_batch_ten_entries(sqs, new_queue):
    q = new_queue()
    entries = [{"Id": f"m{i}", "MessageBody": f"body {i}"} for i in range(10)]
    resp = sqs.send_message_batch(QueueUrl=q.url, Entries=entries)
    assert len(resp["Successful"]) == 10
    bodies = sorted(m["Body"] for m in drain(sqs, q.url, expected=10))
    assert bodies == sorted(e["MessageBody"] for e in entries)


def test_send_message_batch_entry_with_invalid_characters_fails_alone(sqs, new_queue):
    q = new_queue()
    entries = [{"Id": str(i), "MessageBody": str(i)} for i in range(9)]
    entries.append({"Id": "9", "MessageBody": "\x01"})
    resp = sqs.send_message_batch(QueueUrl=q.url, Entries=entries)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert len(resp["Successful"]) == 9
    assert len(resp["Failed"]) == 1
    failed = resp["Failed"][0]
    assert failed["Id"] == "9"
    assert failed["Code"] == "InvalidMessageContents"
    assert failed["SenderFault"] is True
    assert sorted(m["Body"] for m in drain(sqs, q.url, expected=9)) == [str(i) for i in range(9)]


def test_send_message_batch_entry_over_maximum_size_fails_alone(sqs, new_queue):
    q = new_queue(attributes={"MaximumMessageSize": 1024})
    resp = sqs.send_message_batch(QueueUrl=q.url, Entries=[
        {"Id": "fits", "MessageBody": "a" * 1024},
        {"Id": "too-big", "MessageBody": "a" * 1025},
    ])
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [e["Id"] for e in resp["Successful"]] == ["fits"]
    assert resp["Successful"][0]["MD5OfMessageBody"] == "c9a34cfc85d982698c6ac89f76071abd"
    assert resp["Failed"] == [{
        "Id": "too-big", "SenderFault": True, "Code": "InvalidParameterValue",
        "Message": "One or more parameters cannot be validated. Reason: Message must be shorter than 1024 bytes.",
    }]


# ------------------------------------------------------------- ReceiveMessage

def test_receive_from_empty_queue_has_no_messages_key(sqs, new_queue):
    q = new_queue()
    resp = sqs.receive_message(QueueUrl=q.url)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "Messages" not in resp


def test_receive_max_number_of_messages(sqs, new_queue):
    q = new_queue()
    sent = set()
    for chunk in range(2):
        resp = sqs.send_message_batch(QueueUrl=q.url, Entries=[
            {"Id": f"m{i}", "MessageBody": f"{chunk}-{i}"} for i in range(10)])
        sent |= {e["MessageId"] for e in resp["Successful"]}

    default = receive(sqs, q.url, VisibilityTimeout=60)
    assert len(default) == 1, "MaxNumberOfMessages defaults to 1"
    three = receive(sqs, q.url, MaxNumberOfMessages=3, VisibilityTimeout=60)
    assert len(three) == 3
    # AWS may return fewer than asked; a single-node emulator has them all.
    ten = receive(sqs, q.url, MaxNumberOfMessages=10, VisibilityTimeout=60)
    assert len(ten) == 10
    rest = drain(sqs, q.url, expected=6)
    got = [m["MessageId"] for m in default + three + ten + rest]
    assert len(got) == len(set(got)) == 20, "no message delivered twice while in flight"
    assert set(got) == sent
    assert receive(sqs, q.url) == []


def test_receive_system_attributes(sqs, new_queue):
    q = new_queue()
    before = int(time.time() * 1000)
    sent = sqs.send_message(QueueUrl=q.url, MessageBody="attrs")
    after = int(time.time() * 1000)

    msg = receive_one(sqs, q.url, AttributeNames=["All"], VisibilityTimeout=0)
    assert msg["MessageId"] == sent["MessageId"]
    a = msg["Attributes"]
    assert set(a) == {"SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp"}
    assert a["SenderId"]
    assert a["ApproximateReceiveCount"] == "1"
    sent_ts = int(a["SentTimestamp"])
    assert before - 2000 <= sent_ts <= after + 2000, "SentTimestamp is epoch milliseconds"
    first_ts = int(a["ApproximateFirstReceiveTimestamp"])
    assert sent_ts <= first_ts <= int(time.time() * 1000) + 2000

    time.sleep(0.05)
    again = receive_one(sqs, q.url, AttributeNames=["All"], VisibilityTimeout=0)
    b = again["Attributes"]
    assert b["ApproximateReceiveCount"] == "2"
    assert b["ApproximateFirstReceiveTimestamp"] == a["ApproximateFirstReceiveTimestamp"]
    assert b["SentTimestamp"] == a["SentTimestamp"]
    assert b["SenderId"] == a["SenderId"]
    assert again["ReceiptHandle"] != msg["ReceiptHandle"], "every receive issues a new handle"


def test_receive_specific_system_attributes(sqs, new_queue):
    q = new_queue(attributes={"VisibilityTimeout": 0})
    sqs.send_message(QueueUrl=q.url, MessageBody="msg", MessageAttributes={"Foo": S("Bar")})

    msg = receive_one(sqs, q.url, AttributeNames=["SenderId"])
    assert list(msg["Attributes"]) == ["SenderId"]
    assert "MessageAttributes" not in msg and "MD5OfMessageAttributes" not in msg

    msg = receive_one(sqs, q.url, AttributeNames=["SenderId", "SequenceNumber"])
    assert list(msg["Attributes"]) == ["SenderId"], "SequenceNumber does not exist on standard queues"

    msg = receive_one(sqs, q.url, AttributeNames=["ApproximateReceiveCount", "SentTimestamp"])
    assert set(msg["Attributes"]) == {"ApproximateReceiveCount", "SentTimestamp"}
    assert msg["Attributes"]["ApproximateReceiveCount"] == "3"

    msg = receive_one(sqs, q.url, AttributeNames=["ApproximateFirstReceiveTimestamp"])
    assert list(msg["Attributes"]) == ["ApproximateFirstReceiveTimestamp"]

    msg = receive_one(sqs, q.url)
    assert "Attributes" not in msg, "no system attributes unless asked for"

    msg = receive_one(sqs, q.url, AttributeNames=["All"], MessageAttributeNames=["All"])
    assert msg["Attributes"]["ApproximateReceiveCount"] == "6"
    assert msg["MessageAttributes"] == {"Foo": S("Bar")}
    assert msg["MD5OfMessageAttributes"] == "ae7155c6026991b6d54b11589678bf9c"


FILTER_ATTRS = {"Help.Me": S("Me"), "Hello": S("There"), "General": S("Kenobi")}
FILTER_CASES = [
    # (MessageAttributeNames, names returned, MD5OfMessageAttributes recorded on AWS)
    (["All"], {"Help.Me", "Hello", "General"}, "4c360f3fdafd970e05fae2f149d997f5"),
    ([".*"], {"Help.Me", "Hello", "General"}, "4c360f3fdafd970e05fae2f149d997f5"),
    (["*"], {"Help.Me", "Hello", "General"}, "4c360f3fdafd970e05fae2f149d997f5"),
    (["Hello", "General"], {"Hello", "General"}, "fca026605781cb4126a1e9044df24232"),
    (["Foo", "Hello"], {"Hello"}, "a311262e065454b75da111d535b8dacd"),
    (["Hel.*"], {"Hello", "Help.Me"}, "83fee93c1bcd8b9a5a923ffacdc636c7"),
    (["Help.*"], {"Help.Me"}, None),
    (["Foo", "Help"], set(), None),
    ([], set(), None),
    (["AWS."], set(), None),    # illegal names filter nothing out and raise no error
    (["..foo"], set(), None),
]


@pytest.mark.parametrize("names,expected,md5", FILTER_CASES, ids=[",".join(c[0]) or "none" for c in FILTER_CASES])
def test_receive_message_attribute_name_filters(sqs, new_queue, names, expected, md5):
    q = new_queue()
    sent = sqs.send_message(QueueUrl=q.url, MessageBody="msg", MessageAttributes=FILTER_ATTRS)
    assert sent["MD5OfMessageAttributes"] == "4c360f3fdafd970e05fae2f149d997f5"
    msg = receive_one(sqs, q.url, MessageAttributeNames=names)
    if not expected:
        assert "MessageAttributes" not in msg
        assert "MD5OfMessageAttributes" not in msg, "digest omitted when no attribute is returned"
        return
    assert msg["MessageAttributes"] == {k: FILTER_ATTRS[k] for k in expected}
    # the digest covers the attributes actually returned
    assert msg["MD5OfMessageAttributes"] == md5_of_attributes(msg["MessageAttributes"])
    if md5:
        assert msg["MD5OfMessageAttributes"] == md5


def test_receive_visibility_timeout_override(sqs, new_queue):
    q = new_queue()  # queue default 30 s
    sqs.send_message(QueueUrl=q.url, MessageBody="short")
    first = receive_one(sqs, q.url, VisibilityTimeout=1)
    assert receive(sqs, q.url) == []
    assert counts(sqs, q.url) == (0, 1, 0)
    time.sleep(1.5)
    second = receive_one(sqs, q.url, wait=1, AttributeNames=["ApproximateReceiveCount"])
    assert second["MessageId"] == first["MessageId"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    # without the override the queue's 30 s applies again
    time.sleep(1.2)
    assert receive(sqs, q.url) == []


def test_receive_visibility_timeout_zero(sqs, new_queue):
    q = new_queue()
    sqs.send_message(QueueUrl=q.url, MessageBody="zero")
    a = receive_one(sqs, q.url, VisibilityTimeout=0)
    b = receive_one(sqs, q.url, VisibilityTimeout=0, AttributeNames=["ApproximateReceiveCount"])
    assert a["MessageId"] == b["MessageId"]
    assert b["Attributes"]["ApproximateReceiveCount"] == "2"


# -------------------------------------------------------------- DeleteMessage

def test_delete_message(sqs, new_queue):
    q = new_queue()
    sqs.send_message(QueueUrl=q.url, MessageBody="bye")
    msg = receive_one(sqs, q.url, VisibilityTimeout=1)
    resp = sqs.delete_message(QueueUrl=q.url, ReceiptHandle=msg["ReceiptHandle"])
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert counts(sqs, q.url) == (0, 0, 0)
    time.sleep(1.3)
    assert receive(sqs, q.url) == []


def test_delete_message_repeatedly_with_same_handle(sqs, new_queue):
    q = new_queue()
    sqs.send_message(QueueUrl=q.url, MessageBody="foo")
    handle = receive_one(sqs, q.url)["ReceiptHandle"]
    for _ in range(3):
        assert sqs.delete_message(QueueUrl=q.url, ReceiptHandle=handle)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_delete_with_expired_handle_still_deletes(sqs, new_queue):
    # Standard queues: the handle of an expired receive still deletes the
    # message as long as nobody received it again (AWS-validated).
    q = new_queue(attributes={"VisibilityTimeout": 1})
    sqs.send_message(QueueUrl=q.url, MessageBody="foobar")
    handle = receive_one(sqs, q.url)["ReceiptHandle"]
    time.sleep(1.5)
    assert counts(sqs, q.url) == (1, 0, 0)
    sqs.delete_message(QueueUrl=q.url, ReceiptHandle=handle)
    assert counts(sqs, q.url) == (0, 0, 0)
    assert receive(sqs, q.url) == []


def test_delete_message_leaves_other_messages(sqs, new_queue):
    q = new_queue()
    for body in ("one", "two"):
        sqs.send_message(QueueUrl=q.url, MessageBody=body)
    msgs = drain(sqs, q.url, expected=2, VisibilityTimeout=1)
    keep, drop = msgs
    sqs.delete_message(QueueUrl=q.url, ReceiptHandle=drop["ReceiptHandle"])
    time.sleep(1.3)
    back = drain(sqs, q.url, expected=1)
    assert [m["MessageId"] for m in back] == [keep["MessageId"]]


# --------------------------------------------------------- DeleteMessageBatch

def test_delete_message_batch(sqs, new_queue):
    q = new_queue()
    for i in range(3):
        sqs.send_message(QueueUrl=q.url, MessageBody=f"m{i}")
    msgs = drain(sqs, q.url, expected=3, VisibilityTimeout=1)
    assert len(msgs) == 3
    resp = sqs.delete_message_batch(QueueUrl=q.url, Entries=[
        {"Id": "first", "ReceiptHandle": msgs[0]["ReceiptHandle"]},
        {"Id": "second", "ReceiptHandle": msgs[1]["ReceiptHandle"]},
    ])
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert sorted(e["Id"] for e in resp["Successful"]) == ["first", "second"]
    assert resp.get("Failed", []) == []
    time.sleep(1.3)
    left = drain(sqs, q.url, expected=1)
    assert [m["MessageId"] for m in left] == [msgs[2]["MessageId"]]


def test_delete_message_batch_with_an_invalid_handle(sqs, new_queue):
    q = new_queue()
    sqs.send_message(QueueUrl=q.url, MessageBody="real")
    msg = receive_one(sqs, q.url)
    resp = sqs.delete_message_batch(QueueUrl=q.url, Entries=[
        {"Id": "good", "ReceiptHandle": msg["ReceiptHandle"]},
        {"Id": "bad", "ReceiptHandle": "garbage"},
    ])
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [e["Id"] for e in resp["Successful"]] == ["good"]
    assert len(resp["Failed"]) == 1
    failed = resp["Failed"][0]
    assert failed["Id"] == "bad"
    assert failed["SenderFault"] is True
    assert failed["Code"] == "ReceiptHandleIsInvalid"
    assert counts(sqs, q.url) == (0, 0, 0)


# ---------------------------------------------------- ChangeMessageVisibility

def test_change_message_visibility_to_zero(sqs, new_queue):
    q = new_queue()
    sent = sqs.send_message(QueueUrl=q.url, MessageBody="again")
    msg = receive_one(sqs, q.url)
    assert receive(sqs, q.url) == []
    resp = sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=0)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    again = receive_one(sqs, q.url, AttributeNames=["ApproximateReceiveCount"])
    assert again["MessageId"] == sent["MessageId"]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"


def test_change_message_visibility_extends(sqs, new_queue):
    q = new_queue()
    sqs.send_message(QueueUrl=q.url, MessageBody="slow worker")
    msg = receive_one(sqs, q.url, VisibilityTimeout=1)
    sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=30)
    time.sleep(1.5)
    assert receive(sqs, q.url) == []
    assert counts(sqs, q.url) == (0, 1, 0)


def test_change_message_visibility_counts_from_now(sqs, new_queue):
    q = new_queue()
    sqs.send_message(QueueUrl=q.url, MessageBody="shorten")
    msg = receive_one(sqs, q.url, VisibilityTimeout=60)
    sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=1)
    assert receive(sqs, q.url) == []
    time.sleep(1.5)
    assert receive_one(sqs, q.url, wait=1)["MessageId"] == msg["MessageId"]


def test_change_message_visibility_is_not_permanent(sqs, new_queue):
    q = new_queue()  # queue default 30 s
    sqs.send_message(QueueUrl=q.url, MessageBody="test")
    msg = receive_one(sqs, q.url)
    sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=0)
    receive_one(sqs, q.url)  # hidden for the queue's 30 s again, not 0
    assert receive(sqs, q.url) == []


def test_change_message_visibility_after_expiry_succeeds(sqs, new_queue):
    q = new_queue(attributes={"VisibilityTimeout": 1})
    sqs.send_message(QueueUrl=q.url, MessageBody="expired")
    handle = receive_one(sqs, q.url)["ReceiptHandle"]
    time.sleep(1.5)
    resp = sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=handle, VisibilityTimeout=1)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_change_message_visibility_of_deleted_message(sqs, new_queue):
    q = new_queue()
    sqs.send_message(QueueUrl=q.url, MessageBody="foo")
    handle = receive_one(sqs, q.url)["ReceiptHandle"]
    sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=handle, VisibilityTimeout=42)
    sqs.delete_message(QueueUrl=q.url, ReceiptHandle=handle)
    with aws_error("InvalidParameterValue", 400,
                   f"Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist "
                   f"or is not available for visibility timeout change."):
        sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=handle, VisibilityTimeout=42)


def test_change_message_visibility_with_invalid_handle(sqs, new_queue):
    q = new_queue()
    with aws_error("ReceiptHandleIsInvalid", 404):
        sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle="INVALID", VisibilityTimeout=60)


# ----------------------------------------------- ChangeMessageVisibilityBatch

def test_change_message_visibility_batch(sqs, new_queue):
    q = new_queue()
    for i in range(3):
        sqs.send_message(QueueUrl=q.url, MessageBody=f"m{i}")
    msgs = drain(sqs, q.url, expected=3)
    assert counts(sqs, q.url) == (0, 3, 0)
    resp = sqs.change_message_visibility_batch(QueueUrl=q.url, Entries=[
        {"Id": "a", "ReceiptHandle": msgs[0]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "b", "ReceiptHandle": msgs[1]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "c", "ReceiptHandle": msgs[2]["ReceiptHandle"], "VisibilityTimeout": 120},
    ])
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert sorted(e["Id"] for e in resp["Successful"]) == ["a", "b", "c"]
    assert resp.get("Failed", []) == []
    assert counts(sqs, q.url) == (2, 1, 0)
    back = drain(sqs, q.url, expected=2)
    assert sorted(m["MessageId"] for m in back) == sorted([msgs[0]["MessageId"], msgs[1]["MessageId"]])


def test_change_message_visibility_batch_with_an_invalid_handle(sqs, new_queue):
    q = new_queue()
    sqs.send_message(QueueUrl=q.url, MessageBody="m")
    msg = receive_one(sqs, q.url)
    resp = sqs.change_message_visibility_batch(QueueUrl=q.url, Entries=[
        {"Id": "good", "ReceiptHandle": msg["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "bad", "ReceiptHandle": "garbage", "VisibilityTimeout": 0},
    ])
    assert [e["Id"] for e in resp["Successful"]] == ["good"]
    assert len(resp["Failed"]) == 1
    failed = resp["Failed"][0]
    assert failed["Id"] == "bad"
    assert failed["SenderFault"] is True
    assert failed["Code"] == "ReceiptHandleIsInvalid"
    assert counts(sqs, q.url) == (1, 0, 0)
