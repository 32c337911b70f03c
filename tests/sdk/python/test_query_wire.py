"""The query protocol on the wire, without an SDK: GET/POST to the queue URL
path and to /, the XML shapes, error bodies and headers (sqs.md §2.3 and
LocalStack's AWS-validated TestSqsQueryApi)."""
import http.client
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

from sluice_helpers import ACCOUNT, NON_EXISTENT_QUEUE, NON_EXISTENT_QUEUE_MSG, QUERY_NS, md5_hex, queue_arn

NS = {"q": QUERY_NS}


def call(endpoint, method, path, params=None, form=None, headers=None):
    """Raw HTTP; returns (status, headers as a lower-cased dict, body bytes)."""
    u = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        target = path + ("?" + urllib.parse.urlencode(params) if params else "")
        body = None
        hdrs = dict(headers or {})
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
        conn.request(method, target, body=body, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def queue_path(name):
    return f"/{ACCOUNT}/{name}"


def tag(name):
    return f"{{{QUERY_NS}}}{name}"


def parse_error(status, headers, body):
    root = ET.fromstring(body)
    assert root.tag == tag("ErrorResponse"), body
    err = root.find("q:Error", NS)
    assert err is not None, body
    request_id = root.findtext("q:RequestId", namespaces=NS)
    return {
        "Type": err.findtext("q:Type", namespaces=NS),
        "Code": err.findtext("q:Code", namespaces=NS),
        "Message": err.findtext("q:Message", namespaces=NS),
        "RequestId": request_id,
    }


def assert_xml_error(result, status, code, message):
    st, headers, body = result
    assert st == status, (st, body)
    assert headers.get("content-type", "").startswith("text/xml"), headers.get("content-type")
    err = parse_error(st, headers, body)
    assert err["Type"] == "Sender"
    assert err["Code"] == code
    assert err["Message"] == message
    assert headers.get("x-amzn-requestid"), "x-amzn-RequestId header"
    assert err["RequestId"] == headers["x-amzn-requestid"]


def attributes_of(result_elem):
    return {a.findtext("q:Name", namespaces=NS): a.findtext("q:Value", namespaces=NS)
            for a in result_elem.findall("q:Attribute", NS)}


@pytest.fixture
def q(new_queue):
    return new_queue()


# --------------------------------------------------------------------- errors

def test_unknown_action_on_queue_url(endpoint, q):
    res = call(endpoint, "GET", queue_path(q.name), params={"Action": "FooBar", "Version": "2012-11-05"})
    assert_xml_error(res, 400, "InvalidAction", "The action FooBar is not valid for this endpoint.")
    assert b"<Code>InvalidAction</Code>" in res[2]
    assert b"<Type>Sender</Type>" in res[2]


def test_unknown_action_posted_to_root(endpoint):
    res = call(endpoint, "POST", "/", form={"Action": "FooBar", "Version": "2012-11-05"})
    assert_xml_error(res, 400, "InvalidAction", "The action FooBar is not valid for this endpoint.")


def test_error_response_shape(endpoint, q):
    st, headers, body = call(endpoint, "GET", queue_path(q.name), params={"Action": "FooBar"})
    root = ET.fromstring(body)
    # <ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Type/><Code/><Message/>...</Error><RequestId/></ErrorResponse>
    assert root.tag == tag("ErrorResponse")
    assert [child.tag for child in root] == [tag("Error"), tag("RequestId")]
    names = {child.tag for child in root.find("q:Error", NS)}
    assert {tag("Type"), tag("Code"), tag("Message")} <= names


def test_missing_message_body(endpoint, q):
    res = call(endpoint, "GET", queue_path(q.name), params={"Action": "SendMessage"})
    assert_xml_error(res, 400, "MissingParameter", "The request must contain the parameter MessageBody.")


def test_unknown_attribute_name(endpoint, q):
    res = call(endpoint, "GET", queue_path(q.name),
               params={"Action": "GetQueueAttributes", "AttributeName.1": "Foobar"})
    assert_xml_error(res, 400, "InvalidAttributeName", "Unknown Attribute Foobar.")


def test_nonexistent_queue_path(endpoint, unique_name):
    res = call(endpoint, "GET", queue_path(unique_name("missing")),
               params={"Action": "GetQueueAttributes", "AttributeName.1": "All"})
    assert_xml_error(res, 400, NON_EXISTENT_QUEUE, NON_EXISTENT_QUEUE_MSG)


def test_nonexistent_queue_url_parameter(endpoint, unique_name):
    res = call(endpoint, "POST", "/", form={
        "Action": "GetQueueUrl", "Version": "2012-11-05", "QueueName": unique_name("missing")})
    assert_xml_error(res, 400, NON_EXISTENT_QUEUE, NON_EXISTENT_QUEUE_MSG)


# ----------------------------------------------------------------- successes

def test_get_queue_attributes_all_on_queue_url(endpoint, q):
    st, headers, body = call(endpoint, "GET", queue_path(q.name),
                             params={"Action": "GetQueueAttributes", "AttributeName.1": "All"})
    assert st == 200, body
    assert headers.get("content-type", "").startswith("text/xml")
    assert b"<Attribute><Name>VisibilityTimeout</Name><Value>30" in body
    root = ET.fromstring(body)
    assert root.tag == tag("GetQueueAttributesResponse")
    attrs = attributes_of(root.find("q:GetQueueAttributesResult", NS))
    assert attrs["VisibilityTimeout"] == "30"
    assert attrs["QueueArn"] == queue_arn(q.name)
    assert attrs["MaximumMessageSize"] == "1048576"
    request_id = root.findtext("q:ResponseMetadata/q:RequestId", namespaces=NS)
    assert request_id and request_id == headers.get("x-amzn-requestid")


def test_get_queue_attributes_one_name(endpoint, q):
    st, _, body = call(endpoint, "GET", queue_path(q.name),
                       params={"Action": "GetQueueAttributes", "AttributeName.1": "QueueArn"})
    assert st == 200, body
    attrs = attributes_of(ET.fromstring(body).find("q:GetQueueAttributesResult", NS))
    assert attrs == {"QueueArn": queue_arn(q.name)}


def test_send_receive_delete_posted_to_queue_url(endpoint, q, sqs):
    path = queue_path(q.name)
    st, headers, body = call(endpoint, "POST", path, form={
        "Action": "SendMessage", "Version": "2012-11-05", "MessageBody": "hello",
        "MessageAttribute.1.Name": "attr1", "MessageAttribute.1.Value.DataType": "String",
        "MessageAttribute.1.Value.StringValue": "v",
    })
    assert st == 200, body
    assert headers.get("x-amzn-requestid")
    root = ET.fromstring(body)
    assert root.tag == tag("SendMessageResponse")
    result = root.find("q:SendMessageResult", NS)
    assert result.findtext("q:MD5OfMessageBody", namespaces=NS) == "5d41402abc4b2a76b9719d911017c592"
    assert result.findtext("q:MD5OfMessageAttributes", namespaces=NS) == "5d7451cdb6bb563786f0f121888def84"
    message_id = result.findtext("q:MessageId", namespaces=NS)
    assert message_id
    assert root.findtext("q:ResponseMetadata/q:RequestId", namespaces=NS) == headers["x-amzn-requestid"]

    st, _, body = call(endpoint, "POST", path, form={
        "Action": "ReceiveMessage", "Version": "2012-11-05", "AttributeName.1": "All",
        "MessageAttributeName.1": "All", "VisibilityTimeout": "30"})
    assert st == 200, body
    root = ET.fromstring(body)
    assert root.tag == tag("ReceiveMessageResponse")
    msgs = root.findall("q:ReceiveMessageResult/q:Message", NS)
    assert len(msgs) == 1
    m = msgs[0]
    assert m.findtext("q:MessageId", namespaces=NS) == message_id
    assert m.findtext("q:Body", namespaces=NS) == "hello"
    assert m.findtext("q:MD5OfBody", namespaces=NS) == "5d41402abc4b2a76b9719d911017c592"
    assert m.findtext("q:MD5OfMessageAttributes", namespaces=NS) == "5d7451cdb6bb563786f0f121888def84"
    sys_attrs = attributes_of(m)
    assert sys_attrs["ApproximateReceiveCount"] == "1"
    assert {"SenderId", "SentTimestamp", "ApproximateFirstReceiveTimestamp"} <= set(sys_attrs)
    user = m.findall("q:MessageAttribute", NS)
    assert len(user) == 1
    assert user[0].findtext("q:Name", namespaces=NS) == "attr1"
    assert user[0].findtext("q:Value/q:DataType", namespaces=NS) == "String"
    assert user[0].findtext("q:Value/q:StringValue", namespaces=NS) == "v"
    handle = m.findtext("q:ReceiptHandle", namespaces=NS)
    assert handle

    st, _, body = call(endpoint, "POST", path, form={
        "Action": "DeleteMessage", "Version": "2012-11-05", "ReceiptHandle": handle})
    assert st == 200, body
    root = ET.fromstring(body)
    assert root.tag == tag("DeleteMessageResponse")
    assert root.find("q:ResponseMetadata/q:RequestId", NS) is not None

    # empty receive: a result element without messages
    st, _, body = call(endpoint, "POST", path, form={"Action": "ReceiveMessage", "Version": "2012-11-05"})
    assert st == 200, body
    root = ET.fromstring(body)
    result = root.find("q:ReceiveMessageResult", NS)
    assert result is not None and result.findall("q:Message", NS) == []
    assert sqs.get_queue_attributes(QueueUrl=q.url, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_get_send_and_receive_on_queue_url(endpoint, new_queue):
    q1, q2 = new_queue("one"), new_queue("two")
    st, _, body = call(endpoint, "GET", queue_path(q1.name), params={"Action": "SendMessage", "MessageBody": "foobar"})
    assert st == 200, body
    st, _, body = call(endpoint, "GET", queue_path(q2.name), params={"Action": "ReceiveMessage"})
    assert st == 200 and b"foobar" not in body
    st, _, body = call(endpoint, "GET", queue_path(q1.name), params={"Action": "ReceiveMessage"})
    assert st == 200
    bodies = [m.findtext("q:Body", namespaces=NS) for m in ET.fromstring(body).iter(tag("Message"))]
    assert bodies == ["foobar"]


def test_query_with_queue_url_parameter_posted_to_root(endpoint, q):
    st, _, body = call(endpoint, "POST", "/", form={
        "Action": "SendMessage", "Version": "2012-11-05", "QueueUrl": q.url, "MessageBody": "via root"})
    assert st == 200, body
    result = ET.fromstring(body).find("q:SendMessageResult", NS)
    assert result.findtext("q:MD5OfMessageBody", namespaces=NS) == md5_hex("via root")


def test_get_queue_url_and_list_queues_xml(endpoint, q):
    st, _, body = call(endpoint, "POST", "/", form={"Action": "GetQueueUrl", "Version": "2012-11-05", "QueueName": q.name})
    assert st == 200, body
    root = ET.fromstring(body)
    assert root.tag == tag("GetQueueUrlResponse")
    assert root.findtext("q:GetQueueUrlResult/q:QueueUrl", namespaces=NS) == q.url

    st, _, body = call(endpoint, "POST", "/", form={"Action": "ListQueues", "Version": "2012-11-05",
                                                    "QueueNamePrefix": q.name})
    assert st == 200, body
    root = ET.fromstring(body)
    assert root.tag == tag("ListQueuesResponse")
    assert [e.text for e in root.findall("q:ListQueuesResult/q:QueueUrl", NS)] == [q.url]


def test_delete_queue_with_get_on_queue_url(endpoint, unique_name, sqs):
    name = unique_name()
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    st, _, body = call(endpoint, "GET", queue_path(name), params={"Action": "DeleteQueue"})
    assert st == 200, body
    assert ET.fromstring(body).tag == tag("DeleteQueueResponse")
    assert name not in " ".join(sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", []))
    assert url.endswith(name)


def test_carriage_return_survives_xml(endpoint, q):
    body_text = "line1\r\nline2\rend"
    st, _, body = call(endpoint, "POST", queue_path(q.name), form={
        "Action": "SendMessage", "Version": "2012-11-05", "MessageBody": body_text})
    assert st == 200, body
    st, _, body = call(endpoint, "POST", queue_path(q.name), form={"Action": "ReceiveMessage", "Version": "2012-11-05"})
    assert st == 200
    m = ET.fromstring(body).find("q:ReceiveMessageResult/q:Message", NS)
    # an XML parser turns a raw CR into LF; AWS escapes it so it comes back intact
    assert m.findtext("q:Body", namespaces=NS) == body_text
    assert m.findtext("q:MD5OfBody", namespaces=NS) == md5_hex(body_text)
