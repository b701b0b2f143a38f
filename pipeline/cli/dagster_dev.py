"""`sovai ui`'s process: `dagster dev` as a child in a process group of its own, stopped in order.

Why not exec `dagster dev` in place: a SIGTERM sent to the whole process group (what a service
manager, a terminal's job control or a test's killpg does) reaches dagster dev's code server at
the same moment as dagster dev itself. The code server exits first, dagster dev's proxy restarts
it while shutting down, and the new one outlives dagster dev until its 45 s heartbeat timeout
(measured on this project: the group emptied 60-80 s after SIGTERM). Here SIGTERM and SIGINT
reach dagster dev alone, which stops its webserver, daemon and code servers itself; whatever is
left of its group after that is killed, so `sovai ui` never leaves a process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence

LEFTOVER_GRACE = 15.0  # seconds dagster dev's children get to exit after it has


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of the group that is not ours: still there
        return True
    return True


def _reap_group(pgid: int, grace: float) -> None:
    """Wait up to `grace` seconds for the rest of the group to exit, then kill what is left."""
    deadline = time.monotonic() + grace
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _group_alive(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_dagster_dev(command: Sequence[str], *, env: Mapping[str, str], cwd: str,
                    grace: float = LEFTOVER_GRACE) -> int:
    """Run `command` (dagster dev ...) until it exits; SIGTERM or SIGINT to this process asks it
    to stop (once; a second signal kills its group at once). Returns its exit code."""
    child = subprocess.Popen(list(command), env=dict(env), cwd=cwd, start_new_session=True)
    signals = [0]

    def forward(signum: int, frame: object) -> None:
        signals[0] += 1
        try:
            if signals[0] == 1:
                child.send_signal(signal.SIGINT)  # dagster dev's own Ctrl-C path
            else:
                os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = child.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        _reap_group(child.pid, grace)
    return code
