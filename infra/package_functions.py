#!/usr/bin/env python3
"""Package each Cloud Function's source: build/functions/<dir>.zip for every functions/<dir>/.

A zip holds what Cloud Functions (gen2, Python) builds from:

    main.py (and anything else in functions/<dir>/)
    pagesage/          shared/pagesage, imported by main.py
    requirements.txt   the [project] dependencies of pyproject.toml

The zips are reproducible (sorted entries, fixed timestamps and modes), so an unchanged source
gives the same MD5 and Terraform, which names the uploaded object after it, redeploys nothing.

Usage: python3 infra/package_functions.py [--out DIR] [DIR_NAME ...]   (default: every folder)
"""

from __future__ import annotations

import argparse
import sys
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FUNCTIONS = REPO / "functions"
PACKAGE = REPO / "shared" / "pagesage"
DEFAULT_OUT = REPO / "build" / "functions"

EPOCH = (1980, 1, 1, 0, 0, 0)
"""Timestamp of every entry: the earliest a zip can store."""

SKIPPED_DIRS = {"__pycache__"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}


def requirements(pyproject: Path = REPO / "pyproject.toml") -> str:
    """requirements.txt text: the runtime dependencies, one per line, in pyproject order."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    return "".join(f"{dep}\n" for dep in project.get("dependencies", []))


def _files(root: Path) -> list[Path]:
    """Files under `root`, sorted, without bytecode and caches."""
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file()
        and not SKIPPED_DIRS.intersection(path.relative_to(root).parts)
        and path.suffix not in SKIPPED_SUFFIXES
    )


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def package(function_dir: Path, out_dir: Path) -> Path:
    """Write `<out_dir>/<function_dir.name>.zip` and return its path.

    Raises:
        FileNotFoundError: `function_dir` has no main.py.
        ValueError: the function folder has its own `pagesage` or `requirements.txt`, which
            would clash with the packaged ones.
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
    entries["requirements.txt"] = requirements().encode("utf-8")

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
    for name in names:
        target = package(FUNCTIONS / name, args.out)
        print(f"{target} ({target.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
