"""How large a book record may be, the same rule in both stores.

A page is one Firestore document, and so is each of its version records; a document holds at
most 1 MiB (1,048,576 bytes, https://firebase.google.com/docs/firestore/quotas). The embedded
store keeps the same bound, so that a book edited there can move to Firestore unchanged.
"""

from __future__ import annotations

from pagesage.errors import ValidationFailed

PAGE_BYTES = 1_000_000
"""Most bytes (UTF-8) of a page's JSON, or of a version record's: under the 1 MiB document
limit, with room for what a store adds beside it (the page's counter flags) and Firestore's
per-field overhead (field names and a byte or so per value, which the JSON's quotes, colons and
commas exceed)."""


def check_page_size(json_text: str) -> None:
    """Raise unless `json_text` (a page's or a version record's JSON) fits `PAGE_BYTES`.

    Raises:
        ValidationFailed: "the page's annotations exceed 1 MB", `field`
            `currentState.boundingBoxes` (the boxes are what makes a page large).
    """
    # a UTF-8 character is at most 4 bytes: short texts need no encoding to be known to fit
    if len(json_text) * 4 <= PAGE_BYTES or len(json_text.encode()) <= PAGE_BYTES:
        return
    raise ValidationFailed("the page's annotations exceed 1 MB", field="currentState.boundingBoxes")
