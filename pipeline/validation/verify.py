"""`sovai verify`: every published byte checked against the checksums recorded at sealing.

Three links hold a sealed release: each file's sha256 is in its datapackage.json; the
datapackage.json's own sha256 is in releases/index.json, in an entry the build writes when the
release is first sealed and never rewrites (the anchor); captures are named by their sha256.
A file changed with its new hash written into datapackage.json still breaks the second link."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.curation.releases import (
    Release,
    SealedReleaseError,
    resource_problems,
    sha256_file,
    sha256_stream,
    verify_release_folder,
)
from pipeline.sources.capture import CAPTURES

INDEX = "index.json"
PUBLISHED = "published"


def read_anchors(releases_dir: Path) -> dict[str, str]:
    """The datapackage.json sha256 of every release index.json records as published."""
    path = releases_dir / INDEX
    if not path.is_file():
        return {}
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
        return {entry["date"]: entry["datapackage_sha256"] for entry in index["releases"]
                if entry.get("status") == PUBLISHED}
    except (ValueError, KeyError, TypeError) as err:
        raise SealedReleaseError(f"{path}: not a valid release index ({err}); restore it "
                                 f"from git: it holds the checksums of the sealed releases"
                                 ) from None


def sealed_release_problems(folder: Path, anchor: str | None) -> list[str]:
    """A sealed release folder against its datapackage.json and that against its anchor."""
    if not folder.is_dir():
        return [f"{folder}: missing (a published release is never rebuilt: restore it from "
                f"git)"]
    problems = verify_release_folder(folder)
    package = folder / "datapackage.json"
    actual = sha256_file(package) if anchor is not None and package.is_file() else anchor
    if actual != anchor:
        problems.append(f"{package}: sha256 {actual} is not the {anchor} recorded in {INDEX} "
                        f"when the release was sealed")
    return problems


def capture_problems(folder: Path, *, sidecars: bool) -> list[str]:
    """Content-addressed captures (raw/ or releases/captures/): each file's sha256 is its
    name, and in raw/ each capture has a sidecar that records the same sha256 and size."""
    problems = []
    if not folder.is_dir():
        return problems
    for path in sorted(p for p in folder.glob("*/*") if p.is_file()):
        if path.suffix == ".json" and sidecars:
            continue
        digest, actual = path.name.split(".")[0], sha256_file(path)
        if actual != digest:
            problems.append(f"{path}: sha256 {actual} is not the {digest} it is named by")
        if sidecars:
            problems += _sidecar_problems(path, digest)
    return problems


def _sidecar_problems(path: Path, digest: str) -> list[str]:
    sidecar = path.with_name(f"{digest}.json")
    if not sidecar.is_file():
        return [f"{sidecar}: missing (every capture has a sidecar)"]
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except ValueError as err:
        return [f"{sidecar}: not valid JSON: {err}"]
    if meta.get("sha256") != digest or meta.get("bytes") != path.stat().st_size:
        return [f"{sidecar}: records sha256 {meta.get('sha256')} and {meta.get('bytes')} "
                f"bytes, the capture has {digest} and {path.stat().st_size}"]
    return []


def stray_entries(releases_dir: Path, declared: set[str]) -> list[str]:
    """What releases/ holds beyond the declared release folders, captures/ and index.json:
    a leftover temporary folder of an interrupted build, or a file nobody published."""
    if not releases_dir.is_dir():
        return []
    known = declared | {CAPTURES, INDEX}
    return [f"{path}: not part of any declared release"
            for path in sorted(releases_dir.iterdir()) if path.name not in known]


def verify_project(releases_dir: Path, raw_dir: Path, releases: list[Release],
                   keys: list[str] | None = None) -> list[str]:
    """Every problem `sovai verify` reports, with the file it is in."""
    anchors = read_anchors(releases_dir)
    wanted = [r for r in releases if r.sealed and (not keys or r.key in keys)]
    problems = []
    for release in wanted:
        problems += sealed_release_problems(releases_dir / release.key, anchors.get(release.key))
    for key in sorted(anchors):
        if key not in {r.key for r in releases if r.sealed}:
            problems.append(f"{releases_dir / INDEX}: records {key} as published, but "
                            f"curated/releases.yaml does not")
    problems += capture_problems(releases_dir / CAPTURES, sidecars=False)
    problems += capture_problems(raw_dir, sidecars=True)
    problems += stray_entries(releases_dir, {r.key for r in releases})
    return problems


# --- the same checks through a filesystem (a release store: a folder or object storage) ------


def sha256_through(fs, path: str) -> str:
    """The sha256 of a file on any fsspec filesystem."""
    with fs.open(path, "rb") as handle:
        return sha256_stream(handle)


def store_release_problems(fs, folder: str, anchor: str | None) -> list[str]:
    """sealed_release_problems for a release folder on an fsspec filesystem: its
    datapackage.json against the anchor, each file against datapackage.json, and any file
    there that the release does not list. `fs` is an fsspec filesystem, `folder` a path on
    it (no protocol)."""
    package_path = f"{folder}/datapackage.json"
    present = {path.removeprefix(f"{folder}/") for path in fs.find(folder)}
    if "datapackage.json" not in present:
        return [f"{package_path}: missing"]
    actual = sha256_through(fs, package_path)
    if anchor is not None and actual != anchor:
        return [f"{package_path}: sha256 {actual} is not the {anchor} recorded in {INDEX} "
                f"when the release was sealed"]
    try:
        package = json.loads(fs.cat_file(package_path).decode("utf-8"))
        resources = {r["path"]: str(r.get("hash", "")).removeprefix("sha256:")
                     for r in package["resources"]}
    except (ValueError, KeyError, TypeError) as err:
        return [f"{package_path}: not a valid datapackage.json ({err})"]
    problems = resource_problems(sorted(resources.items()), present,
                                 lambda name: sha256_through(fs, f"{folder}/{name}"),
                                 lambda name: f"{folder}/{name}")
    problems += [f"{folder}/{name}: not part of the published release"
                 for name in sorted(present - set(resources) - {"datapackage.json"})]
    return problems
