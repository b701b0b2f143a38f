"""The build's Dagster executor is chosen by configuration ($SOVAI_EXECUTOR): in-process by
default, multiprocess (or a deployment's own executor) when asked. Whichever runs the steps,
the release is the same, byte for byte."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from pipeline.cli.main import run_build
from pipeline.paths import project_paths

from .conftest import write_project


def _every_file(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_multiprocess_executor_builds_the_same_bytes_as_the_in_process_one(tmp_path,
                                                                              monkeypatch):
    root = write_project(tmp_path / "project")
    # A persistent instance: the multiprocess executor's step processes write to it.
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster-home"))
    folders = {}
    for executor in ("in_process", "multiprocess"):
        monkeypatch.setenv("SOVAI_EXECUTOR", executor)
        folders[executor] = tmp_path / executor
        [result] = run_build(project_paths(root, folders[executor]), "2026-04-25",
                             echo=lambda _: None)
        assert not result["sealed"] and result["claims"] > 0
        starts = dg.DagsterInstance.get().all_logs(
            result["run_id"], of_type=dg.DagsterEventType.STEP_START)
        step_pids = {entry.dagster_event.pid for entry in starts}
        if executor == "in_process":
            assert step_pids == {os.getpid()}
        else:  # each step in a process of its own
            assert os.getpid() not in step_pids and len(step_pids) == len(starts) > 1
    in_process, multiprocess = (_every_file(f) for f in folders.values())
    assert "2026-04-25/datapackage.json" in in_process and "index.json" in in_process
    assert sorted(multiprocess) == sorted(in_process)
    for name, data in in_process.items():
        assert multiprocess[name] == data, f"{name} differs between the executors"
