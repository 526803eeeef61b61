"""Settings, read from `PAGESAGE_*` environment variables. Built once in bootstrap, passed down.

| variable | default | meaning |
|---|---|---|
| PAGESAGE_BACKEND | local | `local`: SQLite store, folder blob store, in-process queue; `gcp`: Firestore, Cloud Storage, Cloud Tasks |
| PAGESAGE_DATA_DIR | ./.pagesage | where the local backend keeps `pagesage.db` and `blobs/` |
| PAGESAGE_WORKERS | CPU count | OCR worker threads (each drives one Tesseract process) |
| PAGESAGE_MAX_UPLOAD_BYTES | 26214400 | upload limit, bytes (25 MiB, seed FR-007) |
| PAGESAGE_RATE_LIMIT | 100 | requests per client IP per minute (seed FR-015); 0 disables |
| PAGESAGE_TRUST_X_FORWARDED_FOR | false | take the client IP from the first X-Forwarded-For hop |
| PAGESAGE_DPI | 300 | PDF render resolution; assumed for images without a valid DPI tag |
| PAGESAGE_PSM | 3 | Tesseract page segmentation mode |
| PAGESAGE_OEM | 1 | Tesseract OCR engine mode (1 = LSTM only) |
| PAGESAGE_TESSERACT_TIMEOUT | 300 | seconds before one Tesseract call is abandoned |
| PAGESAGE_TESSERACT_USD_PER_VCPU_SECOND | 0.000024 | price of a compute-second (Cloud Run, Tier 1, request-based, 2026) |
| PAGESAGE_MAX_PAGES | 2000 | documents with more pages fail with `invalid_format` |
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
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """PageSage configuration; see the module docstring for each variable."""

    model_config = SettingsConfigDict(env_prefix="PAGESAGE_", extra="ignore", populate_by_name=True)

    backend: Literal["local", "gcp"] = "local"
    data_dir: Path = Path(".pagesage")
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    max_upload_bytes: int = Field(default=26_214_400, gt=0)
    rate_limit: int = Field(default=100, ge=0)
    trust_x_forwarded_for: bool = False
    dpi: int = Field(default=300, ge=50, le=1200)
    psm: int = Field(default=3, ge=0, le=13)
    oem: int = Field(default=1, ge=0, le=3)
    tesseract_timeout: float = Field(default=300.0, gt=0)
    tesseract_usd_per_vcpu_second: float = Field(default=0.000024, ge=0)
    max_pages: int = Field(default=2000, ge=1)
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

    @property
    def worker_url(self) -> str:
        """The URL Cloud Tasks POST `ocr` tasks to."""
        return self.public_url.rstrip("/") + "/ocr"
