"""AWS's error cases with exact code, HTTP status and message (query
protocol). Sources: sqs.md §6.3 (AWS-validated LocalStack snapshots) and
§1.2. Where AWS's exact text is not known (sqs.md §7 lists them), only the
code and status are asserted, plus the parameter name in the message."""
import json

import pytest

from sluice_helpers import NON_EXISTENT_QUEUE, NON_EXISTENT_QUEUE_MSG, aws_error, queue_url, receive_one

INVALID_BATCH_ID = ("A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
                    "It can be at most 80 letters long.")
TOO_MANY = "Maximum number of entries per request are 10. You have sent 20."


@pytest.fixture
def missing_url(endpoint, unique_name):
    return queue_url(endpoint, unique_name("missing"))


# ------------------------------------------------------- 1. NonExistentQueue

@pytest.mark.parametrize("call", [
    "get_queue_attributes", "send_message", "receive_message", "delete_queue", "set_queue_attributes",
    "send_message_batch", "delete_message", "change_message_visibility", "purge_queue", "list_queue_tags",
    "list_dead_letter_source_queues", "add_permission",
])
def test_nonexistent_queue(sqs, missing_url, call):
    args = {
        "get_queue_attributes": dict(AttributeNames=["All"]),
        "send_message": dict(MessageBody="x"),
        "receive_message": dict(),
        "delete_queue": dict(),
        "set_queue_attributes": dict(Attributes={"DelaySeconds": "1"}),
        "send_message_batch": dict(Entries=[{"Id": "a", "MessageBody": "x"}]),
        "delete_message": dict(ReceiptHandle="whatever"),
        "change_message_visibility": dict(ReceiptHandle="whatever", VisibilityTimeout=1),
        "purge_queue": dict(),
        "list_queue_tags": dict(),
        "list_dead_letter_source_queues": dict(),
        "add_permission": dict(Label="l", AWSAccountIds=["000000000000"], Actions=["SendMessage"]),
    }[call]
    with aws_error(NON_EXISTENT_QUEUE, 400, NON_EXISTENT_QUEUE_MSG):
        getattr(sqs, call)(QueueUrl=missing_url, **args)


def test_nonexistent_queue_by_name(sqs, unique_name):
    with aws_error(NON_EXISTENT_QUEUE, 400, NON_EXISTENT_QUEUE_MSG):
        sqs.get_queue_url(QueueName=unique_name("missing"))
    with aws_error(NON_EXISTENT_QUEUE, 400, NON_EXISTENT_QUEUE_MSG):
        sqs.send_message(QueueUrl=unique_name("missing"), MessageBody="bare name")


def test_nonexistent_queue_is_the_modeled_exception(sqs, unique_name):
    # botocore maps the legacy code to client.exceptions.QueueDoesNotExist
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=unique_name("missing"))


# ------------------------------------------------ 2, 3. ReceiveMessage ranges

@pytest.mark.parametrize("value", [11, 0])
def test_receive_max_number_of_messages_out_of_range(sqs, new_queue, value):
    q = new_queue()
    with aws_error("InvalidParameterValue", 400,
                   f"Value {value} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."):
        sqs.receive_message(QueueUrl=q.url, MaxNumberOfMessages=value)


@pytest.mark.parametrize("value", [21, -1])
def test_receive_wait_time_seconds_out_of_range(sqs, new_queue, value):
    q = new_queue()
    with aws_error("InvalidParameterValue", 400,
                   f"Value {value} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."):
        sqs.receive_message(QueueUrl=q.url, WaitTimeSeconds=value)


# ------------------------------------------------------- 4. message too large

def test_send_message_too_large(sqs, new_queue):
    q = new_queue()
    with aws_error("InvalidParameterValue", 400,
                   "One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes."):
        sqs.send_message(QueueUrl=q.url, MessageBody="a" * 1048577)


def test_send_message_too_large_counting_attributes(sqs, new_queue):
    # attributes count towards the limit: name + type + value
    q = new_queue()
    attrs = {"k": {"DataType": "String", "StringValue": "x"}}
    body = "a" * (1048576 - len("k") - len("String") - len("x") + 1)
    with aws_error("InvalidParameterValue", 400,
                   "One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes."):
        sqs.send_message(QueueUrl=q.url, MessageBody=body, MessageAttributes=attrs)


def test_send_message_too_large_for_queue_maximum(sqs, new_queue):
    q = new_queue()
    sqs.set_queue_attributes(QueueUrl=q.url, Attributes={"MaximumMessageSize": "1024"})
    sqs.send_message(QueueUrl=q.url, MessageBody="a" * 1024)  # the limit itself is fine
    with aws_error("InvalidParameterValue", 400,
                   "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes."):
        sqs.send_message(QueueUrl=q.url, MessageBody="a" * 1025)


# --------------------------------------------------- 5. batch request too long

def test_send_message_batch_too_long(sqs, new_queue):
    q = new_queue()
    entries = [{"Id": "first", "MessageBody": "a" * 524288}, {"Id": "second", "MessageBody": "b" * 524289}]
    with aws_error("AWS.SimpleQueueService.BatchRequestTooLong", 400,
                   "Batch requests cannot be longer than 1048576 bytes. You have sent 1048577 bytes."):
        sqs.send_message_batch(QueueUrl=q.url, Entries=entries)


# 6 (one entry over MaximumMessageSize) and 9 (one entry with "\x01") are
# per-entry failures: see test_messages.py.

# ------------------------------------------------------- 7. too many entries

def test_too_many_entries_send_message_batch(sqs, new_queue):
    q = new_queue()
    with aws_error("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400, TOO_MANY):
        sqs.send_message_batch(QueueUrl=q.url, Entries=[{"Id": f"m{i}", "MessageBody": "x"} for i in range(20)])


def test_too_many_entries_delete_message_batch(sqs, new_queue):
    q = new_queue()
    sqs.send_message(QueueUrl=q.url, MessageBody="x")
    handle = receive_one(sqs, q.url)["ReceiptHandle"]
    with aws_error("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400, TOO_MANY):
        sqs.delete_message_batch(QueueUrl=q.url, Entries=[{"Id": f"m{i}", "ReceiptHandle": handle} for i in range(20)])


def test_too_many_entries_change_message_visibility_batch(sqs, new_queue):
    q = new_queue()
    sqs.send_message(QueueUrl=q.url, MessageBody="x")
    handle = receive_one(sqs, q.url)["ReceiptHandle"]
    with aws_error("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400, TOO_MANY):
        sqs.change_message_visibility_batch(QueueUrl=q.url, Entries=[
            {"Id": f"m{i}", "ReceiptHandle": handle, "VisibilityTimeout": 1} for i in range(20)])


# --------------------------------------------------- 8. invalid batch entry id

@pytest.mark.parametrize("bad_id", ["", "testLongId" * 10, "invalid:id"], ids=["empty", "100-chars", "colon"])
def test_invalid_batch_entry_id_send(sqs, new_queue, bad_id):
    q = new_queue()
    with aws_error("AWS.SimpleQueueService.InvalidBatchEntryId", 400, INVALID_BATCH_ID):
        sqs.send_message_batch(QueueUrl=q.url, Entries=[{"Id": bad_id, "MessageBody": "x"}])


@pytest.mark.parametrize("bad_id", ["", "testLongId" * 10, "invalid:id"], ids=["empty", "100-chars", "colon"])
def test_invalid_batch_entry_id_delete(sqs, new_queue, bad_id):
    q = new_queue()
    sqs.send_message(QueueUrl=q.url, MessageBody="x")
    handle = receive_one(sqs, q.url)["ReceiptHandle"]
    with aws_error("AWS.SimpleQueueService.InvalidBatchEntryId", 400, INVALID_BATCH_ID):
        sqs.delete_message_batch(QueueUrl=q.url, Entries=[{"Id": bad_id, "ReceiptHandle": handle}])


def test_invalid_batch_entry_id_change_visibility(sqs, new_queue):
    q = new_queue()
    sqs.send_message(QueueUrl=q.url, MessageBody="x")
    handle = receive_one(sqs, q.url)["ReceiptHandle"]
    with aws_error("AWS.SimpleQueueService.InvalidBatchEntryId", 400, INVALID_BATCH_ID):
        sqs.change_message_visibility_batch(QueueUrl=q.url, Entries=[
            {"Id": "invalid:id", "ReceiptHandle": handle, "VisibilityTimeout": 1}])


def test_batch_entry_id_of_80_chars_is_fine(sqs, new_queue):
    q = new_queue()
    resp = sqs.send_message_batch(QueueUrl=q.url, Entries=[{"Id": "a" * 80, "MessageBody": "x"}])
    assert [e["Id"] for e in resp["Successful"]] == ["a" * 80]


def test_batch_entry_ids_not_distinct(sqs, new_queue):
    q = new_queue()
    with aws_error("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400):
        sqs.send_message_batch(QueueUrl=q.url, Entries=[{"Id": "same", "MessageBody": "1"},
                                                        {"Id": "same", "MessageBody": "2"}])


def test_empty_batch_request(sqs, new_queue):
    q = new_queue()
    with aws_error("AWS.SimpleQueueService.EmptyBatchRequest", 400):
        sqs.send_message_batch(QueueUrl=q.url, Entries=[])


# ------------------------------------------------ 9. invalid message contents

@pytest.mark.parametrize("char", ["\x00", "\x08", "\x13", "\uffff", "\x0b"], ids=["NUL", "BS", "DC3", "U+FFFF", "VT"])
def test_send_message_with_invalid_characters(sqs, new_queue, char):
    q = new_queue()
    with aws_error("InvalidMessageContents", 400):
        sqs.send_message(QueueUrl=q.url, MessageBody=f"Invalid-{char}-body")


# ------------------------------------------------------------ 10. empty body

def test_send_message_with_empty_body(sqs, new_queue):
    q = new_queue()
    with aws_error("MissingParameter", 400, "The request must contain the parameter MessageBody."):
        sqs.send_message(QueueUrl=q.url, MessageBody="")


# ------------------------------------------------- 15. QueueAlreadyExists

def test_create_queue_conflicting_attributes(sqs, new_queue):
    q = new_queue(attributes={"DelaySeconds": 1})
    with aws_error("QueueAlreadyExists", 400,
                   "A queue already exists with the same name and a different value for attribute DelaySeconds"):
        sqs.create_queue(QueueName=q.name, Attributes={"DelaySeconds": "2"})


# ----------------------------------- 16. FIFO-only attributes on a standard queue

@pytest.mark.parametrize("attrs,message", [
    ({"FifoQueue": "false"}, "Unknown Attribute FifoQueue."),
    ({"ContentBasedDeduplication": "false"}, "Unknown Attribute ContentBasedDeduplication."),
    ({"DeduplicationScope": "queue"}, "You can specify the DeduplicationScope only when FifoQueue is set to true."),
    ({"FifoThroughputLimit": "perQueue"}, "You can specify the FifoThroughputLimit only when FifoQueue is set to true."),
], ids=["FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"])
def test_create_standard_queue_with_fifo_attribute(sqs, unique_name, attrs, message):
    name = unique_name()
    with aws_error("InvalidAttributeName", 400, message):
        sqs.create_queue(QueueName=name, Attributes=attrs)
    with aws_error(NON_EXISTENT_QUEUE, 400, NON_EXISTENT_QUEUE_MSG):
        sqs.get_queue_url(QueueName=name)


@pytest.mark.parametrize("value", ["true", "false"])
def test_set_fifo_queue_on_standard_queue(sqs, new_queue, value):
    q = new_queue()
    with aws_error("InvalidAttributeName", 400, "Unknown Attribute FifoQueue."):
        sqs.set_queue_attributes(QueueUrl=q.url, Attributes={"FifoQueue": value})


# ------------------------------------------------------ 18. receipt handles

def test_delete_message_with_garbage_handle(sqs, new_queue):
    q = new_queue()
    with aws_error("ReceiptHandleIsInvalid", 404, 'The input receipt handle "garbage" is not a valid receipt handle.'):
        sqs.delete_message(QueueUrl=q.url, ReceiptHandle="garbage")


def test_change_visibility_after_delete(sqs, new_queue):
    q = new_queue()
    sqs.send_message(QueueUrl=q.url, MessageBody="foo")
    handle = receive_one(sqs, q.url)["ReceiptHandle"]
    sqs.delete_message(QueueUrl=q.url, ReceiptHandle=handle)
    with aws_error("InvalidParameterValue", 400,
                   f"Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is "
                   f"not available for visibility timeout change."):
        sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=handle, VisibilityTimeout=42)


# ------------------------------------------------- 20. empty attribute value

def test_send_message_with_empty_string_attribute(sqs, new_queue):
    q = new_queue()
    with aws_error("InvalidParameterValue", 400,
                   "Message (user) attribute 'ErrorDetails' must contain a non-empty value of type 'String'."):
        sqs.send_message(QueueUrl=q.url, MessageBody="test",
                         MessageAttributes={"ErrorDetails": {"DataType": "String", "StringValue": ""}})


# ----------------------------------------------------------- 27. permissions

def test_add_permission_with_existing_label(sqs, new_queue):
    q = new_queue()
    sqs.add_permission(QueueUrl=q.url, Label="crossaccountpermission", AWSAccountIds=["000000000000"],
                       Actions=["ReceiveMessage"])
    with aws_error("InvalidParameterValue", 400,
                   "Value crossaccountpermission for parameter Label is invalid. Reason: Already exists."):
        sqs.add_permission(QueueUrl=q.url, Label="crossaccountpermission", AWSAccountIds=["668614515564"],
                           Actions=["ReceiveMessage"])


def test_remove_permission_with_unknown_label(sqs, new_queue):
    q = new_queue()
    with aws_error("InvalidParameterValue", 400,
                   "Value crossaccountpermission2 for parameter Label is invalid. Reason: can't find label."):
        sqs.remove_permission(QueueUrl=q.url, Label="crossaccountpermission2")


# ------------------------------------------------------ queue names and values

@pytest.mark.parametrize("name", ["has space", "queue/with/slashes", "a" * 81, "dot.in.name", "not-fifo.fifo", "t\u00e9st"],
                         ids=["space", "slashes", "81-chars", "dot", "fifo-suffix", "non-ascii"])
def test_create_queue_with_invalid_name(sqs, name):
    with aws_error("InvalidParameterValue", 400):
        sqs.create_queue(QueueName=name)


@pytest.mark.parametrize("attrs,name", [
    ({"VisibilityTimeout": "50000"}, "VisibilityTimeout"),
    ({"VisibilityTimeout": "-1"}, "VisibilityTimeout"),
    ({"DelaySeconds": "901"}, "DelaySeconds"),
    ({"MaximumMessageSize": "1023"}, "MaximumMessageSize"),
    ({"MaximumMessageSize": "1048577"}, "MaximumMessageSize"),
    ({"MessageRetentionPeriod": "59"}, "MessageRetentionPeriod"),
    ({"MessageRetentionPeriod": "1209601"}, "MessageRetentionPeriod"),
    ({"ReceiveMessageWaitTimeSeconds": "21"}, "ReceiveMessageWaitTimeSeconds"),
    ({"VisibilityTimeout": "abc"}, "VisibilityTimeout"),
], ids=lambda v: v if isinstance(v, str) else "-".join(f"{k}={x}" for k, x in v.items()))
def test_set_queue_attributes_out_of_range(sqs, new_queue, attrs, name):
    q = new_queue()
    with aws_error("InvalidAttributeValue", 400, message_contains=name):
        sqs.set_queue_attributes(QueueUrl=q.url, Attributes=attrs)
    # nothing was applied
    assert sqs.get_queue_attributes(QueueUrl=q.url, AttributeNames=[name])["Attributes"][name] != attrs[name]


def test_create_queue_with_out_of_range_attribute(sqs, unique_name):
    name = unique_name()
    with aws_error("InvalidAttributeValue", 400, message_contains="VisibilityTimeout"):
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "50000"})
    with aws_error(NON_EXISTENT_QUEUE, 400, NON_EXISTENT_QUEUE_MSG):
        sqs.get_queue_url(QueueName=name)


def test_unknown_queue_attribute_name(sqs, new_queue, unique_name):
    q = new_queue()
    with aws_error("InvalidAttributeName", 400, "Unknown Attribute Foobar."):
        sqs.get_queue_attributes(QueueUrl=q.url, AttributeNames=["Foobar"])
    with aws_error("InvalidAttributeName", 400, "Unknown Attribute Foobar."):
        sqs.set_queue_attributes(QueueUrl=q.url, Attributes={"Foobar": "1"})
    with aws_error("InvalidAttributeName", 400, "Unknown Attribute Foobar."):
        sqs.create_queue(QueueName=unique_name(), Attributes={"Foobar": "1"})


def test_send_message_delay_seconds_out_of_range(sqs, new_queue):
    q = new_queue()
    with aws_error("InvalidParameterValue", 400, message_contains="DelaySeconds"):
        sqs.send_message(QueueUrl=q.url, MessageBody="x", DelaySeconds=901)
    sqs.send_message(QueueUrl=q.url, MessageBody="x", DelaySeconds=900)  # the limit itself is fine


def test_change_visibility_out_of_range(sqs, new_queue):
    q = new_queue()
    sqs.send_message(QueueUrl=q.url, MessageBody="x")
    handle = receive_one(sqs, q.url)["ReceiptHandle"]
    with aws_error("InvalidParameterValue", 400, message_contains="VisibilityTimeout"):
        sqs.change_message_visibility(QueueUrl=q.url, ReceiptHandle=handle, VisibilityTimeout=43201)


def test_receive_visibility_timeout_out_of_range(sqs, new_queue):
    q = new_queue()
    with aws_error("InvalidParameterValue", 400, message_contains="VisibilityTimeout"):
        sqs.receive_message(QueueUrl=q.url, VisibilityTimeout=43201)


def test_redrive_policy_to_missing_queue(sqs, new_queue, unique_name):
    q = new_queue()
    missing_arn = f"arn:aws:sqs:us-east-1:000000000000:{unique_name('nodlq')}"
    with aws_error("InvalidParameterValue", 400, message_contains="RedrivePolicy"):
        sqs.set_queue_attributes(QueueUrl=q.url, Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": missing_arn, "maxReceiveCount": 3})})


def test_send_message_with_invalid_characters_in_attribute_value(sqs, new_queue):
    q = new_queue()
    with aws_error("InvalidParameterValue", 400):
        sqs.send_message(QueueUrl=q.url, MessageBody="test", MessageAttributes={
            "attr1": {"DataType": "String", "StringValue": f"Invalid-{chr(8)},{chr(11)}"}})


def test_send_message_with_reserved_attribute_name(sqs, new_queue):
    q = new_queue()
    with aws_error("InvalidParameterValue", 400):
        sqs.send_message(QueueUrl=q.url, MessageBody="x",
                         MessageAttributes={"AWS.reserved": {"DataType": "String", "StringValue": "v"}})


def test_send_message_with_invalid_attribute_type(sqs, new_queue):
    q = new_queue()
    with aws_error("InvalidParameterValue", 400):
        sqs.send_message(QueueUrl=q.url, MessageBody="x",
                         MessageAttributes={"a": {"DataType": "Integer", "StringValue": "1"}})
