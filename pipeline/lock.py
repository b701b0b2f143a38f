"""One writer at a time: builds, checks and source registration take the project's lock.

The lock is an advisory `flock` on .dagster/sovai.lock. The kernel releases it when its holder
exits, however it exits (a SIGKILL included), so a lock is never stale: a leftover file whose
holder is gone is simply taken. The file records who holds it, for the waiting message."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = "sovai.lock"


class LockTimeout(RuntimeError):
    """Another sovai process held the project's lock for longer than we would wait."""


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip() or "another sovai process"
    except OSError:
        return "another sovai process"


def default_wait() -> float:
    """How long a command waits for the lock: $SOVAI_LOCK_WAIT seconds, default 600."""
    try:
        return float(os.environ.get("SOVAI_LOCK_WAIT", "600"))
    except ValueError:
        return 600.0


@contextmanager
def project_lock(state_dir: Path, command: str, *, wait_seconds: float | None = None,
                 echo: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the project's lock for the block, waiting up to `wait_seconds` for another holder
    (saying once who it is); LockTimeout after that."""
    wait_seconds = default_wait() if wait_seconds is None else wait_seconds
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LOCK_NAME
    handle = path.open("a+", encoding="utf-8")
    try:
        deadline = time.monotonic() + wait_seconds
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"{path}: held by {_holder(path)} for more than "
                                      f"{wait_seconds:.0f} s; nothing was done") from None
                if echo is not None and not told:
                    echo(f"waiting for {_holder(path)} to finish (lock {path})")
                    told = True
                time.sleep(0.1)
        handle.seek(0)
        handle.truncate()
        handle.write(f"sovai {command} (pid {os.getpid()})\n")
        handle.flush()
        yield
    finally:
        handle.close()  # closing the file releases the lock
