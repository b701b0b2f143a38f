"""`sovai ui`'s process: `dagster dev` as a child in a process group of its own, stopped in order.

Why not exec `dagster dev` in place: a SIGTERM sent to the whole process group (what a service
manager, a terminal's job control or a test's killpg does) reaches dagster dev's code server at
the same moment as dagster dev itself. The code server exits first, dagster dev's proxy restarts
it while shutting down, and the new one outlives dagster dev until its 45 s heartbeat timeout
(measured on this project: the group emptied 60-80 s after SIGTERM). Here SIGTERM and SIGINT
reach dagster dev alone, which stops its webserver, daemon and code servers itself; whatever is
left of its group after that is killed, so `sovai ui` never leaves a process behind. If
`sovai ui` itself is killed (SIGKILL, the OOM killer), the kernel asks dagster dev to stop
(Linux's parent-death signal), since nothing else would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence

LEFTOVER_GRACE = 15.0  # seconds dagster dev's children get to exit after it has
# seconds dagster dev gets to stop after the signal: it usually takes 10 s, but on a loaded
# machine it was seen still stopping after 90 s, and a stop must end
STOP_GRACE = 30.0


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
        _kill(pgid)


def run_dagster_dev(command: Sequence[str], *, env: Mapping[str, str], cwd: str,
                    grace: float = LEFTOVER_GRACE, stop_grace: float = STOP_GRACE) -> int:
    """Run `command` (dagster dev ...) until it exits; SIGTERM or SIGINT to this process asks it
    to stop (once; a second signal, or `stop_grace` seconds without it stopping, kills its
    group). Returns its exit code, 0 for a stop that was asked for and had to be forced."""
    child = subprocess.Popen(list(command), env=dict(env), cwd=cwd, start_new_session=True,
                             preexec_fn=_stop_when_orphaned(os.getpid()))
    asked: list[float] = []  # when each stop signal came

    def forward(signum: int, frame: object) -> None:
        asked.append(time.monotonic())
        if len(asked) == 1:
            _signal(child, signal.SIGINT)  # dagster dev's own Ctrl-C path
        else:
            _kill(child.pid)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = _wait_for_stop(child, asked, stop_grace)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        _reap_group(child.pid, grace)
    return code


def _stop_when_orphaned(parent: int):  # noqa: ANN202 (a preexec_fn, or None)
    """On Linux, a function for the child to run before it execs dagster dev: when this process
    ends without stopping it (SIGKILL, the OOM killer), the kernel sends it SIGINT, its own
    Ctrl-C path, so it still stops its webserver, daemon and code servers. Elsewhere None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    def set_parent_death_signal() -> None:
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGINT))
        if os.getppid() != parent:  # the parent died before the line above: never start
            os._exit(1)

    return set_parent_death_signal


def _wait_for_stop(child: subprocess.Popen, asked: list[float], stop_grace: float) -> int:
    forced = False
    while True:
        try:
            code = child.wait(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            if asked and not forced and time.monotonic() - asked[0] > stop_grace:
                print(f"sovai ui: dagster dev did not stop within {stop_grace:.0f} s of the "
                      f"signal; killed", file=sys.stderr, flush=True)
                _kill(child.pid)
                forced = True
    return 0 if forced and len(asked) == 1 else code


def _signal(child: subprocess.Popen, signum: int) -> None:
    try:
        child.send_signal(signum)
    except ProcessLookupError:
        pass


def _kill(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
