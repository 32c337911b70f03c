"""Nothing lost, nothing let in (issue 11), the HTTP-facing parts: web pages
and rebinding hosts refused on the AWS endpoint and the admin paths, the
request deadline against slowloris, conflicting Content-Length, and NUL
characters that must not cut values short. Raw sockets and http.client for
what a browser or an attacker sends; boto3 to check what survived.
docs/reliability.md lists each case with its test."""
import json
import socket
import time
import xml.etree.ElementTree as ET

import pytest

from sluice_helpers import ACCOUNT, QUERY_NS, aws_error, clock_call

TOKEN = "t0ken-for-tests"
REQUEST_TIMEOUT = 2  # seconds, security.request_timeout of the guarded server

CONFIG = f"""
security:
  allowed_origins: [http://localhost:3000]
  allowed_hosts: [sluice.test]
  admin_token: {TOKEN}
  request_timeout: {REQUEST_TIMEOUT}
apis:
  web:
    listen: "127.0.0.1:0"
    type: http
    routes:
      "GET /items/{{id}}":
        mock: {{status: 200, body: "item"}}
"""


@pytest.fixture(scope="module")
def guarded(private_server):
    return private_server(CONFIG)


def port_of(endpoint):
    return int(endpoint.rsplit(":", 1)[1])


def raw_request(endpoint, data, timeout=5.0):
    """Sends bytes as they are (Host and all); returns (status, headers
    dict lower-cased, body bytes) of the first answer."""
    with socket.create_connection(("127.0.0.1", port_of(endpoint)), timeout=timeout) as s:
        s.sendall(data)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        want = int(headers.get("content-length", "0"))
        while len(body) < want:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, headers, body


def request(endpoint, method, target, headers=(), body=b"", host=None):
    host = host or endpoint.split("://", 1)[1]
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode() + (body if isinstance(body, bytes) else body.encode())
    return raw_request(endpoint, data)


def query_error(body):
    root = ET.fromstring(body)
    err = root.find(f"{{{QUERY_NS}}}Error")
    return err.find(f"{{{QUERY_NS}}}Code").text, err.find(f"{{{QUERY_NS}}}Message").text


def queue_names(sqs):
    return [u.rsplit("/", 1)[1] for u in sqs.list_queues().get("QueueUrls", [])]


# ------------------------------------------------------------ who gets in

def test_cross_site_img_get_cannot_delete_a_queue(guarded):
    q = guarded.create_queue("img-victim")
    status, headers, body = request(guarded.endpoint, "GET",
                                    f"/?Action=DeleteQueue&QueueUrl={q.url}",
                                    [("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "no-cors"),
                                     ("Sec-Fetch-Dest", "image")])
    assert status == 403, body
    assert headers["content-type"] == "text/xml"
    code, message = query_error(body)
    assert code == "AccessDenied"
    assert message == "cross-site browser request refused (Sec-Fetch-Site: cross-site)"
    assert guarded.sqs.get_queue_url(QueueName="img-victim")["QueueUrl"] == q.url


def test_default_server_refuses_cross_site_delete(endpoint, sqs, new_queue):
    """No security: section at all: the default policy already applies."""
    q = new_queue()
    status, _, body = request(endpoint, "GET", f"/?Action=DeleteQueue&QueueUrl={q.url}",
                              [("Sec-Fetch-Site", "cross-site")])
    assert status == 403, body
    assert query_error(body)[0] == "AccessDenied"
    assert sqs.get_queue_url(QueueName=q.name)["QueueUrl"] == q.url


def test_same_site_page_refused(guarded):
    """Another port of localhost is same-site, not same-origin."""
    q = guarded.create_queue("same-site-victim")
    status, _, body = request(guarded.endpoint, "POST", "/",
                              [("Sec-Fetch-Site", "same-site"),
                               ("Content-Type", "application/x-www-form-urlencoded")],
                              f"Action=PurgeQueue&QueueUrl={q.url}")
    assert status == 403, body
    assert query_error(body) == ("AccessDenied", "cross-site browser request refused (Sec-Fetch-Site: same-site)")


def test_origin_not_allowed_json_protocol(guarded):
    status, headers, body = request(guarded.endpoint, "POST", "/",
                                    [("Origin", "https://evil.example"), ("X-Amz-Target", "AmazonSQS.ListQueues"),
                                     ("Content-Type", "application/x-amz-json-1.0")], "{}")
    assert status == 403, body
    assert headers["x-amzn-query-error"] == "AccessDenied;Sender"
    doc = json.loads(body)
    assert doc["__type"] == "com.amazon.coral.service#AccessDeniedException"
    assert doc["message"] == ("cross-site browser request refused: Origin 'https://evil.example' is not in "
                              "security.allowed_origins")


def test_allowed_origin_and_same_origin_pass(guarded):
    guarded.create_queue("origin-ok")
    status, _, body = request(guarded.endpoint, "GET", "/?Action=ListQueues",
                              [("Origin", "http://localhost:3000"), ("Sec-Fetch-Site", "same-site")])
    assert status == 200, body
    assert b"origin-ok" in body
    for headers in ([("Sec-Fetch-Site", "same-origin"), ("Origin", guarded.endpoint)],
                    [("Origin", guarded.endpoint)], [("Sec-Fetch-Site", "none")]):
        status, _, body = request(guarded.endpoint, "GET", "/?Action=ListQueues", headers)
        assert status == 200, (headers, body)


def test_rebinding_host_refused_loopback_and_allowed_hosts_pass(guarded):
    port = port_of(guarded.endpoint)
    status, _, body = request(guarded.endpoint, "GET", "/?Action=ListQueues", host=f"attacker.example:{port}")
    assert status == 403, body
    code, message = query_error(body)
    assert code == "AccessDenied"
    assert f"Host 'attacker.example:{port}' is not a loopback address" in message
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"sluice.test:{port}", "127.0.0.2"):
        status, _, body = request(guarded.endpoint, "GET", "/?Action=ListQueues", host=host)
        assert status == 200, (host, body)


def test_queue_url_follows_allowed_host(guarded):
    port = port_of(guarded.endpoint)
    status, _, body = request(guarded.endpoint, "GET", "/?Action=CreateQueue&QueueName=by-name",
                              host=f"sluice.test:{port}")
    assert status == 200, body
    assert f"http://sluice.test:{port}/{ACCOUNT}/by-name".encode() in body


def test_text_plain_clock_post_refused_and_clock_unmoved(guarded):
    before = clock_call(guarded.endpoint)[1]["offset_ms"]
    status, headers, body = request(guarded.endpoint, "POST", "/_sluice/clock",
                                    [("Content-Type", "text/plain")], '{"advance_seconds": 315360000}')
    assert status == 415, body
    assert json.loads(body) == {"error": "sluice admin calls need Content-Type: application/json"}
    status, _, body = request(guarded.endpoint, "PUT", "/_sluice/clock",
                              [("Content-Type", "application/json")], '{"advance_seconds": 1}')
    assert status == 405, body
    assert clock_call(guarded.endpoint)[1]["offset_ms"] == before


def test_default_server_refuses_text_plain_clock(endpoint):
    before = clock_call(endpoint)[1]["offset_ms"]
    status, _, body = request(endpoint, "POST", "/_sluice/clock", [("Content-Type", "text/plain")],
                              '{"advance_seconds": 315360000}')
    assert status == 415, body
    assert clock_call(endpoint)[1]["offset_ms"] == before


def test_admin_token_required_on_admin_posts(guarded):
    before = clock_call(guarded.endpoint)[1]["offset_ms"]
    json_ct = ("Content-Type", "application/json")
    for extra in ([], [("X-Sluice-Admin-Token", "wrong")], [("X-Sluice-Admin-Token", TOKEN + "x")]):
        status, _, body = request(guarded.endpoint, "POST", "/_sluice/clock", [json_ct] + extra,
                                  '{"advance_seconds": 5}')
        assert status == 403, (extra, body)
        assert "X-Sluice-Admin-Token" in json.loads(body)["error"]
    assert clock_call(guarded.endpoint)[1]["offset_ms"] == before
    status, _, body = request(guarded.endpoint, "POST", "/_sluice/clock",
                              [("Content-Type", "application/json; charset=utf-8"), ("X-Sluice-Admin-Token", TOKEN)],
                              '{"advance_seconds": 5}')
    assert status == 200, body
    assert json.loads(body)["offset_ms"] == before + 5000
    # Reads stay plain GETs, with no token.
    status, _, body = request(guarded.endpoint, "GET", "/_sluice/health")
    assert (status, json.loads(body)) == (200, {"status": "ok"})


def test_cross_site_lambda_api_refused_in_lambda_shape(guarded):
    status, headers, body = request(guarded.endpoint, "GET", "/2015-03-31/functions/",
                                    [("Sec-Fetch-Site", "cross-site")])
    assert status == 403, body
    assert headers["x-amzn-errortype"] == "AccessDeniedException"
    assert json.loads(body) == {"Type": "User",
                                "message": "cross-site browser request refused (Sec-Fetch-Site: cross-site)"}


def test_sdk_calls_unchanged_with_the_guard_on(guarded):
    q = guarded.create_queue("sdk-ok")
    sqs = guarded.sqs
    sqs.send_message(QueueUrl=q.url, MessageBody="hello")
    got = sqs.receive_message(QueueUrl=q.url, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in got] == ["hello"]
    sqs.delete_queue(QueueUrl=q.url)
    assert "sdk-ok" not in queue_names(sqs)


# ------------------------------------------------------------ exhaustion

def dribble(endpoint, data, interval=0.2, limit=15.0):
    """Sends data a byte every interval; returns (seconds until the server
    closed the connection, bytes sent by then), or (None, n) if it never did
    within limit."""
    s = socket.create_connection(("127.0.0.1", port_of(endpoint)), timeout=5)
    started = time.monotonic()
    sent = 0
    try:
        for i in range(len(data)):
            if time.monotonic() - started > limit:
                return None, sent
            try:
                s.sendall(data[i:i + 1])
                sent += 1
            except OSError:
                return time.monotonic() - started, sent
            s.settimeout(interval)
            try:
                got = s.recv(4096)
                if got == b"":
                    return time.monotonic() - started, sent
                raise AssertionError(f"unexpected answer {got[:80]!r}")
            except socket.timeout:
                pass
            except ConnectionResetError:
                return time.monotonic() - started, sent
        return None, sent
    finally:
        s.close()


@pytest.mark.timeout(30)
def test_slowloris_head_closed_within_the_request_timeout(guarded):
    head = ("GET /?Action=ListQueues HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + "a" * 400 + "\r\n\r\n").encode()
    closed_after, sent = dribble(guarded.endpoint, head)
    assert closed_after is not None, f"still open after sending {sent} bytes a byte at a time"
    assert REQUEST_TIMEOUT - 0.5 <= closed_after <= REQUEST_TIMEOUT + 2.0, closed_after
    assert sent < len(head)
    assert "slowloris-after" not in queue_names(guarded.sqs)
    guarded.sqs.create_queue(QueueName="slowloris-after")  # still serving


@pytest.mark.timeout(30)
def test_slow_body_closed_within_the_request_timeout(guarded):
    body = "Action=CreateQueue&QueueName=slow-body-" + "x" * 20
    head = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port_of(guarded.endpoint)), timeout=5) as s:
        s.sendall(head)
        started = time.monotonic()
        s.settimeout(0.2)
        closed_after = None
        for ch in body.encode():
            try:
                s.sendall(bytes([ch]))
                if s.recv(4096) == b"":
                    closed_after = time.monotonic() - started
                    break
            except socket.timeout:
                continue
            except OSError:
                closed_after = time.monotonic() - started
                break
    assert closed_after is not None and closed_after <= REQUEST_TIMEOUT + 2.0, closed_after
    assert not [n for n in queue_names(guarded.sqs) if n.startswith("slow-body-")]


@pytest.mark.timeout(30)
def test_idle_keep_alive_connection_outlives_the_request_timeout(guarded):
    """The deadline runs from a request's first byte, not while idle."""
    req = b"GET /_sluice/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port_of(guarded.endpoint)), timeout=5) as s:
        s.sendall(req)
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
        time.sleep(REQUEST_TIMEOUT + 1)
        s.sendall(req)
        assert s.recv(4096).startswith(b"HTTP/1.1 200")


def test_conflicting_content_length_refused(endpoint, sqs):
    body = b"Action=CreateQueue&QueueName=smuggled-cl"
    data = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\nContent-Length: 5\r\n\r\n" + body)
    status, headers, got = raw_request(endpoint, data)
    assert status == 400, got
    assert headers["connection"] == "close"
    assert got == b"conflicting Content-Length headers\n"
    assert "smuggled-cl" not in queue_names(sqs)


def test_identical_duplicate_content_length_accepted(endpoint, sqs):
    body = b"Action=CreateQueue&QueueName=twice-cl"
    n = str(len(body)).encode()
    data = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + n +
            b"\r\nContent-Length: " + n + b"\r\n\r\n" + body)
    status, _, got = raw_request(endpoint, data)
    assert status == 200, got
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName="twice-cl")["QueueUrl"])


# ------------------------------------------------------------ hostile input

NUL_BODY_MESSAGE = ("Invalid binary character '#x0' was found in the message body, the set of allowed characters "
                    "is #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].")
NAME_MESSAGE = "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"


def json_call(endpoint, action, raw_body):
    return request(endpoint, "POST", "/", [("X-Amz-Target", f"AmazonSQS.{action}"),
                                           ("Content-Type", "application/x-amz-json-1.0")], raw_body)


@pytest.mark.parametrize("nul", [b"\\u0000", b"\x00"], ids=["escape", "raw-byte"])
def test_json_nul_in_message_body_is_invalid_not_cut(endpoint, sqs, new_queue, nul):
    q = new_queue()
    body = b'{"QueueUrl": "' + q.url.encode() + b'", "MessageBody": "secret' + nul + b'-tail"}'
    status, headers, got = json_call(endpoint, "SendMessage", body)
    assert status == 400, got
    doc = json.loads(got)
    assert doc["__type"] == "com.amazonaws.sqs#InvalidMessageContents"
    assert doc["message"] == NUL_BODY_MESSAGE
    assert "Messages" not in sqs.receive_message(QueueUrl=q.url, WaitTimeSeconds=0)


def test_json_escaped_backslash_before_u0000_is_text(endpoint, sqs, new_queue):
    q = new_queue()
    status, _, got = json_call(endpoint, "SendMessage",
                               b'{"QueueUrl": "' + q.url.encode() + b'", "MessageBody": "a\\\\u0000b"}')
    assert status == 200, got
    assert sqs.receive_message(QueueUrl=q.url)["Messages"][0]["Body"] == "a\\u0000b"


@pytest.mark.parametrize("nul", [b"\\u0000", b"\x00"], ids=["escape", "raw-byte"])
def test_json_nul_in_queue_name_creates_nothing(endpoint, sqs, nul):
    status, _, got = json_call(endpoint, "CreateQueue", b'{"QueueName": "nulname' + nul + b'../../x"}')
    assert status == 400, got
    doc = json.loads(got)
    assert doc["__type"] == "com.amazon.coral.service#InvalidParameterValueException"
    assert doc["message"] == NAME_MESSAGE
    assert "nulname" not in queue_names(sqs)


def test_query_percent_00_in_queue_name_creates_nothing(endpoint, sqs):
    with aws_error("InvalidParameterValue", 400, NAME_MESSAGE):
        sqs.create_queue(QueueName="pctname\x00../../x")
    assert "pctname" not in queue_names(sqs)


def test_query_nul_in_message_body_message_names_x0(sqs, new_queue):
    q = new_queue()
    with aws_error("InvalidMessageContents", 400, NUL_BODY_MESSAGE):
        sqs.send_message(QueueUrl=q.url, MessageBody="secret\x00-tail")


def test_lambda_api_percent_00_in_function_name(endpoint):
    status, headers, got = request(endpoint, "POST", "/2015-03-31/functions/fn%00x/invocations", [], "{}")
    assert status == 400, got
    assert headers["x-amzn-errortype"] == "ValidationException"
    assert json.loads(got)["message"].startswith(
        "1 validation error detected: Value at 'functionName' failed to satisfy constraint")


def test_api_gateway_percent_00_in_path_parameter(guarded):
    base = guarded.apis["web"]
    status, _, got = request(base, "GET", "/items/abc")
    assert (status, got) == (200, b"item")
    status, headers, got = request(base, "GET", "/items/abc%00..%2Fx")
    assert status == 400, got
    assert json.loads(got) == {"message": "Bad Request"}


NUL_API_CONFIG = """
queues:
  nul-plain: {{}}
  nul-template: {{}}
  nul-http: {{}}
functions:
  nul-echo:
    runtime: python3.11
    handler: echo.handler
    code: {code}
apis:
  rest:
    listen: "127.0.0.1:0"
    type: rest
    routes:
      "POST /plain":
        sqs: {{queue: nul-plain}}
      "POST /template":
        sqs:
          queue: nul-template
          request_template: "$input.body"
      "GET /echo":
        lambda: {{function: nul-echo}}
  http:
    listen: "127.0.0.1:0"
    type: http
    routes:
      "POST /send":
        sqs: {{queue: nul-http}}
      "GET /echo":
        lambda: {{function: nul-echo}}
"""

ECHO_HANDLER = """import json
def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"query": event.get("queryStringParameters")})}
"""


@pytest.fixture(scope="module")
def nul_api(private_server, tmp_path_factory):
    code = tmp_path_factory.mktemp("nul-code")
    (code / "echo.py").write_text(ECHO_HANDLER)
    return private_server(NUL_API_CONFIG.format(code=code))


@pytest.mark.parametrize("api,path,queue", [("rest", "/plain", "nul-plain"), ("rest", "/template", "nul-template"),
                                            ("http", "/send", "nul-http")],
                         ids=["rest-passthrough", "rest-template", "http-default"])
def test_api_gateway_nul_in_body_to_sqs_is_refused_not_cut(nul_api, api, path, queue):
    """A raw NUL byte in a request body bound for an SQS integration reaches
    SQS's character check (InvalidMessageContents), as it would on AWS; it
    used to end the body there: "secret" was queued and 200 returned."""
    status, _, got = request(nul_api.apis[api], "POST", path, [("Content-Type", "text/plain")], b"secret\x00-tail")
    assert status == 400, got
    assert b"InvalidMessageContents" in got, got
    url = nul_api.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    assert "Messages" not in nul_api.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    status, _, got = request(nul_api.apis[api], "POST", path, [("Content-Type", "text/plain")], b"clean body")
    assert status == 200, got
    msgs = nul_api.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
    assert [m["Body"] for m in msgs] == ["clean body"]


@pytest.mark.parametrize("api", ["rest", "http"])
def test_api_gateway_percent_00_in_query_reaches_the_handler(nul_api, api):
    """%00 in a query value reaches a Lambda proxy handler as U+0000 (JSON
    "\\u0000"), not as bytes that are not UTF-8 (the handler's runtime
    could not parse its event: 502)."""
    status, _, got = request(nul_api.apis[api], "GET", "/echo?x=a%00b&y=1")
    assert status == 200, got
    assert json.loads(got)["query"] == {"x": "a\x00b", "y": "1"}


def _start_output(listen, tmp_path):
    """Starts `sluice serve --listen LISTEN`, returns its stderr up to the
    listening line, then stops it."""
    import subprocess
    from sluice_helpers import sluice_binary
    proc = subprocess.Popen([str(sluice_binary()), "serve", "--listen", listen, "--data-dir", str(tmp_path / "d")],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline().decode()
        assert line.startswith("sluice listening on "), line
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    return err.decode()


def test_non_loopback_listen_warns(tmp_path):
    err = _start_output("0.0.0.0:0", tmp_path)
    assert "WARNING: listening on 0.0.0.0:" in err
    assert "which is not a loopback address: anyone who can reach it can read, send and delete messages" in err


def test_loopback_listen_does_not_warn(tmp_path):
    assert "WARNING" not in _start_output("127.0.0.1:0", tmp_path)


def test_cross_site_runtime_api_refused(guarded):
    """A page must not post a forged handler response to the Runtime API."""
    status, _, body = request(guarded.endpoint, "POST", "/2018-06-01/runtime/invocation/some-id/response",
                              [("Sec-Fetch-Site", "cross-site"), ("Content-Type", "text/plain")], '"forged"')
    assert status == 403, body
    assert json.loads(body) == {"errorMessage": "cross-site browser request refused (Sec-Fetch-Site: cross-site)",
                                "errorType": "AccessDeniedException"}
