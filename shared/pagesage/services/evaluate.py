"""Score OCR against ground truth: the use case behind `pagesage eval`.

Cases come from a folder of page images each with a ground truth beside it, named as the
ocrd/tesstrain training data is (`page.png` + `page.gt.txt`; ocropy's binarised or normalised
line images `page.bin.png` / `page.nrm.png` pair with `page.gt.txt` too), or from a corpus
manifest (`MANIFEST.tsv`: path, kind, language, ground_truth_path, notes). Each case is read by
an injected `ocr` callable (the CLI passes PageSage's page pipeline) and, optionally, by a
baseline callable (`plain_tesseract`: the `tesseract` command as it is), interleaved per case.

Scoring is `pagesage.text.cer`'s: both texts in Unicode NFC with every whitespace run collapsed
to one space and the ends stripped, so line breaks are free and reading-order errors are not.

    CER = character edits (Levenshtein, unit costs) / reference code points
    WER = (S + D + I) / N, over whitespace-separated words (Morris, Maier & Green,
          "From WER and RIL to MER and WIL", ICSLP 2004)

Joiners: ZERO WIDTH NON-JOINER (U+200C) and ZERO WIDTH JOINER (U+200D) are kept, as the corpus
baseline keeps them: a joiner the engine emits and the ground truth lacks (or the reverse) is a
character edit. `strip_joiners=True` removes both from both sides before scoring; the TSV's
header comment says which was used.

A set is a file's parent folder relative to the root (`eng-oldbooks`). Per set: mean page CER
(each file weighs the same), pooled CER (sum of edits / sum of characters: each character weighs
the same), mean and pooled WER; the set `all` holds every case. Rates are fractions (0.0123),
times wall seconds.
"""

from __future__ import annotations

import csv
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pagesage import imaging
from pagesage.domain.jobs import FileFormat
from pagesage.domain.languages import AUTO, SCRIPT_MODELS
from pagesage.errors import EngineError, InputError
from pagesage.text.cer import cer, normalize_for_scoring, wer
from pagesage.text.normalize import JOINERS

log = logging.getLogger(__name__)

GT_SUFFIX = ".gt.txt"
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".pdf")
"""Files a ground truth can pair with, in the order they are looked for."""
_INFIXES = ("", ".bin", ".nrm")  # page.png, then ocropy's page.bin.png / page.nrm.png
MANIFEST_COLUMNS = ("path", "kind", "language", "ground_truth_path", "notes")
SINGLE_LINE_NOTE = "single line (psm 7)"
"""A manifest note with this phrase marks a line image, read with page segmentation mode 7."""
MANIFEST_MODELS: dict[str, tuple[str, ...]] = {
    "eng": SCRIPT_MODELS["Latin"], "san": ("Devanagari",), "san-Latn": SCRIPT_MODELS["Latin"][:1]}
"""Manifest language code -> the models the pipeline reads it with, best first: the first
installed is used, a code with none installed is dropped; any other code is its own model.
English is read as `auto` reads Latin-script pages (`domain.languages.SCRIPT_MODELS`); Sanskrit
with the Devanagari script model, which beats `san` on the corpus; romanised Sanskrit with
`Latin_eng`, whose character set has IAST's letters, else left to the other codes."""
BASELINE_MODELS: dict[str, tuple[str, ...]] = {"san": ("Devanagari",), "san-Latn": ()}
"""The same for the plain `tesseract` baseline: each language's own model (`eng` for English),
Sanskrit with the Devanagari script model; romanised Sanskrit has no model and is dropped."""
ALL = "all"


# -- cases -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class EvalCase:
    """One file to read and the text it should give.

    Attributes:
        path: the image (PNG, TIFF, JPEG; every frame of a multi-page TIFF) or PDF.
        ground_truth_path: UTF-8 text of the whole file (all its pages).
        set_name: the file's parent folder relative to the root, `/`-separated (`eng-oldbooks`);
            the root folder's own name for a file directly in it.
        name: the file as reported, its path relative to the root (`eng-oldbooks/a041.tiff`).
        language: Tesseract `-l` spec the pipeline reads with (`auto`, `Latin_eng`, `eng+deu`).
        psm: Tesseract page segmentation mode: 3 (automatic, a page) or 7 (a single line).
        baseline_language: the `-l` spec of the plain `tesseract` baseline (`eng`, `Devanagari`).
    """

    path: Path
    ground_truth_path: Path
    set_name: str
    name: str
    language: str
    psm: int = 3
    baseline_language: str = "eng"


def cases_from_folder(folder: Path, lang: str, *, psm: int = 3) -> list[EvalCase]:
    """Every image under `folder` (recursively) with a `.gt.txt` ground truth beside it, sorted
    by path, all with language spec `lang` and page segmentation mode `psm`; the baseline reads
    them with `lang` too, `eng` where that is `auto`.

    `page.gt.txt` pairs with the first of `page.png`, `page.tif`, `page.tiff`, `page.jpg`,
    `page.jpeg`, `page.pdf` that exists, then the same names with `.bin` or `.nrm` before the
    suffix; a ground truth with no such file is skipped (logged), an image with no ground truth
    ignored.

    Raises:
        InputError: `folder` is not a folder, has no pair, or a ground truth is empty (or not
            UTF-8).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder")
    cases = []
    for gt in sorted(folder.rglob("*" + GT_SUFFIX)):
        image = _image_for(gt)
        if image is None:
            log.warning("%s has no image beside it; skipped", gt)
            continue
        _read_ground_truth(gt)
        cases.append(EvalCase(path=image, ground_truth_path=gt, set_name=_set_name(image.relative_to(folder), folder),
                              name=image.relative_to(folder).as_posix(), language=lang, psm=psm,
                              baseline_language=_baseline_spec(lang)))
    if not cases:
        raise InputError(f"{folder} has no image with a ground truth beside it (page.png + page.gt.txt)")
    return cases


def cases_from_manifest(manifest_path: Path, lang_override: str | None = None, *,
                        installed: Iterable[str]) -> list[EvalCase]:
    """The manifest's rows of kind `image` or `pdf` that have a ground truth (not `-`), in
    manifest order; paths are relative to the manifest's folder.

    `language` is the manifest's `+`-joined codes mapped to installed Tesseract models
    (`manifest_language` with MANIFEST_MODELS), `baseline_language` the same with
    BASELINE_MODELS; `lang_override` for both when given (`eng` for the baseline where it is
    `auto`). `psm` is 7 for rows whose notes say "single line (psm 7)", else 3. `installed` is
    the set of model names (the engine's `installed_languages()`; only consulted without
    `lang_override`).

    Raises:
        InputError: the manifest cannot be read as UTF-8 TSV, lacks a column, names a file that
            does not exist, has no row with a ground truth, or a ground truth is empty.
    """
    manifest_path = Path(manifest_path)
    root = manifest_path.parent
    try:
        with manifest_path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t")
            missing = [c for c in MANIFEST_COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise InputError(f"{manifest_path} is not a corpus manifest: no column {', '.join(missing)}")
            rows = [r for r in reader if r["kind"] in ("image", "pdf") and (r["ground_truth_path"] or "-") != "-"]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read the manifest {manifest_path}: {exc}") from exc
    if not rows:
        raise InputError(f"{manifest_path} has no image or PDF row with a ground truth")
    models = None if lang_override else frozenset(installed)
    cases = []
    for row in rows:
        path, gt = root / row["path"], root / row["ground_truth_path"]
        for named in (path, gt):
            if not named.is_file():
                raise InputError(f"{manifest_path}: {named.relative_to(root)} does not exist")
        _read_ground_truth(gt)
        psm = 7 if SINGLE_LINE_NOTE in (row["notes"] or "") else 3
        cases.append(EvalCase(path=path, ground_truth_path=gt, set_name=_set_name(Path(row["path"]), root),
                              name=row["path"], psm=psm,
                              language=lang_override or manifest_language(row["language"], models),
                              baseline_language=_baseline_spec(lang_override) if lang_override
                              else manifest_language(row["language"], models, BASELINE_MODELS)))
    return cases


def manifest_language(codes: str, installed: Iterable[str],
                      table: dict[str, tuple[str, ...]] = MANIFEST_MODELS) -> str:
    """The Tesseract spec for a manifest `language` value: each `+`-joined code replaced by the
    first of its models in `table` (MANIFEST_MODELS, the pipeline's; BASELINE_MODELS, plain
    Tesseract's) that is in `installed`, a code not in `table` by itself if installed, the rest
    dropped, duplicates once, `eng` when none remain. With `Latin_eng` installed the pipeline
    reads `eng` and `san-Latn+eng` with `Latin_eng` and `san` with `Devanagari`; the baseline
    reads both of the first with `eng`; `eng+deu+fra` gives `eng+deu+fra` to the baseline
    where `deu` and `fra` are installed, `eng` where they are not."""
    have = set(installed)
    models: list[str] = []
    for code in codes.split("+"):
        code = code.strip()
        model = next((m for m in table.get(code, (code,)) if m in have), None)
        if model and model not in models:
            models.append(model)
    return "+".join(models) or "eng"


def _baseline_spec(lang: str) -> str:
    return "eng" if lang == AUTO else lang


def _image_for(gt: Path) -> Path | None:
    stem = gt.name[: -len(GT_SUFFIX)]
    for infix in _INFIXES:
        for suffix in IMAGE_SUFFIXES:
            candidate = gt.with_name(stem + infix + suffix)
            if candidate.is_file():
                return candidate
    return None


def _set_name(relative: Path, root: Path) -> str:
    parent = relative.parent.as_posix()
    return parent if parent != "." else (root.resolve().name or ".")


def _read_ground_truth(path: Path, *, strip_joiners: bool = False) -> str:
    """The ground truth's text. Raises InputError when unreadable, not UTF-8, or empty after
    scoring normalization."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the ground truth {path}: {exc}") from exc
    if not normalize_for_scoring(_without_joiners(text) if strip_joiners else text):
        raise InputError(f"the ground truth {path} is empty")
    return text


# -- scoring ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Score:
    """Errors of one text against its reference, after scoring normalization.

    Attributes:
        chars: reference length in code points. edits: character edits (Levenshtein).
        words: reference words. word_edits: word substitutions + deletions + insertions.
    """

    chars: int
    edits: int
    words: int
    word_edits: int

    @property
    def cer(self) -> float:
        """Character error rate, a fraction (may exceed 1 when the hypothesis is longer)."""
        return self.edits / self.chars

    @property
    def wer(self) -> float:
        """Word error rate, a fraction (may exceed 1)."""
        return self.word_edits / self.words


def score(hypothesis: str, reference: str, *, strip_joiners: bool = False) -> Score:
    """Score `hypothesis` against `reference` with `pagesage.text.cer` (NFC, whitespace runs
    collapsed; joiners kept unless `strip_joiners`, which removes U+200C and U+200D from both).

    Raises:
        InputError: the reference is empty after normalization.
    """
    if strip_joiners:
        hypothesis, reference = _without_joiners(hypothesis), _without_joiners(reference)
    ref = normalize_for_scoring(reference)
    if not ref:
        raise InputError("the ground truth is empty")
    chars, words = len(ref), len(ref.split(" "))
    # the rates are exact ratios of whole numbers, so rounding recovers the counts
    return Score(chars=chars, edits=round(cer(hypothesis, reference) * chars),
                 words=words, word_edits=round(wer(hypothesis, reference) * words))


def _without_joiners(text: str) -> str:
    return text.translate({ord(c): None for c in JOINERS})


@dataclass(frozen=True)
class CaseResult:
    """One case's scores: the pipeline's, and the baseline's when it ran.

    Attributes:
        case: the case. score: the pipeline's. seconds: the pipeline's wall seconds.
        baseline, baseline_seconds: the baseline's, or None without a baseline.
    """

    case: EvalCase
    score: Score
    seconds: float
    baseline: Score | None = None
    baseline_seconds: float | None = None

    @property
    def delta_cer(self) -> float | None:
        """Pipeline CER minus baseline CER (negative: the pipeline made fewer errors), or None."""
        return None if self.baseline is None else self.score.cer - self.baseline.cer


@dataclass(frozen=True)
class SetSummary:
    """A set's totals for one reader (pipeline or baseline).

    Attributes:
        name: the set, or `all`. files: cases in it. chars, edits: sums over its cases.
        mean_cer, mean_wer: means of the per-file rates (fractions). pooled_cer: edits / chars.
        pooled_wer: word edits / words. seconds: sum of wall seconds.
    """

    name: str
    files: int
    chars: int
    edits: int
    mean_cer: float
    pooled_cer: float
    mean_wer: float
    pooled_wer: float
    seconds: float


@dataclass(frozen=True)
class EvalReport:
    """The results of `run_eval`, in case order; `strip_joiners` as scored."""

    results: tuple[CaseResult, ...]
    strip_joiners: bool = False

    @property
    def has_baseline(self) -> bool:
        """True when every case was also read by the baseline."""
        return bool(self.results) and all(r.baseline is not None for r in self.results)

    def summaries(self, *, baseline: bool = False) -> list[SetSummary]:
        """Per-set summaries, sets sorted by name, then `all`; of the baseline's scores when
        `baseline`. Raises ValueError for `baseline=True` on a report without one."""
        if baseline and not self.has_baseline:
            raise ValueError("the report has no baseline")
        sets = sorted({r.case.set_name for r in self.results})
        groups = [(name, [r for r in self.results if r.case.set_name == name]) for name in sets]
        return [_summarise(name, group, baseline) for name, group in groups + [(ALL, list(self.results))]]


def _summarise(name: str, results: list[CaseResult], baseline: bool) -> SetSummary:
    scores = [r.baseline if baseline else r.score for r in results]
    chars, edits = sum(s.chars for s in scores), sum(s.edits for s in scores)
    return SetSummary(name=name, files=len(scores), chars=chars, edits=edits,
                      mean_cer=sum(s.cer for s in scores) / len(scores), pooled_cer=edits / chars,
                      mean_wer=sum(s.wer for s in scores) / len(scores),
                      pooled_wer=sum(s.word_edits for s in scores) / sum(s.words for s in scores),
                      seconds=sum((r.baseline_seconds if baseline else r.seconds) or 0.0 for r in results))


Reader = Callable[[EvalCase], tuple[str, float]]
"""Reads a case's file: (the whole document's text, wall seconds)."""


def run_eval(cases: Iterable[EvalCase], ocr: Reader, *, baseline: Reader | None = None,
             progress: Callable[[int, int, CaseResult], None] | None = None,
             strip_joiners: bool = False) -> EvalReport:
    """Read every case with `ocr` (and then, on the same file, with `baseline` when given, so
    both see the same machine load) and score the texts against the ground truth.

    `progress(done, total, result)` is called after each case. Exceptions of the readers
    propagate.

    Raises:
        InputError: no cases, or a ground truth is unreadable or empty (checked before the file
            is read).
    """
    cases = list(cases)
    if not cases:
        raise InputError("no cases to evaluate")
    results = []
    for done, case in enumerate(cases, 1):
        truth = _read_ground_truth(case.ground_truth_path, strip_joiners=strip_joiners)
        text, seconds = ocr(case)
        result = CaseResult(case=case, score=score(text, truth, strip_joiners=strip_joiners), seconds=seconds)
        if baseline is not None:
            base_text, base_seconds = baseline(case)
            result = CaseResult(case=case, score=result.score, seconds=seconds,
                                baseline=score(base_text, truth, strip_joiners=strip_joiners),
                                baseline_seconds=base_seconds)
        results.append(result)
        if progress is not None:
            progress(done, len(cases), result)
    return EvalReport(results=tuple(results), strip_joiners=strip_joiners)


# -- the baseline: plain Tesseract -----------------------------------------------------------

def plain_tesseract(case: EvalCase, *, dpi: int = 300) -> tuple[str, float]:
    """The `tesseract` command as it is: `tesseract FILE - -l LANG --psm N` (LANG: the case's
    `baseline_language`) with
    OMP_THREAD_LIMIT=1; returns (text, wall seconds, rendering included).

    An image is given to the command as it is (it reads every frame of a multi-page TIFF). A
    PDF is rendered page by page at `dpi` in greyscale by `imaging.render_page` to a temporary
    PNG, each read on its own; the page texts are joined with "\\n".

    Raises:
        InputError: the file is neither an image nor a PDF. CorruptedFile / EncryptedFile: a PDF
            that cannot be rendered. EngineError: the command is missing or fails.
    """
    start = time.perf_counter()
    fmt = imaging.format_of_file(case.path)
    if fmt is None:
        raise InputError(f"{case.name} is neither an image nor a PDF")
    if fmt is not FileFormat.PDF:
        return _tesseract(case.path, case), time.perf_counter() - start
    texts = []
    with tempfile.TemporaryDirectory(prefix="pagesage-eval-") as tmp:
        for page_no in range(1, len(imaging.page_sizes(case.path, fmt, dpi=dpi)) + 1):
            page = imaging.render_page(case.path, fmt, page_no, dpi=dpi)
            png = Path(tmp) / f"page-{page_no}.png"
            page.image.save(png, format="PNG", dpi=(page.dpi, page.dpi))
            texts.append(_tesseract(png, case))
    return "\n".join(texts), time.perf_counter() - start


def _tesseract(image: Path, case: EvalCase) -> str:
    return _run(["tesseract", str(image), "-", "-l", case.baseline_language, "--psm", str(case.psm)],
                f"read {case.name}")


def _run(command: list[str], what: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, encoding="utf-8", errors="replace", check=False,
                              env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    except FileNotFoundError as exc:
        raise EngineError("the tesseract command is not installed") from exc
    if done.returncode != 0:
        log.info("%s: exit %d: %s", command, done.returncode, done.stderr)
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise EngineError(f"tesseract could not {what}: {last}")
    return done.stdout


# -- output ----------------------------------------------------------------------------------

def write_tsv(report: EvalReport, path: Path) -> None:
    """Write the report as UTF-8 TSV: `#` comment lines (the scoring rules, joiners kept or
    removed), a header row, one row per case, then per set a `(mean of N)` and a `(pooled)` row,
    the set `all` last.

    Columns: set, file, chars, edits, cer, wer (+ baseline_edits, baseline_cer, baseline_wer,
    delta_cer with a baseline), seconds (+ baseline_seconds). Rates are fractions to 4 decimals,
    seconds to 3; `delta_cer` = cer - baseline_cer. In a `(mean of N)` row cer and wer are means
    of the files' rates, in a `(pooled)` row sums of edits over sums of characters (words);
    chars, edits and seconds are sums in both.
    """
    joiners = "removed from both sides" if report.strip_joiners else "kept"
    with Path(path).open("w", encoding="utf-8", newline="") as fh:
        fh.write("# pagesage eval: CER = character edits / reference code points, WER = word edits / reference words,"
                 " after NFC and collapsing whitespace runs\n")
        fh.write(f"# joiners (U+200C ZWNJ, U+200D ZWJ): {joiners}\n")
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerows(_rows(report, rate=lambda v: f"{v:.4f}", delta=lambda v: f"{v:+.4f}",
                               seconds=lambda v: f"{v:.3f}"))


def format_table(report: EvalReport) -> str:
    """The report as an aligned text table for a terminal: the TSV's rows and columns with rates
    in percent (2 decimals), `delta_cer` in percentage points, seconds to 1 decimal, and a rule
    before the summaries."""
    rows = _rows(report, rate=lambda v: f"{v * 100:.2f}%", delta=lambda v: f"{v * 100:+.2f}", seconds=lambda v: f"{v:.1f}")
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        if n == len(report.results) + 1:
            lines.append("  ".join("-" * w for w in widths))
        lines.append("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))))
    return "\n".join(line.rstrip() for line in lines)


def _rows(report: EvalReport, *, rate, delta, seconds) -> list[list[str]]:
    """Header, case rows, summary rows, as strings."""
    base = report.has_baseline
    header = ["set", "file", "chars", "edits", "cer", "wer"]
    header += ["baseline_edits", "baseline_cer", "baseline_wer", "delta_cer"] if base else []
    header += ["seconds"] + (["baseline_seconds"] if base else [])
    rows = [header]
    for r in report.results:
        row = [r.case.set_name, r.case.name, str(r.score.chars), str(r.score.edits), rate(r.score.cer), rate(r.score.wer)]
        if base:
            row += [str(r.baseline.edits), rate(r.baseline.cer), rate(r.baseline.wer), delta(r.delta_cer)]
        rows.append(row + [seconds(r.seconds)] + ([seconds(r.baseline_seconds)] if base else []))
    summaries = report.summaries()
    for s, b in zip(summaries, report.summaries(baseline=True) if base else [None] * len(summaries)):
        for label, kind in ((f"(mean of {s.files})", "mean"), ("(pooled)", "pooled")):
            cer_, wer_ = getattr(s, f"{kind}_cer"), getattr(s, f"{kind}_wer")
            row = [s.name, label, str(s.chars), str(s.edits), rate(cer_), rate(wer_)]
            if b is not None:
                b_cer, b_wer = getattr(b, f"{kind}_cer"), getattr(b, f"{kind}_wer")
                row += [str(b.edits), rate(b_cer), rate(b_wer), delta(cer_ - b_cer)]
            rows.append(row + [seconds(s.seconds)] + ([seconds(b.seconds)] if b is not None else []))
    return rows
