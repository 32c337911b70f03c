"""sluice's Python runtime: runs an unmodified Lambda handler
(`def handler(event, context)`) behind the Lambda Runtime API, as AWS's
managed python3.x runtime does (awslambdaric; shared/reference/runtime-api.md
§3). Plain Python 3.9+, standard library only.

Contract with sluice (docs/handlers.md, "Runtimes"):
- sluice runs `python3 <data_dir>/runtimes/python/bootstrap.py` with
  cwd = the code folder, stdin = /dev/null, stdout and stderr = the
  function's log (one log entry per line), and Lambda's environment:
  AWS_LAMBDA_RUNTIME_API (host:port), _HANDLER, LAMBDA_TASK_ROOT, ...
- Init: `_HANDLER` (`app.handler`, `src/app.handler`, `pkg.mod.fn`) is split
  at the last dot, `/` in the module part becomes `.`, and the module is
  imported from LAMBDA_TASK_ROOT (sys.path[0]). A failure is posted to
  /runtime/init/error (Runtime.MalformedHandlerName, ImportModuleError,
  UserCodeSyntaxError, HandlerNotFound, BuiltInModuleConflict, or the
  exception's own type), logged, and the process exits 1.
- Then forever: GET /runtime/invocation/next (held open by sluice, no
  timeout), call the handler with (event, context), POST the JSON result to
  /invocation/{id}/response, or the error
  {errorMessage, errorType, requestId, stackTrace} to /invocation/{id}/error.
  A result json cannot encode is Runtime.MarshalError.
- One keep-alive HTTP/1.1 connection for the whole life of the process,
  spoken by a small client on a raw socket (_socket): http.client would cost
  ~45 ms of imports at every cold start (email, ssl), and its header parser
  a good part of the 1 ms warm budget.
- Logs: stdout is unbuffered (every write goes out at once); `print` is raw.
  The root logging handler writes `[LEVEL]\t<UTC time>Z\t<requestId>\t<msg>`
  with `\n` inside a message turned into `\r`, so one call is one log
  entry; the level is AWS_LAMBDA_LOG_LEVEL, else Python's WARNING, as on
  Lambda. An error is logged as `[ERROR] Type: msg` + traceback, one entry.
- SDK redirect: botocore >= 1.31 (boto3 >= 1.28) reads AWS_ENDPOINT_URL and
  AWS_ENDPOINT_URL_<SERVICE> itself. For older ones (Debian's botocore 1.29)
  an import hook patches botocore.session.Session.create_client when, and
  only when, the handler imports botocore: a client created without
  endpoint_url gets the per-service variable, else AWS_ENDPOINT_URL.
- Nothing heavy is imported up front: logging is set up by the same kind of
  hook when the handler imports it; traceback only on an error.
"""
import _socket  # socket.py's wrapper (selectors, enum) is not needed here
import json
import os
import sys
import time

API_PREFIX = "/2018-06-01/runtime"
THIS_FILE = os.path.abspath(__file__)

_request_id = ""  # the current invocation's id ("" during init), for logging


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------

def _unbuffered_streams():
    """stdout and stderr straight to their descriptors: a write is a write(2),
    so nothing sits in a buffer when the instance is killed at a timeout."""
    import io
    for name, fd in (("stdout", 1), ("stderr", 2)):
        raw = io.FileIO(fd, "w", closefd=False)
        stream = io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace",
                                  line_buffering=False, write_through=True)
        setattr(sys, name, stream)
        setattr(sys, "__%s__" % name, stream)


def _write_log(text):
    """One log entry: inner newlines become \\r, so sluice logs one line."""
    sys.stdout.write(text.replace("\n", "\r") + "\n")


def _log_error(body):
    """`[ERROR] Type: msg`, then the traceback with indents as U+00A0 (as
    awslambdaric logs an error), as one entry."""
    lines = ["[ERROR] %s: %s" % (body.get("errorType", ""), body.get("errorMessage", ""))]
    trace = body.get("stackTrace") or []
    if trace:
        lines.append("Traceback (most recent call last):")
        for element in trace:
            for line in element.splitlines():
                stripped = line.lstrip(" ")
                lines.append("\u00a0" * (len(line) - len(stripped)) + stripped)
    _write_log("\n".join(lines))


# --------------------------------------------------------------------------
# The Runtime API client
# --------------------------------------------------------------------------

class RuntimeClient:
    """HTTP/1.1 over one persistent TCP connection to AWS_LAMBDA_RUNTIME_API.
    Reads Content-Length and chunked bodies; reconnects once when the
    connection was closed under it."""

    def __init__(self, hostport):
        host, _, port = hostport.rpartition(":")
        self.addr = (host.strip("[]") or "127.0.0.1", int(port))
        self.host = hostport
        self.sock = None
        self.buf = b""

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.buf = b""

    def request(self, method, path, body=b"", headers=None):
        """(status, headers with lower-case names, body bytes)."""
        head = "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n" % (method, path, self.host, len(body))
        if headers:
            for name, value in headers.items():
                head += "%s: %s\r\n" % (name, value)
        data = (head + "\r\n").encode("latin-1") + body
        for attempt in (0, 1):
            fresh = self.sock is None
            if fresh:
                family = _socket.AF_INET6 if ":" in self.addr[0] else _socket.AF_INET
                self.sock = _socket.socket(family, _socket.SOCK_STREAM)
                try:
                    self.sock.connect(self.addr)
                except OSError:
                    self.close()
                    raise
                self.sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            try:
                self.sock.sendall(data)
                return self._response()
            except (ConnectionError, EOFError):
                self.close()
                if fresh or attempt:
                    raise
        raise ConnectionError("unreachable")

    def _fill(self):
        chunk = self.sock.recv(262144)
        if not chunk:
            raise EOFError("the Runtime API closed the connection")
        self.buf += chunk

    def _take(self, n):
        if len(self.buf) < n:
            # A large body: gather the pieces, join once.
            parts, have = [self.buf], len(self.buf)
            while have < n:
                chunk = self.sock.recv(max(n - have, 65536))
                if not chunk:
                    raise EOFError("the Runtime API closed the connection")
                parts.append(chunk)
                have += len(chunk)
            self.buf = b"".join(parts)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                out, self.buf = self.buf[:i], self.buf[i + 2:]
                return out
            self._fill()

    def _response(self):
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                break
            self._fill()
        head, self.buf = self.buf[:i].decode("latin-1"), self.buf[i + 4:]
        lines = head.split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        hdrs = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            hdrs[name.strip().lower()] = value.strip()
        if hdrs.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self._line().split(b";", 1)[0], 16)
                if size == 0:
                    while self._line():  # trailers, up to the empty line
                        pass
                    break
                parts.append(self._take(size))
                self._take(2)
            body = b"".join(parts)
        elif "content-length" in hdrs:
            body = self._take(int(hdrs["content-length"]))
        else:  # no length: the body runs to the end of the connection
            try:
                while True:
                    self._fill()
            except EOFError:
                pass
            body, self.buf = self.buf, b""
            self.close()
        if hdrs.get("connection", "").lower() == "close" and self.sock is not None:
            self.close()
        return status, hdrs, body

    def post_json(self, path, doc, headers=None):
        h = {"Content-Type": "application/json"}
        if headers:
            h.update(headers)
        return self.request("POST", API_PREFIX + path, json.dumps(doc).encode("utf-8"), h)


# --------------------------------------------------------------------------
# Context
# --------------------------------------------------------------------------

class CognitoIdentity:
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __init__(self, doc=None):
        doc = doc or {}
        self.cognito_identity_id = doc.get("cognitoIdentityId")
        self.cognito_identity_pool_id = doc.get("cognitoIdentityPoolId")

    def __repr__(self):
        return "CognitoIdentity([cognito_identity_id=%s,cognito_identity_pool_id=%s])" % (
            self.cognito_identity_id, self.cognito_identity_pool_id)


class Client:
    __slots__ = ["installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name"]

    def __init__(self, doc):
        for name in self.__slots__:
            setattr(self, name, doc.get(name))


class ClientContext:
    __slots__ = ["custom", "env", "client"]

    def __init__(self, doc):
        self.custom = doc.get("custom")
        self.env = doc.get("env")
        client = doc.get("client")
        self.client = Client(client) if isinstance(client, dict) else None


class LambdaContext:
    """The `context` argument, with awslambdaric's attribute names."""

    def __init__(self, request_id, deadline_ms, arn, identity, client_context):
        env = os.environ
        self.aws_request_id = request_id
        self.invoked_function_arn = arn
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = identity
        self.client_context = client_context
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return ("LambdaContext([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,function_name=%s,"
                "memory_limit_in_mb=%s,function_version=%s,invoked_function_arn=%s,client_context=%s,"
                "identity=%s])" % (self.aws_request_id, self.log_group_name, self.log_stream_name,
                                   self.function_name, self.memory_limit_in_mb, self.function_version,
                                   self.invoked_function_arn, self.client_context, self.identity))


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

class Fault(Exception):
    """A runtime-side failure with Lambda's errorType (Runtime.*)."""

    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


def error_body(message, error_type, request_id, trace):
    return {"errorMessage": message or "", "errorType": error_type or "",
            "requestId": request_id or "", "stackTrace": trace or []}


def exception_body(exc, request_id):
    """awslambdaric's shape: the frames of this bootstrap (and of importlib,
    for an exception at import) at the top are dropped."""
    import traceback
    frames = traceback.extract_tb(exc.__traceback__)
    while frames and (os.path.abspath(frames[0].filename) == THIS_FILE or "importlib" in frames[0].filename):
        frames = frames[1:]
    return error_body(str(exc), type(exc).__name__, request_id, traceback.format_list(frames))


# --------------------------------------------------------------------------
# Lazy hooks: logging set-up and the botocore endpoint redirect
# --------------------------------------------------------------------------

class _PatchingLoader:
    """Wraps a module's loader: runs it, then `after(module)`."""

    def __init__(self, inner, after):
        self._inner = inner
        self._after = after

    def create_module(self, spec):
        create = getattr(self._inner, "create_module", None)
        return create(spec) if create else None

    def exec_module(self, module):
        self._inner.exec_module(module)
        self._after(module)

    def __getattr__(self, name):
        return getattr(self._inner, name)


class _ImportHook:
    """A sys.meta_path finder that calls after(module) once `name` has been
    imported by anyone, then removes itself."""

    def __init__(self, name, after):
        self.name = name
        self.after = after

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        spec = None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec

        def after(module):
            self.remove()
            self.after(module)

        spec.loader = _PatchingLoader(spec.loader, after)
        return spec

    def install(self):
        if self.name in sys.modules:
            self.after(sys.modules[self.name])
        else:
            sys.meta_path.insert(0, self)

    def remove(self):
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass


def _setup_logging(logging):
    """The root handler Lambda installs (awslambdaric's LambdaLoggerHandler)."""

    class LambdaLoggerHandler(logging.Handler):
        def emit(self, record):
            try:
                _write_log(self.format(record))
            except Exception:
                self.handleError(record)

    class RequestIdFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _request_id
            return True

    handler = LambdaLoggerHandler()
    formatter = logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
                                  "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if level in ("TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "CRITICAL", "FATAL"):
        root.setLevel({"TRACE": "DEBUG", "WARN": "WARNING", "FATAL": "CRITICAL"}.get(level, level))


def _endpoint_from_env(session, service_name, api_version):
    """The URL newer botocore would take from the environment, or None."""
    env = os.environ
    if env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    if any(k.startswith("AWS_ENDPOINT_URL_") for k in env):
        try:
            sid = session.get_service_model(service_name, api_version).metadata.get("serviceId") or service_name
        except Exception:
            sid = service_name
        key = "AWS_ENDPOINT_URL_" + sid.replace(" ", "_").replace("-", "_").upper()
        if env.get(key):
            return env[key]
    return env.get("AWS_ENDPOINT_URL") or None


def _patch_botocore_session(module):
    """botocore < 1.31 ignores AWS_ENDPOINT_URL*: fill endpoint_url in."""
    try:
        import botocore
        version = tuple(int(p) for p in botocore.__version__.split(".")[:2])
    except Exception:
        return
    if version >= (1, 31):
        return
    session_class = getattr(module, "Session", None)
    original = getattr(session_class, "create_client", None)
    if original is None or getattr(original, "_sluice_endpoint", False):
        return

    def create_client(self, service_name, *args, **kwargs):
        # (service_name, region_name, api_version, use_ssl, verify, endpoint_url, ...)
        if len(args) >= 5:
            if args[4] is None:
                url = _endpoint_from_env(self, service_name, args[1])
                if url:
                    args = args[:4] + (url,) + args[5:]
        elif kwargs.get("endpoint_url") is None:
            api_version = args[1] if len(args) >= 2 else kwargs.get("api_version")
            url = _endpoint_from_env(self, service_name, api_version)
            if url:
                kwargs["endpoint_url"] = url
        return original(self, service_name, *args, **kwargs)

    create_client._sluice_endpoint = True
    create_client.__doc__ = original.__doc__
    session_class.create_client = create_client


# --------------------------------------------------------------------------
# Init
# --------------------------------------------------------------------------

def load_handler(handler):
    """The handler function named by _HANDLER, or raises Fault / the module's
    own exception (awslambdaric's _get_handler)."""
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise Fault("Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (handler, e))
    modname = modname.replace("/", ".")
    if modname.split(".")[0] in sys.builtin_module_names:
        raise Fault("Runtime.BuiltInModuleConflict",
                    "Cannot use built-in module %s as a handler module" % modname)
    import importlib
    try:
        module = importlib.import_module(modname)
    except ImportError as e:
        raise Fault("Runtime.ImportModuleError", "Unable to import module '%s': %s" % (modname, e))
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, (e.text or "").strip())]
        raise Fault("Runtime.UserCodeSyntaxError", "Syntax error in module '%s': %s" % (modname, e), trace)
    fn = getattr(module, fname, None)
    if fn is None:
        raise Fault("Runtime.HandlerNotFound", "Handler '%s' missing on module '%s'" % (fname, modname))
    return fn


def _default(obj):
    """json.dumps fallback: Decimal (DynamoDB's numbers) as a number."""
    import decimal
    if isinstance(obj, decimal.Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    raise TypeError("Object of type %s is not JSON serializable" % type(obj).__name__)


def _marshal(result):
    try:
        return json.dumps(result, default=_default, ensure_ascii=False).encode("utf-8")
    except Exception as e:  # TypeError, ValueError, RecursionError...
        raise Fault("Runtime.MarshalError", "Unable to marshal response: %s" % e)


def main():
    global _request_id
    _unbuffered_streams()
    env = os.environ
    task_root = env.get("LAMBDA_TASK_ROOT") or os.getcwd()
    # sys.path[0] is this script's folder: the code folder takes its place.
    if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(THIS_FILE):
        sys.path[0] = task_root
    else:
        sys.path.insert(0, task_root)
    client = RuntimeClient(env["AWS_LAMBDA_RUNTIME_API"])

    _ImportHook("logging", _setup_logging).install()
    if env.get("AWS_ENDPOINT_URL") or any(k.startswith("AWS_ENDPOINT_URL_") for k in env):
        _ImportHook("botocore.session", _patch_botocore_session).install()

    try:
        handler = load_handler(env.get("_HANDLER", ""))
    except Fault as f:
        body = error_body(f.message, f.error_type, "", f.trace)
    except Exception as e:
        body = exception_body(e, "")
    else:
        body = None
    if body is not None:
        _log_error(body)
        client.post_json("/init/error", body, {"Lambda-Runtime-Function-Error-Type": body["errorType"]})
        sys.exit(1)

    while True:
        status, h, payload = client.request("GET", API_PREFIX + "/invocation/next")
        if status != 200:
            sys.stderr.write("runtime: /invocation/next answered %d: %s\n" % (status, payload[:200]))
            sys.exit(1)
        rid = h.get("lambda-runtime-aws-request-id", "")
        _request_id = rid
        trace_id = h.get("lambda-runtime-trace-id")
        if trace_id:
            env["_X_AMZN_TRACE_ID"] = trace_id
        elif "_X_AMZN_TRACE_ID" in env:
            del env["_X_AMZN_TRACE_ID"]
        try:
            identity = h.get("lambda-runtime-cognito-identity")
            identity = CognitoIdentity(json.loads(identity) if identity else None)
            client_context = h.get("lambda-runtime-client-context")
            client_context = ClientContext(json.loads(client_context)) if client_context else None
            try:
                event = json.loads(payload) if payload else None
            except ValueError as e:
                raise Fault("Runtime.UnmarshalError", "Unable to unmarshal input: %s" % e)
            context = LambdaContext(rid, int(h.get("lambda-runtime-deadline-ms") or 0),
                                    h.get("lambda-runtime-invoked-function-arn"), identity, client_context)
            result = _marshal(handler(event, context))
        except Fault as f:
            body = error_body(f.message, f.error_type, rid, f.trace)
        except Exception as e:
            body = exception_body(e, rid)
        else:
            client.request("POST", "%s/invocation/%s/response" % (API_PREFIX, rid), result,
                           {"Content-Type": "application/json"})
            continue
        _log_error(body)
        client.post_json("/invocation/%s/error" % rid, body)


if __name__ == "__main__":
    main()
