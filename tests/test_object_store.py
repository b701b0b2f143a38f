"""The release store on a real S3-compatible server: moto's server mode on 127.0.0.1 (a free
port), started here. The sealed releases of releases/ are published to it with `sovai store
publish`, read back through the loader with pandas, DuckDB and Polars, verified, and built into
the site; a second publish with other bytes is refused with nothing changed; a publish refused
or killed halfway leaves readers the old index.json and no new release."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import boto3
import duckdb
import pandas as pd
import polars as pl
import pytest
from click.testing import CliRunner
from moto.server import ThreadedMotoServer

from pipeline import dataset
from pipeline.cli.main import main
from pipeline.curation.releases import sha256_file
from pipeline.publishing.store import STAGING, open_store, publish_to_store
from pipeline.site.build import build_site
from pipeline.site.config import load_publication

from .conftest import REPO

RELEASES = REPO / "releases"
BUCKET = "atlas"
FIRST, LATEST = "2026-04-25", "2026-07-31"
SEALED = [e["date"] for e in json.loads((RELEASES / "index.json").read_text())["releases"]
          if e["status"] == "published"]


class PutGate:
    """WSGI middleware in front of moto: once armed, the server refuses (403 AccessDenied, as
    for revoked credentials) or holds every PUT of one kind (an upload, or a server-side copy,
    which S3 also sends as a PUT) after the first `allowed` ones."""

    def __init__(self, app) -> None:
        self.app = app
        self.kind: str | None = None
        self.allowed = 0
        self.seen = 0
        self.hold = False
        self.reached = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()  # werkzeug serves each request in its own thread

    def arm(self, kind: str, allowed: int, *, hold: bool = False) -> None:
        self.kind, self.allowed, self.seen, self.hold = kind, allowed, 0, hold
        self.reached.clear()
        self.release.clear()

    def disarm(self) -> None:
        self.kind = None
        self.release.set()

    def __call__(self, environ, start_response):
        is_copy = "HTTP_X_AMZ_COPY_SOURCE" in environ
        if environ["REQUEST_METHOD"] == "PUT" and self.kind == ("copy" if is_copy else "upload"):
            with self.lock:
                self.seen += 1
                refused = self.seen > self.allowed
            if refused:
                if self.hold:  # the publisher is killed while this request hangs
                    self.reached.set()
                    self.release.wait(60)
                environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
                start_response("403 Forbidden", [("Content-Type", "application/xml")])
                return [b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied"
                        b"</Code><Message>Access Denied</Message></Error>"]
        return self.app(environ, start_response)


@dataclass
class S3:
    endpoint: str
    client: object
    gate: PutGate

    def url(self, prefix: str) -> str:
        return f"s3://{BUCKET}/{prefix}"

    def objects(self, prefix: str) -> dict[str, str]:
        """Every key under the prefix with its ETag (the server's MD5 of its bytes)."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET,
                                                                     Prefix=f"{prefix}/")
        return {o["Key"].removeprefix(f"{prefix}/"): o["ETag"]
                for page in pages for o in page.get("Contents", [])}

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()


@pytest.fixture(scope="module")
def s3():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # The gate wraps the app the server calls for each request (werkzeug reads server.app).
    gate = PutGate(server._server.app)
    server._server.app = gate
    endpoint = f"http://{host}:{port}"
    env = pytest.MonkeyPatch()
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "SOVAI_STORE_ENDPOINT": endpoint,
                        "AWS_CONFIG_FILE": os.devnull,
                        "AWS_SHARED_CREDENTIALS_FILE": os.devnull}.items():
        env.setenv(name, value)
    env.delenv("AWS_PROFILE", raising=False)
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket=BUCKET)
    yield S3(endpoint, client, gate)
    gate.disarm()
    env.undo()
    server.stop()


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    """The loader's cache of fetched files, fresh for each test."""
    monkeypatch.setenv(dataset.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def sovai(*args: str):
    return CliRunner().invoke(main, list(args))


def publish(url: str, *args: str):
    return sovai("store", "publish", url, *args)


@pytest.fixture(scope="module")
def published(s3) -> str:
    """Every sealed release of releases/ and its captures, in s3://atlas/read."""
    result = publish(s3.url("read"), "--from", str(RELEASES))
    assert result.exit_code == 0, result.output
    return s3.url("read")


def releases_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "releases"
    shutil.copytree(RELEASES, folder)
    return folder


def reseal_with_other_bytes(releases: Path, key: str) -> None:
    """The release `key` with one more line in its CHANGES.md, and its datapackage.json and
    index.json anchor rewritten to match: a copy that verifies on its own, but is not the
    release the store sealed."""
    folder = releases / key
    with open(folder / "CHANGES.md", "a", encoding="utf-8") as notes:
        notes.write("\nA line the sealed release does not have.\n")
    package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    for resource in package["resources"]:
        if resource["path"] == "CHANGES.md":
            resource["hash"] = f"sha256:{sha256_file(folder / 'CHANGES.md')}"
            resource["bytes"] = (folder / "CHANGES.md").stat().st_size
    (folder / "datapackage.json").write_text(json.dumps(package, indent=2) + "\n")
    index = json.loads((releases / "index.json").read_text(encoding="utf-8"))
    for entry in index["releases"]:
        if entry["date"] == key:
            entry["datapackage_sha256"] = sha256_file(folder / "datapackage.json")
    (releases / "index.json").write_text(json.dumps(index, indent=2) + "\n")


# --- reading a published store back ---------------------------------------------------------


def test_the_store_holds_exactly_what_releases_lists(s3, published):
    objects = s3.objects("read")
    index = json.loads((RELEASES / "index.json").read_text())
    listed = {f["path"] for e in index["releases"] for f in e["files"]}
    listed |= {c["path"] for c in index["captures"]} | {"index.json"}
    assert set(objects) == listed  # and no staging prefix left behind
    assert s3.read("read/index.json") == (RELEASES / "index.json").read_bytes()


def test_tables_read_back_through_the_loader_in_pandas_duckdb_and_polars(s3, published):
    assert list(dataset.list_releases(base=published)["date"].dt.strftime("%Y-%m-%d")) == SEALED
    for table in ("models", "claims", "sources"):
        remote = dataset.load(table, LATEST, base=published)
        local = dataset.load(table, LATEST, base=RELEASES)
        pd.testing.assert_frame_equal(remote, local)
        assert remote.attrs["source"] == f"{published}/{LATEST}/{table}.parquet"
        # DuckDB over the verified frame, and over an fsspec file object from the store.
        # A connection of its own: duckdb's default one is shared with every test in the
        # process, and one left with an unread result refuses the next query.
        connection = duckdb.connect()
        connection.register("remote", remote)
        assert connection.execute("SELECT count(*) FROM remote").fetchall() == [(len(local),)]
        connection.register_filesystem(open_store(published).fs)
        assert connection.execute(f"SELECT count(*) FROM read_parquet("
                                  f"'{published}/{LATEST}/{table}.parquet')").fetchall() == \
            [(len(local),)]
        polars = pl.from_pandas(remote)
        assert polars.height == len(local)
        assert polars.equals(pl.from_pandas(local))
    models = pl.from_pandas(dataset.load("models", FIRST, base=published))
    assert models.schema["organization_ids"] == pl.List(pl.String)
    assert dataset.citation(FIRST, base=published).startswith(
        dataset.citation(FIRST, base=RELEASES).rsplit(" <", 1)[0])
    assert dataset.verify(FIRST, base=published) == dataset.verify(FIRST, base=RELEASES)


def test_store_verify_passes_then_names_a_changed_file(s3, tmp_path, cache):
    url = s3.url("tampered")
    assert publish(url, "--release", FIRST, "--from", str(RELEASES)).exit_code == 0
    result = sovai("store", "verify", url, "--from", str(RELEASES))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith(f"0 problems in 1 releases in {url}")
    key = f"tampered/{FIRST}/models.parquet"
    s3.client.put_object(Bucket=BUCKET, Key=key, Body=s3.read(key)[:-1] + b"\0")
    result = sovai("store", "verify", url, "--from", str(RELEASES))
    assert result.exit_code == 1
    assert f"{BUCKET}/{key}: sha256 " in result.output.splitlines()[0]
    with pytest.raises(dataset.IntegrityError, match=f"{FIRST}/models.parquet: sha256"):
        dataset.load("models", FIRST, base=url)
    assert not list(cache.rglob("models.parquet"))  # the bad download was not kept


def test_a_release_read_once_from_a_store_loads_offline(s3):
    """A second server (the first one's credentials and bucket), stopped after the first
    read: the published release comes from the cache without a request, and list_releases
    falls back to the cached index.json with a warning."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # Fail fast once the server is gone: one attempt, a one-second connect timeout.
    options = {"endpoint_url": f"http://{host}:{port}", "config_kwargs": {
        "connect_timeout": 1, "retries": {"max_attempts": 1}}}
    try:  # moto keeps its buckets per process: the bucket is already there
        store = open_store(f"s3://{BUCKET}/offline", options)
        publish_to_store(store, RELEASES, [FIRST], echo=lambda _: None)
        online = dataset.load("models", FIRST, base=f"s3://{BUCKET}/offline",
                              storage_options=options)
    finally:
        server.stop()
    offline = dataset.load("models", FIRST, base=f"s3://{BUCKET}/offline",
                           storage_options=options)
    pd.testing.assert_frame_equal(offline, online)
    with pytest.warns(UserWarning, match="could not be fetched"):
        listed = dataset.list_releases(base=f"s3://{BUCKET}/offline", storage_options=options)
    assert list(listed["date"].dt.strftime("%Y-%m-%d")) == [FIRST]


def test_the_loader_imports_no_fsspec_for_a_folder():
    code = ("import sys, pipeline.dataset as d; d.load('models', base='releases'); "
            "print(sorted(m for m in ('fsspec', 's3fs', 'botocore', 'dagster') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_site_built_from_the_store_is_the_site_built_from_releases(s3, published,
                                                                        tmp_path):
    result = sovai("store", "site", published, "--out", str(tmp_path / "from-store"))
    assert result.exit_code == 0, result.output
    build_site(RELEASES, tmp_path / "from-releases", load_publication(REPO / "curated"))

    def tree(root: Path) -> dict[str, str]:
        return {p.relative_to(root).as_posix(): sha256_file(p)
                for p in sorted(root.rglob("*")) if p.is_file()}

    assert tree(tmp_path / "from-store") == tree(tmp_path / "from-releases")


def test_a_folder_store_is_published_and_read_the_same_way(tmp_path):
    folder = tmp_path / "store"
    assert publish(str(folder), "--release", FIRST, "--from", str(RELEASES)).exit_code == 0
    assert sorted(p.name for p in folder.iterdir()) == [FIRST, "captures", "index.json"]
    for base in (folder, folder.as_uri()):
        assert dataset.verify(FIRST, base=base) == dataset.verify(FIRST, base=RELEASES)
    assert sovai("store", "verify", folder.as_uri(), "--from", str(RELEASES)).exit_code == 0


def test_verify_refuses_a_store_with_nothing_published(s3):
    result = sovai("store", "verify", s3.url("never-published"))
    assert result.exit_code == 1
    assert result.output.strip() == (f"Error: {s3.url('never-published')}/index.json: missing "
                                      f"or empty; nothing is published there")


# --- a sealed release is never overwritten ---------------------------------------------------


def test_a_second_publish_with_other_bytes_is_refused_and_changes_nothing(s3, tmp_path):
    url = s3.url("sealed")
    assert publish(url, "--from", str(RELEASES)).exit_code == 0
    before = s3.objects("sealed")
    again = publish(url, "--from", str(RELEASES))
    assert again.exit_code == 0
    assert f"{FIRST}: already in {url} with the same datapackage.json" in again.output
    assert s3.objects("sealed") == before

    other = releases_copy(tmp_path)
    reseal_with_other_bytes(other, FIRST)
    refused = publish(url, "--from", str(other))
    assert refused.exit_code == 1
    lines = refused.output.strip().splitlines()
    assert len(lines) == 1, refused.output
    assert f"{BUCKET}/sealed/{FIRST}/datapackage.json: release {FIRST} is sealed" in lines[0]
    assert "never overwritten" in lines[0]
    assert s3.objects("sealed") == before


def test_a_tampered_local_release_is_not_uploaded(s3, tmp_path):
    url = s3.url("tampered-local")
    other = releases_copy(tmp_path)
    models = other / FIRST / "models.parquet"
    models.write_bytes(models.read_bytes()[:-1] + b"\0")
    result = publish(url, "--from", str(other))
    assert result.exit_code == 1
    assert f"{models}: sha256" in result.output and "nothing was uploaded" in result.output
    assert s3.objects("tampered-local") == {}


# --- an interrupted publish is invisible to readers ------------------------------------------


def _readers_see_only_the_first(s3, prefix: str, index_before: bytes) -> None:
    url = s3.url(prefix)
    assert s3.read(f"{prefix}/index.json") == index_before
    assert list(dataset.list_releases(base=url)["date"].dt.strftime("%Y-%m-%d")) == [FIRST]
    with pytest.raises(dataset.ReleaseNotFound, match=f"no release {LATEST}"):
        dataset.load("models", LATEST, base=url)
    assert len(dataset.load("models", FIRST, base=url)) > 0


def _publish_rest_and_check(s3, prefix: str) -> None:
    """The next publish finishes the job and leaves no staging prefix behind."""
    url = s3.url(prefix)
    assert publish(url, "--from", str(RELEASES)).exit_code == 0
    assert not [k for k in s3.objects(prefix) if k.startswith(STAGING)]
    assert list(dataset.list_releases(base=url)["date"].dt.strftime("%Y-%m-%d")) == SEALED
    assert sovai("store", "verify", url, "--from", str(RELEASES)).exit_code == 0


def _copies_to_publish_the_rest(s3) -> int:
    """How many copy PUTs publishing every release after the first takes (the last one is
    index.json), counted on a rehearsal prefix."""
    url = s3.url("rehearsal")
    assert publish(url, "--release", FIRST, "--from", str(RELEASES)).exit_code == 0
    s3.gate.arm("copy", 10**9)
    try:
        assert publish(url, "--from", str(RELEASES)).exit_code == 0
        return s3.gate.seen
    finally:
        s3.gate.disarm()


@pytest.mark.parametrize("kind, allowed", [("upload", 5), ("copy", 3), ("copy", "all files")])
def test_a_refused_publish_leaves_the_old_index_and_no_new_release(s3, kind, allowed):
    """Refused on the sixth upload, the fourth copy into place, or index.json's own copy
    (every new file already in place)."""
    every_file = allowed == "all files"
    if every_file:
        allowed = _copies_to_publish_the_rest(s3) - 1
    prefix = f"refused-{kind}-{allowed}"
    url = s3.url(prefix)
    assert publish(url, "--release", FIRST, "--from", str(RELEASES)).exit_code == 0
    index_before, before = s3.read(f"{prefix}/index.json"), s3.objects(prefix)
    s3.gate.arm(kind, allowed)
    try:
        result = publish(url, "--from", str(RELEASES))
    finally:
        s3.gate.disarm()
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert [line for line in lines if line.startswith("Error:")] == lines[-1:], result.output
    assert "AccessDenied" in lines[-1] and "index.json was not changed" in lines[-1]
    left = set(s3.objects(prefix)) - set(before)
    assert not [k for k in left if k.startswith(STAGING)]  # the failed publish cleaned up
    # Refused while uploading: nothing new is left; while copying: some files are in place.
    assert bool(left) == (kind == "copy")
    if every_file:  # everything the finished rehearsal holds, but its index.json
        assert left == set(s3.objects("rehearsal")) - set(before)
    _readers_see_only_the_first(s3, prefix, index_before)
    _publish_rest_and_check(s3, prefix)


def test_a_publish_killed_midway_leaves_the_old_index_and_no_new_release(s3, tmp_path):
    """The publishing process is killed (SIGKILL) while the server holds one of its copies
    into place: some new files are at their final paths, the staged ones stay behind."""
    prefix = "killed"
    url = s3.url(prefix)
    assert publish(url, "--release", FIRST, "--from", str(RELEASES)).exit_code == 0
    index_before, before = s3.read(f"{prefix}/index.json"), s3.objects(prefix)
    s3.gate.arm("copy", 4, hold=True)
    process = subprocess.Popen(
        [sys.executable, "-c", "from pipeline.cli import main; main()", "store", "publish", url,
         "--from", str(RELEASES)], cwd=REPO, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        assert s3.gate.reached.wait(120), "the publish never reached its fifth copy"
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        s3.gate.disarm()
    left = set(s3.objects(prefix)) - set(before)
    assert {k for k in left if k.startswith(f"{STAGING}/")}  # the kill left staged files
    assert {k for k in left if not k.startswith(f"{STAGING}/")}  # and some copied into place
    _readers_see_only_the_first(s3, prefix, index_before)
    _publish_rest_and_check(s3, prefix)
