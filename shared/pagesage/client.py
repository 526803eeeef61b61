"""HTTP client of the PageSage API, paced to stay under the server's rate limit.

Requests are spaced at least `min_interval` seconds apart (0.75 s: 80 a minute, under the
default 100), and a 429 answer is retried after its `Retry-After` seconds.
"""

from __future__ import annotations

import mimetypes
import threading
import time
from pathlib import Path
from typing import Callable

import httpx


class ApiError(Exception):
    """An error answer of the API: HTTP `status`, `error_code` and `detail` from its JSON body."""

    def __init__(self, status: int, error_code: str | None, detail: str) -> None:
        super().__init__(f"{status} {error_code}: {detail}")
        self.status, self.error_code, self.detail = status, error_code, detail


class PageSageClient:
    """Client of one PageSage deployment.

    Args:
        base_url: where the functions are mounted, e.g. `http://127.0.0.1:8080`.
        min_interval: seconds between two requests.
        max_retries: 429 answers tolerated per call before giving up.
        token: sent as `Authorization: Bearer <token>` for functions that are not public (the
            operator endpoints): a Google-signed ID token (`gcloud auth print-identity-token`)
            in Google Cloud, or the server's `PAGESAGE_API_TOKEN`.
        costs_path: path of the cost API: `/api/v1/costs` (the local stack); a Cloud Functions
            deployment serves it at `/costs`.
        sleep: how the client waits, seconds (between requests, and out a 429's Retry-After).
    """

    def __init__(self, base_url: str, *, min_interval: float = 0.75, max_retries: int = 5, timeout: float = 120.0,
                 token: str | None = None, costs_path: str = "/api/v1/costs",
                 sleep: Callable[[float], object] = time.sleep) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, headers=headers)
        self.costs_path = costs_path
        self._min_interval = min_interval
        self._sleep = sleep
        self._max_retries = max_retries
        self._next_slot = 0.0
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def submit(self, path: Path, *, lang: str = "auto") -> str:
        """Upload a file; returns its job id. Raises `ApiError`."""
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        with open(path, "rb") as stream:
            response = self._send("POST", "/upload", files={"file": (path.name, stream, content_type)}, data={"lang": lang})
        return response.json()["job_id"]

    def submit_remote(self, uri: str, *, lang: str = "auto", title: str | None = None) -> str:
        """Ask the server to fetch the document at `uri` (`s3://`, `gs://`, `https://`) and OCR
        it; returns its job id. Raises `ApiError` (400 `url_not_allowed` for a URL the server
        refuses to fetch)."""
        body = {"kind": "remote_url", "uri": uri, "ocr": {"lang": lang}, **({"title": title} if title else {})}
        return self._send("POST", "/api/v1/ocr/source_docs", json=body).json()["job_id"]

    def status(self, job_id: str) -> dict:
        """The job's StatusResponse as a dict. Raises `ApiError`."""
        return self._send("GET", f"/status/{job_id}").json()

    def result(self, job_id: str, fmt: str = "hocr") -> bytes:
        """The finished job's result in `fmt` (hocr, json, text). Raises `ApiError`."""
        return self._send("GET", f"/result/{job_id}", params={"format": fmt}).content

    def costs(self, *, job: str | None = None, project: str | None = None, since: str | None = None,
              until: str | None = None, group_by: str = "job", jsonl: bool = False) -> dict | bytes:
        """`GET /api/v1/costs`: the summary as a dict, or with `jsonl` the entries' JSON Lines
        bytes. `since`/`until` are ISO 8601 dates or date-times (UTC without an offset).
        Raises `ApiError`."""
        params = {k: v for k, v in (("job", job), ("project", project), ("since", since), ("until", until)) if v is not None}
        params |= {"group_by": group_by, "format": "jsonl" if jsonl else "json"}
        response = self._send("GET", self.costs_path, params=params)
        return response.content if jsonl else response.json()

    def diff(self, page_id: str, run_a: str, run_b: str) -> dict:
        """`GET /api/v1/ocr/pages/<page_id>/diff?a=&b=`: the word-level comparison of two runs
        on a page (`services.compare.RunDiff`, `a` the reference). Raises `ApiError`."""
        return self._send("GET", f"/api/v1/ocr/pages/{page_id}/diff", params={"a": run_a, "b": run_b}).json()

    def call(self, method: str, path: str, *, json: object | None = None, headers: dict[str, str] | None = None,
             params: dict[str, str] | None = None) -> httpx.Response:
        """Any request of the API (`/api/v1/projects`, ...), paced and retried like the others.
        Raises `ApiError` for an error answer."""
        return self._send(method, path, json=json, headers=headers, params=params)

    def create_project(self, *, job_id: str | None = None, source_doc_id: str | None = None, **metadata) -> dict:
        """`POST /api/v1/projects`: a project of a finished job's (or a source document's) OCR;
        `metadata` in the API's camelCase (`title`, `authors`, ...). Raises `ApiError`."""
        body = {k: v for k, v in {"jobId": job_id, "sourceDocId": source_doc_id, **metadata}.items() if v is not None}
        return self.call("POST", "/api/v1/projects", json=body).json()

    def export_project(self, project_id: str, **config) -> dict:
        """`POST /api/v1/projects/<id>/exports`: render and store one export; `config` in the
        API's camelCase (`format`, `includedPages`, `markdown`, ...). The `ExportRecord`. Raises
        `ApiError`."""
        return self.call("POST", f"/api/v1/projects/{project_id}/exports", json=config).json()

    def export_file(self, project_id: str, export_id: str) -> bytes:
        """`GET /api/v1/projects/<id>/exports/<exportId>/file`: an export's bytes. Raises `ApiError`."""
        return self.call("GET", f"/api/v1/projects/{project_id}/exports/{export_id}/file").content

    def validate_project(self, project_id: str) -> dict:
        """`POST /api/v1/projects/<id>/validate`: every page's warnings. Raises `ApiError`."""
        return self.call("POST", f"/api/v1/projects/{project_id}/validate").json()

    def wait(self, job_ids: list[str], *, on_poll=None, timeout: float = 3600.0) -> dict[str, dict]:
        """Poll until every job finished; `on_poll(statuses)` is called after each round.

        Raises:
            TimeoutError: not all jobs finished within `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        statuses: dict[str, dict] = {}
        while True:
            for job_id in job_ids:
                if statuses.get(job_id, {}).get("status") not in ("completed", "failed"):
                    statuses[job_id] = self.status(job_id)
            if on_poll:
                on_poll(statuses)
            if all(s["status"] in ("completed", "failed") for s in statuses.values()):
                return statuses
            if time.monotonic() > deadline:
                raise TimeoutError(f"jobs still running after {timeout:g} s")

    def _send(self, method: str, url: str, **kwargs) -> httpx.Response:
        for _ in range(self._max_retries + 1):
            self._pace()
            for value in (kwargs.get("files") or {}).values():
                value[1].seek(0)
            response = self._http.request(method, url, **kwargs)
            if response.status_code == 429:
                self._hold(float(response.headers.get("Retry-After", "1")))
                continue
            if response.status_code >= 400:
                try:
                    body = response.json()
                except ValueError:
                    body = {"detail": response.text[:200]}
                raise ApiError(response.status_code, body.get("error_code"), body.get("detail", ""))
            return response
        raise ApiError(429, "rate_limited", f"still rate limited after {self._max_retries} retries")

    def _pace(self) -> None:
        with self._lock:
            now = time.monotonic()
            wait = self._next_slot - now
            self._next_slot = max(now, self._next_slot) + self._min_interval
        if wait > 0:
            self._sleep(wait)

    def _hold(self, seconds: float) -> None:
        with self._lock:
            self._next_slot = max(self._next_slot, time.monotonic() + seconds)
