#!/usr/bin/env python3
"""Package each Cloud Function's source: build/functions/<dir>.zip for every functions/<dir>/.

A zip holds what Cloud Functions (gen2, Python) builds from:

    main.py (and anything else in functions/<dir>/)
    pagesage/          shared/pagesage, imported by main.py
    requirements.txt   the package's runtime dependencies exported from uv.lock: every
                       package pinned with its hashes, the versions the tests ran

The `web` function (the review page) also gets the browser libraries it serves: the files of
the npm packages that `pagesage/review_page/vendor.json` allows, copied from `node_modules/`
(`npm ci` first: `make install`, or Cloud Build's `npm` step) to
`pagesage/review_page/vendor/<package>/...`, where `pagesage.review_page.vendor_dir` finds them.

The zips are reproducible (sorted entries, fixed timestamps and modes), so an unchanged source
gives the same MD5 and Terraform, which names the uploaded object after it, redeploys nothing.

Usage: python3 infra/package_functions.py [--out DIR] [DIR_NAME ...]   (default: every folder)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FUNCTIONS = REPO / "functions"
PACKAGE = REPO / "shared" / "pagesage"
DEFAULT_OUT = REPO / "build" / "functions"

EPOCH = (1980, 1, 1, 0, 0, 0)
"""Timestamp of every entry: the earliest a zip can store."""

VENDORED = {"web"}
"""Function folders whose zip carries the review page's npm files (`vendor_entries`)."""

SKIPPED_DIRS = {"__pycache__"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}


EXPORT_ARGS = ("export", "--frozen", "--no-dev", "--no-emit-project", "--quiet")
"""`uv export` of the package's runtime dependencies (no dependency group, not the package
itself, which the zip carries as source), pinned with hashes from uv.lock."""


def uv() -> str:
    """The uv executable: `$UV`, the Makefile's `.venv-uv/bin/uv`, or `uv` on PATH.

    Raises:
        FileNotFoundError: none of them exists (`pip install --require-hashes -r requirements-uv.txt`).
    """
    for candidate in (os.environ.get("UV"), str(REPO / ".venv-uv" / "bin" / "uv"), shutil.which("uv")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise FileNotFoundError("uv not found: pip install --require-hashes -r requirements-uv.txt")


def requirements() -> str:
    """requirements.txt text: `uv export` of the runtime dependencies (see `EXPORT_ARGS`).

    Raises:
        subprocess.CalledProcessError: uv.lock does not match pyproject.toml or cannot be read.
    """
    env = dict(os.environ, UV_PREVIEW_FEATURES="package-conflicts")
    done = subprocess.run([uv(), *EXPORT_ARGS], cwd=REPO, env=env, check=True, capture_output=True, text=True)
    return done.stdout


def _files(root: Path) -> list[Path]:
    """Files under `root`, sorted, without bytecode and caches."""
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file()
        and not SKIPPED_DIRS.intersection(path.relative_to(root).parts)
        and path.suffix not in SKIPPED_SUFFIXES
    )


def vendor_entries() -> dict[str, bytes]:
    """`{zip entry: bytes}` of the review page's npm files, under
    `pagesage/review_page/vendor/` (`pagesage.review_page.vendor_files`, read from the
    repository's `node_modules/`).

    Raises:
        FileNotFoundError: node_modules lacks a file vendor.json allows (run `npm ci`).
    """
    sys.path.insert(0, str(PACKAGE.parent))
    try:
        from pagesage.review_page import vendor_files  # the standard library only
    finally:
        sys.path.remove(str(PACKAGE.parent))
    return {f"pagesage/review_page/vendor/{name}": path.read_bytes() for name, path in vendor_files(REPO / "node_modules")}


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def package(function_dir: Path, out_dir: Path, requirements_text: str) -> Path:
    """Write `<out_dir>/<function_dir.name>.zip` and return its path.

    Raises:
        FileNotFoundError: `function_dir` has no main.py.
        ValueError: the function folder has its own `pagesage` or `requirements.txt`, which
            would clash with the packaged ones.
        FileNotFoundError: also when a `VENDORED` function's npm files are not installed.
    """
    if not (function_dir / "main.py").is_file():
        raise FileNotFoundError(f"{function_dir}/main.py not found")
    entries: dict[str, bytes] = {}
    for path in _files(function_dir):
        entries[path.relative_to(function_dir).as_posix()] = path.read_bytes()
    clashes = [name for name in entries if name == "requirements.txt" or name.startswith("pagesage/")]
    if clashes:
        raise ValueError(f"{function_dir}: {', '.join(clashes)} would be overwritten by the packaged files")
    for path in _files(PACKAGE):
        entries["pagesage/" + path.relative_to(PACKAGE).as_posix()] = path.read_bytes()
    if function_dir.name in VENDORED:
        entries.update(vendor_entries())
    entries["requirements.txt"] = requirements_text.encode("utf-8")

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{function_dir.name}.zip"
    partial = target.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name in sorted(entries):
            _add(archive, name, entries[name])
    partial.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", help="function folders under functions/ (default: all)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    names = args.dirs or sorted(p.name for p in FUNCTIONS.iterdir() if (p / "main.py").is_file())
    pinned = requirements()
    for name in names:
        target = package(FUNCTIONS / name, args.out, pinned)
        print(f"{target} ({target.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
