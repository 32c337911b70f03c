"""The bundled example (config/sluice.yaml, config/handlers/) as a new user
runs it, with its unmodified Lambda handlers: POST /orders on the API ->
the orders queue -> process-orders (python runtime, def handler(event,
context)) -> partial batch failure -> orders-dlq after 3 receives; GET
/orders/{id} -> get-order (Lambda proxy); process-orders-node through
Invoke. Ports are moved to 0 (the copy's only change); the clock is moved
instead of waiting for the 30 s visibility timeout."""
import base64
import json
import re
import time
from pathlib import Path

import pytest

from sluice_helpers import PrivateServer, function_log, http_call, make_lambda_client, sluice_binary, wait_until

pytestmark = pytest.mark.timeout(90)

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("example")
    text = (REPO / "config" / "sluice.yaml").read_text()
    text = re.sub(r"listen: 127\.0\.0\.1:\d+", "listen: 127.0.0.1:0", text)
    (folder / "handlers").symlink_to(REPO / "config" / "handlers")
    s = PrivateServer(sluice_binary(), folder, config=text)
    yield s
    s.stop()


def log_of(server, function):
    return function_log(server.endpoint, function)


def records(server, function):
    """The JSON lines the example handlers print, per message id."""
    out = {}
    for line in log_of(server, function).splitlines():
        start = line.find('{"level"')
        if start >= 0:
            rec = json.loads(line[start:])
            out.setdefault(rec.get("messageId"), []).append(rec)
    return out


def test_post_orders_reaches_the_python_handler(server):
    api = server.apis["shop"]
    r = http_call(api, "POST", "/orders", body=b'{"id": 42}', headers={"Content-Type": "application/json"})
    assert r.status == 200
    mid = json.loads(r.body)["SendMessageResponse"]["SendMessageResult"]["MessageId"]
    assert wait_until(lambda: mid in records(server, "process-orders"), timeout=15)
    rec = records(server, "process-orders")[mid][0]
    assert rec["result"] == "processed" and rec["body"] == {"id": 42} and rec["receiveCount"] == "1"
    # Processed messages are deleted.
    url = server.sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    assert wait_until(lambda: server.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
                      ["ApproximateNumberOfMessagesNotVisible"] == "0", timeout=10)


def test_a_failing_order_moves_to_the_dlq_after_three_receives(server):
    api = server.apis["shop"]
    r = http_call(api, "POST", "/orders", body=b'{"id": 7, "fail": true}',
                  headers={"Content-Type": "application/json"})
    assert r.status == 200
    mid = json.loads(r.body)["SendMessageResponse"]["SendMessageResult"]["MessageId"]
    for n in (1, 2, 3):
        assert wait_until(lambda: len(records(server, "process-orders").get(mid, [])) >= n, timeout=15), n
        time.sleep(0.2)
        server.clock.advance(31)  # past orders' 30 s visibility timeout
    seen = records(server, "process-orders")[mid]
    assert [r["receiveCount"] for r in seen] == ["1", "2", "3"]
    assert all(r["result"] == "failed" for r in seen)
    dlq = server.sqs.get_queue_url(QueueName="orders-dlq")["QueueUrl"]
    got = []
    assert wait_until(lambda: got.extend(server.sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1)
                                         .get("Messages", [])) or got, timeout=15)
    assert got[0]["MessageId"] == mid
    assert json.loads(got[0]["Body"]) == {"id": 7, "fail": True}


def test_get_order_is_a_lambda_proxy(server):
    api = server.apis["shop"]
    r = http_call(api, "GET", "/orders/42")
    assert r.status == 200
    assert json.loads(r.body) == {"id": 42, "status": "received"}
    r = http_call(api, "GET", "/orders/abc")
    assert r.status == 400
    assert json.loads(r.body) == {"message": "order id must be a number"}


def test_process_orders_node_through_invoke_stays_warm(server):
    lam = make_lambda_client(server.endpoint)
    event = {"Records": [{"messageId": "m1", "body": '{"fail": true}'}, {"messageId": "m2", "body": "{}"}]}
    first = lam.invoke(FunctionName="process-orders-node", Payload=json.dumps(event).encode(), LogType="Tail")
    assert json.loads(first["Payload"].read()) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    tail = base64.b64decode(first["LogResult"]).decode()
    assert '"messageId":"m1","result":"failed","batch":1' in tail
    second = lam.invoke(FunctionName="process-orders-node", Payload=json.dumps(event).encode(), LogType="Tail")
    tail = base64.b64decode(second["LogResult"]).decode()
    assert '"batch":2' in tail          # module state kept: the same warm instance
    assert "Init Duration" not in tail
