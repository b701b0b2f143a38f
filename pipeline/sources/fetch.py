"""fetch: sources with a URL are fetched over HTTP into raw/, politely and defensively.

A fetch is four steps, each one piece of this module: the policy checks (UrlPolicy, RobotsRules,
HostPacer), the request with its redirects, retries and caps (Fetcher.get over Exchange),
writing the capture (fetch_source), and registering a new source (add_source). One `Fetcher`
holds one requests session and the knobs of a `FetchPolicy`:

- a descriptive User-Agent with a contact URL; connect, read and whole-body timeouts;
- retries with exponential backoff and jitter on connection errors, 429 and 5xx, honouring
  Retry-After (up to a cap: a server asking for a longer wait fails the fetch instead);
- only http and https, no credentials in the URL, only the allowed hosts (`hosts`, all by
  default), and never a loopback, private, link-local or otherwise non-public address unless
  the host is allowed by name (`hosts`, `--allow-host`, $SOVAI_FETCH_ALLOW_HOSTS): checked on
  the URL's name before any request, and again on the address each direct connection really
  reached (so a name cannot resolve to a public address for the check and a private one after);
- redirects followed by hand, at most `max_redirects`, each hop checked like the first URL
  (scheme, host, address, robots.txt); a redirect to another scheme (but http to https) or to a
  host not allowed by name or pattern is refused; a loop is reported as one;
- a whole-response deadline (`total_timeout`): the body is read one socket read at a time,
  each within the read timeout and none past the deadline, and a watchdog cuts the connection
  at the deadline wherever a read is blocked (trickled headers too), so a response that
  trickles or never ends is refused;
- the body refused (not truncated) past `max_bytes`, counted after gzip or deflate
  decompression (a compression bomb is never inflated past the cap); only the media types raw/
  can hold are accepted;
- robots.txt honoured per host (urllib.robotparser, read through the same session and cached);
  401/403 on robots.txt disallows the host, another 4xx allows it, 5xx or no answer refuses;
- at least `min_interval` seconds between requests to one host (or robots.txt's Crawl-delay).

`fetch_source` sends the ETag and Last-Modified of the last capture of that URL; a 304, or a body
whose sha256 equals the last capture's, makes no new capture. A changed page is stored beside the
old capture (capture.capture_bytes), never over it; a failed fetch writes nothing.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import ipaddress
import os
import random
import re
import socket
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

import requests
import requests.adapters
import yaml
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import NewConnectionError, ReadTimeoutError

from pipeline.curation.curated import DATE_BOUNDS, DATE_PRECISIONS, Record, load_table_records
from pipeline.paths import ProjectPaths
from pipeline.sources.capture import (
    EXTENSIONS,
    Capture,
    capture_bytes,
    latest_capture,
    sha256_hex,
    source_id_problem,
    split_content_type,
    utc_now,
)

try:
    _VERSION = version("sovai")
except PackageNotFoundError:  # running from a checkout that is not installed
    _VERSION = "0"

CONTACT_URL = os.environ.get("SOVAI_CONTACT_URL", "https://github.com/sovereign-ai-atlas/atlas")
ROBOTS_TOKEN = "sovai-atlas"  # the name robots.txt rules can address
DEFAULT_USER_AGENT = (f"{ROBOTS_TOKEN}/{_VERSION} (Sovereign AI Atlas source fetcher; "
                      f"+{CONTACT_URL})")
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309: parse at least the first 500 KiB
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK = 64 * 1024  # bytes asked of the socket per read


@dataclass(frozen=True)
class FetchPolicy:
    """Every knob of the fetcher. Tests use tiny timeouts and backoff."""

    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = 10.0  # seconds to open the connection
    read_timeout: float = 30.0  # seconds between bytes
    total_timeout: float = 120.0  # seconds for a whole response (headers and body)
    retries: int = 3  # attempts after the first, on connection errors, 429 and 5xx
    backoff_base: float = 1.0  # the n-th retry waits about backoff_base * 2**n (with jitter)
    backoff_max: float = 60.0
    max_retry_after: float = 300.0  # a longer Retry-After fails the fetch instead of waiting
    max_redirects: int = 5
    max_bytes: int = 20 * 1024 * 1024  # a longer body is refused
    media_types: frozenset[str] = frozenset(EXTENSIONS)  # what raw/ can hold
    schemes: frozenset[str] = frozenset({"http", "https"})
    hosts: frozenset[str] | None = None  # allowed hosts ('.example.org' also allows subdomains)
    # Private, loopback, link-local and other non-public addresses are refused unless the host
    # is named exactly in `hosts` (not by a '.example.org' pattern) or this is True.
    allow_private: bool = False
    robots: bool = True  # honour robots.txt
    min_interval: float = 1.0  # seconds between two requests to one host
    max_crawl_delay: float = 30.0  # a robots.txt Crawl-delay is honoured up to this
    trust_env: bool = True  # proxies and CA bundle from the environment (requests' default)


ALLOW_HOSTS_ENV = "SOVAI_FETCH_ALLOW_HOSTS"  # comma-separated hosts, as --allow-host


def default_policy(allow_hosts: Iterable[str] = ()) -> FetchPolicy:
    """FetchPolicy(), limited to `allow_hosts` (else to $SOVAI_FETCH_ALLOW_HOSTS when set)."""
    hosts = [h.strip().lower() for h in allow_hosts or os.environ.get(ALLOW_HOSTS_ENV, "")
             .split(",") if h.strip()]
    return FetchPolicy(hosts=frozenset(hosts)) if hosts else FetchPolicy()


class FetchError(Exception):
    """A source could not be fetched. The message names the source id and the URL."""

    def __init__(self, source_id: str, url: str, reason: str) -> None:
        self.source_id, self.url, self.reason = source_id, url, reason
        super().__init__(f"source {source_id!r}: {url}: {reason}")


class SourceRegistryError(ValueError):
    """curated/sources.yaml cannot take the source (duplicate or malformed id, no such source)."""


class SourceRecordError(SourceRegistryError):
    """A record of curated/sources.yaml is unusable as it stands (its file and line named)."""


@dataclass(frozen=True)
class HttpResponse:
    url: str  # the URL that answered (after redirects)
    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes = b""


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


class NonPublicPeer(NewConnectionError):
    """A connection reached a non-public address the policy does not allow (say a name that
    resolved to a public address when the URL was checked and to 127.0.0.1 when connecting)."""

    def __init__(self, conn: object, message: str) -> None:
        super().__init__(conn, message)
        self.text = message

    def __str__(self) -> str:
        return self.text


class _InFlight:
    """The socket a Fetcher's current request reads from (a Fetcher serves one thread), so that
    the whole-request watchdog can cut it wherever the read is blocked (headers included)."""

    def __init__(self) -> None:
        self.sock: socket.socket | None = None

    def abort(self) -> None:
        sock = self.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # a blocked recv returns at once
            except OSError:
                pass  # already closed


def _checked_connection(base: type, allowed: Callable[[str], bool],
                        in_flight: _InFlight) -> type:
    """`base` (urllib3's HTTP or HTTPS connection) that checks the address it really connected
    to, so a name cannot be checked as public and then connect to a private address, and
    tells `in_flight` which socket the response is read from."""

    class Checked(base):  # type: ignore[misc, valid-type]
        def getresponse(self, *args: object, **kwargs: object) -> object:
            in_flight.sock = self.sock
            return super().getresponse(*args, **kwargs)

        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            peer = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
            if not _public(peer) and not allowed(str(self.host).lower()):
                sock.close()
                raise NonPublicPeer(self, f"{self.host} connected to the non-public address "
                                          f"{peer}; refused unless allowed by name "
                                          f"(--allow-host {self.host})")
            return sock

    return Checked


class _PeerCheckingAdapter(requests.adapters.HTTPAdapter):
    """Direct connections check their peer address (through a proxy, the peer is the proxy)."""

    def __init__(self, allowed: Callable[[str], bool]) -> None:
        self._allowed = allowed  # set first: HTTPAdapter.__init__ calls init_poolmanager
        self.in_flight = _InFlight()
        super().__init__()

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        super().init_poolmanager(*args, **kwargs)
        checked = {scheme: _checked_connection(base, self._allowed, self.in_flight)
                   for scheme, base in (("http", HTTPConnection), ("https", HTTPSConnection))}
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("CheckedHTTPPool", (HTTPConnectionPool,),
                         {"ConnectionCls": checked["http"]}),
            "https": type("CheckedHTTPSPool", (HTTPSConnectionPool,),
                          {"ConnectionCls": checked["https"]}),
        }


def make_session(policy: FetchPolicy) -> requests.Session:
    session = requests.Session()
    adapter = _PeerCheckingAdapter(lambda host: policy.allow_private
                                   or _named_exactly(host, policy.hosts))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.trust_env = policy.trust_env
    session.max_redirects = policy.max_redirects
    session.headers.update({
        "User-Agent": policy.user_agent,
        "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,text/markdown;q=0.9",
        "Accept-Encoding": "gzip, deflate",  # what _Inflater decodes, under the size cap
    })
    return session


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _host_allowed(host: str, allowed: Iterable[str]) -> bool:
    for entry in allowed:
        entry = entry.lower()
        if host == entry.lstrip(".") or (entry.startswith(".") and host.endswith(entry)):
            return True
    return False


def _named_exactly(host: str, allowed: Iterable[str] | None) -> bool:
    """Whether `host` is one of the allowed hosts by name (a '.example.org' pattern does not
    name its hosts exactly)."""
    return host in {entry.lower() for entry in allowed or () if not entry.startswith(".")}


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    address = mapped or address
    return address.is_global and not address.is_multicast


def non_public_address(host: str, port: int | None) -> str | None:
    """The first address `host` names or resolves to that is not a public unicast one
    (loopback, private, link-local, CGNAT, reserved, multicast, unspecified), else None. A name
    that does not resolve is left to the connection to report."""
    try:
        addresses = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port or 80, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return None
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    return next((str(a) for a in addresses if not _public(a)), None)


# --- step 1: the policy checks ---------------------------------------------------------------


class UrlPolicy:
    """Which URLs and redirects a FetchPolicy allows: scheme, credentials, host and address.
    Makes no request (only a DNS lookup, to refuse a name of a non-public address)."""

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy

    def check_url(self, source_id: str, url: str, *, check_host: bool = True) -> None:
        """Refuse a URL whose scheme or host the policy does not allow."""
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as err:
            raise FetchError(source_id, url, f"not a valid URL: {err}") from None
        if parts.scheme.lower() not in self.policy.schemes:
            raise FetchError(source_id, url, f"scheme {parts.scheme or '(none)'!r} is not "
                                             f"allowed (allowed: {sorted(self.policy.schemes)})")
        if not host:
            raise FetchError(source_id, url, "the URL has no host")
        if parts.username or parts.password:
            raise FetchError(source_id, url, "the URL carries credentials")
        if check_host:
            self._check_host(source_id, url, host, parts.port)

    def _check_host(self, source_id: str, url: str, host: str, port: int | None) -> None:
        if self.policy.hosts is not None and not _host_allowed(host, self.policy.hosts):
            raise FetchError(source_id, url, f"host {host!r} is not allowed "
                                             f"(allowed: {sorted(self.policy.hosts)})")
        if not (self.policy.allow_private or _named_exactly(host, self.policy.hosts)):
            address = non_public_address(host, port)
            if address is not None:
                raise FetchError(source_id, url, f"host {host!r} is the non-public address "
                                 f"{address} (loopback, private or reserved); refused unless "
                                 f"allowed by name (--allow-host {host})")

    def check_redirect(self, source_id: str, url: str, current: str, target: str) -> None:
        """Refuse a redirect to another scheme (but http to https) or to another host (unless
        the policy allows that host by name or pattern)."""
        here, there = urlsplit(current), urlsplit(target)
        schemes = (here.scheme.lower(), there.scheme.lower())
        if schemes[0] != schemes[1] and schemes != ("http", "https"):
            raise FetchError(source_id, url, f"redirect from {schemes[0]}: to {schemes[1]}: "
                                             f"refused ({current} -> {target})")
        host = (there.hostname or "").lower()
        if host != (here.hostname or "").lower() and (
                self.policy.hosts is None or not _host_allowed(host, self.policy.hosts)):
            raise FetchError(source_id, url, f"redirect to another host {host!r} refused "
                                             f"({current} -> {target}; --allow-host {host} "
                                             f"allows it)")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


class RobotsRules:
    """robots.txt per origin, read once through `read` (a GET that skips the robots check) and
    kept; a failure to read it is kept too, so a run asks a failing host once."""

    def __init__(self, user_agent: str, read: Callable[[str, str], HttpResponse]) -> None:
        self.user_agent = user_agent
        self._read = read
        self._rules: dict[str, RobotFileParser] = {}
        self._failures: dict[str, str] = {}  # origin -> why robots.txt could not be read

    def rules_for(self, source_id: str, url: str) -> RobotFileParser:
        """The robots.txt rules of the URL's host. 401/403 disallow the host, another 4xx
        allows it, 5xx or no answer refuses the fetch."""
        origin = _origin(url)
        if origin in self._rules:
            return self._rules[origin]
        if origin in self._failures:  # tried once in this run already
            raise FetchError(source_id, url, self._failures[origin])
        parser = RobotFileParser(origin + "/robots.txt")
        try:
            response = self._read(source_id, origin + "/robots.txt")
        except FetchError as err:
            raise self._failed(source_id, url, origin, f"robots.txt of {origin} could not be "
                               f"read, so the page is not fetched: {err.reason}") from None
        if response.status in (401, 403):
            parser.disallow_all = True
        elif 400 <= response.status < 500:
            parser.allow_all = True
        elif 200 <= response.status < 300:
            parser.parse(response.body.decode("utf-8", errors="replace").splitlines())
        else:
            raise self._failed(source_id, url, origin, f"robots.txt of {origin} answered HTTP "
                               f"{response.status}, so the page is not fetched")
        self._rules[origin] = parser
        return parser

    def _failed(self, source_id: str, url: str, origin: str, reason: str) -> FetchError:
        self._failures[origin] = reason
        return FetchError(source_id, url, reason)

    def check(self, source_id: str, url: str) -> None:
        if not self.rules_for(source_id, url).can_fetch(self.user_agent, url):
            raise FetchError(source_id, url, "disallowed by the host's robots.txt "
                                             f"for {ROBOTS_TOKEN!r}")

    def crawl_delay(self, url: str) -> float | None:
        """The Crawl-delay of the URL's host, once its robots.txt has been read."""
        parser = self._rules.get(_origin(url))
        delay = parser.crawl_delay(self.user_agent) if parser is not None else None
        return float(delay) if delay else None


class HostPacer:
    """At least `min_interval` seconds between two requests to one origin, or its robots.txt
    Crawl-delay (up to `max_crawl_delay`) when longer."""

    def __init__(self, policy: FetchPolicy, sleep: Callable[[float], None],
                 clock: Callable[[], float]) -> None:
        self.policy, self.sleep, self.clock = policy, sleep, clock
        self._last_request: dict[str, float] = {}

    def wait(self, url: str, crawl_delay: float | None) -> None:
        origin = _origin(url)
        interval = self.policy.min_interval
        if crawl_delay:
            interval = max(interval, min(crawl_delay, self.policy.max_crawl_delay))
        last = self._last_request.get(origin)
        if last is not None and interval > 0:
            remaining = last + interval - self.clock()
            if remaining > 0:
                self.sleep(remaining)
        self._last_request[origin] = self.clock()


# --- step 2: the request, with its caps ------------------------------------------------------


@dataclass(frozen=True)
class BodyRules:
    """What a 2xx body must be: of one of `media_types` (None: any) and at most `max_bytes`
    (a longer one refused, or cut when `truncate`, as robots.txt is)."""

    media_types: frozenset[str] | None
    max_bytes: int
    truncate: bool = False


class Exchange:
    """One GET of one URL (no redirect followed) under a watchdog: past `total_timeout` it cuts
    the connection wherever the read is blocked (a trickle of headers too). A 2xx body is read
    one socket read at a time, each within the read timeout and none past the deadline, and
    refused past the size cap (counted after decompression). Raises _Retryable for what a retry
    may cure (connection errors, 429, 5xx) and FetchError for the rest."""

    def __init__(self, policy: FetchPolicy, session: requests.Session) -> None:
        self.policy, self.session = policy, session

    def attempt(self, source_id: str, url: str, headers: Mapping[str, str],
                rules: BodyRules) -> HttpResponse:
        in_flight = getattr(self.session.get_adapter(url), "in_flight", None)
        if in_flight is not None:
            in_flight.sock = None  # not the last request's socket (connecting has its timeout)
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            if in_flight is not None:
                in_flight.abort()

        deadline = time.monotonic() + self.policy.total_timeout
        watchdog = threading.Timer(self.policy.total_timeout, expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            response = self._exchange(source_id, url, headers, rules, deadline)
        except (_Retryable, FetchError):
            if not expired.is_set():
                raise
        finally:
            watchdog.cancel()
            watchdog.join()
        if expired.is_set():
            raise self._too_slow(source_id, url)
        return response

    def _too_slow(self, source_id: str, url: str) -> FetchError:
        return FetchError(source_id, url, f"the response took longer than "
                                          f"{self.policy.total_timeout:g} s; refused")

    def _send(self, source_id: str, url: str, headers: Mapping[str, str]) -> requests.Response:
        """The request, streamed: the status line and headers, the body still unread."""
        policy = self.policy
        try:
            return self.session.get(url, headers=dict(headers), allow_redirects=False,
                                    stream=True,
                                    timeout=(policy.connect_timeout, policy.read_timeout))
        except requests.exceptions.ReadTimeout:
            raise FetchError(source_id, url, f"no response within the {policy.read_timeout:g} s "
                                             f"read timeout") from None
        except requests.exceptions.ConnectTimeout:
            raise _Retryable(f"could not connect within {policy.connect_timeout:g} s") from None
        except requests.exceptions.ConnectionError as err:
            if isinstance(_innermost(err), NonPublicPeer):
                raise FetchError(source_id, url, _root_cause(err)) from None
            raise _Retryable(f"connection failed: {_root_cause(err)}") from None
        except requests.exceptions.RequestException as err:
            raise FetchError(source_id, url, f"request failed: {_root_cause(err)}") from None

    def _exchange(self, source_id: str, url: str, headers: Mapping[str, str],
                  rules: BodyRules, deadline: float) -> HttpResponse:
        with self._send(source_id, url, headers) as response:
            status, reason = response.status_code, response.reason or ""
            if status == 429 or 500 <= status <= 599:
                raise _Retryable(f"HTTP {status} {reason}".strip(),
                                 parse_retry_after(response.headers.get("Retry-After")))
            if not 200 <= status <= 299:
                return HttpResponse(response.url, status, reason, response.headers)
            media_type, _ = split_content_type(response.headers.get("Content-Type"))
            if rules.media_types is not None and media_type not in rules.media_types:
                raise FetchError(source_id, url, f"content type {media_type!r} is not accepted "
                                                 f"(accepted: {sorted(rules.media_types)})")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > rules.max_bytes and not rules.truncate:
                raise FetchError(source_id, url, f"the body is {int(declared)} bytes, over the "
                                                 f"{rules.max_bytes}-byte cap; refused")
            body = self._read_body(source_id, url, response, rules, deadline)
            return HttpResponse(response.url, status, reason, response.headers, body)

    def _read_body(self, source_id: str, url: str, response: requests.Response,
                   rules: BodyRules, deadline: float) -> bytes:
        """Read the body one socket read at a time: each read waits at most the read timeout
        and never past the whole-response deadline (checked before every read), and a compressed
        body is inflated only up to the size cap."""
        inflater = _Inflater(source_id, url, response.headers.get("Content-Encoding"))
        sock = _body_socket(response)
        chunks: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._too_slow(source_id, url)
            if sock is not None:
                try:
                    sock.settimeout(min(self.policy.read_timeout, remaining))
                except OSError:  # http.client closed it: the body is complete
                    sock = None
            data = self._read_once(source_id, url, response, deadline)
            piece = inflater.feed(data, rules.max_bytes - size + 1)
            size += len(piece)
            if size > rules.max_bytes:
                if rules.truncate:
                    chunks.append(piece[: len(piece) - (size - rules.max_bytes)])
                    break
                raise FetchError(source_id, url, f"the body is over the {rules.max_bytes}-byte "
                                                 f"cap{inflater.after}; refused")
            chunks.append(piece)
            if not data:
                break
        return b"".join(chunks)

    def _read_once(self, source_id: str, url: str, response: requests.Response,
                   deadline: float) -> bytes:
        """One read of the raw (still compressed) body; b"" at its end."""
        try:
            return response.raw.read1(CHUNK, decode_content=False)
        except ReadTimeoutError:
            if time.monotonic() >= deadline - 0.05:
                raise self._too_slow(source_id, url) from None
            raise FetchError(source_id, url, f"the body stalled past the "
                             f"{self.policy.read_timeout:g} s read timeout") from None
        except (Urllib3Error, OSError) as err:
            raise _Retryable(f"connection lost while reading the body: "
                             f"{_root_cause(err)}") from None


class Fetcher:
    """One session and one policy, and the steps of a fetch: the policy checks (UrlPolicy),
    robots.txt (RobotsRules), the pace per host (HostPacer) and single exchanges (Exchange).
    `get` chains them through redirects and retries."""

    def __init__(self, policy: FetchPolicy | None = None, *,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 session: requests.Session | None = None) -> None:
        self.policy = policy or FetchPolicy()
        self.session = session or make_session(self.policy)
        self.sleep = sleep
        self.urls = UrlPolicy(self.policy)
        self.robots = RobotsRules(self.policy.user_agent, self._read_robots)
        self.pacer = HostPacer(self.policy, sleep, clock)
        self.exchange = Exchange(self.policy, self.session)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, source_id: str, url: str, headers: Mapping[str, str] | None = None, *,
            robots: bool | None = None, media_types: frozenset[str] | None | bool = True,
            max_bytes: int | None = None, truncate: bool = False,
            check_host: bool = True) -> HttpResponse:
        """GET `url`, following redirects by hand (each hop checked). Returns the first response
        that is not a redirect: a 2xx with its body, anything else (304, 404...) without one.
        Raises FetchError when the URL is refused, retries run out (connection errors, 429,
        5xx), the read times out, or the body breaks the type or size rules. `media_types`
        True means the policy's list; None accepts any type."""
        policy = self.policy
        robots = policy.robots if robots is None else robots
        rules = BodyRules(policy.media_types if media_types is True else media_types,
                          policy.max_bytes if max_bytes is None else max_bytes, truncate)
        seen = [url]
        current = url
        while True:
            self.urls.check_url(source_id, current, check_host=check_host)
            if robots:
                self.robots.check(source_id, current)
            response = self._request(source_id, current, headers or {}, rules)
            if response.status not in REDIRECT_STATUSES:
                return response
            current = self._next_hop(source_id, url, response, seen)

    def _next_hop(self, source_id: str, url: str, response: HttpResponse,
                  seen: list[str]) -> str:
        """Where a redirect from seen[-1] leads, checked; appended to `seen`."""
        current = seen[-1]
        location = response.headers.get("Location")
        if not location:
            raise FetchError(source_id, url, f"HTTP {response.status} redirect without a "
                                             f"Location, at {current}")
        target = urlunsplit(urlsplit(urljoin(current, location.strip()))._replace(fragment=""))
        if target in seen:
            chain = " -> ".join([*seen[seen.index(target):], target])
            raise FetchError(source_id, url, f"redirect loop: {chain}")
        self.urls.check_redirect(source_id, url, current, target)
        seen.append(target)
        if len(seen) > self.policy.max_redirects + 1:
            raise FetchError(source_id, url, f"more than {self.policy.max_redirects} redirects "
                                             f"({' -> '.join(seen)})")
        return target

    def _read_robots(self, source_id: str, robots_url: str) -> HttpResponse:
        return self.get(source_id, robots_url, robots=False, media_types=None,
                        max_bytes=ROBOTS_MAX_BYTES, truncate=True, check_host=False)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.policy.backoff_max, self.policy.backoff_base * 2 ** attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # "equal jitter"

    def _request(self, source_id: str, url: str, headers: Mapping[str, str],
                 rules: BodyRules) -> HttpResponse:
        """One URL, retried with backoff (honouring Retry-After up to its cap)."""
        policy = self.policy
        attempts = policy.retries + 1
        for attempt in range(attempts):
            try:
                self.pacer.wait(url, self.robots.crawl_delay(url))
                return self.exchange.attempt(source_id, url, headers, rules)
            except _Retryable as problem:
                if attempt + 1 >= attempts:
                    raise FetchError(source_id, url, f"{problem.reason} (gave up after "
                                                     f"{attempts} attempts)") from None
                wait = self._backoff(attempt)
                if problem.retry_after is not None:
                    if problem.retry_after > policy.max_retry_after:
                        raise FetchError(source_id, url, f"{problem.reason}; the server asks "
                                         f"to retry after {problem.retry_after:.0f} s, more "
                                         f"than the {policy.max_retry_after:.0f} s cap") from None
                    wait = max(wait, problem.retry_after)
                self.sleep(wait)
        raise AssertionError("unreachable")


def _body_socket(response: requests.Response) -> socket.socket | None:
    """The socket a streamed response reads from, if reachable: urllib3's connection keeps it,
    or (once http.client has let go of it) the reader of the response."""
    sock = getattr(getattr(response.raw, "_connection", None), "sock", None)
    if not isinstance(sock, socket.socket):  # http.client's reader: BufferedReader(SocketIO)
        reader = getattr(getattr(response.raw, "_fp", None), "fp", None)
        sock = getattr(getattr(reader, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


class _Inflater:
    """Content-Encoding gzip or deflate undone incrementally, never producing more than asked
    for, so a compressed body is capped after decompression (a gzip bomb is refused, not
    inflated)."""

    def __init__(self, source_id: str, url: str, encoding: str | None) -> None:
        self.encoding = (encoding or "identity").strip().lower()
        if self.encoding not in ("identity", "gzip", "x-gzip", "deflate"):
            raise FetchError(source_id, url, f"content encoding {self.encoding!r} is not "
                                             f"accepted (accepted: gzip, deflate)")
        self.source_id, self.url = source_id, url
        self.after = "" if self.encoding == "identity" else " after decompression"
        self._z = self._new(raw=False) if self.after else None
        self._started = False

    def _new(self, *, raw: bool):  # zlib's decompressor type is private: not annotated
        if self.encoding == "deflate":  # RFC 9110 says zlib-wrapped; some servers send raw
            return zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
        return zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes, room: int) -> bytes:
        """Decoded bytes for `data`, at most `room` of them; b"" data ends the body."""
        if self._z is None:
            return data
        first, self._started = not self._started, self._started or bool(data)
        try:
            out = self._z.decompress(data, room)
            if self._z.eof and self._z.unused_data.strip(b"\0"):  # another gzip member
                rest, self._z = self._z.unused_data, self._new(raw=False)
                out += self._z.decompress(rest, max(room - len(out), 1))
        except zlib.error as err:
            if self.encoding == "deflate" and first and data:
                self._z = self._new(raw=True)
                return self._z.decompress(data, room)
            raise FetchError(self.source_id, self.url, f"the {self.encoding} body does not "
                                                       f"decompress: {err}") from None
        if not data and self._started and not self._z.eof:
            raise FetchError(self.source_id, self.url, f"the {self.encoding} body ends before "
                                                       f"its compressed stream does")
        return out


def _innermost(err: BaseException) -> BaseException:
    """The innermost error requests and urllib3 wrap."""
    seen: set[int] = set()
    while id(err) not in seen:
        seen.add(id(err))
        inner = getattr(err, "reason", None)
        if not isinstance(inner, BaseException):
            inner = err.args[0] if err.args and isinstance(err.args[0], BaseException) else None
        if inner is None:
            break
        err = inner
    return err


def _root_cause(err: BaseException) -> str:
    """The message of the innermost error (the one a person can act on)."""
    err = _innermost(err)
    return str(err) or type(err).__name__


# --- sources ---------------------------------------------------------------------------------


@dataclass
class FetchResult:
    """What fetching one source did: outcome 'new', 'unchanged' or 'failed'."""

    source_id: str
    url: str
    outcome: str
    capture: Capture | None = None  # the new capture, or the last one kept
    http_status: int | None = None
    detail: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"

    def line(self) -> str:
        """One report line for `sovai fetch`."""
        if self.outcome == "new" and self.capture is not None:
            return (f"{self.source_id}: new capture {self.capture.sha256[:12]} "
                    f"({self.capture.bytes} bytes, HTTP {self.http_status})")
        if self.outcome == "unchanged":
            return f"{self.source_id}: unchanged ({self.detail})"
        return f"{self.source_id}: failed: {self.detail}"


def _validators(last: Capture | None, url: str) -> dict[str, str]:
    """Conditional-request headers from the last capture of this same URL."""
    if last is None or last.origin != url:
        return {}
    headers = {}
    if last.http.get("etag"):
        headers["If-None-Match"] = str(last.http["etag"])
    if last.http.get("last_modified"):
        headers["If-Modified-Since"] = str(last.http["last_modified"])
    return headers


def _check_text_charset(source_id: str, url: str, media_type: str, charset: str | None,
                        body: bytes) -> str | None:
    """Plain text and Markdown are decoded with the header charset (UTF-8 when none): refuse
    bytes that would not decode, so that raw/ holds only captures the pipeline can read."""
    if media_type not in ("text/plain", "text/markdown"):
        return charset
    codec = charset or "utf-8"
    try:
        body.decode(codec)
    except LookupError:
        raise FetchError(source_id, url, f"unknown charset {codec!r} for {media_type}") from None
    except UnicodeDecodeError as err:
        raise FetchError(source_id, url, f"{media_type} body is not valid {codec} at byte "
                                         f"{err.start}") from None
    return codec


def _after(last: Capture | None) -> str:
    """Now, or one second after the last capture if that is not earlier: captures are ordered by
    captured_at (seconds), and a page that changes twice within a second must still sort last."""
    now = utc_now()
    if last is None or now > last.captured_at:
        return now
    previous = dt.datetime.fromisoformat(last.captured_at.replace("Z", "+00:00"))
    return (previous + dt.timedelta(seconds=1)).isoformat().replace("+00:00", "Z")


def fetch_source(fetcher: Fetcher, raw_dir: Path, source_id: str, url: str) -> FetchResult:
    """Fetch one page into raw/. Raises FetchError and writes nothing when the fetch fails."""
    last = latest_capture(raw_dir, source_id)
    response = fetcher.get(source_id, url, _validators(last, url))
    if response.status == 304 and last is not None:
        return FetchResult(source_id, url, "unchanged", last, 304, "HTTP 304 Not Modified")
    if not 200 <= response.status <= 299:
        raise FetchError(source_id, url, f"HTTP {response.status} {response.reason}".strip())
    body = response.body
    if last is not None and sha256_hex(body) == last.sha256:
        return FetchResult(source_id, url, "unchanged", last, response.status,
                           f"same bytes as the last capture, HTTP {response.status}")
    media_type, charset = split_content_type(response.headers.get("Content-Type"))
    charset = _check_text_charset(source_id, url, media_type, charset, body)
    http = {"status": response.status, "etag": response.headers.get("ETag"),
            "last_modified": response.headers.get("Last-Modified"), "final_url": response.url}
    capture, new = capture_bytes(raw_dir, source_id, body, origin=url, media_type=media_type,
                                 charset=charset, http=http, captured_at=_after(last))
    if not new:  # the page went back to the bytes of an earlier capture
        return FetchResult(source_id, url, "unchanged", capture, response.status,
                           f"same bytes as the earlier capture of {capture.captured_at}, "
                           f"HTTP {response.status}")
    return FetchResult(source_id, url, "new", capture, response.status, "new capture")


def refresh_source(fetcher: Fetcher, raw_dir: Path, source_id: str, url: str) -> FetchResult:
    """fetch_source that never raises: a failure is a 'failed' result and leaves raw/ as it was
    (the last good capture stays the latest)."""
    try:
        return fetch_source(fetcher, raw_dir, source_id, url)
    except FetchError as err:
        return FetchResult(source_id, url, "failed", latest_capture(raw_dir, source_id),
                           None, err.reason)
    except Exception as err:  # noqa: BLE001 - one source must not stop the others
        return FetchResult(source_id, url, "failed", None, None,
                           f"{type(err).__name__}: {err}")


def source_records(curated_dir: Path) -> list[Record]:
    """The records of curated/sources.yaml and curated/sources/*.yaml."""
    return load_table_records(curated_dir, "sources")


def url_sources(curated_dir: Path, source_ids: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(source_id, url) of the sources with a URL, in file order; only `source_ids` if given.
    Raises SourceRegistryError for an id that is not a source or has no URL."""
    records = source_records(curated_dir)
    for record in records:
        problem = record.get("url") and source_id_problem(record.get("source_id"))
        if problem:
            raise SourceRecordError(str(record.error(problem, column="source_id",
                                                     value=record.get("source_id"))))
    with_url = [(str(r["source_id"]), str(r["url"])) for r in records
                if r.get("source_id") and r.get("url")]
    wanted = list(dict.fromkeys(source_ids))
    if not wanted:
        return with_url
    known = {str(r.get("source_id")) for r in records}
    by_id = dict(with_url)
    for source_id in wanted:
        if source_id not in known:
            raise SourceRegistryError(f"no source {source_id!r} in curated/sources.yaml")
        if source_id not in by_id:
            raise SourceRegistryError(f"source {source_id!r} has no url (it is captured from "
                                      f"a file)")
    return [(s, by_id[s]) for s in wanted]


def fetch_one(paths: ProjectPaths, source_id: str, *, policy: FetchPolicy | None = None
              ) -> FetchResult:
    """Fetch one curated source by id (its URL read from curated/ now). Raises FetchError."""
    [(source_id, url)] = url_sources(paths.curated, [source_id])
    with Fetcher(policy or default_policy()) as fetcher:
        return fetch_source(fetcher, paths.raw, source_id, url)


# --- registering a source --------------------------------------------------------------------


@dataclass(frozen=True)
class NewSource:
    source_id: str
    url: str
    title: str
    published_on: dt.date
    date_precision: str = "day"
    date_evidence: str | None = None
    publisher: str | None = None
    date_bound: str = "within"


def _yaml_scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    text = yaml.safe_dump(str(value), default_style='"', allow_unicode=True, width=1 << 30)
    return text.strip().removesuffix("...").strip()


def source_entry(source: NewSource, *, title_from_page: bool) -> tuple[str, dict]:
    """The YAML text of a sources.yaml entry, and the mapping it must load as."""
    data = {
        "source_id": source.source_id,
        "title": source.title,
        "title_from_page": title_from_page,
        "publisher": source.publisher,
        "url": source.url,
        "capture_file": None,
        "published_on": source.published_on,
        "date_precision": source.date_precision,
        "date_bound": source.date_bound,
        "date_evidence": source.date_evidence,
    }
    plain = {"source_id", "date_precision", "date_bound"}  # slugs and enums need no quotes
    lines = [f"{'- ' if i == 0 else '  '}{key}: "
             f"{value if key in plain else _yaml_scalar(value)}"
             for i, (key, value) in enumerate(data.items())]
    return "\n".join(lines) + "\n", data


def append_source_entry(sources_file: Path, entry_text: str, expected: dict) -> None:
    """Append an entry to sources.yaml, keeping the file's text and comments as they are. The
    result is parsed before it is written: it must load as before plus exactly `expected`."""
    text = sources_file.read_text(encoding="utf-8") if sources_file.is_file() else ""
    before = yaml.safe_load(text) if text.strip() else None
    if before is None or before == []:
        before = []
        text = re.sub(r"(?m)^\s*\[\]\s*(#.*)?$\n?", "", text)  # an empty flow list
    if not isinstance(before, list):
        raise SourceRegistryError(f"{sources_file} is not a YAML list")
    if text and not text.endswith("\n"):
        text += "\n"
    if text.strip():
        text += "\n"
    new_text = text + entry_text
    after = yaml.safe_load(new_text)
    if after != [*before, expected]:
        raise SourceRegistryError(f"appending to {sources_file} would not give the expected "
                                  f"entry; the file was not changed")
    sources_file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=sources_file.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(new_text)
        os.replace(tmp, sources_file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _page_checks(capture: Capture, source: NewSource) -> tuple[bool, list[str]]:
    """Whether the title is printed on the page, and warnings about the date evidence."""
    from pipeline.extraction.extract import capture_text
    from pipeline.extraction.quotes import SourceText
    from pipeline.text import fold_whitespace

    text = SourceText(source.source_id, capture_text(capture))
    title_on_page = text.find(source.title) is not None
    if not title_on_page and capture.media_type in ("text/html", "application/xhtml+xml"):
        from pipeline.extraction import htmlpage

        page_title = htmlpage.html_title(htmlpage.decode_html(capture.read_bytes(),
                                                              capture.charset))
        title_on_page = bool(page_title) and fold_whitespace(source.title) in page_title
    warnings = []
    if source.date_evidence is None:
        warnings.append("no date evidence given: add the sentence that dates the page "
                        "(date_evidence) before the next build")
    elif text.find(source.date_evidence) is None:
        warnings.append(f"date evidence not found in the captured text: "
                        f"{source.date_evidence!r}; the build refuses it until it matches")
    return title_on_page, warnings


def add_source(paths: ProjectPaths, source: NewSource, *, policy: FetchPolicy | None = None,
               fetcher: Fetcher | None = None) -> FetchResult:
    """Capture a page and register it in curated/sources.yaml. Nothing is registered when the id
    is taken or malformed, or the fetch fails."""
    if source_id_problem(source.source_id):
        raise SourceRegistryError(f"source id {source.source_id!r} must be a lowercase slug "
                                  f"(letters, digits and single hyphens)")
    if source.date_precision not in DATE_PRECISIONS:
        raise SourceRegistryError(f"date precision {source.date_precision!r} must be one of "
                                  f"{list(DATE_PRECISIONS)}")
    if source.date_bound not in DATE_BOUNDS:
        raise SourceRegistryError(f"date bound {source.date_bound!r} must be one of "
                                  f"{list(DATE_BOUNDS)}")
    records = source_records(paths.curated)
    for record in records:
        if record.get("source_id") == source.source_id:
            raise SourceRegistryError(f"source id {source.source_id!r} is already registered "
                                      f"({record.file}:{record.line})")
    warnings = [f"the URL is already registered as {r['source_id']!r} ({r.file}:{r.line})"
                for r in records if r.get("url") == source.url]
    own = fetcher is None
    fetcher = fetcher or Fetcher(policy or default_policy())
    try:
        result = fetch_source(fetcher, paths.raw, source.source_id, source.url)
    finally:
        if own:
            fetcher.close()
    assert result.capture is not None
    title_from_page, page_warnings = _page_checks(result.capture, source)
    entry_text, expected = source_entry(source, title_from_page=title_from_page)
    append_source_entry(paths.curated / "sources.yaml", entry_text, expected)
    result.warnings = warnings + page_warnings
    return result
