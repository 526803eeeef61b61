"""Validation of a page's references and footnotes, and the fixes it can make by itself
(docs/book.md, "Validation").

| type | severity | when | auto-fixable |
|---|---|---|---|
| orphaned_reference | error | the target box is in no page (box index), or the marker was deleted (`isOrphaned`) | no |
| cross_page_broken | error / warning | a cross-page target is gone (error); it moved to another page than the cached `targetPageId` (warning) | the move: yes |
| orphaned_footnote | warning | no reference, from any page, points at a footnote box | no |
| number_mismatch | warning | the marker's number is not the one the target footnote starts with | no |
| duplicate_reference | info | one footnote is referenced more than once on the page | no |
| offset_mismatch | warning | `displayText` is not the text at the reference's position, and nothing flagged it | when `displayText` occurs in the text |
| overlapping_references | error | references out of order, overlapping or misnumbered | order and numbers: yes; overlaps: no |
| text_changed_unupdated | warning | a correction changed text in or around the marker (`needsReview`) | when `displayText` occurs in the text |

Validation reads only what it is given: the page, the box index entries of its targets, the
texts of target footnotes (loaded page by page through the index) and how many references
point at each footnote of the page (the reference index). It never loads every page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pagesage.book.domain import references
from pagesage.domain.markers import covers, footnote_value, marker_value
from pagesage.book.domain.model import (BoundingBox, BoxLocation, ContentType, InlineReference, NumberMismatch, PageAnnotations,
                                        PageState, ValidationStatus, ValidationWarning)


@dataclass
class Lookups:
    """What validation needs beyond the page: box index entries of every target
    (`locations`), the corrected text of target boxes (`target_texts`), and the number of
    references pointing at each footnote box of the page from any page (`incoming`)."""

    locations: dict[str, BoxLocation] = field(default_factory=dict)
    target_texts: dict[str, str] = field(default_factory=dict)
    incoming: dict[str, int] = field(default_factory=dict)


def targets(page: PageAnnotations) -> set[str]:
    """The box ids the page's references point at."""
    return {r.target_box_id for b in page.boxes for r in b.inline_references}


def _warning(kind: str, severity: str, page: PageAnnotations, box: BoundingBox | None, ref: InlineReference | None,
             message: str, fix: str | None, fixable: bool) -> ValidationWarning:
    box_id = box.box_id if box else None
    ref_id = ref.reference_id if ref else None
    return ValidationWarning(warning_id=f"{kind}:{box_id or '-'}:{ref_id or '-'}", type=kind, severity=severity,
                             page_id=page.page_id, box_id=box_id, reference_id=ref_id, message=message, suggested_fix=fix,
                             auto_fixable=fixable)


def validate_page(page: PageAnnotations, lookups: Lookups, now: datetime) -> tuple[ValidationStatus, list[ValidationWarning]]:
    """The page's validation status and warnings (the table in the module docstring)."""
    warnings: list[ValidationWarning] = []
    status = ValidationStatus(is_valid=True, last_validated=now)
    seen_targets: dict[str, int] = {}
    for box in page.boxes:
        warnings += _order_warnings(page, box)
        for ref in box.inline_references:
            seen_targets[ref.target_box_id] = seen_targets.get(ref.target_box_id, 0) + 1
            warnings += _reference_warnings(page, box, ref, lookups, status)
    for box in page.boxes:
        for ref in box.inline_references:
            if seen_targets.get(ref.target_box_id, 0) > 1 and ref.sequence_in_text == min(
                    r.sequence_in_text for r in box.inline_references if r.target_box_id == ref.target_box_id):
                warnings.append(_warning("duplicate_reference", "info", page, box, ref,
                                         f"footnote {ref.target_box_id} is referenced {seen_targets[ref.target_box_id]} times on this page",
                                         "keep one reference, or confirm the repetition", False))
                seen_targets[ref.target_box_id] = 0
    for box in page.boxes:
        if box.content_type is ContentType.FOOTNOTE and not lookups.incoming.get(box.box_id):
            status.orphaned_footnotes.append(box.box_id)
            warnings.append(_warning("orphaned_footnote", "warning", page, box, None,
                                     f"footnote \"{box.text.corrected[:50]}\" has no references",
                                     "add a reference in the text, or mark the box as a general note", False))
    status.is_valid = not any(w.severity == "error" for w in warnings)
    return status, warnings


def _order_warnings(page: PageAnnotations, box: BoundingBox) -> list[ValidationWarning]:
    live = [r for r in box.inline_references if references.is_live(r)]
    text_len = len(box.text.corrected)
    out = []
    for prev, ref in zip(live, live[1:]):
        if ref.position.char_offset < prev.position.end:
            out.append(_warning("overlapping_references", "error", page, box, ref,
                                f"reference {ref.reference_id} overlaps {prev.reference_id}", "move or remove one of them", False))
    if not out and (any(r.position.end > text_len for r in live)
                    or references.renumbered(box.inline_references) != box.inline_references):
        out.append(_warning("overlapping_references", "error", page, box, None,
                            "references are out of order or misnumbered", "re-sort and re-number them", True))
    return out


def _reference_warnings(page: PageAnnotations, box: BoundingBox, ref: InlineReference, lookups: Lookups,
                        status: ValidationStatus) -> list[ValidationWarning]:
    out = []
    where = lookups.locations.get(ref.target_box_id)
    if ref.is_orphaned:
        status.orphaned_references.append(ref.reference_id)
        out.append(_warning("orphaned_reference", "error", page, box, ref,
                            f"reference \"{ref.display_text}\" lost its marker ({ref.orphaned_reason or 'orphaned'})",
                            "put the marker back in the text and move the reference onto it, or remove the reference", False))
    elif where is None:
        if ref.target_page_id and ref.target_page_id != page.page_id:
            status.broken_cross_page_refs.append(ref.reference_id)
            out.append(_warning("cross_page_broken", "error", page, box, ref,
                                f"reference \"{ref.display_text}\" points at box {ref.target_box_id} on page "
                                f"{ref.target_page_number or ref.target_page_id}, which no longer has it",
                                "link to another footnote, or remove the reference", False))
        else:
            status.orphaned_references.append(ref.reference_id)
            out.append(_warning("orphaned_reference", "error", page, box, ref,
                                f"reference \"{ref.display_text}\" points to non-existent box {ref.target_box_id}",
                                "remove the reference or link to a different footnote", False))
    elif where.page_id != page.page_id and (ref.target_page_id, ref.target_page_number) != (where.page_id, where.page_number):
        out.append(_warning("cross_page_broken", "warning", page, box, ref,
                            f"reference \"{ref.display_text}\" caches page {ref.target_page_number or ref.target_page_id or 'none'}, "
                            f"its target is on page {where.page_number}",
                            f"update the cached target page to {where.page_number}", True))
    if references.is_live(ref):
        found = references.text_at(box, ref)
        if found != ref.display_text:
            fixable = relocated_offset(box, ref) is not None
            if ref.needs_review:
                out.append(_warning("text_changed_unupdated", "warning", page, box, ref,
                                    f"the text around reference \"{ref.display_text}\" changed ({ref.review_reason})",
                                    "move the reference onto its marker" if fixable else "correct the reference by hand", fixable))
            else:
                out.append(_warning("offset_mismatch", "warning", page, box, ref,
                                    f"displayText \"{ref.display_text}\" does not match \"{found}\" at offset {ref.position.char_offset}",
                                    "update charOffset or displayText", fixable))
        elif ref.needs_review:
            out.append(_warning("text_changed_unupdated", "warning", page, box, ref,
                                f"the text around reference \"{ref.display_text}\" changed ({ref.review_reason}): confirm it",
                                "confirm the reference", True))
    target_text = lookups.target_texts.get(ref.target_box_id)
    number, footnote = marker_value(ref.display_text), footnote_value(target_text) if target_text else None
    if number and footnote and not covers(number, footnote) and not covers(footnote, number):
        status.number_mismatches.append(NumberMismatch(reference_id=ref.reference_id, reference_number=number,
                                                       footnote_box_id=ref.target_box_id, footnote_number=footnote, confidence=0.9))
        out.append(_warning("number_mismatch", "warning", page, box, ref,
                            f"reference \"{number}\" links to footnote \"{footnote}\"", f"link to footnote {number} instead?", False))
    return out


def relocated_offset(box: BoundingBox, ref: InlineReference) -> int | None:
    """Where `ref`'s `displayText` occurs in the box's text nearest its old offset, not
    overlapping another live reference; None when it occurs nowhere free."""
    text, needle = box.text.corrected, ref.display_text
    others = [r for r in box.inline_references if r.reference_id != ref.reference_id and references.is_live(r)]
    best = None
    start = text.find(needle)
    while start != -1:
        end = start + len(needle)
        if not any(start < o.position.end and o.position.char_offset < end for o in others):
            if best is None or abs(start - ref.position.char_offset) < abs(best - ref.position.char_offset):
                best = start
        start = text.find(needle, start + 1)
    return best


def auto_fix(state: PageState, warnings: list[ValidationWarning], locations: dict[str, BoxLocation]) -> tuple[PageState, list[str], list[str]]:
    """Apply the fixable `warnings`: relocate references onto their displayText (nearest the
    old offset), confirm needs-review references that sit on their marker, update stale
    cross-page caches, re-sort and re-number. Returns the new state and the warning ids fixed
    and not fixed."""
    fixed, failed = [], []
    boxes = {b.box_id: b for b in state.bounding_boxes}
    for w in warnings:
        box = boxes.get(w.box_id or "")
        if not w.auto_fixable or box is None:
            failed.append(w.warning_id)
            continue
        if w.reference_id is None:  # order / numbering
            boxes[box.box_id] = box.model_copy(update={"inline_references": references.renumbered(box.inline_references)})
            fixed.append(w.warning_id)
            continue
        ref = next((r for r in box.inline_references if r.reference_id == w.reference_id), None)
        if ref is None:
            failed.append(w.warning_id)
            continue
        update: dict = {}
        if w.type == "cross_page_broken":
            where = locations.get(ref.target_box_id)
            if where is None:
                failed.append(w.warning_id)
                continue
            update = {"target_page_id": where.page_id, "target_page_number": where.page_number}
        else:
            offset = ref.position.char_offset if references.text_at(box, ref) == ref.display_text else relocated_offset(box, ref)
            if offset is None:
                failed.append(w.warning_id)
                continue
            update = {"position": ref.position.model_copy(update={"char_offset": offset, "length": len(ref.display_text)}),
                      "needs_review": None, "review_reason": None}
        refs = [r.model_copy(update=update) if r.reference_id == ref.reference_id else r for r in box.inline_references]
        boxes[box.box_id] = box.model_copy(update={"inline_references": references.renumbered(refs)})
        fixed.append(w.warning_id)
    new_state = state.model_copy(update={"bounding_boxes": [boxes[b.box_id] for b in state.bounding_boxes]})
    references.check_page_references(new_state)
    return new_state, fixed, failed
