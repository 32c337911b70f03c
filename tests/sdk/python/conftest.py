"""Fixtures for the boto3 suite (query protocol, botocore 1.29).

A session fixture starts the real binary on port 0 with a fresh data
directory, or uses SLUICE_ENDPOINT when that is set. Helpers live in
sluice_helpers.py so that tests/durability can reuse them.
"""
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from sluice_helpers import PrivateServer, Queue, SluiceProcess, make_client, sluice_binary

DEFAULT_TIMEOUT = 60  # seconds, for tests without their own timeout marker


def pytest_collection_modifyitems(items):
    # Every test has a timeout, whichever ini file pytest picked up.
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(DEFAULT_TIMEOUT))


@pytest.fixture(scope="session")
def endpoint():
    """Base URL (http://host:port) of the sluice under test."""
    external = os.environ.get("SLUICE_ENDPOINT")
    if external:
        yield external.rstrip("/")
        return
    binary = sluice_binary()
    if not binary.exists():
        pytest.exit(f"sluice binary not found at {binary} (set SLUICE_BIN or SLUICE_ENDPOINT)", 2)
    tmp = tempfile.mkdtemp(prefix="sluice-py-")
    server = SluiceProcess(binary, Path(tmp) / "data", Path(tmp) / "sluice.log")
    try:
        yield server.endpoint
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def sqs(endpoint):
    return make_client(endpoint)


@pytest.fixture
def client_factory(endpoint):
    """Fresh clients, e.g. one per thread."""
    return lambda **cfg: make_client(endpoint, **cfg)


@pytest.fixture
def unique_name(request):
    """unique_name(tag='') -> a queue name no other test uses (<= 80 chars)."""
    base = re.sub(r"[^A-Za-z0-9_-]", "-", request.node.name)[:40].strip("-") or "q"

    def make(tag=""):
        suffix = uuid.uuid4().hex[:10]
        return (f"{base}-{tag}-{suffix}" if tag else f"{base}-{suffix}")[-80:]

    return make


@pytest.fixture
def new_queue(sqs, unique_name):
    """new_queue(tag='', attributes=None, tags=None) -> Queue, deleted afterwards."""
    created = []

    def make(tag="", attributes=None, tags=None, name=None):
        name = name or unique_name(tag)
        kwargs = {"QueueName": name}
        if attributes:
            kwargs["Attributes"] = {k: str(v) for k, v in attributes.items()}
        if tags:
            kwargs["tags"] = tags
        q = Queue(name, sqs.create_queue(**kwargs)["QueueUrl"])
        created.append(q)
        return q

    yield make
    for q in created:
        try:
            sqs.delete_queue(QueueUrl=q.url)
        except Exception:
            pass


@pytest.fixture(scope="module")
def private_server(tmp_path_factory):
    """private_server(config=None) -> PrivateServer: a sluice of its own for
    this module (own clock, optional YAML config text), stopped at the end of
    the module. Needs the binary even when SLUICE_ENDPOINT is set."""
    binary = sluice_binary()
    started = []

    def start(config=None):
        if not binary.exists():
            pytest.skip(f"a private server needs the sluice binary ({binary}); set SLUICE_BIN")
        server = PrivateServer(binary, tmp_path_factory.mktemp("sluice-private"), config=config)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
