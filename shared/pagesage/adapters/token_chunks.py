"""Token chunks: a page's tokens packed into a few documents of a document store.

A chunk holds at most `CHUNK_TOKENS` tokens and `CHUNK_BYTES` of JSON, as `first_token_no`,
`count`, `bytes` and `columns`: one JSON string of parallel arrays (`text`, `text_norm`, `x`,
`y`, `w`, `h`, `confidence`, `kind`, `block`, `par`, `line`, `lang`, `space_after`), well under Firestore's
1 MiB document limit (https://firebase.google.com/docs/firestore/quotas). One chunk of 2,000
words is one write instead of 2,000.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from pagesage.domain.pages import BBox, Token
from pagesage.errors import InputError

CHUNK_TOKENS = 2000
"""Most tokens in one chunk document."""

CHUNK_BYTES = 512 * 1024
"""Most bytes of one chunk's token JSON (a document may hold 1 MiB)."""

TOKEN_FIELDS = ("text", "text_norm", "x", "y", "w", "h", "confidence", "kind", "block", "par", "line", "lang", "space_after")
"""The columns of a chunk, in order."""


def token_chunks(tokens: list[Token]) -> Iterator[dict[str, Any]]:
    """Split tokens (sorted by token_no) into chunk documents: `first_token_no`, `count`,
    `bytes` and `columns`, one JSON string of parallel arrays (one per field of
    `TOKEN_FIELDS`). Each chunk holds at most `CHUNK_TOKENS` tokens and `CHUNK_BYTES` of JSON.

    One string instead of arrays of Firestore values: the client library encodes each array
    element as its own protobuf message, which took 80 % of the time to store a page.

    Raises:
        InputError: one token alone encodes to more than `CHUNK_BYTES`.
    """
    start = 0
    while start < len(tokens):
        end = min(start + CHUNK_TOKENS, len(tokens))
        while True:
            encoded = _columns_json(tokens[start:end])
            if len(encoded) <= CHUNK_BYTES:
                break
            if end - start == 1:
                raise InputError(f"token {tokens[start].token_no} takes {len(encoded)} bytes; the limit is {CHUNK_BYTES}")
            end = start + max(1, (end - start) * CHUNK_BYTES // len(encoded) * 9 // 10)
        yield {"first_token_no": tokens[start].token_no, "count": end - start, "bytes": len(encoded),
               "columns": encoded.decode()}
        start = end


def tokens_of_chunk(chunk: dict[str, Any]) -> Iterator[Token]:
    """The tokens of one chunk document, in order."""
    c = json.loads(chunk["columns"])
    first = chunk["first_token_no"]
    spaces = c.get("space_after") or [True] * chunk["count"]  # chunks written before the column
    for i in range(chunk["count"]):
        yield Token.model_construct(
            token_no=first + i, text=c["text"][i], text_norm=c["text_norm"][i],
            bbox=BBox.model_construct(x=c["x"][i], y=c["y"][i], w=c["w"][i], h=c["h"][i]),
            confidence=c["confidence"][i], kind=c["kind"][i], block=c["block"][i],
            par=c["par"][i], line=c["line"][i], lang=c["lang"][i], space_after=spaces[i],
        )


def _columns_json(tokens: list[Token]) -> bytes:
    columns: dict[str, list] = {name: [] for name in TOKEN_FIELDS}
    for t in tokens:
        for name, value in zip(TOKEN_FIELDS, (t.text, t.text_norm, t.bbox.x, t.bbox.y, t.bbox.w, t.bbox.h,
                                               float(t.confidence), t.kind, t.block, t.par, t.line, t.lang,
                                               t.space_after)):
            columns[name].append(value)
    return json.dumps(columns, ensure_ascii=False, separators=(",", ":")).encode()
