"""The review page (`/review/`, the `web` function) in headless Chromium against the server users
run (`pagesage serve`): two servers on one data folder, one for Ada and one for Grace, so that
two people review. Every step is driven through the page; the API is read only to check what the
page wrote. A screenshot of each step goes to out/review-test/. No request may leave 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.client
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from servers import LiveServer

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "out" / "review-test"
CHROMIUM = "/usr/lib/chromium/chromium"
ADA = "Ada Lovelace <ada@example.org>"
GRACE = "Grace Hopper <grace@example.org>"
SCENARIO_TITLE = "The Corset and the Crinoline"
TOOLS_TITLE = "Corset, box tools"
PDF_TITLE = "Two pages of test text"

sync_api = pytest.importorskip("playwright.sync_api")


def _wait_job(http: httpx.Client, job_id: str) -> None:
    from conftest import wait_for

    status = wait_for(lambda: (st := http.get(f"/status/{job_id}").json()["status"]) in ("completed", "failed") and st,
                      300, f"job {job_id} unfinished")
    assert status == "completed"


def _upload(http: httpx.Client, path: Path, lang: str) -> str:
    with open(path, "rb") as f:
        answer = http.post("/upload", files={"file": (path.name, f)}, data={"lang": lang})
    assert answer.status_code == 202, answer.text
    return answer.json()["job_id"]


def _project(http: httpx.Client, job_id: str, title: str) -> dict:
    created = http.post("/api/v1/projects", json={"jobId": job_id, "title": title, "authors": ["William Barry Lord"]})
    assert created.status_code == 201, created.text
    body = created.json()
    return {"id": body["project"]["projectId"], "pages": body["pageIds"]}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, corpus):
    """Ada's server with three projects (the corpus page e052 twice, the two-page sample PDF),
    then Grace's on the same data folder: `{ada, grace, api, scenario, tools, pdf}`."""
    data = tmp_path_factory.mktemp("review-page") / "data"
    ada = LiveServer(data, env={"PAGESAGE_USER": ADA}).start(60)
    grace = None
    api = httpx.Client(base_url=ada.url, timeout=60)
    try:
        scan = _upload(api, corpus / "eng-oldbooks/e052.tiff", "eng")
        pdf = _upload(api, REPO / "samples/tesseract-testing-2pages.pdf", "eng")
        _wait_job(api, scan)
        _wait_job(api, pdf)
        projects = {"scenario": _project(api, scan, SCENARIO_TITLE), "tools": _project(api, scan, TOOLS_TITLE),
                    "pdf": _project(api, pdf, PDF_TITLE)}
        grace = LiveServer(data, env={"PAGESAGE_USER": GRACE}).start(60)  # after the OCR: nothing left for it to recover
        yield {"ada": ada, "grace": grace, "api": api, **projects}
    finally:
        api.close()
        if grace:
            grace.stop()
        ada.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM,
                                              args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield chromium
        chromium.close()


class Tab:
    """A browser tab of the review page, refusing (and recording) every request that would
    leave 127.0.0.1, and recording the page's script errors."""

    def __init__(self, browser, base: str) -> None:
        self.base = base
        self.context = browser.new_context(viewport={"width": 1500, "height": 1000})
        self.foreign: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", self._console)

    def _console(self, message) -> None:
        # refusals the page shows on purpose: a stale write (412), a second approval (409)
        expected = re.search(r"status of (409|412)\b", message.text)
        if message.type == "error" and not expected:
            self.errors.append(message.text)

    def _route(self, route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.foreign.append(route.request.url)
            route.abort()

    def open(self, fragment: str = "") -> "Tab":
        self.page.goto(f"{self.base}/review/{fragment}")
        return self

    def open_page(self, project_id: str, page_id: str, box_id: str | None = None) -> "Tab":
        self.open(f"#/projects/{project_id}/pages/{page_id}" + (f"/boxes/{box_id}" if box_id else ""))
        self.page.wait_for_selector('#viewer[data-loaded="true"]', state="attached")
        self.page.wait_for_function("window.pagesage.annotator.getAnnotations().length > 0")
        self.page.wait_for_timeout(600)  # the viewer's opening animation
        return self

    def blur(self) -> None:
        """Leave the keyboard with the document (nothing focused)."""
        self.page.evaluate("document.activeElement && document.activeElement.blur()")

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))

    def box_id(self) -> str:
        return self.page.text_content("#box-id")

    def version(self) -> int:
        return int(self.page.text_content("#page-version").split()[-1])

    def wait_version(self, version: int) -> None:
        self.page.wait_for_function(f"document.querySelector('#page-version').textContent === 'version {version}'")

    def set_cursor(self, start: int, end: int | None = None) -> None:
        """Put the text area's selection at UTF-16 indices start..end (and focus it)."""
        self.page.focus("#box-text")
        self.page.evaluate("([s, e]) => { const t = document.querySelector('#box-text'); t.setSelectionRange(s, e); "
                           "t.dispatchEvent(new Event('select')); }", [start, start if end is None else end])

    def on_screen(self, x: float, y: float) -> tuple[float, float]:
        """Where the image pixel (x, y) is in the window now."""
        return tuple(self.page.evaluate(
            """([x, y]) => { const v = window.pagesage.viewer;
                const p = v.viewport.imageToViewerElementCoordinates(new OpenSeadragon.Point(x, y));
                const r = v.element.getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }""", [x, y]))

    def middle_of(self, box: dict) -> tuple[float, float]:
        c = box["coordinates"]
        return self.on_screen(c["x"] + c["width"] / 2, c["y"] + c["height"] / 2)

    def click_image(self, box: dict) -> None:
        """Click the middle of `box` on the page image."""
        self.page.mouse.click(*self.middle_of(box))

    def drag(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        """Press at `start`, move to `end` in steps, release (window coordinates)."""
        self.page.mouse.move(*start)
        self.page.mouse.down()
        self.page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=5)
        self.page.mouse.move(*end, steps=5)
        self.page.mouse.up()

    def close(self) -> None:
        assert self.foreign == [], f"requests left 127.0.0.1: {self.foreign}"
        assert self.errors == [], f"script errors: {self.errors}"
        self.context.close()


def _page(stack, page_id: str) -> dict:
    answer = stack["api"].get(f"/api/v1/pages/{page_id}")
    assert answer.status_code == 200
    return answer.json()


def _boxes(page: dict) -> list[dict]:
    return sorted(page["currentState"]["boundingBoxes"], key=lambda b: b["readingOrder"])


def _box(page: dict, box_id: str) -> dict:
    return next(b for b in page["currentState"]["boundingBoxes"] if b["boxId"] == box_id)


# -- serving ------------------------------------------------------------------------------------


def _raw_get(url: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET `path` exactly as written (no client-side `..` resolution)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


TRAVERSALS = ["/review/vendor/../../etc/passwd", "/review/vendor/openseadragon/../../../../../../etc/passwd",
              "/review/vendor/openseadragon/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd", "/review/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
              "/review/js/../../__init__.py", "/review/js/..%2f..%2fserving.py", "/review/vendor/diff/libesm/../package.json",
              "/review/vendor/openseadragon/package.json", "/review/vendor/diff/libesm/index.d.ts", "/review/vendor/nosuch/x.js",
              "/review/vendor/openseadragon//etc/passwd", "/review/css/", "/review/nosuch.js", "/review/index.html"]


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """A server with nothing in it: the page's files are served whatever the data."""
    with LiveServer(tmp_path_factory.mktemp("review-bare") / "data", env={"PAGESAGE_USER": ADA}) as server:
        yield server


def test_traversal_and_unknown_paths_are_json_404s_and_the_files_have_their_types(bare):
    url = bare.url
    for path in TRAVERSALS:
        status, headers, body = _raw_get(url, path)
        assert status == 404, (path, status, body[:200])
        assert headers["content-type"].startswith("application/json"), path
        assert json.loads(body)["error_code"] == "not_found" and b"root:" not in body, path
    status, headers, body = _raw_get(url, "/review/")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8" and b'<script type="module" src="js/app.js">' in body
    assert "script-src 'self'" in headers["content-security-policy"] and headers["cache-control"] == "no-cache"
    assert headers["x-content-type-options"] == "nosniff"
    status, headers, _ = _raw_get(url, "/review")
    assert status == 308 and headers["location"].endswith("/review/")
    status, headers, _ = _raw_get(url, "/review/js/app.js")
    assert status == 200 and headers["content-type"] == "text/javascript; charset=utf-8" and headers["cache-control"] == "no-cache"
    status, headers, body = _raw_get(url, "/review/vendor/openseadragon/build/openseadragon/openseadragon.min.js")
    assert status == 200 and headers["content-type"] == "text/javascript; charset=utf-8" and b"License" in body[:400]
    assert headers["cache-control"] == "public, max-age=3600"
    status, headers, body = _raw_get(url, "/review/vendor/sortablejs/modular/sortable.esm.js")
    assert status == 200 and b"@license MIT" in body[:300]
    status, headers, _ = _raw_get(url, "/review/vendor/openseadragon/build/openseadragon/images/home_rest.png")
    assert status == 200 and headers["content-type"] == "image/png"
    refused = httpx.post(f"{url}/review/js/app.js", json={}, timeout=30)
    assert refused.status_code == 405 and refused.json()["error_code"] == "method_not_allowed"


def test_the_vendor_allow_list_names_the_locked_versions():
    from pagesage.review_page import vendor_files, vendor_libraries

    lock = json.loads((REPO / "package-lock.json").read_text(encoding="utf-8"))["packages"]
    declared = json.loads((REPO / "package.json").read_text(encoding="utf-8"))["dependencies"]
    libraries = vendor_libraries()
    assert {lib.package for lib in libraries.values()} == set(declared)
    for library in libraries.values():
        installed = json.loads((REPO / "node_modules" / library.package / "package.json").read_text(encoding="utf-8"))
        assert library.version == declared[library.package] == lock[f"node_modules/{library.package}"]["version"] == installed["version"]
        assert library.license == installed["license"], library.name
    names = [name for name, _ in vendor_files()]
    assert "diff/libesm/index.js" in names and not any(n.endswith((".ts", ".map", ".json")) for n in names)


# -- the scenario -------------------------------------------------------------------------------


@pytest.mark.corpus
def test_correct_reference_validate_review_twice_and_export(stack, browser):
    api = stack["api"]
    project_id, (page_id,) = stack["scenario"]["id"], stack["scenario"]["pages"]
    seeded = _page(stack, page_id)
    ada = Tab(browser, stack["ada"].url).open()
    page = ada.page

    # the project list, by title
    page.wait_for_selector("#project-rows a")
    titles = page.eval_on_selector_all("#project-rows a", "links => links.map(a => a.textContent)")
    assert titles == sorted(titles, key=str.casefold) and SCENARIO_TITLE in titles
    ada.shot("01-projects")

    # the project: its page with review status and mean confidence, the review queue
    page.click(f"#project-rows tr[data-project-id='{project_id}'] a")
    page.wait_for_selector(f"#page-rows tr[data-page-id='{page_id}']")
    row = page.text_content(f"#page-rows tr[data-page-id='{page_id}']")
    assert "pending" in row and f"{round(seeded['currentState']['confidence'] * 100)}%" in row
    assert page.eval_on_selector_all("#queue li", "items => items.map(li => li.dataset.pageId)") == [page_id]
    ada.shot("02-project")

    # the page: image and boxes drawn, OCR words shown
    page.click(f"#page-rows tr[data-page-id='{page_id}'] a")
    page.wait_for_selector('#viewer[data-loaded="true"]', state="attached")
    page.wait_for_function("window.pagesage.annotator.getAnnotations().length > 0")
    page.wait_for_timeout(600)
    drawn = page.evaluate("window.pagesage.annotator.getAnnotations().map(a => a.id).sort()")
    assert drawn == sorted(b["boxId"] for b in _boxes(seeded))
    assert page.evaluate("document.querySelector('#viewer').dataset.imageWidth") == str(seeded["image"]["width"])
    assert page.locator("#viewer canvas").count() >= 1 and page.locator("#viewer .word").count() > 100
    assert page.locator("svg.reading-order line").count() == len(drawn) - 1
    ada.shot("03-page")

    # click the body box on the image; correct a word, add a superscript from the palette, save
    body = max((b for b in _boxes(seeded) if b["contentType"] == "commentary"), key=lambda b: len(b["text"]["corrected"]))
    footnote = next(b for b in _boxes(seeded) if b["contentType"] == "footnote")
    ada.click_image(body)
    page.wait_for_function(f"document.querySelector('#box-id').textContent === '{body['boxId']}'")
    old = body["text"]["corrected"]
    word = re.search(r"\b[A-Za-z]{6,}\b", old)
    ada.set_cursor(word.start(), word.end())
    page.keyboard.type("Emendation")
    page.click("#palette button[data-char='¹']")
    assert page.input_value("#box-text") == old[:word.start()] + "Emendation¹" + old[word.end():]
    assert page.is_visible("#dirty")
    assert page.get_attribute("#cursor-offset", "data-offset") == str(len(old[:word.start()]) + len("Emendation¹"))
    page.keyboard.press("Control+s")
    ada.wait_version(seeded["version"] + 1)
    corrected = _box(_page(stack, page_id), body["boxId"])["text"]["corrected"]
    assert corrected == old[:word.start()] + "Emendation¹" + old[word.end():] and not page.is_visible("#dirty")
    ada.shot("04-corrected")

    # the page's own Devanagari font (vendor noto-sans-devanagari): the palette's Devanagari
    # subset face is loaded, and text in it is not drawn as the fallback's boxes
    page.wait_for_function("document.fonts.status === 'loaded'")
    font = page.evaluate("""async () => {
        await document.fonts.load('16px "Noto Sans Devanagari"', 'धर्म');
        await document.fonts.ready;
        const faces = [...document.fonts].filter(f => f.family.replace(/["']/g, '') === 'Noto Sans Devanagari');
        const width = (family) => { const c = document.createElement('canvas').getContext('2d');
                                    c.font = `32px ${family}`; return c.measureText('धर्मक्षेत्रे ॥').width; };
        return {check: document.fonts.check('16px "Noto Sans Devanagari"', 'धर्म'),
                loaded: faces.filter(f => f.status === 'loaded').map(f => `${f.weight} ${f.unicodeRange}`),
                noto: width('"Noto Sans Devanagari"'), fallback: width('"DejaVu Sans Mono"'),
                palette: getComputedStyle(document.querySelector("#palette button[data-char='।']")).fontFamily}; }""")
    assert font["check"] and any(r.startswith("400 ") and "U+900-97F" in r.upper() for r in font["loaded"]), font
    assert abs(font["noto"] - font["fallback"]) > 1 and "Noto Sans Devanagari" in font["palette"], font
    served = httpx.get(stack["ada"].url + "/review/vendor/noto-sans-devanagari/files/noto-sans-devanagari-devanagari-400-normal.woff2", timeout=30)
    assert served.status_code == 200 and served.headers["content-type"] == "font/woff2" and served.content[:4] == b"wOF2"
    page.locator("#palette").scroll_into_view_if_needed()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#palette").screenshot(path=str(SHOTS / "04b-devanagari-font.png"))

    # add a reference from the marker ¹ (cursor after it) to the page's footnote: Ctrl+Shift+R
    marker_end = corrected.index("Emendation¹") + len("Emendation¹")
    ada.set_cursor(marker_end)
    page.wait_for_function("document.querySelector('#ref-marker').textContent === '“¹”'")
    page.select_option("#ref-target", footnote["boxId"])
    ada.set_cursor(marker_end)
    page.keyboard.press("Control+Shift+R")
    ada.wait_version(seeded["version"] + 2)
    refs = _box(_page(stack, page_id), body["boxId"])["inlineReferences"]
    added = next(r for r in refs if r["displayText"] == "¹")
    assert added["targetBoxId"] == footnote["boxId"] and added["position"]["charOffset"] == marker_end - 1
    assert page.locator("#box-preview a.ref", has_text="¹").count() == 1
    assert page.locator("#ref-list li", has_text="¹").count() == 1
    ada.shot("05-reference")

    # follow it to the footnote (Alt+→): "referenced by" lists both markers; back (Alt+←)
    ada.set_cursor(marker_end)
    page.keyboard.press("Alt+ArrowRight")
    page.wait_for_function(f"document.querySelector('#box-id').textContent === '{footnote['boxId']}'")
    page.wait_for_function("document.querySelectorAll('#incoming-list li button').length === 2")
    assert page.is_visible("#trail")
    page.locator("#incoming").scroll_into_view_if_needed()
    ada.shot("06-footnote-referenced-by")
    page.keyboard.press("Alt+ArrowLeft")
    page.wait_for_function(f"document.querySelector('#box-id').textContent === '{body['boxId']}'")
    assert not page.is_visible("#trail")

    # validate: the panel shows what the API finds
    page.click("#tab-check")
    page.click("#validate")
    page.wait_for_function("/^(Valid|Not valid):/.test(document.querySelector('#validation-summary').textContent)")
    expected = api.post(f"/api/v1/pages/{page_id}/validate").json()
    summary = page.text_content("#validation-summary")
    assert summary.startswith("Valid:" if expected["validationStatus"]["isValid"] else "Not valid:")
    assert sorted(page.eval_on_selector_all("#warnings li", "items => items.map(li => li.dataset.type)")) == \
        sorted(w["type"] for w in expected["warnings"])
    ada.shot("07-validation")

    # Ada marks it reviewed, and may not approve it herself: the 409 is shown
    page.click("#review-buttons button[data-status='reviewed']")
    page.wait_for_function("document.querySelector('#review-state').textContent.includes('reviewed by Ada Lovelace')")
    page.click("#review-buttons button[data-status='approved']")
    page.wait_for_function("document.querySelector('#review-message').textContent.includes('same_reviewer')")
    assert "someone other than its reviewer" in page.text_content("#review-message")
    assert _page(stack, page_id)["currentState"]["reviewStatus"] == "reviewed"
    ada.shot("08-reviewed-by-ada")
    ada.close()

    # Grace approves it on her server
    grace = Tab(browser, stack["grace"].url).open_page(project_id, page_id)
    grace.page.click("#tab-check")
    grace.page.click("#review-buttons button[data-status='approved']")
    grace.page.wait_for_function("document.querySelector('#review-state').textContent.includes('approved by Grace Hopper')")
    state = _page(stack, page_id)["currentState"]
    assert state["reviewStatus"] == "approved" and state["approvedBy"]["name"] == "Grace Hopper"
    assert state["reviewedBy"]["name"] == "Ada Lovelace"
    grace.shot("09-approved-by-grace")

    # export Quarto Markdown and hOCR: the corrected word is in both files
    grace.page.click("#tab-export")
    for step, fmt in (("10", "markdown-quarto"), ("11", "hocr")):
        grace.page.click(f"#export-buttons button[data-format='{fmt}']")
        grace.page.wait_for_selector(f"#export-text[data-format='{fmt}']", state="attached")
        assert "Emendation" in grace.page.text_content("#export-text"), fmt
        grace.shot(f"{step}-export-{fmt}")
    records = api.get(f"/api/v1/projects/{project_id}/exports").json()["items"]
    assert [r["format"] for r in records] == ["markdown-quarto", "hocr"]
    assert records[0]["settings"]["generatedBy"]["name"] == "Grace Hopper"
    for record in records:
        href = grace.page.get_attribute(f"#export-list li[data-export-id='{record['exportId']}'] a", "href")
        data = httpx.get(stack["grace"].url + href, timeout=30).content
        assert hashlib.sha256(data).hexdigest() == record["sha256"] and "Emendation" in data.decode("utf-8")
    grace.close()


@pytest.mark.corpus
def test_a_stale_edit_from_a_second_tab_is_shown_and_kept(stack, browser):
    project_id, (page_id, _) = stack["pdf"]["id"], stack["pdf"]["pages"]
    seeded = _page(stack, page_id)
    (box,) = _boxes(seeded)
    one = Tab(browser, stack["ada"].url).open_page(project_id, page_id, box["boxId"])
    two = Tab(browser, stack["ada"].url).open_page(project_id, page_id, box["boxId"])
    original = box["text"]["corrected"]
    assert one.page.input_value("#box-text") == two.page.input_value("#box-text") == original

    one.set_cursor(len(original))
    one.page.keyboard.type(" (tab one)")
    one.page.keyboard.press("Control+s")
    one.wait_version(seeded["version"] + 1)

    two.set_cursor(len(original))
    two.page.keyboard.type(" (tab two)")
    two.page.keyboard.press("Control+s")
    two.page.wait_for_selector("#conflict", state="visible")
    assert "was not saved" in two.page.text_content("#conflict-message")
    assert "by Ada Lovelace" in two.page.text_content("#conflict-message")
    assert two.page.input_value("#box-text") == original + " (tab two)"
    assert _box(_page(stack, page_id), box["boxId"])["text"]["corrected"] == original + " (tab one)"
    assert two.version() == seeded["version"]
    two.shot("12-conflict-second-tab")

    two.page.click("#conflict-reapply")
    two.wait_version(seeded["version"] + 2)
    assert not two.page.is_visible("#conflict")
    assert _box(_page(stack, page_id), box["boxId"])["text"]["corrected"] == original + " (tab two)"
    two.shot("13-conflict-reapplied")
    one.close()
    two.close()


@pytest.mark.corpus
def test_keyboard_only_navigation_and_help(stack, browser):
    tools_id, (page_id,) = stack["tools"]["id"], stack["tools"]["pages"]
    boxes = _boxes(_page(stack, page_id))
    tab = Tab(browser, stack["ada"].url).open_page(tools_id, page_id)
    page = tab.page
    tab.blur()
    for key, expected in (("j", 0), ("j", 1), ("j", 2), ("k", 1)):
        page.keyboard.press(key)
        page.wait_for_function(f"document.querySelector('#box-id').textContent === '{boxes[expected]['boxId']}'")
    assert f"/boxes/{boxes[1]['boxId']}" in page.url
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "box-text"
    page.keyboard.press("j")  # in the editor a letter is text, not navigation
    assert tab.box_id() == boxes[1]["boxId"] and len(page.input_value("#box-text")) == len(boxes[1]["text"]["corrected"]) + 1
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.id") != "box-text"
    page.click("#reset-text")
    tab.blur()
    page.keyboard.press("j")
    page.wait_for_function(f"document.querySelector('#box-id').textContent === '{boxes[2]['boxId']}'")

    # find the footnote by its number (Ctrl+Shift+F), then every reference to it (Alt+Shift+R)
    footnote = next(b for b in boxes if b["contentType"] == "footnote")
    page.keyboard.press("Control+Shift+F")
    assert page.evaluate("document.activeElement.id") == "find-footnote-number"
    page.keyboard.type("*")
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelector('#box-id').textContent === '{footnote['boxId']}'")
    tab.blur()
    page.keyboard.press("Alt+Shift+R")
    page.wait_for_function("document.querySelectorAll('#incoming-list li button').length === 1")

    # the help overlay
    tab.blur()
    page.keyboard.press("?")
    assert page.is_visible("#help") and page.locator("#help-list dt").count() >= 10
    assert "Ctrl+Shift+R" in page.text_content("#help-list")
    tab.shot("14-keyboard-help")
    page.keyboard.press("Escape")
    assert not page.is_visible("#help")

    # n / p: next and previous page of a two-page project
    pdf_id, pdf_pages = stack["pdf"]["id"], stack["pdf"]["pages"]
    tab.open_page(pdf_id, pdf_pages[0])
    tab.blur()
    page.keyboard.press("n")
    page.wait_for_function(f"location.hash.includes('{pdf_pages[1]}')")
    page.wait_for_function("document.querySelector('#crumbs').textContent.includes('Page 2')")
    tab.shot("15-keyboard-next-page")
    tab.blur()
    page.keyboard.press("p")
    page.wait_for_function("document.querySelector('#crumbs').textContent.includes('Page 1')")
    tab.close()


@pytest.mark.corpus
def test_box_tools_reading_order_history_and_undo(stack, browser):
    project_id, (page_id,) = stack["tools"]["id"], stack["tools"]["pages"]
    api = stack["api"]
    seeded = _page(stack, page_id)
    boxes = _boxes(seeded)
    tab = Tab(browser, stack["ada"].url).open_page(project_id, page_id)
    page = tab.page
    version = seeded["version"]

    # reorder by dragging the second box above the first (SortableJS), then with a Move button
    page.click("#tab-boxes")
    items = page.locator("#order-list li")
    assert items.count() == len(boxes)
    items.nth(1).locator(".handle").drag_to(items.nth(0).locator(".handle"))
    version += 1
    tab.wait_version(version)
    order = [b["boxId"] for b in _boxes(_page(stack, page_id))]
    assert order[:2] == [boxes[1]["boxId"], boxes[0]["boxId"]] and order[2:] == [b["boxId"] for b in boxes[2:]]
    page.click(f"#order-list li[data-box-id='{boxes[0]['boxId']}'] button[aria-label$='up']")
    version += 1
    tab.wait_version(version)
    assert [b["boxId"] for b in _boxes(_page(stack, page_id))] == [b["boxId"] for b in boxes]
    tab.shot("16-reading-order")

    # relabel, split at the cursor, merge back
    body = max((b for b in boxes if b["contentType"] == "commentary"), key=lambda b: len(b["text"]["corrected"]))
    page.click(f"#order-list li[data-box-id='{body['boxId']}'] .select-box")
    page.click("#tab-box")
    page.select_option("#box-type", "translation")
    version += 1
    tab.wait_version(version)
    assert _box(_page(stack, page_id), body["boxId"])["contentType"] == "translation"
    cut = body["text"]["corrected"].index("\n")
    tab.set_cursor(cut)
    page.click("#split-box")
    version += 1
    tab.wait_version(version)
    after_split = _page(stack, page_id)
    assert len(after_split["currentState"]["boundingBoxes"]) == len(boxes) + 1
    assert _box(after_split, body["boxId"])["text"]["corrected"] == body["text"]["corrected"][:cut]
    page.wait_for_function(f"document.querySelector('#box-id').textContent !== '{body['boxId']}'")
    page.click("#merge-prev")
    version += 1
    tab.wait_version(version)
    merged = _page(stack, page_id)
    assert len(merged["currentState"]["boundingBoxes"]) == len(boxes)
    assert _box(merged, body["boxId"])["text"]["corrected"] == body["text"]["corrected"]

    # undo (a revert to the version before: Ctrl+Z outside the text area) and redo
    tab.blur()
    page.keyboard.press("Control+z")
    version += 1
    tab.wait_version(version)
    assert len(_page(stack, page_id)["currentState"]["boundingBoxes"]) == len(boxes) + 1
    page.click("#undo")
    version += 1
    tab.wait_version(version)
    assert len(_page(stack, page_id)["currentState"]["boundingBoxes"]) == len(boxes)
    assert _box(_page(stack, page_id), body["boxId"])["contentType"] == "translation"
    page.click("#redo")
    version += 1
    tab.wait_version(version)
    assert len(_page(stack, page_id)["currentState"]["boundingBoxes"]) == len(boxes) + 1
    tab.shot("17-undo-redo")

    # history: every version listed; the diff of the relabel..split versions shows the cut text
    page.click("#tab-history")
    page.wait_for_function(f"document.querySelectorAll('#versions tr').length === {version}")
    versions = api.get(f"/api/v1/pages/{page_id}/versions").json()["versions"]
    split_version = next(v["version"] for v in versions if v["changes"]["action"] == "split")
    page.select_option("#diff-from", str(split_version - 1))
    page.select_option("#diff-to", str(split_version))
    page.click("#compare")
    page.wait_for_selector(f"#diff .diff-box[data-box-id='{body['boxId']}'] del")
    removed = page.text_content(f"#diff .diff-box[data-box-id='{body['boxId']}'] del")
    assert removed.split()[0] in body["text"]["corrected"][cut:]
    assert page.locator("#diff .diff-box", has_text="added").count() == 1
    tab.shot("18-history-diff")

    # revert to the seeded version: the page is as it was made
    page.click("#versions tr[data-version='1'] button:has-text('Revert to')")
    version += 1
    tab.wait_version(version)
    reverted = _page(stack, page_id)
    assert [(b["boxId"], b["contentType"], b["text"]["corrected"]) for b in _boxes(reverted)] == \
        [(b["boxId"], b["contentType"], b["text"]["corrected"]) for b in boxes]

    # draw a box in the bottom margin (then move it, then delete it)
    page.select_option("#draw-type", "caption")
    page.click("#draw-box")
    page.evaluate("window.pagesage.viewer.viewport.goHome(true)")
    page.wait_for_timeout(300)
    width = seeded["image"]["width"]
    height = seeded["image"]["height"]
    tab.drag(tab.on_screen(width * 0.3, height * 0.93), tab.on_screen(width * 0.6, height * 0.97))
    tab.shot("19-drawing")
    version += 1
    tab.wait_version(version)
    now = _page(stack, page_id)
    (drawn,) = [b for b in now["currentState"]["boundingBoxes"] if b["contentType"] == "caption"]
    assert abs(drawn["coordinates"]["x"] - width * 0.3) < 15 and abs(drawn["coordinates"]["width"] - width * 0.3) < 15
    page.wait_for_function(f"document.querySelector('#box-id').textContent === '{drawn['boxId']}'")
    tab.shot("20-drawn-box")

    # move it: drag the selected rectangle to the right on the image (saved a second later)
    middle = tab.middle_of(drawn)
    tab.drag(middle, (middle[0] + 40, middle[1]))
    version += 1
    tab.wait_version(version)
    moved_box = _box(_page(stack, page_id), drawn["boxId"])["coordinates"]
    assert moved_box["x"] > drawn["coordinates"]["x"] + 10 and moved_box["width"] == drawn["coordinates"]["width"]
    assert abs(moved_box["y"] - drawn["coordinates"]["y"]) <= 2
    page.click("#delete-box")
    page.click("#delete-yes")
    version += 1
    tab.wait_version(version)
    assert not any(b["contentType"] == "caption" for b in _page(stack, page_id)["currentState"]["boundingBoxes"])

    # replace the marker * by † and write a * at the end: the reference needs review, and
    # validation's auto-fix moves it onto the remaining *
    marked = next(b for b in _boxes(_page(stack, page_id)) if any(r["displayText"] == "*" for r in b["inlineReferences"]))
    text = marked["text"]["corrected"]
    page.click("#tab-boxes")
    page.click(f"#order-list li[data-box-id='{marked['boxId']}'] .select-box")
    page.click("#tab-box")
    star = text.index("*")
    note = next(b for b in _boxes(_page(stack, page_id)) if b["contentType"] == "footnote")
    tab.set_cursor(star + 1)  # on the marker: the add-reference form picks the footnote "*" by its number
    page.wait_for_function("document.querySelector('#ref-match').textContent === 'matched by number'")
    assert page.input_value("#ref-target") == note["boxId"] and page.text_content("#ref-marker") == "“*”"
    tab.set_cursor(star, star + 1)
    page.keyboard.type("†")
    tab.set_cursor(len(text))
    page.keyboard.type(" *")
    page.click("#save-text")
    version += 1
    tab.wait_version(version)
    assert page.locator("#ref-list li", has_text="needs review").count() == 1
    page.click("#tab-check")
    page.click("#validate")
    page.wait_for_selector("#warnings li[data-type='text_changed_unupdated']")
    assert page.is_visible("#auto-fix")
    tab.shot("21-needs-review")
    page.click("#auto-fix")
    version += 1
    tab.wait_version(version)
    page.wait_for_function("document.querySelector('#validation-summary').textContent.startsWith('Valid')")
    assert page.locator("#warnings li[data-type='text_changed_unupdated']").count() == 0
    (moved,) = [r for r in _box(_page(stack, page_id), marked["boxId"])["inlineReferences"] if r["displayText"] == "*"]
    assert moved["position"]["charOffset"] == len(text) + 1 and not moved.get("needsReview")
    tab.shot("22-auto-fixed")

    # detection on demand lists what it finds
    page.click("#tab-box")
    page.click("#detect-refs")
    page.wait_for_selector("#proposals li")
    tab.close()
