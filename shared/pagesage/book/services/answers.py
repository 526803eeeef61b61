"""What the book layer's use cases answer (the HTTP bodies of `book.api`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from pagesage.book.domain.detection import ReferenceProposal
from pagesage.book.domain.model import (BookModel, BookRequest, BoundingBox, IncomingReference, InlineReference, Project,
                                        ReviewStatus, ValidationStatus, ValidationWarning, VersionHistoryEntry)


class AffectedReferences(BookModel):
    """Reference ids a text correction moved, orphaned, or left needing review."""

    updated: list[str] = Field(default_factory=list)
    orphaned: list[str] = Field(default_factory=list)
    needs_review: list[str] = Field(default_factory=list)


class EditResult(BookModel):
    """Any edit's answer: the new version and the boxes it changed or made (`updatedBoxes`),
    the ids of boxes it made (`createdBoxIds`), references it affected."""

    version_number: int
    commit_sha: str
    updated_boxes: list[BoundingBox] = Field(default_factory=list)
    created_box_ids: list[str] = Field(default_factory=list)
    affected_references: AffectedReferences | None = None


class UpdateTextResponse(BookModel):
    """A text correction's answer (the box, references by outcome, the new version)."""

    updated_box: BoundingBox
    affected_references: AffectedReferences
    version_number: int
    commit_sha: str


class AddInlineReferenceResponse(BookModel):
    """A new reference's id, the new version and the box as it now is."""

    reference_id: str
    version_number: int
    commit_sha: str
    updated_box: BoundingBox


class ReferenceProposalList(BookModel):
    """Detection on demand: references applied (confident) and proposals to confirm."""

    applied: list[InlineReference] = Field(default_factory=list)
    proposals: list[ReferenceProposal] = Field(default_factory=list)
    version_number: int | None = None
    commit_sha: str | None = None


class ValidatePageResponse(BookModel):
    """A page's validation: status, warnings, how many of them auto-fix can fix."""

    validation_status: ValidationStatus
    warnings: list[ValidationWarning]
    auto_fixable_count: int


class PageValidation(BookModel):
    """One page's part of a project's validation."""

    page_id: str
    page_number: int
    validation_status: ValidationStatus
    warnings: list[ValidationWarning]


class ValidateProjectResponse(BookModel):
    """Every page's validation, and warning counts by type."""

    project_id: str
    is_valid: bool
    pages: list[PageValidation]
    counts: dict[str, int]
    auto_fixable_count: int


class AutoFixRequest(BookRequest):
    """The warnings to fix (`warningIds`), or all fixable ones (`confirmAll`)."""

    warning_ids: list[str] = Field(default_factory=list, max_length=10_000)
    confirm_all: bool = False


class AutoFixResponse(BookModel):
    """Warning ids fixed and not fixed, and the page's version after the fix."""

    fixed: list[str]
    failed: list[str]
    version_number: int
    commit_sha: str | None = None


class IncomingReferenceDetail(IncomingReference):
    """An incoming reference, checked against its source page (`isValid`)."""

    is_valid: bool
    last_validated: datetime


class IncomingReferencesResponse(BookModel):
    """A box and every reference pointing at it, from any page."""

    footnote_box: BoundingBox
    incoming_references: list[IncomingReferenceDetail]
    total_count: int


class OutgoingReferenceDetail(InlineReference):
    """A box's reference with its target: whether it exists, its page, the start of its text."""

    target_exists: bool
    target_text_excerpt: str | None = None


class OutgoingReferencesResponse(BookModel):
    """A box and its references with their targets."""

    source_box: BoundingBox
    outgoing_references: list[OutgoingReferenceDetail]
    total_count: int


class VersionList(BookModel):
    """A page's version entries, oldest first."""

    page_id: str
    versions: list[VersionHistoryEntry]


class PageSummary(BookModel):
    """A page in a project's page list."""

    page_id: str
    page_number: int
    review_status: ReviewStatus
    confidence: float
    box_count: int
    version: int
    commit_sha: str | None


class PageSummaryList(BookModel):
    project_id: str
    items: list[PageSummary]


class ProjectList(BookModel):
    items: list[Project]
    next_cursor: str | None = None

