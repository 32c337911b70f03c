"""The Lambda runtimes through boto3: unmodified Python handlers
(tests/e2e/runtimes/python, `def handler(event, context)`) run by the
bootstrap sluice ships, behind the Runtime API, on warm instances
(reference/runtime-api.md §3, §5). Success with Lambda's context and
environment, print/logging in the log tail, error shapes (an exception, import
errors, a missing handler, an unserialisable result), timeouts, a crash,
warm reuse, Init Duration, reserved concurrency, idle stop, an SQS mapping
with partial batch failures and a DLQ, and boto3 (Debian's 1.26, which
ignores AWS_ENDPOINT_URL) called from inside a handler. Functions come from
tests/e2e/runtimes.yaml; this module starts a sluice of its own with it."""
import base64
import hashlib
import json
import os
import re
import threading
import time

import pytest
from botocore.exceptions import ClientError

from sluice_helpers import (
    REGION, PrivateServer, counts, drain, function_arn, function_log, http_call, make_lambda_client, sluice_binary,
    stage_runtimes_config, wait_until,
)

pytestmark = pytest.mark.timeout(60)

LOG_LINE_RE = r"\[INFO\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t{rid}\tlogging from the handler: "


class Env:
    def __init__(self, server, folder):
        self.server = server
        self.folder = folder
        self.endpoint = server.endpoint
        self.sqs = server.sqs
        self.lam = make_lambda_client(server.endpoint)

    def queue_url(self, name):
        return self.sqs.get_queue_url(QueueName=name)["QueueUrl"]

    def log(self, function):
        return function_log(self.server.endpoint, function)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    binary = sluice_binary()
    if not binary.exists():
        pytest.skip(f"needs the sluice binary ({binary}); set SLUICE_BIN")
    folder = tmp_path_factory.mktemp("runtimes")
    config_path = stage_runtimes_config(folder)
    server = PrivateServer(binary, folder / "server", config_path=config_path)
    try:
        yield Env(server, folder)
    finally:
        code, graceful = server.stop()
        assert graceful and code == 0, f"sluice stopped with code {code} (graceful={graceful}):\n{server.process.log()}"


def invoke(env, name, payload=None, client=None, **kwargs):
    if payload is not None:
        kwargs["Payload"] = json.dumps(payload).encode()
    out = (client or env.lam).invoke(FunctionName=name, **kwargs)
    out["Body"] = out["Payload"].read()
    return out


def ok_json(out):
    assert out["StatusCode"] == 200
    assert "FunctionError" not in out, f"unexpected function error: {out['Body']!r}"
    return json.loads(out["Body"])


def error_json(out):
    assert out["StatusCode"] == 200
    assert out.get("FunctionError") == "Unhandled", f"expected a function error, got {out['Body']!r}"
    return json.loads(out["Body"])


def log_tail(out):
    assert "LogResult" in out, "X-Amz-Log-Result expected with LogType Tail"
    return base64.b64decode(out["LogResult"]).decode()


def start_id(log):
    m = re.search(r"START RequestId: (\S+) Version: \$LATEST", log)
    assert m, f"no START line in:\n{log}"
    return m.group(1)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill 0: look at its state.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


# --------------------------------------------------------------------------
# Success, context, environment, logs
# --------------------------------------------------------------------------

def test_python_handler_gets_lambda_context_and_environment(env):
    out = invoke(env, "py-app", {"order": 1}, LogType="Tail")
    doc = ok_json(out)
    rid = start_id(log_tail(out))
    assert doc["event"] == {"order": 1}
    assert doc["function_name"] == "py-app"
    assert doc["function_version"] == "$LATEST"
    assert doc["invoked_function_arn"] == function_arn("py-app")
    assert doc["memory_limit_in_mb"] == "256"
    assert doc["aws_request_id"] == rid
    assert doc["log_group_name"] == "/aws/lambda/py-app"
    assert doc["log_stream_name"]
    assert 0 < doc["remaining"] <= 3000, doc["remaining"]
    assert doc["identity"] == [None, None]
    assert doc["client_context"] is None
    e = doc["env"]
    assert e["_HANDLER"] == "app.handler"
    assert e["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert e["AWS_LAMBDA_FUNCTION_NAME"] == "py-app"
    assert e["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert e["AWS_REGION"] == REGION
    assert e["TZ"] == ":UTC"
    assert e["GREETING"] == "hello from the config"
    assert e["LAMBDA_TASK_ROOT"].endswith("runtimes/python"), e["LAMBDA_TASK_ROOT"]
    assert os.path.realpath(doc["cwd"]) == os.path.realpath(e["LAMBDA_TASK_ROOT"])


def test_python_client_context_reaches_the_handler(env):
    cc = base64.b64encode(json.dumps({"custom": {"tenant": "t-1"}, "env": {}, "client": {}}).encode()).decode()
    doc = ok_json(invoke(env, "py-app", {}, ClientContext=cc))
    assert doc["client_context"] == {"tenant": "t-1"}


def test_python_trace_id_is_set_per_invocation(env):
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    client = make_lambda_client(env.endpoint)

    def add_trace(request, **kwargs):
        request.headers["X-Amzn-Trace-Id"] = trace

    client.meta.events.register("before-sign.lambda.Invoke", add_trace)
    traced = ok_json(invoke(env, "py-app", {}, client=client))
    assert traced["env"]["_X_AMZN_TRACE_ID"] == trace
    # The next invocation on the same instance does not see the old one.
    untraced = ok_json(invoke(env, "py-app", {}))
    assert untraced["pid"] == traced["pid"]
    assert untraced["env"]["_X_AMZN_TRACE_ID"] != trace


def test_python_print_and_logging_go_to_the_log_not_the_answer(env):
    out = invoke(env, "py-app", {"warn": True}, LogType="Tail")
    doc = ok_json(out)
    tail = log_tail(out)
    rid = start_id(tail)
    assert f"print from the handler: count={doc['count']}\n" in tail, tail
    assert re.search(LOG_LINE_RE.replace("{rid}", re.escape(rid)) + re.escape('{"warn": true}'), tail), tail
    # A message with a newline stays one log entry (\r inside), as on Lambda.
    assert re.search(rf"\[WARNING\]\t[^\t]+Z\t{re.escape(rid)}\tline one\rline two\n", tail), repr(tail)
    assert f"END RequestId: {rid}" in tail and f"REPORT RequestId: {rid}" in tail
    # The log file holds the same lines between START and END.
    log = wait_until(lambda: f"END RequestId: {rid}" in env.log("py-app") and env.log("py-app"))
    assert f"print from the handler: count={doc['count']}" in log


def test_python_runtime_loads_nothing_the_handler_does_not(env):
    # Cold start: logging is set up, and botocore patched, only when the
    # handler imports them; the Runtime API client needs no http.client.
    loaded = ok_json(invoke(env, "py-lean", {}))
    assert not any(loaded.values()), loaded


def test_python_large_event_arrives_whole(env):
    data = "".join(chr(0x41 + i % 26) for i in range(5_000_000)) + "é✓"
    raw = data.encode("utf-8")
    doc = ok_json(invoke(env, "py-digest", {"data": data}))
    assert doc == {"length": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}


def test_python_log_level_from_aws_lambda_log_level(env):
    def levels(function):
        tail = log_tail(invoke(env, function, {}, LogType="Tail"))
        return [lvl for lvl in ("DEBUG", "INFO", "WARNING", "ERROR")
                if re.search(rf"^\[{lvl}\]\t[^\t]+Z\t[0-9a-f-]{{36}}\t{lvl.lower()} line$", tail, re.M)]

    assert levels("py-levels") == ["WARNING", "ERROR"], "without AWS_LAMBDA_LOG_LEVEL: Python's WARNING"
    assert levels("py-levels-debug") == ["DEBUG", "INFO", "WARNING", "ERROR"]


def test_python_handler_path_with_a_folder(env):
    assert ok_json(invoke(env, "py-nested", {})) == {"module": "src.nested"}


# --------------------------------------------------------------------------
# Instances: warm reuse, Init Duration, idle stop, concurrency
# --------------------------------------------------------------------------

def test_python_warm_reuse_keeps_module_state(env):
    first = ok_json(invoke(env, "py-app", {"i": 1}))
    second = ok_json(invoke(env, "py-app", {"i": 2}))
    third = ok_json(invoke(env, "py-app", {"i": 3}))
    assert second["count"] == first["count"] + 1
    assert third["count"] == first["count"] + 2
    assert first["pid"] == second["pid"] == third["pid"]


def test_init_duration_on_the_first_report_only(env):
    first = invoke(env, "py-fresh", {}, LogType="Tail")
    second = invoke(env, "py-fresh", {}, LogType="Tail")
    assert ok_json(first)["count"] == 1
    assert ok_json(second)["count"] == 2
    report1 = [l for l in log_tail(first).splitlines() if l.startswith("REPORT ")]
    report2 = [l for l in log_tail(second).splitlines() if l.startswith("REPORT ")]
    assert len(report1) == 1 and len(report2) == 1, (report1, report2)
    assert re.search(r"\tInit Duration: \d+\.\d\d ms", report1[0]), report1[0]
    assert "Init Duration" not in report2[0], report2[0]
    # The module's init-time print is in the first invocation's log only.
    assert "app.py loaded" in env.log("py-fresh")


def test_idle_instance_is_stopped(env):
    first = ok_json(invoke(env, "py-idle", {}))
    assert first["count"] == 1
    # idle_timeout: 1 -> the instance is stopped about a second later.
    assert wait_until(lambda: not pid_alive(first["pid"]), timeout=5.0), \
        f"instance {first['pid']} still running 5 s after its 1 s idle timeout"
    second = ok_json(invoke(env, "py-idle", {}))
    assert second["pid"] != first["pid"]
    assert second["count"] == 1, "a new instance starts with fresh module state"


def test_reserved_concurrency_caps_instances(env):
    n = 4
    clients = [make_lambda_client(env.endpoint) for _ in range(n)]
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        barrier.wait()
        try:
            results[i] = ("ok", ok_json(invoke(env, "py-conc", {"sleep": 1.5}, client=clients[i])))
        except ClientError as exc:
            results[i] = ("error", exc.response)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    ok = [r[1] for r in results if r and r[0] == "ok"]
    throttled = [r[1] for r in results if r and r[0] == "error"]
    assert len(ok) == 2, f"reserved_concurrency 2: two invocations run at once; got {results}"
    assert len(throttled) == n - 2
    for resp in throttled:
        assert resp["Error"]["Code"] == "TooManyRequestsException", resp
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert len({d["pid"] for d in ok}) == 2, "two instances served the two invocations"
    # Later invocations reuse those two warm instances.
    later = {ok_json(invoke(env, "py-conc", {}))["pid"] for _ in range(4)}
    assert later <= {d["pid"] for d in ok}, (later, [d["pid"] for d in ok])


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

def test_python_exception_error_shape(env):
    out = invoke(env, "py-errors", {"x": 1}, LogType="Tail")
    doc = error_json(out)
    tail = log_tail(out)
    rid = start_id(tail)
    assert list(doc) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert doc["errorMessage"] == "order has no id: {'x': 1}"
    assert doc["errorType"] == "ValueError"
    assert doc["requestId"] == rid
    assert len(doc["stackTrace"]) == 2, doc["stackTrace"]
    assert doc["stackTrace"][0].startswith('  File "') and "errors.py" in doc["stackTrace"][0]
    assert ", in handler\n" in doc["stackTrace"][0]
    assert ", in check\n" in doc["stackTrace"][1]
    assert not any("bootstrap.py" in f for f in doc["stackTrace"]), doc["stackTrace"]
    # Logged as Lambda logs it: one entry, `[ERROR] Type: msg` + the traceback.
    assert "[ERROR] ValueError: order has no id: {'x': 1}\rTraceback (most recent call last):\r" in tail, repr(tail)
    # The instance survives a handled exception.
    again = invoke(env, "py-errors", {"id": 5})
    assert ok_json(again) == {"id": 5}


def test_python_import_error(env):
    for _ in range(2):  # init runs again at the next invocation, and fails again
        doc = error_json(invoke(env, "py-import", {}))
        assert doc == {
            "errorMessage": "Unable to import module 'broken_import': No module named 'requests_that_is_not_installed'",
            "errorType": "Runtime.ImportModuleError",
            "requestId": "",
            "stackTrace": [],
        }
    assert wait_until(lambda: "[ERROR] Runtime.ImportModuleError: Unable to import module 'broken_import'"
                      in env.log("py-import")), env.log("py-import")


def test_python_syntax_error(env):
    doc = error_json(invoke(env, "py-syntax", {}))
    assert doc["errorType"] == "Runtime.UserCodeSyntaxError"
    assert doc["errorMessage"].startswith("Syntax error in module 'syntax_error': "), doc["errorMessage"]
    assert "syntax_error.py" in doc["errorMessage"]
    assert len(doc["stackTrace"]) == 1 and "syntax_error.py" in doc["stackTrace"][0], doc["stackTrace"]


def test_python_exception_in_module_code(env):
    doc = error_json(invoke(env, "py-initraise", {}))
    assert doc["errorType"] == "KeyError"
    assert doc["errorMessage"] == "'TABLE_NAME_THAT_IS_NOT_SET'"
    assert doc["requestId"] == ""
    assert "init_raises.py" in doc["stackTrace"][0], doc["stackTrace"]
    assert not any("bootstrap.py" in f or "importlib" in f for f in doc["stackTrace"]), doc["stackTrace"]


def test_python_handler_not_found(env):
    doc = error_json(invoke(env, "py-nohandler", {}))
    assert doc["errorType"] == "Runtime.HandlerNotFound"
    assert doc["errorMessage"] == "Handler 'nope' missing on module 'app'"


def test_python_result_that_is_not_json(env):
    out = invoke(env, "py-marshal", {})
    doc = error_json(out)
    assert doc["errorType"] == "Runtime.MarshalError"
    assert doc["errorMessage"] == "Unable to marshal response: Object of type set is not JSON serializable"


def test_python_answer_over_6_mb(env):
    doc = error_json(invoke(env, "py-big", {"size": 6 * 1024 * 1024 + 200}))
    assert doc["errorType"] == "Function.ResponseSizeTooLarge"
    assert doc["errorMessage"] == "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
    # The runtime got its 413 and carries on: the instance still answers.
    assert ok_json(invoke(env, "py-big", {"size": 3})) == "xxx"


def test_python_timeout_replaces_the_instance(env):
    t0 = time.monotonic()
    out = invoke(env, "py-slow", {"sleep": 30}, LogType="Tail")
    took = time.monotonic() - t0
    tail = log_tail(out)
    rid = start_id(tail)
    assert error_json(out) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {rid} Error: Task timed out after 1.00 seconds",
    }
    assert took < 5.0, f"answered after {took:.2f} s"
    m = re.search(r"slow start pid=(\d+)", tail)
    assert m, tail
    old_pid = int(m.group(1))
    assert wait_until(lambda: not pid_alive(old_pid), timeout=5.0), "the timed-out instance was not killed"
    doc = ok_json(invoke(env, "py-slow", {"sleep": 0}))
    assert doc["pid"] != old_pid


def test_python_crash_is_exit_error_and_next_invoke_works(env):
    before = ok_json(invoke(env, "py-crash", {}))["pid"]
    out = invoke(env, "py-crash", {"crash": True}, LogType="Tail")
    tail = log_tail(out)
    rid = start_id(tail)
    assert error_json(out) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: exit status 1",
    }
    assert "about to exit" in tail
    after = ok_json(invoke(env, "py-crash", {}))["pid"]
    assert after != before


# --------------------------------------------------------------------------
# SQS mapping and SDK calls from the handler
# --------------------------------------------------------------------------

def test_sqs_mapping_partial_batch_failure_to_dlq(env):
    src, dlq = env.queue_url("rt-in"), env.queue_url("rt-dlq")
    bodies = [json.dumps({"n": 1}), json.dumps({"n": 2, "fail": True}), json.dumps({"n": 3})]
    ids = [env.sqs.send_message(QueueUrl=src, MessageBody=b)["MessageId"] for b in bodies]
    # The failing message is received twice (max_receive_count 2, visibility 2 s), then moves to the DLQ.
    moved = drain(env.sqs, dlq, expected=1, timeout=20)
    assert [m["Body"] for m in moved] == [bodies[1]]
    assert moved[0]["MessageId"] == ids[1]
    assert wait_until(lambda: counts(env.sqs, src) == (0, 0, 0), timeout=10), counts(env.sqs, src)
    log = env.log("py-batch")
    assert f"processed {ids[0]}" in log and f"processed {ids[2]}" in log, log
    assert log.count(f"failed {ids[1]}") == 2, log
    assert f"processed {ids[1]}" not in log


def test_boto3_per_service_endpoint_variable_wins(env):
    doc = ok_json(invoke(env, "py-endpoints", {}))
    assert doc == {
        "sqs": "http://sqs.override.example:4566",  # AWS_ENDPOINT_URL_SQS
        "lambda": env.endpoint,                      # AWS_ENDPOINT_URL
        "explicit": "http://explicit.example:1",     # endpoint_url given in the code
    }


def test_api_gateway_lambda_proxy_route_runs_a_python_handler(env):
    base = env.server.apis["rt-http"]
    first = http_call(base, "GET", "/hello/ada")
    second = http_call(base, "GET", "/hello/grace")
    assert first.status == 200 and second.status == 200, (first, second)
    assert first.header("Content-Type") == "application/json"
    assert first.header("X-Request-Id")
    a, b = first.json(), second.json()
    assert a == {"hello": "ada", "calls": a["calls"], "route": "GET /hello/{name}"}
    assert b["hello"] == "grace"
    assert b["calls"] == a["calls"] + 1, "the same warm instance served both requests"


@pytest.mark.timeout(120)
def test_api_to_sqs_to_python_handler_to_dlq(env):
    base = env.server.apis["rt-http"]
    good, bad = '{"order": 1}', '{"order": 2, "fail": true}'
    for body in (good, bad):
        ans = http_call(base, "POST", "/orders", body=body, headers={"Content-Type": "application/json"})
        assert ans.status == 200, ans
    # About 6 s on a quiet machine (two 2 s visibility rounds); a loaded CI
    # machine once needed more than 20 s for the cold starts.
    moved = drain(env.sqs, env.queue_url("rt-pipe-dlq"), expected=1, timeout=60)
    assert [m["Body"] for m in moved] == [bad]
    assert wait_until(lambda: counts(env.sqs, env.queue_url("rt-pipe")) == (0, 0, 0), timeout=10)
    log = env.log("py-pipe")
    assert re.search(r"processed \S+ \{'order': 1\}", log), log
    assert len(re.findall(r"failed \S+: cannot process", log)) == 2, log


def test_boto3_inside_the_handler_reaches_sluice(env):
    out_url = env.queue_url("rt-out")
    doc = ok_json(invoke(env, "py-send", {"body": "from a python handler"}))
    # Debian's botocore predates AWS_ENDPOINT_URL: the runtime redirected it.
    major, minor = (int(p) for p in doc["botocore"].split(".")[:2])
    assert (major, minor) < (1, 31), f"this test needs botocore < 1.31 to mean anything, got {doc['botocore']}"
    assert doc["endpoint"] == env.endpoint
    msgs = drain(env.sqs, out_url, expected=1, timeout=5)
    assert [(m["MessageId"], m["Body"]) for m in msgs] == [(doc["MessageId"], "from a python handler")]
