"""API Gateway, black box: plain HTTP against the API listeners of a private
sluice started with tests/e2e/apigw.yaml, boto3 (query protocol) to look
into the queues. Each test asserts what AWS returns
(../shared/reference/apigw.md): REST APIs (stage prefix, 403 Missing
Authentication Token, the SQS integration's passthrough body, VTL request
and response templates, the Lambda proxy 1.0 event and response mapping,
502/504, mock routes, API keys, throttling, response headers), HTTP APIs
(404 Not Found, $default, {proxy+}, the payload 2.0 event, response
inference, 500/503, CORS, SQS parameter mapping), and one request all the
way from HTTP through SQS and a failing handler into the dead-letter queue.

This module moves sluice's clock (the DLQ test), so it always starts a
server of its own, whatever SLUICE_ENDPOINT says."""
import base64
import email.utils
import json
import re
import time

import pytest

from sluice_helpers import (
    counts, http_call, md5_hex, md5_of_attributes, queue_url, read_json_lines, receive_one, start_api_server,
    wait_until,
)

pytestmark = pytest.mark.timeout(20)

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TRACE_RE = re.compile(r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24}(;.*)?$")
APIS = ["shop", "keyed", "bare", "throttled", "web", "catchall"]
BINARY = b"\x00\x01\xfe\xffsluice\x80"  # what handlers/apigw_proxy.py returns in base64 mode
API_KEY = "sluice-test-key-0123456789"
CORS_ORIGIN = "https://app.example"
MISSING_TOKEN = {"message": "Missing Authentication Token"}


class Env:
    def __init__(self, server, folder):
        self.server = server
        self.folder = folder
        self.sqs = server.sqs
        for name in APIS:
            setattr(self, name, server.apis[name])

    def url(self, queue):
        return queue_url(self.server.endpoint, queue)

    def records(self, name):
        return read_json_lines(self.folder / "records" / f"{name}.jsonl")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("apigw")
    server = start_api_server("apigw.yaml", folder)
    try:
        missing = [name for name in APIS if name not in server.apis]
        if missing:
            pytest.fail(f"sluice printed no 'sluice api NAME serving on ...' line for {missing} "
                        f"(got {server.apis}); log:\n{server.process.log()}")
        yield Env(server, folder)
    finally:
        code, graceful = server.stop()
        assert graceful and code == 0, f"sluice stopped with code {code} (graceful={graceful}):\n{server.process.log()}"


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def call(base, method, path, body=None, headers=None, timeout=10):
    return http_call(base, method, path, body=body, headers=headers, timeout=timeout)


def assert_error(ans, status, message, error_type=None):
    """AWS's gateway error: this status and a JSON body {"message": ...}
    (compared parsed: AWS's whitespace varies between error bodies)."""
    assert ans.status == status, f"expected HTTP {status} {message!r}; got {ans}"
    try:
        doc = ans.json()
    except ValueError:
        pytest.fail(f"expected a JSON error body; got {ans}")
    assert doc == {"message": message}, f"expected {{'message': {message!r}}}; got {ans}"
    assert (ans.header("Content-Type") or "").startswith("application/json"), ans
    if error_type is not None:
        assert ans.header("x-amzn-ErrorType") == error_type, ans


def trace_root(header):
    """The Root=... part of an X-Ray trace header."""
    for part in header.split(";"):
        if part.startswith("Root="):
            return part
    raise AssertionError(f"no Root in trace header {header!r}")


def body_event(ans):
    """The event the echo handler returned as its body."""
    assert ans.status == 200, ans
    return ans.json()


def receive(env, queue):
    return receive_one(env.sqs, env.url(queue), wait=2, AttributeNames=["All"], MessageAttributeNames=["All"])


def csv_set(value, lower=False):
    items = {v.strip() for v in (value or "").split(",") if v.strip()}
    return {v.lower() for v in items} if lower else items


# --------------------------------------------------------------------------
# REST API: routing and gateway responses
# --------------------------------------------------------------------------

def test_rest_requires_the_stage_prefix(env):
    # Without /v1 nothing matches, not even a real route.
    for method, path in [("POST", "/orders"), ("GET", "/health"), ("GET", "/"), ("POST", "/v2/orders"),
                         ("GET", "/v1health")]:
        ans = call(env.shop, method, path, body="{}" if method == "POST" else None)
        assert_error(ans, 403, MISSING_TOKEN["message"], "MissingAuthenticationTokenException")
    assert call(env.shop, "GET", "/v1/health").status == 200


def test_rest_unknown_route_and_wrong_method_are_403(env):
    assert_error(call(env.shop, "GET", "/v1/nope"), 403, "Missing Authentication Token",
                 "MissingAuthenticationTokenException")
    assert_error(call(env.shop, "POST", "/v1/items/1/extra", body="{}"), 403, "Missing Authentication Token")
    # /orders exists, but only for POST.
    assert_error(call(env.shop, "GET", "/v1/orders"), 403, "Missing Authentication Token",
                 "MissingAuthenticationTokenException")
    assert_error(call(env.shop, "DELETE", "/v1/health"), 403, "Missing Authentication Token")


def test_rest_response_headers(env):
    first = call(env.shop, "GET", "/v1/health")
    second = call(env.shop, "GET", "/v1/health")
    for ans in (first, second):
        assert ans.status == 200, ans
        assert UUID_RE.match(ans.header("x-amzn-RequestId") or ""), ans
        assert ans.header("x-amz-apigw-id"), ans
        assert TRACE_RE.match(ans.header("X-Amzn-Trace-Id") or ""), ans
    assert first.header("x-amzn-RequestId") != second.header("x-amzn-RequestId")
    assert first.header("x-amz-apigw-id") != second.header("x-amz-apigw-id")
    assert trace_root(first.header("X-Amzn-Trace-Id")) != trace_root(second.header("X-Amzn-Trace-Id"))
    # Gateway errors carry them too.
    err = call(env.shop, "GET", "/v1/nope")
    assert UUID_RE.match(err.header("x-amzn-RequestId") or ""), err
    assert err.header("x-amz-apigw-id"), err
    # One Date each (sluice's, made once a second), of the reply's second.
    for ans in (first, second, err):
        dates = ans.header_all("Date")
        assert len(dates) == 1, ans
        sent = email.utils.parsedate_to_datetime(dates[0])
        assert sent.tzinfo is not None and dates[0].endswith(" GMT"), dates
        assert abs(sent.timestamp() - time.time()) < 5, dates


def test_rest_mock_route(env):
    ans = call(env.shop, "GET", "/v1/health")
    assert ans.status == 200, ans
    assert ans.body == b"healthy"
    assert ans.header("Content-Type") == "text/plain"
    assert ans.header("X-Mock") == "yes"
    tea = call(env.shop, "POST", "/v1/teapot", body="ignored")
    assert tea.status == 418, tea
    assert tea.json() == {"short": "and stout"}


# --------------------------------------------------------------------------
# REST API -> SQS
# --------------------------------------------------------------------------

def test_rest_sqs_default_body_and_message(env):
    body = '{"item":"book","qty":2,"note":"a&b+c%d"}'
    ans = call(env.shop, "POST", "/v1/orders", body=body, headers={"Content-Type": "application/json"})
    assert ans.status == 200, ans
    assert (ans.header("Content-Type") or "").startswith("application/json"), ans
    trace = ans.header("X-Amzn-Trace-Id")
    assert trace and TRACE_RE.match(trace), ans
    # One line, AWS's member order, explicit nulls.
    assert ans.body.startswith(b'{"SendMessageResponse":{"ResponseMetadata":{"RequestId":"'), ans
    doc = ans.json()
    assert list(doc) == ["SendMessageResponse"]
    smr = doc["SendMessageResponse"]
    assert list(smr) == ["ResponseMetadata", "SendMessageResult"]
    assert UUID_RE.match(smr["ResponseMetadata"]["RequestId"]), smr
    result = smr["SendMessageResult"]
    assert list(result) == ["MD5OfMessageAttributes", "MD5OfMessageBody", "MD5OfMessageSystemAttributes",
                            "MessageId", "SequenceNumber"]
    assert result["MD5OfMessageAttributes"] is None
    assert result["MD5OfMessageBody"] == md5_hex(body)
    assert result["SequenceNumber"] is None
    assert UUID_RE.match(result["MessageId"]), result
    assert result["MD5OfMessageSystemAttributes"] is not None, "the AWSTraceHeader system attribute is set"

    msg = receive(env, "orders")
    assert msg["MessageId"] == result["MessageId"]
    assert msg["Body"] == body
    assert msg["MD5OfBody"] == md5_hex(body)
    header = msg["Attributes"].get("AWSTraceHeader")
    assert header, f"no AWSTraceHeader on the message: {msg['Attributes']}"
    assert trace_root(header) == trace_root(trace), (header, trace)
    assert result["MD5OfMessageSystemAttributes"] == md5_of_attributes(
        {"AWSTraceHeader": {"DataType": "String", "StringValue": header}})


def test_rest_sqs_vtl_request_template(env):
    body = '{"name": "Ann", "note": "say \\"hi\\" \\\\ bye", "n": 3}'
    ans = call(env.shop, "POST", "/v1/shaped/42?q=search", body=body,
               headers={"Content-Type": "application/json", "X-Source": "tests"})
    assert ans.status == 200, ans
    result = ans.json()["SendMessageResponse"]["SendMessageResult"]
    msg = receive(env, "shaped")
    assert msg["MessageId"] == result["MessageId"]
    assert result["MD5OfMessageBody"] == md5_hex(msg["Body"])
    try:
        shaped = json.loads(msg["Body"])
    except ValueError:
        pytest.fail(f"the template should render JSON; the message body is {msg['Body']!r}")
    assert shaped == {
        "id": "42",                          # $input.params: the path first
        "q": "search",                       # ...then the query string
        "source": "tests",                   # ...then the headers
        "name": "Ann",                       # $input.json('$.name') is JSON: "Ann" with its quotes
        "raw": body,                         # $util.escapeJavaScript kept it a valid JSON string
        "requestId": ans.header("x-amzn-RequestId"),
        "stage": "v1",
        "env": "test",                       # $stageVariables.env
    }


def test_rest_sqs_aws_style_form_template_with_attribute(env):
    body = 'a&b=c+d%20e "q" \u00fc'
    ans = call(env.shop, "POST", "/v1/form", body=body.encode("utf-8"), headers={"Content-Type": "application/json"})
    assert ans.status == 200, ans
    result = ans.json()["SendMessageResponse"]["SendMessageResult"]
    attrs = {"src": {"DataType": "String", "StringValue": "api"}}
    assert result["MD5OfMessageBody"] == md5_hex(body)
    assert result["MD5OfMessageAttributes"] == md5_of_attributes(attrs)
    msg = receive(env, "form-q")
    assert msg["MessageId"] == result["MessageId"]
    assert msg["Body"] == body, "urlEncode in the template, decoded by SQS: the body arrives as sent"
    assert msg.get("MessageAttributes") == attrs
    assert msg["MD5OfMessageAttributes"] == md5_of_attributes(attrs)


def test_rest_sqs_response_template(env):
    ans = call(env.shop, "POST", "/v1/reshaped", body='{"x": 1}', headers={"Content-Type": "application/json"})
    assert ans.status == 200, ans
    try:
        doc = ans.json()
    except ValueError:
        pytest.fail(f"the response template renders JSON; got {ans}")
    assert set(doc) == {"requestId", "messageId"}, doc
    assert UUID_RE.match(doc["requestId"]), doc
    msg = receive(env, "reshaped")
    assert doc["messageId"] == msg["MessageId"]
    assert msg["Body"] == '{"x": 1}'


# --------------------------------------------------------------------------
# REST API -> Lambda proxy (payload 1.0)
# --------------------------------------------------------------------------

def test_rest_lambda_proxy_event(env):
    ans = call(env.shop, "GET", "/v1/items/42?color=red&color=blue&size=L",
               headers=[("X-Test", "abc"), ("X-Multi", "one"), ("X-Multi", "two")])
    ev = body_event(ans)
    assert ev["resource"] == "/items/{id}"
    assert ev["path"] == "/items/42", "path is without the stage"
    assert ev["httpMethod"] == "GET"
    assert ev["headers"]["X-Test"] == "abc", "header names keep the client's casing"
    assert ev["headers"]["X-Multi"] == "two", "headers holds the last value"
    assert ev["multiValueHeaders"]["X-Multi"] == ["one", "two"]
    assert ev["multiValueHeaders"]["X-Test"] == ["abc"]
    assert ev["queryStringParameters"] == {"color": "blue", "size": "L"}
    assert ev["multiValueQueryStringParameters"] == {"color": ["red", "blue"], "size": ["L"]}
    assert ev["pathParameters"] == {"id": "42"}
    assert ev["stageVariables"] == {"env": "test", "color": "blue"}
    assert ev["body"] is None
    assert ev["isBase64Encoded"] is False
    rc = ev["requestContext"]
    assert rc["path"] == "/v1/items/42", "requestContext.path includes the stage"
    assert rc["stage"] == "v1"
    assert rc["resourcePath"] == "/items/{id}"
    assert rc["httpMethod"] == "GET"
    assert rc["accountId"] == "000000000000"
    assert rc["protocol"] == "HTTP/1.1"
    assert rc["identity"]["sourceIp"] == "127.0.0.1"
    assert isinstance(rc["requestTimeEpoch"], int), rc
    assert re.match(r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}$", rc["requestTime"]), rc
    assert UUID_RE.match(rc["requestId"]), rc
    assert rc["requestId"] == ans.header("x-amzn-RequestId"), "the request id the client sees"
    assert rc["extendedRequestId"] == ans.header("x-amz-apigw-id")


def test_rest_lambda_proxy_event_nulls_without_query_or_params(env):
    ev = body_event(call(env.shop, "GET", "/v1/items"))
    assert ev["resource"] == "/items"
    assert ev["path"] == "/items"
    assert ev["queryStringParameters"] is None
    assert ev["multiValueQueryStringParameters"] is None
    assert ev["pathParameters"] is None
    assert ev["body"] is None
    assert ev["requestContext"]["path"] == "/v1/items"


def test_rest_lambda_proxy_event_bodies(env):
    text = '{"hello": "w\u00f6rld"}'
    ev = body_event(call(env.shop, "POST", "/v1/upload", body=text.encode("utf-8"),
                         headers={"Content-Type": "application/json"}))
    assert ev["body"] == text
    assert ev["isBase64Encoded"] is False
    raw = b"\x00\x01\xff\xfe\x80binary\xc3"
    ev = body_event(call(env.shop, "POST", "/v1/upload", body=raw,
                         headers={"Content-Type": "application/octet-stream"}))
    assert ev["isBase64Encoded"] is True
    assert base64.b64decode(ev["body"]) == raw


def test_rest_greedy_path_and_trailing_slash(env):
    ev = body_event(call(env.shop, "POST", "/v1/proxy/a/b/c.txt", body="x"))
    assert ev["resource"] == "/proxy/{proxy+}"
    assert ev["path"] == "/proxy/a/b/c.txt"
    assert ev["httpMethod"] == "POST"
    assert ev["pathParameters"] == {"proxy": "a/b/c.txt"}
    ev = body_event(call(env.shop, "DELETE", "/v1/proxy/one"))
    assert ev["httpMethod"] == "DELETE", "ANY covers every method"
    assert ev["pathParameters"] == {"proxy": "one"}
    # A trailing slash matches the same resource; path keeps it (AWS snapshot).
    ev = body_event(call(env.shop, "GET", "/v1/items/42/"))
    assert ev["resource"] == "/items/{id}"
    assert ev["pathParameters"] == {"id": "42"}
    assert ev["path"] == "/items/42/"
    assert ev["requestContext"]["path"] == "/v1/items/42/"


def test_rest_lambda_proxy_pascal_cases_user_agent(env):
    # CloudFront in front of REST APIs hands User-Agent (and Authorization)
    # to the function Pascal-cased whatever the client wrote.
    ev = body_event(call(env.shop, "GET", "/v1/items", headers={"user-agent": "tester/1.0", "x-lower": "v"}))
    assert ev["headers"].get("User-Agent") == "tester/1.0", ev["headers"]
    assert ev["headers"].get("x-lower") == "v", ev["headers"]
    assert ev["requestContext"]["identity"]["userAgent"] == "tester/1.0"


def test_rest_lambda_proxy_response_mapping(env):
    ans = call(env.shop, "GET", "/v1/respond")
    assert ans.status == 201, ans
    assert ans.body == b"created"
    assert ans.header("Content-Type") == "text/plain"
    assert ans.header_all("X-Single") == ["s"]
    assert ans.header_all("X-Multi") == ["a", "b"]
    # Given in both maps: multiValueHeaders wins.
    assert ans.header_all("X-Both") == ["from-multi"], ans


def test_rest_lambda_proxy_base64_body_without_binary_media_types(env):
    # A REST API decodes an isBase64Encoded body only when the request's
    # Accept matches its binaryMediaTypes; with none configured (the config
    # has no such setting), the base64 text goes to the client as it is.
    ans = call(env.shop, "GET", "/v1/base64", headers={"Accept": "application/octet-stream"})
    assert ans.status == 200, ans
    assert ans.body == base64.b64encode(BINARY), ans


def test_rest_lambda_malformed_response_is_502(env):
    for path in ("/v1/malformed", "/v1/garbage"):
        assert_error(call(env.shop, "GET", path), 502, "Internal server error", "InternalServerErrorException")


def test_rest_lambda_function_error_is_502(env):
    assert_error(call(env.shop, "GET", "/v1/crash"), 502, "Internal server error", "InternalServerErrorException")


def test_rest_lambda_timeout_is_504(env):
    ans = call(env.shop, "GET", "/v1/slow")
    assert_error(ans, 504, "Endpoint request timed out")
    assert 0.4 <= ans.elapsed < 2.0, f"the route's 500 ms timeout, not the handler's 2.5 s: {ans.elapsed:.2f} s"


# requestContext.identity of a REST proxy event without IAM, Cognito, mTLS
# or an API key: every key AWS sends, null but for sourceIp and userAgent.
NULL_IDENTITY = {
    "accessKey": None, "accountId": None, "apiKey": None, "apiKeyId": None, "caller": None, "clientCert": None,
    "cognitoAuthenticationProvider": None, "cognitoAuthenticationType": None, "cognitoIdentityId": None,
    "cognitoIdentityPoolId": None, "principalOrgId": None, "sourceIp": "127.0.0.1", "user": None,
    "userAgent": "tester/1.0", "userArn": None,
}


def test_rest_lambda_proxy_event_identity_has_every_field(env):
    ev = body_event(call(env.shop, "GET", "/v1/items", headers={"User-Agent": "tester/1.0"}))
    rc = ev["requestContext"]
    assert rc["identity"] == NULL_IDENTITY
    assert re.fullmatch(r"[a-z0-9]{6}", rc["deploymentId"]), rc
    assert set(rc) == {
        "accountId", "apiId", "deploymentId", "domainName", "domainPrefix", "extendedRequestId", "httpMethod",
        "identity", "path", "protocol", "requestId", "requestTime", "requestTimeEpoch", "resourceId",
        "resourcePath", "stage"}, sorted(rc)


def test_rest_lambda_proxy_event_carries_the_api_key(env):
    ev = body_event(call(env.keyed, "GET", "/v1/whoami", headers={"x-api-key": API_KEY, "User-Agent": "tester/1.0"}))
    identity = ev["requestContext"]["identity"]
    assert identity["apiKey"] == API_KEY
    assert re.fullmatch(r"[a-z0-9]{10}", identity["apiKeyId"] or ""), identity
    assert {k: v for k, v in identity.items() if k not in ("apiKey", "apiKeyId")} == \
        {k: v for k, v in NULL_IDENTITY.items() if k not in ("apiKey", "apiKeyId")}
    again = body_event(call(env.keyed, "GET", "/v1/whoami", headers={"x-api-key": API_KEY}))
    assert again["requestContext"]["identity"]["apiKeyId"] == identity["apiKeyId"], "one key, one id"


def test_rest_without_stage_names_a_valid_rest_stage(env):
    """REST stage names are [A-Za-z0-9_-]{1,128}: "$default" is for HTTP APIs
    only. A REST API configured without a stage is served at the root and
    names its stage Prod (docs/configuration.md)."""
    ev = body_event(call(env.bare, "GET", "/items"))
    rc = ev["requestContext"]
    assert rc["stage"] == "Prod"
    assert ev["path"] == "/items"
    assert rc["path"] == "/items", "served at the root: no stage in the path"
    assert rc["identity"]["apiKey"] is None


# --------------------------------------------------------------------------
# REST API: API keys and throttling
# --------------------------------------------------------------------------

def test_rest_api_keys(env):
    assert_error(call(env.keyed, "GET", "/v1/ping"), 403, "Forbidden")
    assert_error(call(env.keyed, "GET", "/v1/ping", headers={"x-api-key": "wrong-key"}), 403, "Forbidden")
    assert_error(call(env.keyed, "GET", "/v1/ping", headers={"x-api-key": API_KEY.upper()}), 403, "Forbidden")
    ans = call(env.keyed, "GET", "/v1/ping", headers={"x-api-key": API_KEY})
    assert ans.status == 200, ans
    assert ans.body == b"pong"
    ans = call(env.keyed, "GET", "/v1/ping", headers={"X-API-Key": API_KEY})
    assert ans.status == 200, "header names are case-insensitive"


def test_rest_throttle(env):
    answers = [call(env.throttled, "GET", "/v1/ping") for _ in range(3)]
    assert [a.status for a in answers[:2]] == [200, 200], answers
    assert_error(answers[2], 429, "Too Many Requests")
    time.sleep(1.2)  # rate 1/s: a token again
    assert call(env.throttled, "GET", "/v1/ping").status == 200


# --------------------------------------------------------------------------
# HTTP API: routing
# --------------------------------------------------------------------------

def test_http_unknown_route_is_404(env):
    for method, path in [("GET", "/nope"), ("POST", "/users/42"), ("GET", "/users"), ("GET", "/")]:
        ans = call(env.web, method, path, body="{}" if method == "POST" else None)
        assert_error(ans, 404, "Not Found")
        assert ans.header("apigw-requestid"), ans


def test_http_response_header_apigw_requestid(env):
    ans = call(env.web, "GET", "/users/me")
    assert ans.status == 200, ans
    assert ans.body == b"me", "the literal route beats {id}"
    assert ans.header("apigw-requestid"), ans
    other = call(env.web, "GET", "/users/me")
    assert other.header("apigw-requestid") != ans.header("apigw-requestid")


def test_http_payload_v2_event(env):
    ans = call(env.web, "GET", "/users/42?a=1&a=2&b=3",
               headers=[("X-Multi", "one"), ("X-Multi", "two"), ("X-Mixed-Case", "v"),
                        ("Cookie", "c1=v1; c2=v2")])
    ev = body_event(ans)
    assert ev["version"] == "2.0"
    assert ev["routeKey"] == "GET /users/{id}"
    assert ev["rawPath"] == "/users/42"
    assert ev["rawQueryString"] == "a=1&a=2&b=3"
    assert ev["cookies"] == ["c1=v1", "c2=v2"]
    headers = ev["headers"]
    assert all(k == k.lower() for k in headers), f"header names are lowercased: {list(headers)}"
    assert headers["x-multi"] == "one,two", "repeated headers are comma-joined"
    assert headers["x-mixed-case"] == "v"
    assert "multiValueHeaders" not in ev and "multiValueQueryStringParameters" not in ev
    assert ev["queryStringParameters"] == {"a": "1,2", "b": "3"}
    assert ev["pathParameters"] == {"id": "42"}
    assert ev["isBase64Encoded"] is False
    rc = ev["requestContext"]
    assert rc["http"]["method"] == "GET"
    assert rc["http"]["path"] == "/users/42"
    assert rc["http"]["protocol"] == "HTTP/1.1"
    assert rc["http"]["sourceIp"] == "127.0.0.1"
    assert rc["routeKey"] == "GET /users/{id}"
    assert rc["stage"] == "$default"
    assert rc["accountId"] == "000000000000"
    assert isinstance(rc["timeEpoch"], int), rc


def test_http_event_request_id_is_the_apigw_requestid_header(env):
    ans = call(env.web, "GET", "/users/7")
    ev = body_event(ans)
    assert ev["requestContext"]["requestId"] == ans.header("apigw-requestid"), (ev["requestContext"], ans)


def test_http_greedy_proxy(env):
    ev = body_event(call(env.web, "GET", "/files/a/b/c.txt"))
    assert ev["routeKey"] == "ANY /files/{proxy+}"
    assert ev["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert ev["rawPath"] == "/files/a/b/c.txt"
    ev = body_event(call(env.web, "PUT", "/files/x", body="data"))
    assert ev["requestContext"]["http"]["method"] == "PUT"
    assert ev["body"] == "data"
    assert ev["pathParameters"] == {"proxy": "x"}


def test_http_default_route_catches_everything(env):
    ev = body_event(call(env.catchall, "GET", "/anything/deep/here?x=1"))
    assert ev["routeKey"] == "$default"
    assert ev["requestContext"]["routeKey"] == "$default"
    assert ev["rawPath"] == "/anything/deep/here"
    assert ev["rawQueryString"] == "x=1"
    assert ev["queryStringParameters"] == {"x": "1"}
    ev = body_event(call(env.catchall, "POST", "/known", body="b"))
    assert ev["routeKey"] == "$default", "no POST /known route: $default takes it"
    assert ev["body"] == "b"
    assert body_event(call(env.catchall, "GET", "/"))["rawPath"] == "/"
    ans = call(env.catchall, "GET", "/known")
    assert ans.status == 200 and ans.body == b"known", ans


def test_http_payload_v1_event(env):
    ev = body_event(call(env.web, "GET", "/v1event?k=v"))
    assert ev["version"] == "1.0"
    assert ev["resource"] == "/v1event"
    assert ev["path"] == "/v1event"
    assert ev["httpMethod"] == "GET"
    assert ev["queryStringParameters"] == {"k": "v"}
    assert ev["multiValueQueryStringParameters"] == {"k": ["v"]}
    assert ev["requestContext"]["stage"] == "$default"


# --------------------------------------------------------------------------
# HTTP API: Lambda responses
# --------------------------------------------------------------------------

def test_http_inference_object(env):
    ans = call(env.web, "GET", "/infer/object")
    assert ans.status == 200, ans
    assert (ans.header("Content-Type") or "").startswith("application/json"), ans
    assert ans.json() == {"a": 1}


def test_http_inference_string(env):
    ans = call(env.web, "GET", "/infer/string")
    assert ans.status == 200, ans
    assert ans.body == b"hello from lambda"
    assert (ans.header("Content-Type") or "").startswith("application/json"), ans


def test_http_base64_body_is_decoded(env):
    for path in ("/b64", "/b64v1"):
        ans = call(env.web, "GET", path)
        assert ans.status == 200, ans
        assert ans.body == BINARY, f"{path}: {ans}"
        assert ans.header("Content-Type") == "application/octet-stream"


def test_http_cookies_become_set_cookie(env):
    ans = call(env.web, "GET", "/cookies")
    assert ans.status == 200, ans
    assert ans.header_all("Set-Cookie") == ["a=1; Path=/", "b=2"]
    assert ans.body == b"ok"


def test_http_function_error_is_500(env):
    assert_error(call(env.web, "GET", "/error"), 500, "Internal Server Error")
    assert_error(call(env.web, "GET", "/garbage"), 500, "Internal Server Error")


def test_http_timeout_is_503(env):
    ans = call(env.web, "GET", "/slow")
    assert_error(ans, 503, "Service Unavailable")
    assert ans.header("apigw-requestid"), ans
    assert 0.4 <= ans.elapsed < 2.0, f"the route's 500 ms timeout: {ans.elapsed:.2f} s"


# --------------------------------------------------------------------------
# HTTP API: CORS
# --------------------------------------------------------------------------

def test_http_cors_preflight(env):
    # Answered by API Gateway itself, with or without a route for the path.
    for path in ("/users/42", "/no-route-here"):
        ans = call(env.web, "OPTIONS", path, headers={
            "Origin": CORS_ORIGIN, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-custom"})
        assert ans.status == 204, f"{path}: {ans}"
        assert ans.body == b""
        assert ans.header("Access-Control-Allow-Origin") == CORS_ORIGIN, ans
        assert csv_set(ans.header("Access-Control-Allow-Methods")) >= {"GET", "POST"}, ans
        assert csv_set(ans.header("Access-Control-Allow-Headers"), lower=True) >= {"content-type", "x-custom"}, ans
        assert ans.header("Access-Control-Max-Age") == "600", ans
        assert ans.header("Access-Control-Allow-Credentials") == "true", ans


def test_http_cors_headers_on_answers(env):
    ans = call(env.web, "GET", "/users/42", headers={"Origin": CORS_ORIGIN})
    assert ans.status == 200, ans
    assert ans.header_all("Access-Control-Allow-Origin") == [CORS_ORIGIN], ans
    assert ans.header("Access-Control-Allow-Credentials") == "true", ans
    assert csv_set(ans.header("Access-Control-Expose-Headers"), lower=True) == {"x-request-id"}, ans


def test_http_cors_ignores_backend_cors_headers(env):
    ans = call(env.web, "GET", "/cors-backend", headers={"Origin": CORS_ORIGIN})
    assert ans.status == 200, ans
    assert ans.header_all("Access-Control-Allow-Origin") == [CORS_ORIGIN], \
        f"the API's CORS configuration replaces the function's header: {ans}"


# --------------------------------------------------------------------------
# HTTP API -> SQS (parameter mapping)
# --------------------------------------------------------------------------

def test_http_sqs_message_body_from_json_path(env):
    ans = call(env.web, "POST", "/orders", body='{"order": {"id": 7, "sku": "x-1"}, "other": true}',
               headers={"Content-Type": "application/json"})
    assert ans.status == 200, ans
    assert ans.header("apigw-requestid"), ans
    msg = receive(env, "web-orders")
    assert json.loads(msg["Body"]) == {"id": 7, "sku": "x-1"}, msg["Body"]


def test_http_sqs_fifo_group_from_header(env):
    ans = call(env.web, "POST", "/jobs", body='{"job": 1}', headers={"x-group": "group-a"})
    assert ans.status == 200, ans
    msg = receive(env, "web-jobs.fifo")
    assert msg["Body"] == '{"job": 1}'
    assert msg["Attributes"]["MessageGroupId"] == "group-a"


# --------------------------------------------------------------------------
# The whole path: HTTP -> SQS -> Lambda (fails) -> DLQ
# --------------------------------------------------------------------------

@pytest.mark.timeout(30)
def test_rest_sqs_lambda_dlq_pipeline(env):
    body = '{"order": 99}'
    ans = call(env.shop, "POST", "/v1/pipeline", body=body, headers={"Content-Type": "application/json"})
    assert ans.status == 200, ans
    trace = ans.header("X-Amzn-Trace-Id")
    assert trace and TRACE_RE.match(trace), ans
    message_id = ans.json()["SendMessageResponse"]["SendMessageResult"]["MessageId"]

    def deliveries(phase):
        return [r for r in env.records("pipe") if r["phase"] == phase]

    def delivery(n):
        starts = deliveries("start")
        if len(starts) < n:
            return None
        # The failing run wrote its "end" line just before exiting.
        ends = [r for r in deliveries("end") if r["requestId"] == starts[n - 1]["requestId"]]
        return starts[n - 1] if ends else None

    first = wait_until(lambda: delivery(1), timeout=8)
    assert first, f"the handler never ran; records: {env.records('pipe')}\n{env.server.process.log()}"
    rec = first["event"]["Records"][0]
    assert rec["messageId"] == message_id
    assert rec["body"] == body
    assert rec["attributes"]["ApproximateReceiveCount"] == "1"
    assert trace_root(rec["attributes"]["AWSTraceHeader"]) == trace_root(trace)
    handler_trace = first["env"].get("_X_AMZN_TRACE_ID")
    assert handler_trace, f"no _X_AMZN_TRACE_ID in the handler's environment: {first['env']}"
    assert trace_root(handler_trace) == trace_root(trace), (handler_trace, trace)
    time.sleep(0.3)  # let the runner see the exit before the clock moves

    env.server.clock.advance(3)  # past the 2 s visibility timeout
    second = wait_until(lambda: delivery(2), timeout=8)
    assert second, f"no second delivery; records: {env.records('pipe')}"
    assert second["event"]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"
    assert trace_root(second["env"]["_X_AMZN_TRACE_ID"]) == trace_root(trace)
    time.sleep(0.3)

    env.server.clock.advance(3)  # maxReceiveCount 2: the next receive moves it to the DLQ
    dlq = env.url("pipe-dlq")
    assert wait_until(lambda: counts(env.sqs, dlq)[0] == 1, timeout=8), \
        f"DLQ counts {counts(env.sqs, dlq)}; source {counts(env.sqs, env.url('pipe-q'))}"
    assert counts(env.sqs, env.url("pipe-q")) == (0, 0, 0)
    dead = receive(env, "pipe-dlq")
    assert dead["MessageId"] == message_id
    assert dead["Body"] == body
    assert trace_root(dead["Attributes"]["AWSTraceHeader"]) == trace_root(trace)
    assert len(deliveries("start")) == 2, "no third invocation"
