"""Character and word error rates, scored as the corpus baseline scores them.

CER = Levenshtein(hypothesis, reference) / len(reference) after Unicode NFC and collapsing every
whitespace run to one space (docs/architecture.md, "Scoring"): line
breaks are free, reading-order sequence errors are not. Joiners are kept, as the baseline keeps
them. WER is the same on whitespace-separated words.
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz.distance import Levenshtein


def normalize_for_scoring(text: str) -> str:
    """NFC with whitespace runs collapsed to one space and ends stripped."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


def cer(hypothesis: str, reference: str) -> float:
    """Character error rate (edits / reference characters). Raises ValueError on an empty reference."""
    ref = normalize_for_scoring(reference)
    if not ref:
        raise ValueError("empty reference")
    return Levenshtein.distance(normalize_for_scoring(hypothesis), ref) / len(ref)


def wer(hypothesis: str, reference: str) -> float:
    """Word error rate (word edits / reference words). Raises ValueError on an empty reference."""
    ref = normalize_for_scoring(reference).split(" ")
    if ref == [""]:
        raise ValueError("empty reference")
    return Levenshtein.distance(normalize_for_scoring(hypothesis).split(" "), ref) / len(ref)
