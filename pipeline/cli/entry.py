"""The `sovai` console script: the click group, then a process exit that does not free the
heap object by object."""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

from pipeline.cli.main import main


def exit_code(stop: SystemExit) -> int:
    """The status Python itself would exit with for this SystemExit (its message, if any, is
    printed to stderr as Python would)."""
    if stop.code is None:
        return 0
    if isinstance(stop.code, int):
        return stop.code
    print(stop.code, file=sys.stderr)
    return 1


def exit_without_teardown(code: int) -> NoReturn:
    """Do what interpreter shutdown does for the outside world, then leave: after a 1M-claim
    build, freeing the tables, captures and parses one object at a time took 6.3 of 75.7 s,
    and pyarrow can abort in that teardown (apache/arrow#34314). Non-daemon threads are joined
    and atexit callbacks run (temporary folders, logging, multiprocessing's children), in the
    order Py_FinalizeEx uses; the standard streams are flushed; nothing else is left to do."""
    shutdown_threads = getattr(threading, "_shutdown", None)  # joins non-daemon threads
    if shutdown_threads is not None:
        shutdown_threads()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can reach it
            code = code or 120  # what Python exits with when the final flush fails
    os._exit(code)


def run() -> NoReturn:
    """`sovai`: click parses and runs the command (standalone, so usage errors, aborts and
    exceptions print as they always have); an uncaught exception still ends the normal way."""
    try:
        main()
    except SystemExit as stop:
        exit_without_teardown(exit_code(stop))
    exit_without_teardown(0)
