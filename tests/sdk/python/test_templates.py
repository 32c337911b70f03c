"""`sluice serve --template`: AWS SAM / CloudFormation templates written as
AWS's docs show them (tests/e2e/templates/), run unmodified and driven end
to end with boto3: queue-triggered Python and Node.js functions, dead-letter
queues, partial batch responses, filters, a FIFO queue with redrive,
parameters, mappings and conditions; and `sluice validate --template`'s
problems at FILE:LINE:COLUMN.

The handlers need an interpreter with boto3 (Debian's /usr/bin/python3), so
each server also gets a small sluice config with `runtimes:` beside the
template (--config runtimes.yaml --template template.yaml), as
docs/templates.md describes."""
import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from sluice_helpers import ACCOUNT, REPO, SluiceProcess, make_client, sluice_binary

TEMPLATES = REPO / "tests" / "e2e" / "templates"


@pytest.fixture
def serve(tmp_path):
    """serve(template, *overrides) -> (SluiceProcess, boto3 client)."""
    started = []
    runtimes = tmp_path / "runtimes.yaml"
    runtimes.write_text("runtimes:\n  python: /usr/bin/python3\n")

    def start(template, *overrides):
        args = ["--template", TEMPLATES / template]
        if overrides:
            args += ["--parameter-overrides", *overrides]
        n = len(started)
        proc = SluiceProcess(sluice_binary(), tmp_path / f"data{n}", tmp_path / f"sluice{n}.log",
                             config_path=runtimes, extra_args=args)
        started.append(proc)
        return proc, make_client(proc.endpoint, read_timeout=30)

    yield start
    for p in started:
        p.stop()


def receive_one(sqs, url, wait=20):
    """The first message to arrive at url within `wait` seconds (deleted), or None."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        left = max(1, min(20, int(deadline - time.monotonic())))
        msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=left, MaxNumberOfMessages=1).get("Messages", [])
        if msgs:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=msgs[0]["ReceiptHandle"])
            return msgs[0]
    return None


def wait_lines(path, n, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
            if len(lines) >= n:
                return lines
        time.sleep(0.1)
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def counts(sqs, url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


@pytest.mark.timeout(90)
def test_python_function_with_dlq_runs_from_a_sam_template(serve):
    proc, sqs = serve("sqs-python/template.yaml", "VisibilitySeconds=3")
    # The start-up lines list every queue's URL, like the stack's Outputs.
    assert proc.queue_urls == {
        "orders-dev": f"{proc.endpoint}/{ACCOUNT}/orders-dev",
        "orders-dev-dlq": f"{proc.endpoint}/{ACCOUNT}/orders-dev-dlq",
        "ResultsQueue": f"{proc.endpoint}/{ACCOUNT}/ResultsQueue",
    }
    orders = sqs.get_queue_url(QueueName="orders-dev")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=orders, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "3"
    assert json.loads(attrs["RedrivePolicy"]) == {
        "deadLetterTargetArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders-dev-dlq", "maxReceiveCount": 2}
    assert sqs.list_queue_tags(QueueUrl=orders)["Tags"] == {"team": "payments"}

    sqs.send_message(QueueUrl=orders, MessageBody=json.dumps({"id": 1}))
    # The handler sends to RESULTS_QUEUE_URL (!Ref ResultsQueue) with boto3.
    got = receive_one(sqs, proc.queue_urls["ResultsQueue"])
    assert got is not None, proc.log()
    assert json.loads(got["Body"]) == {"id": 1, "stage": "dev", "results_queue": "ResultsQueue",
                                       "function": "ProcessorFunction"}

    # A message the handler refuses is received twice (maxReceiveCount 2),
    # then moves to the dead-letter queue.
    sqs.send_message(QueueUrl=orders, MessageBody=json.dumps({"id": 2, "fail": True}))
    dead = receive_one(sqs, proc.queue_urls["orders-dev-dlq"], wait=30)
    assert dead is not None, proc.log()
    assert json.loads(dead["Body"]) == {"id": 2, "fail": True}
    assert counts(sqs, orders) == (0, 0)
    assert "RuntimeError: order 2 refused" in proc.log()
    # The log group is not emulated: listed once as ignored, not an error.
    assert proc.log().count('msg="not emulated; ignored"') == 1
    assert 'resources="ProcessorLogGroup (AWS::Logs::LogGroup)"' in proc.log()


@pytest.mark.timeout(90)
def test_node_function_reports_batch_item_failures_and_filters(serve, tmp_path):
    out = tmp_path / "jobs.jsonl"
    proc, sqs = serve("sqs-node/template.yaml", f"OutFile={out}")
    jobs = proc.queue_urls["JobsQueue"]
    sqs.send_message_batch(QueueUrl=jobs, Entries=[
        {"Id": "a", "MessageBody": json.dumps({"kind": "job", "id": 1})},
        {"Id": "b", "MessageBody": json.dumps({"kind": "job", "id": 2, "fail": True})},
        {"Id": "c", "MessageBody": json.dumps({"kind": "other", "id": 3})},
    ])
    # Only the failed item is retried, and after maxReceiveCount 1 it is
    # dead-lettered; the filtered-out message never reaches the handler.
    dead = receive_one(sqs, proc.queue_urls["JobsDLQ"], wait=30)
    assert dead is not None, proc.log()
    assert json.loads(dead["Body"]) == {"kind": "job", "id": 2, "fail": True}
    done = wait_lines(out, 1)
    assert [d["id"] for d in done] == [1]
    deadline = time.monotonic() + 10
    while counts(sqs, jobs) != (0, 0) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert counts(sqs, jobs) == (0, 0)
    assert [d["id"] for d in wait_lines(out, 1)] == [1]
    assert sqs.receive_message(QueueUrl=proc.queue_urls["JobsDLQ"], WaitTimeSeconds=1).get("Messages") is None


@pytest.mark.timeout(90)
def test_fifo_queue_with_redrive_lambda_function_and_mapping(serve, tmp_path):
    out = tmp_path / "orders.jsonl"
    proc, sqs = serve("fifo/template.yaml", f"OutFile={out}")
    assert set(proc.queue_urls) == {"orders-dev.fifo", "orders-dev-dlq.fifo"}  # AuditQueue: IsProd is false
    url = proc.queue_urls["orders-dev.fifo"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["FifoQueue"] == "true"
    assert attrs["ContentBasedDeduplication"] == "true"
    assert attrs["VisibilityTimeout"] == "3"
    assert json.loads(attrs["RedrivePolicy"]) == {
        "deadLetterTargetArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders-dev-dlq.fifo", "maxReceiveCount": 2}
    for i in range(1, 4):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"id": i}), MessageGroupId="g1")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"id": 9, "fail": True}), MessageGroupId="g2")
    lines = wait_lines(out, 3)
    assert lines == [{"id": i, "group": "g1", "mode": "development", "function": "orders-consumer-dev"}
                     for i in (1, 2, 3)]
    dead = receive_one(sqs, proc.queue_urls["orders-dev-dlq.fifo"], wait=30)
    assert dead is not None, proc.log()
    assert json.loads(dead["Body"]) == {"id": 9, "fail": True}
    # The whole log: proc.log() is its last 4 KB, and the start-up line
    # is at the top, before the batch and dead-letter lines.
    assert 'resources="ConsumerRole (AWS::IAM::Role)"' in Path(proc.log_path).read_text(errors="replace")


@pytest.mark.timeout(60)
def test_parameter_overrides_choose_mappings_and_conditions(serve, tmp_path):
    proc, sqs = serve("fifo/template.yaml", "Env=prod", f"ParameterKey=OutFile,ParameterValue={tmp_path}/o")
    assert set(proc.queue_urls) == {"orders-prod.fifo", "orders-prod-dlq.fifo", "audit-prod"}
    attrs = sqs.get_queue_attributes(QueueUrl=proc.queue_urls["orders-prod.fifo"],
                                     AttributeNames=["VisibilityTimeout", "RedrivePolicy"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "30"
    assert json.loads(attrs["RedrivePolicy"])["maxReceiveCount"] == 5


def http(method, url, body=None, headers=None):
    """(status, headers, body text) of one request."""
    req = urllib.request.Request(url, data=body.encode() if body is not None else None, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


@pytest.mark.timeout(60)
def test_http_api_openapi_sqs_integration_feeds_a_function(serve, tmp_path):
    out = tmp_path / "orders.jsonl"
    proc, sqs = serve("http-api-sqs/template.yaml", f"OutFile={out}")
    # OrdersApi (explicit HttpApi) and ServerlessRestApi (SAM's implicit
    # REST API for the Api event), each on its own listener.
    assert set(proc.apis) == {"OrdersApi", "ServerlessRestApi"}
    api = proc.apis["OrdersApi"]
    status, headers, _ = http("POST", f"{api}/orders", json.dumps({"id": 7}),
                              {"Content-Type": "application/json", "Origin": "https://shop.example.com"})
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "https://shop.example.com"
    # SQS-SendMessage put the body on OrdersQueue; ConsumerFunction's SQS event ran.
    assert wait_lines(out, 1) == [{"id": 7}], proc.log()
    # The HttpApi event on the same API: a Lambda proxy route, payload 2.0.
    status, _, body = http("GET", f"{api}/health")
    assert (status, json.loads(body)) == (200, {"route": "GET /health", "params": None, "version": "2.0"})
    # The Api event: SAM's implicit REST API, stage Prod, payload 1.0.
    status, _, body = http("GET", f"{proc.apis['ServerlessRestApi']}/Prod/orders/42")
    assert (status, json.loads(body)) == (200, {"route": "GET /orders/{id}", "params": {"id": "42"},
                                                "version": None})


@pytest.mark.timeout(60)
def test_rest_api_from_apigateway_resources_with_a_vtl_template(serve):
    proc, sqs = serve("rest-apigw/template.yaml")
    api = proc.apis["OrdersRestApi"]
    key = {"x-api-key": "local-test-key-0123456789"}  # the ApiKey resource's Value
    status, _, body = http("POST", f"{api}/prod/orders", json.dumps({"id": 0}), {"Content-Type": "application/json"})
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})  # ApiKeyRequired, no key
    status, _, body = http("POST", f"{api}/prod/orders", json.dumps({"id": 8}),
                           {"Content-Type": "application/json", **key})
    assert (status, body) == (200, '{"queued": true}')
    # The template's Action=SendMessage&MessageBody=$util.urlEncode($input.body)
    # sends the request body as the message body.
    got = receive_one(sqs, proc.queue_urls["rest-orders"], wait=5)
    assert got is not None and json.loads(got["Body"]) == {"id": 8}
    # MOCK integration; sluice's keys are per API, so this route wants one too.
    assert http("GET", f"{api}/prod/orders/ping", headers=key)[::2] == (200, '{"pong": true}')


@pytest.mark.timeout(60)
def test_openapi_included_from_a_file_with_aws_include(serve):
    proc, sqs = serve("http-api-include/template.yaml")
    api = proc.apis["MyHttpApi"]
    status, headers, _ = http("POST", f"{api}/acme/orders", '{"sku": "x-1"}',
                              {"Content-Type": "application/json", "Origin": "https://a.example"})
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "*"  # x-amazon-apigateway-cors in api.yaml
    msgs = sqs.receive_message(QueueUrl=proc.queue_urls["included-orders.fifo"], WaitTimeSeconds=5,
                               AttributeNames=["MessageGroupId"]).get("Messages", [])
    assert [(m["Body"], m["Attributes"]["MessageGroupId"]) for m in msgs] == [('{"sku": "x-1"}', "acme")]


def test_include_problems_name_the_included_file(tmp_path):
    (tmp_path / "api.yaml").write_text("paths:\n  /x: [unclosed\n")
    t = tmp_path / "template.yaml"
    t.write_text("Resources:\n  Api:\n    Type: AWS::Serverless::HttpApi\n    Properties:\n"
                 "      DefinitionBody:\n        Fn::Transform: {Name: AWS::Include, Parameters: {Location: api.yaml}}\n")
    r = validate("--template", t)
    assert r.returncode == 1
    assert r.stderr.startswith(f"{tmp_path}/api.yaml:3:1: YAML syntax error")
    (tmp_path / "api.yaml").unlink()
    r = validate("--template", t)
    assert r.stderr == (f"{t}:6:68: cannot read '{tmp_path}/api.yaml': No such file or directory\n")


@pytest.mark.timeout(60)
def test_inline_code_runs(serve, tmp_path):
    out = tmp_path / "inline.txt"
    proc, sqs = serve("inline/template.yaml", f"OutFile={out}")
    sqs.send_message(QueueUrl=proc.queue_urls["PyQueue"], MessageBody="one")
    sqs.send_message(QueueUrl=proc.queue_urls["NodeQueue"], MessageBody="two")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (out.exists() and len(out.read_text().splitlines()) >= 2):
        time.sleep(0.1)
    assert sorted(out.read_text().splitlines()) == ["node two", "py one"], proc.log()


@pytest.mark.timeout(90)
def test_event_invoke_config_and_dead_letter_queues_from_a_template(serve):
    """EventInvokeConfig (retries, OnSuccess/OnFailure SQS destinations),
    SAM's DeadLetterQueue and CloudFormation's DeadLetterConfig, as the
    docs write them; an SNS destination is not emulated and says so."""
    import boto3
    from botocore.config import Config
    proc, sqs = serve("async-destinations/template.yaml")
    lam = boto3.client("lambda", endpoint_url=proc.endpoint, region_name="us-east-1", aws_access_key_id="test",
                       aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}))

    def event(name, payload):
        out = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(payload).encode())
        assert out["StatusCode"] == 202
        return out["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]

    ok = event("ship", {"order": 1})
    rec = json.loads(receive_one(sqs, proc.queue_urls["Succeeded"])["Body"])
    assert (rec["requestContext"]["requestId"], rec["requestContext"]["condition"]) == (ok, "Success")
    assert rec["responsePayload"] == {"shipped": 1}
    bad = event("ship", {"order": 2, "fail": True})
    rec = json.loads(receive_one(sqs, proc.queue_urls["Failed"])["Body"])
    assert rec["requestContext"]["requestId"] == bad
    assert rec["requestContext"]["condition"] == "RetriesExhausted"
    assert rec["requestContext"]["approximateInvokeCount"] == 1  # MaximumRetryAttempts: 0
    assert json.loads(receive_one(sqs, proc.queue_urls["Dead"])["Body"]) == {"order": 2, "fail": True}
    audited = event("audit", {"order": 3})
    # CloudFormation's DeadLetterConfig, after Lambda's two retries (a minute, then two)
    for n, advance in ((1, 61), (2, 121)):
        # only once sluice has scheduled the retry (the clock must not move first)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            log = Path(proc.log_path).read_text(errors="replace")
            if sum(1 for l in log.splitlines() if "will retry" in l and audited in l) >= n:
                break
            time.sleep(0.05)
        urllib.request.urlopen(urllib.request.Request(
            proc.endpoint + "/_sluice/clock", data=json.dumps({"advance_seconds": advance}).encode(),
            headers={"Content-Type": "application/json"}, method="POST"), timeout=5).read()
    dead = sqs.receive_message(QueueUrl=proc.queue_urls["Dead"], WaitTimeSeconds=15,
                               MessageAttributeNames=["All"])["Messages"][0]
    assert dead["MessageAttributes"]["RequestID"]["StringValue"] == audited
    assert dead["MessageAttributes"]["ErrorMessage"]["StringValue"] == "audit is down"
    log = Path(proc.log_path).read_text()
    warned = [l for l in log.splitlines() if "destination type not emulated; skipped" in l]
    assert len(warned) == 1 and "function=notify" in warned[0] and "type=SNS" in warned[0], warned


# ---- validate: problems at FILE:LINE:COLUMN ----

def validate(*args):
    return subprocess.run([str(sluice_binary()), "validate", *map(str, args)], capture_output=True, text=True,
                          timeout=30)


def test_validate_reads_each_example_template():
    for t, extra in [("sqs-python", []), ("sqs-node", ["--parameter-overrides", "OutFile=/tmp/x"]),
                     ("fifo", ["--parameter-overrides", "OutFile=/tmp/x"]),
                     ("http-api-sqs", ["--parameter-overrides", "OutFile=/tmp/x"]), ("rest-apigw", []),
                     ("http-api-include", [])]:
        r = validate("--template", TEMPLATES / t / "template.yaml", *extra)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(f"{TEMPLATES / t / 'template.yaml'}: ok\n")


def test_validate_reports_template_problems_with_positions(tmp_path):
    t = tmp_path / "template.yaml"
    t.write_text(
        "Parameters:\n"
        "  Env: {Type: String, AllowedValues: [dev, prod], Default: dev}\n"
        "Resources:\n"
        "  Q:\n"
        "    Type: AWS::SQS::Queue\n"
        "    Properties:\n"
        "      VisibilityTimeout: 99999\n"
        "      DelaySeconds: !Reff X\n")
    r = validate("--template", t)
    assert r.returncode == 1
    assert r.stderr == f"{t}:8:21: unknown tag '!Reff' (CloudFormation's short forms are !Ref, !GetAtt, !Sub, ...)\n"
    t.write_text(t.read_text().replace("!Reff X", "!Ref Nowhere"))
    r = validate("--template", t)
    assert r.returncode == 1
    assert r.stderr == f"{t}:8:21: 'Nowhere' is not a parameter, resource or pseudo parameter of this template\n"
    t.write_text(t.read_text().replace("!Ref Nowhere", "5"))
    r = validate("--template", t)
    assert r.stderr == f"{t}:7:26: visibility_timeout must be between 0 and 43200, got 99999\n"
    r = validate("--template", t, "--parameter-overrides", "Env=qa")
    assert f"{t}:2:3: parameter 'Env': 'qa' is not one of its AllowedValues\n" in r.stderr


def test_duplicates_across_config_and_template_name_both_places(tmp_path):
    cfg = tmp_path / "sluice.yaml"
    cfg.write_text("queues:\n  orders: {}\n")
    t = tmp_path / "template.yaml"
    t.write_text("Resources:\n  Orders:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: orders\n")
    r = validate("--config", cfg, "--template", t)
    assert r.returncode == 1
    assert r.stderr == f"{t}:5:18: queue 'orders' is also declared at {cfg}:2:3\n"


def test_runtimes_from_the_config_apply_to_the_template(tmp_path):
    cfg = tmp_path / "runtimes.yaml"
    cfg.write_text("runtimes:\n  python: /nonexistent/python3\n")
    t = TEMPLATES / "sqs-python" / "template.yaml"
    r = validate("--config", cfg, "--template", t)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert len([l for l in lines if l.startswith(f"{t}:")]) == 1, r.stderr
    assert "/nonexistent/python3" in r.stderr
    cfg.write_text("runtimes:\n  python: /usr/bin/python3\n")
    r = validate("--config", cfg, "--template", t)
    assert r.returncode == 0, r.stderr
    assert "runs /usr/bin/python3" in r.stdout


def test_unread_types_warn_once_and_ignored_types_are_listed(tmp_path):
    t = tmp_path / "template.yaml"
    t.write_text(
        "Resources:\n"
        "  Q:\n    Type: AWS::SQS::Queue\n"
        "  Topic:\n    Type: AWS::SNS::Topic\n"
        "  Table:\n    Type: AWS::DynamoDB::Table\n"
        "  Custom:\n    Type: Custom::Thing\n")
    r = validate("--template", t)
    assert r.returncode == 0, r.stderr
    warns = [l for l in r.stderr.splitlines() if " warn " in l]
    assert len(warns) == 1 and f"at={t}:8:3 resource=Custom type=Custom::Thing" in warns[0]
    infos = [l for l in r.stderr.splitlines() if "not emulated" in l]
    assert len(infos) == 1
    assert 'resources="Topic (AWS::SNS::Topic), Table (AWS::DynamoDB::Table)"' in infos[0]


def test_parameter_overrides_need_a_template():
    r = validate("--config", REPO / "config" / "sluice.yaml", "--parameter-overrides", "A=1")
    assert r.returncode == 1
    assert r.stderr.endswith("sluice: --parameter-overrides needs --template\n")
