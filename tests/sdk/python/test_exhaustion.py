"""Exhaustion (issue 11): more connections than descriptors, a connection
cap, and a cap on the memory request bodies hold. sluice is started with a
low open-files limit (RLIMIT_NOFILE set before the exec); raw sockets play
the flood, http.client and boto3 check that sluice still serves.
docs/reliability.md lists each case with its test."""
import http.client
import os
import socket
import stat
import time
from pathlib import Path

import pytest

from sluice_helpers import SluiceProcess, make_client, sluice_binary

pytestmark = pytest.mark.timeout(120)


def start(tmp, config, soft, hard):
    """sluice behind a tiny exec wrapper that sets RLIMIT_NOFILE first (the
    pid stays sluice's)."""
    wrapper = tmp / "limited"
    wrapper.write_text(
        "#!/usr/bin/python3\n"
        "import os, resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, {hard}))\n"
        f"os.execv({str(sluice_binary())!r}, [{str(sluice_binary())!r}] + sys.argv[1:])\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    cfg = tmp / "sluice.yaml"
    cfg.write_text(config)
    return SluiceProcess(wrapper, tmp / "data", tmp / "sluice.log", config_path=cfg)


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_over(pid, seconds=1.0):
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return cpu_seconds(pid) - before


def open_files_limits(pid):
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            parts = line.split()
            return int(parts[3]), int(parts[4])
    raise AssertionError("no open-files line")


def health(conn):
    conn.request("GET", "/_sluice/health")
    resp = conn.getresponse()
    resp.read()
    return resp.status


def flood(port, count):
    """count connection attempts; the sockets that connected (once the
    listen backlog is full the kernel refuses or drops the rest)."""
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.settimeout(0.2)
        try:
            s.connect(("127.0.0.1", port))
            socks.append(s)
        except OSError:
            s.close()
    return socks


def first_bytes(s, timeout):
    s.settimeout(timeout)
    try:
        return s.recv(64)
    except (socket.timeout, ConnectionResetError):
        return None


@pytest.fixture
def tmp(tmp_path):
    return tmp_path


def test_more_connections_than_descriptors_no_spin_one_log_line(tmp):
    # The cap above the descriptors: accept() itself fails with EMFILE.
    srv = start(tmp, "limits:\n  max_connections: 100000\n", 128, 128)
    try:
        keep = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        assert health(keep) == 200
        socks = flood(srv.port, 260)
        assert len(socks) > 160, f"only {len(socks)} connections: not more than the 128 descriptors"
        time.sleep(0.5)
        log_before = os.path.getsize(srv.log_path)
        cpu = cpu_over(srv.pid, 1.0)
        assert cpu < 0.25, f"sluice used {cpu:.2f} s of CPU in 1 s while out of descriptors"
        t0 = time.monotonic()
        assert health(keep) == 200, "an open keep-alive connection is no longer served"
        assert time.monotonic() - t0 < 1.0
        time.sleep(1.0)
        grown = os.path.getsize(srv.log_path) - log_before
        assert grown < 4096, f"the log grew {grown} bytes in 1 s while out of descriptors"
        for s in socks:
            s.close()
        # Descriptors free again: new clients are served.
        sqs = make_client(srv.endpoint)
        deadline = time.monotonic() + 10
        while True:
            try:
                sqs.list_queues()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        log = Path(srv.log_path).read_text(errors="replace")
        assert log.count("cannot accept connections") <= 2, log[-3000:]
        assert "cannot accept connections" in log
        assert srv.running()
    finally:
        srv.stop()


def test_connections_beyond_the_cap_get_503_and_the_soft_limit_is_raised(tmp):
    srv = start(tmp, "limits:\n  max_connections: 40\n", 64, 256)
    try:
        assert open_files_limits(srv.pid) == (256, 256), "the soft open-files limit was not raised"
        keep = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        assert health(keep) == 200
        socks = flood(srv.port, 120)
        answers = [first_bytes(s, 2.0) for s in socks[60:]]
        refused = [a for a in answers if a and a.startswith(b"HTTP/1.1 503")]
        assert len(refused) == 60, f"{len(refused)} of the 60 connections beyond the cap were answered 503"
        cpu = cpu_over(srv.pid, 1.0)
        assert cpu < 0.25, f"sluice used {cpu:.2f} s of CPU in 1 s at its connection cap"
        assert health(keep) == 200
        for s in socks:
            s.close()
        time.sleep(0.3)
        make_client(srv.endpoint).list_queues()
    finally:
        srv.stop()


def vm_rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmRSS")


def test_unfinished_bodies_beyond_the_body_memory_cap_get_503(tmp):
    srv = start(tmp, "limits:\n  body_memory: 64\n", 1024, 1024)
    try:
        size = 16 * 1024 * 1024 - 64
        chunk = b"x" * (1 << 20)
        socks, statuses = [], []
        for _ in range(12):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.sendall(f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
                      f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {size}\r\n\r\n".encode())
            left = size - 1
            try:
                while left:
                    n = min(left, len(chunk))
                    s.sendall(chunk[:n])
                    left -= n
            except (BrokenPipeError, ConnectionResetError):
                pass
            socks.append(s)
        for s in socks:
            statuses.append(first_bytes(s, 1.0))
        refused = [a for a in statuses if a and a.startswith(b"HTTP/1.1 503")]
        # 64 MiB holds four bodies of just under 16 MiB; the rest are refused.
        assert len(refused) >= 7, f"only {len(refused)} of 12 unfinished 16 MB bodies were refused (cap 64 MiB)"
        if "libasan" not in Path(f"/proc/{srv.pid}/maps").read_text():  # ASan's quarantine keeps freed memory
            rss = vm_rss_mb(srv.pid)
            assert rss < 150, f"sluice holds {rss} MB with a 64 MiB body cap"
        # Small requests still go through while the cap is full.
        sqs = make_client(srv.endpoint)
        url = sqs.create_queue(QueueName="still-served")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="hello")
        for s in socks:
            s.close()
        assert srv.running()
    finally:
        srv.stop()


def test_limits_out_of_range_are_config_errors_with_their_position(tmp):
    import subprocess
    cfg = tmp / "sluice.yaml"
    cfg.write_text("limits:\n  max_connections: 5\n  body_memory: 0\n  event_concurrency: 1001\n  nope: 1\n")
    r = subprocess.run([str(sluice_binary()), "validate", "--config", str(cfg)], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode != 0
    assert r.stderr.splitlines() == [
        f"{cfg}:2:20: max_connections must be between 16 and 1000000, got 5",
        f"{cfg}:3:16: body_memory must be between 16 and 65536, got 0",
        f"{cfg}:4:22: event_concurrency must be between 1 and 1000, got 1001",
        f"{cfg}:5:3: unknown key 'nope'",
    ], r.stderr
