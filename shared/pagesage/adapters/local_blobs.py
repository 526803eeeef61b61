"""The embedded blob store: a local folder standing in for a bucket.

Writes go to a temporary file in the same folder and are renamed into place, so a reader never
sees half an object. Content types are kept beside each object in `<key>.content-type`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Iterator

from pagesage.errors import InputError, NotFound

_META_SUFFIX = ".content-type"


class LocalBlobStore:
    """`BlobStore` on a folder; each method keeps the contract documented on
    `pagesage.ports.BlobStore`. Keys map to paths below `root`; `..` and absolute keys raise
    `InputError`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        parts = PurePosixPath(key).parts
        if not parts or key.startswith("/") or ".." in parts or key.endswith(_META_SUFFIX):
            raise InputError(f"invalid blob key {key!r}")
        return self.root.joinpath(*parts)

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        with open(path, "rb") as src:
            self._write(key, content_type, lambda dst: shutil.copyfileobj(src, dst, 1 << 20))

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self._write(key, content_type, lambda dst: dst.write(data))

    def _write(self, key: str, content_type: str, fill) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as dst:
                fill(dst)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        target.with_name(target.name + _META_SUFFIX).write_text(content_type)

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        try:
            stream = open(self._path(key), "rb")
        except FileNotFoundError as exc:
            raise NotFound(f"no object {key!r}") from exc
        with stream:
            yield stream

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        path = self._path(key)
        if not path.is_file():
            raise NotFound(f"no object {key!r}")
        yield path

    def content_type(self, key: str) -> str:
        """The content type an object was stored with. Raises `NotFound`."""
        meta = self._path(key)
        meta = meta.with_name(meta.name + _META_SUFFIX)
        if not meta.is_file():
            raise NotFound(f"no object {key!r}")
        return meta.read_text()

    def copy(self, src_key: str, dst_key: str) -> None:
        """Copy the object at `src_key` with its content type to `dst_key`, replacing any
        object there (through a temporary file renamed into place, like every write).

        Raises:
            InputError: an invalid key. NotFound: no object at `src_key`.
        """
        self._path(dst_key)
        content_type = self.content_type(src_key)
        with self.open(src_key) as src:
            self._write(dst_key, content_type, lambda dst: shutil.copyfileobj(src, dst, 1 << 20))

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete_prefix(self, prefix: str) -> int:
        folder_key, _, stem = prefix.rpartition("/")
        folder = self._path(folder_key) if folder_key else self.root
        if not folder.is_dir():
            return 0
        count = 0
        for entry in list(folder.iterdir()):
            if not entry.name.startswith(stem):
                continue
            files = [p for p in entry.rglob("*") if p.is_file()] if entry.is_dir() else [entry]
            count += sum(1 for p in files if not p.name.endswith(_META_SUFFIX))
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        return count
