"""Benchmark: CER of PageSage's page stages against plain Tesseract, and the A/B of every
preprocessing step, on the public corpus, in one run.

    python tests/bench/bench_ocr_quality.py [--jobs 2] [--quick]

1. The CER table: every manifest file with a ground truth read by the stages as a job reads it
   (`services.read_document`: the file's language, `auto` OSD off, the preprocessing the
   analysis chooses) and by the plain `tesseract` command (`services.evaluate.plain_tesseract`),
   interleaved per file; mean page CER per set, before (plain) and after (PageSage).
2. The A/B table: the layout stage's reading order against the engine's, then each candidate
   step applied to every page (or where its condition holds) against no preprocessing, same
   engine, same pages: mean CER before/after per set, pages better and worse by more than 0.1
   point. Deskew is also measured on corpus pages turned by known angles, since no corpus page
   with ground truth is skewed.
Targets: English mean page CER <= 0.8x plain, no page worse by more than 0.5 point; Devanagari
mean page CER <= 6.0 %.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "shared"))

from pagesage import preprocessing as operations  # noqa: E402
from pagesage.config import Settings  # noqa: E402
from pagesage.domain import preprocessing  # noqa: E402
from pagesage.domain.layout import in_reading_order  # noqa: E402
from pagesage.domain.tokens import build_tokens  # noqa: E402
from pagesage.engines.tesseract import TesseractEngine  # noqa: E402
from pagesage.formats.text import page_text  # noqa: E402
from pagesage.imaging import format_of_file, page_sizes, render_page  # noqa: E402
from pagesage.page_analysis import analyse  # noqa: E402
from pagesage.services import evaluate  # noqa: E402
from pagesage.services.read_document import read_document  # noqa: E402
from pagesage.text.cer import cer  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
SKEW_PAGES = ["eng-oldbooks/c030.tiff", "eng-oldbooks/e052.tiff", "eng-oldbooks/j030.tiff",
              "eng-alice-hocrtools/alice_1.png", "san-imagessan/shreelipi-p003.png"]
SKEW_ANGLES = (1.0, 2.0, -3.0, 5.0)
DEVANAGARI_SETS = ("san-imagessan", "pdf/san")
ENGINE_ORDER = "engine order"


def _grey(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"))


def _otsu(image: Image.Image, dpi: int) -> tuple[Image.Image, int]:
    return Image.fromarray(cv2.threshold(_grey(image), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1]), dpi


def _median(image: Image.Image, dpi: int) -> tuple[Image.Image, int]:
    return Image.fromarray(cv2.medianBlur(_grey(image), 3)), dpi


def _stretch(image: Image.Image, dpi: int) -> tuple[Image.Image, int]:
    grey = _grey(image)
    low, high = np.percentile(grey, (1, 99))
    if high <= low:
        return image, dpi
    return Image.fromarray(np.clip((grey - low) * 255.0 / (high - low), 0, 255).astype(np.uint8)), dpi


def _step(name: str, value: float | None = None):
    def run(image: Image.Image, dpi: int) -> tuple[Image.Image, int]:
        out = operations.apply(preprocessing.Step(name, True, value), image)
        return out, round(dpi * value) if name == "rescale" else dpi
    return run


def _deskew_always(image: Image.Image, dpi: int) -> tuple[Image.Image, int]:
    skew = analyse(image, dpi=dpi).skew_angle
    return (_step("deskew", -skew)(image, dpi) if skew else (image, dpi))


def _to_300(image: Image.Image, dpi: int) -> tuple[Image.Image, int]:
    return _step("rescale", 300 / dpi)(image, dpi) if dpi < 290 else (image, dpi)


def _down_300(image: Image.Image, dpi: int) -> tuple[Image.Image, int]:
    return _step("rescale", 300 / dpi)(image, dpi) if dpi > 350 else (image, dpi)


def _enlarge_small(image: Image.Image, dpi: int) -> tuple[Image.Image, int]:
    x_height = analyse(image, dpi=dpi).x_height_px
    if x_height is None or x_height >= 15:
        return image, dpi
    return _step("rescale", round(min(3.0, 24 / x_height), 3))(image, dpi)


def _planned(image: Image.Image, dpi: int) -> tuple[Image.Image, int]:
    analysis = analyse(image, dpi=dpi)
    for step in preprocessing.plan(detection=None, skew_angle=analysis.skew_angle):
        image, dpi = _step(step.name, step.value)(image, dpi)
    return image, dpi


CANDIDATES = {
    "deskew (every page, by the measured skew)": _deskew_always,
    "rescale to 300 dpi (pages under 290 dpi)": _to_300,
    "enlarge text under 15 px x-height to 24 px": _enlarge_small,
    "downscale to 300 dpi (pages over 350 dpi)": _down_300,
    "remove-border": _step("remove-border"),
    "binarise (Otsu)": _otsu,
    "denoise (median 3x3)": _median,
    "contrast stretch (1-99 %)": _stretch,
    "the plan (deskew >= 1.5 deg)": _planned,
}


def _pages(path: Path) -> list[tuple[Image.Image, int]]:
    fmt = format_of_file(path)
    count = len(page_sizes(path, fmt, dpi=300))
    rendered = [render_page(path, fmt, n, dpi=300) for n in range(1, count + 1)]
    return [(r.image, r.dpi) for r in rendered]


_ENGINE: TesseractEngine | None = None


def _read(image: Image.Image, dpi: int, language: str, psm: int, *, ordered: bool = True) -> str:
    """The page's text in the layout stage's reading order (`domain.layout`), or in the
    engine's own with `ordered` False."""
    global _ENGINE
    _ENGINE = _ENGINE or TesseractEngine()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "page.png"
        image.save(path, dpi=(dpi, dpi))
        tokens = build_tokens(_ENGINE.recognize(path, languages=language, dpi=dpi, psm=psm).words, language)
    return page_text(in_reading_order(tokens, image.height)[0] if ordered else tokens)


def _case_scores(case: evaluate.EvalCase) -> dict[str, float]:
    """CER of one case: plain, PageSage, and every candidate."""
    truth = case.ground_truth_path.read_text(encoding="utf-8")
    settings = Settings(psm=case.psm)
    global _ENGINE
    _ENGINE = _ENGINE or TesseractEngine()
    scores = {"plain": cer(evaluate.plain_tesseract(case)[0], truth)}
    _, text, _ = read_document(case.path, languages=case.language, settings=settings, engine=_ENGINE)
    scores["pagesage"] = cer(text, truth)
    pages = _pages(case.path)
    scores["none"] = cer("\f".join(_read(im, dpi, case.language, case.psm) for im, dpi in pages), truth)
    scores[ENGINE_ORDER] = cer("\f".join(_read(im, dpi, case.language, case.psm, ordered=False) for im, dpi in pages),
                               truth)
    for name, candidate in CANDIDATES.items():
        texts = [_read(*candidate(im, dpi), case.language, case.psm) for im, dpi in pages]
        scores[name] = cer("\f".join(texts), truth)
    return scores


def _skew_scores(item: tuple[str, float]) -> tuple[str, float, float, float, float]:
    rel, angle = item
    language = "Devanagari" if rel.startswith("san") else "eng"
    truth = (CORPUS / rel).with_suffix(".gt.txt").read_text(encoding="utf-8")
    image = Image.open(CORPUS / rel).convert("L").rotate(angle, resample=Image.Resampling.BICUBIC, expand=True,
                                                          fillcolor=255)
    measured = analyse(image, dpi=300).skew_angle
    fixed, dpi = _deskew_always(image, 300)
    planned, planned_dpi = _planned(image, 300)
    return (rel, angle, measured, cer(_read(image, 300, language, 3), truth), cer(_read(fixed, dpi, language, 3), truth),
            cer(_read(planned, planned_dpi, language, 3), truth))


def _set_of(case: evaluate.EvalCase) -> str:
    return "pdf/san" if case.name.startswith("pdf/san") else "pdf/eng" if case.name.startswith("pdf/") else case.set_name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2, help="processes (each keeps its own Tesseract)")
    parser.add_argument("--quick", action="store_true", help="only every fourth case")
    args = parser.parse_args()
    cases = evaluate.cases_from_manifest(CORPUS / "MANIFEST.tsv", installed=TesseractEngine().installed_languages())
    if args.quick:
        cases = cases[::4]
    with ProcessPoolExecutor(args.jobs) as pool:
        scores = list(pool.map(_case_scores, cases))
        skews = list(pool.map(_skew_scores, [(p, a) for p in SKEW_PAGES for a in SKEW_ANGLES]))
    sets = sorted({_set_of(c) for c in cases})

    def mean(key: str, names: set[str]) -> float:
        return statistics.fmean(s[key] for c, s in zip(cases, scores) if _set_of(c) in names)

    print("## CER, plain tesseract (before) vs PageSage (after), mean page CER %\n")
    print("| set | files | plain | PageSage | ratio | worst page delta (points) |\n|---|---|---|---|---|---|")
    english = {s for s in sets if s not in DEVANAGARI_SETS}
    for name, group in [*((s, {s}) for s in sets), ("English (all)", english), ("Devanagari (all)", set(DEVANAGARI_SETS))]:
        members = [s for c, s in zip(cases, scores) if _set_of(c) in group]
        if not members:
            continue
        before, after = mean("plain", group), mean("pagesage", group)
        worst = max(s["pagesage"] - s["plain"] for s in members)
        print(f"| {name} | {len(members)} | {before:.2%} | {after:.2%} | {after / before if before else 1:.3f} | "
              f"{100 * worst:+.2f} |")
    print("\n## A/B of each preprocessing step (no preprocessing -> the step), mean page CER %\n")
    print("| step | " + " | ".join(sets) + " | all | pages better / worse (>0.1 point) |")
    print("|---|" + "---|" * (len(sets) + 2))
    everything = set(sets)
    for before, name in [(ENGINE_ORDER, "none"), *(("none", name) for name in CANDIDATES)]:
        cells = [f"{mean(before, {s}):.2%} -> {mean(name, {s}):.2%}" for s in sets]
        better = sum(s[name] < s[before] - 0.001 for s in scores)
        worse = sum(s[name] > s[before] + 0.001 for s in scores)
        label = "reading order (the layout stage; engine order -> layout order)" if name == "none" else name
        print(f"| {label} | " + " | ".join(cells) + f" | {mean(before, everything):.2%} -> {mean(name, everything):.2%} | "
              f"{better} / {worse} |")
    print("\n## Deskew on corpus pages turned by known angles, CER %\n")
    print("| page | turned (deg) | measured (deg) | skewed | deskewed | the plan |\n|---|---|---|---|---|---|")
    for rel, angle, measured, skewed, fixed, planned in skews:
        print(f"| {rel} | {angle:+.1f} | {measured:+.2f} | {skewed:.2%} | {fixed:.2%} | {planned:.2%} |")
    print("\n| turned by | mean skewed | mean deskewed | mean the plan |\n|---|---|---|---|")
    for angle in SKEW_ANGLES:
        rows = [r for r in skews if r[1] == angle]
        print(f"| {angle:+.1f} | {statistics.fmean(r[3] for r in rows):.2%} | {statistics.fmean(r[4] for r in rows):.2%} | "
              f"{statistics.fmean(r[5] for r in rows):.2%} |")


if __name__ == "__main__":
    main()
