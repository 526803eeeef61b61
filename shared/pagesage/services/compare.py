"""Compare two runs of the same page word by word: the body of
`GET /api/v1/ocr/pages/:id/diff?a=RUN&b=RUN`.

Run `a` is the reference, run `b` the hypothesis, as in `pagesage.text.cer`:

    CER = Levenshtein(b_text, a_text) / len(a_text)   characters, after NFC and collapsing
                                                      whitespace (`pagesage.text.cer.cer`)
    WER = (S + D + I) / N                             words; S, D, I the substituted, deleted and
                                                      inserted words of a minimal word alignment,
                                                      N the number of words of `a`

(the definitions of Morris, Maier & Green, "From WER and RIL to MER and WIL", ICSLP 2004; scoring
as docs/architecture.md, "Scoring", states it). A page text is its tokens' texts joined by single
spaces, so line breaks cost nothing, as in the baseline scorer.

The alignment is `rapidfuzz.distance.Levenshtein.opcodes` on the two lists of words: a minimal
edit script with unit costs (Wagner & Fischer 1974), so its edit count is exactly the word
distance `pagesage.text.cer.wer` computes; among minimal scripts, each run of changes is paired
to need the fewest character edits (`_align`). `difflib.SequenceMatcher` was not used: it finds
longest matching blocks (Ratcliff/Obershelp), not a minimal script, and for sequences of 200 items
or more its `autojunk` heuristic treats every item making up over 1 % of the sequence as junk that
cannot anchor a match (Python docs, `difflib.SequenceMatcher`): on a page of verses, the danda `।`
and the common particles.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from rapidfuzz.distance import Levenshtein

from pagesage.domain.pages import Token
from pagesage.errors import InputError
from pagesage.text.cer import cer as _cer
from pagesage.text.cer import normalize_for_scoring


class DiffOp(BaseModel):
    """One step of the word alignment of run `a` (reference) to run `b`.

    Ranges are half-open token_no ranges `[start, end)`; an empty side (`insert` on `a`,
    `delete` on `b`) has `start == end`, the position where the words would go.

    Attributes:
        op: `equal` (same words), `replace` (as many words of `a` as of `b`, paired in order),
            `insert` (words only in `b`), `delete` (words only in `a`).
        a_start, a_end: token_no range in run `a`.
        b_start, b_end: token_no range in run `b`.
        a_words, b_words: the tokens' `text` in that range, in order.
        char_edits: for `replace` only, the Levenshtein distance in characters (after NFC) of each
            pair `a_words[i]` / `b_words[i]`; None for the other operations.
    """

    op: Literal["equal", "replace", "insert", "delete"]
    a_start: int = Field(ge=0)
    a_end: int = Field(ge=0)
    b_start: int = Field(ge=0)
    b_end: int = Field(ge=0)
    a_words: list[str]
    b_words: list[str]
    char_edits: list[int] | None = None


class RunDiff(BaseModel):
    """Word alignment and error rates of run `b` against run `a` on one page.

    JSON shape (`GET /api/v1/ocr/pages/:id/diff?a=RUN&b=RUN`); the numbers are the corpus page
    `san-imagessan/shreelipi-p001`, ground truth as `a` and plain Tesseract as `b`::

        {"a_words": 126, "b_words": 121,
         "cer": 0.11336, "wer": 0.44444,        # fractions (0.11336 = 11.3 %); null if a is empty
         "char_edits": 101, "a_chars": 891,     # characters
         "word_edits": 56, "words_equal": 72, "words_replaced": 47,
         "words_inserted": 2, "words_deleted": 7,
         "ops": [{"op": "equal", "a_start": 0, "a_end": 2, "b_start": 0, "b_end": 2,
                  "a_words": ["120", "श्रीहनुमत्स्तुतिमञ्जरी"],
                  "b_words": ["120", "श्रीहनुमत्स्तुतिमञ्जरी"], "char_edits": null},
                 {"op": "replace", "a_start": 2, "a_end": 3, "b_start": 2, "b_end": 3,
                  "a_words": ["अनादीशाय"], "b_words": ["अनादीश्ाय"], "char_edits": [1]},
                 ...]}

    Attributes:
        a_words, b_words: number of tokens of each run.
        cer: character error rate of `b` against `a`, a fraction: `char_edits / a_chars`; it can
            exceed 1 when `b` is much longer than `a`. None when `a` has no tokens.
        wer: word error rate, a fraction: `word_edits / a_words`. None when `a` has no tokens.
        char_edits: Levenshtein distance in characters between the two page texts.
        a_chars: characters of `a`'s page text (NFC, words joined by one space).
        word_edits: substituted + inserted + deleted words of the alignment.
        words_equal, words_replaced, words_inserted, words_deleted: words in each kind of
            operation (`words_replaced` counts pairs).
        ops: the alignment in reading order; concatenating the `a_words` of every operation gives
            run `a`'s words in order, and likewise for `b`.
    """

    a_words: int = Field(ge=0)
    b_words: int = Field(ge=0)
    cer: float | None
    wer: float | None
    char_edits: int = Field(ge=0)
    a_chars: int = Field(ge=0)
    word_edits: int = Field(ge=0)
    words_equal: int = Field(ge=0)
    words_replaced: int = Field(ge=0)
    words_inserted: int = Field(ge=0)
    words_deleted: int = Field(ge=0)
    ops: list[DiffOp]


def _in_order(tokens: list[Token], side: str) -> list[Token]:
    ordered = sorted(tokens, key=lambda t: t.token_no)
    for i, token in enumerate(ordered):
        if token.token_no != i:
            raise InputError(f"run {side}: token_no must run 0..{len(ordered) - 1} without gaps or repeats; found {token.token_no} at position {i}")
    return ordered


MAX_REALIGN_CELLS = 40_000
"""Largest run of changes (words of `a` x words of `b`) whose pairing `_align` refines."""

Opcode = tuple[str, int, int, int, int]


def _align(wa: list[str], wb: list[str]) -> list[Opcode]:
    """A minimal word alignment (`Levenshtein.opcodes`) whose runs of changes are re-paired to
    need the fewest character edits.

    Minimal word alignments are often several (`। X` against `Y` is one deletion and one
    substitution whichever word of `a` is paired with `Y`). Between two `equal` blocks, each run of
    changes is aligned again by the Wagner-Fischer recurrence on the cost pair (word edits,
    character edits) compared lexicographically: a substitution costs (1, Levenshtein distance
    of the two words), an insertion or deletion (1, the word's length). The word edits of the run
    cannot drop (the whole alignment is minimal) and stay as they were, so WER is unchanged;
    character edits are the fewest among them. Runs above `MAX_REALIGN_CELLS` keep rapidfuzz's
    pairing.
    """
    out: list[Opcode] = []
    pending: list[Opcode] = []

    def flush() -> None:
        if not pending:
            return
        i1, i2, j1, j2 = pending[0][1], pending[-1][2], pending[0][3], pending[-1][4]
        if len(pending) == 1 and pending[0][0] != "replace" or (i2 - i1) * (j2 - j1) > MAX_REALIGN_CELLS:
            out.extend(pending)
        else:
            out.extend(_realign(wa, wb, i1, i2, j1, j2))
        pending.clear()

    for op in Levenshtein.opcodes(wa, wb):
        if op.tag == "equal":
            flush()
            out.append(tuple(op))
        else:
            pending.append(tuple(op))
    flush()
    return out


def _realign(wa: list[str], wb: list[str], i1: int, i2: int, j1: int, j2: int) -> list[Opcode]:
    """Lexicographic (word edits, character edits) alignment of wa[i1:i2] with wb[j1:j2]."""
    xs, ys = wa[i1:i2], wb[j1:j2]
    n, m = len(xs), len(ys)
    cost = [[(0, 0)] * (m + 1) for _ in range(n + 1)]
    step = [[""] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = (i, cost[i - 1][0][1] + len(xs[i - 1]))
        step[i][0] = "delete"
    for j in range(1, m + 1):
        cost[0][j] = (j, cost[0][j - 1][1] + len(ys[j - 1]))
        step[0][j] = "insert"
    for i in range(1, n + 1):
        x = xs[i - 1]
        for j in range(1, m + 1):
            y = ys[j - 1]
            w, c = cost[i - 1][j - 1]
            best, how = ((w, c), "equal") if x == y else ((w + 1, c + Levenshtein.distance(x, y)), "replace")
            w, c = cost[i - 1][j]
            if (w + 1, c + len(x)) < best:
                best, how = (w + 1, c + len(x)), "delete"
            w, c = cost[i][j - 1]
            if (w + 1, c + len(y)) < best:
                best, how = (w + 1, c + len(y)), "insert"
            cost[i][j], step[i][j] = best, how
    steps = []
    i, j = n, m
    while i or j:
        how = step[i][j]
        steps.append(how)
        i, j = (i - 1, j - 1) if how in ("equal", "replace") else (i - 1, j) if how == "delete" else (i, j - 1)
    out: list[Opcode] = []
    i, j = i1, j1
    for how in reversed(steps):
        di, dj = (0, 1) if how == "insert" else (1, 0) if how == "delete" else (1, 1)
        if out and out[-1][0] == how:
            tag, a0, _, b0, _ = out[-1]
            out[-1] = (tag, a0, i + di, b0, j + dj)
        else:
            out.append((how, i, i + di, j, j + dj))
        i, j = i + di, j + dj
    return out


def compare_tokens(a: list[Token], b: list[Token]) -> RunDiff:
    """Align run `b`'s tokens to run `a`'s (the reference) and score `b` against `a`.

    Tokens are taken in token_no order; words are compared on their `text` after Unicode NFC
    (`pagesage.text.cer.normalize_for_scoring`), joiners kept, as the CER scorer compares them.
    A token's text is one word: tokens hold no whitespace.

    Raises:
        InputError: a run's token_no values are not exactly 0..n-1.
    """
    ta, tb = _in_order(a, "a"), _in_order(b, "b")
    wa = [normalize_for_scoring(t.text) for t in ta]
    wb = [normalize_for_scoring(t.text) for t in tb]
    text_a, text_b = " ".join(wa), " ".join(wb)

    ops: list[DiffOp] = []
    counts = {"equal": 0, "replace": 0, "insert": 0, "delete": 0}
    word_edits = 0
    for tag, i1, i2, j1, j2 in _align(wa, wb):
        char_edits = None
        if tag == "replace":
            char_edits = [Levenshtein.distance(x, y) for x, y in zip(wa[i1:i2], wb[j1:j2])]
            counts[tag] += max(i2 - i1, j2 - j1)
            word_edits += max(i2 - i1, j2 - j1)
        elif tag == "equal":
            counts[tag] += i2 - i1
        else:
            n = (i2 - i1) + (j2 - j1)
            counts[tag] += n
            word_edits += n
        ops.append(DiffOp(op=tag, a_start=i1, a_end=i2, b_start=j1, b_end=j2,
                          a_words=[t.text for t in ta[i1:i2]], b_words=[t.text for t in tb[j1:j2]],
                          char_edits=char_edits))

    char_edits_total = Levenshtein.distance(text_b, text_a)
    return RunDiff(
        a_words=len(ta), b_words=len(tb),
        cer=_cer(text_b, text_a) if ta else None,
        wer=word_edits / len(ta) if ta else None,
        char_edits=char_edits_total, a_chars=len(text_a),
        word_edits=word_edits,
        words_equal=counts["equal"], words_replaced=counts["replace"],
        words_inserted=counts["insert"], words_deleted=counts["delete"],
        ops=ops,
    )
