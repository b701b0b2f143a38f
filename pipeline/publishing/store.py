"""The release store: where the sealed releases are published for the world, as an fsspec URL.

A store has the layout of releases/ (index.json, one folder per release date, captures/), so
the loader and the site read it alike. It is a local folder (a path or file://...) or object
storage (s3://bucket/prefix; endpoint from $SOVAI_STORE_ENDPOINT, credentials from the standard
AWS variables or fsspec storage options).

Object storage has no rename, so a publish is made atomic for readers the way a manifest makes
it: every file is uploaded under a temporary prefix (.staging/<token>/), checked there against
its datapackage.json (and datapackage.json against its anchor), copied to <date>/ and
captures/, and only then is the store's index.json (the manifest readers start from) replaced,
in one PUT or rename. Until that last write readers see the old index and no new release; a
publish that dies on the way leaves only files no index lists, which the next publish removes
or overwrites. A release the store's index already lists is sealed there: never overwritten.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.curation.releases import SealedReleaseError, sha256_file
from pipeline.validation.verify import (
    INDEX,
    PUBLISHED,
    read_anchors,
    sealed_release_problems,
    sha256_through,
    store_release_problems,
)

ENDPOINT_ENV = "SOVAI_STORE_ENDPOINT"
STAGING = ".staging"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class StoreError(RuntimeError):
    """The store cannot be read or written as asked; the message is one line."""


@dataclass(frozen=True)
class ReleaseStore:
    """An fsspec filesystem and the root of the store on it (a path without protocol)."""

    fs: Any
    root: str
    url: str

    def path(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    def read_index(self) -> dict:
        """The store's index.json, or an empty one when nothing was published there yet."""
        path = self.path(INDEX)
        if not self.fs.exists(path):
            return {"releases": [], "captures": []}
        try:
            index = json.loads(self.fs.cat_file(path).decode("utf-8"))
        except ValueError as err:
            raise StoreError(f"{self.url}/{INDEX}: not valid JSON ({err})") from None
        if not (isinstance(index, dict) and isinstance(index.get("releases"), list)
                and isinstance(index.get("captures"), list)):
            raise StoreError(f"{self.url}/{INDEX}: not a release index (it needs a list of "
                             f"releases and a list of captures)")
        return index


def storage_options(url: str, given: dict | None = None) -> dict:
    """fsspec options for a store URL: those given, plus $SOVAI_STORE_ENDPOINT as the S3
    endpoint (a MinIO, Ceph or moto server) unless one is given."""
    options = dict(given or {})
    endpoint = os.environ.get(ENDPOINT_ENV)
    if url.startswith(("s3://", "s3a://")) and endpoint and "endpoint_url" not in options:
        options["endpoint_url"] = endpoint
    return options


def open_store(url: str | os.PathLike, options: dict | None = None) -> ReleaseStore:
    """The store at `url`: a folder (created when missing), file://..., or any fsspec URL
    (s3://bucket/prefix). Opening makes no request; listings are never served from a cache."""
    import fsspec

    text = os.fspath(url)
    if "://" not in text:
        text = str(Path(text).expanduser().resolve())
    options = storage_options(text, options)
    if text.startswith("file://") or "://" not in text:
        options.setdefault("auto_mkdir", True)  # a folder store's subfolders appear as needed
    fs, root = fsspec.core.url_to_fs(text, **options)
    fs.invalidate_cache()  # another publisher may have written since this instance listed
    return ReleaseStore(fs, root.rstrip("/"), text.rstrip("/"))


# --- publishing -------------------------------------------------------------------------------


@dataclass
class PublishPlan:
    """What a publish uploads: release index entries and capture entries the store lacks."""

    releases: list[dict] = field(default_factory=list)
    captures: list[dict] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def files(self) -> list[str]:
        """Every file to upload, relative to the store's root."""
        return ([f["path"] for entry in self.releases for f in entry["files"]]
                + [c["path"] for c in self.captures])


def publish_to_store(store: ReleaseStore, releases_dir: Path, keys: list[str] | None = None,
                     *, echo: Callable[[str], None] = print) -> PublishPlan:
    """Upload the sealed releases of releases_dir (or those of `keys`) and the captures they
    cite to the store, then write its index.json last. Raises SealedReleaseError when the
    store holds a release with other bytes (nothing is uploaded then) and StoreError when a
    file does not verify once uploaded (index.json is not touched then)."""
    local_index = _read_local_index(releases_dir)
    wanted = _sealed_entries(local_index, keys, releases_dir)
    captures = _cited_captures(wanted, local_index, releases_dir)
    _check_local(releases_dir, wanted, captures)
    store_index = store.read_index()
    plan = _plan(store, store_index, wanted, captures)
    for key in plan.unchanged:
        echo(f"{key}: already in {store.url} with the same datapackage.json; left as is "
             f"(`sovai store verify` reads it back)")
    _remove_leftovers(store, store_index)
    if not plan.releases and not plan.captures:
        return plan
    staging = f"{STAGING}/{uuid.uuid4().hex[:12]}"
    try:
        _upload(store, releases_dir, plan, staging)
        _verify_staged(store, plan, staging)
        _move_into_place(store, plan, staging)
        _write_index(store, store_index, plan, staging)
    finally:
        _remove_quietly(store, store.path(STAGING))
    for entry in plan.releases:
        echo(f"{entry['date']}: published to {store.url}/{entry['path']} "
             f"({len(entry['files'])} files, each sha256 verified in the store)")
    if plan.captures:
        echo(f"captures: {len(plan.captures)} added to {store.url}/captures/")
    return plan


def _read_local_index(releases_dir: Path) -> dict:
    path = releases_dir / INDEX
    if not path.is_file():
        raise StoreError(f"{path}: missing; run `sovai build` first")
    read_anchors(releases_dir)  # a damaged index.json is one clear line
    return json.loads(path.read_text(encoding="utf-8"))


def _sealed_entries(index: dict, keys: list[str] | None, releases_dir: Path) -> list[dict]:
    sealed = [e for e in index["releases"] if e.get("status") == PUBLISHED]
    unknown = [k for k in keys or [] if k not in {e["date"] for e in sealed}]
    if unknown:
        raise StoreError(f"{releases_dir / INDEX}: {unknown[0]} is not a published release "
                         f"(published: {', '.join(e['date'] for e in sealed) or 'none'})")
    return [e for e in sealed if not keys or e["date"] in keys]


def _cited_captures(entries: list[dict], index: dict, releases_dir: Path) -> list[dict]:
    """The capture entries of index.json that these releases' datapackage.json cite."""
    cited = set()
    for entry in entries:
        package = json.loads((releases_dir / entry["path"] / "datapackage.json").read_text(
            encoding="utf-8"))
        cited |= {s["sha256"] for s in package.get("sources", [])}
    return [c for c in index.get("captures", []) if c["sha256"] in cited]


def _check_local(releases_dir: Path, entries: list[dict], captures: list[dict]) -> None:
    """What is uploaded must first verify here: a sealed folder against its anchor, a
    capture against the sha256 it is named by."""
    anchors = read_anchors(releases_dir)
    for entry in entries:
        problems = sealed_release_problems(releases_dir / entry["date"], anchors[entry["date"]])
        if problems:
            raise SealedReleaseError(f"release {entry['date']} is sealed, but {problems[0]}; "
                                     f"nothing was uploaded")
    for capture in captures:
        path = releases_dir / capture["path"]
        actual = sha256_file(path) if path.is_file() else "missing"
        if actual != capture["sha256"]:
            raise SealedReleaseError(f"{path}: sha256 {actual} is not the {capture['sha256']} "
                                     f"it is named by; nothing was uploaded")


def _plan(store: ReleaseStore, store_index: dict, wanted: list[dict], captures: list[dict]
          ) -> PublishPlan:
    """Which releases and captures are new to the store. A release the store lists with a
    different datapackage.json is refused before anything is uploaded."""
    in_store = {e["date"]: e for e in store_index["releases"]}
    plan = PublishPlan()
    for entry in wanted:
        sealed = in_store.get(entry["date"])
        if sealed is None:
            plan.releases.append(entry)
        elif sealed.get("datapackage_sha256") == entry["datapackage_sha256"]:
            plan.unchanged.append(entry["date"])
        else:
            raise SealedReleaseError(
                f"{store.url}/{entry['date']}/datapackage.json: release {entry['date']} is "
                f"sealed in the store with sha256 {sealed.get('datapackage_sha256')}, this one "
                f"has {entry['datapackage_sha256']}; a published release is never overwritten, "
                f"nothing was uploaded")
    stored = {c["path"] for c in store_index["captures"]}
    plan.captures = [c for c in captures if c["path"] not in stored]
    return plan


def _remove_leftovers(store: ReleaseStore, store_index: dict) -> None:
    """What an interrupted publish left: staged files, and release folders it copied but never
    listed in index.json (no reader ever saw them)."""
    listed = {e["date"] for e in store_index["releases"]}
    _remove_quietly(store, store.path(STAGING))
    if not store.fs.exists(store.root):
        return
    for path in store.fs.ls(store.root, detail=False):
        name = path.rstrip("/").rsplit("/", 1)[-1]
        if _DATE.fullmatch(name) and name not in listed:
            store.fs.rm(path, recursive=True)


def _remove_quietly(store: ReleaseStore, path: str) -> None:
    """Best effort: a staging prefix the server will not let us delete now is removed by the
    next publish, and no reader looks there."""
    try:
        if store.fs.exists(path):
            store.fs.rm(path, recursive=True)
    except Exception:  # noqa: BLE001 (cleanup must not hide the error that stopped a publish)
        pass


def _upload(store: ReleaseStore, releases_dir: Path, plan: PublishPlan, staging: str) -> None:
    files = plan.files()
    store.fs.put([str(releases_dir / f) for f in files],
                 [store.path(f"{staging}/{f}") for f in files])


def _verify_staged(store: ReleaseStore, plan: PublishPlan, staging: str) -> None:
    """Every uploaded byte read back from the store and checked before anything is moved."""
    for entry in plan.releases:
        problems = store_release_problems(store.fs, store.path(f"{staging}/{entry['date']}"),
                                          entry["datapackage_sha256"])
        if problems:
            raise StoreError(f"{store.url}: release {entry['date']} did not arrive intact "
                             f"({problems[0]}); index.json was not changed")
    for capture in plan.captures:
        actual = sha256_through(store.fs, store.path(f"{staging}/{capture['path']}"))
        if actual != capture["sha256"]:
            raise StoreError(f"{store.url}/{capture['path']}: uploaded with sha256 {actual}, "
                             f"not {capture['sha256']}; index.json was not changed")


def _move_into_place(store: ReleaseStore, plan: PublishPlan, staging: str) -> None:
    """Staged files copied to their published paths (server-side on object storage), then
    each release folder listed back: exactly its files, at their sizes."""
    files = plan.files()
    store.fs.copy([store.path(f"{staging}/{f}") for f in files], [store.path(f) for f in files])
    for entry in plan.releases:
        folder = store.path(entry["date"])
        found = {p.removeprefix(f"{folder}/"): info["size"]
                 for p, info in store.fs.find(folder, detail=True).items()}
        expected = {f["path"].removeprefix(entry["path"]): f["bytes"] for f in entry["files"]}
        if found != expected:
            raise StoreError(f"{store.url}/{entry['path']}: holds {sorted(found)} after the copy, "
                             f"not the release's {len(expected)} files; index.json was not "
                             f"changed")


def _write_index(store: ReleaseStore, store_index: dict, plan: PublishPlan, staging: str
                 ) -> None:
    """The manifest, last, in one atomic step (a rename on a folder, one PUT of a copy on
    object storage). Entries already in the store are kept byte for byte: their anchors are
    never rewritten."""
    releases = sorted(store_index["releases"] + plan.releases, key=lambda e: e["date"])
    captures = sorted(store_index["captures"] + plan.captures, key=lambda c: c["path"])
    text = json.dumps({**store_index, "releases": releases, "captures": captures}, indent=2,
                      ensure_ascii=False) + "\n"
    staged = store.path(f"{staging}/{INDEX}")
    store.fs.pipe_file(staged, text.encode("utf-8"))
    store.fs.mv(staged, store.path(INDEX))


# --- reading the store back ------------------------------------------------------------------


def verify_store(store: ReleaseStore, releases_dir: Path | None = None) -> list[str]:
    """Every problem a reader of the store could meet: each listed release against its anchor
    in the store's index.json and its datapackage.json, each capture against the sha256 it is
    named by, and (with releases_dir) each anchor against the one releases/index.json holds."""
    index = store.read_index()
    problems = []
    for entry in index["releases"]:
        problems += store_release_problems(store.fs, store.path(entry["date"]),
                                           entry["datapackage_sha256"])
    for capture in index["captures"]:
        path = store.path(capture["path"])
        actual = sha256_through(store.fs, path) if store.fs.exists(path) else "missing"
        if actual != capture["sha256"]:
            problems.append(f"{store.url}/{capture['path']}: sha256 {actual} is not the "
                            f"{capture['sha256']} it is named by")
    if releases_dir is not None:
        anchors = read_anchors(releases_dir)
        for entry in index["releases"]:
            local = anchors.get(entry["date"])
            if local is not None and local != entry["datapackage_sha256"]:
                problems.append(f"{store.url}/{INDEX}: release {entry['date']} has "
                                f"datapackage.json sha256 {entry['datapackage_sha256']}, "
                                f"{releases_dir / INDEX} sealed it with {local}")
    return problems


def download_store(store: ReleaseStore, folder: Path) -> Path:
    """The store's releases and captures as a local releases folder (what the site builder
    reads), every file checked against the sha256 the store's index.json lists for it."""
    index = store.read_index()
    if not index["releases"]:
        raise StoreError(f"{store.url}/{INDEX}: lists no release; publish one first")
    listed = [(f["path"], f["sha256"]) for e in index["releases"] for f in e["files"]]
    listed += [(c["path"], c["sha256"]) for c in index["captures"]]
    store.fs.get([store.path(p) for p, _ in listed], [str(folder / p) for p, _ in listed])
    for relative, expected in listed:
        actual = sha256_file(folder / relative)
        if actual != expected:
            raise SealedReleaseError(f"{store.url}/{relative}: sha256 {actual} is not the "
                                     f"{expected} the store's index.json lists")
    (folder / INDEX).write_bytes(store.fs.cat_file(store.path(INDEX)))
    return folder
