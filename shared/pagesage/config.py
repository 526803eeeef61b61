"""Settings, read from `PAGESAGE_*` environment variables. Built once in bootstrap, passed down.

| variable | default | meaning |
|---|---|---|
| PAGESAGE_BACKEND | local | `local`: SQLite store, folder blob store, in-process queue; `gcp`: Firestore, Cloud Storage, Cloud Tasks |
| PAGESAGE_DATA_DIR | ./.pagesage | where the local backend keeps `pagesage.db` and `blobs/` |
| PAGESAGE_WORKERS | CPU count | OCR worker threads (each drives one Tesseract process) |
| PAGESAGE_MAX_UPLOAD_BYTES | 26214400 | upload limit, bytes (25 MiB, seed FR-007) |
| PAGESAGE_RATE_LIMIT | 100 | requests per client IP per minute (seed FR-015); 0 disables |
| PAGESAGE_TRUSTED_PROXY_HOPS | 0 | proxies in front that append to X-Forwarded-For; the client IP is the entry that many from the right (0: the socket peer) |
| PAGESAGE_API_TOKEN | (none) | when set, operator endpoints (`ocr`, `costs`, provenance, ingest, review) need `Authorization: Bearer <it>`; required to serve on a non-loopback address |
| PAGESAGE_USER | (none) | local only: the person every edit is attributed to, `Name <email>` or a name (`pagesage.identity`); ignored when PAGESAGE_IAP_AUDIENCE or PAGESAGE_ID_TOKEN_AUDIENCE is set |
| PAGESAGE_IAP_AUDIENCE | (none) | behind Identity-Aware Proxy: the audience of its signed header `X-Goog-IAP-JWT-Assertion` (`/projects/NUMBER/global/backendServices/ID` or `/projects/NUMBER/apps/PROJECT_ID`); set, the header is verified and names the caller |
| PAGESAGE_ID_TOKEN_AUDIENCE | (none) | the audience (OAuth client id or service URL) of Google ID tokens sent as `Authorization: Bearer`; set, such a token is verified and names the caller |
| PAGESAGE_MEMORY_BYTES | the cgroup limit, else RAM | memory the OCR workers share; the pixel limit of one page is derived from it (`pagesage.limits`) |
| PAGESAGE_STALL_SECONDS | 900 | a job with no progress for this long is re-queued by the sweeper, and failed (`timeout`) after PAGESAGE_JOB_ATTEMPTS |
| PAGESAGE_JOB_ATTEMPTS | 3 | how many times the sweeper queues a stalled job's work before failing it |
| PAGESAGE_SWEEP_SECONDS | 60 | `pagesage serve`: seconds between two sweeps (in Google Cloud: Cloud Scheduler's schedule) |
| PAGESAGE_PAGE_LEASE_SECONDS | 2 x PAGESAGE_TESSERACT_TIMEOUT + 60 | how long a worker's claim on a page lasts before another may take it |
| PAGESAGE_DPI | 300 | PDF render resolution; assumed for images without a valid DPI tag |
| PAGESAGE_PSM | 3 | Tesseract page segmentation mode |
| PAGESAGE_OEM | 1 | Tesseract OCR engine mode (1 = LSTM only) |
| PAGESAGE_TESSERACT_TIMEOUT | 300 | seconds before one Tesseract call is abandoned |
| PAGESAGE_TESSERACT_USD_PER_VCPU_SECOND | 0.000024 | price of a compute-second (Cloud Run, Tier 1, request-based, 2026) |
| PAGESAGE_MAX_PAGES | 2000 | documents with more pages fail with `invalid_format` |
| PAGESAGE_FETCH_ALLOW_HOSTS | (none) | comma-separated `host:port` a remote source may name whatever their address, over `http` too (tests, private deployments); every other URL must be `https` to a public address (docs/security.md) |
| PAGESAGE_FETCH_TIMEOUT | 30 | seconds a remote source may take to connect, and between two reads |
| PAGESAGE_FETCH_CA_FILE | (none) | PEM file of the certificate authorities `https` sources are verified against (a private deployment's own); unset: the certifi bundle |
| PAGESAGE_ENGINE | tesseract | `tesseract` (in-process, or the container at PAGESAGE_TESSERACT_URL) or `docai` |
| PAGESAGE_TESSERACT_URL | (none) | base URL of the Tesseract container (Cloud Run); unset: Tesseract runs in-process |
| PAGESAGE_TESSERACT_AUDIENCE | (none) | audience of the ID token sent to the container (its Cloud Run URL); unset: no token |
| PAGESAGE_DOCUMENTAI_PROCESSOR | (none) | `projects/P/locations/L/processors/ID[/processorVersions/V]` for the `docai` engine |
| PAGESAGE_PUBLIC_URL | http://127.0.0.1:$PORT | base URL of the functions; Cloud Tasks call `<it>/ocr` |
| GOOGLE_CLOUD_PROJECT | (none) | `gcp` backend: the project of Firestore, Cloud Storage and Cloud Tasks |
| PAGESAGE_FIRESTORE_DATABASE | (default) | `gcp` backend: the Firestore database id |
| PAGESAGE_BUCKET | pagesage | `gcp` backend: the bucket of originals, page images, results and `incoming/` drops |
| PAGESAGE_TASKS_LOCATION | us-central1 | `gcp` backend: region of the Cloud Tasks queue |
| PAGESAGE_TASKS_QUEUE | pagesage-ocr | `gcp` backend: the Cloud Tasks queue id |
| PAGESAGE_TASK_MAX_ATTEMPTS | 10 | `gcp` backend: the queue's `max_attempts` (Terraform); the last one records a failing page |
| PAGESAGE_TASKS_SERVICE_ACCOUNT | (none) | `gcp` backend: service account whose OIDC token Cloud Tasks sends to `ocr` |

With `FIRESTORE_EMULATOR_HOST`, `STORAGE_EMULATOR_HOST` and `CLOUD_TASKS_EMULATOR_HOST` set, the
`gcp` backend talks to the emulators; otherwise to Google Cloud with Application Default
Credentials.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pagesage.domain.fetch_policy import AllowList
from pagesage.domain.limits import max_page_pixels


class Settings(BaseSettings):
    """PageSage configuration; see the module docstring for each variable."""

    model_config = SettingsConfigDict(env_prefix="PAGESAGE_", extra="ignore", populate_by_name=True)

    backend: Literal["local", "gcp"] = "local"
    data_dir: Path = Path(".pagesage")
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    max_upload_bytes: int = Field(default=26_214_400, gt=0)
    rate_limit: int = Field(default=100, ge=0)
    trusted_proxy_hops: int = Field(default=0, ge=0, le=10)
    api_token: SecretStr | None = None
    user: str | None = None
    iap_audience: str | None = None
    id_token_audience: str | None = None
    memory_bytes: int | None = Field(default=None, ge=64 * 1024 * 1024)
    stall_seconds: float = Field(default=900.0, gt=0)
    job_attempts: int = Field(default=3, ge=1, le=100)
    sweep_seconds: float = Field(default=60.0, gt=0)
    page_lease_seconds: float | None = Field(default=None, gt=0)
    dpi: int = Field(default=300, ge=50, le=1200)
    psm: int = Field(default=3, ge=0, le=13)
    oem: int = Field(default=1, ge=0, le=3)
    tesseract_timeout: float = Field(default=300.0, gt=0)
    tesseract_usd_per_vcpu_second: float = Field(default=0.000024, ge=0)
    max_pages: int = Field(default=2000, ge=1)
    fetch_allow_hosts: str = ""
    fetch_timeout: float = Field(default=30.0, gt=0, le=600)
    fetch_ca_file: Path | None = None
    engine: Literal["tesseract", "docai"] = "tesseract"
    tesseract_url: str | None = None
    tesseract_audience: str | None = None
    documentai_processor: str | None = None
    public_url: str = Field(default_factory=lambda: f"http://127.0.0.1:{os.environ.get('PORT', '8080')}")
    gcp_project: str | None = Field(default=None, validation_alias=AliasChoices("GOOGLE_CLOUD_PROJECT", "PAGESAGE_GCP_PROJECT"))
    firestore_database: str = "(default)"
    bucket: str = "pagesage"
    tasks_location: str = "us-central1"
    tasks_queue: str = "pagesage-ocr"
    tasks_service_account: str | None = None
    task_max_attempts: int = Field(default=10, ge=1)

    @field_validator("user", "iap_audience", "id_token_audience")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return (value.strip() or None) if value is not None else None

    @field_validator("user")
    @classmethod
    def _user_parses(cls, value: str | None) -> str | None:
        if value is not None:
            from pagesage.identity import configured_user

            configured_user(value)  # a malformed PAGESAGE_USER fails at start, not on the first edit
        return value

    @field_validator("fetch_allow_hosts")
    @classmethod
    def _allow_list_parses(cls, value: str) -> str:
        AllowList.parse(value)  # a malformed entry fails at start, not on the first fetch
        return value

    @property
    def fetch_allow(self) -> AllowList:
        """`fetch_allow_hosts` as the fetch policy's allow-list."""
        return AllowList.parse(self.fetch_allow_hosts)

    @property
    def max_page_pixels(self) -> int:
        """Most pixels of one page (`pagesage.domain.limits.max_page_pixels`), from
        `memory_bytes` or, unset, the memory this machine or container has (`detect_memory_bytes`)."""
        return max_page_pixels(self.memory_bytes or detect_memory_bytes(), self.workers)

    @property
    def lease_seconds(self) -> float:
        """How long a claim on a page lasts (`page_lease_seconds`), by default two engine calls
        (orientation detection and recognition) at their timeout plus a minute to render and
        store."""
        return self.page_lease_seconds or 2 * self.tesseract_timeout + 60

    @property
    def work_dir(self) -> Path | None:
        """Where temporary files go (an upload being spooled, a page being rendered): under the
        data folder on the local backend (made when missing: one `stat` against a page's second
        of work), so that `services.sweeper.recover` can clear what a killed process left; the
        system's temporary folder (None) on `gcp`, where an instance's /tmp goes with it."""
        if self.backend != "local":
            return None
        path = self.data_dir / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def api_token_value(self) -> str | None:
        """The operator API token in clear, None when unset or empty."""
        if self.api_token is None:
            return None
        return self.api_token.get_secret_value() or None

    @property
    def worker_url(self) -> str:
        """The URL Cloud Tasks POST `ocr` tasks to."""
        return self.public_url.rstrip("/") + "/ocr"


@cache
def detect_memory_bytes() -> int:
    """The memory this process may use, bytes: the cgroup's limit (cgroup v2 `memory.max`, v1
    `memory.limit_in_bytes`: what Cloud Run and containers set) when there is one, else the
    machine's physical memory."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            raw = Path(path).read_text().strip()
        except OSError:
            continue
        if raw.isdigit() and int(raw) < 1 << 60:  # "max" or a huge v1 value means no limit
            return int(raw)
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
