"""Fetching against a real HTTP server on 127.0.0.1 (http.server in a thread, port 0).

Every scenario ends by listing raw/: it holds exactly the captures it should, and a failed fetch
leaves it (and the rest of the project) unchanged."""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest
import yaml
from click.testing import CliRunner

from pipeline.cli.main import main
from pipeline.curation.curated import load_curated
from pipeline.defs.atlas import AtlasSettings
from pipeline.defs.fetching import build_fetch_assets
from pipeline.extraction.extract import capture_tables, capture_text, mentions_from_tables
from pipeline.extraction.quotes import SourceText
from pipeline.sources.capture import latest_capture, list_captures
from pipeline.sources.fetch import (
    ALLOW_HOSTS_ENV,
    Fetcher,
    FetchError,
    FetchPolicy,
    fetch_source,
    parse_retry_after,
    refresh_source,
)

from .conftest import write_project

ROBOTS = b"User-agent: *\nDisallow: /private/\n"

TABLE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Mini Atlas</title></head>
<body><nav>Home | About</nav><main>
<h1>Mini Atlas: who builds models</h1>
<p>This page was published on April 20, 2026.</p>
<table><thead><tr><th>Model</th><th>Lab</th><th>Country</th></tr></thead><tbody>
<tr><td><a href="https://qwen.ai/">Qwen 3.6</a></td><td>Alibaba</td><td>China</td></tr>
<tr><td>Mistral Large</td><td>Mistral AI</td><td>France</td></tr>
</tbody></table>
<p>Alibaba released Qwen 3.6 under Apache 2.0 as open weights for text.</p>
<p>France committed €109 billion to AI infrastructure.</p>
</main><footer>footer</footer></body></html>
""".encode()


# --- the server ------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None  # answer 304 to a matching If-None-Match
    delay: float = 0.0  # seconds before the status line
    send_length: bool = True  # False: no Content-Length, the body ends when the connection does
    stall: float = 0.0  # seconds of silence after the first half of the body
    trickle: float = 0.0  # seconds between single bytes of the body
    endless: bool = False  # send the body again and again until the client hangs up
    header_trickle: float = 0.0  # seconds between single bytes of a header that never ends


class Site:
    """Routes path -> replies (served in turn, the last one repeated) and a log of requests."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {"/robots.txt": [
            Reply(body=ROBOTS, content_type="text/plain")]}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.base = ""
        self._lock = threading.Lock()

    def route(self, path: str, *replies: Reply) -> str:
        self.routes[path] = list(replies)
        return self.base + path

    def next_reply(self, path: str, headers: dict[str, str]) -> Reply:
        with self._lock:
            self.requests.append((path, headers))
            replies = self.routes.get(path)
            if not replies:
                return Reply(404, b"not found", "text/plain")
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        site: Site = self.server.site  # type: ignore[attr-defined]
        reply = site.next_reply(self.path, dict(self.headers))
        try:
            if reply.header_trickle:
                self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nX-Slow: ")
                while True:
                    self.wfile.write(b"z")
                    self.wfile.flush()
                    time.sleep(reply.header_trickle)
            time.sleep(reply.delay)
            if reply.etag is not None and self.headers.get("If-None-Match") == reply.etag:
                self.send_response(304)
                self.send_header("ETag", reply.etag)
                self.end_headers()
                return
            self.send_response(reply.status)
            if reply.content_type:
                self.send_header("Content-Type", reply.content_type)
            if reply.etag is not None:
                self.send_header("ETag", reply.etag)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            if reply.send_length:
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if reply.trickle or reply.endless:
                self._dribble(reply)
                return
            half = len(reply.body) // 2 if reply.stall else len(reply.body)
            self.wfile.write(reply.body[:half])
            self.wfile.flush()
            time.sleep(reply.stall)
            self.wfile.write(reply.body[half:])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeouts, size cap)

    def _dribble(self, reply: Reply) -> None:
        step = 1 if reply.trickle else len(reply.body)
        while True:
            for start in range(0, len(reply.body), step):
                self.wfile.write(reply.body[start:start + step])
                self.wfile.flush()
                time.sleep(reply.trickle or 0.01)
            if not reply.endless:
                return

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def site() -> Iterator[Site]:
    gc.collect()  # earlier tests' garbage (Dagster instances) is not collected in our threads
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.site = Site()  # type: ignore[attr-defined]
    server.site.base = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    try:
        yield server.site  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


# Timeouts leave room for a garbage-collection pause on a loaded machine; the slow-response test
# uses its own tiny read timeout.
POLICY = FetchPolicy(connect_timeout=2.0, read_timeout=2.0, total_timeout=5.0, retries=2,
                     backoff_base=0.01, backoff_max=0.05, max_retry_after=5.0, max_redirects=3,
                     max_bytes=64 * 1024, hosts=frozenset({"127.0.0.1"}), min_interval=0.0,
                     trust_env=False)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def fetcher(sleeps: list[float]) -> Iterator[Fetcher]:
    with Fetcher(POLICY, sleep=sleeps.append) as instance:  # waits are recorded, not slept
        yield instance


def files(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def snapshot(folder: Path) -> dict[str, str]:
    """Every file of the project, but Dagster's and the lock's state under .dagster/."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.relative_to(folder).parts[0] != ".dagster"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- pages -----------------------------------------------------------------------------------


def test_a_page_with_tables_becomes_a_capture_with_text_tables_and_http_metadata(
        tmp_path, site, fetcher):
    url = site.route("/atlas", Reply(body=TABLE_PAGE, etag='"v1"',
                                     headers={"Last-Modified": "Mon, 20 Apr 2026 10:00:00 GMT"}))
    raw = tmp_path / "raw"
    result = fetch_source(fetcher, raw, "atlas", url)
    digest = sha(TABLE_PAGE)
    assert (result.outcome, result.http_status) == ("new", 200)
    assert result.line() == f"atlas: new capture {digest[:12]} ({len(TABLE_PAGE)} bytes, HTTP 200)"
    assert files(raw) == [f"atlas/{digest}.html", f"atlas/{digest}.json"]
    assert (raw / "atlas" / f"{digest}.html").read_bytes() == TABLE_PAGE
    sidecar = json.loads((raw / "atlas" / f"{digest}.json").read_text())
    assert sidecar["origin"] == url and sidecar["media_type"] == "text/html"
    assert sidecar["charset"] == "utf-8" and sidecar["bytes"] == len(TABLE_PAGE)
    assert sidecar["http"] == {"status": 200, "etag": '"v1"', "final_url": url,
                               "last_modified": "Mon, 20 Apr 2026 10:00:00 GMT"}
    capture = latest_capture(raw, "atlas")
    text = SourceText("atlas", capture_text(capture))
    assert text.find("| Qwen 3.6 | Alibaba | China |") is not None
    assert text.find("Home | About") is None
    [table] = capture_tables(capture)
    assert table.links == {(0, 0): ["https://qwen.ai/"]}
    mentions = mentions_from_tables("atlas", capture.sha256, [table])
    assert list(mentions["text"]) == ["Qwen 3.6", "Alibaba", "China",
                                      "Mistral Large", "Mistral AI", "France"]
    assert mentions["locator"].iloc[0] == f"atlas#table=1&row=1&column=1&line={table.line + 2}"
    # The request was polite: our user agent, robots.txt read first.
    assert site.paths() == ["/robots.txt", "/atlas"]
    assert site.requests[1][1]["User-Agent"].startswith("sovai-atlas/")
    assert "+http" in site.requests[1][1]["User-Agent"]


def test_unchanged_page_304_and_identical_body_make_no_new_capture(tmp_path, site, fetcher):
    raw = tmp_path / "raw"
    url = site.route("/etag", Reply(body=TABLE_PAGE, etag='"v1"'))
    assert fetch_source(fetcher, raw, "etag", url).outcome == "new"
    before = snapshot(tmp_path)
    result = fetch_source(fetcher, raw, "etag", url)
    assert (result.outcome, result.http_status) == ("unchanged", 304)
    assert result.line() == "etag: unchanged (HTTP 304 Not Modified)"
    assert site.requests[-1][1]["If-None-Match"] == '"v1"'
    assert snapshot(tmp_path) == before
    # No validators: the same bytes again are recognised by their sha256.
    plain = site.route("/plain", Reply(body=TABLE_PAGE))
    fetch_source(fetcher, raw, "plain", plain)
    before = snapshot(tmp_path)
    result = fetch_source(fetcher, raw, "plain", plain)
    assert (result.outcome, result.http_status) == ("unchanged", 200)
    assert "same bytes as the last capture" in result.detail
    assert "If-None-Match" not in site.requests[-1][1]
    assert snapshot(tmp_path) == before
    assert files(raw) == sorted(f"{s}/{sha(TABLE_PAGE)}.{e}" for s in ("etag", "plain")
                                for e in ("html", "json"))


def test_a_changed_page_is_a_new_capture_beside_the_old_one(tmp_path, site, fetcher):
    raw = tmp_path / "raw"
    old, new = TABLE_PAGE, TABLE_PAGE.replace(b"Mistral Large", b"Mistral Medium")
    url = site.route("/changing", Reply(body=old, etag='"v1"'), Reply(body=new, etag='"v2"'))
    first = fetch_source(fetcher, raw, "changing", url)
    second = fetch_source(fetcher, raw, "changing", url)
    assert (first.outcome, second.outcome) == ("new", "new")
    assert site.requests[-1][1]["If-None-Match"] == '"v1"'
    assert files(raw) == sorted(f"changing/{sha(b)}.{e}" for b in (old, new)
                                for e in ("html", "json"))
    assert (raw / "changing" / f"{sha(old)}.html").read_bytes() == old  # kept as it was
    assert [c.sha256 for c in list_captures(raw, "changing")] == [sha(old), sha(new)]
    assert latest_capture(raw, "changing").sha256 == sha(new)
    # Within the same second, the newer capture still sorts last (captured_at is in seconds).
    assert second.capture.captured_at > first.capture.captured_at


def test_404_fails_and_leaves_the_last_good_capture(tmp_path, site, fetcher):
    raw = tmp_path / "raw"
    url = site.route("/gone", Reply(body=TABLE_PAGE), Reply(404, b"gone", "text/plain"))
    fetch_source(fetcher, raw, "gone", url)
    before = snapshot(tmp_path)
    with pytest.raises(FetchError) as err:
        fetch_source(fetcher, raw, "gone", url)
    assert str(err.value) == f"source 'gone': {url}: HTTP 404 Not Found"
    result = refresh_source(fetcher, raw, "gone", url)
    assert result.failed and result.line() == "gone: failed: HTTP 404 Not Found"
    assert result.capture.sha256 == sha(TABLE_PAGE)  # the last good capture stays the latest
    assert snapshot(tmp_path) == before
    never = site.route("/never", Reply(404, b"no", "text/plain"))
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch_source(fetcher, raw, "never", never)
    assert files(raw) == [f"gone/{sha(TABLE_PAGE)}.html", f"gone/{sha(TABLE_PAGE)}.json"]


def test_server_errors_are_retried_with_backoff_then_succeed(tmp_path, site, fetcher, sleeps):
    raw = tmp_path / "raw"
    url = site.route("/flaky", Reply(500, b"oops", "text/plain"),
                     Reply(503, b"busy", "text/plain", headers={"Retry-After": "2"}),
                     Reply(body=TABLE_PAGE))
    result = fetch_source(fetcher, raw, "flaky", url)
    assert result.outcome == "new"
    assert site.paths().count("/flaky") == 3
    assert len(sleeps) == 2
    assert 0.005 <= sleeps[0] <= 0.01  # backoff base 0.01 s with jitter
    assert sleeps[1] == 2.0  # Retry-After honoured
    assert files(raw) == [f"flaky/{sha(TABLE_PAGE)}.html", f"flaky/{sha(TABLE_PAGE)}.json"]


def test_retries_give_up_and_a_long_retry_after_is_refused(tmp_path, site, fetcher, sleeps):
    raw = tmp_path / "raw"
    url = site.route("/down", Reply(502, b"bad gateway", "text/plain"))
    with pytest.raises(FetchError, match=r"HTTP 502 Bad Gateway \(gave up after 3 attempts\)"):
        fetch_source(fetcher, raw, "down", url)
    assert site.paths().count("/down") == 3 and len(sleeps) == 2
    assert sleeps[1] >= sleeps[0] * 0.5  # exponential: 0.01 then 0.02 ceilings
    busy = site.route("/busy", Reply(429, b"slow down", "text/plain",
                                     headers={"Retry-After": "3600"}))
    with pytest.raises(FetchError, match="retry after 3600 s, more than the 5 s cap"):
        fetch_source(fetcher, raw, "busy", busy)
    assert site.paths().count("/busy") == 1
    assert files(raw) == []


def test_connection_refused_is_retried_then_reported(tmp_path, sleeps):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with Fetcher(POLICY, sleep=sleeps.append) as fetcher, \
            pytest.raises(FetchError, match="connection failed: .*gave up after 3 attempts"):
        fetch_source(fetcher, tmp_path / "raw", "closed", f"http://127.0.0.1:{port}/x")
    assert len(sleeps) == 2 and files(tmp_path) == []


def test_a_slow_response_times_out_without_a_capture(tmp_path, site, sleeps):
    url = site.route("/slow", Reply(body=TABLE_PAGE, delay=2.0))
    impatient = dataclasses.replace(POLICY, read_timeout=0.3)
    started = time.monotonic()
    with Fetcher(impatient, sleep=sleeps.append) as fetcher, \
            pytest.raises(FetchError, match="no response within the 0.3 s read timeout"):
        fetch_source(fetcher, tmp_path / "raw", "slow", url)
    assert time.monotonic() - started < 1.5
    assert site.paths().count("/slow") == 1  # a timeout is not retried
    stalled = site.route("/stalled", Reply(body=TABLE_PAGE, stall=2.0))
    with Fetcher(impatient, sleep=sleeps.append) as fetcher, \
            pytest.raises(FetchError, match="the body stalled past the 0.3 s read timeout"):
        fetch_source(fetcher, tmp_path / "raw", "stalled", stalled)
    assert site.paths().count("/stalled") == 1
    assert files(tmp_path) == []


def test_redirects_are_followed_checked_and_capped(tmp_path, site, fetcher):
    raw = tmp_path / "raw"
    site.route("/new-home", Reply(body=TABLE_PAGE))
    moved = site.route("/old-home", Reply(301, b"", headers={"Location": "/new-home"}))
    result = fetch_source(fetcher, raw, "moved", moved)
    assert result.capture.origin == moved
    assert result.capture.http["final_url"] == site.base + "/new-home"
    loop = site.route("/loop-a", Reply(302, b"", headers={"Location": "/loop-b"}))
    site.route("/loop-b", Reply(302, b"", headers={"Location": "/loop-a"}))
    with pytest.raises(FetchError, match=r"redirect loop: .*/loop-a -> .*/loop-b -> .*/loop-a"):
        fetch_source(fetcher, raw, "loop", loop)
    for n in range(1, 6):
        site.route(f"/hop{n}", Reply(307, b"", headers={"Location": f"/hop{n + 1}"}))
    with pytest.raises(FetchError, match="more than 3 redirects"):
        fetch_source(fetcher, raw, "hops", site.base + "/hop1")
    assert "/hop5" not in site.paths()
    # A redirect to a host or place the policy forbids is refused like the first URL.
    away = site.route("/away", Reply(302, b"", headers={"Location": "http://localhost/x"}))
    with pytest.raises(FetchError, match="redirect to another host 'localhost' refused"):
        fetch_source(fetcher, raw, "away", away)
    private = site.route("/to-private", Reply(302, b"", headers={"Location": "/private/p"}))
    with pytest.raises(FetchError, match="disallowed by the host's robots.txt"):
        fetch_source(fetcher, raw, "private", private)
    assert files(raw) == [f"moved/{sha(TABLE_PAGE)}.html", f"moved/{sha(TABLE_PAGE)}.json"]


def test_a_body_over_the_size_cap_is_refused_not_truncated(tmp_path, site, fetcher):
    big = b"<p>" + b"x" * (POLICY.max_bytes + 10) + b"</p>"
    declared = site.route("/big", Reply(body=big))
    streamed = site.route("/big-stream", Reply(body=big, send_length=False))
    with pytest.raises(FetchError, match=r"body is \d+ bytes, over the 65536-byte cap; refused"):
        fetch_source(fetcher, tmp_path / "raw", "big", declared)
    with pytest.raises(FetchError, match="body is over the 65536-byte cap; refused"):
        fetch_source(fetcher, tmp_path / "raw", "big", streamed)
    exact = site.route("/exact", Reply(body=b"x" * POLICY.max_bytes, send_length=False))
    assert fetch_source(fetcher, tmp_path / "raw", "exact", exact).capture.bytes == 65536
    assert files(tmp_path / "raw" / "big") == []


def test_a_wrong_content_type_is_refused(tmp_path, site, fetcher):
    pdf = site.route("/report.pdf", Reply(body=b"%PDF-1.7", content_type="application/pdf"))
    with pytest.raises(FetchError, match="content type 'application/pdf' is not accepted"):
        fetch_source(fetcher, tmp_path / "raw", "pdf", pdf)
    untyped = site.route("/untyped", Reply(body=b"<p>x</p>", content_type=None))
    with pytest.raises(FetchError, match="'application/octet-stream' is not accepted"):
        fetch_source(fetcher, tmp_path / "raw", "untyped", untyped)
    latin_text = site.route("/notes.txt", Reply(body="café".encode("cp1252"),
                                                content_type="text/plain"))
    with pytest.raises(FetchError, match="text/plain body is not valid utf-8 at byte 3"):
        fetch_source(fetcher, tmp_path / "raw", "notes", latin_text)
    assert files(tmp_path) == []


WINDOWS_PAGE = ("<html><head>{meta}<title>Café</title></head><body><main>"
                "<p>Le café “Atlas” a coûté 5 €.</p>"
                "<table><tr><th>Modèle</th><th>Pays</th></tr>"
                "<tr><td>Mistral Large</td><td>France métropolitaine</td></tr></table>"
                "</main></body></html>")


@pytest.mark.parametrize(("meta", "content_type", "charset"), [
    ('<meta charset="windows-1252">', "text/html", None),
    ("", "text/html; charset=windows-1252", "windows-1252"),
])
def test_windows_1252_pages_declared_in_meta_or_header(tmp_path, site, fetcher, meta,
                                                       content_type, charset):
    body = WINDOWS_PAGE.format(meta=meta).encode("cp1252")
    url = site.route("/cp1252", Reply(body=body, content_type=content_type))
    capture = fetch_source(fetcher, tmp_path / "raw", "cp1252", url).capture
    assert capture.charset == charset  # only the header charset is stored
    assert capture.read_bytes() == body  # bytes exactly as received
    assert SourceText("cp1252", capture_text(capture)).find("Le café “Atlas” a coûté 5 €.") == 1
    [table] = capture_tables(capture)
    assert table.header == ["Modèle", "Pays"]
    assert table.rows == [["Mistral Large", "France métropolitaine"]]
    assert files(tmp_path / "raw") == [f"cp1252/{sha(body)}.html", f"cp1252/{sha(body)}.json"]


def test_broken_markup_is_captured_and_parsed(tmp_path, site, fetcher):
    body = (b"<html><body><p>Opening paragraph<div>Alibaba released Qwen 3.6<p>unclosed"
            b"<table><tr><th>Model<th>Lab<tr><td>Qwen 3.6<td>Alibaba</table></span></i>"
            b"<p>The end &amp; more")
    url = site.route("/broken", Reply(body=body))
    capture = fetch_source(fetcher, tmp_path / "raw", "broken", url).capture
    text = SourceText("broken", capture_text(capture))
    assert text.find("Alibaba released Qwen 3.6") is not None
    assert text.find("| Qwen 3.6 | Alibaba |") is not None
    assert text.find("The end & more") is not None
    assert capture_tables(capture)[0].rows == [["Qwen 3.6", "Alibaba"]]
    assert files(tmp_path / "raw") == [f"broken/{sha(body)}.html", f"broken/{sha(body)}.json"]


def test_robots_txt_is_honoured_and_read_once_per_host(tmp_path, site, fetcher):
    private = site.route("/private/report", Reply(body=TABLE_PAGE))
    public = site.route("/public", Reply(body=TABLE_PAGE))
    with pytest.raises(FetchError) as err:
        fetch_source(fetcher, tmp_path / "raw", "private", private)
    assert str(err.value) == (f"source 'private': {private}: disallowed by the host's "
                              f"robots.txt for 'sovai-atlas'")
    assert fetch_source(fetcher, tmp_path / "raw", "public", public).outcome == "new"
    assert site.paths() == ["/robots.txt", "/public"]  # the private page was never requested
    assert files(tmp_path / "raw") == [f"public/{sha(TABLE_PAGE)}.html",
                                       f"public/{sha(TABLE_PAGE)}.json"]


def test_robots_txt_answers(tmp_path, site, sleeps):
    url = site.route("/page", Reply(body=TABLE_PAGE))
    site.route("/robots.txt", Reply(404, b"", "text/plain"))
    with Fetcher(POLICY, sleep=sleeps.append) as fetcher:  # no robots.txt: everything allowed
        assert fetch_source(fetcher, tmp_path / "raw", "page", url).outcome == "new"
    site.route("/robots.txt", Reply(403, b"", "text/plain"))
    with Fetcher(POLICY, sleep=sleeps.append) as fetcher, \
            pytest.raises(FetchError, match="disallowed by the host's robots.txt"):
        fetch_source(fetcher, tmp_path / "raw", "page", url)
    site.route("/robots.txt", Reply(500, b"", "text/plain"))
    with Fetcher(POLICY, sleep=sleeps.append) as fetcher:
        for _ in range(2):  # the failure is remembered for the host: robots.txt is asked once
            with pytest.raises(FetchError, match="robots.txt of .* could not be read.*HTTP 500"):
                fetch_source(fetcher, tmp_path / "raw", "page", url)
    assert site.paths().count("/robots.txt") == 2 + 3  # 404, 403, then 500 with two retries
    site.route("/robots.txt", Reply(body=b"User-agent: sovai-atlas\nDisallow: /\n\n"
                                         b"User-agent: *\nAllow: /\n", content_type="text/plain"))
    with Fetcher(POLICY, sleep=sleeps.append) as fetcher, \
            pytest.raises(FetchError, match="disallowed"):
        fetch_source(fetcher, tmp_path / "raw", "page", url)
    assert files(tmp_path / "raw") == [f"page/{sha(TABLE_PAGE)}.html",
                                       f"page/{sha(TABLE_PAGE)}.json"]


def test_urls_on_hosts_or_schemes_not_allowed_are_refused_before_any_request(
        tmp_path, site, fetcher):
    port = site.base.rsplit(":", 1)[1]
    for url, reason in [
        (f"http://localhost:{port}/page", "host 'localhost' is not allowed (allowed: "
                                          "['127.0.0.1'])"),
        ("ftp://127.0.0.1/file.html", "scheme 'ftp' is not allowed (allowed: "
                                      "['http', 'https'])"),
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("http:///nohost", "the URL has no host"),
        (f"http://user:secret@127.0.0.1:{port}/", "the URL carries credentials"),
    ]:
        with pytest.raises(FetchError) as err:
            fetch_source(fetcher, tmp_path / "raw", "elsewhere", url)
        assert str(err.value).startswith(f"source 'elsewhere': {url}: {reason}")
    assert site.requests == [] and files(tmp_path) == []


def test_polite_interval_between_requests_to_one_host(tmp_path, site):
    clock = [100.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:  # a clock that only moves when the fetcher waits
        sleeps.append(seconds)
        clock[0] += seconds

    url = site.route("/page", Reply(body=TABLE_PAGE))
    polite = dataclasses.replace(POLICY, min_interval=0.5)
    with Fetcher(polite, sleep=sleep, clock=lambda: clock[0]) as fetcher:
        fetch_source(fetcher, tmp_path / "raw", "page", url)  # robots.txt, then the page
    assert sleeps == [0.5]
    site.route("/robots.txt", Reply(body=b"User-agent: *\nCrawl-delay: 2\n",
                                    content_type="text/plain"))
    sleeps.clear()
    with Fetcher(polite, sleep=sleep, clock=lambda: clock[0]) as fetcher:
        fetch_source(fetcher, tmp_path / "raw", "page", url)
        fetch_source(fetcher, tmp_path / "raw", "page", url)
    assert sleeps == [2.0, 2.0]  # robots.txt's Crawl-delay, once known


def test_parse_retry_after():
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


# --- the command line ------------------------------------------------------------------------


def test_cli_add_source_then_fetch(tmp_path, site):
    root = write_project(tmp_path / "project")
    sources_file = root / "curated" / "sources.yaml"
    sources_file.write_text("# Sources: one entry per page.\n" + sources_file.read_text())
    original = sources_file.read_text()
    runner = CliRunner()
    obj = {"fetch_policy": POLICY}
    atlas = site.route("/atlas", Reply(body=TABLE_PAGE, etag='"v1"'))
    result = runner.invoke(main, [
        "--root", str(root), "add-source", atlas, "--id", "html-atlas",
        "--title", "Mini Atlas: who builds models", "--published-on", "2026-04-20",
        "--date-evidence", "This page was published on April 20, 2026.",
        "--publisher", "Mini “Atlas” Press"], obj=obj)
    assert result.exit_code == 0, result.output
    digest = sha(TABLE_PAGE)
    assert result.stdout.splitlines()[:2] == [
        f"html-atlas: registered in {sources_file}",
        f"html-atlas: new capture {digest[:12]} ({len(TABLE_PAGE)} bytes, HTTP 200)"]
    text = sources_file.read_text()
    assert text.startswith(original)  # the existing text and comments are kept as they were
    assert text[len(original):] == (
        "\n- source_id: html-atlas\n"
        '  title: "Mini Atlas: who builds models"\n'
        "  title_from_page: true\n"
        '  publisher: "Mini “Atlas” Press"\n'
        f'  url: "{atlas}"\n'
        "  capture_file: null\n"
        "  published_on: 2026-04-20\n"
        "  date_precision: day\n"
        "  date_bound: within\n"
        '  date_evidence: "This page was published on April 20, 2026."\n')
    [record] = [r for r in load_curated(root / "curated").sources
                if r["source_id"] == "html-atlas"]
    assert record["url"] == atlas and record["publisher"] == "Mini “Atlas” Press"
    assert files(root / "raw" / "html-atlas") == [f"{digest}.html", f"{digest}.json"]
    # The project still checks: the HTML source's date evidence verifies against its capture.
    check = runner.invoke(main, ["--root", str(root), "check"])
    assert check.exit_code == 0, check.output

    # A duplicate id is refused and changes nothing.
    before = snapshot(root)
    duplicate = runner.invoke(main, [
        "--root", str(root), "add-source", atlas, "--id", "html-atlas", "--title", "Again",
        "--published-on", "2026-04-21"], obj=obj)
    assert duplicate.exit_code == 1
    assert "source id 'html-atlas' is already registered (curated/sources.yaml:" \
        in duplicate.output
    assert "nothing was registered" in duplicate.output
    # So is a page that cannot be fetched, and a malformed id.
    missing = runner.invoke(main, [
        "--root", str(root), "add-source", site.base + "/missing", "--id", "missing",
        "--title", "Missing", "--published-on", "2026-04-21"], obj=obj)
    assert missing.exit_code == 1 and "HTTP 404 Not Found; nothing was registered" \
        in missing.output
    bad_id = runner.invoke(main, ["--root", str(root), "add-source", atlas, "--id", "Bad_Id",
                                  "--title", "T", "--published-on", "2026-04-21"], obj=obj)
    assert bad_id.exit_code == 1 and "must be a lowercase slug" in bad_id.output
    assert snapshot(root) == before

    # A second source, registered without date evidence (warned), later starts failing.
    flaky = site.route("/flaky", Reply(body=b"<p>Flaky page</p>"),
                       Reply(404, b"gone", "text/plain"))
    second = runner.invoke(main, [
        "--root", str(root), "add-source", flaky, "--id", "flaky-page", "--title",
        "A flaky page", "--published-on", "2026-05-01", "--date-precision", "month"], obj=obj)
    assert second.exit_code == 0, second.output
    assert "warning: flaky-page: no date evidence given" in second.stderr
    assert "title_from_page: false\n" in sources_file.read_text().split("flaky-page")[1]
    flaky_files = files(root / "raw" / "flaky-page")

    fetched = runner.invoke(main, ["--root", str(root), "fetch"], obj=obj)
    assert fetched.exit_code == 1
    assert fetched.stdout.splitlines() == [
        "html-atlas: unchanged (HTTP 304 Not Modified)",
        "flaky-page: failed: HTTP 404 Not Found",
        "2 sources: 0 new, 1 unchanged, 1 failed",
    ]
    assert files(root / "raw" / "flaky-page") == flaky_files  # the last good capture stays

    # The page changes: fetching it alone makes a new capture; the failing one is not tried.
    changed = TABLE_PAGE.replace(b"Mistral Large", b"Mistral Medium")
    site.route("/atlas", Reply(body=changed, etag='"v2"'))
    requests_before = len(site.requests)
    again = runner.invoke(main, ["--root", str(root), "fetch", "html-atlas"], obj=obj)
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines() == [
        f"html-atlas: new capture {sha(changed)[:12]} ({len(changed)} bytes, HTTP 200)",
        "1 sources: 1 new, 0 unchanged, 0 failed"]
    assert "/flaky" not in site.paths()[requests_before:]
    assert files(root / "raw" / "html-atlas") == sorted(
        f"{sha(b)}.{e}" for b in (TABLE_PAGE, changed) for e in ("html", "json"))

    unknown = runner.invoke(main, ["--root", str(root), "fetch", "no-such-source"], obj=obj)
    assert unknown.exit_code == 2 and "no source 'no-such-source'" in unknown.output
    file_source = runner.invoke(main, ["--root", str(root), "fetch", "mini-page"], obj=obj)
    assert file_source.exit_code == 2 and "has no url" in file_source.output


def test_cli_fetch_with_no_url_sources_and_allow_host(tmp_path, site):
    root = write_project(tmp_path / "project")
    result = CliRunner().invoke(main, ["--root", str(root), "fetch"])
    assert result.exit_code == 0 and "nothing to fetch" in result.output
    url = site.route("/atlas", Reply(body=TABLE_PAGE))
    refused = CliRunner().invoke(main, [
        "--root", str(root), "add-source", url, "--id", "atlas", "--title", "T",
        "--published-on", "2026-04-20", "--allow-host", "example.org"],
        obj={"fetch_policy": POLICY})
    assert refused.exit_code == 1
    assert "host '127.0.0.1' is not allowed (allowed: ['example.org'])" in refused.output
    assert not (root / "raw").exists() and site.requests == []


# --- Dagster ---------------------------------------------------------------------------------


def test_fetch_asset_materializes_with_status_bytes_and_sha256(tmp_path, site, monkeypatch):
    monkeypatch.setenv(ALLOW_HOSTS_ENV, "127.0.0.1")  # loopback is refused unless named
    root = write_project(tmp_path / "project")
    assert build_fetch_assets(root) == []  # no source with a URL
    url = site.route("/atlas", Reply(body=TABLE_PAGE))
    sources = yaml.safe_load((root / "curated" / "sources.yaml").read_text())
    sources.append({"source_id": "html-atlas", "title": "Mini Atlas", "url": url,
                    "published_on": "2026-04-20", "date_precision": "day",
                    "date_evidence": "This page was published on April 20, 2026."})
    (root / "curated" / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True))
    [asset] = build_fetch_assets(root)
    spec = next(iter(asset.specs))
    assert asset.key == dg.AssetKey("fetch_html_atlas") and spec.group_name == "capture"
    assert spec.freshness_policy is not None
    result = dg.materialize([asset], resources={"settings": AtlasSettings(root=str(root))})
    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = {k: getattr(v, "value", v)
                for k, v in event.step_materialization_data.materialization.metadata.items()}
    assert metadata["http_status"] == 200 and metadata["outcome"] == "new"
    assert metadata["bytes"] == len(TABLE_PAGE) and metadata["sha256"] == sha(TABLE_PAGE)
    assert files(root / "raw" / "html-atlas") == [f"{sha(TABLE_PAGE)}.html",
                                                  f"{sha(TABLE_PAGE)}.json"]
    # A failing fetch fails the materialization and keeps the capture.
    site.route("/atlas", Reply(500, b"", "text/plain", headers={"Retry-After": "9999"}))
    failed = dg.materialize([asset], resources={"settings": AtlasSettings(root=str(root))},
                            raise_on_error=False)
    assert not failed.success
    assert files(root / "raw" / "html-atlas") == [f"{sha(TABLE_PAGE)}.html",
                                                  f"{sha(TABLE_PAGE)}.json"]
