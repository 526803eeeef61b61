"""Page cursors of `BookStore.list_projects`, shared by the stores.

A cursor names the last project of a page by its sort key, (`model.title_key` of its title,
projectId), as URL-safe
base64 of a JSON array without padding, as `pagesage.adapters.cursors` does for source
documents. Both stores order the keys by code point (SQLite's BINARY collation and Firestore's
string order are both UTF-8 byte order, which is code point order).
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from pagesage.book.domain.model import ID_PATTERN
from pagesage.errors import InputError


def encode_title_cursor(title: str, project_id: str) -> str:
    """An opaque page cursor: the last project's (title, project id), URL-safe."""
    return base64.urlsafe_b64encode(json.dumps([title, project_id]).encode()).decode().rstrip("=")


def decode_title_cursor(cursor: str) -> tuple[str, str]:
    """The (title, project id) a cursor from `encode_title_cursor` names.

    Raises:
        InputError: `invalid_cursor`, for anything `encode_title_cursor` does not make (bad
            base64, bad JSON, wrong shape, an empty title, a project id that is not an id).
    """
    try:
        title, project_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(title, str) or not isinstance(project_id, str):
            raise ValueError("wrong types")
        if not title or not re.match(ID_PATTERN, project_id):
            raise ValueError("out of range")
        return title, project_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InputError("cursor is not one this API issued", error_code="invalid_cursor") from exc
