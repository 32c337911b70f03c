"""`sluice validate` and start-up for functions with a Lambda runtime: what
the user is told about their code folder, handler and interpreter, each as
FILE:LINE:COLUMN with exit status 1, and the interpreter that will run."""
import os
import re
import stat
import subprocess

import pytest

from sluice_helpers import sluice_binary


def validate(tmp_path, text):
    cfg = tmp_path / "sluice.yaml"
    cfg.write_text(text)
    r = subprocess.run([str(sluice_binary()), "validate", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=30)
    return r, str(cfg)


@pytest.fixture
def code(tmp_path):
    d = tmp_path / "src"
    d.mkdir()
    (d / "app.py").write_text("def handler(event, context):\n    return event\n")
    (d / "index.mjs").write_text("export const handler = async (e) => e;\n")
    boot = d / "bootstrap"
    boot.write_text("#!/bin/sh\nexit 0\n")
    boot.chmod(boot.stat().st_mode | stat.S_IXUSR)
    return d


def test_validate_names_the_interpreter_and_its_version(tmp_path, code):
    r, cfg = validate(tmp_path, f"""functions:
  py:
    runtime: python3.12
    handler: app.handler
    code: src
  node:
    runtime: nodejs20.x
    handler: index.handler
    code: src
  custom:
    runtime: provided.al2023
    code: src
""")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"{cfg}: ok"
    version = subprocess.run(["python3", "--version"], capture_output=True, text=True).stdout.strip()
    note = "" if version.startswith("Python 3.12.") else (
        "; not the runtime's version: set runtimes: to choose another interpreter")
    assert re.fullmatch(r"function 'py': runtime python3\.12, handler app\.handler, runs \S*/python3 "
                        r"\(Python 3\.\d+\.\d+\)" + re.escape(note), lines[1]), lines[1]
    assert re.fullmatch(r"function 'node': runtime nodejs20\.x, handler index\.handler, runs \S*/node "
                        r"\(v\d+\.\d+\.\d+\)(; not the runtime's version.*)?", lines[2]), lines[2]
    assert lines[3] == f"function 'custom': runtime provided.al2023, runs {code}/bootstrap"


def test_missing_handler_file_is_a_config_error(tmp_path, code):
    r, cfg = validate(tmp_path, """functions:
  py:
    runtime: python3.12
    handler: orders.handler
    code: src
""")
    assert r.returncode == 1
    assert r.stderr == f"{cfg}:4:14: handler 'orders.handler': no orders.py (or orders/__init__.py) in {code}\n"


def test_missing_code_folder_is_a_config_error(tmp_path):
    r, cfg = validate(tmp_path, """functions:
  node:
    runtime: nodejs22.x
    handler: index.handler
    code: nowhere
""")
    assert r.returncode == 1
    assert r.stderr == f"{cfg}:5:11: code folder {tmp_path}/nowhere does not exist\n"


def test_missing_interpreter_is_a_config_error(tmp_path, code):
    r, cfg = validate(tmp_path, """runtimes:
  python: /no/such/python3
functions:
  py:
    runtime: python3.12
    handler: app.handler
    code: src
""")
    assert r.returncode == 1
    assert r.stderr == (f"{cfg}:4:3: function 'py': runtime python3.12: interpreter '/no/such/python3' is not "
                        "an executable file; install it or set runtimes: python: /path/to/it\n")


def test_serve_refuses_to_start_without_the_interpreter(tmp_path, code):
    cfg = tmp_path / "sluice.yaml"
    cfg.write_text("""runtimes:
  nodejs: no-such-node-binary
functions:
  node:
    runtime: nodejs20.x
    handler: index.handler
    code: src
""")
    r = subprocess.run([str(sluice_binary()), "serve", "--config", str(cfg), "--listen", "127.0.0.1:0",
                        "--data-dir", str(tmp_path / "data")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert (f"{cfg}:4:3: function 'node': runtime nodejs20.x: interpreter 'no-such-node-binary' is not on PATH; "
            "install it or set runtimes: nodejs: /path/to/it") in r.stderr
