"""Reliability promises, each proved by breaking something on purpose (RELIABILITY.md):
sealing holds against consistent tampering, sealed releases reproduce, a killed publish leaves
nothing half-written, one writer at a time, and a resource fault is one clear line."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from pipeline.cli.main import main, run_build
from pipeline.curation.curated import load_curated
from pipeline.curation.releases import declared_releases, verify_release_folder
from pipeline.lock import project_lock
from pipeline.paths import project_paths

from .conftest import REPO, write_project

LATEST = "2026-07-31"
SOVAI = str(Path(sys.executable).with_name("sovai"))  # the installed command, as a user runs it


def _clone(tmp_path: Path) -> Path:
    """The project's inputs and releases, as a fresh checkout would have them."""
    root = tmp_path / "clone"
    for name in ("curated", "schemas", "raw", "releases"):
        shutil.copytree(REPO / name, root / name)
    return root


def _sovai(root: Path, *args: str):
    return CliRunner().invoke(main, ["--root", str(root), *args])


def _rehash(package_path: Path, resource_path: str) -> None:
    """Write a changed file's new sha256 into its datapackage.json: a consistent forgery."""
    package = json.loads(package_path.read_text(encoding="utf-8"))
    target = package_path.parent / resource_path
    for entry in package["resources"]:
        if entry["path"] == resource_path:
            entry["hash"] = "sha256:" + hashlib.sha256(target.read_bytes()).hexdigest()
    package_path.write_text(json.dumps(package, indent=2, ensure_ascii=False) + "\n",
                            encoding="utf-8")


def test_verify_passes_a_clean_clone_and_names_every_tampered_file(tmp_path):
    root = _clone(tmp_path)
    clean = _sovai(root, "verify")
    assert clean.exit_code == 0, clean.output
    assert "0 problems in 4 published releases" in clean.output
    folder = root / "releases" / LATEST
    data = bytearray((folder / "models.parquet").read_bytes())
    data[100] ^= 0xFF  # one flipped byte, its new hash written where the build would look
    (folder / "models.parquet").write_bytes(bytes(data))
    _rehash(folder / "datapackage.json", "models.parquet")
    capture = next((root / "raw").glob("*/*.txt"))
    capture.write_text(capture.read_text(encoding="utf-8") + "x", encoding="utf-8")
    (root / "releases" / ".tmp-2026-08-31-x").mkdir()
    result = _sovai(root, "verify")
    assert result.exit_code == 1
    assert (f"{folder / 'datapackage.json'}: sha256 " in result.output
            and "recorded in index.json when the release was sealed" in result.output)
    assert f"{capture}: sha256 " in result.output and "is not the" in result.output
    assert ".tmp-2026-08-31-x: not part of any declared release" in result.output
    assert f"{capture.with_suffix('.json')}: records sha256" in result.output  # its sidecar
    assert "4 problems in 4 published releases" in result.output
    # Asked for another release, the tampered one is not named (captures are always checked).
    assert f"{LATEST}/" not in _sovai(root, "verify", "2026-04-25").output


def test_build_refuses_forgery_and_keeps_the_sealing_checksums(tmp_path):
    root = _clone(tmp_path)
    index_before = (root / "releases" / "index.json").read_bytes()
    folder = root / "releases" / LATEST
    data = bytearray((folder / "claims.parquet").read_bytes())
    data[200] ^= 0x01
    (folder / "claims.parquet").write_bytes(bytes(data))
    _rehash(folder / "datapackage.json", "claims.parquet")
    result = _sovai(root, "build")
    assert result.exit_code == 1
    assert f"release {LATEST} is sealed, but {folder / 'datapackage.json'}: sha256" in (
        result.output)
    assert "Traceback" not in result.output
    # The anchor survives: index.json was not regenerated with the forged checksum.
    assert (root / "releases" / "index.json").read_bytes() == index_before
    # A deleted published folder stops the build before the index could drop it.
    shutil.rmtree(root / "releases" / "2026-05-31")
    shutil.copytree(REPO / "releases" / LATEST, folder, dirs_exist_ok=True)
    result = _sovai(root, "build", "--release", LATEST)
    assert result.exit_code == 1 and "2026-05-31: missing" in result.output
    assert (root / "releases" / "index.json").read_bytes() == index_before


def test_an_edited_index_anchor_is_caught(tmp_path):
    root = _clone(tmp_path)
    index_path = root / "releases" / "index.json"
    index = json.loads(index_path.read_text(encoding="utf-8"))
    index["releases"][0]["datapackage_sha256"] = "0" * 64
    index_path.write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    result = _sovai(root, "verify", "2026-04-25")
    assert result.exit_code == 1 and f"is not the {'0' * 64} recorded" in result.output


def test_every_sealed_release_reproduces_or_names_the_commit_that_does():
    releases = declared_releases(load_curated(REPO / "curated"))
    current = [r for r in releases if r.sealed and not r.reproduces_at]
    assert LATEST in [r.key for r in current]
    for release in current:
        result = _sovai(REPO, "reproduce", release.key)
        assert result.exit_code == 0, result.output
        assert f"release {release.key}: rebuilt byte for byte from this tree" in result.output
    for release in (r for r in releases if r.sealed and r.reproduces_at):
        result = _sovai(REPO, "reproduce", release.key)
        assert result.exit_code == 1
        assert f"at commit {release.reproduces_at}" in result.output and release.reproduce_note


def test_reproduce_names_the_file_and_first_row_a_change_alters(tmp_path):
    root = _clone(tmp_path)
    investments = root / "curated" / "investments.yaml"
    text = investments.read_text(encoding="utf-8")
    old = "The rupee budget is exact to the lakh;"
    assert text.count(old) == 1
    investments.write_text(text.replace(old, "The rupee budget is exact to the crore;"),
                           encoding="utf-8")
    result = _sovai(root, "reproduce", LATEST)
    assert result.exit_code == 1
    assert f"{LATEST}/conflicts.parquet: row " in result.output
    assert "differs in resolution" in result.output and "exact to the crore" in result.output
    assert not any(p.name.startswith(".") for p in (root / "releases").iterdir())


def _build(root: Path) -> None:
    run_build(project_paths(root, root / "releases"), echo=lambda _: None,
              instance=dg.DagsterInstance.ephemeral())


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_sixty_kills_during_publish_leave_nothing_half_written(tmp_path):
    root = write_project(tmp_path / "project")
    _build(root)
    reference = _hashes(root / "releases")
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "tests.crash_publish", str(root), "60", "11"],
                         cwd=REPO, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"kills {summary['kills']} in {time.monotonic() - started:.0f} s "
          f"(one publish {summary['publish_seconds']} s)")
    assert summary["violations"] == []
    assert sum(summary["kills"].values()) >= 50
    assert all(count >= 8 for count in summary["kills"].values()), summary["kills"]
    # Leave a kill's leftovers in place: the next build cleans them and rebuilds identically.
    (root / "releases" / ".tmp-2026-05-31-left").mkdir()
    os.rename(root / "releases" / "2026-05-31", root / "releases" / ".old-2026-05-31-999")
    _build(root)
    assert _hashes(root / "releases") == reference


def test_a_second_writer_waits_then_refuses_with_one_line(tmp_path, monkeypatch):
    root = write_project(tmp_path / "project")
    monkeypatch.setenv("SOVAI_LOCK_WAIT", "1")
    with project_lock(root / ".dagster", "build"):
        started = time.monotonic()
        result = _sovai(root, "build")
        waited = time.monotonic() - started
    assert result.exit_code == 1 and 1.0 <= waited < 10
    assert "held by sovai build (pid " in result.output and "nothing was done" in result.output
    assert not (root / "releases").exists()


def test_a_fault_under_the_build_is_one_clear_line(tmp_path):
    root = write_project(tmp_path / "project")

    def limit_files() -> None:  # in the child: any file past 24 kB fails with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (24_000, 24_000))

    run = subprocess.run([SOVAI, "--root", str(root), "build"], cwd=REPO, capture_output=True,
                         text=True, timeout=600, preexec_fn=limit_files)
    assert run.returncode == 1 and "Traceback" not in run.stdout + run.stderr
    # Dagster's own database is the first file to outgrow the limit.
    assert run.stderr.strip().splitlines()[-1] == (
        "Error: OperationalError: disk I/O error; nothing was published (--verbose shows where "
        "it happened)")
    assert not (root / "releases").exists() or not any((root / "releases").iterdir())


EXIT_AFTER_WORK = """
import atexit, sys, threading, time
from pipeline.cli.entry import exit_without_teardown
atexit.register(lambda: print("atexit ran"))
worker = threading.Thread(target=lambda: (time.sleep(0.5), print("thread finished")))
worker.start()
print("buffered, not flushed", end="; ")
exit_without_teardown(int(sys.argv[1]))
"""


@pytest.mark.parametrize("code", [0, 3])
def test_the_command_exits_without_teardown_but_loses_nothing(code):
    # What interpreter shutdown does for the outside world still happens: threads finish,
    # atexit callbacks run, buffered output reaches the pipe, and the status is kept.
    run = subprocess.run([sys.executable, "-c", EXIT_AFTER_WORK, str(code)], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == code, run.stderr
    assert run.stdout == "buffered, not flushed; thread finished\natexit ran\n"


def test_the_installed_command_keeps_its_output_and_exit_status(tmp_path):
    root = write_project(tmp_path / "project")
    build = subprocess.run([SOVAI, "--root", str(root), "build"], cwd=REPO,
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout + build.stderr
    assert build.stdout.rstrip().splitlines()[-1].startswith("  rows: ")  # the last line
    assert build.stdout.count("built ") == 2
    usage = subprocess.run([SOVAI, "--root", str(root), "biuld"], capture_output=True,
                           text=True, timeout=60)
    assert usage.returncode == 2 and "No such command 'biuld'" in usage.stderr
    elsewhere = subprocess.run([SOVAI, "--root", str(tmp_path), "check"], capture_output=True,
                               text=True, timeout=60)
    assert elsewhere.returncode == 1 and elsewhere.stderr.strip() == (
        f"Error: {tmp_path}: not a sovai project (it has no curated/ and schemas/ folders)")


PUBLISH_UNDER_LIMIT = """
import os, resource, signal, sys
from pathlib import Path
from pipeline.paths import project_paths
from pipeline.publishing.reproduce import prepare_release, publish_prepared
from pipeline.stages import load_project
root = Path(sys.argv[1])
paths = project_paths(root, root / "releases")
first, second = load_project(paths)[2]
publish_prepared(prepare_release(paths, first), paths.releases)
prepared = prepare_release(paths, second)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (3_000, 3_000))  # the disk fills during publish
try:
    publish_prepared(prepared, paths.releases)
except OSError as err:
    print(err.strerror, flush=True)
    os._exit(3)
os._exit(0)
"""


@pytest.mark.parametrize("fault", ["disk full", "releases is a file"])
def test_a_resource_fault_during_publish_leaves_no_partial_file(tmp_path, fault):
    root = write_project(tmp_path / "project")
    if fault == "disk full":
        run = subprocess.run([sys.executable, "-c", PUBLISH_UNDER_LIMIT, str(root)], cwd=REPO,
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 3 and "File too large" in run.stdout, run.stdout + run.stderr
        # The release before is whole; the one being written is absent, not half there.
        assert sorted(p.name for p in (root / "releases").iterdir()) == ["2026-04-25"]
        assert verify_release_folder(root / "releases" / "2026-04-25") == []
        return
    (root / "releases").write_text("not a folder", encoding="utf-8")
    run = subprocess.run([SOVAI, "--root", str(root), "build"], cwd=REPO,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 1 and "Traceback" not in run.stdout + run.stderr
    [line] = [x for x in run.stderr.strip().splitlines() if x.startswith("Error: ")]
    assert "nothing was published" in line and str(root / "releases") in line
    assert (root / "releases").read_text(encoding="utf-8") == "not a folder"


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = (b"User-agent: *\nAllow: /\n" if self.path == "/robots.txt" else
                f"<html><body><h1>Page {self.path}</h1><p>Written in May 2026.</p>"
                f"</body></html>".encode())
        self.send_response(200)
        self.send_header("Content-Type", "text/plain" if self.path == "/robots.txt"
                         else "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def _add_sources_at_once(root: Path, base: str, ids: list[str]) -> list[subprocess.Popen]:
    runs = [subprocess.Popen([SOVAI, "--root", str(root), "add-source", f"{base}/{i}-{n}",
                              "--id", i, "--title", f"Page {n}", "--published-on", "2026-05-01",
                              "--allow-host", "127.0.0.1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for n, i in enumerate(ids)]
    for run in runs:
        run.wait(timeout=300)
    return runs


def test_add_source_runs_at_once_lose_no_entry_and_never_duplicate_an_id(tmp_path):
    root = write_project(tmp_path / "project")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        ids = [f"page-{n}" for n in range(8)]
        runs = _add_sources_at_once(root, base, ids)
        assert [r.returncode for r in runs] == [0] * 8, [r.stderr.read() for r in runs]
        same = _add_sources_at_once(root, base, ["same-page"] * 4)
    finally:
        server.shutdown()
        server.server_close()
    registered = [r["source_id"] for r in load_curated(root / "curated").sources]
    assert sorted(set(registered) - {"mini-page", "later-page"}) == sorted(ids + ["same-page"])
    assert registered.count("same-page") == 1 and len(registered) == len(set(registered))
    assert sorted(r.returncode for r in same) == [0, 1, 1, 1]
    refused = [r.stderr.read() for r in same if r.returncode == 1]
    assert all("'same-page' is already registered" in e and "Traceback" not in e
               for e in refused), refused
