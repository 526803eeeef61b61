"""How a project is exported (the settings) and, once generated, what came out (the output's
path, size and checksum).

`format` is an `ExportFormat` (`markdown-quarto`, `hocr`, `plain-text`, `json`, `page-xml`,
`alto`); the format-specific options (`markdown`, `hocr`, `json`) apply to their format and are
ignored by the others. `confidenceThreshold` is 0-1; `outputFileSize` bytes; `outputSha256` the
lower-case hex SHA-256 of the output file; `generatedAt` aware UTC.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, model_validator

from pagesage.book.domain.model import SCHEMA_VERSION, BookModel, Confidence, Count, ExportFormat, Id, UserAttribution
from pagesage.domain.limits import LineText, PageNo

SHA256_PATTERN = r"^[0-9a-f]{64}$"
"""A SHA-256 checksum: 64 lower-case hex digits."""

FILE_NAME_PATTERN = r"^[^/\\]+$"
"""A file name without a folder (no `/` or `\\`)."""


class MarkdownExportOptions(BookModel):
    """Markdown output: `flavor` the dialect; `useSemanticClasses` marks boxes with their
    content type (`.verse`, `.commentary`); `languageTags` adds `{lang="sa"}` (BCP 47) spans;
    `parallelText` sets original and translation side by side; `tocDepth` the heading levels
    of the table of contents (0: none)."""

    flavor: Literal["quarto", "pandoc", "commonmark"] = "quarto"
    include_yaml_frontmatter: bool = True
    use_semantic_classes: bool = True
    language_tags: bool = True
    parallel_text: bool = False
    citation_format: LineText | None = Field(default=None, max_length=100)
    toc_depth: Annotated[int, Field(ge=0, le=6)] = 3


class HocrExportOptions(BookModel):
    """hOCR output: which of confidences (`x_wconf`), box rectangles (`bbox`) and word-level
    elements (`ocrx_word`) it carries."""

    include_confidence: bool = True
    include_bounding_boxes: bool = True
    include_word_level: bool = False


class JsonExportOptions(BookModel):
    """JSON output: indented or compact, with the engines' original text beside the corrected
    text (`includeRawOcr`), with each page's version history."""

    pretty: bool = True
    include_raw_ocr: bool = True
    include_version_history: bool = False


class ExportConfiguration(BookModel):
    """One export of a project: what to include, how, and (once generated) the output.

    `includedPages` is a list of 1-based page numbers, or "all". `includeLowConfidence` keeps
    text whose confidence is below `confidenceThreshold` (0-1). `outputFilePath` is the path in
    the project's repository; `outputFileSize` bytes; `outputSha256` hex SHA-256.
    """

    export_id: Id
    project_id: Id
    format: ExportFormat
    output_file_name: LineText = Field(min_length=1, max_length=255, pattern=FILE_NAME_PATTERN)
    included_pages: list[PageNo] | Literal["all"] = Field(default="all", description='1-based page numbers, or "all".')
    include_images: bool = False
    include_low_confidence: bool = False
    confidence_threshold: Confidence = 0.8
    markdown: MarkdownExportOptions | None = None
    hocr: HocrExportOptions | None = None
    json_options: JsonExportOptions | None = Field(default=None, alias="json")
    include_attribution: bool = True
    include_version_history: bool = False
    include_metadata: bool = True
    generated_at: AwareDatetime | None = None
    generated_by: UserAttribution | None = None
    output_file_path: LineText | None = Field(default=None, max_length=1024)
    output_file_size: Count | None = Field(default=None, description="Bytes.")
    output_sha256: str | None = Field(default=None, pattern=SHA256_PATTERN)
    schema_version: str = SCHEMA_VERSION

    @model_validator(mode="after")
    def _pages_distinct(self) -> ExportConfiguration:
        if isinstance(self.included_pages, list) and len(set(self.included_pages)) != len(self.included_pages):
            raise ValueError("includedPages lists a page twice")
        return self
