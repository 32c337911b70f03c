"""Helpers shared by the boto3 suite and tests/durability: start/stop the real
sluice binary, build query-protocol boto3 clients, assert AWS errors, and
compute SQS's MD5 digests independently of the server (sqs.md §3)."""
import hashlib
import http.client
import json
import os
import queue as queue_mod
import re
import signal
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

REPO = Path(__file__).resolve().parents[3]
ACCOUNT = "000000000000"
REGION = "us-east-1"
LISTEN_RE = re.compile(r"sluice listening on (http://127\.0\.0\.1:(\d+))")
# With `apis:` configured, one line per API comes before the listening line.
API_RE = re.compile(r"sluice api (\S+) serving on (http://\S+)")
# With --template, one line per queue (like a stack's Outputs).
QUEUE_RE = re.compile(r"sluice queue (\S+) at (http://\S+)")
QUERY_NS = "http://queue.amazonaws.com/doc/2012-11-05/"
NON_EXISTENT_QUEUE = "AWS.SimpleQueueService.NonExistentQueue"
NON_EXISTENT_QUEUE_MSG = "The specified queue does not exist for this wsdl version."

# SLUICE_AUTH=1 (scripts/run-tests --auth, `make test-auth`): every sluice
# the suites start gets an `auth:` section with the key the clients sign
# with (test/test), so every request is checked for SigV4; clients sign
# with each server's emulated clock once a test moved it (see auth_clock).
AUTH_MODE = os.environ.get("SLUICE_AUTH") == "1"
AUTH_SECTION = "\nauth:\n  keys:\n    - {access_key_id: test, secret_access_key: test, principal: test}\n"


def with_auth_section(config_path, folder):
    """AUTH_MODE: the config to start with: config_path plus AUTH_SECTION,
    written next to it (relative paths keep resolving), or AUTH_SECTION
    alone in folder. Returns (path, created file or None)."""
    if config_path is None:
        path = Path(folder) / "sluice-auth-mode.yaml"
        path.write_text(AUTH_SECTION)
        return path, path
    text = Path(config_path).read_text()
    if re.search(r"^auth:", text, re.M):
        return config_path, None
    path = Path(config_path).with_name(Path(config_path).stem + ".auth-mode.yaml")
    path.write_text(text.rstrip("\n") + "\n" + AUTH_SECTION)
    return path, path


_clock_offsets = {}  # "host:port" -> seconds a test moved that server's clock


def note_clock_offset(endpoint, offset_ms):
    _clock_offsets[endpoint.split("://", 1)[-1].rstrip("/")] = offset_ms / 1000.0


def _install_auth_clock():
    """botocore signs with datetime.datetime.utcnow() (botocore.auth); in
    AUTH_MODE sign each request with its server's emulated clock, as a
    client on AWS signs with a clock that agrees with AWS's."""
    import datetime as real_datetime
    import threading as _threading
    import types
    from urllib.parse import urlsplit

    import botocore.auth

    local = _threading.local()

    class ShiftedDatetime(real_datetime.datetime):
        @classmethod
        def utcnow(cls):
            return real_datetime.datetime.utcnow() + real_datetime.timedelta(seconds=getattr(local, "offset", 0.0))

    shim = types.SimpleNamespace(**{k: getattr(real_datetime, k) for k in dir(real_datetime) if not k.startswith("__")})
    shim.datetime = ShiftedDatetime
    # With awscrt installed botocore signs through botocore.crt.auth.
    modules = [botocore.auth]
    try:
        import botocore.crt.auth
        modules.append(botocore.crt.auth)
    except ImportError:
        pass
    for module in modules:
        module.datetime = shim
    wrapped = set()
    for cls in set(botocore.auth.AUTH_TYPE_MAPS.values()):
        original = getattr(cls, "add_auth", None)
        if original is None or original in wrapped:
            continue

        def add_auth(self, request, _original=original):
            local.offset = _clock_offsets.get(urlsplit(request.url).netloc, 0.0)
            try:
                return _original(self, request)
            finally:
                local.offset = 0.0

        cls.add_auth = add_auth
        wrapped.add(add_auth)


if AUTH_MODE:
    _install_auth_clock()


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------

def sluice_binary():
    return Path(os.environ.get("SLUICE_BIN") or REPO / "build" / "sluice")


class SluiceProcess:
    """One `sluice serve --listen 127.0.0.1:0 --data-dir DIR` child.

    The constructor returns once the server printed its listening line;
    `endpoint` is then http://127.0.0.1:PORT. stdout is drained by a thread
    into the log file (with stderr) so the pipe never fills."""

    def __init__(self, binary, data_dir, log_path, start_timeout=15.0, config_path=None, extra_args=()):
        self.data_dir = str(data_dir)
        self.log_path = str(log_path)
        self._auth_file = None
        if AUTH_MODE:
            config_path, self._auth_file = with_auth_section(config_path, Path(log_path).parent)
        self._log = open(self.log_path, "ab")
        argv = [str(binary), "serve", "--listen", "127.0.0.1:0", "--data-dir", self.data_dir]
        if config_path is not None:
            argv += ["--config", str(config_path)]
        argv += [str(a) for a in extra_args]  # e.g. --template FILE
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log,
        )
        self.pid = self.proc.pid
        self._lines = queue_mod.Queue()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        self.apis = {}  # API name -> http://HOST:PORT, from the "sluice api" lines
        self.queue_urls = {}  # queue name -> URL, from the "sluice queue" lines (templates)
        self.endpoint = self._wait_listening(start_timeout)
        self.port = int(self.endpoint.rsplit(":", 1)[1])

    def _drain(self):
        for raw in iter(self.proc.stdout.readline, b""):
            try:
                self._log.write(b"[stdout] " + raw)
                self._log.flush()
            except ValueError:  # log closed during shutdown
                pass
            self._lines.put(raw.decode("utf-8", "replace"))
        self._lines.put(None)

    def _wait_listening(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise RuntimeError(f"sluice did not print its listening line within {timeout}s; log:\n{self.log()}")
            try:
                line = self._lines.get(timeout=left)
            except queue_mod.Empty:
                continue
            if line is None:
                rc = self.proc.wait()
                raise RuntimeError(f"sluice exited (rc={rc}) before listening; log:\n{self.log()}")
            q = QUEUE_RE.search(line)
            if q:
                self.queue_urls[q.group(1)] = q.group(2)
                continue
            a = API_RE.search(line)
            if a:
                self.apis[a.group(1)] = a.group(2)
                continue
            m = LISTEN_RE.search(line)
            if m:
                return m.group(1)

    def log(self):
        try:
            return Path(self.log_path).read_text(errors="replace")[-4000:]
        except OSError:
            return "<no log>"

    def running(self):
        return self.proc.poll() is None

    def stop(self, grace=5.0):
        """SIGTERM, wait up to `grace` s, then SIGKILL. Returns (exit code, graceful?)."""
        graceful = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                graceful = False
                self.proc.kill()
                self.proc.wait()
        self._finish()
        return self.proc.returncode, graceful

    def kill(self):
        """SIGKILL (kill -9) this child only."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._finish()
        return self.proc.returncode

    def _finish(self):
        if self._auth_file is not None:
            try:
                self._auth_file.unlink()
            except OSError:
                pass
            self._auth_file = None
        self._reader.join(timeout=2)
        try:
            self._log.close()
        except Exception:
            pass


def make_client(endpoint_url, **config):
    """A boto3 SQS client (botocore 1.29: query protocol), no retries."""
    cfg = dict(retries={"max_attempts": 1}, read_timeout=40, connect_timeout=5)
    cfg.update(config)
    return boto3.session.Session().client(
        "sqs",
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        endpoint_url=endpoint_url,
        config=Config(**cfg),
    )


# --------------------------------------------------------------------------
# Queues
# --------------------------------------------------------------------------

def queue_arn(name):
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def queue_url(endpoint, name):
    return f"{endpoint}/{ACCOUNT}/{name}"


class Queue:
    def __init__(self, name, url):
        self.name = name
        self.url = url
        self.arn = queue_arn(name)

    def __repr__(self):
        return f"Queue({self.name!r})"


# --------------------------------------------------------------------------
# Assertions
# --------------------------------------------------------------------------

@contextmanager
def aws_error(code, status=400, message=None, message_contains=None, error_type="Sender"):
    """The block must raise ClientError with exactly this code, HTTP status,
    error type and (when given) message."""
    with pytest.raises(ClientError) as excinfo:
        yield excinfo
    resp = excinfo.value.response
    err = resp.get("Error", {})
    status_got = resp["ResponseMetadata"]["HTTPStatusCode"]
    got = f"got Code={err.get('Code')!r} HTTP {status_got} Message={err.get('Message')!r} Type={err.get('Type')!r}"
    assert err.get("Code") == code, f"expected Code={code!r}; {got}"
    assert status_got == status, f"expected HTTP {status}; {got}"
    if message is not None:
        assert err.get("Message") == message, f"expected Message={message!r}; {got}"
    if message_contains is not None:
        assert message_contains in (err.get("Message") or ""), f"expected the message to mention {message_contains!r}; {got}"
    if error_type is not None:
        assert err.get("Type") == error_type, f"expected Type={error_type!r}; {got}"


def md5_hex(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.md5(data).hexdigest()


def md5_of_attributes(attrs):
    """MD5OfMessageAttributes (and MD5OfMessageSystemAttributes) per AWS's
    algorithm: names sorted; each of name, DataType, value length-prefixed
    (uint32 big-endian); a transport byte 1 (String/Number) or 2 (Binary)."""
    def field(b):
        return struct.pack(">I", len(b)) + b
    buf = bytearray()
    for name in sorted(attrs, key=lambda n: n.encode("utf-16-be")):
        a = attrs[name]
        buf += field(name.encode("utf-8"))
        buf += field(a["DataType"].encode("utf-8"))
        if "StringValue" in a:
            buf += b"\x01" + field(a["StringValue"].encode("utf-8"))
        else:
            raw = a["BinaryValue"]
            if isinstance(raw, str):
                raw = raw.encode("utf-8")
            buf += b"\x02" + field(bytes(raw))
    return hashlib.md5(bytes(buf)).hexdigest()


# --------------------------------------------------------------------------
# Small wrappers
# --------------------------------------------------------------------------

def queue_attrs(sqs, url, *names):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names) or ["All"]).get("Attributes", {})


def counts(sqs, url):
    """(visible, not visible, delayed)"""
    a = queue_attrs(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed")
    return (int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"]),
            int(a["ApproximateNumberOfMessagesDelayed"]))


def receive(sqs, url, **kwargs):
    """ReceiveMessage; the list of messages ([] when the response has none)."""
    return sqs.receive_message(QueueUrl=url, **kwargs).get("Messages", [])


def receive_one(sqs, url, wait=2, **kwargs):
    msgs = receive(sqs, url, WaitTimeSeconds=wait, **kwargs)
    assert len(msgs) == 1, f"expected exactly one message, got {msgs}"
    return msgs[0]


def drain(sqs, url, expected=None, timeout=10.0, **kwargs):
    """Receives (hiding each message for 300 s unless told otherwise) until
    `expected` messages arrived, or, without `expected`, until an empty poll."""
    kwargs.setdefault("VisibilityTimeout", 300)
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msgs = receive(sqs, url, MaxNumberOfMessages=10, WaitTimeSeconds=1, **kwargs)
        if not msgs and expected is None:
            break
        got.extend(msgs)
        if expected is not None and len(got) >= expected:
            break
    return got


def wait_until(predicate, timeout=5.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# --------------------------------------------------------------------------
# Time control and private servers
# --------------------------------------------------------------------------

def clock_call(endpoint, method="GET", body=None, raw_body=None, timeout=10):
    """/_sluice/clock over urllib: (HTTP status, parsed JSON or the raw text).
    `body` is JSON-encoded; `raw_body` (bytes/str) is sent as it is."""
    data = None
    if raw_body is not None:
        data = raw_body.encode() if isinstance(raw_body, str) else raw_body
    elif body is not None:
        data = json.dumps(body).encode()
    req = urllib.request.Request(endpoint.rstrip("/") + "/_sluice/clock", data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data is not None else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, text = resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode("utf-8", "replace")
    try:
        doc = json.loads(text)
    except ValueError:
        return status, text
    if status == 200 and isinstance(doc, dict) and "offset_ms" in doc:
        note_clock_offset(endpoint, doc["offset_ms"])
    return status, doc


class Clock:
    """sluice's emulated clock (process-wide: advance it only on a private server)."""

    def __init__(self, endpoint):
        self.endpoint = endpoint

    def get(self):
        status, doc = clock_call(self.endpoint)
        assert status == 200, f"GET /_sluice/clock: HTTP {status} {doc!r}"
        return doc

    def now_ms(self):
        return int(self.get()["now_ms"])

    def advance(self, seconds):
        status, doc = clock_call(self.endpoint, "POST", {"advance_seconds": seconds})
        assert status == 200, f"POST /_sluice/clock advance {seconds}: HTTP {status} {doc!r}"
        return doc


class PrivateServer:
    """A sluice of its own (own data directory, own clock), optionally with a
    YAML config, for tests that move the clock or change switches."""

    def __init__(self, binary, workdir, config=None, config_path=None):
        """config: YAML text, written to workdir/sluice.yaml; config_path: a
        YAML file used as it is (e.g. from stage_e2e_config)."""
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        if config is not None:
            config_path = workdir / "sluice.yaml"
            config_path.write_text(config)
        self.data_dir = workdir / "data"
        self.process = SluiceProcess(binary, self.data_dir, workdir / "sluice.log", config_path=config_path)
        self.endpoint = self.process.endpoint
        self.apis = self.process.apis  # API name -> base URL (configs with `apis:`)
        self.sqs = make_client(self.endpoint)
        self.clock = Clock(self.endpoint)

    def new_client(self, **config):
        """Another client for this server (e.g. one per thread)."""
        return make_client(self.endpoint, **config)

    def create_queue(self, name, attributes=None, **kwargs):
        kwargs["QueueName"] = name
        if attributes:
            kwargs["Attributes"] = {k: str(v) for k, v in attributes.items()}
        return Queue(name, self.sqs.create_queue(**kwargs)["QueueUrl"])

    def stop(self):
        return self.process.stop()


# --------------------------------------------------------------------------
# Lambda (tests/e2e)
# --------------------------------------------------------------------------

E2E_DIR = REPO / "tests" / "e2e"


def stage_e2e_config(name, folder):
    """Copies tests/e2e/<name> into folder as sluice.yaml, next to a `handlers`
    symlink to tests/e2e/handlers and an empty `records` folder, so that the
    config's relative paths (command, working_dir, the handlers' RECORD_FILE)
    resolve inside folder. Returns the config's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / "sluice.yaml"
    config_path.write_text((E2E_DIR / name).read_text())
    (folder / "handlers").symlink_to(E2E_DIR / "handlers")
    (folder / "records").mkdir()
    return config_path


def read_json_lines(path):
    """The complete JSON lines of a file ([] while it does not exist). A last
    line without its newline is a handler still writing it: left for the
    next read, not parsed half-written."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    lines = text.split("\n")
    lines.pop()  # "" after the last newline, or the unfinished line
    return [json.loads(line) for line in lines if line.strip()]


def make_lambda_client(endpoint_url, **config):
    """A boto3 Lambda client (REST-JSON), no retries."""
    cfg = dict(retries={"max_attempts": 1}, read_timeout=30, connect_timeout=5)
    cfg.update(config)
    return boto3.session.Session().client(
        "lambda",
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        endpoint_url=endpoint_url,
        config=Config(**cfg),
    )


def make_logs_client(endpoint_url, **config):
    """A boto3 CloudWatch Logs client (JSON 1.1), no retries."""
    cfg = dict(retries={"max_attempts": 1}, read_timeout=30, connect_timeout=5)
    cfg.update(config)
    return boto3.session.Session().client(
        "logs",
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        endpoint_url=endpoint_url,
        config=Config(**cfg),
    )


def function_log(endpoint_url, function):
    """A function's log as text: each event of /aws/lambda/<function>
    (FilterLogEvents, every page, oldest first) and a newline; "" while the
    group does not exist."""
    logs = make_logs_client(endpoint_url)
    out, token = [], None
    while True:
        args = {"logGroupName": f"/aws/lambda/{function}"}
        if token:
            args["nextToken"] = token
        try:
            page = logs.filter_log_events(**args)
        except logs.exceptions.ResourceNotFoundException:
            return ""
        out += [e["message"] + "\n" for e in page["events"]]
        token = page.get("nextToken")
        if not token:
            return "".join(out)


def function_arn(name):
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


# --------------------------------------------------------------------------
# API Gateway (tests/e2e/apigw*.yaml)
# --------------------------------------------------------------------------

class HttpAnswer:
    """One HTTP response: status, headers (an http.client.HTTPMessage:
    case-insensitive, get_all for repeated headers), raw body bytes, and
    the seconds it took."""

    def __init__(self, status, headers, body, elapsed):
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed

    def header(self, name):
        return self.headers.get(name)

    def header_all(self, name):
        return self.headers.get_all(name) or []

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"HTTP {self.status} {dict(self.headers.items())!r} {self.body[:300]!r}"


def http_call(base_url, method, path, body=None, headers=None, timeout=10):
    """One plain HTTP/1.1 request over http.client (no redirects, retries or
    added headers beyond Host and Content-Length). headers: a dict or a list
    of (name, value) pairs (a list can repeat a name); body: bytes or str.
    Returns an HttpAnswer."""
    host_port = base_url.split("://", 1)[1].rstrip("/")
    host, port = host_port.rsplit(":", 1)
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    data = body.encode("utf-8") if isinstance(body, str) else body
    conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=timeout)
    started = time.monotonic()
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in pairs:
            conn.putheader(name, value)
        if data is not None:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        resp = conn.getresponse()
        raw = resp.read()
        return HttpAnswer(resp.status, resp.msg, raw, time.monotonic() - started)
    finally:
        conn.close()


def start_api_server(config_name, folder):
    """A private sluice serving tests/e2e/<config_name> (staged into folder
    by stage_e2e_config). Its `apis` maps each API name to its base URL."""
    binary = sluice_binary()
    if not binary.exists():
        pytest.skip(f"needs the sluice binary ({binary}); set SLUICE_BIN")
    folder = Path(folder)
    config_path = stage_e2e_config(config_name, folder)
    return PrivateServer(binary, folder / "server", config_path=config_path)


# --------------------------------------------------------------------------
# Lambda runtimes (tests/e2e/runtimes.yaml)
# --------------------------------------------------------------------------

def stage_runtimes_config(folder):
    """Copies tests/e2e/runtimes.yaml into folder as sluice.yaml, next to a
    `runtimes` symlink to tests/e2e/runtimes, a `js-handlers` symlink to
    tests/sdk/js/handlers, and `cbuild/bootstrap` compiled with `cc` from
    tests/e2e/runtimes/c/bootstrap.c. Returns the config's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / "sluice.yaml"
    config_path.write_text((E2E_DIR / "runtimes.yaml").read_text())
    (folder / "runtimes").symlink_to(E2E_DIR / "runtimes")
    (folder / "js-handlers").symlink_to(REPO / "tests" / "sdk" / "js" / "handlers")
    (folder / "cbuild").mkdir()
    subprocess.run(["cc", "-O2", "-o", str(folder / "cbuild" / "bootstrap"),
                    str(E2E_DIR / "runtimes" / "c" / "bootstrap.c")], check=True, timeout=60)
    return config_path
