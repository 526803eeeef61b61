"""Constructing the engine fixes glibc's mmap threshold so that a page's large buffers go back to
the system when freed, instead of staying in the heap once glibc has raised its threshold past
them; importing its module changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")

PROBE = textwrap.dedent("""
    import ctypes, sys
    libc = ctypes.CDLL("libc.so.6")

    class MallInfo2(ctypes.Structure):  # glibc 2.33+, mallinfo(3)
        _fields_ = [(name, ctypes.c_size_t) for name in
                    "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

    libc.mallinfo2.restype = MallInfo2
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    if sys.argv[1] in ("import", "engine"):
        from pagesage.engines.tesseract import TesseractEngine
    if sys.argv[1] == "engine":
        TesseractEngine()
    libc.free(libc.malloc(8 << 20))  # an 8 MiB page buffer, mmapped, then freed
    before = libc.mallinfo2().hblks
    block = libc.malloc(1 << 20)  # the next page's 1 MiB buffer
    print(libc.mallinfo2().hblks - before)
    libc.free(block)
""")


def mmapped_blocks_of_the_second_buffer(*args: str, env: dict | None = None) -> int:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True,
                          env={**os.environ, **(env or {})})
    return int(done.stdout)


def test_without_the_engine_glibc_serves_the_next_buffer_from_the_heap():
    assert mmapped_blocks_of_the_second_buffer("plain") == 0


def test_importing_the_engine_module_changes_nothing():
    assert mmapped_blocks_of_the_second_buffer("import") == 0


def test_with_an_engine_constructed_a_freed_buffer_does_not_raise_the_threshold():
    assert mmapped_blocks_of_the_second_buffer("engine") == 1


def test_a_threshold_set_in_the_environment_is_left_alone():
    assert mmapped_blocks_of_the_second_buffer("engine", env={"MALLOC_MMAP_THRESHOLD_": str(16 << 20)}) == 0
