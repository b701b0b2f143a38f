"""`sovai ui`: the Dagster UI an operator opens, served for real on 127.0.0.1, on the project's
own Dagster home (a bare `dagster dev` uses a temporary one, and its runs vanish)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .conftest import REPO, write_project

SOVAI = str(Path(sys.executable).with_name("sovai"))
QUERY = ("{ repositoriesOrError { ... on RepositoryConnection { nodes { location { name } "
         "assetNodes { assetKey { path } groupName } } } } }")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stat(pid: str) -> list[str]:
    """Fields of /proc/PID/stat after the command name: state, ppid, pgid, ..."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return text.rsplit(")", 1)[1].split()


def _children(pid: int) -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()
            and (fields := _stat(p)) and fields[1] == str(pid)]


def _in_group(pgid: int) -> list[int]:
    """The live processes of a process group (zombies do not count: they have exited)."""
    return [int(p) for p in os.listdir("/proc") if p.isdigit()
            and (fields := _stat(p)) and fields[2] == str(pgid) and fields[0] != "Z"]


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _graphql(port: int, deadline: float) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": QUERY}).encode(),
        headers={"Content-Type": "application/json"})
    while True:
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                answer = json.loads(response.read())
            if answer.get("data", {}).get("repositoriesOrError", {}).get("nodes"):
                return answer
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"the UI did not answer on port {port} in time")
        time.sleep(1)


@dataclass
class _UI:
    root: Path
    port: int
    server: subprocess.Popen
    answer: dict  # the first GraphQL answer: the code location's assets
    groups: list[int]  # sovai ui's process group, then dagster dev's own


@contextmanager
def _running_ui(tmp_path: Path) -> Iterator[_UI]:
    """`sovai ui` over a new project, as an operator starts it (no $DAGSTER_HOME of its own,
    in a process group of its own), once it answers; every process group it made is killed
    when the block ends, whatever the test did."""
    root = write_project(tmp_path / "project")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    server = subprocess.Popen([SOVAI, "--root", str(root), "ui", "--port", str(port)],
                              cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    groups = [server.pid]
    try:
        answer = _graphql(port, time.monotonic() + 240)
        groups += _children(server.pid)  # dagster dev runs in a process group of its own
        yield _UI(root, port, server, answer, groups)
    finally:
        for group in groups:
            _kill_group(group)


def test_the_ui_serves_every_table_on_the_projects_own_dagster_home_and_stops_on_sigterm(
        tmp_path):
    with _running_ui(tmp_path) as ui:
        # Stopped as a service manager stops it: SIGTERM to its whole process group.
        os.killpg(ui.server.pid, signal.SIGTERM)
        started = time.monotonic()
        assert ui.server.wait(timeout=90) == 0
        stopped = time.monotonic() - started
        left = [_in_group(g) for g in ui.groups]  # before the block kills what is left
    assert stopped < 60, stopped
    assert left == [[] for _ in ui.groups]  # nothing left running
    root = ui.root
    [repository] = ui.answer["data"]["repositoriesOrError"]["nodes"]
    assert repository["location"]["name"] == "sovai"
    groups = {node["assetKey"]["path"][-1]: node["groupName"]
              for node in repository["assetNodes"]}
    tables = {p.stem for p in (REPO / "schemas").glob("*.yaml")}
    assert {t: groups.get(t) for t in tables} == dict.fromkeys(tables, "normalize")
    assert groups["release_folder"] == "publish"
    # The project's own home, not a temporary one: its run and schedule storage are there.
    home = root / ".dagster"
    assert "telemetry" in (home / "dagster.yaml").read_text(encoding="utf-8")
    assert (home / "history").is_dir() and (home / "schedules").is_dir()


def test_dg_and_dagster_validate_load_the_sovai_location(tmp_path):
    """The two ways an operator checks the code location: `dg` (pyproject's [tool.dg]) and
    `dagster definitions validate -w workspace.yaml`, both as commands in a shell."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "VIRTUAL_ENV": str(bin_dir.parent)}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    validate = subprocess.run(
        [str(bin_dir / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert validate.returncode == 0, validate.stderr[-3000:]
    assert "Validation successful for code location sovai" in validate.stdout + validate.stderr
    listed = subprocess.run([str(bin_dir / "dg"), "list", "defs", "--json"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stderr[-3000:]
    defs = json.loads(listed.stdout)
    groups = {a["asset_key"]: a["group_name"] for a in defs["assets"]}
    tables = {p.stem for p in (REPO / "schemas").glob("*.yaml")}
    assert {t: groups.get(t) for t in tables} == dict.fromkeys(tables, "normalize")
    assert {"build_release"} <= {j["name"] for j in defs["jobs"]}
    assert {"monthly_release"} <= {s["name"] for s in defs["schedules"]}
    assert {"inputs_changed", "new_captures", "sealed_releases"} <= {
        s["name"] for s in defs["sensors"]}
    checked = subprocess.run([str(bin_dir / "dg"), "check", "defs"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0, checked.stderr[-3000:]
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr


def test_a_dagster_dev_that_will_not_stop_is_killed_after_its_grace(tmp_path):
    """A stop always ends: a child that ignores the forwarded SIGINT is killed, with its
    process group, once stop_grace has passed, and the stop still counts as done (exit 0)."""
    import threading

    from pipeline.cli.dagster_dev import run_dagster_dev

    pid_file = tmp_path / "pid"
    stubborn = [sys.executable, "-c",
                "import os, signal, sys, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                f"open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(600)"]
    timer = threading.Timer(2.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    started = time.monotonic()
    try:
        code = run_dagster_dev(stubborn, env=os.environ, cwd=str(tmp_path), grace=2.0,
                               stop_grace=1.0)
    finally:
        timer.cancel()
    assert code == 0
    assert time.monotonic() - started < 20
    assert _in_group(int(pid_file.read_text())) == []


LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""
RUNS = """{ runsOrError { ... on Runs { results { runId status startTime endTime } } } }"""


def _post(port: int, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def test_two_runs_of_one_release_launched_together_run_one_after_the_other(tmp_path):
    # A sensor's build and one launched by hand, say: the second waits in the run queue.
    with _running_ui(tmp_path) as ui:
        port = ui.port
        params = {"selector": {"repositoryLocationName": "sovai",
                               "repositoryName": "__repository__", "jobName": "build_release"},
                  "executionMetadata": {"tags": [{"key": "dagster/partition",
                                                  "value": "2026-04-25"}]}}
        launched = [_post(port, LAUNCH, {"params": params})["launchRun"] for _ in range(2)]
        assert [r["__typename"] for r in launched] == ["LaunchRunSuccess"] * 2, launched
        ids = {r["run"]["runId"] for r in launched}
        deadline, both_seen = time.monotonic() + 300, []
        while True:
            runs = [r for r in _post(port, RUNS)["runsOrError"]["results"] if r["runId"] in ids]
            statuses = sorted(r["status"] for r in runs)
            both_seen.append(statuses)
            if statuses == ["SUCCESS", "SUCCESS"] or time.monotonic() > deadline:
                break
            assert statuses.count("STARTED") + statuses.count("STARTING") <= 1, statuses
            time.sleep(0.5)
    assert statuses == ["SUCCESS", "SUCCESS"], both_seen[-5:]
    first, second = sorted(runs, key=lambda r: r["startTime"])
    assert second["startTime"] >= first["endTime"]  # no overlap, as Dagster recorded them
    assert ["QUEUED", "STARTED"] in both_seen or ["QUEUED", "STARTING"] in both_seen
    assert (ui.root / "releases" / "2026-04-25" / "datapackage.json").is_file()


def test_a_killed_sovai_ui_does_not_leave_dagster_dev_running(tmp_path):
    # SIGKILL reaches `sovai ui` alone (the OOM killer, kill -9 of its PID): dagster dev, in
    # its own process group, is told by the kernel to stop, and its whole group ends.
    with _running_ui(tmp_path) as ui:
        [dev] = ui.groups[1:]
        os.kill(ui.server.pid, signal.SIGKILL)
        ui.server.wait(timeout=10)
        deadline = time.monotonic() + 120
        while _in_group(dev) and time.monotonic() < deadline:
            time.sleep(1)
        left = _in_group(dev)
    assert left == []
