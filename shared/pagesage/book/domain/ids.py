"""Ids of the book layer's records. Random parts come from `secrets` (unguessable, so an id
says nothing about other records); box ids are unique across the whole store, which the store
enforces (`BookStore`)."""

from __future__ import annotations

import secrets

from pagesage.book.domain.model import ContentType


def project_id() -> str:
    """`proj_` and 16 hex digits (64 bits)."""
    return f"proj_{secrets.token_hex(8)}"


def page_id(project: str, page_number: int) -> str:
    """`<projectId>-p<page number, 3 digits or more>`: unique because project ids are."""
    return f"{project}-p{page_number:03d}"


def box_id(content_type: ContentType) -> str:
    """`box-<contentType>-<16 hex digits>`, e.g. `box-footnote-3fa9d2c1e07b4d55`."""
    return f"box-{content_type.value}-{secrets.token_hex(8)}"


def reference_id() -> str:
    """`ref-<16 hex digits>`."""
    return f"ref-{secrets.token_hex(8)}"


def export_id() -> str:
    """`export-<16 hex digits>`."""
    return f"export-{secrets.token_hex(8)}"
