"""Who gets in (issue 11): with `auth:` keys configured, every AWS API
request must carry a valid Signature Version 4 by one of them. boto3 with
the right key works (SQS, Lambda, STS); a wrong secret, an unknown key, no
signature, a partial one, a skewed clock and an expired presigned URL get
AWS's errors in each protocol's shape; admin paths keep their own rules.
docs/reliability.md lists each case."""
import json
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from sluice_helpers import QUERY_NS, REGION, aws_error, clock_call, http_call, receive_one

KEY_ID = "AKIDSLUICETEST0001"
SECRET = "sluice/Secret+Key0001"
PRINCIPAL = "AIDASLUICEPRINCIPAL1"
KEY2_ID = "AKIDSLUICETEST0002"  # no principal: SenderId is the key id

CONFIG = f"""
auth:
  keys:
    - access_key_id: {KEY_ID}
      secret_access_key: "{SECRET}"
      principal: {PRINCIPAL}
    - {{access_key_id: {KEY2_ID}, secret_access_key: other-secret}}
"""

WRONG_SECRET_MSG = ("The request signature we calculated does not match the signature you provided. "
                    "Check your AWS Secret Access Key and signing method. Consult the service documentation "
                    "for details.")


@pytest.fixture(scope="module")
def server(private_server):
    return private_server(CONFIG)


def client(server, service="sqs", key=KEY_ID, secret=SECRET, **cfg):
    conf = dict(retries={"max_attempts": 1}, read_timeout=20, connect_timeout=5)
    conf.update(cfg)
    return boto3.session.Session().client(service, region_name=REGION, aws_access_key_id=key,
                                          aws_secret_access_key=secret, endpoint_url=server.endpoint,
                                          config=Config(**conf))


def query_error(body):
    root = ET.fromstring(body)
    err = root.find(f"{{{QUERY_NS}}}Error")
    return err.findtext(f"{{{QUERY_NS}}}Code"), err.findtext(f"{{{QUERY_NS}}}Message")


def test_right_key_works_and_sender_id_is_the_principal(server):
    sqs = client(server)
    url = sqs.create_queue(QueueName="signed")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    msg = receive_one(sqs, url, AttributeNames=["SenderId"])
    assert msg["Body"] == "hello"
    assert msg["Attributes"]["SenderId"] == PRINCIPAL
    # A key without a principal: its access key id.
    other = client(server, key=KEY2_ID, secret="other-secret")
    other.send_message(QueueUrl=url, MessageBody="second")
    msg = receive_one(sqs, url, AttributeNames=["SenderId"])
    assert msg["Attributes"]["SenderId"] == KEY2_ID
    # Lambda (REST JSON) and STS (query) take the same keys.
    assert client(server, "lambda").list_functions()["Functions"] == []
    assert client(server, "sts").get_caller_identity()["Account"] == "000000000000"


def test_wrong_secret_is_signature_does_not_match(server):
    sqs = client(server, secret=SECRET + "x")
    with aws_error("SignatureDoesNotMatch", status=403, message_contains=WRONG_SECRET_MSG):
        sqs.list_queues()
    with pytest.raises(Exception) as exc:
        client(server, "lambda", secret="wrong").list_functions()
    err = exc.value.response
    assert err["Error"]["Code"] == "InvalidSignatureException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unknown_key_is_invalid_client_token_id(server):
    with aws_error("InvalidClientTokenId", status=403,
                   message="The security token included in the request is invalid."):
        client(server, key="AKIDNOBODY", secret=SECRET).list_queues()
    with pytest.raises(Exception) as exc:
        client(server, "lambda", key="AKIDNOBODY").list_functions()
    assert exc.value.response["Error"]["Code"] == "UnrecognizedClientException"
    with aws_error("InvalidClientTokenId", status=403):
        client(server, "sts", key="AKIDNOBODY").get_caller_identity()


def test_unsigned_request_is_missing_authentication_token(server):
    with aws_error("MissingAuthenticationToken", status=403, message="Request is missing Authentication Token"):
        client(server, signature_version=UNSIGNED).list_queues()
    # A plain GET, as a script or a page would send it: nothing happens.
    answer = http_call(server.endpoint, "GET", "/?Action=CreateQueue&QueueName=unsigned-get")
    assert answer.status == 403, answer
    assert query_error(answer.body) == ("MissingAuthenticationToken", "Request is missing Authentication Token")
    assert "QueueUrls" not in client(server).list_queues(QueueNamePrefix="unsigned-get")
    # The Lambda API answers in its own shape.
    answer = http_call(server.endpoint, "GET", "/2015-03-31/functions/")
    assert answer.status == 403
    assert answer.header("x-amzn-ErrorType") == "MissingAuthenticationTokenException"
    assert answer.json() == {"Type": "User", "message": "Request is missing Authentication Token"}
    # JSON 1.0 (SQS, awsQueryCompatible): __type and x-amzn-query-error.
    answer = http_call(server.endpoint, "POST", "/", body="{}",
                       headers={"X-Amz-Target": "AmazonSQS.ListQueues",
                                "Content-Type": "application/x-amz-json-1.0"})
    assert answer.status == 403
    assert answer.header("x-amzn-query-error") == "MissingAuthenticationToken;Sender"
    assert answer.json()["__type"].endswith("#MissingAuthenticationTokenException")


def test_partial_signature_is_incomplete_signature(server):
    auth = f"AWS4-HMAC-SHA256 Credential={KEY_ID}/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host"
    answer = http_call(server.endpoint, "GET", "/?Action=ListQueues",
                       headers={"Authorization": auth, "X-Amz-Date": "20250101T000000Z"})
    assert answer.status == 400, answer
    code, message = query_error(answer.body)
    assert code == "IncompleteSignature"
    assert message.startswith("Authorization header requires 'Signature' parameter.")


def test_admin_paths_keep_their_own_rules(server):
    status, doc = clock_call(server.endpoint)
    assert status == 200 and "now_ms" in doc
    answer = http_call(server.endpoint, "GET", "/_sluice/health")
    assert answer.status == 200


def test_presigned_url_works_and_expires(server):
    sqs = client(server)
    url = sqs.generate_presigned_url("list_queues", Params={"QueueNamePrefix": "sig"}, ExpiresIn=60,
                                     HttpMethod="GET")
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=60" in url
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = resp.read()
    assert resp.status == 200
    assert b"/signed</QueueUrl>" in body
    # A changed parameter no longer matches.
    try:
        urllib.request.urlopen(url.replace("QueueNamePrefix=sig", "QueueNamePrefix=si"), timeout=10)
        raise AssertionError("a tampered presigned URL was accepted")
    except urllib.error.HTTPError as exc:
        assert exc.code == 403
        assert query_error(exc.read())[0] == "SignatureDoesNotMatch"
    # 61 s later (the emulated clock) it has expired.
    status, _ = clock_call(server.endpoint, "POST", {"advance_seconds": 61})
    assert status == 200
    try:
        urllib.request.urlopen(url, timeout=10)
        raise AssertionError("an expired presigned URL was accepted")
    except urllib.error.HTTPError as exc:
        assert exc.code == 403
        code, message = query_error(exc.read())
    assert code == "SignatureDoesNotMatch"
    assert message.startswith("Signature expired: ") and message.endswith(" - 60 sec.)"), message


def test_skewed_clock_fails(private_server):
    # Its own server: the clock moves 20 minutes past the client's.
    skewed = private_server(CONFIG)
    sqs = client(skewed)
    sqs.list_queues()
    # Moved by a raw call: clock_call would also move the suite's signing
    # clock in SLUICE_AUTH mode, and this client must stay behind.
    moved = http_call(skewed.endpoint, "POST", "/_sluice/clock", body='{"advance_seconds": 1200}',
                      headers={"Content-Type": "application/json"})
    assert moved.status == 200, moved
    with aws_error("SignatureDoesNotMatch", status=403) as excinfo:
        sqs.list_queues()
    message = excinfo.value.response["Error"]["Message"]
    assert message.startswith("Signature expired: ") and message.endswith(" - 15 min.)"), message
    # The answer's Date is the emulated clock, as AWS's is AWS's.
    answer = http_call(skewed.endpoint, "GET", "/?Action=ListQueues")
    now_ms = clock_call(skewed.endpoint)[1]["now_ms"]
    from email.utils import parsedate_to_datetime
    assert abs(parsedate_to_datetime(answer.header("Date")).timestamp() * 1000 - now_ms) < 5000
    # 14 minutes of skew is within AWS's window.
    ok = private_server(CONFIG)
    http_call(ok.endpoint, "POST", "/_sluice/clock", body='{"advance_seconds": 840}',
              headers={"Content-Type": "application/json"})
    client(ok).list_queues()


def test_config_problems_have_positions(tmp_path):
    import subprocess
    from sluice_helpers import sluice_binary
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("auth:\n  keys:\n    - access_key_id: bad/key\n      secret_access_key: s\n"
                   "    - secret_access_key: s\n    - {access_key_id: AK1, secret_access_key: 'a b'}\n"
                   "    - {access_key_id: AK1, secret_access_key: x}\n    - {access_key_id: AK1, secret_access_key: y}\n")
    out = subprocess.run([str(sluice_binary()), "serve", "--config", str(cfg), "--listen", "127.0.0.1:0"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode != 0
    lines = [line for line in out.stderr.splitlines() if "bad.yaml:" in line]
    assert any(":3:22: access_key_id must be 1 to 128 letters, digits or underscores" in line for line in lines), lines
    assert any(":5:7: an auth key requires access_key_id" in line for line in lines), lines
    assert any(":6:47: secret_access_key must be 1 to 128 printable ASCII characters without spaces" in line
               for line in lines), lines
    assert any(":7:23: access_key_id 'AK1' is listed twice (first in the key at line 6, column 7)" in line
               for line in lines), lines
    cfg.write_text("auth:\n  keys: []\n")
    out = subprocess.run([str(sluice_binary()), "serve", "--config", str(cfg), "--listen", "127.0.0.1:0"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode != 0
    assert ":2:9: auth: keys must list at least one key" in out.stderr, out.stderr


HANDLER = '''
import json, os, sys
import boto3
event = json.load(sys.stdin)
sqs = boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
url = sqs.get_queue_url(QueueName="from-handler")["QueueUrl"]
sqs.send_message(QueueUrl=url, MessageBody="sent by the handler")
print(json.dumps({"key": os.environ["AWS_ACCESS_KEY_ID"]}))
'''


def test_handlers_get_a_configured_key(private_server, tmp_path):
    # A handler calling sluice back (as code on Lambda calls SQS) signs with
    # the credentials sluice gives it: the first auth: key.
    handler = tmp_path / "handler.py"
    handler.write_text(HANDLER)
    server = private_server(CONFIG + f"""
queues:
  from-handler: {{}}
functions:
  caller:
    command: [/usr/bin/python3, {handler}]
    timeout: 30
""")
    out = client(server, "lambda", read_timeout=40).invoke(FunctionName="caller", Payload=b"{}")
    assert "FunctionError" not in out, out["Payload"].read()
    assert json.loads(out["Payload"].read()) == {"key": KEY_ID}
    sqs = client(server)
    url = sqs.get_queue_url(QueueName="from-handler")["QueueUrl"]
    msg = receive_one(sqs, url, AttributeNames=["SenderId"])
    assert msg["Body"] == "sent by the handler"
    assert msg["Attributes"]["SenderId"] == PRINCIPAL


def test_refusals_in_the_cloudwatch_and_logs_protocols(server):
    # RPC v2 CBOR (CloudWatch in current SDKs): a CBOR map {__type, message}.
    answer = http_call(server.endpoint, "POST", "/service/GraniteServiceVersion20100801/operation/ListMetrics",
                       body=b"\xa0", headers={"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor",
                                              "Accept": "application/cbor"})
    assert answer.status == 403, answer
    assert answer.header("smithy-protocol") == "rpc-v2-cbor"
    assert answer.header("Content-Type") == "application/cbor"
    assert answer.body[0] == 0xA2  # a map of two pairs
    assert b"\x66__type\x78\x23MissingAuthenticationTokenException" in answer.body
    assert b"\x67message\x78\x27Request is missing Authentication Token" in answer.body
    # AWS JSON 1.1 (CloudWatch Logs): the request's content type, no query-error header.
    answer = http_call(server.endpoint, "POST", "/", body="{}",
                       headers={"X-Amz-Target": "Logs_20140328.DescribeLogGroups",
                                "Content-Type": "application/x-amz-json-1.1"})
    assert answer.status == 403
    assert answer.header("Content-Type") == "application/x-amz-json-1.1"
    assert answer.header("x-amzn-query-error") is None
    assert answer.json() == {"__type": "com.amazon.coral.service#MissingAuthenticationTokenException",
                             "message": "Request is missing Authentication Token"}
    # The CloudWatch API through boto3 with the right key works.
    cw = client(server, "cloudwatch")
    cw.put_metric_data(Namespace="Sluice/Auth", MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert "Metrics" in cw.list_metrics(Namespace="Sluice/Auth")
