"""The book's worker pool: memory kept for reuse where glibc allows it."""

import ctypes
import platform

import pytest

from functions.portfolio import pool


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt (CI and the image run glibc)")
def test_reuse_memory_sets_glibcs_thresholds() -> None:
    assert pool.reuse_memory() is True


def test_reuse_memory_keeps_the_defaults_without_mallopt(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoMallopt:
        def __init__(self, name: object) -> None:
            pass

    monkeypatch.setattr(ctypes, "CDLL", NoMallopt)
    assert pool.reuse_memory() is False
