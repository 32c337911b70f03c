"""Queue lifecycle and queue-level actions: CreateQueue, GetQueueUrl,
ListQueues, DeleteQueue, GetQueueAttributes, SetQueueAttributes, PurgeQueue,
TagQueue/UntagQueue/ListQueueTags, ListDeadLetterSourceQueues,
AddPermission/RemovePermission."""
import json
import time
import uuid

import pytest

from sluice_helpers import (ACCOUNT, NON_EXISTENT_QUEUE, NON_EXISTENT_QUEUE_MSG, aws_error, counts, make_client,
                            queue_arn, queue_attrs, queue_url, receive)

DEFAULTS = {
    "VisibilityTimeout": "30",
    "MaximumMessageSize": "1048576",
    "MessageRetentionPeriod": "345600",
    "DelaySeconds": "0",
    "ReceiveMessageWaitTimeSeconds": "0",
    "ApproximateNumberOfMessages": "0",
    "ApproximateNumberOfMessagesNotVisible": "0",
    "ApproximateNumberOfMessagesDelayed": "0",
}

READABLE = [
    "VisibilityTimeout", "MaximumMessageSize", "MessageRetentionPeriod", "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible", "CreatedTimestamp", "LastModifiedTimestamp", "QueueArn",
    "ApproximateNumberOfMessagesDelayed", "DelaySeconds", "ReceiveMessageWaitTimeSeconds",
]


# ---------------------------------------------------------------- CreateQueue

def test_create_queue_returns_url_built_from_host_header(sqs, endpoint, unique_name):
    name = unique_name()
    resp = sqs.create_queue(QueueName=name)
    try:
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert resp["QueueUrl"] == queue_url(endpoint, name)
    finally:
        sqs.delete_queue(QueueUrl=resp["QueueUrl"])


def test_queue_url_follows_the_host_the_client_used(sqs, endpoint, new_queue):
    if "://127.0.0.1:" not in endpoint:
        pytest.skip("needs a server on 127.0.0.1")
    q = new_queue()
    via_localhost = make_client(endpoint.replace("://127.0.0.1:", "://localhost:"))
    url = via_localhost.get_queue_url(QueueName=q.name)["QueueUrl"]
    assert url == q.url.replace("://127.0.0.1:", "://localhost:")
    # either spelling of the URL addresses the same queue
    via_localhost.send_message(QueueUrl=q.url, MessageBody="sent with the 127.0.0.1 URL")
    assert [m["Body"] for m in receive(sqs, url)] == ["sent with the 127.0.0.1 URL"]


def test_create_queue_is_idempotent(sqs, new_queue, unique_name):
    name = unique_name()
    q = new_queue(name=name, attributes={"VisibilityTimeout": 45, "DelaySeconds": 3})
    # identical attributes: same URL
    again = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45", "DelaySeconds": "3"})
    assert again["QueueUrl"] == q.url
    # no attributes at all on an existing customised queue: same URL, queue unchanged
    bare = sqs.create_queue(QueueName=name)
    assert bare["QueueUrl"] == q.url
    attrs = queue_attrs(sqs, q.url, "VisibilityTimeout", "DelaySeconds")
    assert attrs == {"VisibilityTimeout": "45", "DelaySeconds": "3"}
    listed = sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", [])
    assert listed == [q.url]


def test_create_queue_with_a_different_attribute_value_fails(sqs, new_queue):
    q = new_queue(attributes={"DelaySeconds": 1})
    with aws_error("QueueAlreadyExists", 400,
                   "A queue already exists with the same name and a different value for attribute DelaySeconds"):
        sqs.create_queue(QueueName=q.name, Attributes={"DelaySeconds": "2"})
    # and the queue keeps its original value
    assert queue_attrs(sqs, q.url, "DelaySeconds") == {"DelaySeconds": "1"}


def test_create_queue_with_attributes_applies_them(sqs, new_queue):
    q = new_queue(attributes={
        "VisibilityTimeout": 20, "MessageRetentionPeriod": 604800, "ReceiveMessageWaitTimeSeconds": 10,
        "DelaySeconds": 7, "MaximumMessageSize": 2048,
    })
    attrs = queue_attrs(sqs, q.url)
    assert attrs["VisibilityTimeout"] == "20"
    assert attrs["MessageRetentionPeriod"] == "604800"
    assert attrs["ReceiveMessageWaitTimeSeconds"] == "10"
    assert attrs["DelaySeconds"] == "7"
    assert attrs["MaximumMessageSize"] == "2048"


def test_create_queue_with_tags(sqs, new_queue):
    q = new_queue(tags={"env": "test", "Team": "Queues", "empty": ""})
    assert sqs.list_queue_tags(QueueUrl=q.url)["Tags"] == {"env": "test", "Team": "Queues", "empty": ""}


def test_queue_names_may_use_the_full_alphabet_and_80_chars(sqs, new_queue):
    name = f"Az09_-{uuid.uuid4().hex}".ljust(80, "x")
    assert len(name) == 80
    q = new_queue(name=name)
    assert q.url.endswith("/" + name)
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == q.url


# ---------------------------------------------------------------- GetQueueUrl

def test_get_queue_url(sqs, new_queue):
    q = new_queue()
    assert sqs.get_queue_url(QueueName=q.name)["QueueUrl"] == q.url
    assert sqs.get_queue_url(QueueName=q.name, QueueOwnerAWSAccountId=ACCOUNT)["QueueUrl"] == q.url


def test_get_queue_url_of_missing_queue(sqs, unique_name):
    with aws_error(NON_EXISTENT_QUEUE, 400, NON_EXISTENT_QUEUE_MSG):
        sqs.get_queue_url(QueueName=unique_name("missing"))


def test_queue_names_are_case_sensitive(sqs, new_queue, unique_name):
    name = unique_name("Case")
    q = new_queue(name=name)
    with aws_error(NON_EXISTENT_QUEUE, 400, NON_EXISTENT_QUEUE_MSG):
        sqs.get_queue_url(QueueName=name.lower())
    other = new_queue(name=name.lower())
    assert other.url != q.url


# ----------------------------------------------------------------- ListQueues

def test_list_queues_with_prefix(sqs, new_queue, unique_name):
    prefix = unique_name("pfx")
    mine = {new_queue(name=f"{prefix}-{i}").url for i in range(3)}
    other = new_queue(name=f"x{prefix}")
    got = sqs.list_queues(QueueNamePrefix=prefix)
    assert set(got["QueueUrls"]) == mine
    assert len(got["QueueUrls"]) == 3
    assert "NextToken" not in got
    everything = set(sqs.list_queues().get("QueueUrls", []))
    assert mine | {other.url} <= everything


def test_list_queues_with_unmatched_prefix_returns_no_urls(sqs, unique_name):
    resp = sqs.list_queues(QueueNamePrefix=unique_name("nothing-here"))
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp.get("QueueUrls", []) == []
    assert "NextToken" not in resp


def test_list_queues_pagination(sqs, new_queue, unique_name):
    prefix = unique_name("page")
    urls = {new_queue(name=f"{prefix}-{i}").url for i in range(5)}

    first = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2)
    assert len(first["QueueUrls"]) == 2
    assert first.get("NextToken")

    seen = list(first["QueueUrls"])
    token = first["NextToken"]
    pages = 1
    while token:
        page = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2, NextToken=token)
        assert 1 <= len(page["QueueUrls"]) <= 2
        seen.extend(page["QueueUrls"])
        token = page.get("NextToken")
        pages += 1
        assert pages <= 5, "pagination does not end"
    assert sorted(seen) == sorted(urls), "every queue exactly once across pages"

    # the remainder in one page: no NextToken
    rest = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=10, NextToken=first["NextToken"])
    assert len(rest["QueueUrls"]) == 3
    assert "NextToken" not in rest
    assert set(rest["QueueUrls"]) | set(first["QueueUrls"]) == urls


# ---------------------------------------------------------------- DeleteQueue

def test_delete_queue(sqs, unique_name):
    name = unique_name()
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="doomed")
    resp = sqs.delete_queue(QueueUrl=url)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    with aws_error(NON_EXISTENT_QUEUE, 400, NON_EXISTENT_QUEUE_MSG):
        sqs.get_queue_url(QueueName=name)
    assert url not in sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", [])
    with aws_error(NON_EXISTENT_QUEUE, 400, NON_EXISTENT_QUEUE_MSG):
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    with aws_error(NON_EXISTENT_QUEUE, 400, NON_EXISTENT_QUEUE_MSG):
        sqs.send_message(QueueUrl=url, MessageBody="after delete")


# ---------------------------------------------------------- GetQueueAttributes

def test_get_queue_attributes_all_has_aws_defaults(sqs, new_queue):
    q = new_queue()
    attrs = queue_attrs(sqs, q.url, "All")
    for key, value in DEFAULTS.items():
        assert attrs.get(key) == value, f"{key}: {attrs.get(key)!r}"
    assert attrs["QueueArn"] == f"arn:aws:sqs:us-east-1:000000000000:{q.name}"
    for key in ("CreatedTimestamp", "LastModifiedTimestamp"):
        assert attrs[key].isdigit(), attrs[key]
    # a standard queue shows no FIFO attributes, and no policies until set
    for absent in ("FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit",
                   "Policy", "RedrivePolicy"):
        assert absent not in attrs, absent


def test_new_queue_reports_sse_sqs_enabled(sqs, new_queue):
    # AWS (snapshot 2025-08-19): a new queue has SqsManagedSseEnabled "true".
    q = new_queue()
    assert queue_attrs(sqs, q.url, "All").get("SqsManagedSseEnabled") == "true"


@pytest.mark.parametrize("name", READABLE)
def test_get_queue_attributes_single_name(sqs, new_queue, name):
    q = new_queue()
    attrs = queue_attrs(sqs, q.url, name)
    assert list(attrs) == [name]
    if name in DEFAULTS:
        assert attrs[name] == DEFAULTS[name]
    elif name == "QueueArn":
        assert attrs[name] == queue_arn(q.name)
    else:
        assert attrs[name].isdigit()


def test_get_queue_attributes_several_names(sqs, new_queue):
    q = new_queue()
    attrs = queue_attrs(sqs, q.url, "VisibilityTimeout", "QueueArn", "DelaySeconds")
    assert attrs == {"VisibilityTimeout": "30", "QueueArn": queue_arn(q.name), "DelaySeconds": "0"}


def test_get_queue_attributes_without_names_returns_none(sqs, new_queue):
    q = new_queue()
    resp = sqs.get_queue_attributes(QueueUrl=q.url)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp.get("Attributes", {}) == {}


def test_timestamps_are_epoch_seconds(sqs, new_queue):
    before = int(time.time())
    q = new_queue()
    after = int(time.time())
    attrs = queue_attrs(sqs, q.url, "CreatedTimestamp", "LastModifiedTimestamp")
    created = int(attrs["CreatedTimestamp"])
    assert before - 2 <= created <= after + 2, "seconds, not milliseconds"
    assert int(attrs["LastModifiedTimestamp"]) >= created

    time.sleep(1.2)
    sqs.set_queue_attributes(QueueUrl=q.url, Attributes={"VisibilityTimeout": "31"})
    attrs2 = queue_attrs(sqs, q.url, "CreatedTimestamp", "LastModifiedTimestamp")
    assert int(attrs2["CreatedTimestamp"]) == created
    assert int(attrs2["LastModifiedTimestamp"]) > created
    assert int(attrs2["LastModifiedTimestamp"]) <= int(time.time()) + 2


def test_message_counts(sqs, new_queue):
    q = new_queue()
    assert counts(sqs, q.url) == (0, 0, 0)
    for i in range(3):
        sqs.send_message(QueueUrl=q.url, MessageBody=f"visible {i}")
    sqs.send_message(QueueUrl=q.url, MessageBody="delayed", DelaySeconds=60)
    assert counts(sqs, q.url) == (3, 0, 1)

    got = receive(sqs, q.url, MaxNumberOfMessages=2, VisibilityTimeout=60)
    assert len(got) == 2
    assert counts(sqs, q.url) == (1, 2, 1)

    sqs.delete_message(QueueUrl=q.url, ReceiptHandle=got[0]["ReceiptHandle"])
    assert counts(sqs, q.url) == (1, 1, 1)

    sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=got[1]["ReceiptHandle"], VisibilityTimeout=0)
    assert counts(sqs, q.url) == (2, 0, 1)

    all_attrs = queue_attrs(sqs, q.url, "All")
    assert all_attrs["ApproximateNumberOfMessages"] == "2"
    assert all_attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert all_attrs["ApproximateNumberOfMessagesDelayed"] == "1"


# ---------------------------------------------------------- SetQueueAttributes

def test_set_queue_attributes_round_trip(sqs, new_queue):
    q = new_queue()
    policy = {
        "Version": "2012-10-17",
        "Id": "test-policy",
        "Statement": [{
            "Sid": "AllowSend", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "SQS:SendMessage", "Resource": q.arn,
        }],
    }
    resp = sqs.set_queue_attributes(QueueUrl=q.url, Attributes={
        "VisibilityTimeout": "69",
        "DelaySeconds": "420",
        "MaximumMessageSize": "2048",
        "MessageRetentionPeriod": "3600",
        "ReceiveMessageWaitTimeSeconds": "3",
        "Policy": json.dumps(policy),
    })
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    attrs = queue_attrs(sqs, q.url, "All")
    assert attrs["VisibilityTimeout"] == "69"
    assert attrs["DelaySeconds"] == "420"
    assert attrs["MaximumMessageSize"] == "2048"
    assert attrs["MessageRetentionPeriod"] == "3600"
    assert attrs["ReceiveMessageWaitTimeSeconds"] == "3"
    assert json.loads(attrs["Policy"]) == policy
    # untouched attributes keep their values
    assert attrs["QueueArn"] == q.arn
    assert attrs["ApproximateNumberOfMessages"] == "0"


def test_set_queue_attributes_limits_are_inclusive(sqs, new_queue):
    q = new_queue()
    for attrs in ({"VisibilityTimeout": "0"}, {"VisibilityTimeout": "43200"}, {"DelaySeconds": "900"},
                  {"MaximumMessageSize": "1024"}, {"MaximumMessageSize": "1048576"},
                  {"MessageRetentionPeriod": "60"}, {"MessageRetentionPeriod": "1209600"},
                  {"ReceiveMessageWaitTimeSeconds": "20"}):
        sqs.set_queue_attributes(QueueUrl=q.url, Attributes=attrs)
        assert queue_attrs(sqs, q.url, *attrs) == attrs


def test_set_redrive_policy(sqs, new_queue):
    dlq = new_queue("dlq")
    src = new_queue("src")
    sqs.set_queue_attributes(QueueUrl=src.url, Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": "5"})})
    policy = json.loads(queue_attrs(sqs, src.url, "RedrivePolicy")["RedrivePolicy"])
    assert policy["deadLetterTargetArn"] == dlq.arn
    assert int(policy["maxReceiveCount"]) == 5
    # RedrivePolicy also shows up in All
    assert "RedrivePolicy" in queue_attrs(sqs, src.url, "All")


def test_queue_visibility_timeout_attribute_applies_to_receives(sqs, new_queue):
    q = new_queue()
    sqs.set_queue_attributes(QueueUrl=q.url, Attributes={"VisibilityTimeout": "1"})
    sqs.send_message(QueueUrl=q.url, MessageBody="vt")
    first = receive(sqs, q.url)
    assert len(first) == 1
    assert receive(sqs, q.url) == []
    time.sleep(1.5)
    again = receive(sqs, q.url, AttributeNames=["ApproximateReceiveCount"])
    assert len(again) == 1 and again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_queue_delay_seconds_attribute_applies_to_sends(sqs, new_queue):
    q = new_queue(attributes={"DelaySeconds": 1})
    sqs.send_message(QueueUrl=q.url, MessageBody="late by default")
    assert receive(sqs, q.url) == []
    assert counts(sqs, q.url) == (0, 0, 1)
    time.sleep(1.5)
    assert [m["Body"] for m in receive(sqs, q.url)] == ["late by default"]


# ----------------------------------------------------------------- PurgeQueue

def test_purge_queue_removes_visible_in_flight_and_delayed(sqs, new_queue):
    q = new_queue()
    for i in range(3):
        sqs.send_message(QueueUrl=q.url, MessageBody=f"m{i}")
    sqs.send_message(QueueUrl=q.url, MessageBody="delayed", DelaySeconds=30)
    inflight = receive(sqs, q.url, VisibilityTimeout=1)
    assert len(inflight) == 1
    assert counts(sqs, q.url) == (2, 1, 1)

    resp = sqs.purge_queue(QueueUrl=q.url)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert counts(sqs, q.url) == (0, 0, 0)
    time.sleep(1.3)  # the purged in-flight message must not come back
    assert receive(sqs, q.url, WaitTimeSeconds=1) == []
    # the queue itself survives and works
    sqs.send_message(QueueUrl=q.url, MessageBody="after purge")
    assert [m["Body"] for m in receive(sqs, q.url, WaitTimeSeconds=1)] == ["after purge"]


def test_purge_missing_queue(sqs, endpoint, unique_name):
    with aws_error(NON_EXISTENT_QUEUE, 400, NON_EXISTENT_QUEUE_MSG):
        sqs.purge_queue(QueueUrl=queue_url(endpoint, unique_name("missing")))


# ----------------------------------------------------------------------- Tags

def test_tag_untag_list_queue_tags(sqs, new_queue):
    q = new_queue()
    assert sqs.list_queue_tags(QueueUrl=q.url).get("Tags", {}) == {}

    sqs.tag_queue(QueueUrl=q.url, Tags={"tag1": "value1", "tag2": "value2", "tag3": ""})
    assert sqs.list_queue_tags(QueueUrl=q.url)["Tags"] == {"tag1": "value1", "tag2": "value2", "tag3": ""}

    # a repeated key overwrites; keys are case-sensitive
    sqs.tag_queue(QueueUrl=q.url, Tags={"tag1": "new", "TAG1": "upper"})
    assert sqs.list_queue_tags(QueueUrl=q.url)["Tags"] == {
        "tag1": "new", "TAG1": "upper", "tag2": "value2", "tag3": ""}

    # untagging a key that is not there is ignored
    sqs.untag_queue(QueueUrl=q.url, TagKeys=["tag1", "tag3", "no-such-key"])
    assert sqs.list_queue_tags(QueueUrl=q.url)["Tags"] == {"TAG1": "upper", "tag2": "value2"}

    sqs.untag_queue(QueueUrl=q.url, TagKeys=["TAG1", "tag2"])
    resp = sqs.list_queue_tags(QueueUrl=q.url)
    assert resp.get("Tags", {}) == {}


def test_tags_on_missing_queue(sqs, endpoint, unique_name):
    url = queue_url(endpoint, unique_name("missing"))
    with aws_error(NON_EXISTENT_QUEUE, 400, NON_EXISTENT_QUEUE_MSG):
        sqs.list_queue_tags(QueueUrl=url)
    with aws_error(NON_EXISTENT_QUEUE, 400, NON_EXISTENT_QUEUE_MSG):
        sqs.tag_queue(QueueUrl=url, Tags={"a": "b"})


# ------------------------------------------------- ListDeadLetterSourceQueues

def test_list_dead_letter_source_queues(sqs, new_queue):
    dlq = new_queue("dlq")
    redrive = json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 3})
    s1 = new_queue("src1", attributes={"RedrivePolicy": redrive})
    s2 = new_queue("src2")
    sqs.set_queue_attributes(QueueUrl=s2.url, Attributes={"RedrivePolicy": redrive})
    new_queue("unrelated")

    resp = sqs.list_dead_letter_source_queues(QueueUrl=dlq.url)
    assert sorted(resp["queueUrls"]) == sorted([s1.url, s2.url])

    # a queue that is nobody's DLQ has no sources
    assert sqs.list_dead_letter_source_queues(QueueUrl=s1.url).get("queueUrls", []) == []


# ------------------------------------------------ AddPermission/RemovePermission

def _policy(sqs, url):
    raw = queue_attrs(sqs, url, "Policy").get("Policy")
    return json.loads(raw) if raw else None


def test_permission_lifecycle(sqs, new_queue):
    q = new_queue()
    other = "668614515564"
    resp = sqs.add_permission(QueueUrl=q.url, Label="crossaccountpermission",
                              AWSAccountIds=[ACCOUNT, other], Actions=["ReceiveMessage"])
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200

    policy = _policy(sqs, q.url)
    assert policy["Version"] == "2008-10-17"
    assert policy["Id"] == f"{q.arn}/SQSDefaultPolicy"
    assert len(policy["Statement"]) == 1
    st = policy["Statement"][0]
    assert st["Sid"] == "crossaccountpermission"
    assert st["Effect"] == "Allow"
    assert st["Action"] == "SQS:ReceiveMessage"
    assert st["Resource"] == q.arn
    principals = st["Principal"]["AWS"]
    principals = [principals] if isinstance(principals, str) else principals
    assert sorted(principals) == sorted([f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:iam::{other}:root"])

    # a second label adds a second statement
    sqs.add_permission(QueueUrl=q.url, Label="second", AWSAccountIds=[ACCOUNT], Actions=["SendMessage"])
    assert [s["Sid"] for s in _policy(sqs, q.url)["Statement"]] == ["crossaccountpermission", "second"]

    sqs.remove_permission(QueueUrl=q.url, Label="crossaccountpermission")
    assert [s["Sid"] for s in _policy(sqs, q.url)["Statement"]] == ["second"]

    # removing the last statement removes the policy
    sqs.remove_permission(QueueUrl=q.url, Label="second")
    assert "Policy" not in queue_attrs(sqs, q.url, "Policy")
    assert "Policy" not in queue_attrs(sqs, q.url, "All")


def test_add_permission_duplicate_label(sqs, new_queue):
    q = new_queue()
    sqs.add_permission(QueueUrl=q.url, Label="crossaccountpermission", AWSAccountIds=[ACCOUNT],
                       Actions=["ReceiveMessage"])
    with aws_error("InvalidParameterValue", 400,
                   "Value crossaccountpermission for parameter Label is invalid. Reason: Already exists."):
        sqs.add_permission(QueueUrl=q.url, Label="crossaccountpermission", AWSAccountIds=["668614515564"],
                           Actions=["ReceiveMessage"])


def test_remove_permission_unknown_label(sqs, new_queue):
    q = new_queue()
    sqs.add_permission(QueueUrl=q.url, Label="crossaccountpermission", AWSAccountIds=[ACCOUNT],
                       Actions=["ReceiveMessage"])
    with aws_error("InvalidParameterValue", 400,
                   "Value crossaccountpermission2 for parameter Label is invalid. Reason: can't find label."):
        sqs.remove_permission(QueueUrl=q.url, Label="crossaccountpermission2")
