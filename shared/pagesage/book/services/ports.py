"""The ports the book layer's use cases take."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from pagesage.book.ports import BookStore
from pagesage.domain.jobs import utcnow
from pagesage.ports import BlobStore, Store


@dataclass(frozen=True)
class BookPorts:
    """`book`: the book store; `ocr`: the provenance store (read only: source documents,
    pages, page results, tokens, costs); `blobs`: page images and originals; `clock`: aware
    UTC now."""

    book: BookStore
    ocr: Store
    blobs: BlobStore
    clock: Callable[[], datetime] = field(default=utcnow)
