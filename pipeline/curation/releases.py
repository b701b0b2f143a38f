"""The declared releases (curated/releases.yaml) and the rules for sealed ones."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pipeline.curation.curated import Curated, CuratedError, parse_date

STATUSES = ("draft", "published")
# The keys a releases.yaml entry may have (anything else is a misspelling, never ignored).
RELEASE_KEYS = ("date", "title", "status", "notes", "reproduces_at", "reproduce_note")


class SealedReleaseError(RuntimeError):
    """A published release would be overwritten, or its files no longer match their checksums."""


@dataclass(frozen=True)
class Release:
    date: dt.date
    title: str
    status: str
    previous: dt.date | None
    notes: tuple[str, ...] = ()  # the curators' explanation of what the release corrects
    # A sealed release the current tree no longer rebuilds (a later schema or rule change
    # alters it): the commit whose tree does, and why this one does not.
    reproduces_at: str | None = None
    reproduce_note: str | None = None

    @property
    def key(self) -> str:
        return self.date.isoformat()

    @property
    def sealed(self) -> bool:
        return self.status == "published"


def declared_releases(curated: Curated) -> list[Release]:
    """Releases oldest first, each knowing the one before it."""
    releases: list[Release] = []
    seen: dict[dt.date, int] = {}
    for record in curated.releases:
        date = parse_date(record, "date")
        if date in seen:
            raise record.error(f"duplicate release date (first at line {seen[date]})",
                               key=date.isoformat(), column="date", value=date.isoformat())
        seen[date] = record.line
        for extra in sorted(set(record) - set(RELEASE_KEYS)):
            raise record.error(f"a release has no such key (keys: {', '.join(RELEASE_KEYS)})",
                               key=date.isoformat(), column=extra, value=record[extra])
        status = record.get("status")
        if status not in STATUSES:
            raise record.error(f"must be one of {list(STATUSES)}", key=date.isoformat(),
                               column="status", value=status)
        if not record.get("title"):
            raise record.error("missing required column", key=date.isoformat(), column="title")
        notes = record.get("notes") or []
        if not isinstance(notes, list) or not all(isinstance(n, str) and n.strip()
                                                  for n in notes):
            raise record.error("must be a list of sentences", key=date.isoformat(),
                               column="notes", value=notes)
        at, why = _reproduced_at(record, date)
        releases.append(Release(date, str(record["title"]), status, None, tuple(notes), at, why))
    releases.sort(key=lambda r: r.date)
    return [dataclasses.replace(r, previous=releases[i - 1].date if i else None)
            for i, r in enumerate(releases)]


def _reproduced_at(record, date: dt.date) -> tuple[str | None, str | None]:
    at, why = record.get("reproduces_at"), record.get("reproduce_note")
    if at is None:
        return None, None
    if not (isinstance(at, str) and re.fullmatch(r"[0-9a-f]{40}", at)):
        raise record.error("must be a full 40-character commit hash", key=date.isoformat(),
                           column="reproduces_at", value=at)
    if not (isinstance(why, str) and why.strip()):
        raise record.error("say why this tree no longer rebuilds it", key=date.isoformat(),
                           column="reproduce_note")
    return at, why


def find_release(releases: list[Release], key: str) -> Release:
    for release in releases:
        if release.key == key:
            return release
    raise CuratedError(f"release {key} is not declared in curated/releases.yaml "
                       f"(declared: {', '.join(r.key for r in releases) or 'none'})")


def sha256_stream(handle: BinaryIO) -> str:
    """The sha256 of an open binary file (local or fsspec), read in 1 MiB blocks."""
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return sha256_stream(handle)


def resource_problems(resources: Iterable[tuple[str, str]], present: set[str],
                      sha256_of: Callable[[str], str], shown: Callable[[str], str]) -> list[str]:
    """Each (path, expected sha256) of a datapackage.json against the release's files:
    missing, or with other bytes. `present` holds the paths that exist; `shown` names a path
    in a message. Shared by the local check and the release store's."""
    problems = []
    for name, expected in resources:
        if name not in present:
            problems.append(f"{shown(name)}: missing")
            continue
        actual = sha256_of(name)
        if actual != expected:
            problems.append(f"{shown(name)}: sha256 {actual} does not match the published "
                            f"{expected}")
    return problems


def verify_release_folder(folder: Path) -> list[str]:
    """Problems with a release folder: missing files, or files whose bytes or sha256 differ
    from datapackage.json. An empty list means every file is as published."""
    package_path = folder / "datapackage.json"
    if not package_path.is_file():
        return [f"{package_path}: missing"]
    try:
        package = json.loads(package_path.read_text(encoding="utf-8"))
    except ValueError as err:
        return [f"{package_path}: not valid JSON: {err}"]
    resources = [(r["path"], str(r.get("hash", "")).removeprefix("sha256:"))
                 for r in package.get("resources", [])]
    listed = {name for name, _ in resources}
    problems = resource_problems(resources, {n for n in listed if (folder / n).is_file()},
                                 lambda name: sha256_file(folder / name),
                                 lambda name: str(folder / name))
    for path in sorted(folder.iterdir()):
        if path.name not in listed and path.name != "datapackage.json":
            problems.append(f"{path}: not part of the published release")
    return problems
