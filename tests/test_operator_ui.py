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
from pathlib import Path

from .conftest import REPO, write_project

SOVAI = str(Path(sys.executable).with_name("sovai"))
QUERY = ("{ repositoriesOrError { ... on RepositoryConnection { nodes { location { name } "
         "assetNodes { assetKey { path } groupName } } } } }")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


def test_the_ui_serves_every_table_on_the_projects_own_dagster_home(tmp_path):
    root = write_project(tmp_path / "project")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    server = subprocess.Popen([SOVAI, "--root", str(root), "ui", "--port", str(port)],
                              cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        answer = _graphql(port, time.monotonic() + 240)
    finally:
        os.killpg(server.pid, signal.SIGKILL)  # dagster dev ignores SIGTERM for a long time
        server.wait(timeout=60)
    [repository] = answer["data"]["repositoriesOrError"]["nodes"]
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
