"""`sovai site`: the static site a host serves unchanged, built from releases/ only.

Layout (the data part is releases/ itself, so the loader reads either alike):

    index.html  index.json  CITATION.cff  sovai_dataset.py
    captures/<source>/<sha256>.<ext>       the pages the releases quote
    <date>/                                the release folder as published, plus
        index.html  dictionary.html  DATA_DICTIONARY.md  croissant.json  CITATION.cff
        sovereign-ai-atlas-<date>.zip  sovereign-ai-atlas-<date>.zip.sha256
        figures.html  find.html  charts/  jurisdictions/  regions/  sources/  (pageset.py)
    figures.html  find.html  find.js  charts/  jurisdictions/  regions/  sources/
                                           the latest published release's pages again

Every link is relative; nothing is fetched at view time. The same releases give the same bytes.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.curation.releases import SealedReleaseError, sha256_file, verify_release_folder
from pipeline.publishing.publish import atomic_folder, write_json, write_text
from pipeline.site.config import Publication

LOADER_NAME = "sovai_dataset.py"
_LOADER_SOURCE = Path(__file__).resolve().parent.parent / "dataset.py"
_STATIC = Path(__file__).resolve().parent / "static"


class SiteError(RuntimeError):
    """The site cannot be built from these releases (none built, or a file changed)."""


@dataclass(frozen=True)
class ReleaseDownloads:
    """The files the site adds beside a release folder's own."""

    date: str
    files: dict[str, Path]  # role -> path in the site


def archive_name(date: str) -> str:
    return f"sovereign-ai-atlas-{date}.zip"


def build_site(releases_dir: Path, out: Path, publication: Publication) -> Path:
    """Write the site to `out` atomically (a temporary folder, then a rename)."""
    index = _read_index(releases_dir)
    out = out.resolve()
    with atomic_folder(out) as tmp:
        _copy_data(releases_dir, tmp, index)
        downloads = [_release_extras(tmp / r["date"], r, publication)
                     for r in index["releases"]]
        _write_loader(tmp / LOADER_NAME, publication)
        site_index = _site_index(tmp, index, downloads)
        write_json(tmp / "index.json", site_index)
        _write_root_pages(tmp, site_index, publication)
    return out


def _read_index(releases_dir: Path) -> dict:
    path = releases_dir / "index.json"
    if not path.is_file():
        raise SiteError(f"{path}: missing; run `sovai build` first")
    index = json.loads(path.read_text(encoding="utf-8"))
    if not index.get("releases"):
        raise SiteError(f"{path}: lists no release; run `sovai build` first")
    for entry in index["releases"]:
        folder = releases_dir / entry["date"]
        problems = verify_release_folder(folder)
        if not problems and sha256_file(folder / "datapackage.json") != entry.get(
                "datapackage_sha256"):
            problems = [f"{folder / 'datapackage.json'}: sha256 does not match index.json"]
        if problems:
            raise SealedReleaseError(f"release {entry['date']}: not publishing a changed "
                                     f"release:\n  " + "\n  ".join(problems))
    return index


def _copy_data(releases_dir: Path, site: Path, index: dict) -> None:
    """The release files and the captures, byte for byte, exactly as index.json lists them."""
    listed = [f["path"] for r in index["releases"] for f in r["files"]]
    listed += [c["path"] for c in index.get("captures", [])]
    for relative in listed:
        target = site / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(releases_dir / relative, target)
    for capture in index.get("captures", []):
        if sha256_file(site / capture["path"]) != capture["sha256"]:
            raise SealedReleaseError(f"{releases_dir / capture['path']}: its bytes do not "
                                     f"match the sha256 in its name")


def _release_extras(folder: Path, entry: dict, publication: Publication) -> ReleaseDownloads:
    from pipeline.publishing.dictionary import docs_from_package, render_dictionary
    from pipeline.site.citation import citation_cff
    from pipeline.site.croissant import write_croissant
    from pipeline.site.pages import render_page

    date = entry["date"]
    package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    docs = docs_from_package(package)
    files = {
        "croissant": write_croissant(folder, folder / "croissant.json", publication),
        "citation": folder / "CITATION.cff",
        "dictionary": folder / "DATA_DICTIONARY.md",
        "dictionary_html": folder / "dictionary.html",
    }
    write_text(files["citation"], citation_cff(publication, {
        "date": date, "title": entry["title"],
        "datapackage_sha256": entry["datapackage_sha256"]}))
    write_text(files["dictionary"], render_dictionary(
        docs, intro=f"The tables of release {date}, from its datapackage.json."))
    write_text(files["dictionary_html"], render_page(
        "dictionary.html.j2", depth=1, title=f"Data dictionary, release {date}",
        release=entry, tables=docs, publication=publication))
    files["archive"] = _write_archive(folder, entry)
    checksum = folder / f"{archive_name(date)}.sha256"
    write_text(checksum, f"{sha256_file(files['archive'])}  {archive_name(date)}\n")
    files["archive_sha256"] = checksum
    return ReleaseDownloads(date, files)


def _write_archive(folder: Path, entry: dict) -> Path:
    """A zip of the release folder and the captures it cites, laid out as releases/ is
    (<date>/… and captures/…) so CHANGES.md's links work once unzipped. Fixed timestamps,
    order and permissions: the same release gives the same bytes."""
    site = folder.parent
    members = [f["path"] for f in entry["files"]]
    members += sorted(row["capture"] for row in _source_rows(folder))
    target = folder / archive_name(entry["date"])
    year, month, day = (int(part) for part in entry["date"].split("-"))
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for relative in members:
            info = zipfile.ZipInfo(relative, date_time=(year, month, day, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3  # Unix, whatever machine builds it
            zf.writestr(info, (site / relative).read_bytes(), compresslevel=9)
    return target


def _site_index(site: Path, index: dict, downloads: list[ReleaseDownloads]) -> dict:
    """releases/index.json, plus what the site adds per release and the loader."""
    by_date = {d.date: d for d in downloads}
    releases = []
    for entry in index["releases"]:
        extras = by_date[entry["date"]].files
        releases.append({**entry, "downloads": {
            role: {"path": path.relative_to(site).as_posix(), "bytes": path.stat().st_size,
                   "sha256": sha256_file(path)}
            for role, path in sorted(extras.items())}})
    loader = site / LOADER_NAME
    return {**index, "releases": releases, "loader": {
        "path": LOADER_NAME, "bytes": loader.stat().st_size, "sha256": sha256_file(loader)}}


def _write_loader(target: Path, publication: Publication) -> None:
    """pipeline/dataset.py as a single file, with the site's base URL as its default."""
    source = _LOADER_SOURCE.read_text(encoding="utf-8")
    if publication.base_url:
        source = source.replace("DEFAULT_BASE: str | None = None",
                                f"DEFAULT_BASE: str | None = {publication.base_url!r}", 1)
    write_text(target, source)


def _write_root_pages(site: Path, site_index: dict, publication: Publication) -> None:
    """CITATION.cff, find.js and every release's pages; the latest published release's
    pages also at the root, where its release page is the home (index.html)."""
    from pipeline.site.citation import citation_cff

    published = [r for r in site_index["releases"] if r["status"] == "published"]
    latest = published[-1] if published else None
    write_text(site / "CITATION.cff", citation_cff(publication, latest and {
        "date": latest["date"], "title": latest["title"],
        "datapackage_sha256": latest["datapackage_sha256"]}))
    shutil.copyfile(_STATIC / "find.js", site / "find.js")
    for entry in site_index["releases"]:
        _write_release_pages(site, entry, site_index, publication,
                             home=entry is (latest or site_index["releases"][-1]))


def _write_release_pages(site: Path, entry: dict, site_index: dict, publication: Publication,
                         *, home: bool) -> None:
    from pipeline.site.pageset import PageSet
    from pipeline.site.people_pages import write_set
    from pipeline.site.release_body import release_body
    from pipeline.site.release_data import load_release
    from pipeline.site.sections import Context

    ctx = Context(load_release(site / entry["date"]))
    body = release_body(ctx, site_index["releases"], site / entry["date"])
    sets = [(f"{entry['date']}/", "release.html.j2",
             f"Sovereign AI Atlas, release {entry['date']}")]
    if home:
        sets.append(("", "index.html.j2", "Sovereign AI Atlas"))
    for folder, template, title in sets:
        write_set(PageSet(site, folder, entry, ctx, publication), body, template,
                  title=title, releases=site_index["releases"], loader=site_index["loader"],
                  latest=entry if entry["status"] == "published" else None)


def _source_rows(folder: Path) -> list[dict]:
    """A release's sources as its page lists them, each with the path of its capture."""
    import pyarrow.parquet as pq

    from pipeline.sources.capture import published_capture_path

    rows = pq.read_table(folder / "sources.parquet", columns=[
        "source_id", "title", "url", "published_on", "date_precision", "sha256",
        "media_type"]).to_pylist()
    for row in rows:
        row["capture"] = published_capture_path(row["source_id"], row["sha256"],
                                                row["media_type"])
    return rows


