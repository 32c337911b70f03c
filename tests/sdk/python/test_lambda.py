"""The Lambda API through boto3 (REST-JSON): Invoke (RequestResponse, Event,
DryRun, log tail, function errors), ListFunctions / GetFunction, the event
source mapping CRUD with AWS's errors, and one SQS -> Lambda batch end to end
(reference/lambda.md §1, §2). Functions come from tests/e2e/lambda-api.yaml and
run tests/e2e/handlers/record.py or exit3.sh; this module starts a sluice of
its own with that config."""
import base64
import json
import re
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from sluice_helpers import (
    ACCOUNT, REGION, PrivateServer, counts, function_arn, make_lambda_client, md5_hex, md5_of_attributes,
    queue_arn, read_json_lines, sluice_binary, stage_e2e_config, wait_until,
)

pytestmark = pytest.mark.timeout(30)

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
FUNCTIONS = ["batch", "crash", "echo", "mapped", "single", "slow", "wd"]
EVENT_KEYS = sorted([
    "messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfMessageAttributes",
    "md5OfBody", "eventSource", "eventSourceARN", "awsRegion",
])
NOT_FOUND_MAPPING = "The resource you requested does not exist."
BATCH_WINDOW_MSG = "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"


class Env:
    def __init__(self, server, folder):
        self.server = server
        self.folder = folder
        self.endpoint = server.endpoint
        self.sqs = server.sqs
        self.lam = make_lambda_client(server.endpoint)

    def records(self, name):
        return read_json_lines(self.folder / "records" / f"{name}.jsonl")

    def queue(self, name, attributes=None):
        kwargs = {"QueueName": name}
        if attributes:
            kwargs["Attributes"] = {k: str(v) for k, v in attributes.items()}
        url = self.sqs.create_queue(**kwargs)["QueueUrl"]
        return url, queue_arn(name)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    binary = sluice_binary()
    if not binary.exists():
        pytest.skip(f"needs the sluice binary ({binary}); set SLUICE_BIN")
    folder = tmp_path_factory.mktemp("lambda-e2e")
    config_path = stage_e2e_config("lambda-api.yaml", folder)
    server = PrivateServer(binary, folder / "server", config_path=config_path)
    try:
        yield Env(server, folder)
    finally:
        code, graceful = server.stop()
        assert graceful and code == 0, f"sluice stopped with code {code} (graceful={graceful}):\n{server.process.log()}"


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def invoke(env, name, payload=None, **kwargs):
    if payload is not None:
        kwargs["Payload"] = json.dumps(payload).encode()
    out = env.lam.invoke(FunctionName=name, **kwargs)
    out["Body"] = out["Payload"].read()
    return out


def log_tail(out):
    assert "LogResult" in out, "X-Amz-Log-Result expected with LogType Tail"
    return base64.b64decode(out["LogResult"]).decode()


def start_id(log):
    m = re.search(r"START RequestId: (\S+) Version: \$LATEST", log)
    assert m, f"no START line in:\n{log}"
    return m.group(1)


def lambda_error(excinfo, code, status, message=None, message_re=None):
    resp = excinfo.value.response
    err = resp.get("Error", {})
    got = f"got Code={err.get('Code')!r} HTTP {resp['ResponseMetadata']['HTTPStatusCode']} Message={err.get('Message')!r}"
    codes = code if isinstance(code, (list, tuple)) else [code]
    assert err.get("Code") in codes, f"expected Code in {codes}; {got}"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == status, f"expected HTTP {status}; {got}"
    if message is not None:
        assert err.get("Message") == message, got
    if message_re is not None:
        assert re.search(message_re, err.get("Message") or ""), got


def not_found_fn(name):
    return f"Function not found: {function_arn(name)}"


# --------------------------------------------------------------------------
# Functions
# --------------------------------------------------------------------------

def test_list_functions(env):
    out = env.lam.list_functions()
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    by_name = {f["FunctionName"]: f for f in out["Functions"]}
    assert sorted(by_name) == FUNCTIONS
    for name, f in by_name.items():
        assert f["FunctionArn"] == function_arn(name)
    assert by_name["echo"]["Timeout"] == 2
    assert by_name["echo"]["MemorySize"] == 256
    assert by_name["wd"]["Timeout"] == 3
    assert by_name["wd"]["MemorySize"] == 128


def test_get_function_and_configuration(env):
    out = env.lam.get_function(FunctionName="echo")
    c = out["Configuration"]
    assert c["FunctionName"] == "echo"
    assert c["FunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:echo"
    assert c["Timeout"] == 2
    assert c["MemorySize"] == 256
    assert c["State"] == "Active"
    assert c["Environment"]["Variables"] == {
        "RECORD_FILE": "records/echo.jsonl", "GREETING": "hello from the config", "MODE": "ok",
    }
    conf = env.lam.get_function_configuration(FunctionName="echo")
    conf.pop("ResponseMetadata")
    assert conf == c
    assert env.lam.get_function(FunctionName="single")["Concurrency"]["ReservedConcurrentExecutions"] == 1


def test_get_function_unknown(env):
    with pytest.raises(ClientError) as excinfo:
        env.lam.get_function(FunctionName="nope")
    lambda_error(excinfo, "ResourceNotFoundException", 404, not_found_fn("nope"))
    with pytest.raises(ClientError) as excinfo:
        env.lam.get_function_configuration(FunctionName="nope")
    lambda_error(excinfo, "ResourceNotFoundException", 404, not_found_fn("nope"))


# --------------------------------------------------------------------------
# Invoke
# --------------------------------------------------------------------------

def test_invoke_request_response_echo_and_environment(env):
    payload = {"hello": "world", "n": [1, 2, 3], "mode": "ok"}
    out = invoke(env, "echo", payload)
    assert out["StatusCode"] == 200
    assert out["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in out
    assert "LogResult" not in out
    doc = json.loads(out["Body"])
    assert doc["event"] == payload
    assert UUID_RE.match(doc["requestId"])
    e = doc["env"]
    assert e["AWS_REQUEST_ID"] == doc["requestId"]
    assert e["AWS_LAMBDA_FUNCTION_NAME"] == "echo"
    assert e["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert e["AWS_REGION"] == REGION
    assert e["GREETING"] == "hello from the config"


def test_invoke_tail(env):
    out = invoke(env, "echo", {"mode": "ok"}, LogType="Tail")
    assert out["StatusCode"] == 200
    rid = json.loads(out["Body"])["requestId"]
    log = log_tail(out)
    assert start_id(log) == rid
    assert f"END RequestId: {rid}" in log
    assert re.search(rf"REPORT RequestId: {rid}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t", log), log
    assert "record.py: mode=ok" in log


def test_invoke_event_runs_in_the_background(env):
    nonce = unique("event")
    out = invoke(env, "echo", {"mode": "ok", "nonce": nonce}, InvocationType="Event")
    assert out["StatusCode"] == 202
    assert out["Body"] == b""

    def done():
        ends = {r["requestId"] for r in env.records("echo") if r["phase"] == "end"}
        return [r for r in env.records("echo")
                if r["phase"] == "start" and r["event"].get("nonce") == nonce and r["requestId"] in ends]

    recs = wait_until(done, timeout=5)
    assert len(recs) == 1, "the Event invocation ran once"
    assert recs[0]["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "echo"


def test_invoke_dry_run(env):
    nonce = unique("dry")
    out = invoke(env, "echo", {"nonce": nonce}, InvocationType="DryRun")
    assert out["StatusCode"] == 204
    assert out["Body"] == b""
    time.sleep(0.3)
    assert not [r for r in env.records("echo") if r.get("event", {}).get("nonce") == nonce]


def test_invoke_function_error_exit_code(env):
    out = invoke(env, "crash", {"a": 1}, LogType="Tail")
    assert out["StatusCode"] == 200
    assert out["FunctionError"] == "Unhandled"
    rid = start_id(log_tail(out))
    assert json.loads(out["Body"]) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: exit status 3",
    }


def test_invoke_timeout(env):
    t0 = time.monotonic()
    out = invoke(env, "slow", {"a": 1}, LogType="Tail")
    took = time.monotonic() - t0
    assert out["StatusCode"] == 200
    assert out["FunctionError"] == "Unhandled"
    rid = start_id(log_tail(out))
    assert json.loads(out["Body"]) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {rid} Error: Task timed out after 1.00 seconds",
    }
    assert 0.9 <= took < 3.0, f"answered after {took:.2f} s"


def test_invoke_unknown_function(env):
    for invocation_type in ("RequestResponse", "Event", "DryRun"):
        with pytest.raises(ClientError) as excinfo:
            env.lam.invoke(FunctionName="nope", InvocationType=invocation_type, Payload=b"{}")
        lambda_error(excinfo, "ResourceNotFoundException", 404, not_found_fn("nope"))


# --------------------------------------------------------------------------
# Event source mappings
# --------------------------------------------------------------------------

def wait_state(env, mapping_uuid, state):
    got = wait_until(lambda: env.lam.get_event_source_mapping(UUID=mapping_uuid)["State"] == state, timeout=5)
    assert got, f"mapping {mapping_uuid} never reached {state}"


def test_mapping_lifecycle(env):
    _, arn = env.queue(unique("py-esm"), {"VisibilityTimeout": 10})
    out = env.lam.create_event_source_mapping(FunctionName="echo", EventSourceArn=arn, BatchSize=3)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert out["State"] == "Creating"
    assert UUID_RE.match(out["UUID"])
    assert out["BatchSize"] == 3
    assert out["EventSourceArn"] == arn
    assert out["FunctionArn"] == function_arn("echo")
    assert out["FunctionResponseTypes"] == []
    mid = out["UUID"]
    wait_state(env, mid, "Enabled")

    listed = env.lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [mid]
    by_fn = env.lam.list_event_source_mappings(FunctionName="echo")["EventSourceMappings"]
    assert mid in [m["UUID"] for m in by_fn]
    assert all(m["FunctionArn"] == function_arn("echo") for m in by_fn)

    off = env.lam.update_event_source_mapping(UUID=mid, Enabled=False)
    assert off["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert off["State"] == "Disabling"
    wait_state(env, mid, "Disabled")
    on = env.lam.update_event_source_mapping(UUID=mid, Enabled=True, BatchSize=7)
    assert on["State"] == "Enabling"
    assert on["BatchSize"] == 7
    wait_state(env, mid, "Enabled")
    assert env.lam.get_event_source_mapping(UUID=mid)["BatchSize"] == 7

    gone = env.lam.delete_event_source_mapping(UUID=mid)
    assert gone["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert gone["State"] == "Deleting"

    def missing():
        try:
            env.lam.get_event_source_mapping(UUID=mid)
            return False
        except ClientError as exc:
            return exc.response["Error"]["Code"] == "ResourceNotFoundException"

    assert wait_until(missing, timeout=5), "the deleted mapping is still there"


def test_config_mapping_is_listed(env):
    maps = env.lam.list_event_source_mappings(FunctionName="mapped")["EventSourceMappings"]
    assert len(maps) == 1
    m = maps[0]
    assert m["EventSourceArn"] == queue_arn("api-mapped")
    assert m["FunctionArn"] == function_arn("mapped")
    assert m["BatchSize"] == 4
    assert m["State"] == "Disabled"
    assert env.lam.get_event_source_mapping(UUID=m["UUID"])["UUID"] == m["UUID"]


def test_mapping_errors(env):
    _, short = env.queue(unique("py-vis"), {"VisibilityTimeout": 1})
    with pytest.raises(ClientError) as excinfo:
        env.lam.create_event_source_mapping(FunctionName="echo", EventSourceArn=short)
    lambda_error(excinfo, "InvalidParameterValueException", 400,
                 "Queue visibility timeout: 1 seconds is less than Function timeout: 2 seconds")

    _, arn = env.queue(unique("py-bad"))
    with pytest.raises(ClientError) as excinfo:
        env.lam.create_event_source_mapping(FunctionName="echo", EventSourceArn=arn, BatchSize=20)
    lambda_error(excinfo, "InvalidParameterValueException", 400, BATCH_WINDOW_MSG)

    with pytest.raises(ClientError) as excinfo:
        env.lam.create_event_source_mapping(FunctionName="echo", EventSourceArn=arn,
                                            FilterCriteria={"Filters": [{"Pattern": "not json"}]})
    lambda_error(excinfo, "InvalidParameterValueException", 400, "Invalid filter pattern definition.")

    with pytest.raises(ClientError) as excinfo:
        env.lam.create_event_source_mapping(FunctionName="nope", EventSourceArn=arn)
    lambda_error(excinfo, "ResourceNotFoundException", 404, not_found_fn("nope"))

    missing = "00000000-0000-4000-8000-000000000000"
    for call in (lambda: env.lam.get_event_source_mapping(UUID=missing),
                 lambda: env.lam.update_event_source_mapping(UUID=missing, Enabled=False),
                 lambda: env.lam.delete_event_source_mapping(UUID=missing)):
        with pytest.raises(ClientError) as excinfo:
            call()
        lambda_error(excinfo, "ResourceNotFoundException", 404, NOT_FOUND_MAPPING)


# --------------------------------------------------------------------------
# End to end
# --------------------------------------------------------------------------

def test_end_to_end_batch(env):
    """Three messages in one SendMessageBatch reach `batch` (mapped to
    api-e2e in the config) as AWS's SQS event, and are deleted."""
    url = env.sqs.get_queue_url(QueueName="api-e2e")["QueueUrl"]
    attrs = {"Colour": {"DataType": "String", "StringValue": "blue"},
             "Size": {"DataType": "Number", "StringValue": "3"}}
    entries = [
        {"Id": "a", "MessageBody": "alpha", "MessageAttributes": attrs},
        {"Id": "b", "MessageBody": json.dumps({"b": True})},
        {"Id": "c", "MessageBody": "gamma ✓"},
    ]
    sent = env.sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert not sent.get("Failed")
    ids = {s["Id"]: s["MessageId"] for s in sent["Successful"]}

    def delivered():
        recs = [rec for r in env.records("batch") if r["phase"] == "start" for rec in r["event"]["Records"]]
        return recs if {rec["messageId"] for rec in recs} >= set(ids.values()) else None

    recs = wait_until(delivered, timeout=5)
    assert recs, "the batch never reached the handler"
    by_id = {rec["messageId"]: rec for rec in recs}
    assert len(recs) == 3, "each message delivered once"
    starts = [r for r in env.records("batch") if r["phase"] == "start"]
    assert len(starts) <= 2, f"one SendMessageBatch arrived in {len(starts)} invocations"

    for entry in entries:
        rec = by_id[ids[entry["Id"]]]
        assert sorted(rec) == EVENT_KEYS
        assert rec["body"] == entry["MessageBody"]
        assert rec["md5OfBody"] == md5_hex(entry["MessageBody"])
        assert rec["eventSource"] == "aws:sqs"
        assert rec["eventSourceARN"] == queue_arn("api-e2e")
        assert rec["awsRegion"] == REGION
        assert rec["attributes"]["ApproximateReceiveCount"] == "1"
        assert all(isinstance(v, str) for v in rec["attributes"].values())
    a = by_id[ids["a"]]
    assert a["messageAttributes"] == {
        "Colour": {"stringValue": "blue", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
        "Size": {"stringValue": "3", "stringListValues": [], "binaryListValues": [], "dataType": "Number"},
    }
    assert a["md5OfMessageAttributes"] == md5_of_attributes(attrs)
    b = by_id[ids["b"]]
    assert b["messageAttributes"] == {}
    assert b["md5OfMessageAttributes"] is None

    assert wait_until(lambda: counts(env.sqs, url)[:2] == (0, 0), timeout=5), \
        f"the batch was not deleted: {counts(env.sqs, url)}"
