"""Log lines and LastProcessingResult through real clients: the API Gateway
access log names the request's trace id and the message id it queued; an
SQS event source mapping logs one line per batch (outcome ok, error,
partial), one per failed item, and SQS logs each move to a dead-letter
queue; GetEventSourceMapping's LastProcessingResult follows the last batch.
The config is tests/e2e/logs.yaml; the log is the private sluice's stderr."""
import json
import re
import uuid
from pathlib import Path

import pytest

from sluice_helpers import (
    http_call, make_lambda_client, queue_arn, read_json_lines, receive_one, start_api_server, wait_until,
)

pytestmark = pytest.mark.timeout(40)

TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


class Env:
    def __init__(self, server, folder):
        self.server = server
        self.sqs = server.sqs
        self.lam = make_lambda_client(server.endpoint)
        self.front = server.apis["front"]
        self.folder = folder

    def log(self):
        return Path(self.server.process.log_path).read_text(errors="replace")

    def lines(self, pattern):
        return [ln for ln in self.log().splitlines() if re.search(pattern, ln)]

    def mapped_queue(self, prefix, report_failures=False, attributes=None, enabled=True):
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        kwargs = {"QueueName": name, "Attributes": {"VisibilityTimeout": "1", **(attributes or {})}}
        url = self.sqs.create_queue(**kwargs)["QueueUrl"]
        extra = {"FunctionResponseTypes": ["ReportBatchItemFailures"]} if report_failures else {}
        m = self.lam.create_event_source_mapping(FunctionName="echo", EventSourceArn=queue_arn(name), BatchSize=10,
                                                 Enabled=enabled, **extra)
        return name, url, m["UUID"]

    def result(self, mapping):
        return self.lam.get_event_source_mapping(UUID=mapping).get("LastProcessingResult")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("logs")
    server = start_api_server("logs.yaml", folder)
    try:
        yield Env(server, folder)
    finally:
        code, graceful = server.stop()
        assert graceful and code == 0, f"sluice stopped with code {code}:\n{server.process.log()}"


def fields(line):
    return dict(re.findall(r'(\w+)=("[^"]*"|\S+)', line))


def test_access_log_names_the_callers_trace_and_the_message_id(env):
    out = http_call(env.front, "POST", "/v1/orders", body='{"n": 1}',
                    headers={"Content-Type": "application/json", "X-Amzn-Trace-Id": TRACE})
    assert out.status == 200, out.body
    msg_id = json.loads(out.body)["SendMessageResponse"]["SendMessageResult"]["MessageId"]
    got = wait_until(lambda: env.lines(rf"message_id={msg_id}"), timeout=5)
    assert len(got) == 1, got
    f = fields(got[0])
    assert f["api"] == "front" and f["status"] == "200"
    assert f["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    # The message carries the same root to whoever receives it.
    m = receive_one(env.sqs, env.sqs.get_queue_url(QueueName="logs-in")["QueueUrl"],
                    AttributeNames=["AWSTraceHeader"])
    assert m["MessageId"] == msg_id
    assert m["Attributes"]["AWSTraceHeader"].startswith("Root=1-5759e988-bd862e3fe1be46a994272793")


def test_access_log_names_a_made_trace_when_the_caller_sent_none(env):
    out = http_call(env.front, "POST", "/v1/orders", body="{}", headers={"Content-Type": "application/json"})
    assert out.status == 200
    msg_id = json.loads(out.body)["SendMessageResponse"]["SendMessageResult"]["MessageId"]
    got = wait_until(lambda: env.lines(rf"message_id={msg_id}"), timeout=5)
    assert re.fullmatch(r"1-[0-9a-f]{8}-[0-9a-f]{24}", fields(got[0])["trace_id"])
    # A route that queues nothing logs message_id=-.
    miss = http_call(env.front, "GET", "/v1/nowhere")
    assert miss.status == 403
    line = wait_until(lambda: env.lines(r"path=/v1/nowhere "), timeout=5)[0]
    assert fields(line)["message_id"] == "-"


def test_last_processing_result_and_batch_lines(env):
    name, url, mapping = env.mapped_queue("logs-ok")
    assert env.result(mapping) == "No records processed"
    env.sqs.send_message(QueueUrl=url, MessageBody='{"mode": "ok"}')
    wait_until(lambda: env.result(mapping) == "OK", timeout=10)
    ok = wait_until(lambda: env.lines(rf"mapping={mapping} .*outcome=ok"), timeout=5)
    f = fields(ok[0])
    assert f["msg"] == '"batch processed"' and f["function"] == "echo" and f["records"] == "1"
    assert f["queue"] == queue_arn(name)

    env.sqs.send_message(QueueUrl=url, MessageBody='{"mode": "fail"}')
    wait_until(lambda: env.result(mapping) == "PROBLEM: Function call failed", timeout=10)
    bad = wait_until(lambda: env.lines(rf"mapping={mapping} .*outcome=error"), timeout=5)
    f = fields(bad[0])
    assert f["records"] == "1" and f["error_type"] != "-", bad[0]
    assert re.fullmatch(r"\"[^\"\n]*\"", f["error_message"]), bad[0]
    env.lam.delete_event_source_mapping(UUID=mapping)


def test_partial_failure_names_each_failed_message(env):
    # Created disabled: a mapping disabled after it started may still have a
    # long poll parked that takes the first message alone.
    name, url, mapping = env.mapped_queue("logs-part", report_failures=True, enabled=False)
    first = env.sqs.send_message(QueueUrl=url, MessageBody='{"mode": "partial"}')["MessageId"]
    bad = env.sqs.send_message(QueueUrl=url, MessageBody='{"fail": true}')["MessageId"]
    env.lam.update_event_source_mapping(UUID=mapping, Enabled=True)
    part = wait_until(lambda: env.lines(rf"mapping={mapping} .*outcome=partial"), timeout=10)
    assert fields(part[0])["records"] == "2"
    items = wait_until(lambda: env.lines(rf'msg="batch item failed" .*mapping={mapping} '), timeout=5)
    assert fields(items[0])["message_id"] == bad
    assert not env.lines(rf'msg="batch item failed" .*message_id={first}')
    assert env.result(mapping) == "OK"
    env.lam.delete_event_source_mapping(UUID=mapping)


def test_move_to_dead_letter_queue_is_logged(env):
    dlq = f"logs-dlq-{uuid.uuid4().hex[:8]}"
    env.sqs.create_queue(QueueName=dlq)
    policy = json.dumps({"deadLetterTargetArn": queue_arn(dlq), "maxReceiveCount": 1})
    name, url, mapping = env.mapped_queue("logs-src", attributes={"RedrivePolicy": policy})
    msg_id = env.sqs.send_message(QueueUrl=url, MessageBody='{"mode": "fail"}')["MessageId"]
    moved = wait_until(lambda: env.lines(rf'msg="message moved to dead-letter queue" .*message_id={msg_id}'),
                       timeout=15)
    assert len(moved) == 1
    f = fields(moved[0])
    assert f["queue"] == name and f["dlq"] == dlq and f["receive_count"] == "1"
    env.lam.delete_event_source_mapping(UUID=mapping)


def test_each_record_keeps_its_trace_and_the_batch_has_its_own(env):
    name, url, mapping = env.mapped_queue("logs-trace", enabled=False)
    traces = ["Root=1-5759e988-%024x" % (i + 1) for i in range(2)]
    ids = []
    for i, t in enumerate(traces):
        ids.append(env.sqs.send_message(
            QueueUrl=url, MessageBody=json.dumps({"mode": "ok", "tag": name, "i": i}),
            MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": t}})["MessageId"])
    env.lam.update_event_source_mapping(UUID=mapping, Enabled=True)

    def batch():
        for r in read_json_lines(env.folder / "records" / "echo.jsonl"):
            recs = (r.get("event") or {}).get("Records") or []
            if r.get("phase") == "start" and recs and name in recs[0]["eventSourceARN"]:
                return r
        return None
    got = wait_until(batch, timeout=10)
    recs = got["event"]["Records"]
    assert [x["messageId"] for x in recs] == ids
    assert [x["attributes"]["AWSTraceHeader"] for x in recs] == traces
    # A batch of several records is an invocation of its own: a new root
    # (observe/traces links it to each record), none of the records'.
    own = got["env"]["_X_AMZN_TRACE_ID"]
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0", own), own
    assert all(own.split(";")[0] != t for t in traces)
    env.lam.delete_event_source_mapping(UUID=mapping)
