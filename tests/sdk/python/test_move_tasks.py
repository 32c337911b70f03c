"""Dead-letter queue redrive: StartMessageMoveTask, ListMessageMoveTasks and
CancelMessageMoveTask (sqs.md §1.2, §4.7, §6.3 item 25; the AWS-recorded
LocalStack snapshot test_sqs_move_task.snapshot.json).

Debian's botocore 1.29.27 predates these actions (1.29.148), so unless the
client knows them they go out as raw query-protocol requests
(Action=StartMessageMoveTask&Version=2012-11-05&...) over http.client, and
the XML answers are parsed here: that exercises sluice's query codec too.
Errors come back as botocore ClientErrors either way, so aws_error applies."""
import base64
import http.client
import json
import time
import urllib.parse
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError

from sluice_helpers import QUERY_NS, aws_error, counts, queue_arn, receive

pytestmark = pytest.mark.timeout(60)

NS = {"q": QUERY_NS}
INT_FIELDS = ("ApproximateNumberOfMessagesMoved", "ApproximateNumberOfMessagesToMove",
              "MaxNumberOfMessagesPerSecond", "StartedTimestamp")
ENTRY_FIELDS = ("TaskHandle", "Status", "SourceArn", "DestinationArn", "MaxNumberOfMessagesPerSecond",
                "ApproximateNumberOfMessagesMoved", "ApproximateNumberOfMessagesToMove", "FailureReason",
                "StartedTimestamp")
NOT_A_DLQ = "Source queue must be configured as a Dead Letter Queue."
ALREADY_RUNNING = ("There is already a task running. Only one active task is allowed for a source queue arn at a "
                   "given time.")


# ------------------------------------------------------------- the client side

def qtag(name):
    return f"{{{QUERY_NS}}}{name}"


class MoveTasks:
    """The three actions, with boto3's call and result shapes, through boto3
    when it knows them and through the raw query protocol otherwise."""

    def __init__(self, endpoint, sqs):
        self.endpoint = endpoint
        self.sqs = sqs
        self.native = "start_message_move_task" in dir(sqs)
        self.last_raw = None  # (status, root element) of the last raw call

    # raw query protocol ---------------------------------------------------

    def raw(self, action, params):
        """POST / with Action=...; returns (HTTP status, headers, XML root)."""
        u = urllib.parse.urlsplit(self.endpoint)
        form = {"Action": action, "Version": "2012-11-05"}
        form.update({k: str(v) for k, v in params.items()})
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        try:
            conn.request("POST", "/", body=urllib.parse.urlencode(form).encode(),
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
            resp = conn.getresponse()
            status, headers, body = resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            raise AssertionError(f"{action}: HTTP {status}, body is not XML ({exc}): {body[:500]!r}")
        self.last_raw = (status, headers, root)
        if status != 200:
            assert root.tag == qtag("ErrorResponse"), f"{action}: HTTP {status} without ErrorResponse: {body[:500]!r}"
            err = root.find("q:Error", NS)
            raise ClientError({
                "Error": {"Code": err.findtext("q:Code", namespaces=NS),
                          "Message": err.findtext("q:Message", namespaces=NS),
                          "Type": err.findtext("q:Type", namespaces=NS)},
                "ResponseMetadata": {"HTTPStatusCode": status,
                                     "RequestId": root.findtext("q:RequestId", namespaces=NS)},
            }, action)
        assert root.tag == qtag(f"{action}Response"), f"{action}: root element {root.tag}"
        result = root.find(f"q:{action}Result", NS)
        assert result is not None, f"{action}: no {action}Result in {body[:500]!r}"
        request_id = root.findtext("q:ResponseMetadata/q:RequestId", namespaces=NS)
        assert request_id, f"{action}: no ResponseMetadata/RequestId"
        return result

    @staticmethod
    def _value(name, text):
        if name in INT_FIELDS:
            assert text is not None and text.strip().lstrip("-").isdigit(), f"{name}={text!r} is not an integer"
            return int(text)
        return text

    # the actions ------------------------------------------------------------

    def start(self, **params):
        if self.native:
            return self.sqs.start_message_move_task(**params)
        result = self.raw("StartMessageMoveTask", params)
        return {"TaskHandle": result.findtext("q:TaskHandle", namespaces=NS)}

    def list(self, **params):
        if self.native:
            return self.sqs.list_message_move_tasks(**params)
        result = self.raw("ListMessageMoveTasks", params)
        entries = []
        for e in result.findall("q:ListMessageMoveTasksResultEntry", NS):
            entry = {}
            for child in e:
                name = child.tag.split("}", 1)[-1]
                assert name in ENTRY_FIELDS, f"unexpected element {name} in ListMessageMoveTasksResultEntry"
                entry[name] = self._value(name, child.text)
            entries.append(entry)
        unknown = [c.tag for c in result if c.tag != qtag("ListMessageMoveTasksResultEntry")]
        assert not unknown, f"unexpected elements in ListMessageMoveTasksResult: {unknown}"
        return {"Results": entries}

    def cancel(self, **params):
        if self.native:
            return self.sqs.cancel_message_move_task(**params)
        result = self.raw("CancelMessageMoveTask", params)
        return {"ApproximateNumberOfMessagesMoved": self._value(
            "ApproximateNumberOfMessagesMoved", result.findtext("q:ApproximateNumberOfMessagesMoved", namespaces=NS))}

    # helpers ----------------------------------------------------------------

    def latest(self, source_arn):
        results = self.list(SourceArn=source_arn)["Results"]
        assert len(results) == 1, f"ListMessageMoveTasks (MaxResults 1 by default) gave {results}"
        return results[0]

    def wait_status(self, source_arn, done=("COMPLETED", "CANCELLED", "FAILED"), timeout=30.0):
        deadline = time.monotonic() + timeout
        while True:
            task = self.latest(source_arn)
            if task["Status"] in done:
                return task
            assert task["Status"] in ("RUNNING", "CANCELLING"), f"unknown status in {task}"
            if time.monotonic() > deadline:
                raise AssertionError(f"task still {task['Status']} after {timeout}s: {task}")
            time.sleep(0.2)


@pytest.fixture
def tasks(endpoint, sqs):
    return MoveTasks(endpoint, sqs)


def fill_dlq(sqs, dlq, sources_and_bodies, attributes=None):
    """Sends each body to its source (whose RedrivePolicy names dlq with
    maxReceiveCount 1) and receives until every message moved to the DLQ.
    Returns {body: MessageId}."""
    total = 0
    ids = {}
    for src, bodies in sources_and_bodies:
        for i in range(0, len(bodies), 10):
            chunk = bodies[i:i + 10]
            resp = sqs.send_message_batch(QueueUrl=src.url, Entries=[
                dict({"Id": str(j), "MessageBody": b}, **({"MessageAttributes": attributes} if attributes else {}))
                for j, b in enumerate(chunk)])
            assert resp.get("Failed", []) == []
            ids.update({chunk[int(e["Id"])]: e["MessageId"] for e in resp["Successful"]})
        total += len(bodies)
    deadline = time.monotonic() + 20
    for src, _ in sources_and_bodies:
        while counts(sqs, src.url) != (0, 0, 0):
            assert time.monotonic() < deadline, "messages did not move to the dead-letter queue"
            receive(sqs, src.url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    assert counts(sqs, dlq.url) == (total, 0, 0)
    return ids


@pytest.fixture
def dlq_pipe(sqs, new_queue):
    """dlq_pipe(n_sources=1) -> (dlq, [sources]) with maxReceiveCount 1."""
    def make(n_sources=1):
        dlq = new_queue("dlq")
        policy = json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 1})
        return dlq, [new_queue(f"src{i}", attributes={"RedrivePolicy": policy}) for i in range(n_sources)]
    return make


def all_bodies(sqs, url, expected, timeout=10.0):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        got += receive(sqs, url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=300,
                       MessageAttributeNames=["All"], AttributeNames=["All"])
    return got


# ------------------------------------------------------------------ workflows

def test_move_task_back_to_original_sources(sqs, tasks, dlq_pipe):
    dlq, (a, b) = dlq_pipe(2)
    attrs = {"kind": {"DataType": "String", "StringValue": "poison"}}
    ids = fill_dlq(sqs, dlq, [(a, ["a1", "a2"]), (b, ["b1", "b2"])], attributes=attrs)
    before_ms = int(time.time() * 1000)
    handle = tasks.start(SourceArn=dlq.arn)["TaskHandle"]
    assert isinstance(handle, str) and handle
    task = tasks.wait_status(dlq.arn)
    assert task["Status"] == "COMPLETED", task
    assert task["ApproximateNumberOfMessagesMoved"] == 4
    assert task["ApproximateNumberOfMessagesToMove"] == 4
    assert task["SourceArn"] == dlq.arn
    assert "TaskHandle" not in task, "a finished task has no TaskHandle"
    assert "DestinationArn" not in task, "no DestinationArn was given"
    assert "MaxNumberOfMessagesPerSecond" not in task, "no rate was given"
    assert "FailureReason" not in task
    assert abs(task["StartedTimestamp"] - before_ms) < 60_000, f"StartedTimestamp {task['StartedTimestamp']} (ms)"
    got_a = all_bodies(sqs, a.url, 2)
    got_b = all_bodies(sqs, b.url, 2)
    assert sorted(m["Body"] for m in got_a) == ["a1", "a2"]
    assert sorted(m["Body"] for m in got_b) == ["b1", "b2"]
    for m in got_a + got_b:
        assert m["MessageAttributes"] == {"kind": {"DataType": "String", "StringValue": "poison"}}
        # sluice keeps the MessageId through the move, as the JS suite asserts (AWS unrecorded)
        assert m["MessageId"] == ids[m["Body"]]
    assert counts(sqs, dlq.url) == (0, 0, 0)


def test_move_task_to_explicit_destination(sqs, tasks, dlq_pipe, new_queue):
    dlq, (src,) = dlq_pipe(1)
    dest = new_queue("dest")
    fill_dlq(sqs, dlq, [(src, ["m1", "m2", "m3"])])
    handle = tasks.start(SourceArn=dlq.arn, DestinationArn=dest.arn)["TaskHandle"]
    assert handle
    task = tasks.wait_status(dlq.arn)
    assert task["Status"] == "COMPLETED", task
    assert task["DestinationArn"] == dest.arn
    assert task["ApproximateNumberOfMessagesMoved"] == task["ApproximateNumberOfMessagesToMove"] == 3
    assert sorted(m["Body"] for m in all_bodies(sqs, dest.url, 3)) == ["m1", "m2", "m3"]
    assert counts(sqs, src.url) == (0, 0, 0)
    assert counts(sqs, dlq.url) == (0, 0, 0)


def test_move_task_running_then_completed_at_the_given_rate(sqs, tasks, dlq_pipe, new_queue):
    dlq, (src,) = dlq_pipe(1)
    dest = new_queue("dest")
    fill_dlq(sqs, dlq, [(src, [f"m{i}" for i in range(4)])])
    started = time.monotonic()
    handle = tasks.start(SourceArn=dlq.arn, DestinationArn=dest.arn, MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    running = tasks.latest(dlq.arn)
    assert running["Status"] == "RUNNING", running
    assert running["TaskHandle"] == handle
    assert running["SourceArn"] == dlq.arn
    assert running["DestinationArn"] == dest.arn
    assert running["MaxNumberOfMessagesPerSecond"] == 1
    assert running["ApproximateNumberOfMessagesToMove"] == 4
    assert 0 <= running["ApproximateNumberOfMessagesMoved"] < 4
    done = tasks.wait_status(dlq.arn)
    elapsed = time.monotonic() - started
    assert done["Status"] == "COMPLETED", done
    assert done["ApproximateNumberOfMessagesMoved"] == done["ApproximateNumberOfMessagesToMove"] == 4
    assert done["MaxNumberOfMessagesPerSecond"] == 1
    assert "TaskHandle" not in done
    assert elapsed >= 2.5, f"4 messages at 1 per second were moved in {elapsed:.2f}s"
    assert counts(sqs, dest.url) == (4, 0, 0)


def test_move_task_cancel(sqs, tasks, dlq_pipe, new_queue):
    dlq, (src,) = dlq_pipe(1)
    dest = new_queue("dest")
    fill_dlq(sqs, dlq, [(src, [f"m{i}" for i in range(10)])])
    handle = tasks.start(SourceArn=dlq.arn, DestinationArn=dest.arn, MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    deadline = time.monotonic() + 10
    while counts(sqs, dest.url)[0] < 1:
        assert time.monotonic() < deadline, "nothing moved within 10 s"
        time.sleep(0.2)
    resp = tasks.cancel(TaskHandle=handle)
    moved_at_cancel = resp["ApproximateNumberOfMessagesMoved"]
    assert isinstance(moved_at_cancel, int) and 1 <= moved_at_cancel < 10, resp
    task = tasks.wait_status(dlq.arn, done=("CANCELLED",))
    assert task["Status"] == "CANCELLED", task
    assert "TaskHandle" not in task
    assert task["ApproximateNumberOfMessagesToMove"] == 10
    time.sleep(2.5)  # nothing more moves after a cancel
    moved = tasks.latest(dlq.arn)["ApproximateNumberOfMessagesMoved"]
    assert moved_at_cancel <= moved <= moved_at_cancel + 1
    in_dest, in_dlq = counts(sqs, dest.url)[0], counts(sqs, dlq.url)[0]
    assert in_dest == moved, (in_dest, moved)
    assert in_dest + in_dlq == 10, (in_dest, in_dlq)
    assert in_dlq > 0
    # a cancelled task no longer blocks a new one
    tasks.start(SourceArn=dlq.arn, DestinationArn=dest.arn)
    assert tasks.wait_status(dlq.arn)["Status"] == "COMPLETED"
    assert counts(sqs, dest.url)[0] == 10


def test_move_task_destination_deleted_while_running(sqs, tasks, dlq_pipe, new_queue):
    dlq, (src,) = dlq_pipe(1)
    dest = new_queue("dest")
    fill_dlq(sqs, dlq, [(src, [f"m{i}" for i in range(10)])])
    tasks.start(SourceArn=dlq.arn, DestinationArn=dest.arn, MaxNumberOfMessagesPerSecond=1)
    sqs.delete_queue(QueueUrl=dest.url)
    task = tasks.wait_status(dlq.arn)
    assert task["Status"] == "FAILED", task
    assert task["FailureReason"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert "TaskHandle" not in task
    assert task["DestinationArn"] == dest.arn
    assert task["ApproximateNumberOfMessagesToMove"] == 10
    assert task["ApproximateNumberOfMessagesMoved"] < 10
    assert counts(sqs, dlq.url)[0] == 10 - task["ApproximateNumberOfMessagesMoved"]
    # a failed task no longer blocks a new one
    other = new_queue("other")
    tasks.start(SourceArn=dlq.arn, DestinationArn=other.arn)
    assert tasks.wait_status(dlq.arn)["Status"] == "COMPLETED"


def test_move_task_list_most_recent_first(sqs, tasks, dlq_pipe, new_queue):
    dlq, (src,) = dlq_pipe(1)
    dest1, dest2 = new_queue("dest1"), new_queue("dest2")
    fill_dlq(sqs, dlq, [(src, ["one"])])
    tasks.start(SourceArn=dlq.arn, DestinationArn=dest1.arn)
    assert tasks.wait_status(dlq.arn)["Status"] == "COMPLETED"
    fill_dlq(sqs, dlq, [(src, ["two", "three"])])
    tasks.start(SourceArn=dlq.arn, DestinationArn=dest2.arn)
    assert tasks.wait_status(dlq.arn)["Status"] == "COMPLETED"
    latest = tasks.list(SourceArn=dlq.arn)["Results"]
    assert len(latest) == 1 and latest[0]["DestinationArn"] == dest2.arn
    both = tasks.list(SourceArn=dlq.arn, MaxResults=10)["Results"]
    assert [t["DestinationArn"] for t in both] == [dest2.arn, dest1.arn]
    assert [t["ApproximateNumberOfMessagesMoved"] for t in both] == [2, 1]
    assert both[0]["StartedTimestamp"] >= both[1]["StartedTimestamp"]


def test_move_task_list_without_tasks(tasks, dlq_pipe):
    dlq, _ = dlq_pipe(1)
    assert tasks.list(SourceArn=dlq.arn)["Results"] == []


def test_move_task_empty_dlq_completes(tasks, dlq_pipe, new_queue):
    dlq, _ = dlq_pipe(1)
    dest = new_queue("dest")
    tasks.start(SourceArn=dlq.arn, DestinationArn=dest.arn)
    task = tasks.wait_status(dlq.arn)
    assert task["Status"] == "COMPLETED", task
    assert task["ApproximateNumberOfMessagesMoved"] == task["ApproximateNumberOfMessagesToMove"] == 0


# --------------------------------------------------------------------- errors

def test_move_task_source_must_be_a_dlq(tasks, new_queue):
    plain = new_queue("plain")
    dest = new_queue("dest")
    with aws_error("InvalidParameterValue", 400, NOT_A_DLQ):
        tasks.start(SourceArn=plain.arn, DestinationArn=dest.arn)
    with aws_error("InvalidParameterValue", 400, NOT_A_DLQ):
        tasks.start(SourceArn=plain.arn)


def test_move_task_destination_must_exist(tasks, dlq_pipe, unique_name):
    dlq, _ = dlq_pipe(1)
    with aws_error("ResourceNotFoundException", 404,
                   "The resource that you specified for the DestinationArn parameter doesn't exist."):
        tasks.start(SourceArn=dlq.arn, DestinationArn=queue_arn(unique_name("missing")))


def test_move_task_source_must_exist(tasks, unique_name):
    with aws_error("ResourceNotFoundException", 404,
                   "The resource that you specified for the SourceArn parameter doesn't exist."):
        tasks.start(SourceArn=queue_arn(unique_name("missing")))


def test_move_task_only_one_running_per_source(sqs, tasks, dlq_pipe, new_queue):
    dlq, (src,) = dlq_pipe(1)
    dest = new_queue("dest")
    fill_dlq(sqs, dlq, [(src, [f"m{i}" for i in range(10)])])
    handle = tasks.start(SourceArn=dlq.arn, DestinationArn=dest.arn, MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    with aws_error("InvalidParameterValue", 400, ALREADY_RUNNING):
        tasks.start(SourceArn=dlq.arn, DestinationArn=dest.arn, MaxNumberOfMessagesPerSecond=1)
    with aws_error("InvalidParameterValue", 400, ALREADY_RUNNING):
        tasks.start(SourceArn=dlq.arn)
    tasks.cancel(TaskHandle=handle)
    assert tasks.wait_status(dlq.arn)["Status"] == "CANCELLED"


def test_move_task_cancel_with_garbage_handle(tasks):
    with aws_error("InvalidParameterValue", 400, "Value for parameter TaskHandle is invalid."):
        tasks.cancel(TaskHandle="foobared")


def encode_handle(task_id, source_arn):
    """AWS's TaskHandle shape: base64 of {"taskId": ..., "sourceArn": ...}
    (the AWS-recorded 404s below were produced with handles built so)."""
    return base64.b64encode(json.dumps({"taskId": task_id, "sourceArn": source_arn}).encode()).decode()


def test_move_task_handle_shape(sqs, tasks, dlq_pipe):
    dlq, (src,) = dlq_pipe(1)
    fill_dlq(sqs, dlq, [(src, ["x"])])
    handle = tasks.start(SourceArn=dlq.arn)["TaskHandle"]
    doc = json.loads(base64.b64decode(handle))
    assert doc["sourceArn"] == dlq.arn
    assert isinstance(doc["taskId"], str) and doc["taskId"]
    tasks.wait_status(dlq.arn)


def test_move_task_cancel_unknown_task(tasks, dlq_pipe):
    dlq, _ = dlq_pipe(1)
    with aws_error("ResourceNotFoundException", 404, "Task does not exist."):
        tasks.cancel(TaskHandle=encode_handle("10f57157-fc38-4da9-a113-4de7e12d05aa", dlq.arn))


def test_move_task_cancel_unknown_source(tasks, unique_name):
    with aws_error("ResourceNotFoundException", 404,
                   "The resource that you specified for the SourceArn parameter doesn't exist."):
        tasks.cancel(TaskHandle=encode_handle("10f57157-fc38-4da9-a113-4de7e12d05dd",
                                              queue_arn(unique_name("gone"))))


def test_move_task_cancel_finished_task(sqs, tasks, dlq_pipe):
    """Only a RUNNING task can be cancelled (AWS's wording is unrecorded: code only)."""
    dlq, (src,) = dlq_pipe(1)
    fill_dlq(sqs, dlq, [(src, ["x"])])
    handle = tasks.start(SourceArn=dlq.arn)["TaskHandle"]
    assert tasks.wait_status(dlq.arn)["Status"] == "COMPLETED"
    with aws_error("InvalidParameterValue", 400):
        tasks.cancel(TaskHandle=handle)
    assert tasks.latest(dlq.arn)["Status"] == "COMPLETED"


def test_move_task_start_without_source_arn(tasks):
    with aws_error("MissingParameter", 400, "The request must contain the parameter SourceArn."):
        tasks.raw("StartMessageMoveTask", {})  # raw: boto3 would refuse it client-side


@pytest.mark.parametrize("rate", [0, 501])
def test_move_task_rate_out_of_range(tasks, dlq_pipe, new_queue, rate):
    dlq, _ = dlq_pipe(1)
    dest = new_queue("dest")
    with aws_error("InvalidParameterValue", 400, message_contains="MaxNumberOfMessagesPerSecond"):
        tasks.raw("StartMessageMoveTask", {"SourceArn": dlq.arn, "DestinationArn": dest.arn,
                                           "MaxNumberOfMessagesPerSecond": rate})
    assert tasks.list(SourceArn=dlq.arn)["Results"] == []


# ----------------------------------------------------------------- the wire

def test_move_task_query_wire_shapes(sqs, tasks, dlq_pipe, new_queue):
    """The raw XML: element names, namespace and RequestId header (query protocol)."""
    dlq, (src,) = dlq_pipe(1)
    dest = new_queue("dest")
    fill_dlq(sqs, dlq, [(src, ["x"])])
    result = tasks.raw("StartMessageMoveTask", {"SourceArn": dlq.arn, "DestinationArn": dest.arn})
    status, headers, root = tasks.last_raw
    assert status == 200
    assert headers.get("content-type", "").startswith("text/xml")
    assert root.findtext("q:ResponseMetadata/q:RequestId", namespaces=NS) == headers.get("x-amzn-requestid")
    assert [c.tag for c in result] == [qtag("TaskHandle")]
    tasks.wait_status(dlq.arn)
    result = tasks.raw("ListMessageMoveTasks", {"SourceArn": dlq.arn, "MaxResults": 10})
    entries = result.findall("q:ListMessageMoveTasksResultEntry", NS)
    assert len(entries) == 1
    names = {c.tag.split("}", 1)[1] for c in entries[0]}
    assert names == {"Status", "SourceArn", "DestinationArn", "ApproximateNumberOfMessagesMoved",
                     "ApproximateNumberOfMessagesToMove", "StartedTimestamp"}, names
    with pytest.raises(ClientError):
        tasks.raw("CancelMessageMoveTask", {"TaskHandle": "foobared"})
    status, headers, root = tasks.last_raw
    assert status == 400 and root.tag == qtag("ErrorResponse")
    assert headers.get("content-type", "").startswith("text/xml")
