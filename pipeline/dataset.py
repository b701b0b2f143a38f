"""Load Sovereign AI Atlas releases into pandas, verified, from a local folder or a published site.

    >>> from pipeline import dataset                 # or: import sovai_dataset as dataset
    >>> dataset.list_releases(base="https://example.org/atlas/")
    >>> models = dataset.load("models", release="2026-04-25", base="https://example.org/atlas/")
    >>> dataset.citation("2026-04-25", base="https://example.org/atlas/")

`base` is a releases/ folder or a built site (the same layout: index.json at its root, one folder
per release date), as a path, a file:// URL, an http(s) URL or a release store's fsspec URL
(s3://bucket/prefix; `storage_options` go to fsspec, and $SOVAI_STORE_ENDPOINT names an S3
endpoint). Remote files are fetched once into a per-user cache (by pooch over http(s), by fsspec
otherwise), each checked against the sha256 its release's datapackage.json records (and
datapackage.json against index.json) before anything is returned; later calls read the cache and
work offline. A file whose sha256 does not match is an error naming it and both hashes, and is
not kept.

This module is the loader the site publishes as `sovai_dataset.py`: it needs only the standard
library, pandas, pyarrow and pooch, never the pipeline (no Dagster, no DuckDB); fsspec (and
s3fs for s3://) only for a base of that kind, imported only then.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

# Where releases are read from when no `base` is given. The site build writes its base URL here
# in the copy it publishes; $SOVAI_ATLAS_BASE overrides it.
DEFAULT_BASE: str | None = None
CACHE_ENV = "SOVAI_ATLAS_CACHE"
BASE_ENV = "SOVAI_ATLAS_BASE"
ENDPOINT_ENV = "SOVAI_STORE_ENDPOINT"
_HASH = re.compile(r"got ([0-9a-f]{64})")


class IntegrityError(ValueError):
    """A file's bytes do not match the sha256 its release (or index.json) records."""


class UnsafePathError(IntegrityError):
    """index.json or a datapackage.json names a file outside its release folder."""


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


def _release_path(entry: dict, name: str) -> str:
    """`<date>/<name>`, refused unless the date is a release date and the name a relative path
    of plain segments (no '..', no absolute path, no backslash or NUL): nothing an index or a
    datapackage.json says can make the loader read or write outside a release folder."""
    date = entry.get("date")
    if not isinstance(date, str) or not _DATE.fullmatch(date):
        raise UnsafePathError(f"index.json: release date {date!r} is not YYYY-MM-DD; refused")
    if not isinstance(name, str) or not all(_SEGMENT.fullmatch(s) for s in name.split("/")):
        raise UnsafePathError(f"release {date}: file path {name!r} is not a plain relative "
                              f"path inside the release folder; refused")
    return f"{date}/{name}"


def _inside(folder: Path, relative: str) -> Path:
    """folder/relative, refused if it (through a symlink) resolves outside `folder`."""
    path = folder / relative
    if not path.resolve().is_relative_to(folder.resolve()):
        raise UnsafePathError(f"{path}: resolves outside {folder} (a symlink?); refused")
    return path


class ReleaseNotFound(LookupError):
    """The asked-for release or table is not in the index."""


# --- public API -----------------------------------------------------------------------------


def list_releases(base: str | os.PathLike | None = None, *, include_drafts: bool = True,
                  storage_options: dict | None = None) -> pd.DataFrame:
    """The releases at `base`, oldest first: date, title, status (published or draft), the
    release before it, the sha256 of its datapackage.json (what a citation names) and its
    tables."""
    index = _Store.open(base, storage_options).index(refresh=True)
    rows = [{"date": pd.Timestamp(r["date"]), "title": r["title"], "status": r["status"],
             "previous": pd.Timestamp(r["previous"]) if r.get("previous") else pd.NaT,
             "datapackage_sha256": r.get("datapackage_sha256"),
             "tables": sorted(r.get("tables", {}))}
            for r in index["releases"] if include_drafts or r["status"] == "published"]
    return pd.DataFrame(rows, columns=["date", "title", "status", "previous",
                                       "datapackage_sha256", "tables"])


def load(table: str, release: str | None = None, base: str | os.PathLike | None = None, *,
         storage_options: dict | None = None) -> pd.DataFrame:
    """One table of one release (the latest published one when `release` is None) as a pandas
    DataFrame: dates as datetime64, integers as nullable Int64, allowed-value columns as
    categoricals, lists as Python lists, and each column's description in `df.attrs`."""
    store = _Store.open(base, storage_options)
    entry, package = store.release(release)
    resource = _resource(package, table, entry["date"])
    path = store.file(entry, resource["path"], resource["hash"].removeprefix("sha256:"))
    arrow = pq.read_table(path)
    # changes.parquet had no schema before 2026-07-31: all its columns are strings.
    schema = resource.get("schema") or {"fields": [{"name": n, "type": "string"}
                                                   for n in arrow.column_names]}
    frame = _typed_frame(arrow, schema["fields"])
    frame.attrs = {
        "table": table, "release": entry["date"], "title": resource.get("title", table),
        "description": resource.get("description", ""),
        "primary_key": schema.get("primaryKey", []),
        "columns": {f["name"]: f.get("description", "") for f in schema["fields"]},
        "sha256": resource["hash"].removeprefix("sha256:"),
        "citation": _citation_text(entry, package),
        "source": store.location(entry, resource["path"]),
    }
    return frame


def verify(release: str | None = None, base: str | os.PathLike | None = None, *,
           storage_options: dict | None = None) -> dict[str, str]:
    """Fetch (or read) every file of a release and check each one's sha256 against
    datapackage.json, and datapackage.json's against index.json. Returns {file: sha256};
    raises IntegrityError on the first mismatch."""
    store = _Store.open(base, storage_options)
    entry, package = store.release(release)
    checked = {"datapackage.json": entry["datapackage_sha256"]}
    for resource in package["resources"]:
        digest = resource["hash"].removeprefix("sha256:")
        store.file(entry, resource["path"], digest)
        checked[resource["path"]] = digest
    return checked


def citation(release: str | None = None, base: str | os.PathLike | None = None, *,
             storage_options: dict | None = None) -> str:
    """How to cite a release: its title and date, and the sha256 of its datapackage.json."""
    store = _Store.open(base, storage_options)
    entry, package = store.release(release)
    return _citation_text(entry, package) + f" <{store.location(entry, 'datapackage.json')}>"


# --- where files come from ------------------------------------------------------------------


class _Store:
    """A releases folder or a site: local (read in place) or remote (fetched into a cache)
    over http(s) with pooch or from any other fsspec URL (a release store) with fsspec."""

    def __init__(self, base: str, storage_options: dict | None = None) -> None:
        self.base = base
        scheme = urlsplit(base).scheme
        self.remote = "://" in base
        self.transport = (None if not self.remote else _Http() if scheme in ("http", "https")
                          else _Fsspec(base, storage_options))
        self.cache = _cache_dir(base) if self.remote else None
        self._index: dict | None = None

    @classmethod
    def open(cls, base: str | os.PathLike | None, storage_options: dict | None = None
             ) -> _Store:
        chosen = base if base is not None else os.environ.get(BASE_ENV) or DEFAULT_BASE
        if chosen is None:
            checkout = Path(__file__).resolve().parent.parent / "releases"
            if not (checkout / "index.json").is_file():
                raise ValueError("no base given: pass base= a releases folder, a site folder "
                                 f"or its URL (or set ${BASE_ENV})")
            chosen = checkout
        text = str(chosen)
        if text.startswith("file://"):
            from urllib.request import url2pathname

            text = url2pathname(urlsplit(text).path)
        elif "://" in text:  # http(s), s3, gs, ...: read through a cache
            return cls(text if text.endswith("/") else text + "/", storage_options)
        return cls(str(Path(text).expanduser().resolve()))

    def location(self, entry: dict, name: str) -> str:
        relative = _release_path(entry, name)
        return self.base + relative if self.remote else str(Path(self.base) / relative)

    def index(self, *, refresh: bool) -> dict:
        if self._index is None or refresh:
            self._index = self._read_index(refresh)
        return self._index

    def _read_index(self, refresh: bool) -> dict:
        if not self.remote:
            return _read_json(Path(self.base) / "index.json")
        cached = self.cache / "index.json"
        if refresh or not cached.is_file():
            try:
                self.transport.download(self.base + "index.json", cached)
            except self.transport.errors as err:  # requests' errors are OSErrors too
                if not cached.is_file():
                    raise
                warnings.warn(f"{self.base}index.json could not be fetched ({err}); using the "
                              f"copy cached at {cached}", stacklevel=4)
        return _read_json(cached)

    def release(self, key: str | None) -> tuple[dict, dict]:
        """The index entry and the verified datapackage.json of a release. A published release
        already in the cache needs no request at all: it never changes."""
        entry = self._find(self.index(refresh=False), key) if self.remote else None
        if entry is None or entry["status"] != "published" or key is None:
            entry = self._find(self.index(refresh=True), key)
            if entry is None:
                raise ReleaseNotFound(self._not_found(key))
        path = self.file(entry, "datapackage.json", entry["datapackage_sha256"])
        return entry, _read_json(path)

    def _find(self, index: dict, key: str | None) -> dict | None:
        releases = index.get("releases", [])
        if key is None:
            published = [r for r in releases if r["status"] == "published"]
            return published[-1] if published else None
        return next((r for r in releases if r["date"] == key), None)

    def _not_found(self, key: str | None) -> str:
        dates = [r["date"] for r in self.index(refresh=False).get("releases", [])]
        wanted = f"release {key}" if key else "a published release"
        return f"{self.base}: no {wanted} (releases: {', '.join(dates) or 'none'})"

    def file(self, entry: dict, name: str, sha256: str) -> Path:
        """A release file on disk, its sha256 checked."""
        relative = _release_path(entry, name)
        if not self.remote:
            path = _inside(Path(self.base), relative)
            actual = _sha256(path)
            if actual != sha256:
                raise IntegrityError(f"{path}: sha256 {actual} does not match the {sha256} "
                                     f"recorded for it")
            return path
        return self.transport.fetch_verified(self.base + relative, _inside(self.cache, relative),
                                             sha256)


def _cache_dir(base: str) -> Path:
    root = os.environ.get(CACHE_ENV)
    if root is None:
        import pooch

        root = pooch.os_cache("sovai-atlas")
    parts = urlsplit(base)
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", parts.netloc) or "site"
    return Path(root) / f"{slug}-{hashlib.sha256(base.encode()).hexdigest()[:12]}"


def _replace_when_complete(target: Path, write: Any) -> None:
    """write(partial) fetches into a partial file beside `target`, which replaces the cached
    copy only once the download is complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        write(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _mismatch(url: str, actual: str, sha256: str) -> IntegrityError:
    return IntegrityError(f"{url}: sha256 {actual} does not match the {sha256} recorded for "
                          f"it; the download was not kept")


class _Http:
    """A site or a served releases folder, over http(s) with pooch."""

    errors: tuple[type[BaseException], ...] = (OSError,)

    def download(self, url: str, target: Path) -> None:
        """Fetch a file whose hash nobody records yet (index.json)."""
        import pooch

        _replace_when_complete(target, lambda partial: pooch.HTTPDownloader(timeout=30)(
            url, str(partial), None))

    def fetch_verified(self, url: str, target: Path, sha256: str) -> Path:
        """pooch downloads `url` unless `target` already holds exactly these bytes, and keeps
        a download only if its sha256 matches."""
        import pooch

        try:
            return Path(pooch.retrieve(url, known_hash=f"sha256:{sha256}", fname=target.name,
                                       path=target.parent, downloader=pooch.HTTPDownloader(
                                           timeout=60)))
        except ValueError as err:
            match = _HASH.search(str(err))
            raise _mismatch(url, match.group(1) if match else "(see: " + str(err) + ")",
                            sha256) from None


class _Fsspec:
    """A release store (s3://bucket/prefix, ...) read with fsspec; s3fs is imported by fsspec
    only for an s3 URL."""

    def __init__(self, base: str, storage_options: dict | None) -> None:
        import fsspec

        options = dict(storage_options or {})
        endpoint = os.environ.get(ENDPOINT_ENV)
        if base.startswith(("s3://", "s3a://")) and endpoint:
            options.setdefault("endpoint_url", endpoint)
        self.fs, _ = fsspec.core.url_to_fs(base, **options)
        # A store's errors (no such key, refused credentials, no connection) are not all
        # OSErrors; with a cached index.json any of them falls back to it.
        self.errors = (Exception,)

    def download(self, url: str, target: Path) -> None:
        self.fs.invalidate_cache()  # index.json changes with every publish
        _replace_when_complete(target, lambda partial: self.fs.get_file(url, str(partial)))

    def fetch_verified(self, url: str, target: Path, sha256: str) -> Path:
        """Download `url` unless `target` already holds exactly these bytes; keep a download
        only if its sha256 matches."""
        if target.is_file() and _sha256(target) == sha256:
            return target

        def fetch(partial: Path) -> None:
            self.fs.get_file(url, str(partial))
            actual = _sha256(partial)
            if actual != sha256:
                raise _mismatch(url, actual, sha256)

        _replace_when_complete(target, fetch)
        return target


# --- frames ---------------------------------------------------------------------------------


def _resource(package: dict, table: str, date: str) -> dict:
    tables = [r for r in package["resources"] if r["path"].endswith(".parquet")]
    for resource in tables:
        if resource["name"] == table:
            return resource
    raise ReleaseNotFound(f"release {date} has no table {table!r} (tables: "
                          f"{', '.join(r['name'] for r in tables)})")


def _typed_frame(table: pa.Table, fields: list[dict]) -> pd.DataFrame:
    """Columns typed by the release's own Table Schema, not by what pandas guesses."""
    return pd.DataFrame({f["name"]: _typed_column(table.column(f["name"]), f) for f in fields},
                        columns=[f["name"] for f in fields])


def _typed_column(column: pa.ChunkedArray, field: dict) -> pd.Series:
    kind = field.get("type")
    enum = field.get("constraints", {}).get("enum")
    if kind == "array":
        return pd.Series(column.to_pylist(), dtype=object)
    if kind == "date":
        return column.to_pandas(date_as_object=False)
    if kind == "integer":
        return column.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    if kind == "boolean":
        return column.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get)
    series = column.to_pandas()
    if enum:
        return pd.Series(pd.Categorical(series, categories=list(enum)))
    return series


def _citation_text(entry: dict, package: dict) -> str:
    text = package.get("citation") or f"Sovereign AI Atlas, release {entry['date']}."
    return f"{text} datapackage.json sha256:{entry['datapackage_sha256']}."


def _read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
