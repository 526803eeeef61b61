"""The review page: a static single-page app (`static/`: HTML, CSS, plain ES modules, no build
step) that corrects a project through the `/api/v1` HTTP API only, and the browser libraries it
loads from npm packages (docs/review-page.md).

The `web` function serves it (`review_page.serving`): `static/` under `/review/`, and the files
`vendor.json` allows of each npm package under `/review/vendor/<library>/<path>`. Those come
from the repository's `node_modules/` (installed by `make install` from package-lock.json), or,
in a deployed function, from `vendor/` beside this module, where `infra/package_functions.py`
copies the same files (`vendor_files`).

This module imports only the standard library, so the packaging script can use it without the
package's dependencies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

HERE = Path(__file__).resolve().parent

CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".txt": "text/plain",
    ".woff2": "font/woff2",
}
"""Media type of every kind of file served, by suffix (`text/javascript` for scripts, RFC 9239
§6; text is sent as UTF-8, `; charset=utf-8`); a file of another kind is not served. A licence
file without suffix (`LICENSE`) is text. Fonts are WOFF2 (`font/woff2`, RFC 8081), binary."""


@dataclass(frozen=True)
class VendorLibrary:
    """One npm package the page loads: served as `/review/vendor/<name>/<path>` for each of its
    `paths` (a file, or a folder when it ends in `/`), relative to the package's folder."""

    name: str
    package: str
    version: str
    license: str
    paths: tuple[str, ...]

    def allows(self, path: str) -> bool:
        """True when `path` (relative, `/`-separated, no `..`) is one of `paths` or inside one
        of its folders, and of a kind that is served (`content_type`)."""
        if content_type(path) is None:
            return False
        return any(path == allowed or (allowed.endswith("/") and path.startswith(allowed)) for allowed in self.paths)


def static_dir() -> Path:
    """The folder of the page itself: `index.html`, `css/`, `js/`."""
    return HERE / "static"


def vendor_dir() -> Path:
    """Where the npm packages are: `vendor/` beside this module in a deployed function (copied
    there by the packaging script), else the repository's `node_modules/`. The folder may be
    missing (`make install` not run): every vendor file is then a 404."""
    packaged = HERE / "vendor"
    if packaged.is_dir():
        return packaged
    return HERE.parents[2] / "node_modules"


def vendor_libraries() -> dict[str, VendorLibrary]:
    """The libraries of `vendor.json` by the name they are served under.

    Raises:
        OSError, ValueError, KeyError: vendor.json is missing or malformed.
    """
    raw = json.loads((HERE / "vendor.json").read_text(encoding="utf-8"))
    return {name: VendorLibrary(name=name, package=entry["package"], version=entry["version"], license=entry["license"],
                                paths=tuple(entry["paths"]))
            for name, entry in raw.items()}


def content_type(path: str) -> str | None:
    """The media type `path` is served with (`CONTENT_TYPES`), None for a kind not served."""
    name = PurePosixPath(path).name
    suffix = PurePosixPath(name).suffix.lower()
    if not suffix and name.upper().startswith(("LICENSE", "LICENCE", "COPYING")):
        return "text/plain"
    return CONTENT_TYPES.get(suffix)


def vendor_files(root: Path | None = None) -> list[tuple[str, Path]]:
    """Every vendor file that is served: `(<package>/<path>, file)` pairs under `root` (default
    `vendor_dir()`), sorted; the first item is also the file's place under a packaged `vendor/`.

    Raises:
        FileNotFoundError: an allowed file or folder is missing (npm packages not installed,
            or another version than vendor.json names).
    """
    root = root or vendor_dir()
    found: list[tuple[str, Path]] = []
    for library in vendor_libraries().values():
        base = root / library.package
        for allowed in library.paths:
            target = base / allowed
            if allowed.endswith("/"):
                if not target.is_dir():
                    raise FileNotFoundError(f"{target}: run `make install` (npm ci) first")
                files = sorted(p for p in target.rglob("*") if p.is_file())
            elif target.is_file():
                files = [target]
            else:
                raise FileNotFoundError(f"{target}: run `make install` (npm ci) first")
            for path in files:
                relative = path.relative_to(base).as_posix()
                if library.allows(relative):
                    found.append((f"{library.package}/{relative}", path))
    return sorted(found)


__all__ = ["CONTENT_TYPES", "VendorLibrary", "content_type", "static_dir", "vendor_dir", "vendor_files", "vendor_libraries"]
