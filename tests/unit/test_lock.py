"""uv.lock is the one source of every Python package's version: it agrees with pyproject.toml,
the venvs run what it pins, and the files exported from it are current."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from conftest import REPO, locked_pins

UV = REPO / ".venv-uv" / "bin" / "uv"
ENV = dict(os.environ, UV_PREVIEW_FEATURES="package-conflicts", UV_PYTHON_DOWNLOADS="never")


def uv(*args: str) -> subprocess.CompletedProcess:
    assert UV.is_file(), "no .venv-uv/bin/uv: `make install` bootstraps it from requirements-uv.txt"
    return subprocess.run([str(UV), *args], cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120, check=False)


def test_the_lock_agrees_with_pyproject():
    done = uv("lock", "--check", "--offline")
    assert done.returncode == 0, done.stderr


def test_a_changed_requirement_makes_the_check_fail(tmp_path):
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        (tmp_path / name).write_bytes((REPO / name).read_bytes())
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"rapidfuzz>=3.9"', '"rapidfuzz>=3.9.1"'))
    done = subprocess.run([str(UV), "lock", "--check", "--offline", "--directory", str(tmp_path)],
                          env=ENV, capture_output=True, text=True, timeout=120, check=False)
    # uv re-resolves only a lock that no longer satisfies pyproject.toml; offline, that ends in
    # "needs to be updated" when the registry's pages are in uv's cache and in "No solution
    # found" when they are not (a fresh cache), never in a pass
    assert done.returncode != 0
    assert "needs to be updated" in done.stderr or "No solution found when resolving" in done.stderr, done.stderr


@pytest.mark.parametrize(("path", "group"), [("containers/tesseract/requirements.txt", "container"),
                                             ("requirements-uv.txt", "lock-tool")])
def test_exported_requirements_are_current(path, group):
    done = uv("export", "--frozen", "--no-emit-project", "--quiet", "--only-group", group, "-o", os.devnull)
    assert done.returncode == 0, done.stderr
    exported = uv("export", "--frozen", "--no-emit-project", "--quiet", "--only-group", group).stdout
    committed = (REPO / path).read_text()
    # the committed file starts with the command that wrote it, with its `-o PATH`
    assert locked_pins(committed) == locked_pins(exported), f"{path} is stale: run `make lock`"
    assert committed.split("\n", 2)[2] == exported.split("\n", 2)[2]


def test_the_venv_runs_exactly_the_locked_versions():
    done = uv("sync", "--frozen", "--python", sys.executable, "--extra", "tesseract", "--check")
    assert done.returncode == 0, done.stdout + done.stderr
    exported = locked_pins(uv("export", "--frozen", "--no-emit-project", "--quiet", "--extra", "tesseract").stdout)
    for name, version in exported.items():
        assert metadata.version(name) == version, name


@pytest.mark.parametrize(("venv", "group"), [(".venv-tasks-emulator", "tasks-emulator"), (".venv-checkov", "checkov")])
def test_the_tool_venvs_run_their_locked_versions(venv, group):
    python = REPO / venv / "bin" / "python"
    assert python.is_file(), f"no {venv}: `make install` makes it"
    pins = locked_pins(uv("export", "--frozen", "--no-emit-project", "--quiet", "--only-group", group).stdout)
    listed = subprocess.run([str(python), "-c", "import importlib.metadata as m, json; "
                             "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"],
                            capture_output=True, text=True, check=True)
    installed = {k.lower().replace("_", "-").replace(".", "-"): v for k, v in json.loads(listed.stdout).items()}
    assert {k: installed.get(k) for k in pins} == pins
