"""Event (asynchronous) invocations as Lambda keeps them: on disk from the
202 on (a stop or a kill -9 loses none), and, once done for good, handed
to the function's destinations (on_success / on_failure: Lambda's
invocation record) and its dead-letter queue (the event itself, with
RequestID, ErrorCode and ErrorMessage attributes). Handlers are written as
Lambda runs them (python3.11, def handler(event, context)); boto3's Lambda
client invokes, its SQS client reads the queues."""
import json
import time

import pytest

from sluice_helpers import ACCOUNT, Clock, SluiceProcess, make_client, make_lambda_client, sluice_binary

HANDLER = '''import json, os

def handler(event, context):
    with open(os.environ["RAN"], "a") as f:
        f.write(context.aws_request_id + "\\n")
    if event.get("fail"):
        raise ValueError("order %s cannot be shipped" % event.get("order"))
    return {"ok": True, "order": event.get("order")}
'''


def config(tmp, extra=""):
    return f"""
queues:
  shipped: {{}}
  failed: {{}}
  dead: {{}}
  events.fifo: {{fifo: true}}
functions:
  ship:
    runtime: python3.11
    handler: app.handler
    code: {tmp}/code
    environment: {{RAN: {tmp}/ran.txt}}
    maximum_retry_attempts: 0
    on_success: shipped
    on_failure: failed
    dead_letter_queue: dead
  ship-retried:           # AWS's defaults: two retries
    runtime: python3.11
    handler: app.handler
    code: {tmp}/code
    environment: {{RAN: {tmp}/ran-retried.txt}}
    maximum_event_age: 120
    on_failure: failed
{extra}
"""


@pytest.fixture
def app(tmp_path):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "app.py").write_text(HANDLER)
    return tmp_path


@pytest.fixture
def server(private_server, app):
    return private_server(config(app))


def queue_url(endpoint, name):
    return f"{endpoint}/{ACCOUNT}/{name}"


def wait_message(sqs, url, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MessageAttributeNames=["All"])
        if got.get("Messages"):
            return got["Messages"][0]
    raise AssertionError(f"nothing arrived on {url} within {timeout}s")


def invoke_event(lam, name, payload):
    out = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(payload).encode())
    assert out["StatusCode"] == 202
    return out["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def arn(name):
    return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}:$LATEST"


def test_a_success_sends_lambdas_invocation_record_to_on_success(server):
    lam = make_lambda_client(server.endpoint)
    rid = invoke_event(lam, "ship", {"order": 7})
    msg = wait_message(server.sqs, queue_url(server.endpoint, "shipped"))
    rec = json.loads(msg["Body"])
    assert rec["version"] == "1.0"
    assert rec["timestamp"].endswith("Z")
    assert rec["requestContext"] == {"requestId": rid, "functionArn": arn("ship"), "condition": "Success",
                                     "approximateInvokeCount": 1}
    assert rec["requestPayload"] == {"order": 7}
    assert rec["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert rec["responsePayload"] == {"ok": True, "order": 7}
    time.sleep(0.5)
    for name in ("failed", "dead"):
        assert "Messages" not in server.sqs.receive_message(QueueUrl=queue_url(server.endpoint, name))


def test_a_failure_goes_to_on_failure_and_the_event_to_the_dead_letter_queue(server):
    lam = make_lambda_client(server.endpoint)
    rid = invoke_event(lam, "ship", {"order": 8, "fail": True})
    rec = json.loads(wait_message(server.sqs, queue_url(server.endpoint, "failed"))["Body"])
    assert rec["requestContext"] == {"requestId": rid, "functionArn": arn("ship"), "condition": "RetriesExhausted",
                                     "approximateInvokeCount": 1}
    assert rec["requestPayload"] == {"order": 8, "fail": True}
    assert rec["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert rec["responsePayload"]["errorType"] == "ValueError"
    assert rec["responsePayload"]["errorMessage"] == "order 8 cannot be shipped"
    dead = wait_message(server.sqs, queue_url(server.endpoint, "dead"))
    assert json.loads(dead["Body"]) == {"order": 8, "fail": True}
    attrs = dead["MessageAttributes"]
    assert attrs["RequestID"] == {"StringValue": rid, "DataType": "String"}
    assert attrs["ErrorCode"] == {"StringValue": "200", "DataType": "Number"}
    assert attrs["ErrorMessage"] == {"StringValue": "order 8 cannot be shipped", "DataType": "String"}
    assert "Messages" not in server.sqs.receive_message(QueueUrl=queue_url(server.endpoint, "shipped"))


def ran(path):
    try:
        return path.read_text().split()
    except FileNotFoundError:
        return []


def settle(path, n, timeout=15):
    deadline = time.monotonic() + timeout
    while len(ran(path)) < n and time.monotonic() < deadline:
        time.sleep(0.1)
    return ran(path)


def retries_scheduled(server, rid, n, timeout=15):
    """Waits until sluice has logged n retries of rid: the handler's file
    appears before sluice has seen the failure, and a clock moved in between
    would put the retry a minute past the move."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = open(server.process.log_path, errors="replace").read()
        if sum(1 for l in log.splitlines() if "will retry" in l and rid in l) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"sluice did not schedule retry {n} of {rid}")


def test_the_record_counts_every_attempt_after_the_retries(server, app):
    lam = make_lambda_client(server.endpoint)
    clock = Clock(server.endpoint)
    rid = invoke_event(lam, "ship-retried", {"order": 9, "fail": True})
    assert settle(app / "ran-retried.txt", 1) == [rid]
    retries_scheduled(server, rid, 1)
    clock.advance(61)
    assert settle(app / "ran-retried.txt", 2) == [rid] * 2
    retries_scheduled(server, rid, 2)
    clock.advance(121)
    # maximum_event_age is 120 s: the second retry is due at 182 s, too old by then
    rec = json.loads(wait_message(server.sqs, queue_url(server.endpoint, "failed"))["Body"])
    assert rec["requestContext"]["condition"] == "EventAgeExceeded"
    assert rec["requestContext"]["approximateInvokeCount"] == 2
    assert rec["requestContext"]["requestId"] == rid
    assert ran(app / "ran-retried.txt") == [rid] * 2


def test_full_durability_answers_202_after_the_sync_off_the_loop(app, tmp_path_factory, monkeypatch):
    """durability: full: the event's commit is synced by a thread (each
    sync made 3 s long by the test variable); meanwhile the loop answers
    health, and Invoke's 202 waits for the sync. Killed with SIGKILL right
    after the 202, the next start runs the event."""
    import threading
    import urllib.request
    monkeypatch.setenv("SLUICE_TEST_SYNC_DELAY_MS", "3000")
    work = tmp_path_factory.mktemp("full")
    data = work / "data"
    held = work / "held.yaml"
    held.write_text("durability: full\n" + config(app).replace(
        "    on_success: shipped\n", "    on_success: shipped\n    reserved_concurrency: 0\n", 1))
    first = SluiceProcess(sluice_binary(), data, work / "first.log", config_path=held)
    try:
        lam = make_lambda_client(first.endpoint)
        got = {}
        t = threading.Thread(target=lambda: got.update(rid=invoke_event(lam, "ship", {"order": 7})), daemon=True)
        t.start()
        time.sleep(1.0)  # committed; its sync (3 s) has begun
        with urllib.request.urlopen(f"{first.endpoint}/_sluice/health", timeout=2) as r:
            assert r.status == 200  # the loop is free while the disk is slow
        assert t.is_alive(), "Invoke answered 202 before the event's sync finished"
        t.join(20)
        assert not t.is_alive()
        rid = got["rid"]
    finally:
        first.kill()
    monkeypatch.delenv("SLUICE_TEST_SYNC_DELAY_MS")
    free = work / "free.yaml"
    free.write_text("durability: full\n" + config(app))
    second = SluiceProcess(sluice_binary(), data, work / "second.log", config_path=free)
    try:
        assert settle(app / "ran.txt", 1) == [rid]
    finally:
        second.stop()


def test_accepted_events_survive_kill_9_and_run_after_the_restart(app, tmp_path_factory):
    """Three Event invocations wait (reserved_concurrency: 0 lets none run);
    sluice is killed with SIGKILL; started again with room to run, it runs
    all three, with the request ids the 202s named."""
    work = tmp_path_factory.mktemp("restart")
    data = work / "data"
    held = work / "held.yaml"
    held.write_text(config(app).replace("    on_success: shipped\n", "    on_success: shipped\n"
                                        "    reserved_concurrency: 0\n", 1))
    first = SluiceProcess(sluice_binary(), data, work / "first.log", config_path=held)
    try:
        lam = make_lambda_client(first.endpoint)
        rids = [invoke_event(lam, "ship", {"order": i}) for i in range(3)]
        time.sleep(0.5)
        assert ran(app / "ran.txt") == []
    finally:
        first.kill()
    free = work / "free.yaml"
    free.write_text(config(app))
    second = SluiceProcess(sluice_binary(), data, work / "second.log", config_path=free)
    try:
        assert sorted(settle(app / "ran.txt", 3)) == sorted(rids)
        sqs = make_client(second.endpoint)
        got = []
        for _ in range(3):
            msg = wait_message(sqs, queue_url(second.endpoint, "shipped"))
            sqs.delete_message(QueueUrl=queue_url(second.endpoint, "shipped"), ReceiptHandle=msg["ReceiptHandle"])
            got.append(json.loads(msg["Body"])["requestContext"]["requestId"])
        assert sorted(got) == sorted(rids)
    finally:
        second.stop()
    # done for good: a third start runs nothing again
    third = SluiceProcess(sluice_binary(), data, work / "third.log", config_path=free)
    try:
        time.sleep(1.0)
        assert sorted(ran(app / "ran.txt")) == sorted(rids)
    finally:
        third.stop()


@pytest.mark.parametrize("key", ["on_success", "on_failure", "dead_letter_queue"])
def test_a_destination_that_is_no_queue_or_a_fifo_queue_is_a_config_error(app, tmp_path, key):
    import subprocess
    for target, want in (("nope", f"{key}: 'nope' is not a queue in this config"),
                         ("events.fifo", f"{key}: 'events.fifo' is a FIFO queue")):
        text = config(app).replace("    on_success: shipped\n    on_failure: failed\n    dead_letter_queue: dead\n",
                                   f"    {key}: {target}\n", 1)
        path = tmp_path / f"{key}-{target}.yaml"
        path.write_text(text)
        out = subprocess.run([str(sluice_binary()), "validate", "--config", str(path)], capture_output=True,
                             text=True)
        assert out.returncode != 0
        line = next((l for l in out.stderr.splitlines() + out.stdout.splitlines() if want in l), None)
        assert line, out.stderr + out.stdout
        assert line.startswith(f"{path}:"), line
        row = text.splitlines().index(f"    {key}: {target}") + 1
        assert f":{row}:" in line, line
