"""The data directory (issue 11, data safety): `durability: normal | full`,
a read-only data directory refused at start in one line, and a data
directory that vanishes under a running sluice (the API answers 500
InternalError, the log says why, nothing crashes). boto3 for the API;
docs/reliability.md lists each case with its test."""
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from sluice_helpers import SluiceProcess, make_client, sluice_binary

pytestmark = pytest.mark.timeout(60)


def serve(tmp, config=None):
    cfg = None
    if config is not None:
        cfg = tmp / "sluice.yaml"
        cfg.write_text(config)
    return SluiceProcess(sluice_binary(), tmp / "data", tmp / "sluice.log", config_path=cfg)


@pytest.mark.parametrize("config,expect", [
    (None, "durability=normal synchronous=NORMAL"),
    ("durability: normal\n", "durability=normal synchronous=NORMAL"),
    ("durability: full\n", "durability=full synchronous=FULL"),
])
def test_durability_sets_sqlite_synchronous(tmp_path, config, expect):
    srv = serve(tmp_path, config)
    try:
        sqs = make_client(srv.endpoint)
        url = sqs.create_queue(QueueName="d")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="kept")
        # Read back from SQLite after the PRAGMA, not echoed from the config.
        log = Path(srv.log_path).read_text()
        assert expect in log
        # full: once running, commits leave their sync to the syncer thread
        off_loop = "commits are synced to the disk on the syncer thread before they are answered"
        assert (off_loop in log) == ("full" in expect), log
    finally:
        srv.stop()
    srv = serve(tmp_path, config)
    try:
        sqs = make_client(srv.endpoint)
        url = sqs.get_queue_url(QueueName="d")["QueueUrl"]
        assert [m["Body"] for m in sqs.receive_message(QueueUrl=url).get("Messages", [])] == ["kept"]
    finally:
        srv.stop()


def test_full_durability_syncs_off_the_loop_and_answers_after_the_sync(tmp_path, monkeypatch):
    """durability: full syncs the WAL on a thread of its own: while a sync
    is slow (the test variable makes each one wait 4 s), the loop still
    answers what needs no disk (health), and SQS calls, a send and a read
    after it alike, are answered only once the sync covering the send's
    commit has finished, never before."""
    import threading
    import urllib.request
    monkeypatch.setenv("SLUICE_TEST_SYNC_DELAY_MS", "4000")
    srv = serve(tmp_path, "durability: full\nqueues:\n  slow-disk: {}\n")
    try:
        sender, reader = make_client(srv.endpoint), make_client(srv.endpoint)
        url = f"{srv.endpoint}/000000000000/slow-disk"
        got = {}

        def send():
            got["send"] = sender.send_message(QueueUrl=url, MessageBody="on the disk")

        def read():
            got["read"] = reader.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])

        t_send = threading.Thread(target=send, daemon=True)
        t_send.start()
        time.sleep(1.0)  # the send is committed and its sync (4 s) has begun
        t_read = threading.Thread(target=read, daemon=True)
        t_read.start()
        time.sleep(0.5)
        with urllib.request.urlopen(f"{srv.endpoint}/_sluice/health", timeout=2) as r:
            assert r.status == 200  # the loop is free while the disk is slow
        assert t_send.is_alive(), "the send was answered before its sync finished"
        assert t_read.is_alive(), "a read after the send was answered before the send's sync finished"
        t_send.join(20)
        t_read.join(20)
        assert got["send"]["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert got["read"]["Attributes"]["ApproximateNumberOfMessages"] == "1"
    finally:
        srv.stop()


def test_bad_durability_is_a_config_error_with_its_position(tmp_path):
    cfg = tmp_path / "sluice.yaml"
    cfg.write_text("region: us-east-1\ndurability: fast\n")
    r = subprocess.run([str(sluice_binary()), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"),
                        "--config", str(cfg)], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert f'{cfg}:2:13: durability must be normal or full, got \'fast\'' in r.stderr, r.stderr


def test_read_only_data_dir_fails_at_start_in_one_line():
    base = Path(tempfile.mkdtemp(prefix="sluice-ro-"))
    try:
        base.chmod(0o755)
        data = base / "data"
        data.mkdir()
        data.chmod(0o555)
        argv = [str(sluice_binary()), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data)]
        if os.geteuid() == 0:  # root writes anywhere: run as nobody
            argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] + argv
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        assert r.returncode != 0
        lines = r.stderr.strip().splitlines()
        assert lines == [f"sluice: data directory '{data}' is not writable: Permission denied"], r.stderr
    finally:
        (base / "data").chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)


def test_vanished_data_dir_answers_500_and_logs_why(tmp_path):
    srv = serve(tmp_path)
    try:
        sqs = make_client(srv.endpoint)
        url = sqs.create_queue(QueueName="v")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="before")
        shutil.rmtree(tmp_path / "data")
        time.sleep(0.5)
        for body in ("after-1", "after-2"):
            with pytest.raises(ClientError) as e:
                sqs.send_message(QueueUrl=url, MessageBody=body)
            err = e.value.response
            assert err["ResponseMetadata"]["HTTPStatusCode"] == 500
            assert err["Error"]["Code"] == "InternalError", err["Error"]
        with pytest.raises(ClientError) as e:
            sqs.create_queue(QueueName="v2")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert srv.running()
        log = Path(srv.log_path).read_text()
        assert "the database file is gone from the data directory" in log
        assert log.count("the database file is gone") == 1, "logged once, not per call"
        assert f"path={tmp_path}/data/sluice.db" in log
    finally:
        code, graceful = srv.stop()
    assert graceful
