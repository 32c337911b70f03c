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
        assert expect in Path(srv.log_path).read_text()
    finally:
        srv.stop()
    srv = serve(tmp_path, config)
    try:
        sqs = make_client(srv.endpoint)
        url = sqs.get_queue_url(QueueName="d")["QueueUrl"]
        assert [m["Body"] for m in sqs.receive_message(QueueUrl=url).get("Messages", [])] == ["kept"]
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
