"""publish: a release folder written once, atomically (a temporary folder, then a rename), with
its diff against the previous release, datapackage.json and an updated releases/index.json."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow
import pyarrow.parquet as pq

from pipeline.curation.releases import Release, SealedReleaseError, sha256_file
from pipeline.site.config import DESCRIPTION, Publication
from pipeline.sources.capture import CAPTURES, published_capture_path, write_atomic
from pipeline.validation.schemas import TableSchema, to_arrow

PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"


def write_parquet(table: pyarrow.Table, path: Path) -> None:
    """Deterministic Parquet: same rows, same bytes (no pandas metadata, no timestamps)."""
    pq.write_table(table, path, compression="zstd", compression_level=9,
                   write_statistics=True, store_schema=False)


def write_tables(folder: Path, tables: dict[str, pyarrow.Table]) -> None:
    """Each table as folder/<name>.parquet. Compression runs with the GIL released, so two
    threads keep two cores busy, the largest table first (a 1M-claim release's files: 3.7 s
    against 4.7 s one after another); each file's bytes are what write_parquet writes alone.
    Every write has ended when this returns or raises."""
    def write(name: str) -> None:
        write_parquet(tables[name], folder / f"{name}.parquet")

    largest_first = sorted(tables, key=lambda name: -tables[name].nbytes)
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(write, largest_first))


def write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")


def write_json(path: Path, data: Any) -> None:
    """JSON as every published file has it: indented, UTF-8, one final newline."""
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """A temporary folder beside `target` that replaces it in one rename when the block
    succeeds, and is removed when it fails: nothing half-written is ever at `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        swap_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _citation(release: Release, publication: Publication) -> str:
    licence = publication.data_license.replace("CC-BY-", "CC BY ")
    return (f"Sovereign AI Atlas, release {release.key} (\"{release.title}\"). "
            f"Dataset, {licence}.")


def _source_descriptor(row: Any, release: Release, publication: Publication) -> dict:
    """A source as the package lists it: its own URL, else its capture in the site (absolute
    under the base URL when one is set, else relative to the release folder)."""
    capture = published_capture_path(row.source_id, row.sha256, row.media_type)
    path = (row.url if isinstance(row.url, str) and row.url
            else publication.url(capture) or f"../{capture}")
    return {"title": row.title, "path": path, "source_id": row.source_id,
            "published_on": row.published_on.isoformat(), "sha256": row.sha256}


def _changes_schema() -> dict:
    """changes.parquet's Table Schema: without one, a validator guesses types from the first
    rows (and took `field` for a year-month in 2026-05-31)."""
    from pipeline.publishing.diff import CHANGE_VALUES, CHANGES_COLUMNS, CHANGES_DESCRIPTIONS

    fields = []
    for name in CHANGES_COLUMNS:
        field: dict[str, Any] = {"name": name, "type": "string",
                                 "description": CHANGES_DESCRIPTIONS[name]}
        constraints: dict[str, Any] = {"required": True} if name in (
            "table_name", "change", "kind") else {}
        if name in CHANGE_VALUES:
            constraints["enum"] = CHANGE_VALUES[name]
        if constraints:
            field["constraints"] = constraints
        fields.append(field)
    return {"fields": fields}


def build_datapackage(folder: Path, release: Release, schemas: dict[str, TableSchema],
                      tables: dict[str, pd.DataFrame], changes_rows: int,
                      stats: dict[str, Any], publication: Publication) -> dict:
    resources = []
    for name, frame in tables.items():
        path = folder / f"{name}.parquet"
        resources.append({
            "name": name,
            "title": schemas[name].title,
            "description": schemas[name].description,
            "path": path.name,
            "type": "table",
            "format": "parquet",
            "mediatype": PARQUET_MEDIA_TYPE,
            "bytes": path.stat().st_size,
            "hash": f"sha256:{sha256_file(path)}",
            "rows": len(frame),
            "schema": schemas[name].frictionless(),
        })
    for file_name, description, extra in (
        ("changes.parquet", "The diff against the previous release: one row per added, removed "
         "or renamed entity and per changed field.", {"rows": changes_rows, "format": "parquet",
                                                       "mediatype": PARQUET_MEDIA_TYPE,
                                                       "schema": _changes_schema()}),
        ("CHANGES.md", "The same diff, for people.", {"format": "md",
                                                       "mediatype": "text/markdown"}),
    ):
        path = folder / file_name
        resources.append({
            "name": file_name.split(".")[0].lower() if file_name != "CHANGES.md" else
            "changes-notes",
            "path": file_name, "description": description, **extra,
            "bytes": path.stat().st_size, "hash": f"sha256:{sha256_file(path)}",
        })
    sources = tables["sources"]
    # With a base URL the package names where it lives; its resource paths stay relative, so
    # a downloaded copy validates and loads offline.
    homepage = publication.url(f"{release.key}/index.html")
    located = ({"id": publication.url(f"{release.key}/datapackage.json"), "homepage": homepage}
               if homepage else {})
    return {
        "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
        **located,
        "name": "sovereign-ai-atlas",
        "title": f"Sovereign AI Atlas — {release.title}",
        "description": DESCRIPTION,
        "version": release.key,
        "created": f"{release.key}T00:00:00Z",
        "previous": release.previous.isoformat() if release.previous else None,
        "licenses": [publication.data_license_descriptor()],
        "citation": _citation(release, publication),
        "sources": [_source_descriptor(row, release, publication)
                    for row in sources.itertuples(index=False)],
        "stats": stats,
        "resources": resources,
    }


def publish_release(
    release: Release,
    tables: dict[str, pd.DataFrame],
    schemas: dict[str, TableSchema],
    releases_dir: Path,
    *,
    publication: Publication,
    redirects: list[dict] | None = None,
    stats: dict[str, Any] | None = None,
) -> Path:
    """Write releases_dir/<date>/ atomically. A sealed (published) release is never rewritten."""
    from pipeline.publishing.changes_md import render_changes_md
    from pipeline.publishing.diff import changes_to_arrow, diff_release_dirs, reconcile_counts

    target = releases_dir / release.key
    if release.sealed and target.exists():
        raise SealedReleaseError(f"release {release.key} is published (sealed): refusing to "
                                 f"overwrite {target}")
    previous_dir = releases_dir / release.previous.isoformat() if release.previous else None
    if previous_dir is not None and not (previous_dir / "datapackage.json").is_file():
        raise FileNotFoundError(f"release {release.key} needs the previous release "
                                f"{release.previous} at {previous_dir}; build it first")
    with atomic_folder(target) as tmp:
        write_tables(tmp, {name: to_arrow(schemas[name], frame)
                           for name, frame in tables.items()})
        primary_keys = {name: schemas[name].primary_key for name in tables}
        changes = diff_release_dirs(previous_dir, tmp, primary_keys=primary_keys,
                                    redirects=redirects)
        counts = reconcile_counts(changes, previous_dir, tmp)
        write_parquet(changes_to_arrow(changes), tmp / "changes.parquet")
        notes = render_changes_md(changes, tmp, old_label=previous_dir.name if previous_dir
                                  else None, new_label=release.key, counts=counts,
                                  old_dir=previous_dir, stats=stats, schemas=schemas,
                                  curator_notes=release.notes)
        write_text(tmp / "CHANGES.md", notes)
        package = build_datapackage(tmp, release, schemas, tables, len(changes), stats or {},
                                    publication)
        write_json(tmp / "datapackage.json", package)
    return target


def recover_interrupted(releases_dir: Path) -> list[str]:
    """Undo what a killed build left in releases/ (call it holding the project's lock): a
    temporary folder or index is removed; a folder moved aside for a swap that never finished
    goes back in place, and one whose replacement is in place is removed. Says what it did."""
    done: list[str] = []
    if not releases_dir.is_dir():
        return done
    for path in sorted(releases_dir.iterdir()):
        if path.name.startswith(".tmp-"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
            done.append(f"removed {path.name}, left by an interrupted build")
        elif path.name.startswith(".old-") and path.is_dir():
            name = path.name.removeprefix(".old-").rsplit("-", 1)[0]
            if (releases_dir / name).exists():
                shutil.rmtree(path)
                done.append(f"removed {path.name}: {name} was already replaced")
            else:
                os.rename(path, releases_dir / name)
                done.append(f"restored {name} from {path.name}: its replacement never "
                            f"finished")
    return done


def swap_into_place(tmp: Path, target: Path) -> None:
    """Rename the finished folder into place; an old draft is moved aside first, then removed."""
    if target.exists():
        aside = target.with_name(f".old-{target.name}-{os.getpid()}")
        os.rename(target, aside)
        os.rename(tmp, target)
        shutil.rmtree(aside)
    else:
        os.rename(tmp, target)


def check_sealed(release: Release, releases_dir: Path) -> None:
    """A published release is verified, never rebuilt: every file must match its checksum in
    datapackage.json, and datapackage.json the checksum index.json recorded at sealing."""
    from pipeline.validation.verify import read_anchors, sealed_release_problems

    problems = sealed_release_problems(releases_dir / release.key,
                                       read_anchors(releases_dir).get(release.key))
    if problems:
        raise SealedReleaseError(f"release {release.key} is sealed, but " + "; ".join(problems))


def write_index(releases_dir: Path, statuses: dict[str, str]) -> Path:
    """releases/index.json from the release folders present, oldest first. Status comes from
    curated/releases.yaml, not from the folder, so sealing a release changes none of its files.
    Paths are relative to index.json, so a served copy of releases/ and a built site read the
    same; each release names the sha256 of its datapackage.json (what a citation gives)."""
    entries = []
    for folder in sorted(p for p in releases_dir.iterdir()
                         if p.is_dir() and not p.name.startswith(".")):
        package_path = folder / "datapackage.json"
        if not package_path.is_file():
            continue
        entries.append(_index_entry(folder, statuses.get(folder.name, "undeclared")))
    _keep_anchors(releases_dir, entries, statuses)
    index = {"releases": entries, "captures": _capture_entries(releases_dir)}
    index_path = releases_dir / "index.json"
    fd, tmp = tempfile.mkstemp(dir=releases_dir, prefix=".tmp-index-")
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(json.dumps(index, indent=2, ensure_ascii=False) + "\n")
    os.chmod(tmp, 0o644)  # served as is by a static host
    os.replace(tmp, index_path)
    return index_path


def _keep_anchors(releases_dir: Path, entries: list[dict], statuses: dict[str, str]) -> None:
    """index.json's entry for a sealed release is written once, when it is first sealed, and
    never rewritten: a rewrite would replace the checksum that proves the folder unchanged."""
    from pipeline.validation.verify import read_anchors

    listed = {entry["date"]: entry for entry in entries}
    for key, anchor in read_anchors(releases_dir).items():
        if statuses.get(key) != "published":
            continue
        if key not in listed:
            raise SealedReleaseError(f"release {key} is published but its folder is missing "
                                     f"from {releases_dir}; restore it from git")
        if listed[key]["datapackage_sha256"] != anchor:
            raise SealedReleaseError(
                f"{releases_dir / key / 'datapackage.json'}: sha256 "
                f"{listed[key]['datapackage_sha256']} is not the {anchor} recorded in "
                f"index.json when release {key} was sealed; restore the folder from git")


def _index_entry(folder: Path, status: str) -> dict:
    package_path = folder / "datapackage.json"
    package = json.loads(package_path.read_text(encoding="utf-8"))
    prefix = f"{folder.name}/"
    files = [{"path": prefix + "datapackage.json", "bytes": package_path.stat().st_size,
              "sha256": sha256_file(package_path)}]
    files += [{"path": prefix + r["path"], "bytes": r["bytes"],
               "sha256": r["hash"].removeprefix("sha256:")} for r in package["resources"]]
    return {
        "date": package["version"],
        "title": package["title"].split(" — ", 1)[-1],
        "status": status,
        "previous": package.get("previous"),
        "path": prefix,
        "datapackage_sha256": files[0]["sha256"],
        "tables": {r["name"]: {"rows": r["rows"], "sha256": r["hash"].removeprefix("sha256:"),
                               "path": prefix + r["path"]}
                   for r in package["resources"] if r.get("type") == "table"},
        "files": sorted(files, key=lambda f: f["path"]),
        "sources": [s["source_id"] for s in package.get("sources", [])],
    }


def _capture_entries(releases_dir: Path) -> list[dict]:
    folder = releases_dir / CAPTURES
    if not folder.is_dir():
        return []
    return [{"path": path.relative_to(releases_dir).as_posix(), "source_id": path.parent.name,
             "bytes": path.stat().st_size, "sha256": path.name.split(".")[0]}
            for path in sorted(folder.glob("*/*")) if path.is_file()]


def publish_captures(releases_dir: Path, raw_dir: Path) -> list[Path]:
    """releases/captures/<source>/<sha256>.<ext>: every capture a release in releases_dir was
    built from (its sources table), copied from raw/, so a release's quotes can be checked
    without this repository and CHANGES.md can link them. Content-addressed and append-only:
    an existing file is never rewritten. Returns the files added."""
    added = []
    for folder in sorted(p for p in releases_dir.iterdir()
                         if p.is_dir() and (p / "sources.parquet").is_file()
                         and not p.name.startswith(".")):
        sources = pq.read_table(folder / "sources.parquet",
                                columns=["source_id", "sha256", "media_type"]).to_pylist()
        for row in sources:
            relative = published_capture_path(row["source_id"], row["sha256"],
                                              row["media_type"])
            target = releases_dir / relative
            if target.is_file():
                continue
            origin = raw_dir / relative.removeprefix(f"{CAPTURES}/")
            if not origin.is_file() or sha256_file(origin) != row["sha256"]:
                raise FileNotFoundError(f"{folder.name}/sources.parquet: source "
                                        f"{row['source_id']!r} was built from capture "
                                        f"{row['sha256']}, which raw/ no longer holds at "
                                        f"{origin}")
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target, origin.read_bytes())
            os.chmod(target, 0o644)  # served as is by a static host
            added.append(target)
    return added


def refresh_release_index(releases_dir: Path, raw_dir: Path, statuses: dict[str, str]) -> Path:
    """After any build: the captures the releases cite, then index.json listing them."""
    publish_captures(releases_dir, raw_dir)
    return write_index(releases_dir, statuses)
