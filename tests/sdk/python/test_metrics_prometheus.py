"""GET /_sluice/metrics, black box: a private sluice with a queue feeding a
function, a function with no concurrency, a REST and an HTTP API; boto3
(query protocol) and plain HTTP drive sends, receives, deletes,
invocations and API requests, and the Prometheus text must carry exactly
those counts (docs/observability.md#prometheus), the gauges sampled every
second, and nothing at all with `observe: {enabled: false}`.

The module moves its server's clock, so it always starts servers of its own."""
import json
import re

import pytest

from sluice_helpers import (
    E2E_DIR, PrivateServer, http_call, make_lambda_client, queue_url, sluice_binary, wait_until,
)

pytestmark = pytest.mark.timeout(60)

HANDLER = E2E_DIR / "handlers" / "record.py"
LINE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

CONFIG = f"""
listen: 127.0.0.1:0
queues:
  counted: {{}}
  work:
    visibility_timeout: 5
  api-q: {{}}
functions:
  worker:
    command: [python3, {HANDLER}]
    timeout: 5
    events:
      - sqs: {{queue: work, batch_size: 1}}
  closed:
    command: [python3, {HANDLER}]
    reserved_concurrency: 0
apis:
  shop:
    listen: 127.0.0.1:0
    stage: prod
    routes:
      POST /orders:
        sqs: {{queue: api-q}}
  hapi:
    listen: 127.0.0.1:0
    type: http
    routes:
      POST /jobs:
        sqs: {{queue: api-q}}
"""


def scrape(endpoint):
    """{(name, ((label, value), ...)): float} and the raw answer."""
    ans = http_call(endpoint, "GET", "/_sluice/metrics")
    assert ans.status == 200, ans
    samples = {}
    for line in ans.text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE_RE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = tuple(sorted(LABEL_RE.findall(m.group(2) or "")))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples, ans


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    binary = sluice_binary()
    if not binary.exists():
        pytest.skip(f"needs the sluice binary ({binary}); set SLUICE_BIN")
    srv = PrivateServer(binary, tmp_path_factory.mktemp("metrics"), config=CONFIG)
    try:
        yield srv
    finally:
        srv.stop()


def test_page_is_prometheus_text(server):
    server.sqs.send_message(QueueUrl=queue_url(server.endpoint, "counted"), MessageBody="first")
    samples, ans = scrape(server.endpoint)
    assert ans.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
    text = ans.text
    assert "# HELP sluice_sqs_messages_sent_total " in text
    assert "# TYPE sluice_sqs_messages_sent_total counter\n" in text
    assert "# TYPE sluice_sqs_sent_message_size_bytes summary\n" in text
    # one HELP/TYPE pair per family, each before its samples
    types = re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M)
    assert len(types) == len({t[0] for t in types})
    for family, _ in types:
        first_sample = re.search(rf"^{family}(_sum|_count)?[{{ ]", text, re.M)
        assert first_sample and first_sample.start() > text.index(f"# TYPE {family} ")
    assert http_call(server.endpoint, "POST", "/_sluice/metrics", body="{}",
                     headers={"Content-Type": "application/json"}).status == 405


def test_sqs_counters_exact(server):
    sqs = server.sqs
    url = queue_url(server.endpoint, "counted")
    before, _ = scrape(server.endpoint)
    sent0 = value(before, "sluice_sqs_messages_sent_total", queue="counted") or 0
    # drain what the first test sent, so the counts below start clean
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    for m in got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    base, _ = scrape(server.endpoint)

    def delta(name):
        return (value(after, name, queue="counted") or 0) - (value(base, name, queue="counted") or 0)

    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"body{i}")  # 5 bytes each
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "bodyA"},
                                                  {"Id": "b", "MessageBody": "bodyB"}])
    msgs = []
    for _ in range(5):
        msgs += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if len(msgs) == 5:
            break
    assert len(msgs) == 5
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=msgs[0]["ReceiptHandle"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=msgs[1]["ReceiptHandle"])
    res = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": "x", "ReceiptHandle": msgs[2]["ReceiptHandle"]},
        {"Id": "y", "ReceiptHandle": msgs[3]["ReceiptHandle"]},
    ])
    assert len(res["Successful"]) == 2
    after, _ = scrape(server.endpoint)
    assert delta("sluice_sqs_messages_sent_total") == 5
    assert delta("sluice_sqs_messages_received_total") == 5
    assert delta("sluice_sqs_messages_deleted_total") == 4
    assert delta("sluice_sqs_empty_receives_total") >= 1
    assert delta("sluice_sqs_sent_message_size_bytes_count") == 5
    assert delta("sluice_sqs_sent_message_size_bytes_sum") == 25
    assert value(after, "sluice_sqs_messages_sent_total", queue="counted") == sent0 + 5
    # every size in the last minute was 5 or "first" (5): quantiles exact
    for q in ("0.5", "0.9", "0.99"):
        assert value(after, "sluice_sqs_sent_message_size_bytes", queue="counted", quantile=q) == 5


def test_queue_gauges_sampled(server):
    sqs = server.sqs
    url = queue_url(server.endpoint, "counted")
    # from the previous test: one message in flight; add a visible and a delayed one
    sqs.send_message(QueueUrl=url, MessageBody="visible")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=600)

    def gauges():
        s, _ = scrape(server.endpoint)
        return tuple(value(s, n, queue="counted") for n in (
            "sluice_sqs_messages_visible", "sluice_sqs_messages_not_visible", "sluice_sqs_messages_delayed"))

    wait_until(lambda: gauges() == (1, 1, 1), timeout=5)
    server.clock.advance(120)  # the oldest message ages by two minutes

    def age():
        s, _ = scrape(server.endpoint)
        return value(s, "sluice_sqs_oldest_message_age_seconds", queue="counted")

    wait_until(lambda: (age() or 0) >= 120, timeout=5)
    assert age() < 400
    # an empty queue's age is 0
    s, _ = scrape(server.endpoint)
    assert value(s, "sluice_sqs_oldest_message_age_seconds", queue="api-q") in (None, 0)


def test_lambda_invocations_errors_duration(server):
    sqs = server.sqs
    url = queue_url(server.endpoint, "work")
    base, _ = scrape(server.endpoint)

    def get(samples, name):
        return value(samples, name, function="worker") or 0

    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"mode": "ok"}))
    wait_until(lambda: get(scrape(server.endpoint)[0], "sluice_lambda_invocations_total") ==
               get(base, "sluice_lambda_invocations_total") + 1, timeout=15)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"mode": "fail"}))
    wait_until(lambda: get(scrape(server.endpoint)[0], "sluice_lambda_errors_total") ==
               get(base, "sluice_lambda_errors_total") + 1, timeout=15)
    after, _ = scrape(server.endpoint)
    invocations = get(after, "sluice_lambda_invocations_total") - get(base, "sluice_lambda_invocations_total")
    assert invocations >= 2  # the failed message may have been retried already
    assert get(after, "sluice_lambda_duration_milliseconds_count") == get(after, "sluice_lambda_invocations_total")
    assert get(after, "sluice_lambda_duration_milliseconds_sum") > 0
    assert value(after, "sluice_lambda_duration_milliseconds", function="worker", quantile="0.5") > 0
    # one batch per invocation (batch_size 1): the age of each batch's record
    assert get(after, "sluice_lambda_oldest_record_age_milliseconds_count") == \
        get(after, "sluice_lambda_invocations_total")
    assert get(after, "sluice_lambda_throttles_total") == 0
    wait_until(lambda: value(scrape(server.endpoint)[0], "sluice_lambda_concurrent_executions",
                             function="worker") is not None, timeout=5)
    assert value(scrape(server.endpoint)[0], "sluice_lambda_concurrent_executions_all") is not None


def test_lambda_throttles(server):
    lam = make_lambda_client(server.endpoint, retries={"total_max_attempts": 1})  # no retry of the 429
    for _ in range(2):
        with pytest.raises(lam.exceptions.TooManyRequestsException):
            lam.invoke(FunctionName="closed", Payload=b"{}")
    s, _ = scrape(server.endpoint)
    assert value(s, "sluice_lambda_throttles_total", function="closed") == 2
    assert value(s, "sluice_lambda_invocations_total", function="closed") is None


def test_api_gateway_rest_and_http(server):
    shop, hapi = server.apis["shop"], server.apis["hapi"]
    for _ in range(2):
        assert http_call(shop, "POST", "/prod/orders", body='{"n":1}').status == 200
    assert http_call(shop, "GET", "/prod/nothing").status == 403  # Missing Authentication Token
    for _ in range(3):
        assert http_call(hapi, "POST", "/jobs", body='{"n":2}').status == 200
    assert http_call(hapi, "GET", "/nope").status == 404
    s, _ = scrape(server.endpoint)
    rest = {"api": "shop", "stage": "prod"}
    assert value(s, "sluice_apigateway_requests_total", **rest) == 3
    assert value(s, "sluice_apigateway_4xx_errors_total", **rest) == 1
    assert value(s, "sluice_apigateway_5xx_errors_total", **rest) == 0
    assert value(s, "sluice_apigateway_latency_milliseconds_count", **rest) == 3
    assert value(s, "sluice_apigateway_integration_latency_milliseconds_count", **rest) == 2
    route = dict(rest, route="POST /orders")
    assert value(s, "sluice_apigateway_route_requests_total", **route) == 2
    assert value(s, "sluice_apigateway_route_4xx_errors_total", **route) == 0
    # HTTP APIs are named by their ApiId, as in CloudWatch
    ids = {dict(k[1])["api"] for k in s if k[0] == "sluice_apigateway_requests_total"} - {"shop"}
    assert len(ids) == 1
    api_id = ids.pop()
    assert re.fullmatch(r"[a-z]{10}", api_id)
    http = {"api": api_id, "stage": "$default"}
    assert value(s, "sluice_apigateway_requests_total", **http) == 4
    assert value(s, "sluice_apigateway_4xx_errors_total", **http) == 1
    assert value(s, "sluice_apigateway_route_requests_total", route="POST /jobs", **http) == 3
    # the SQS integration counted the messages it sent
    assert value(s, "sluice_sqs_messages_sent_total", queue="api-q") == 5


def test_recording_off(tmp_path):
    srv = PrivateServer(sluice_binary(), tmp_path, config="observe: {enabled: false}\nqueues:\n  q: {}\n")
    try:
        srv.sqs.send_message(QueueUrl=queue_url(srv.endpoint, "q"), MessageBody="x")
        srv.sqs.receive_message(QueueUrl=queue_url(srv.endpoint, "q"))
        ans = http_call(srv.endpoint, "GET", "/_sluice/metrics")
        assert ans.status == 200
        assert ans.body == b""
    finally:
        srv.stop()


def test_http_api_data_processed(server):
    """HTTP APIs publish DataProcessed (Bytes) per ApiId and ApiId+Stage (and
    the route level): the request's and the response's body bytes, read
    back through boto3's CloudWatch; REST APIs have no such metric."""
    import datetime

    import boto3
    from botocore.config import Config

    cw = boto3.session.Session().client(
        "cloudwatch", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test",
        endpoint_url=server.endpoint, config=Config(retries={"max_attempts": 1}))
    hapi = server.apis["hapi"]
    assert http_call(hapi, "POST", "/jobs", body="{}").status == 200  # the API exists in CloudWatch
    listed = cw.list_metrics(Namespace="AWS/ApiGateway", MetricName="DataProcessed")["Metrics"]
    api_id = next(d["Value"] for m in listed for d in m["Dimensions"] if d["Name"] == "ApiId")
    assert not any(d["Name"] == "ApiName" for m in listed for d in m["Dimensions"])
    levels = [[{"Name": "ApiId", "Value": api_id}],
              [{"Name": "ApiId", "Value": api_id}, {"Name": "Stage", "Value": "$default"}],
              [{"Name": "ApiId", "Value": api_id}, {"Name": "Method", "Value": "POST"},
               {"Name": "Resource", "Value": "/jobs"}, {"Name": "Stage", "Value": "$default"}]]

    def total(dims):
        end = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=2)
        got = cw.get_metric_statistics(Namespace="AWS/ApiGateway", MetricName="DataProcessed", Dimensions=dims,
                                       StartTime=end - datetime.timedelta(minutes=30), EndTime=end, Period=60,
                                       Statistics=["Sum"])["Datapoints"]
        assert all(p["Unit"] == "Bytes" for p in got)
        return sum(p["Sum"] for p in got)

    before = [total(d) for d in levels]
    bodies = ['{"n": 1}', '{"payload": "' + "x" * 300 + '"}']
    expected = 0
    for body in bodies:
        ans = http_call(hapi, "POST", "/jobs", body=body)
        assert ans.status == 200
        expected += len(body.encode()) + len(ans.body)
    ans = http_call(hapi, "GET", "/nope")  # no route: the API and stage levels only
    assert ans.status == 404
    after = [total(d) for d in levels]
    assert after[0] - before[0] == expected + len(ans.body)
    assert after[1] - before[1] == expected + len(ans.body)
    assert after[2] - before[2] == expected
