"""STS GetCallerIdentity through boto3 (query protocol) and plain HTTP (the
AWS JSON protocol newer SDKs send, and an unsigned query form): code under
test asks it for the account id. sluice answers with the configured
account_id, Arn arn:aws:iam::<account>:root and UserId AKIAIOSFODNN7EXAMPLE
(what LocalStack and moto users expect; docs/compatibility.md)."""
import json
import re
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config

from sluice_helpers import ACCOUNT, REGION, aws_error

pytestmark = pytest.mark.timeout(30)

XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"


def sts_client(endpoint):
    return boto3.session.Session().client(
        "sts", region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test",
        endpoint_url=endpoint, config=Config(retries={"max_attempts": 1}))


def post(endpoint, body, headers):
    req = urllib.request.Request(endpoint + "/", data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def test_sts_get_caller_identity_boto3(endpoint):
    out = sts_client(endpoint).get_caller_identity()
    assert out["Account"] == ACCOUNT
    assert out["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert out["UserId"] == "AKIAIOSFODNN7EXAMPLE"
    assert re.fullmatch(r"[0-9a-f-]{36}", out["ResponseMetadata"]["RequestId"])


def test_sts_get_caller_identity_reports_the_configured_account(private_server):
    server = private_server('account_id: "123456789012"\n')
    out = sts_client(server.endpoint).get_caller_identity()
    assert (out["Account"], out["Arn"]) == ("123456789012", "arn:aws:iam::123456789012:root")


def test_sts_query_xml_body_unsigned(endpoint):
    status, headers, body = post(endpoint, "Action=GetCallerIdentity&Version=2011-06-15",
                                 {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200
    assert headers["Content-Type"] == "text/xml"
    rid = headers["x-amzn-RequestId"]
    assert body == (
        f'<GetCallerIdentityResponse xmlns="{XMLNS}"><GetCallerIdentityResult>'
        f"<Arn>arn:aws:iam::{ACCOUNT}:root</Arn><UserId>AKIAIOSFODNN7EXAMPLE</UserId><Account>{ACCOUNT}</Account>"
        f"</GetCallerIdentityResult><ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata>"
        "</GetCallerIdentityResponse>")


@pytest.mark.parametrize("ctype", ["application/x-amz-json-1.1", "application/x-amz-json-1.0"])
def test_sts_aws_json_protocol(endpoint, ctype):
    status, headers, body = post(endpoint, "{}", {
        "Content-Type": ctype, "X-Amz-Target": "AWSSecurityTokenServiceV20110615.GetCallerIdentity"})
    assert status == 200
    assert headers["Content-Type"] == ctype
    assert json.loads(body) == {
        "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:root", "UserId": "AKIAIOSFODNN7EXAMPLE"}


def test_sts_other_action_is_invalid_action(endpoint):
    with aws_error("InvalidAction", 400, "Could not find operation GetSessionToken for version 2011-06-15"):
        sts_client(endpoint).get_session_token()
    status, _, body = post(endpoint, "{}", {
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSSecurityTokenServiceV20110615.AssumeRole"})
    assert status == 400
    assert json.loads(body)["__type"] == "InvalidAction"

