"""`sovai reproduce DATE`: rebuild a sealed release from the current tree, byte for byte.

The release is built by the pipeline's plain stages (the same functions the Dagster assets
call) into a temporary folder beside a copy of the release before it (the diff needs it), then
compared with the sealed folder file by file; for a Parquet table the first differing row is
named. Nothing under releases/ is written."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path

from pipeline.curation.releases import Release, sha256_file
from pipeline.paths import ProjectPaths


@dataclasses.dataclass
class PreparedRelease:
    """Everything a release folder is written from: the checked tables and their stats."""

    release: Release
    tables: dict
    schemas: dict
    stats: dict
    publication: object
    redirects: list[dict]


def prepare_release(paths: ProjectPaths, release: Release) -> PreparedRelease:
    """What the build's assets compute before publish, by the same plain stages."""
    from pipeline import stages
    from pipeline.site.config import load_publication
    from pipeline.validation import validate

    curated, schemas, _ = stages.load_project(paths)
    captures = stages.capture_sources(paths, curated).captures
    tables = stages.normalize(paths, curated, captures, release.date)
    mentions = stages.mentions_for(stages.release_captures(captures, curated, release))
    unresolved = stages.resolve(paths, curated, mentions, tables).unresolved
    texts = stages.source_texts(tables, captures)
    problems = validate.check_release(tables.tables, schemas, texts)
    if problems:
        raise validate.ValidationError("\n".join(problems))
    return PreparedRelease(dataclasses.replace(release, status="draft"), tables.tables,
                           schemas, stages.release_stats(tables, unresolved, texts),
                           load_publication(paths.curated),
                           [dict(r) for r in curated.redirects])


def publish_prepared(prepared: PreparedRelease, releases_dir: Path) -> Path:
    from pipeline.publishing.publish import publish_release

    return publish_release(prepared.release, prepared.tables, prepared.schemas, releases_dir,
                           publication=prepared.publication, redirects=prepared.redirects,
                           stats=prepared.stats)


def first_differing_row(sealed: Path, rebuilt: Path) -> str:
    """Where two Parquet tables first differ: schema, row count, or the first row."""
    import pyarrow.parquet as pq

    old, new = pq.read_table(sealed), pq.read_table(rebuilt)
    if old.schema != new.schema:
        added = sorted(set(new.schema.names) - set(old.schema.names))
        dropped = sorted(set(old.schema.names) - set(new.schema.names))
        return (f"schema differs (columns added {added or 'none'}, dropped "
                f"{dropped or 'none'}, or types changed)")
    if old.num_rows != new.num_rows:
        return f"{old.num_rows} rows sealed, {new.num_rows} rebuilt"
    for index, (a, b) in enumerate(zip(old.to_pylist(), new.to_pylist(), strict=True)):
        if a != b:
            columns = [c for c in a if a[c] != b[c]]
            first = next(iter(a.values()))
            return (f"row {index} ({first!r}) differs in {', '.join(columns)}: sealed "
                    f"{a[columns[0]]!r}, rebuilt {b[columns[0]]!r}")
    return "same rows, different bytes (encoding or metadata)"


def compare_folders(sealed: Path, rebuilt: Path) -> list[str]:
    """Every file that differs between a sealed release folder and its rebuild."""
    names = {p.name for p in sealed.iterdir()} | {p.name for p in rebuilt.iterdir()}
    problems = []
    for name in sorted(names):
        a, b = sealed / name, rebuilt / name
        if not b.is_file():
            problems.append(f"{name}: in the sealed release, not rebuilt")
        elif not a.is_file():
            problems.append(f"{name}: rebuilt, not in the sealed release")
        elif sha256_file(a) != sha256_file(b):
            detail = first_differing_row(a, b) if name.endswith(".parquet") else "bytes differ"
            problems.append(f"{name}: {detail}")
    return problems


def reproduce_release(paths: ProjectPaths, release: Release) -> list[str]:
    """Rebuild `release` from the current tree and list what differs from the sealed folder
    (empty: byte for byte the same)."""
    sealed = paths.releases / release.key
    with tempfile.TemporaryDirectory(prefix="sovai-reproduce-") as work:
        scratch = Path(work)
        if release.previous is not None:
            previous = release.previous.isoformat()
            shutil.copytree(paths.releases / previous, scratch / previous)
        rebuilt = publish_prepared(prepare_release(paths, release), scratch)
        return compare_folders(sealed, rebuilt)
