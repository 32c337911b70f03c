"""Handlers that misbehave or a sluice that is large (issue 11, handlers):
"Max Memory Used" is the handler's own peak, never sluice's; processes a
handler leaves behind (a double fork, setsid) end with its invocation.
boto3's Lambda client calls Invoke; raw sockets hold unfinished request
bodies to make sluice large. docs/reliability.md lists each case."""
import base64
import json
import os
import re
import socket
import time
from pathlib import Path

import pytest

from sluice_helpers import make_lambda_client

pytestmark = pytest.mark.timeout(90)

LEAVE = ("(setsid sh -c 'echo $$ > \"$PIDFILE\"; exec sleep 60' </dev/null >/dev/null 2>&1 &); "
         "while [ ! -s \"$PIDFILE\" ]; do sleep 0.01; done; ")


def config(tmp):
    def cmd(script):
        return json.dumps(["/bin/sh", "-c", "cat >/dev/null; " + script])
    # A child (not a double fork) that clears its environment and calls
    # setsid, seen while the handler runs.
    noenv = ("env -i PIDFILE=\"$PIDFILE\" setsid sh -c 'echo $$ > \"$PIDFILE\"; exec sleep 60' "
             "</dev/null >/dev/null 2>&1 & sleep 0.5; echo '{}'")
    tiny = cmd("echo '{\"ok\":true}'")
    return f"""
functions:
  tiny:
    command: {tiny}
    memory: 128
    timeout: 10
  leaver:
    command: {cmd(LEAVE + "echo '{}'")}
    timeout: 10
    memory: 1024
    environment:
      PIDFILE: {tmp}/leaver.pid
  leaver-noenv:
    command: {cmd(noenv)}
    timeout: 10
    memory: 1024
    environment:
      PIDFILE: {tmp}/noenv.pid
  leaver-timeout:
    command: {cmd(LEAVE + "sleep 30")}
    timeout: 1
    memory: 1024
    environment:
      PIDFILE: {tmp}/timeout.pid
"""


@pytest.fixture(scope="module")
def server(private_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("handler-limits")
    srv = private_server(config(tmp))
    srv.tmp = tmp
    srv.lam = make_lambda_client(srv.endpoint, read_timeout=60)
    return srv


def vm_hwm_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    raise AssertionError("no VmHWM")


def invoke_tail(lam, name):
    out = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    log = base64.b64decode(out["LogResult"]).decode()
    return out, out["Payload"].read(), log


def hold_unfinished_bodies(endpoint, count, size):
    """Opens count connections, each sending all but the last byte of a
    size-byte body; returns the sockets (close them to let go)."""
    port = int(endpoint.rsplit(":", 1)[1])
    socks = []
    chunk = b"x" * (1 << 20)
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                  f"Content-Length: {size}\r\n\r\n".encode())
        left = size - 1
        while left:
            n = min(left, len(chunk))
            s.sendall(chunk[:n])
            left -= n
        socks.append(s)
    return socks


def test_max_memory_used_is_the_handlers_own_not_sluices(server):
    socks = hold_unfinished_bodies(server.endpoint, 10, 16 * 1024 * 1024 - 64)
    try:
        # sluice now holds ~160 MB of bodies: its peak is above the function's memory.
        deadline = time.monotonic() + 20
        while vm_hwm_mb(server.process.pid) <= 150 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert vm_hwm_mb(server.process.pid) > 150, "the test could not make sluice large"
        for _ in range(3):
            out, payload, log = invoke_tail(server.lam, "tiny")
            used = int(re.search(r"Max Memory Used: (\d+) MB", log).group(1))
            assert "FunctionError" not in out, f"a trivial handler failed: {payload!r}\n{log}"
            assert payload == b'{"ok":true}\n' or payload == b'{"ok":true}', payload
            assert 1 <= used <= 128, f"Max Memory Used {used} MB for a trivial handler:\n{log}"
    finally:
        for s in socks:
            s.close()


def gone(pid, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except FileNotFoundError:
            return True
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            pass  # a zombie: dead, but someone must still reap it
        time.sleep(0.05)
    return False


def read_pid(path, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            text = open(path).read().strip()
            if text:
                return int(text)
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"the handler wrote no pid to {path}")


def kill_quietly(pid):
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass


@pytest.mark.parametrize("name,pidfile", [
    ("leaver", "leaver.pid"),              # a setsid grandchild with the invocation's environment
    ("leaver-noenv", "noenv.pid"),         # a setsid child with a cleared environment
])
def test_a_setsid_grandchild_ends_with_its_invocation(server, name, pidfile):
    out, payload, log = invoke_tail(server.lam, name)
    assert "FunctionError" not in out, f"{payload!r}\n{log}"
    pid = read_pid(server.tmp / pidfile)
    try:
        assert gone(pid), f"pid {pid} (setsid, double fork) outlived invocation of {name}"
    finally:
        kill_quietly(pid)


def test_a_setsid_grandchild_ends_when_its_invocation_times_out(server):
    out, payload, log = invoke_tail(server.lam, "leaver-timeout")
    assert out.get("FunctionError") == "Unhandled", f"{payload!r}\n{log}"
    assert b"Sandbox.Timedout" in payload, payload
    pid = read_pid(server.tmp / "timeout.pid")
    try:
        assert gone(pid), f"pid {pid} (setsid, double fork) outlived its timed-out invocation"
    finally:
        kill_quietly(pid)


# --------------------------------------------------------------------------
# Event (asynchronous) invocations run within a concurrency cap
# --------------------------------------------------------------------------

# Each run leaves a file in RUN_DIR while it runs and logs how many it saw
# (itself included) at its start; a finished run appends to DONE.
COUNTING = ("mkdir -p \"$RUN_DIR\"; touch \"$RUN_DIR/$$\"; ls \"$RUN_DIR\" | wc -l >> \"$SEEN\"; "
            "sleep 0.2; rm -f \"$RUN_DIR/$$\"; echo x >> \"$DONE\"; echo '{}'")


def async_config(tmp, limits=""):
    return f"""
{limits}
functions:
  counted:
    command: {json.dumps(["/bin/sh", "-c", "cat >/dev/null; " + COUNTING])}
    timeout: 30
    environment:
      RUN_DIR: {tmp}/running
      SEEN: {tmp}/seen.txt
      DONE: {tmp}/done.txt
"""


def fire_events(lam, count):
    from concurrent.futures import ThreadPoolExecutor

    def one(i):
        out = lam.invoke(FunctionName="counted", InvocationType="Event", Payload=json.dumps({"i": i}).encode())
        return out["StatusCode"]

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(count)))


def lines(path):
    try:
        return open(path).read().split()
    except FileNotFoundError:
        return []


@pytest.mark.parametrize("limits,cap", [
    ("", 10),                                   # the default cap
    ("limits:\n  event_concurrency: 4", 4),     # a configured one
])
def test_200_event_invokes_run_within_the_cap_and_all_run(private_server, tmp_path_factory, limits, cap):
    tmp = tmp_path_factory.mktemp("events")
    srv = private_server(async_config(tmp, limits))
    lam = make_lambda_client(srv.endpoint)
    codes = fire_events(lam, 200)
    assert codes == [202] * 200
    deadline = time.monotonic() + 60
    while len(lines(tmp / "done.txt")) < 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    seen = [int(n) for n in lines(tmp / "seen.txt")]
    assert len(lines(tmp / "done.txt")) == 200, f"{len(lines(tmp / 'done.txt'))} of 200 Event invocations ran"
    assert len(seen) == 200
    assert max(seen) <= cap, f"{max(seen)} ran at once; the cap is {cap}"
    assert max(seen) >= 2, "Event invocations did not run in parallel at all"


# --------------------------------------------------------------------------
# Event invocations that fail are retried, as Lambda does
# --------------------------------------------------------------------------

FAILING = "cat >/dev/null; echo \"$AWS_REQUEST_ID\" >> \"$TRIES\"; exit 1"


def retry_config(tmp):
    cmd = json.dumps(["/bin/sh", "-c", FAILING])
    return f"""
functions:
  fails:                  # AWS's defaults: 2 retries, 6 hours
    command: {cmd}
    environment: {{TRIES: {tmp}/fails.txt}}
  fails-once:
    command: {cmd}
    maximum_retry_attempts: 0
    environment: {{TRIES: {tmp}/once.txt}}
  fails-young:
    command: {cmd}
    maximum_event_age: 60
    environment: {{TRIES: {tmp}/young.txt}}
"""


def test_a_failed_event_invocation_is_retried_twice_a_minute_then_two_later(private_server, tmp_path_factory):
    from sluice_helpers import Clock
    tmp = tmp_path_factory.mktemp("retries")
    srv = private_server(retry_config(tmp))
    lam = make_lambda_client(srv.endpoint)
    clock = Clock(srv.endpoint)
    rids = {}
    for name in ("fails", "fails-once", "fails-young"):
        out = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
        assert out["StatusCode"] == 202
        rids[name] = out["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]

    def tries(f):
        return lines(tmp / f)

    def settle(f, n):
        deadline = time.monotonic() + 10
        while len(tries(f)) < n and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)  # a retry tick, so that an extra attempt would show
        return tries(f)

    assert settle("fails.txt", 1) == [rids["fails"]]
    assert settle("once.txt", 1) == [rids["fails-once"]]
    assert settle("young.txt", 1) == [rids["fails-young"]]
    clock.advance(61)                                  # the first retry is due (the same request id)
    assert settle("fails.txt", 2) == [rids["fails"]] * 2
    assert tries("once.txt") == [rids["fails-once"]]   # maximum_retry_attempts: 0
    assert tries("young.txt") == [rids["fails-young"]] # older than maximum_event_age: 60 when due
    clock.advance(61)
    assert settle("fails.txt", 2) == [rids["fails"]] * 2  # the second retry waits two minutes
    clock.advance(60)
    assert settle("fails.txt", 3) == [rids["fails"]] * 3
    clock.advance(600)
    assert settle("fails.txt", 4) == [rids["fails"]] * 3  # three attempts in all
    log = Path(srv.process.log_path).read_text()
    assert "event invocation failed; will retry" in log
    assert 'why="maximum_event_age"' in log
