"""Kill a release publish with SIGKILL, many times, and check what is left after each kill.

Run as `python -m tests.crash_publish ROOT ROUNDS SEED` on a project whose first release is
built: it prepares the second release's tables once, then forks one worker per round that
publishes that release over and over (the way `sovai build` does: atomic folder, swap, index)
and is killed, either by this process at a random moment or by itself at a chosen point of the
swap or the index write. After each kill it checks, as a reader would find the folder:

- every release folder is complete and valid (each file matches datapackage.json);
- index.json is valid JSON;

then runs what the next build runs first (recover_interrupted, write_index) and checks that no
temporary or moved-aside folder is left and that index.json matches the folders. It prints one
JSON line: rounds per kill point and every violation found."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import sys
import time
from pathlib import Path

# Where a worker kills itself: before or after the n-th call of a function the swap or the
# index uses. "random" is a kill by the parent at a random moment of the publish loop.
POINTS = {"random": None, "before-move-aside": ("rename", 1, "before"),
          "after-move-aside": ("rename", 1, "after"), "after-swap": ("rename", 2, "after"),
          "before-index-replace": ("replace", 1, "before"),
          "after-rmtree": ("rmtree", 1, "after")}


def _prepare(root: Path):
    from pipeline import stages
    from pipeline.paths import project_paths
    from pipeline.publishing.reproduce import prepare_release

    paths = project_paths(root, root / "releases")
    _, _, releases = stages.load_project(paths)
    statuses = {r.key: r.status for r in releases}
    return paths, prepare_release(paths, releases[1]), statuses


def _kill_self_at(module, name: str, calls: int, when: str) -> None:
    original = getattr(module, name)
    count = {"n": 0}

    def wrapper(*args, **kwargs):
        count["n"] += 1
        if count["n"] == calls and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = original(*args, **kwargs)
        if count["n"] == calls:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(module, name, wrapper)


def _worker(point: str, state) -> None:
    import shutil

    if POINTS[point] is not None:
        name, calls, when = POINTS[point]
        _kill_self_at(shutil if name == "rmtree" else os, name, calls, when)
    while True:
        _publish(state)


def _reader_violations(releases_dir: Path) -> list[str]:
    from pipeline.curation.releases import verify_release_folder

    found = []
    for folder in sorted(p for p in releases_dir.iterdir()
                         if p.is_dir() and p.name[:1].isdigit()):
        found += verify_release_folder(folder)
    index = releases_dir / "index.json"
    if index.exists():
        try:
            json.loads(index.read_text(encoding="utf-8"))
        except ValueError as err:
            found.append(f"index.json is not valid JSON: {err}")
    return found


def _recovered_violations(releases_dir: Path, raw: Path, statuses: dict) -> list[str]:
    from pipeline.curation.releases import sha256_file
    from pipeline.publishing.publish import recover_interrupted, refresh_release_index

    recover_interrupted(releases_dir)
    refresh_release_index(releases_dir, raw, statuses)
    found = [f"left behind: {p.name}" for p in releases_dir.iterdir()
             if p.name.startswith(".")]
    index = json.loads((releases_dir / "index.json").read_text(encoding="utf-8"))
    for entry in index["releases"]:
        for listed in entry["files"]:
            if sha256_file(releases_dir / listed["path"]) != listed["sha256"]:
                found.append(f"index.json does not match {listed['path']}")
    for key in statuses:
        if not (releases_dir / key / "datapackage.json").is_file():
            found.append(f"{key}: missing after recovery")
    return found


def main(root: Path, rounds: int, seed: int) -> dict:
    state = _prepare(root)
    paths, statuses = state[0], state[2]
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # one undisturbed publish, to time it
        _worker_once(state)
    os.waitpid(pid, 0)
    window = time.monotonic() - started
    chooser = random.Random(seed)
    kills: dict[str, int] = dict.fromkeys(POINTS, 0)
    violations: list[str] = []
    for round_number in range(rounds):
        point = list(POINTS)[round_number % len(POINTS)]
        pid = os.fork()
        if pid == 0:
            _worker(point, state)
        if point == "random":
            time.sleep(chooser.uniform(0.0, 2.5 * window))
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
            kills[point] += 1
        violations += [f"round {round_number} ({point}): {v}"
                       for v in _reader_violations(paths.releases)]
        violations += [f"round {round_number} ({point}), after recovery: {v}"
                       for v in _recovered_violations(paths.releases, paths.raw, statuses)]
    return {"kills": kills, "violations": violations, "publish_seconds": round(window, 3),
            "date": dt.date.today().isoformat()}


def _publish(state) -> None:
    """What `sovai build` does for a draft once its checks pass: the folder, then the index."""
    from pipeline.publishing.publish import refresh_release_index
    from pipeline.publishing.reproduce import publish_prepared

    paths, prepared, statuses = state
    publish_prepared(prepared, paths.releases)
    refresh_release_index(paths.releases, paths.raw, statuses)


def _worker_once(state) -> None:
    _publish(state)
    os._exit(0)


if __name__ == "__main__":
    summary = main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
    print(json.dumps(summary), flush=True)
    os._exit(0)  # pyarrow can abort at interpreter exit (apache/arrow#34314)
