"""An edition as Markdown: Quarto (`.qmd`), Pandoc Markdown or CommonMark with GFM footnotes.

Flavours (`MarkdownExportOptions.flavor`)
    `quarto` and `pandoc` write Pandoc's Markdown (Pandoc User's Guide, "Pandoc's Markdown"):
    a YAML metadata block ("Extension: yaml_metadata_block"), fenced divs with attributes
    ("Divs and Spans": `::: {.commentary lang="en" data-box-id="..."}`), line blocks
    ("Line blocks": `| line`), footnotes ("Footnotes": `[^p1-2]` and `[^p1-2]: text`) and
    heading attributes ("Heading identifiers"). Quarto reads the same syntax ("Markdown
    Basics") and lays out `.columns`/`.column` divs side by side; Pandoc keeps them as divs
    (its HTML writer styles them as flex columns). The two differ only in the file name:
    `extension` gives `qmd` for Quarto, `md` otherwise. The registry reads `EXTENSION`, so an
    export's default `outputFileName` is `<slug>.qmd` whatever the flavour.
    `commonmark` writes CommonMark 0.31 with GFM footnotes (`[^id]`, as GitHub reads them):
    no divs, line blocks or attributes, so a box's class, language and provenance go in an
    HTML comment before it, a verse's lines end in a backslash hard line break (§6.7), the
    metadata is an HTML comment holding the YAML, and parallel text is written in sequence.

Front matter (`includeYamlFrontmatter`)
    title, subtitle, author (a list), date (the publication year), publisher, `lang` (the
    document's BCP 47 tag: the project's first language), languages (their tags), `toc` and
    `toc-depth` when `tocDepth` > 0 in the Pandoc flavours (Quarto's keys; Pandoc keeps them
    as metadata), `csl` (`citationFormat`, the citation style a Pandoc/Quarto citeproc run
    would use), contributors (names) when `includeAttribution`, and a `pagesage` map (project, export,
    generation time, source document, pages, low-confidence boxes left out) when
    `includeMetadata`. Pandoc reads metadata strings as Markdown, so text fields are escaped
    like body text. The YAML is block mappings of JSON values (`yaml_lines`): YAML 1.2 reads
    them as written, and rendering needs no YAML library.

Boxes, in page order and each page's reading order
    ==================================  =========================================================
    content type                        Markdown (Pandoc flavours)
    ==================================  =========================================================
    heading / subheading                `#` / `##` heading; `{lang=..}` when it differs from the
                                        document's; provenance as heading attributes
    verse                               `::: {.verse lang="sa"}` holding a line block, one
                                        `| line` a line (a blank line starts another block)
    commentary, translation,            `::: {.commentary}`, `::: {.translation}`,
    transliteration                     `::: {.transliteration}` holding paragraphs
    footnote                            a footnote definition `[^p1-2]: text` (after a comment
                                        naming its boxes) at the end of the page where it is
                                        first referenced, once; the box a comment; a continuation
                                        box (`continuesNote`) only a comment; a note nothing
                                        references stays where it stood, `::: {.footnote}`
    running-head, page-number           HTML comments `<!-- running-head: ... -->`,
                                        `<!-- page-number: 12 -->`
    any other (caption, table, other…)  paragraphs in a div without a class
    ==================================  =========================================================

    Classes are written when `useSemanticClasses`, `lang` attributes when `languageTags`.
    Every page starts with `<!-- page N (pageId ..., sourcePageId ...) -->`. Every box carries
    its provenance: `data-box-id`, `data-page` (page number), `data-run`, `data-page-result`
    and `data-tokens` (OCR token numbers as ranges, "3-7,9"); a low-confidence box also has
    the class `.low-confidence` and `data-confidence` (0-1, two decimals). An inline reference
    whose note is in the edition becomes `[^note-id]` in place of its marker; any other keeps
    its marker. With `parallelText` (Pandoc flavours) each verse, with the transliterations
    right after it, is set beside the page's next translation (before the next verse) in
    `::::: {.columns}` with two `:::: {.column width="50%"}`.

Escaping (so OCR text never becomes markup)
    Lines are stripped of surrounding white space (no indented code, no trailing-space hard
    breaks). Backslash-escaped everywhere: ``\\ ` * _ [ ] { } < > | ~ ^ $ @ # & !`` and the
    first colon of an emoji shortcode (`:word:`). At a line start: `- + = : %` and the
    delimiter of a list-like marker (`1.`, `a)`, `(iv)`). Pandoc flavours also escape `'` and
    `"`, hyphens in runs of two or more and dots in runs of three or more, which Pandoc's
    `smart` extension would turn into curly quotes, dashes and ellipses. CommonMark also
    breaks GFM's bare-URL autolinks (`http\\://`, `www\\.`). A colon right after a footnote
    reference is escaped (`[^id]:` at a line start would define the note). Devanagari (danda
    `।`, `॥` included) needs no escaping. HTML comments have runs of hyphens spaced out ("- -").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from pagesage.book.domain.edition import Box, Edition, EditionPage
from pagesage.book.domain.export_config import MarkdownExportOptions
from pagesage.book.domain.model import LANGUAGE_TAGS, ContentType

MEDIA_TYPE = "text/markdown; charset=utf-8"
EXTENSION = "qmd"
WORDS = False
"""Markdown writes each box's text, not its words."""
"""The registry's extension: Quarto's, the default flavour's (`extension` gives each flavour's)."""

EXTENSIONS = {"quarto": "qmd", "pandoc": "md", "commonmark": "md"}
"""The file name extension of each flavour."""

CT = ContentType
DIV_CLASSES = {CT.VERSE: "verse", CT.COMMENTARY: "commentary", CT.TRANSLATION: "translation",
               CT.TRANSLITERATION: "transliteration"}
"""The class of each content type written as a classed div."""
HEADING_LEVELS = {CT.HEADING: 1, CT.SUBHEADING: 2}
COMMENTED = {CT.RUNNING_HEAD: "running-head", CT.PAGE_NUMBER: "page-number"}
"""Content types kept only as HTML comments."""

_INLINE = re.compile(r"([\\`*_\[\]{}<>|~^$@#&!])")
_EMOJI = re.compile(r":(?=[A-Za-z0-9_+-]+:)")
_QUOTES = re.compile(r"(['\"])")
_HYPHENS = re.compile(r"-{2,}")
_DOTS = re.compile(r"\.{3,}")
_AUTOLINK = re.compile(r":(?=//)|(?<=[wW]{3})\.")
_LINE_MARK = re.compile(r"^[-+=:%]")
_LIST_MARK = re.compile(r"^(\(?(?:\d{1,9}|[A-Za-z]|[ivxlcdm]+|[IVXLCDM]+))([.)])(?=\s|$)")


def render(edition: Edition) -> bytes:
    """The edition as UTF-8 Markdown in the flavour of `edition.config.markdown` (module docstring)."""
    return render_text(edition).encode("utf-8")


def render_text(edition: Edition) -> str:
    """The edition as Markdown text, ending with a newline."""
    return _Document(edition).text()


def extension(options: MarkdownExportOptions | None) -> str:
    """The file name extension of `options`' flavour: `qmd` for Quarto, `md` for the others."""
    return EXTENSIONS[(options or MarkdownExportOptions()).flavor]


def escape(text: str, flavor: str = "quarto") -> str:
    """`text` with every character `flavor`'s Markdown could read as markup backslash-escaped
    (module docstring, "Escaping"), each line stripped; line breaks are kept."""
    return "\n".join(_escape_line_start(_escape_inline(line.strip(), flavor)) for line in text.split("\n"))


def _escape_inline(text: str, flavor: str) -> str:
    text = _EMOJI.sub(r"\\:", _INLINE.sub(r"\\\1", text))
    if flavor == "commonmark":
        return _AUTOLINK.sub(lambda m: "\\" + m.group(), text)
    text = _QUOTES.sub(r"\\\1", text)
    text = _HYPHENS.sub(lambda m: "\\-" * len(m.group()), text)
    return _DOTS.sub(lambda m: "\\." * len(m.group()), text)


def _escape_line_start(line: str) -> str:
    if _LINE_MARK.match(line):
        return "\\" + line
    return _LIST_MARK.sub(r"\1\\\2", line)


def comment(text: str) -> str:
    """An HTML comment of `text` on one line: white space runs folded, hyphen runs spaced out
    (`comment_safe`)."""
    return f"<!-- {comment_safe(' '.join(text.split()))} -->"


def comment_safe(text: str) -> str:
    """`text` with its runs of hyphens spaced out ("--" -> "- -"), so no `--` (hence no `-->`
    ending the comment early) is inside an HTML comment holding it."""
    return _HYPHENS.sub(lambda m: " ".join(m.group()), text)


def token_ranges(numbers: Sequence[int]) -> str:
    """Token numbers as ranges: (0, 1, 2, 5) -> "0-2,5"."""
    runs: list[list[int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ",".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def yaml_lines(mapping: dict, indent: int = 0) -> list[str]:
    """`mapping` as YAML lines: a block mapping (nested ones indented two spaces) whose values
    are JSON (strings double-quoted, lists in flow style), which YAML 1.2 reads as they are
    (§7.3.1 "Double-Quoted Style", §7.4 "Flow Collection Styles"); quoting every string keeps
    a value such as `no` or `1905` a string."""
    lines = []
    for key, value in mapping.items():
        if isinstance(value, dict):
            lines += [f"{' ' * indent}{key}:", *yaml_lines(value, indent + 2)]
        else:
            lines.append(f"{' ' * indent}{key}: {json.dumps(value, ensure_ascii=False)}")
    return lines


@dataclass
class _Parallel:
    """A verse (with its transliterations) and the translation set beside it."""

    original: list[Box]
    translation: Box


@dataclass
class _Document:
    """One rendering: the edition, its options and the notes defined so far."""

    edition: Edition
    options: MarkdownExportOptions = field(init=False)
    referenced: set[str] = field(init=False)
    page_numbers: dict[str, int] = field(init=False)
    defined: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.options = self.edition.config.markdown or MarkdownExportOptions()
        self.page_numbers = {p.page_id: p.page_number for p in self.edition.pages}
        self.referenced = {ref.note_id for _, box in self.edition.boxes() if _has_body(box)
                           for ref in box.references if ref.note_id in self.edition.notes}

    @property
    def flavor(self) -> str:
        return self.options.flavor

    @property
    def pandoc(self) -> bool:
        return self.flavor != "commonmark"

    def text(self) -> str:
        blocks = [self.front_matter()] if self.options.include_yaml_frontmatter else []
        for page in self.edition.pages:
            blocks.extend(self.page(page))
        return "\n\n".join(b for b in blocks if b) + "\n"

    # front matter

    def front_matter(self) -> str:
        meta = self.metadata()
        dumped = "".join(f"{line}\n" for line in yaml_lines(meta))
        if self.pandoc:
            return f"---\n{dumped}---"
        return f"<!-- metadata\n{comment_safe(dumped)}-->"

    def metadata(self) -> dict:
        project, config = self.edition.project, self.edition.config
        text = self.metadata_text
        meta: dict = {"title": text(project.title)}
        if project.subtitle:
            meta["subtitle"] = text(project.subtitle)
        if project.authors:
            meta["author"] = [text(a) for a in project.authors]
        if project.publication_year is not None:
            meta["date"] = str(project.publication_year)
        if project.publisher:
            meta["publisher"] = text(project.publisher)
        meta["lang"] = self.edition.lang
        meta["languages"] = [LANGUAGE_TAGS[lang] for lang in project.languages]
        if self.options.toc_depth > 0 and self.pandoc:
            meta["toc"] = True
            meta["toc-depth"] = self.options.toc_depth
        if self.options.citation_format:
            meta["csl"] = self.options.citation_format
        if config.include_attribution and self.edition.contributors:
            meta["contributors"] = [text(c.name) for c in self.edition.contributors]
        if config.include_metadata:
            meta["pagesage"] = self.export_record()
        return meta

    def metadata_text(self, value: str) -> str:
        return escape(value, self.flavor) if self.pandoc else value

    def export_record(self) -> dict:
        edition, project = self.edition, self.edition.project
        record = {"projectId": project.project_id, "exportId": edition.config.export_id,
                  "generatedAt": edition.generated_at.isoformat(),
                  "sourceDocument": self.metadata_text(project.source_document.file_name),
                  "pages": edition.page_numbers, "confidenceThreshold": edition.config.confidence_threshold,
                  "omittedLowConfidenceBoxes": edition.omitted_boxes}
        if project.edition:
            record["edition"] = self.metadata_text(project.edition)
        return record

    # pages

    def page(self, page: EditionPage) -> list[str]:
        source = f", sourcePageId {page.source_page_id}" if page.source_page_id else ""
        blocks = [comment(f"page {page.page_number} (pageId {page.page_id}{source})")]
        for unit in self.units(page.boxes):
            blocks.append(self.parallel(unit) if isinstance(unit, _Parallel) else self.box(unit))
        blocks.extend(self.definitions(page))
        return blocks

    def units(self, boxes: Sequence[Box]) -> list[Box | _Parallel]:
        """The page's boxes, each verse joined to its translation when `parallelText` (Pandoc flavours)."""
        if not (self.options.parallel_text and self.pandoc):
            return list(boxes)
        out: list[Box | _Parallel] = []
        taken: set[int] = set()
        for i, box in enumerate(boxes):
            if i in taken:
                continue
            if box.content_type != CT.VERSE:
                out.append(box)
                continue
            original = _following_transliterations(boxes, i)
            translation = _next_translation(boxes, i + len(original))
            if translation is None:
                out.append(box)
                continue
            taken.update(range(i + 1, i + len(original)))
            taken.add(translation)
            out.append(_Parallel(original, boxes[translation]))
        return out

    def parallel(self, unit: _Parallel) -> str:
        left = "\n\n".join(self.box(b) for b in unit.original)
        right = self.box(unit.translation)
        column = ':::: {.column width="50%"}'
        return f"::::: {{.columns}}\n\n{column}\n\n{left}\n\n::::\n\n{column}\n\n{right}\n\n::::\n\n:::::"

    def box(self, box: Box) -> str:
        kind = box.content_type
        if kind in COMMENTED:
            return comment(f"{COMMENTED[kind]}: {box.text}")
        if kind == CT.FOOTNOTE:
            return self.footnote(box)
        if not box.text.strip():
            return ""
        if kind in HEADING_LEVELS:
            return self.heading(box, HEADING_LEVELS[kind])
        body = self.line_blocks(box) if kind == CT.VERSE else self.paragraphs(self.inline(box))
        return self.wrap(box, DIV_CLASSES.get(kind), body)

    def footnote(self, box: Box) -> str:
        if box.continues_note:
            return comment(f"footnote {box.box_id}: continues note {box.continues_note}")
        note = self.edition.notes.get(box.note_id) if box.note_id else None
        if note is not None and note.note_id in self.referenced:
            return comment(f"footnote {box.box_id}: note {note.note_id}")
        text = escape(note.text, self.flavor) if note is not None else self.inline(box)
        extra = {"data-note-id": note.note_id} if note is not None else {}
        return self.wrap(box, "footnote", self.paragraphs(text), extra)

    def heading(self, box: Box, level: int) -> str:
        text = " ".join(self.inline(box).split("\n"))
        show_lang = self.options.language_tags and box.lang != self.edition.lang
        pairs = self.provenance(box)
        if not show_lang:
            pairs.pop("lang", None)
        classes = ["low-confidence"] if box.low_confidence else []
        if self.pandoc:
            return f"{'#' * level} {text} {_attributes(classes, pairs)}"
        return f"{_comment_attributes(classes, pairs)}\n\n{'#' * level} {text}"

    def wrap(self, box: Box, kind_class: str | None, body: str, extra: dict[str, str] | None = None) -> str:
        classes = [kind_class] if kind_class and self.options.use_semantic_classes else []
        if box.low_confidence:
            classes.append("low-confidence")
        pairs = self.provenance(box) | (extra or {})
        if self.pandoc:
            return f"::: {_attributes(classes, pairs)}\n{body}\n:::"
        return f"{_comment_attributes(classes, pairs)}\n\n{body}"

    def provenance(self, box: Box) -> dict[str, str]:
        """The box's attributes: lang (when `languageTags`), provenance, confidence when low."""
        source = box.provenance
        pairs = {"lang": box.lang} if self.options.language_tags else {}
        pairs["data-box-id"] = box.box_id
        pairs["data-page"] = str(self.page_numbers[source.page_id])
        if source.run_id:
            pairs["data-run"] = source.run_id
        if source.page_result_id:
            pairs["data-page-result"] = source.page_result_id
        if source.token_nos:
            pairs["data-tokens"] = token_ranges(source.token_nos)
        if box.low_confidence:
            pairs["data-confidence"] = f"{box.confidence:.2f}"
        return pairs

    # text

    def inline(self, box: Box) -> str:
        """The box's text escaped, each reference to a note replaced by a footnote reference (a
        colon right after one escaped, so that `[^id]:` never starts a footnote definition)."""
        text, out, at = box.text, [], 0
        for ref in sorted(box.references, key=lambda r: r.offset):
            end = ref.offset + ref.length
            if ref.note_id not in self.edition.notes or ref.offset < at or end > len(text):
                continue
            out += [self.segment(text[at:ref.offset], after_reference=at > 0), f"[^{ref.note_id}]"]
            at = end
        out.append(self.segment(text[at:], after_reference=at > 0))
        return "\n".join(_escape_line_start(line.strip()) for line in "".join(out).split("\n"))

    def segment(self, text: str, *, after_reference: bool) -> str:
        escaped = _escape_inline(text, self.flavor)
        return "\\" + escaped if after_reference and escaped.startswith(":") else escaped

    def paragraphs(self, escaped: str) -> str:
        return "\n\n".join("\n".join(p) for p in _stanzas(escaped))

    def line_blocks(self, box: Box) -> str:
        stanzas = _stanzas(self.inline(box))
        if self.pandoc:
            return "\n\n".join("\n".join(f"| {line}" for line in lines) for lines in stanzas)
        return "\n\n".join("\\\n".join(lines) for lines in stanzas)

    def definitions(self, page: EditionPage) -> list[str]:
        """The footnote definitions of the notes first referenced on `page`, in reference order."""
        out = []
        for box in page.boxes:
            if not _has_body(box):
                continue
            for ref in box.references:
                note = self.edition.notes.get(ref.note_id) if ref.note_id else None
                if note is None or note.note_id in self.defined:
                    continue
                self.defined.add(note.note_id)
                origin = comment(f"note {note.note_id} (page {note.page_number}): boxes {', '.join(note.box_ids)}")
                out.append(f"{origin}\n\n[^{note.note_id}]: {escape(note.text, self.flavor)}")
        return out


def _has_body(box: Box) -> bool:
    """True when the box's text is written as body text (so its references count)."""
    return box.content_type not in COMMENTED and box.content_type != CT.FOOTNOTE


def _following_transliterations(boxes: Sequence[Box], i: int) -> list[Box]:
    """The verse `boxes[i]` and the transliterations right after it."""
    out = [boxes[i]]
    while i + len(out) < len(boxes) and boxes[i + len(out)].content_type == CT.TRANSLITERATION:
        out.append(boxes[i + len(out)])
    return out


def _next_translation(boxes: Sequence[Box], start: int) -> int | None:
    """The index of the first translation from `start` on, before any other verse."""
    for k in range(start, len(boxes)):
        if boxes[k].content_type == CT.VERSE:
            return None
        if boxes[k].content_type == CT.TRANSLATION:
            return k
    return None


def _stanzas(escaped: str) -> list[list[str]]:
    """The non-empty lines of `escaped`, grouped at blank lines."""
    groups: list[list[str]] = [[]]
    for line in escaped.split("\n"):
        if line:
            groups[-1].append(line)
        elif groups[-1]:
            groups.append([])
    return [g for g in groups if g]


def _attributes(classes: Iterable[str], pairs: dict[str, str]) -> str:
    """A Pandoc attribute set: `{.class key="value"}` (values quoted, `\\` and `"` escaped)."""
    parts = [f".{c}" for c in classes]
    parts += [f'{k}="{_quoted(v)}"' for k, v in pairs.items()]
    return "{" + " ".join(parts) + "}"


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _comment_attributes(classes: Iterable[str], pairs: dict[str, str]) -> str:
    """The CommonMark stand-in for an attribute set: `<!-- class key=value -->`."""
    parts = [*classes, *(f"{k.removeprefix('data-')}={v}" for k, v in pairs.items())]
    return comment(" ".join(parts))
