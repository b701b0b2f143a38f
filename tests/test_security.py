"""Security (issue 12): nothing a curated file, a fetched page or a served index says can make
the Atlas read or write outside the project, raw/, releases/ or the loader's cache, evaluate
code, or fetch from where it should not. Every fetching test runs against a real HTTP server on
127.0.0.1 that it starts (tests/test_fetch.py's)."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import re
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline import dataset
from pipeline.cli.main import main
from pipeline.paths import OutputFolderError, output_folder
from pipeline.sources.capture import CaptureError, capture_bytes
from pipeline.sources.fetch import ALLOW_HOSTS_ENV, Fetcher, FetchError, fetch_source

from .conftest import FILES, REPO, write_project
from .test_fetch import POLICY, TABLE_PAGE, Reply, _no_proxies, files, sha, site

__all__ = ["_no_proxies", "site"]  # fixtures used here, defined in test_fetch

SOURCES = FILES["sources.yaml"]


def tree(folder: Path) -> dict[str, str]:
    """Every file and symlink under `folder` (symlinks as their target), to compare before and
    after: nothing may be written anywhere (but the project's lock, in .dagster/)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if ".dagster" in path.parts:
            continue
        if path.is_symlink():
            found[key] = "-> " + os.readlink(path)
        elif path.is_file():
            found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def check(root: Path) -> tuple[int, list[str]]:
    result = CliRunner().invoke(main, ["--root", str(root), "check"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output.splitlines()


# --- paths from curated input ----------------------------------------------------------------


def _sources_with(**changes: str) -> str:
    """sources.yaml with the first source's lines replaced (key -> new YAML value)."""
    text = SOURCES
    for key, value in changes.items():
        old = next(line for line in text.splitlines()
                   if line.strip().removeprefix("- ").startswith(f"{key}:"))
        text = text.replace(old, old.split(":")[0] + f": {value}", 1)
    return text


@pytest.mark.parametrize(("changes", "expected"), [
    ({"source_id": '"../../../../escaped"'},
     "curated/sources.yaml:1, column 'source_id', value '../../../../escaped': not a slug "
     "(lowercase letters, digits and single hyphens), so it cannot name a folder in raw/"),
    ({"source_id": '"/tmp/escaped"'}, "value '/tmp/escaped': not a slug"),
    ({"source_id": '"mini\\0page"'}, "value 'mini\\x00page': not a slug"),
    ({"capture_file": "/etc/passwd"},
     "curated/sources.yaml:1, key 'mini-page', column 'capture_file', value '/etc/passwd': "
     "must be relative to the project root, not absolute"),
    ({"capture_file": "../outside.txt"}, "value '../outside.txt': leads outside the project"),
    ({"capture_file": "pages/../../outside.txt"}, "leads outside the project"),
    ({"capture_file": '"pages/mini.txt\\0.txt"'}, "contains a NUL byte"),
    ({"capture_file": "pages/link.txt"}, "value 'pages/link.txt': leads outside the project"),
])
def test_a_source_cannot_read_or_write_outside_the_project(tmp_path, changes, expected):
    root = write_project(tmp_path / "project", {"sources.yaml": _sources_with(**changes)})
    (tmp_path / "outside.txt").write_text("root:x:0:0:secret outside the project\n")
    (root / "pages" / "link.txt").symlink_to(tmp_path / "outside.txt")
    before = tree(tmp_path)
    code, lines = check(root)
    assert code == 1
    assert lines == [f"BLOCKING: {lines[0].removeprefix('BLOCKING: ')}"]  # one line
    assert expected in lines[0]
    assert tree(tmp_path) == before  # nothing captured, nothing written anywhere (raw/ too)


def test_sovai_build_publishes_nothing_from_outside_the_project(tmp_path):
    root = write_project(tmp_path / "project",
                         {"sources.yaml": _sources_with(capture_file="/etc/passwd")})
    result = CliRunner().invoke(main, ["--root", str(root), "build"])
    assert result.exit_code == 1, result.output
    assert "value '/etc/passwd': must be relative to the project root" in result.output
    assert "Traceback" not in result.output
    assert not (root / "releases").exists() and not (root / "raw").exists()


def test_a_raw_folder_that_is_a_symlink_is_refused(tmp_path):
    root = write_project(tmp_path / "project")
    (tmp_path / "elsewhere").mkdir()
    (root / "raw").mkdir()
    (root / "raw" / "mini-page").symlink_to(tmp_path / "elsewhere")
    code, lines = check(root)
    assert code == 1 and len(lines) == 1
    assert lines[0].startswith("BLOCKING: curated/sources.yaml:1, key 'mini-page', column "
                               "'capture_file', value 'pages/mini.txt': ")
    assert "raw/mini-page: is a symlink" in lines[0]
    assert files(tmp_path / "elsewhere") == []
    with pytest.raises(CaptureError, match="is not a slug"):
        capture_bytes(root / "raw", "../elsewhere", b"x", origin="t", media_type="text/plain")
    assert files(tmp_path / "elsewhere") == []


def test_a_source_with_no_file_no_url_and_no_capture_is_one_clear_error(tmp_path):
    root = write_project(tmp_path / "project", {"sources.yaml": _sources_with(
        capture_file="null")})
    code, lines = check(root)
    assert (code, lines) == (1, ["BLOCKING: curated/sources.yaml:1, key 'mini-page': no capture "
                                 "in raw/mini-page/, and neither a capture_file nor a url to "
                                 "make one"])
    # Once captured, raw/ is enough: the file may go and capture_file become null.
    write_project(tmp_path / "copy")
    assert check(tmp_path / "copy")[0] == 0
    (tmp_path / "copy" / "pages" / "mini.txt").unlink()
    (tmp_path / "copy" / "curated" / "sources.yaml").write_text(
        (root / "curated" / "sources.yaml").read_text())
    assert check(tmp_path / "copy")[0] == 0


def test_the_real_sources_need_nothing_outside_the_project():
    """curated/sources.yaml names no file outside the project: every real source is read from
    its capture in raw/ (content address and sidecar)."""
    from pipeline.curation.curated import load_curated
    from pipeline.sources.capture import latest_capture, verify_capture

    sources = load_curated(REPO / "curated").sources
    assert len(sources) >= 5
    for record in sources:
        name = record.get("capture_file")
        assert name is None or (REPO / name).resolve().is_relative_to(REPO), record
        capture = latest_capture(REPO / "raw", record["source_id"])
        assert capture is not None and capture.path.is_relative_to(REPO / "raw")
        verify_capture(capture)


def test_fetch_with_a_hostile_source_id_writes_nothing_and_requests_nothing(tmp_path, site):
    url = site.route("/page", Reply(body=TABLE_PAGE))
    root = write_project(tmp_path / "project", {"sources.yaml": SOURCES + f"""
        - source_id: "../../../escaped"
          title: T
          url: "{url}"
          published_on: 2026-04-20
    """})
    before = tree(tmp_path)
    result = CliRunner().invoke(main, ["--root", str(root), "fetch"],
                                obj={"fetch_policy": POLICY})
    assert (result.exit_code, result.output.splitlines()) == (1, [
        "Error: curated/sources.yaml:22, column 'source_id', value '../../../escaped': not a "
        "slug (lowercase letters, digits and single hyphens), so it cannot name a folder in "
        "raw/"])
    with Fetcher(POLICY) as fetcher, pytest.raises(CaptureError, match="is not a slug"):
        fetch_source(fetcher, root / "raw", "../../../escaped", url)
    assert site.requests == [] and tree(tmp_path) == before


def test_a_release_date_that_is_a_path_is_refused(tmp_path):
    root = write_project(tmp_path / "project", {"releases.yaml": """
        - {date: "../../../escaped", title: April 2026, status: draft}
    """})
    before = tree(tmp_path)
    code, lines = check(root)
    assert code == 1 and len(lines) == 1  # one line naming the file, line, column and value
    assert lines[0].startswith("BLOCKING: curated/releases.yaml:1, column 'date', value "
                               "'../../../escaped': ")
    assert tree(tmp_path) == before


@pytest.mark.parametrize(("out", "reason"), [
    ("{root}", "is the project root or a folder above it"),
    ("{root}/..", "is the project root or a folder above it"),
    ("/", "is the project root or a folder above it"),
    ("{root}/raw", "lies in the project's raw/"),
    ("{root}/curated/out", "lies in the project's curated/"),
    ("{root}/pages/to-raw", "lies in the project's raw/"),  # a symlink into raw/
    ("{tmp}/documents", "holds 'letter.txt', which is not an earlier output (no index.json)"),
    ("{tmp}/documents/letter.txt", "holds 'letter.txt'"),
    ("{tmp}/out\0x", "contains a NUL byte"),
])
def test_an_out_folder_that_could_overwrite_other_files_is_refused(tmp_path, out, reason):
    root = write_project(tmp_path / "project")
    (root / "raw").mkdir()
    (root / "pages" / "to-raw").symlink_to(root / "raw")
    (tmp_path / "documents").mkdir()
    (tmp_path / "documents" / "letter.txt").write_text("not the Atlas's")
    with pytest.raises(OutputFolderError, match=re.escape(reason)):
        output_folder(root, out.format(root=root, tmp=tmp_path))


def test_an_out_folder_that_is_new_empty_or_an_earlier_output_is_allowed(tmp_path):
    root = write_project(tmp_path / "project")
    (tmp_path / "empty").mkdir()
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.json").write_text("{}")
    (tmp_path / "site" / "index.html").write_text("")
    (tmp_path / "copied" / "2026-04-25").mkdir(parents=True)  # sealed releases copied in
    for out in (root / "releases", root / "site", tmp_path / "new" / "releases",
                tmp_path / "empty", tmp_path / "site", tmp_path / "copied"):
        assert output_folder(root, out) == out.resolve()


# --- YAML ------------------------------------------------------------------------------------


@pytest.mark.parametrize("tag", [
    '!!python/object/apply:os.system ["touch {marker}"]',
    '!!python/object/new:subprocess.Popen [["touch", "{marker}"]]',
    "!!python/name:os.system",
])
def test_yaml_python_tags_are_an_error_and_never_run(tmp_path, tag):
    marker = tmp_path / "pwned"
    evil = SOURCES.replace("title: A later page", "title: " + tag.format(marker=marker))
    root = write_project(tmp_path / "project", {"sources.yaml": evil})
    code, lines = check(root)
    assert code == 1 and len(lines) == 1
    assert lines[0].startswith("BLOCKING: curated/sources.yaml:12: not valid YAML: could not "
                               "determine a constructor for the tag ")
    assert "tag:yaml.org,2002:python/" in lines[0]
    assert not marker.exists()


# --- fetching --------------------------------------------------------------------------------

OPEN = dataclasses.replace(POLICY, hosts=None)  # the default: any host, but no private address


def test_loopback_is_refused_by_default_before_any_request(tmp_path, site):
    url = site.route("/page", Reply(body=TABLE_PAGE))
    port = site.base.rsplit(":", 1)[1]
    with Fetcher(OPEN) as fetcher:
        for target in (url, f"http://localhost:{port}/page"):
            with pytest.raises(FetchError, match=r"is the non-public address (127\.0\.0\.1|::1) "
                                                 r"\(loopback, private or reserved\); refused "
                                                 r"unless allowed by name \(--allow-host "):
                fetch_source(fetcher, tmp_path / "raw", "page", target)
    assert site.requests == [] and files(tmp_path) == []
    # Named exactly, it is fetched (the CLI's --allow-host 127.0.0.1 does this).
    with Fetcher(POLICY) as fetcher:
        assert fetch_source(fetcher, tmp_path / "raw", "page", url).outcome == "new"


def test_the_address_really_connected_to_is_checked(tmp_path, site, monkeypatch):
    """A name checked as public that then connects to a private address (DNS rebinding) is
    refused at the connection, before anything is sent."""
    import pipeline.sources.fetch

    url = site.route("/page", Reply(body=TABLE_PAGE))
    monkeypatch.setattr(pipeline.sources.fetch, "non_public_address", lambda host, port: None)
    with Fetcher(OPEN) as fetcher, pytest.raises(FetchError) as err:
        fetch_source(fetcher, tmp_path / "raw", "page", url)
    assert str(err.value) == (f"source 'page': {url}: robots.txt of {site.base} could not be "
                              f"read, so the page is not fetched: 127.0.0.1 connected to the "
                              f"non-public address 127.0.0.1; refused unless allowed by name "
                              f"(--allow-host 127.0.0.1)")
    assert site.requests == [] and files(tmp_path) == []


def test_the_cli_refuses_loopback_unless_the_host_is_named(tmp_path, site, monkeypatch):
    monkeypatch.delenv(ALLOW_HOSTS_ENV, raising=False)
    root = write_project(tmp_path / "project")
    url = site.route("/atlas", Reply(body=TABLE_PAGE))
    args = ["--root", str(root), "add-source", url, "--id", "atlas", "--title", "T",
            "--published-on", "2026-04-20"]
    refused = CliRunner().invoke(main, args)
    assert (refused.exit_code, refused.output.splitlines()) == (1, [
        f"Error: source 'atlas': {url}: host '127.0.0.1' is the non-public address 127.0.0.1 "
        f"(loopback, private or reserved); refused unless allowed by name (--allow-host "
        f"127.0.0.1); nothing was registered"])
    assert site.requests == [] and not (root / "raw").exists()
    allowed = CliRunner().invoke(main, [*args, "--allow-host", "127.0.0.1"])
    assert allowed.exit_code == 0, allowed.output
    assert files(root / "raw") == [f"atlas/{sha(TABLE_PAGE)}.html", f"atlas/{sha(TABLE_PAGE)}.json"]


@pytest.mark.parametrize(("url", "address"), [
    ("http://10.1.2.3/", "10.1.2.3"),
    ("http://192.168.0.1:8080/admin", "192.168.0.1"),
    ("http://172.16.5.4/", "172.16.5.4"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),  # cloud metadata
    ("http://100.64.0.1/", "100.64.0.1"),  # carrier-grade NAT
    ("http://0.0.0.0/", "0.0.0.0"),
    ("http://[::1]/", "::1"),
    ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1"),
    ("http://[fd00::1]/", "fd00::1"),
    ("http://224.0.0.1/", "224.0.0.1"),
])
def test_private_and_reserved_addresses_are_refused(tmp_path, url, address):
    with Fetcher(OPEN) as fetcher, pytest.raises(FetchError) as err:
        fetch_source(fetcher, tmp_path / "raw", "inside", url)
    assert f"is the non-public address {address} (loopback, private or reserved)" \
        in str(err.value)
    assert files(tmp_path) == []


def test_redirects_to_another_scheme_host_private_address_or_credentials_are_refused(
        tmp_path, site):
    port = site.base.rsplit(":", 1)[1]
    site.route("/target", Reply(body=TABLE_PAGE))
    cases = [
        ("ftp://127.0.0.1/target", "redirect from http: to ftp: refused"),
        ("file:///etc/passwd", "redirect from http: to file: refused"),
        (f"http://localhost:{port}/target", "redirect to another host 'localhost' refused"),
        (f"http://user:secret@127.0.0.1:{port}/target", "the URL carries credentials"),
    ]
    with Fetcher(POLICY) as fetcher:
        for n, (location, reason) in enumerate(cases):
            start = site.route(f"/go{n}", Reply(302, b"", headers={"Location": location}))
            with pytest.raises(FetchError, match=reason):
                fetch_source(fetcher, tmp_path / "raw", "redirected", start)
    # A host allowed by a pattern may be redirected to, but not as a loopback address: only a
    # host named exactly may be one.
    pattern = dataclasses.replace(POLICY, hosts=frozenset({"127.0.0.1", ".localhost"}))
    hop = site.route("/hop", Reply(302, b"", headers={
        "Location": f"http://localhost:{port}/target"}))
    with Fetcher(pattern) as fetcher, pytest.raises(FetchError, match="host 'localhost' is the "
                                                                      "non-public address"):
        fetch_source(fetcher, tmp_path / "raw", "redirected", hop)
    assert "/target" not in site.paths() and files(tmp_path) == []
    named = dataclasses.replace(POLICY, hosts=frozenset({"127.0.0.1", "localhost"}))
    with Fetcher(named) as fetcher:
        result = fetch_source(fetcher, tmp_path / "raw", "redirected", hop)
    assert result.capture.http["final_url"] == f"http://localhost:{port}/target"


def test_a_compressed_body_is_capped_after_decompression(tmp_path, site):
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip, built in steps
    block = bytes(1024 * 1024)
    bomb = b"".join(squeeze.compress(block) for _ in range(32)) + squeeze.flush()  # 32 MiB
    assert len(bomb) < POLICY.max_bytes  # small on the wire: only the inflated size is over
    url = site.route("/bomb", Reply(body=bomb, headers={"Content-Encoding": "gzip"}))
    tracemalloc.start()
    started = time.monotonic()
    try:
        with Fetcher(POLICY) as fetcher, pytest.raises(
                FetchError, match="the body is over the 65536-byte cap after decompression; "
                                  "refused"):
            fetch_source(fetcher, tmp_path / "raw", "bomb", url)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 2.0
    assert peak < 4 * 1024 * 1024  # never inflated: a few times the cap, not 32 MiB
    # Honest compressed pages are stored as their decoded bytes.
    deflated = site.route("/deflate", Reply(body=zlib.compress(TABLE_PAGE),
                                            headers={"Content-Encoding": "deflate"}))
    zipped = site.route("/gzip", Reply(body=gzip.compress(TABLE_PAGE),
                                       headers={"Content-Encoding": "gzip"}))
    brotli = site.route("/br", Reply(body=b"\x1b\x00", headers={"Content-Encoding": "br"}))
    with Fetcher(POLICY) as fetcher:
        for name, page in (("deflate", deflated), ("gzip", zipped)):
            assert fetch_source(fetcher, tmp_path / "raw", name, page).capture.read_bytes() \
                == TABLE_PAGE
        with pytest.raises(FetchError, match="content encoding 'br' is not accepted"):
            fetch_source(fetcher, tmp_path / "raw", "br", brotli)
    assert files(tmp_path / "raw") == sorted(f"{s}/{sha(TABLE_PAGE)}.{e}"
                                             for s in ("deflate", "gzip") for e in ("html", "json"))


@pytest.mark.parametrize("reply", [
    Reply(body=b"<p>" + b"x" * 100, trickle=3.0, send_length=False),  # 1 byte every 3 s
    Reply(body=b"<p>" + b"x" * 100, trickle=3.0),  # the same, with a Content-Length
    Reply(body=b"<p>" + b"x" * 500, endless=True, send_length=False),  # 50 kB/s, never ending
    Reply(header_trickle=1.0),  # a header line that never ends, 1 byte a second
], ids=["trickle", "trickle-with-length", "endless", "trickled-headers"])
def test_a_trickling_or_endless_response_is_cut_at_the_deadline(tmp_path, site, reply):
    # The read timeout (5 s) is longer than the gap between bytes (3 s): only the 2 s
    # whole-body deadline can stop these, and the cap (1 MiB) is not reached in 2 s.
    patient = dataclasses.replace(POLICY, read_timeout=5.0, total_timeout=2.0,
                                  max_bytes=1024 * 1024)
    url = site.route("/slow", reply)
    started = time.monotonic()
    with Fetcher(patient) as fetcher, pytest.raises(
            FetchError, match="the response took longer than 2 s; refused"):
        fetch_source(fetcher, tmp_path / "raw", "slow", url)
    elapsed = time.monotonic() - started
    assert 1.9 <= elapsed < 3.0, elapsed
    assert site.paths().count("/slow") == 1  # cut, not retried
    assert files(tmp_path) == []


def test_an_endless_fast_body_is_cut_at_the_size_cap(tmp_path, site):
    url = site.route("/flood", Reply(body=b"x" * 8192, endless=True, send_length=False))
    with Fetcher(POLICY) as fetcher, pytest.raises(FetchError, match="over the 65536-byte cap"):
        fetch_source(fetcher, tmp_path / "raw", "flood", url)
    assert files(tmp_path) == []


# --- the loader ------------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on 127.0.0.1, and its URL."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = partial(SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _hostile_release(folder: Path, *, date: str = "2026-04-25",
                     path: str = "models.parquet") -> None:
    """A release whose index and datapackage.json are internally consistent (every hash
    right) but name a file by `path` and the release by `date`."""
    table = (REPO / "releases" / "2026-04-25" / "models.parquet").read_bytes()
    package = {"resources": [{"name": "models", "path": path,
                              "hash": "sha256:" + sha(table)}]}
    package_bytes = json.dumps(package).encode()
    (folder / "2026-04-25").mkdir(exist_ok=True)
    (folder / "2026-04-25" / "datapackage.json").write_bytes(package_bytes)
    (folder / "2026-04-25" / "models.parquet").write_bytes(table)
    (folder / "x.parquet").write_bytes(table)
    (folder / "index.json").write_text(json.dumps({"releases": [{
        "date": date, "title": "Hostile", "status": "published", "previous": None,
        "datapackage_sha256": sha(package_bytes)}]}))


@pytest.mark.parametrize(("date", "path", "message"), [
    ("2026-04-25", "../x.parquet", "file path '../x.parquet' is not a plain relative path"),
    ("2026-04-25", "../../../../x.parquet", "is not a plain relative path"),
    ("2026-04-25", "/tmp/x.parquet", "is not a plain relative path"),
    ("2026-04-25", "sub\\..\\..\\x.parquet", "is not a plain relative path"),
    ("../../../2026-04-25", "models.parquet", "release date '../../../2026-04-25' is not "
                                              "YYYY-MM-DD"),
])
def test_the_loader_never_writes_outside_its_cache(tmp_path, served, monkeypatch, date, path,
                                                   message):
    folder, url = served
    _hostile_release(folder, date=date, path=path)
    cache = tmp_path / "home" / "cache"
    monkeypatch.setenv(dataset.CACHE_ENV, str(cache))
    before = tree(tmp_path)
    with pytest.raises(dataset.UnsafePathError, match=message):
        dataset.load("models", release=date, base=url)
    after = tree(tmp_path)
    written = {k for k in after if k not in before}
    assert written and all(k.startswith("home/cache/") for k in written), written
    assert not any(k.endswith("x.parquet") for k in written)
    # A local releases folder with the same index is refused as well, before any read.
    with pytest.raises(dataset.UnsafePathError, match=message):
        dataset.load("models", release=date, base=folder)


def test_the_loader_refuses_a_file_whose_sha256_does_not_match(tmp_path, served, monkeypatch):
    folder, url = served
    _hostile_release(folder)
    monkeypatch.setenv(dataset.CACHE_ENV, str(tmp_path / "cache"))
    assert len(dataset.load("models", release="2026-04-25", base=url)) > 0
    table = folder / "2026-04-25" / "models.parquet"
    cached = next((tmp_path / "cache").rglob("models.parquet"))
    cached.unlink()
    table.write_bytes(table.read_bytes()[:-1] + b"!")
    with pytest.raises(dataset.IntegrityError, match="does not match the .* recorded for it; "
                                                     "the download was not kept"):
        dataset.load("models", release="2026-04-25", base=url)
    assert not cached.exists()
    with pytest.raises(dataset.IntegrityError, match="models.parquet: sha256 .* does not match"):
        dataset.load("models", release="2026-04-25", base=folder)


def test_the_loader_refuses_a_symlink_out_of_a_local_release(tmp_path):
    folder = tmp_path / "releases"
    folder.mkdir()
    _hostile_release(folder)
    table = folder / "2026-04-25" / "models.parquet"
    (tmp_path / "outside.parquet").write_bytes(table.read_bytes())
    table.unlink()
    table.symlink_to(tmp_path / "outside.parquet")
    with pytest.raises(dataset.UnsafePathError, match="resolves outside"):
        dataset.load("models", release="2026-04-25", base=folder)
