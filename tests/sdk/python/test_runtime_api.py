"""The Lambda Runtime API (2018-06-01) as sluice serves it to a custom
runtime (provided.al2023): the /next headers, the answers to calls out of
order or with a wrong request id, the 6 MB limit, error bodies, and what
the caller (boto3's Invoke) sees when the runtime errs, exits, times out or
runs out of memory. The runtime is tests/e2e/runtime-api/bootstrap, which
reports what it saw (reference/runtime-api.md §1, §2, §5)."""
import base64
import json
import re
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from sluice_helpers import ACCOUNT, REGION, PrivateServer, function_log, make_lambda_client, sluice_binary

pytestmark = pytest.mark.timeout(60)

CODE = Path(__file__).resolve().parents[2] / "e2e" / "runtime-api"
CONFIG = f"""
functions:
  probe:
    runtime: provided.al2023
    code: {CODE}
    timeout: 2
    memory: 128
    environment:
      GREETING: hello
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = PrivateServer(sluice_binary(), tmp_path_factory.mktemp("runtime-api"), config=CONFIG)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def lam(server):
    return make_lambda_client(server.endpoint)


def invoke(lam, payload, **kw):
    r = lam.invoke(FunctionName="probe", Payload=json.dumps(payload).encode(), **kw)
    body = r["Payload"].read()
    return r, json.loads(body) if body else None


def test_next_carries_lambdas_headers_and_environment(lam):
    before = int(time.time() * 1000)
    r, seen = invoke(lam, {"mode": "plain"})
    assert r["StatusCode"] == 200 and "FunctionError" not in r
    h = seen["headers"]
    assert re.fullmatch(r"[0-9a-f-]{36}", h["lambda-runtime-aws-request-id"])
    assert r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"] == h["lambda-runtime-aws-request-id"]
    deadline = int(h["lambda-runtime-deadline-ms"])
    assert before + 1500 <= deadline <= int(time.time() * 1000) + 2000  # now + the 2 s timeout
    assert h["lambda-runtime-invoked-function-arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:probe"
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}(;.*)?", h["lambda-runtime-trace-id"])
    assert "lambda-runtime-client-context" not in h
    env = seen["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "probe"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/probe"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert env["AWS_REGION"] == REGION
    assert env["LAMBDA_TASK_ROOT"] == str(CODE)
    assert env["TZ"] == ":UTC"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    # Custom runtimes get neither (runtime-api.md §2).
    assert env["AWS_EXECUTION_ENV"] is None
    assert env["_X_AMZN_TRACE_ID"] is None
    assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")


def test_client_context_reaches_the_runtime(lam):
    cc = {"client": {"app_title": "shop"}, "custom": {"tenant": "t1"}, "env": {"locale": "en"}}
    r, seen = invoke(lam, {"mode": "plain"}, ClientContext=base64.b64encode(json.dumps(cc).encode()).decode())
    assert json.loads(seen["headers"]["lambda-runtime-client-context"]) == cc


def test_invalid_client_context_is_refused(lam):
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="probe", Payload=b"{}", ClientContext=base64.b64encode(b"[1, 2]").decode())
    assert e.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert e.value.response["Error"]["Message"] == "Client context must be a valid Base64-encoded JSON object."
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_calls_out_of_order_get_lambdas_errors(lam):
    _, seen = invoke(lam, {"mode": "probe"})
    assert seen["wrong_id"]["status"] == 400
    assert seen["wrong_id"]["body"]["errorType"] == "InvalidRequestID"
    assert seen["next_while_busy"]["status"] == 403
    assert seen["next_while_busy"]["body"]["errorType"] == "InvalidStateTransition"
    assert seen["init_error_after_init"]["status"] == 403
    assert seen["init_error_after_init"]["body"]["errorType"] == "InvalidStateTransition"
    assert seen["unknown_path"]["status"] == 404
    assert seen["wrong_method"]["status"] == 405
    # What the runtime heard back for its answer, and for answering twice.
    _, after = invoke(lam, {"mode": "plain"})
    assert after["late"]["first_response"] == {"status": 202, "body": {"status": "OK"}}
    assert after["late"]["second_response"]["status"] == 403
    assert after["late"]["second_response"]["body"]["errorType"] == "InvalidStateTransition"
    assert after["pid"] == seen["pid"]  # still the same warm instance


def test_a_response_over_6_mb_is_refused_at_both_ends(lam):
    r, err = invoke(lam, {"mode": "big"})
    assert r["FunctionError"] == "Unhandled"
    assert err == {"errorType": "Function.ResponseSizeTooLarge",
                   "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes)."}
    _, after = invoke(lam, {"mode": "plain"})
    assert after["late"]["big_response"] == {"status": 413, "body": {
        "errorMessage": "Exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "RequestEntityTooLarge"}}


def test_error_bodies_reach_the_caller(lam):
    r, err = invoke(lam, {"mode": "error"})
    assert r["StatusCode"] == 200 and r["FunctionError"] == "Unhandled"
    assert err == {"errorMessage": "boom", "errorType": "Custom.Kind", "stackTrace": ["a", "b"]}
    r, err = invoke(lam, {"mode": "error-text"})
    assert r["FunctionError"] == "Unhandled"
    assert err == {"errorMessage": "not json at all", "errorType": "Custom.Text"}


def test_a_runtime_that_exits_fails_its_invocation_and_is_replaced(lam):
    _, before = invoke(lam, {"mode": "plain"})
    r, err = invoke(lam, {"mode": "exit"}, LogType="Tail")
    rid = r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert r["FunctionError"] == "Unhandled"
    assert err == {"errorType": "Runtime.ExitError",
                   "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: exit status 3"}
    tail = base64.b64decode(r["LogResult"]).decode()
    assert "exiting with 3" in tail
    assert f"END RequestId: {rid}" in tail
    _, after = invoke(lam, {"mode": "plain"})
    assert after["pid"] != before["pid"]


def test_a_timeout_kills_the_instance(lam):
    _, before = invoke(lam, {"mode": "plain"})
    t = time.monotonic()
    r, err = invoke(lam, {"mode": "sleep", "seconds": 30})
    assert time.monotonic() - t < 10
    rid = r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert err == {"errorType": "Sandbox.Timedout",
                   "errorMessage": f"RequestId: {rid} Error: Task timed out after 2.00 seconds"}
    _, after = invoke(lam, {"mode": "plain"})
    assert after["pid"] != before["pid"]


def test_memory_over_the_limit_is_out_of_memory(lam, server):
    _, before = invoke(lam, {"mode": "plain"})
    r, err = invoke(lam, {"mode": "hog", "mb": 200})
    rid = r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert err == {"errorType": "Runtime.OutOfMemory",
                   "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: signal: killed"}
    _, after = invoke(lam, {"mode": "plain"})
    assert after["pid"] != before["pid"]
    log = function_log(server.endpoint, "probe")
    report = [line for line in log.splitlines() if line.startswith(f"REPORT RequestId: {rid}")][0]
    used = int(re.search(r"Max Memory Used: (\d+) MB", report).group(1))
    assert used > 128


def test_init_duration_only_on_an_instances_first_report(lam, server):
    invoke(lam, {"mode": "exit"})          # the next invoke starts a new instance
    r1, first = invoke(lam, {"mode": "plain"})
    r2, second = invoke(lam, {"mode": "plain"})
    assert first["pid"] == second["pid"]
    log = function_log(server.endpoint, "probe").splitlines()
    rid1 = r1["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    rid2 = r2["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    rep1 = [x for x in log if x.startswith(f"REPORT RequestId: {rid1}")][0]
    rep2 = [x for x in log if x.startswith(f"REPORT RequestId: {rid2}")][0]
    assert re.search(r"\tInit Duration: \d+\.\d\d ms", rep1)
    assert "Init Duration" not in rep2
