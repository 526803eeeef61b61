"""The Tesseract container (`containers/tesseract/`) served for real, driven by `RemoteTesseractEngine`.

The container's app runs in-process under waitress on a free loopback port, as its image runs it
(no Docker here). A thin WSGI layer in front of it stands in for Cloud Run's front end: it
records each request's path and `Authorization` header and can answer scripted statuses (a 503
while no instance is free) before passing requests on.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import re
import socket
import subprocess
import sys
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import httpx
import pytest
import waitress
from conftest import REPO, SAMPLES, locked_pins, wait_for
from conftest import normalized_name as _norm
from dockerfile_parse import DockerfileParser
from lxml import html as lxml_html
from PIL import Image

from pagesage.engines.remote_tesseract import GoogleIdTokenSource, RemoteEngineOutput, RemoteTesseractEngine
from pagesage.engines.tesseract import TesseractEngine
from pagesage.errors import EngineError, PageSageError, TransientError
from pagesage.server import serving as serving_server

CONTAINER = REPO / "containers" / "tesseract"
ALICE = SAMPLES / "alice_1.png"
SMALL_LIMIT = 64 * 1024  # bytes: the body limit of the second server, to see 413s


def _load_app_module():
    spec = importlib.util.spec_from_file_location("tesseract_container_app", CONTAINER / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


container_app = _load_app_module()


class Frontend:
    """WSGI in front of the app: records (method, path, Authorization) and answers the scripted
    statuses first, each once, for `only` paths."""

    def __init__(self, app):
        self.app = app
        self.seen: list[tuple[str, str, str | None]] = []
        self.script: list[int] = []
        self.only = "/recognize"

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        self.seen.append((environ["REQUEST_METHOD"], path, environ.get("HTTP_AUTHORIZATION")))
        if self.script and path == self.only:
            status = self.script.pop(0)
            start_response(f"{status} Scripted", [("Content-Type", "text/html")])
            return [b"<html>Service Unavailable</html>"]
        return self.app(environ, start_response)

    def reset(self) -> None:
        self.seen.clear()
        self.script.clear()


@contextmanager
def serving(app):
    """`app` under waitress on a free loopback port; yields its base URL."""
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2, ident="test-tesseract")
    with serving_server(server):
        yield f"http://127.0.0.1:{server.effective_port}"


@pytest.fixture(scope="module")
def local() -> TesseractEngine:
    return TesseractEngine()


@pytest.fixture(scope="module")
def frontend(local):
    return Frontend(container_app.create_app(local))


@pytest.fixture(scope="module")
def url(frontend):
    with serving(frontend) as base:
        yield base


@pytest.fixture(scope="module")
def small_url():
    with serving(container_app.create_app(TesseractEngine(), max_body_bytes=SMALL_LIMIT)) as base:
        yield base


@pytest.fixture
def front(frontend):
    frontend.reset()
    yield frontend
    frontend.reset()


@pytest.fixture
def remote(url):
    with RemoteTesseractEngine(url, timeout=120, retry_initial=0.05, retry_deadline=2.0) as engine:
        yield engine


def _jpeg(tmp_path: Path) -> Path:
    path = tmp_path / "alice.jpg"
    Image.open(ALICE).convert("L").save(path, format="JPEG", quality=90)
    return path


# -- same words as in-process -----------------------------------------------------------------

@pytest.mark.parametrize("source, languages", [
    ("samples/alice_1.png", "eng"),
    ("corpus/san-imagessan/shreelipi-p001.png", "Devanagari"),
    ("corpus/eng-oldbooks/a041.tiff", "eng"),
    ("jpeg", "eng"),
])
def test_the_container_reads_a_page_exactly_as_the_local_engine(source, languages, remote, local, request, tmp_path):
    if source == "jpeg":
        image = _jpeg(tmp_path)
    elif source.startswith("corpus/"):
        image = request.getfixturevalue("corpus") / source.removeprefix("corpus/")
    else:
        image = REPO / source
    here = local.recognize(image, languages=languages, dpi=300, psm=3)
    there = remote.recognize(image, languages=languages, dpi=300, psm=3)
    assert isinstance(there, RemoteEngineOutput)
    assert len(here.words) > 50
    assert there.words == here.words  # text, bbox (pixels), confidence, block/par/line
    assert 0 < there.seconds < there.round_trip_seconds


def test_detect_gives_the_local_osd_and_the_engine_seconds(remote, local, corpus):
    for image, script in ((ALICE, "Latin"), (corpus / "san-imagessan" / "shreelipi-p001.png", "Devanagari")):
        (there, seconds), (here, _) = remote.detect(image, dpi=300), local.detect(image, dpi=300)
        assert there == here
        assert there.script == script and there.rotate == 0
        assert seconds > 0


def test_detect_sends_pixels_as_a_png(remote, local):
    with Image.open(ALICE) as opened:
        pixels = opened.convert("1", dither=Image.Dither.NONE)
    (there, _), (here, _) = remote.detect(pixels, dpi=300), local.detect(pixels, dpi=300)
    assert there is not None and there == here


def test_detect_on_a_blank_page_is_null(remote, tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("L", (800, 1000), 255).save(blank)
    assert remote.detect(blank, dpi=300)[0] is None


def test_version_and_languages_come_from_health_once(url, local):
    calls: list[str] = []
    http = httpx.Client(timeout=30, event_hooks={"request": [lambda r: calls.append(r.url.path)]})
    with RemoteTesseractEngine(url, timeout=30, http=http) as engine:
        assert engine.version() == local.version()
        assert engine.installed_languages() == local.installed_languages()
        assert {"eng", "Devanagari", "san", "hin", "osd"} <= engine.installed_languages()
        engine.version()
    assert calls == ["/health"]
    assert httpx.get(f"{url}/healthz").json() == httpx.get(f"{url}/health").json()
    http.close()


def test_hocr_holds_the_same_words(remote, local):
    hocr, seconds = remote.hocr(ALICE, languages="eng", dpi=300, psm=3)
    tree = lxml_html.fromstring(hocr)
    words = [w.text_content() for w in tree.xpath("//*[@class='ocrx_word']") if w.text_content().strip()]
    assert words == [w.text for w in local.recognize(ALICE, languages="eng", dpi=300, psm=3).words]
    assert tree.xpath("//*[@class='ocr_page']") and seconds > 0


# -- refusals: status and the common error body ----------------------------------------------

PNG = ALICE.read_bytes()


@pytest.mark.parametrize("params, content_type, body, status, code", [
    ({}, "application/pdf", b"%PDF-1.4", 415, "invalid_format"),
    ({}, None, PNG, 415, "invalid_format"),
    ({}, "image/png", b"", 400, "empty_file"),
    ({}, "image/jpeg", PNG, 400, "content_type_mismatch"),
    ({}, "image/png", b"GIF89a" + bytes(100), 400, "content_type_mismatch"),
    ({"dpi": "abc"}, "image/png", PNG, 400, "bad_request"),
    ({"dpi": "10"}, "image/png", PNG, 400, "bad_request"),
    ({"psm": "0"}, "image/png", PNG, 400, "bad_request"),
    ({"psm": "2"}, "image/png", PNG, 400, "bad_request"),
    ({"format": "pdf"}, "image/png", PNG, 400, "bad_request"),
    ({"lang": "xyz"}, "image/png", PNG, 400, "invalid_language"),
    ({"lang": "auto"}, "image/png", PNG, 400, "invalid_language"),
    ({"lang": "eng;rm"}, "image/png", PNG, 400, "invalid_language"),
    ({}, "image/png", PNG[:2000], 422, "ocr_engine_error"),
])
def test_bad_requests_get_their_status_and_error_body(url, params, content_type, body, status, code):
    headers = {"Content-Type": content_type} if content_type else {}
    response = httpx.post(f"{url}/recognize", params=params, content=body, headers=headers, timeout=60)
    assert response.status_code == status, response.text
    error = response.json()
    assert error["error_code"] == code
    assert error["detail"] and error["timestamp"]
    assert "Traceback" not in response.text


def test_other_refusals(url, small_url):
    too_big = httpx.post(f"{small_url}/recognize", content=PNG, headers={"Content-Type": "image/png"})
    assert too_big.status_code == 413 and too_big.json()["error_code"] == "file_too_large"
    wrong_method = httpx.get(f"{url}/recognize")
    assert wrong_method.status_code == 405 and wrong_method.json()["error_code"] == "method_not_allowed"
    assert "POST" in wrong_method.headers["Allow"]
    missing = httpx.get(f"{url}/nothing-here")
    assert missing.status_code == 404 and missing.json()["error_code"] == "not_found"
    detect = httpx.post(f"{url}/detect", params={"dpi": "5000"}, content=PNG, headers={"Content-Type": "image/png"})
    assert detect.status_code == 400 and detect.json()["error_code"] == "bad_request"


class BrokenEngine(TesseractEngine):
    """An engine with a bug: its recognize raises an unexpected exception."""

    def recognize(self, image, *, languages, dpi, psm):
        raise ZeroDivisionError("secret internals")


def test_an_unexpected_error_is_a_500_without_internals():
    with serving(container_app.create_app(BrokenEngine())) as base:
        response = httpx.post(f"{base}/recognize", content=PNG, headers={"Content-Type": "image/png"})
        assert response.status_code == 500
        assert response.json()["error_code"] == "internal_error"
        assert "secret" not in response.text and "Traceback" not in response.text
        with RemoteTesseractEngine(base, timeout=30) as engine, pytest.raises(TransientError):
            engine.recognize(ALICE, languages="eng", dpi=300, psm=3)


def test_engine_failures_are_permanent_engine_errors(remote, small_url, tmp_path):
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(PNG[:2000])
    with pytest.raises(EngineError) as failed:
        remote.recognize(truncated, languages="eng", dpi=300, psm=3)
    assert failed.value.error_code == "ocr_engine_error" and not failed.value.retryable
    with pytest.raises(EngineError, match="not installed"):
        remote.recognize(ALICE, languages="klingon", dpi=300, psm=3)
    with RemoteTesseractEngine(small_url, timeout=30) as small, pytest.raises(EngineError, match="413"):
        small.recognize(ALICE, languages="eng", dpi=300, psm=3)
    not_an_image = tmp_path / "page.gif"
    not_an_image.write_bytes(b"GIF89a" + bytes(100))
    with pytest.raises(EngineError, match="not a PNG"):
        remote.recognize(not_an_image, languages="eng", dpi=300, psm=3)


def test_a_tesseract_timeout_in_the_container_is_the_timeout_code():
    with serving(container_app.create_app(TesseractEngine(timeout=0.05))) as base:
        response = httpx.post(f"{base}/recognize", content=PNG, headers={"Content-Type": "image/png"})
        assert response.status_code == 422 and response.json()["error_code"] == "timeout"
        with RemoteTesseractEngine(base, timeout=30) as engine, pytest.raises(EngineError) as failed:
            engine.recognize(ALICE, languages="eng", dpi=300, psm=3)
    assert failed.value.error_code == "timeout"


# -- Cloud Run behaviour: retries, unavailability, ID tokens ---------------------------------

def test_a_503_answered_once_is_retried(remote, front, local):
    front.script = [503]
    output = remote.recognize(ALICE, languages="eng", dpi=300, psm=3)
    assert [path for _, path, _ in front.seen] == ["/recognize", "/recognize"]
    assert output.words == local.recognize(ALICE, languages="eng", dpi=300, psm=3).words


def test_429_until_the_deadline_is_transient(url, front):
    front.script = [429] * 1000
    with RemoteTesseractEngine(url, timeout=30, retry_initial=0.05, retry_deadline=0.6) as engine:
        with pytest.raises(TransientError) as failed:
            engine.recognize(ALICE, languages="eng", dpi=300, psm=3)
    assert failed.value.retryable
    assert 3 <= len(front.seen) < 100  # retried, and given up at the deadline, not after the 1,000 429s


def test_other_5xx_are_transient_without_retry(remote, front):
    front.script = [500]
    with pytest.raises(TransientError, match="500"):
        remote.recognize(ALICE, languages="eng", dpi=300, psm=3)
    assert len(front.seen) == 1


@contextmanager
def socket_closed_port():
    """A loopback URL nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield f"http://127.0.0.1:{port}"


def test_unreachable_and_slow_containers_are_transient(url):
    with socket_closed_port() as dead, RemoteTesseractEngine(dead, timeout=2) as engine, pytest.raises(TransientError):
        engine.version()
    with RemoteTesseractEngine(url, timeout=0.2) as impatient, pytest.raises(TransientError, match="timed out"):
        impatient.recognize(ALICE, languages="eng", dpi=300, psm=3)


def test_an_id_token_is_sent_when_an_audience_is_set(url, front):
    tokens = iter(["token-1", "token-2", "token-3"])
    with RemoteTesseractEngine(url, audience="https://tesseract.example.run.app", timeout=60,
                               token_source=lambda: next(tokens)) as engine:
        engine.version()
        engine.detect(ALICE, dpi=300)
    assert [(p, auth) for _, p, auth in front.seen] == [("/health", "Bearer token-1"), ("/detect", "Bearer token-2")]
    front.reset()
    with RemoteTesseractEngine(url, timeout=60) as anonymous:
        anonymous.version()
    assert front.seen == [("GET", "/health", None)]
    with pytest.raises(ValueError):
        RemoteTesseractEngine(url, timeout=60, token_source=lambda: "x")


def _jwt(claims: dict) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def test_google_id_tokens_are_reused_until_shortly_before_they_expire():
    now = [1_800_000_000.0]
    fetched: list[str] = []

    def fetch(audience: str) -> str:
        fetched.append(audience)
        return _jwt({"aud": audience, "exp": int(now[0]) + 3600, "n": len(fetched)})

    source = GoogleIdTokenSource("https://svc.run.app", fetch=fetch, clock=lambda: now[0], refresh_margin=300)
    first = source()
    now[0] += 3000
    assert source() == first and len(fetched) == 1
    now[0] += 301
    assert source() != first and fetched == ["https://svc.run.app"] * 2


def test_without_google_credentials_the_token_source_fails_permanently(monkeypatch, tmp_path):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(PageSageError) as failed:
        GoogleIdTokenSource("https://svc.run.app")()
    assert not failed.value.retryable and not isinstance(failed.value, TransientError)


def test_the_images_command_serves_on_port_from_the_environment(local):
    with socket_closed_port() as base:
        port = base.rsplit(":", 1)[1]
        env = {"PYTHONPATH": str(REPO / "shared"), "PATH": "/usr/bin:/bin", "PORT": port, "THREADS": "1"}
        process = subprocess.Popen([sys.executable, "app.py"], cwd=CONTAINER, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            def healthy():
                assert process.poll() is None, process.stderr.read().decode()
                try:
                    return httpx.get(f"{base}/health", timeout=2)
                except httpx.TransportError:
                    return None

            health = wait_for(healthy, 20, "the container did not answer", interval=0.1)
            assert health.json() == {"engine": "tesseract", "version": local.version(),
                                     "languages": sorted(local.installed_languages())}
        finally:
            process.terminate()
            process.wait(timeout=10)


# -- the image: Dockerfile, ignore file, requirements ----------------------------------------

@pytest.fixture(scope="module")
def dockerfile() -> DockerfileParser:
    parser = DockerfileParser(fileobj=io.BytesIO((CONTAINER / "Dockerfile").read_bytes()))
    return parser


def _makefile_list(name: str) -> set[str]:
    line = next(ln for ln in (REPO / "Makefile").read_text().splitlines() if ln.startswith(name + " "))
    return set(line.split(":=", 1)[1].split())


def _stages(dockerfile: DockerfileParser) -> list[list[dict]]:
    stages: list[list[dict]] = []
    for instruction in dockerfile.structure:
        if instruction["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def test_tesserocr_is_built_against_the_makefiles_libtesseract_and_only_its_wheel_is_kept(dockerfile):
    build, final = _stages(dockerfile)
    runs = " ".join(i["value"] for i in build if i["instruction"] == "RUN")
    install = re.search(r"apt-get install (.*?)(&&|$)", runs).group(1).split()
    assert {p.split("=")[0] for p in install if not p.startswith("-")} == _makefile_list("BUILD_PKGS")
    assert "--require-hashes" in runs and "--no-binary tesserocr" in runs
    assert any(i["instruction"] == "COPY" and i["value"].startswith("--from=build /wheels") for i in final)
    assert "--no-index" in " ".join(i["value"] for i in final if i["instruction"] == "RUN")


def test_the_dockerfile_installs_the_makefiles_tesseract_and_runs_the_app_unprivileged(dockerfile):
    assert re.fullmatch(r"python:3\.11-slim-(bookworm)", dockerfile.baseimage)
    runs = " ".join(i["value"] for i in _stages(dockerfile)[-1] if i["instruction"] == "RUN")
    install = re.search(r"apt-get install (.*?)(&&|$)", runs).group(1).split()
    assert "--no-install-recommends" in install
    assert {p.split("=")[0] for p in install if not p.startswith("-")} == _makefile_list("APT_PKGS")
    assert "rm -rf /var/lib/apt/lists/*" in runs
    assert "sh /tmp/latin-eng-model.sh /usr/share/tesseract-ocr/5/tessdata" in runs  # as `make models` builds it
    env = dockerfile.envs
    assert env["OMP_THREAD_LIMIT"] == "1" and env["PORT"] == "8080"
    users = [i["value"] for i in dockerfile.structure if i["instruction"] == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert json.loads(dockerfile.cmd) == ["python", "app.py"]
    assert "/app/shared" in env["PYTHONPATH"].split(":")


def test_everything_the_image_copies_exists_and_passes_the_ignore_file(dockerfile):
    sources = [i["value"].split()[0] for i in dockerfile.structure
               if i["instruction"] == "COPY" and not i["value"].startswith("--from=")]
    assert sources
    kept = {ln[1:].rstrip("/") for ln in (CONTAINER / "Dockerfile.dockerignore").read_text().splitlines() if ln.startswith("!")}
    for source in sources:
        assert (REPO / source).exists(), source
        assert source.rstrip("/") in kept, f"{source} is excluded from the build context"


def test_requirements_pin_the_venvs_versions_and_cover_the_apps_imports():
    pins = locked_pins((CONTAINER / "requirements.txt").read_text())
    for name, version in pins.items():
        assert metadata.version(name) == version, name
    # top-level names of the modules importing app.py loads from site-packages (third-party)
    probe = ("import sys; before = set(sys.modules); import app; "
             "print(' '.join({n.split('.')[0] for n in set(sys.modules) - before "
             "if 'site-packages' in (getattr(sys.modules[n], '__file__', None) or '')}))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=CONTAINER, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": f"{CONTAINER}:{REPO / 'shared'}", "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"})
    owners = metadata.packages_distributions()
    imported = set(out.stdout.split())
    assert {"flask", "waitress", "tesserocr", "pydantic"} <= imported
    needed = {_norm(d) for m in imported for d in owners[m]}
    assert needed <= set(pins), needed - set(pins)


def test_hadolint_finds_nothing():
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run([str(hadolint), str(CONTAINER / "Dockerfile")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
