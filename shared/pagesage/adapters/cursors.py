"""Page cursors of `Store.list_source_docs`, shared by the stores.

A cursor names the last item of a page by its sort key, (created_at as epoch seconds, id), as
URL-safe base64 of a JSON array without padding. A float carries an epoch time with microsecond
precision exactly enough to recover it: at 1.8e9 s the spacing of doubles is 2.4e-7 s, under the
half microsecond that rounding back to a `datetime` tolerates.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from datetime import datetime, timezone

from pagesage.errors import InputError


def encode_cursor(created_at: float, item_id: str) -> str:
    """An opaque page cursor: the last item's (created_at epoch seconds, id), URL-safe."""
    return base64.urlsafe_b64encode(json.dumps([created_at, item_id]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The position a cursor from `encode_cursor` names.

    Raises:
        InputError: `invalid_cursor`, for anything `encode_cursor` does not make (bad base64,
            bad JSON, wrong shape, a time outside what `datetime` holds (years 1-9999), an
            empty id).
    """
    try:
        created_at, item_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(created_at, bool) or not isinstance(created_at, (int, float)) or not isinstance(item_id, str):
            raise ValueError("wrong types")
        if not math.isfinite(created_at) or not item_id:
            raise ValueError("out of range")
        datetime.fromtimestamp(created_at, timezone.utc)  # a time a datetime can hold
        return float(created_at), item_id
    except (ValueError, TypeError, OverflowError, OSError, binascii.Error, UnicodeDecodeError) as exc:
        raise InputError("cursor is not one this API issued", error_code="invalid_cursor") from exc
