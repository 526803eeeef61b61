"""Security of what users run: the rate limit behind proxies, tested through functions-framework
as production runs a function (its own server, headers as sent); the operator API token; a
non-loopback `pagesage serve` refused without one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from conftest import REPO, SAMPLES, wait_for
from servers import LiveServer

from pagesage import emulators
from pagesage.cli import main

FUNCTIONS_FRAMEWORK = Path(sys.executable).with_name("functions-framework")
UNKNOWN = "A" * 43


@pytest.fixture
def status_function(tmp_path):
    """The `status` function under `functions-framework --target=status`, as Cloud Functions
    runs it, with a limit of 3 requests a minute and one trusted proxy hop (production's
    Terraform setting)."""
    port = emulators.free_port()
    env = {**os.environ, "PAGESAGE_DATA_DIR": str(tmp_path / "data"), "PAGESAGE_RATE_LIMIT": "3",
           "PAGESAGE_TRUSTED_PROXY_HOPS": "1"}
    process = subprocess.Popen([str(FUNCTIONS_FRAMEWORK), "--target=status", f"--source={REPO / 'functions/status/main.py'}",
                                f"--port={port}", "--host=127.0.0.1"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert process.poll() is None, "functions-framework exited"
        try:
            return httpx.get(f"{url}/ready", timeout=1).status_code == 404
        except httpx.HTTPError:
            return False

    wait_for(answers, 30, "functions-framework did not answer", interval=0.1)
    yield url
    process.terminate()
    process.wait(10)


def test_forged_forwarded_hops_do_not_escape_the_rate_limit(status_function):
    # the warm-up request above counted for 127.0.0.1, the socket peer (no X-Forwarded-For)
    client = "203.0.113.7"  # what Google's front end appends: the real client
    codes = [httpx.get(f"{status_function}/{UNKNOWN}", headers={"X-Forwarded-For": f"198.51.100.{i}, {client}"}).status_code
             for i in range(5)]
    assert codes == [404, 404, 404, 429, 429]  # five forged first hops, one client: the limit holds
    refused = httpx.get(f"{status_function}/{UNKNOWN}", headers={"X-Forwarded-For": f"10.0.0.1, {client}"})
    assert refused.json()["error_code"] == "rate_limited" and int(refused.headers["Retry-After"]) >= 1
    other = httpx.get(f"{status_function}/{UNKNOWN}", headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.8"})
    assert other.status_code == 404  # another client behind the same front end has its own budget


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """`pagesage serve` with an operator API token."""
    with LiveServer(tmp_path_factory.mktemp("guarded") / "data", env={"PAGESAGE_API_TOKEN": "s3cret-token"}) as server:
        yield server.url


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v1/ocr/source_docs"), ("POST", "/api/v1/ocr/runs"), ("PATCH", "/api/v1/ocr/page_results/x/review"),
    ("GET", "/api/v1/costs"), ("GET", "/costs"), ("POST", "/ocr"), ("POST", "/sweep"),
])
def test_operator_endpoints_need_the_token(guarded, method, path):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-token"}):
        response = httpx.request(method, f"{guarded}{path}", headers=headers, json={})
        assert response.status_code == 401, (headers, response.text)
        assert response.json()["error_code"] == "unauthorized" and response.headers["WWW-Authenticate"].startswith("Bearer")
    admitted = httpx.request(method, f"{guarded}{path}", headers={"Authorization": "Bearer s3cret-token"}, json={})
    assert admitted.status_code != 401


def test_the_public_functions_need_no_token(guarded):
    with open(SAMPLES / "alice_1.png", "rb") as stream:
        assert httpx.post(f"{guarded}/upload", files={"file": ("a.png", stream, "image/png")}).status_code == 202
    assert httpx.get(f"{guarded}/status/{UNKNOWN}").status_code == 404


def test_the_cli_sends_the_token_from_the_environment(guarded, monkeypatch):
    monkeypatch.setenv("PAGESAGE_API_TOKEN", "s3cret-token")
    done = CliRunner().invoke(main, ["costs", "--url", guarded])
    assert done.exit_code == 0, done.output
    monkeypatch.setenv("PAGESAGE_API_TOKEN", "wrong")
    refused = CliRunner().invoke(main, ["costs", "--url", guarded])
    assert refused.exit_code == 1 and "401 unauthorized" in refused.output


def test_serving_beyond_loopback_needs_a_token(tmp_path):
    env = {**os.environ, "PAGESAGE_DATA_DIR": str(tmp_path / "data")}
    env.pop("PAGESAGE_API_TOKEN", None)
    refused = subprocess.run([str(Path(sys.executable).with_name("pagesage")), "serve", "--host", "0.0.0.0", "--port",
                              str(emulators.free_port())], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "PAGESAGE_API_TOKEN" in refused.stderr
    with LiveServer(tmp_path / "data", env={"PAGESAGE_API_TOKEN": "t0ken"}) as loopback:  # loopback: fine either way
        assert httpx.get(f"{loopback.url}/api/v1/ocr/source_docs").status_code == 401
