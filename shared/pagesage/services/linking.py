"""Dictionary link suggestions: which dictionary entries a page's words may be.

A suggestion is the provenance seed's Link (`ocr-provenance-model.txt` §7: page result → entry,
`fk_entry_id`, `link_kind`, `link_conf`, `note`) plus the token range it rests on. Suggestions are
candidates for a reviewer (`link_kind` `candidate_entry`), never accepted links.

Matching compares *link keys*, built the same way for a page's words and a dictionary's forms by
`link_key`:
    1. `pagesage.text.normalize.normalize_for_search`: NFC, casefold, ZWJ/ZWNJ removed.
    2. Vedic accents dropped (U+0951, U+0952 and the Vedic Extensions block U+1CD0-U+1CFF): the
       Devanagari OCR models never produce them (docs/architecture.md, "Languages").
    3. In a word holding Devanagari, a `:` right after a Devanagari sign becomes VISARGA (U+0903):
       Tesseract reads visarga as a colon (docs/architecture.md, "Languages"); Sanskrit in Devanagari punctuates
       with the danda, not the colon.
    4. Devanagari is transliterated to IAST with `indic_transliteration.sanscript`
       (DEVANAGARI → IAST); Latin text passes through it unchanged, so English stays English.
    5. Romanization variants folded to IAST (`_LATIN_FOLDS`): ṁ → ṃ (both are used for anusvara;
       `san-iast/iasttest1`), ISO 15919 r̥ r̥̄ l̥ l̥̄ ē ō → ṛ ṝ ḷ ḹ e o (Sanskrit has no short e/o;
       `san-iast/iasttest3-iso`), and the older â î û for ā ī ū (`san-iast/iasttest2`).
    6. Everything that is not a letter or combining mark (Unicode categories L*, M*) is dropped:
       danda ।॥, digits, punctuation, avagraha, hyphens.
    7. A word-final anusvara ṃ becomes m: texts write a word's final m as anusvara before a
       consonant and often in pausa too (Whitney, *Sanskrit Grammar* §213 i, §73), so कथं,
       kathaṁ and कथम् are one word, `katham`.

Scores are `rapidfuzz.fuzz.ratio` (0-100): 100 * (1 - d / (len(a) + len(b))), where d is the
Indel distance, the number of characters inserted and deleted (rapidfuzz docs, `fuzz.ratio`).

Search is indexed so a page against a large dictionary stays fast, and it is exhaustive: the
filters below skip only forms that cannot reach the cutoff. Forms are bucketed by key length and
indexed by padded character bigrams (`^` + key + `$`, len + 1 bigrams). For a query of length
`la` against forms of length `lb` at cutoff `c`:
    * a match needs d <= (1 - c/100)(la + lb); since d >= |la - lb|, only lengths
      la·c/(200 - c) <= lb <= la·(200 - c)/c are read;
    * an Indel script with D deletions and I insertions (D - I = la - lb, D + I = d) destroys at
      most 2 bigrams per deletion and 1 per insertion, so at least T = (la + lb)/2 + 1 - 1.5·d
      bigrams are shared: the q-gram count filter (Ukkonen 1992, "Approximate string-matching
      with q-grams and maximal matches"; Gravano et al. 2001, "Approximate String Joins in a
      Database (Almost) for Free") counted per kind of operation;
    * a form sharing at least T of the query's G bigrams holds one of any G - T + 1 of them (the
      prefix filter, Chaudhuri, Ganti & Kaushik 2006, "A Primitive Operator for Similarity Joins
      in Data Cleaning"), so only the postings of the query's G - T + 1 rarest bigrams are read;
    * every candidate is then scored exactly with `rapidfuzz.process.extract`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Literal

from indic_transliteration import sanscript
from pydantic import BaseModel, Field
from rapidfuzz import fuzz, process

from pagesage.domain.pages import Token
from pagesage.domain.provenance import ENTRY_ID_PATTERN
from pagesage.errors import InputError
from pagesage.text.normalize import normalize_for_search

ENTRY_ID = ENTRY_ID_PATTERN
"""A well-formed entry id: 1-200 characters of ASCII letters, digits and `._:-`, starting with a
letter or digit (UUIDs fit); the rule of `fk_entry_id` in `schemas/link.schema.json`."""

MAX_NOTE_CHARS = 1000
"""Longest `LinkSuggestion.note`, in characters (`schemas/link.schema.json`)."""

MAX_FORM_CHARS = 200
"""Longest form accepted, in characters."""

_CACHE_SIZE = 100_000
"""Searches a Dictionary remembers (query, cutoff → matches), so the pages of one book, which
share their vocabulary, search each word once; emptied when full."""

_DEVANAGARI = re.compile(r"[\u0900-\u097F\uA8E0-\uA8FF]")
_VEDIC_ACCENTS = re.compile(r"[\u0951\u0952\u1CD0-\u1CFF]")
_COLON_AFTER_DEVANAGARI = re.compile(r"(?<=[\u0900-\u0963\u0971-\u097F]):")
_LATIN_FOLDS = (
    ("r\u0325\u0304", "ṝ"), ("l\u0325\u0304", "ḹ"), ("r\u0325", "ṛ"), ("l\u0325", "ḷ"),
    ("ṁ", "ṃ"), ("ē", "e"), ("ō", "o"), ("â", "ā"), ("î", "ī"), ("û", "ū"),
)


def link_key(text: str) -> str:
    """The matching key of one word (see the module docstring): IAST, casefolded, letters and
    combining marks only. Empty when the word has no letters (danda, digits, punctuation)."""
    s = _VEDIC_ACCENTS.sub("", normalize_for_search(text))
    if _DEVANAGARI.search(s):
        s = _COLON_AFTER_DEVANAGARI.sub("\u0903", s)
        s = unicodedata.normalize("NFC", sanscript.transliterate(s, sanscript.DEVANAGARI, sanscript.IAST))
    for old, new in _LATIN_FOLDS:
        if old in s:
            s = s.replace(old, new)
    s = "".join(ch for ch in s if unicodedata.category(ch)[0] in "LM")
    return s[:-1] + "m" if s.endswith("ṃ") else s


def form_key(form: str) -> str:
    """The matching key of a dictionary form: `link_key` of each whitespace-separated word,
    empty ones dropped, joined by one space (English phrases keep their spaces)."""
    return " ".join(k for k in (link_key(w) for w in form.split()) if k)


class LinkSuggestion(BaseModel):
    """A candidate link from a page result's tokens to a dictionary entry (provenance seed §7).

    JSON shape::

        {"fk_entry_id": "sa.hanumat", "link_kind": "candidate_entry", "link_conf": 93.33,
         "note": "ngram 1 'hanumate' ~ 'hanumat' 93.3", "token_start": 78, "token_end": 78}

    Attributes:
        fk_entry_id: the dictionary entry's id.
        link_kind: always `candidate_entry` (a suggestion for review).
        link_conf: `rapidfuzz.fuzz.ratio` of the matched keys, 0-100, rounded to 2 decimals.
        note: `ngram N '<query key>' ~ '<form key>' [(<form as written>)] <score>`, each text
            cut to 320 characters so the note stays within `MAX_NOTE_CHARS`.
        token_start, token_end: token_no of the first and last token of the span, inclusive.
    """

    fk_entry_id: str
    link_kind: Literal["candidate_entry"] = "candidate_entry"
    link_conf: float = Field(ge=0, le=100)
    note: str = Field(max_length=MAX_NOTE_CHARS)
    token_start: int = Field(ge=0)
    token_end: int = Field(ge=0)


def _bigrams(key: str) -> list[str]:
    """Padded bigrams of `key` (len(key) + 1 of them); a repeat carries its occurrence number,
    so that set operations on them count the multiset intersection."""
    padded = "\x02" + key + "\x03"
    seen: dict[str, int] = {}
    grams = []
    for i in range(len(padded) - 1):
        g = padded[i:i + 2]
        n = seen.get(g, 0)
        seen[g] = n + 1
        grams.append(g if n == 0 else g + chr(n))
    return grams


class _Index:
    """Unique form keys bucketed by length, each bucket with its padded-bigram postings."""

    def __init__(self, keys: Iterable[str]) -> None:
        self.keys: dict[int, list[str]] = {}
        self.postings: dict[int, dict[str, list[int]]] = {}
        for key in keys:
            bucket = self.keys.setdefault(len(key), [])
            postings = self.postings.setdefault(len(key), {})
            for g in _bigrams(key):
                postings.setdefault(g, []).append(len(bucket))
            bucket.append(key)

    def search(self, query: str, min_score: float) -> list[tuple[str, float]]:
        """(key, score) of every key scoring >= `min_score` against `query` (module docstring)."""
        la = len(query)
        if la == 0 or not self.keys:
            return []
        c = min_score / 100.0
        if c <= 0:
            lo, hi = 1, max(self.keys)
        else:
            lo = max(1, math.ceil(la * c / (2 - c) - 1e-9))
            hi = math.floor(la * (2 - c) / c + 1e-9)
        grams = _bigrams(query)
        found: list[tuple[str, float]] = []
        for lb in range(lo, hi + 1):
            keys = self.keys.get(lb)
            if keys is None:
                continue
            max_edits = math.floor((1 - c) * (la + lb) + 1e-9)
            max_edits -= (max_edits - la + lb) % 2
            if max_edits < abs(la - lb):
                continue
            shared = math.ceil((la + lb) / 2 + 1 - 1.5 * max_edits)
            if shared > len(grams):
                continue
            choices: Sequence[str] = keys
            if shared > 0:
                postings = self.postings[lb]
                prefix = sorted((postings.get(g, ()) for g in grams), key=len)[:len(grams) - shared + 1]
                if sum(map(len, prefix)) < len(keys) // 2:
                    candidates: set[int] = set()
                    for posting in prefix:
                        candidates.update(posting)
                    if not candidates:
                        continue
                    choices = [keys[i] for i in candidates] if len(candidates) == 1 else itemgetter(*candidates)(keys)
            found.extend((key, score) for key, score, _ in
                         process.extract(query, choices, scorer=fuzz.ratio, score_cutoff=min_score, limit=None))
        return found


class Dictionary:
    """Entries (id → headword forms as written) indexed for `suggest_links`.

    Build with `Dictionary.from_entries` or `load_dictionary`, which validate; the constructor
    takes its `entries` as valid. Entries do not change after construction; searches are
    remembered (`_CACHE_SIZE`), so one Dictionary serves the pages of a book best.
    """

    def __init__(self, entries: dict[str, tuple[str, ...]]) -> None:
        self.entries = entries
        self._sources: dict[str, list[tuple[str, str]]] = {}
        for entry_id, forms in entries.items():
            for form in forms:
                pairs = self._sources.setdefault(form_key(form), [])
                if (entry_id, form) not in pairs:
                    pairs.append((entry_id, form))
        self._all = _Index(self._sources)
        self._spaced = _Index(k for k in self._sources if " " in k)
        self._cache: dict[tuple[str, float], tuple[tuple[str, float], ...]] = {}

    @classmethod
    def from_entries(cls, items: Iterable[tuple[str, Sequence[str]]]) -> "Dictionary":
        """A dictionary from (entry_id, forms) pairs; forms of a repeated id are merged.

        Raises:
            InputError: an id is not `ENTRY_ID`, or a form is empty, longer than
                `MAX_FORM_CHARS` or has no letters; the message names the entry.
        """
        entries: dict[str, list[str]] = {}
        for entry_id, forms in items:
            _check_id(entry_id, f"entry {entry_id!r}")
            for form in forms:
                form = _check_form(form, f"entry {entry_id!r}")
                entries.setdefault(entry_id, [])
                if form not in entries[entry_id]:
                    entries[entry_id].append(form)
            if entry_id not in entries:
                raise InputError(f"entry {entry_id!r}: no forms")
        return cls({k: tuple(v) for k, v in entries.items()})

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def form_count(self) -> int:
        """Number of distinct (entry, form) pairs."""
        return sum(len(v) for v in self._sources.values())

    def search(self, query: str, min_score: float) -> tuple[tuple[str, float], ...]:
        """Form keys scoring >= `min_score` (0-100, `fuzz.ratio`) against the key `query`, with
        their scores, in no particular order. Exhaustive: the filters only skip forms that
        cannot reach `min_score` (module docstring).

        A query holding a space is compared only with forms holding one: against a form without
        spaces, removing the query's spaces keeps the longest common subsequence and shortens
        the query, so the space-free query (which `suggest_links` always searches too) scores
        at least as high.
        """
        hit = self._cache.get((query, min_score))
        if hit is None:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            index = self._spaced if " " in query else self._all
            hit = self._cache[(query, min_score)] = tuple(index.search(query, min_score))
        return hit

    def sources(self, key: str) -> list[tuple[str, str]]:
        """(entry_id, form as written) pairs whose form has the key `key`."""
        return self._sources.get(key, [])


def _check_id(entry_id: object, where: str) -> str:
    if not isinstance(entry_id, str) or not ENTRY_ID.fullmatch(entry_id):
        raise InputError(f"{where}: entry_id must be 1-200 characters of A-Z a-z 0-9 . _ : -, starting with a letter or digit (got {entry_id!r})")
    return entry_id


def _check_form(form: object, where: str) -> str:
    if not isinstance(form, str):
        raise InputError(f"{where}: form must be a string (got {form!r})")
    if not form.strip():
        raise InputError(f"{where}: empty form")
    if len(form) > MAX_FORM_CHARS:
        raise InputError(f"{where}: form longer than {MAX_FORM_CHARS} characters")
    if not form_key(form):
        raise InputError(f"{where}: form {form!r} has no letters")
    return form.strip()


def load_dictionary(path_or_bytes: str | os.PathLike | bytes, *, format: Literal["json", "csv"]) -> Dictionary:
    """Read a dictionary file (UTF-8, a BOM allowed).

    JSON: a list of objects, each either `{"entry_id": ID, "forms": [FORM, ...]}` or
    `{"id": ID, "headword": FORM, "variants": [FORM, ...]}` (`variants` optional). An integer id
    is read as its decimal string. Each id appears once.

    CSV (RFC 4180, header row required): columns `entry_id,form` (one row per form; rows of one
    id are merged) or `entry_id,forms` (forms separated by `|`). Other columns are ignored.

    Entry ids must match `ENTRY_ID`; forms must be non-empty, at most `MAX_FORM_CHARS` characters
    and hold a letter.

    Raises:
        InputError: unreadable file, bad encoding or syntax, or a bad item; the message names
            the JSON item (`item [i]`, 0-based) or CSV line (1-based, header = line 1) and field.
    """
    if isinstance(path_or_bytes, bytes):
        data = path_or_bytes
    else:
        try:
            data = Path(path_or_bytes).read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read dictionary {os.fspath(path_or_bytes)!r}: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"dictionary is not UTF-8 (byte {exc.start})") from exc
    if format == "json":
        return Dictionary(_parse_json(text))
    if format == "csv":
        return Dictionary(_parse_csv(text))
    raise InputError(f"unknown dictionary format {format!r}; use json or csv")


def _parse_json(text: str) -> dict[str, tuple[str, ...]]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"dictionary JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(items, list):
        raise InputError("dictionary JSON must be a list of entries")
    entries: dict[str, tuple[str, ...]] = {}
    for i, item in enumerate(items):
        where = f"item [{i}]"
        if not isinstance(item, dict):
            raise InputError(f"{where}: not an object")
        if "entry_id" in item:
            raw_id, forms = item["entry_id"], item.get("forms")
            if not isinstance(forms, list) or not forms:
                raise InputError(f"{where}: forms must be a non-empty list of strings")
            fields = [(f"forms[{j}]", f) for j, f in enumerate(forms)]
        elif "id" in item:
            raw_id, variants = item["id"], item.get("variants", [])
            if "headword" not in item:
                raise InputError(f"{where}: headword missing")
            if not isinstance(variants, list):
                raise InputError(f"{where}: variants must be a list of strings")
            fields = [("headword", item["headword"])] + [(f"variants[{j}]", f) for j, f in enumerate(variants)]
        else:
            raise InputError(f"{where}: needs entry_id and forms, or id and headword")
        if isinstance(raw_id, int) and not isinstance(raw_id, bool):
            raw_id = str(raw_id)
        entry_id = _check_id(raw_id, f"{where} entry_id")
        if entry_id in entries:
            raise InputError(f"{where} entry_id: {entry_id!r} repeats an earlier item")
        checked: list[str] = []
        for name, form in fields:
            form = _check_form(form, f"{where} {name}")
            if form not in checked:
                checked.append(form)
        entries[entry_id] = tuple(checked)
    return entries


def _parse_csv(text: str) -> dict[str, tuple[str, ...]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise InputError(f"dictionary CSV line 1: {exc}") from exc
    header = [h.strip() for h in header]
    reader.fieldnames = header
    if "entry_id" not in header or ("form" in header) == ("forms" in header):
        raise InputError("dictionary CSV line 1: header needs entry_id and one of form, forms")
    column = "form" if "form" in header else "forms"
    entries: dict[str, list[str]] = {}
    try:
        for row in reader:
            where = f"line {reader.line_num}"
            entry_id = _check_id((row.get("entry_id") or "").strip(), f"{where} entry_id")
            raw = row.get(column)
            pieces = [raw] if column == "form" else (raw or "").split("|")
            for piece in pieces:
                form = _check_form(piece, f"{where} {column}")
                forms = entries.setdefault(entry_id, [])
                if form not in forms:
                    forms.append(form)
    except csv.Error as exc:
        raise InputError(f"dictionary CSV line {reader.line_num}: {exc}") from exc
    return {k: tuple(v) for k, v in entries.items()}


def _clip(text: str, limit: int = (MAX_NOTE_CHARS - 40) // 3) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def suggest_links(tokens: list[Token], dictionary: Dictionary, *, max_ngram: int = 3, min_score: float = 85.0,
                  limit_per_span: int = 3) -> list[LinkSuggestion]:
    """Suggest dictionary entries for spans of 1..`max_ngram` consecutive tokens.

    Each span's token keys (`link_key`) are joined without a space (Sanskrit compounds are
    written joined) and, for two or more tokens, with one (English phrases), and both are
    searched among the form keys with `fuzz.ratio` >= `min_score`. A span's score for an entry is
    its best over both joins and all the entry's forms. Tokens without letters (danda, verse
    numbers, punctuation) are skipped and end a span.

    An entry is suggested once per place: of overlapping spans suggesting the same entry, only
    the best-scoring one is kept (ties: the shorter, then the earlier). Each span then keeps its
    `limit_per_span` best entries (ties by entry id); an entry cut there is not offered on an
    overlapping span instead.

    Args:
        tokens: one page result's tokens, in any order (taken by token_no).
        max_ngram: longest span, in tokens (>= 1).
        min_score: cutoff, 0-100.
        limit_per_span: entries kept per span (>= 1).

    Returns:
        Suggestions ordered by token_start, token_end, then decreasing link_conf.

    Raises:
        InputError: max_ngram or limit_per_span below 1, or min_score outside 0-100.
    """
    if max_ngram < 1:
        raise InputError("max_ngram must be >= 1")
    if limit_per_span < 1:
        raise InputError("limit_per_span must be >= 1")
    if not 0 <= min_score <= 100:
        raise InputError("min_score must be between 0 and 100")
    ordered = sorted(tokens, key=lambda t: t.token_no)
    keys = [link_key(t.text) for t in ordered]
    # best[(start, end, entry_id)] = (score, n, query, form key, form as written)
    best: dict[tuple[int, int, str], tuple[float, int, str, str, str]] = {}
    for i in range(len(ordered)):
        if not keys[i]:
            continue
        for n in range(1, max_ngram + 1):
            j = i + n
            if j > len(ordered) or not keys[j - 1]:
                break
            parts = keys[i:j]
            queries = ["".join(parts)] if n == 1 else ["".join(parts), " ".join(parts)]
            span = (ordered[i].token_no, ordered[j - 1].token_no)
            for query in queries:
                for fkey, score in dictionary.search(query, min_score):
                    for entry_id, form in dictionary.sources(fkey):
                        slot = (*span, entry_id)
                        if slot not in best or score > best[slot][0]:
                            best[slot] = (score, n, query, fkey, form)

    ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0][1] - kv[0][0], kv[0][0], kv[0][2]))
    taken: dict[str, list[tuple[int, int]]] = {}
    per_span: dict[tuple[int, int], list[LinkSuggestion]] = {}
    for (start, end, entry_id), (score, n, query, fkey, form) in ranked:
        spans = taken.setdefault(entry_id, [])
        if any(start <= e and s <= end for s, e in spans):
            continue
        spans.append((start, end))
        kept = per_span.setdefault((start, end), [])
        if len(kept) >= limit_per_span:
            continue
        written = "" if form == fkey else f" ({_clip(form)})"
        kept.append(LinkSuggestion(
            fk_entry_id=entry_id, link_conf=round(score, 2),
            note=f"ngram {n} '{_clip(query)}' ~ '{_clip(fkey)}'{written} {score:.1f}",
            token_start=start, token_end=end,
        ))
    return [s for span in sorted(per_span) for s in per_span[span]]
