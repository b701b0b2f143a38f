"""publish: a release folder written once, atomically (a temporary folder, then a rename), with
its diff against the previous release, datapackage.json and an updated releases/index.json."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow
import pyarrow.parquet as pq

from pipeline.releases import Release, SealedReleaseError, sha256_file, verify_release_folder
from pipeline.schemas import TableSchema, to_arrow

LICENSE = {
    "name": "CC-BY-4.0",
    "path": "https://creativecommons.org/licenses/by/4.0/",
    "title": "Creative Commons Attribution 4.0",
}
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"


def write_parquet(table: pyarrow.Table, path: Path) -> None:
    """Deterministic Parquet: same rows, same bytes (no pandas metadata, no timestamps)."""
    pq.write_table(table, path, compression="zstd", compression_level=9,
                   write_statistics=True, store_schema=False)


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")


def _citation(release: Release) -> str:
    return (f"Sovereign AI Atlas, release {release.key} (\"{release.title}\"). "
            f"Dataset, CC BY 4.0.")


def build_datapackage(folder: Path, release: Release, schemas: dict[str, TableSchema],
                      tables: dict[str, pd.DataFrame], changes_rows: int,
                      stats: dict[str, Any]) -> dict:
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
                                                       "mediatype": PARQUET_MEDIA_TYPE}),
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
    return {
        "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
        "name": "sovereign-ai-atlas",
        "title": f"Sovereign AI Atlas — {release.title}",
        "description": "Who controls which layer of AI, country by country: models and labs, "
                       "jurisdictions, licences and open weights, national AI projects, "
                       "investments, and the figures reports quote. Every value has a claim "
                       "with the exact quote from a captured source.",
        "version": release.key,
        "created": f"{release.key}T00:00:00Z",
        "previous": release.previous.isoformat() if release.previous else None,
        "licenses": [LICENSE],
        "citation": _citation(release),
        "sources": [
            {"title": row.title, **({"path": row.url} if isinstance(row.url, str) else {}),
             "source_id": row.source_id, "published_on": row.published_on.isoformat(),
             "sha256": row.sha256}
            for row in sources.itertuples(index=False)
        ],
        "stats": stats,
        "resources": resources,
    }


def publish_release(
    release: Release,
    tables: dict[str, pd.DataFrame],
    schemas: dict[str, TableSchema],
    releases_dir: Path,
    *,
    redirects: list[dict] | None = None,
    stats: dict[str, Any] | None = None,
) -> Path:
    """Write releases_dir/<date>/ atomically. A sealed (published) release is never rewritten."""
    from pipeline.changes_md import render_changes_md
    from pipeline.diff import changes_to_arrow, diff_release_dirs, reconcile_counts

    target = releases_dir / release.key
    if release.sealed and target.exists():
        raise SealedReleaseError(f"release {release.key} is published (sealed): refusing to "
                                 f"overwrite {target}")
    previous_dir = releases_dir / release.previous.isoformat() if release.previous else None
    if previous_dir is not None and not (previous_dir / "datapackage.json").is_file():
        raise FileNotFoundError(f"release {release.key} needs the previous release "
                                f"{release.previous} at {previous_dir}; build it first")
    releases_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{release.key}-", dir=releases_dir))
    try:
        for name, frame in tables.items():
            write_parquet(to_arrow(schemas[name], frame), tmp / f"{name}.parquet")
        primary_keys = {name: schemas[name].primary_key for name in tables}
        changes = diff_release_dirs(previous_dir, tmp, primary_keys=primary_keys,
                                    redirects=redirects)
        counts = reconcile_counts(changes, previous_dir, tmp)
        write_parquet(changes_to_arrow(changes), tmp / "changes.parquet")
        notes = render_changes_md(changes, tmp, old_label=previous_dir.name if previous_dir
                                  else None, new_label=release.key, counts=counts,
                                  old_dir=previous_dir, stats=stats, schemas=schemas)
        _write_text(tmp / "CHANGES.md", notes)
        package = build_datapackage(tmp, release, schemas, tables, len(changes), stats or {})
        _write_text(tmp / "datapackage.json", json.dumps(package, indent=2, ensure_ascii=False)
                    + "\n")
        os.chmod(tmp, 0o755)
        _swap_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _swap_into_place(tmp: Path, target: Path) -> None:
    """Rename the finished folder into place; an old draft is moved aside first, then removed."""
    if target.exists():
        aside = target.with_name(f".old-{target.name}-{os.getpid()}")
        os.rename(target, aside)
        os.rename(tmp, target)
        shutil.rmtree(aside)
    else:
        os.rename(tmp, target)


def check_sealed(release: Release, releases_dir: Path) -> None:
    """A published release is verified, never rebuilt: every file must match its checksum."""
    folder = releases_dir / release.key
    if not folder.is_dir():
        raise SealedReleaseError(f"release {release.key} is published but {folder} is missing; "
                                 f"restore it from git (a published release is never rebuilt)")
    problems = verify_release_folder(folder)
    if problems:
        raise SealedReleaseError(f"release {release.key} is sealed but its files changed:\n  "
                                 + "\n  ".join(problems))


def write_index(releases_dir: Path, statuses: dict[str, str]) -> Path:
    """releases/index.json from the release folders present, oldest first. Status comes from
    curated/releases.yaml, not from the folder, so sealing a release changes none of its files."""
    entries = []
    for folder in sorted(p for p in releases_dir.iterdir()
                         if p.is_dir() and not p.name.startswith(".")):
        package_path = folder / "datapackage.json"
        if not package_path.is_file():
            continue
        package = json.loads(package_path.read_text(encoding="utf-8"))
        status = statuses.get(folder.name, "undeclared")
        entries.append({
            "date": package["version"],
            "title": package["title"].split(" — ", 1)[-1],
            "status": status,
            "previous": package.get("previous"),
            "tables": {r["name"]: {"rows": r["rows"], "sha256": r["hash"].removeprefix("sha256:")}
                       for r in package["resources"] if r.get("type") == "table"},
            "sources": [s["source_id"] for s in package.get("sources", [])],
        })
    index_path = releases_dir / "index.json"
    fd, tmp = tempfile.mkstemp(dir=releases_dir, prefix=".tmp-index-")
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(json.dumps({"releases": entries}, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, index_path)
    return index_path
