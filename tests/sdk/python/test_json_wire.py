"""The AWS JSON 1.0 protocol on the wire, without an SDK: SendMessage's
answer (rendered without a cJSON tree) and its headers, byte for byte and
in order, for the shapes a send can take, and an error's headers; and the
headers of HTTP/1.0, Connection: close and HEAD requests, where evhttp,
not sluice, decides on Content-Length and Connection."""
import http.client
import json
import re
import socket
import urllib.parse

from sluice_helpers import ACCOUNT, md5_hex

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def call(endpoint, action, payload, path="/"):
    """Raw HTTP POST; returns (status, [(name, value)] in wire order, body text)."""
    u = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
        conn.request("POST", path, body=body, headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "AmazonSQS." + action,
        })
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read().decode()
    finally:
        conn.close()


def header_names(headers):
    return [name for name, _ in headers]


def test_send_message_answer_and_headers(endpoint, new_queue):
    url = new_queue().url
    status, headers, body = call(endpoint, "SendMessage", {"QueueUrl": url, "MessageBody": "hello"})
    assert status == 200
    assert header_names(headers) == ["Content-Type", "x-amzn-RequestId", "Date", "Content-Length"]
    h = dict(headers)
    assert h["Content-Type"] == "application/x-amz-json-1.0"
    assert UUID.match(h["x-amzn-RequestId"])
    assert int(h["Content-Length"]) == len(body)
    m = re.fullmatch(r'\{"MD5OfMessageBody":"([0-9a-f]{32})","MessageId":"([^"]+)"\}', body)
    assert m, body
    assert m.group(1) == md5_hex("hello")
    assert UUID.match(m.group(2))


def test_send_message_answer_with_attributes_in_order(endpoint, new_queue):
    url = new_queue().url
    status, _, body = call(endpoint, "SendMessage", {
        "QueueUrl": url, "MessageBody": "hello",
        "MessageAttributes": {"a": {"DataType": "String", "StringValue": "v"}},
        "MessageSystemAttributes": {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793"}},
    })
    assert status == 200
    assert list(json.loads(body)) == ["MD5OfMessageAttributes", "MD5OfMessageBody", "MD5OfMessageSystemAttributes",
                                      "MessageId"]
    assert re.fullmatch(r'\{"MD5OfMessageAttributes":"[0-9a-f]{32}","MD5OfMessageBody":"[0-9a-f]{32}",'
                        r'"MD5OfMessageSystemAttributes":"[0-9a-f]{32}","MessageId":"[^"]+"\}', body), body


def test_fifo_send_answer_and_duplicate(endpoint, unique_name):
    name = unique_name("fifo") + ".fifo"
    status, _, body = call(endpoint, "CreateQueue", {"QueueName": name, "Attributes": {"FifoQueue": "true"}})
    assert status == 200
    url = json.loads(body)["QueueUrl"]
    send = {"QueueUrl": url, "MessageBody": "x", "MessageGroupId": "g", "MessageDeduplicationId": "d1"}
    status, _, first = call(endpoint, "SendMessage", send)
    assert status == 200
    assert re.fullmatch(r'\{"MD5OfMessageBody":"[0-9a-f]{32}","MessageId":"[^"]+","SequenceNumber":"\d{20}"\}',
                        first), first
    status, _, again = call(endpoint, "SendMessage", send)
    assert status == 200
    assert again == first  # the duplicate is answered as the first send was
    call(endpoint, "DeleteQueue", {"QueueUrl": url})


def test_send_message_to_queue_path(endpoint, new_queue):
    url = new_queue().url
    path = urllib.parse.urlsplit(url).path
    assert path.startswith(f"/{ACCOUNT}/")
    status, _, body = call(endpoint, "SendMessage", {"MessageBody": "via path"}, path=path)
    assert status == 200
    assert list(json.loads(body)) == ["MD5OfMessageBody", "MessageId"]


def test_send_message_error_headers(endpoint, unique_name):
    status, headers, body = call(endpoint, "SendMessage", {
        "QueueUrl": f"http://localhost:4566/{ACCOUNT}/{unique_name('missing')}", "MessageBody": "x"})
    assert status == 400
    assert header_names(headers) == ["Content-Type", "x-amzn-RequestId", "x-amzn-query-error", "Date",
                                     "Content-Length"]
    h = dict(headers)
    assert h["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    assert body == ('{"__type":"com.amazonaws.sqs#QueueDoesNotExist",'
                    '"message":"The specified queue does not exist."}')


def test_body_after_the_object_is_ignored_as_before(endpoint, new_queue):
    url = new_queue().url
    payload = json.dumps({"QueueUrl": url, "MessageBody": "tail"}).encode() + b" trailing"
    status, _, body = call(endpoint, "SendMessage", payload)
    assert status == 200
    assert json.loads(body)["MD5OfMessageBody"] == md5_hex("tail")


def raw(endpoint, request_line, extra, body):
    """One request on its own connection, read to the close or a pause;
    returns (status line, [(name, value)] in wire order, body bytes)."""
    u = urllib.parse.urlsplit(endpoint)
    with socket.create_connection((u.hostname, u.port), timeout=30) as s:
        head = (f"{request_line}\r\nHost: {u.netloc}\r\n{extra}Content-Type: application/x-amz-json-1.0\r\n"
                f"X-Amz-Target: AmazonSQS.SendMessage\r\nContent-Length: {len(body)}\r\n\r\n")
        s.sendall(head.encode() + body)
        data = b""
        s.settimeout(1.0)  # a keep-alive answer does not close: its length or the pause ends it
        while b"\r\n\r\n" not in data or not answer_complete(data):
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    return lines[0], [tuple(line.split(": ", 1)) for line in lines[1:]], rest


def answer_complete(data):
    head, _, rest = data.partition(b"\r\n\r\n")
    m = re.search(rb"\r\nContent-Length: (\d+)", head)
    return bool(m) and len(rest) >= int(m.group(1))


def test_content_length_where_evhttp_puts_it(endpoint, new_queue):
    url = new_queue().url
    body = json.dumps({"QueueUrl": url, "MessageBody": "hi"}).encode()
    base = ["Content-Type", "x-amzn-RequestId", "Date"]
    # HTTP/1.1: the length after Date; a close asked for comes last.
    status, headers, rest = raw(endpoint, "POST / HTTP/1.1", "", body)
    assert status == "HTTP/1.1 200 OK"
    assert header_names(headers) == base + ["Content-Length"]
    assert int(dict(headers)["Content-Length"]) == len(rest) > 0
    status, headers, rest = raw(endpoint, "POST / HTTP/1.1", "Connection: close\r\n", body)
    assert header_names(headers) == base + ["Content-Length", "Connection"]
    assert dict(headers)["Connection"] == "close"
    assert int(dict(headers)["Content-Length"]) == len(rest)
    # HTTP/1.0: no length unless kept alive, and then after evhttp's
    # keep-alive header.
    status, headers, rest = raw(endpoint, "POST / HTTP/1.0", "", body)
    assert status == "HTTP/1.0 200 OK"
    assert header_names(headers) == base
    assert json.loads(rest)["MD5OfMessageBody"] == md5_hex("hi")
    status, headers, rest = raw(endpoint, "POST / HTTP/1.0", "Connection: keep-alive\r\n", body)
    assert header_names(headers) == base + ["Connection", "Content-Length"]
    assert int(dict(headers)["Content-Length"]) == len(rest)
    # HEAD: an answer without a length.
    status, headers, _ = raw(endpoint, "HEAD / HTTP/1.1", "", body)
    assert status == "HTTP/1.1 400 Bad Request"
    assert header_names(headers) == ["Content-Type", "x-amzn-RequestId", "x-amzn-query-error", "Date"]
