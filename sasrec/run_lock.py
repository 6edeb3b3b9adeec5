"""One pipeline run at a time per output directory, by an advisory lock the kernel releases when
the holder ends, however it ends (SIGKILL included). Standard library only: the CLI checks it
before importing TFX."""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import os
from pathlib import Path
from typing import Iterator

LOCK_FILE = ".sasrec.lock"


class RunInProgressError(RuntimeError):
    """Another run holds the output directory."""


@contextlib.contextmanager
def exclusive(output_dir: Path) -> Iterator[None]:
    """Holds `output_dir`'s lock for the duration, or raises RunInProgressError at once."""
    output_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(output_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _lock_or_raise(fd, output_dir)
        os.ftruncate(fd, 0)
        started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        os.write(fd, f"pid {os.getpid()}, started {started}".encode())
        yield
    finally:
        os.close(fd)  # releases the lock


def check_free(output_dir: Path) -> None:
    """Raises RunInProgressError now if a run holds `output_dir`; holds nothing itself (the run
    locks the directory when it starts)."""
    try:
        fd = os.open(output_dir / LOCK_FILE, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        _lock_or_raise(fd, output_dir)
    finally:
        os.close(fd)


def _lock_or_raise(fd: int, output_dir: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
        raise RunInProgressError(
            f"another sasrec run ({holder}) is using {output_dir}; wait for it to finish or "
            "choose another --output-dir") from None
