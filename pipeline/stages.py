"""The pipeline's stages as plain functions over a project, one call per Dagster asset.

Dagster assets (pipeline/defs) only wire these together; tests and `sovai check` call them
directly."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.curation.curated import Curated, collector_paused, load_curated
from pipeline.curation.normalize import CuratedEntities, ReleaseTables, build_release_tables
from pipeline.curation.releases import Release, declared_releases, find_release
from pipeline.curation.resolve import MentionResolution, build_alias_index, resolve_mentions
from pipeline.extraction.extract import extract_mentions
from pipeline.extraction.quotes import SourceText
from pipeline.paths import ProjectPaths
from pipeline.sources.capture import Capture, capture_declared_file, latest_capture
from pipeline.validation.schemas import TableSchema, load_schemas
from pipeline.validation.validate import quotes_found


@dataclass
class CaptureReport:
    captures: dict[str, Capture]
    new: list[str] = field(default_factory=list)


def capture_sources(paths: ProjectPaths, curated: Curated) -> CaptureReport:
    """Bring every curated source's capture file into raw/ (a no-op for bytes already there)
    and return each source's latest capture. A source whose file is gone keeps its capture."""
    report = CaptureReport(captures={})
    for record in curated.sources:
        source_id = record.get("source_id")
        if capture_declared_file(paths.root, paths.raw, record):
            report.new.append(source_id)
        capture = latest_capture(paths.raw, source_id)
        if capture is not None:
            report.captures[source_id] = capture
    return report


def release_captures(captures: dict[str, Capture], curated: Curated, release: Release
                     ) -> dict[str, Capture]:
    """Only the captures of sources the release includes (published on or before its date)."""
    from pipeline.curation.curated import parse_date

    included = {r["source_id"] for r in curated.sources
                if parse_date(r, "published_on", key=r.get("source_id")) <= release.date}
    return {k: v for k, v in captures.items() if k in included}


def mentions_for(captures: dict[str, Capture]) -> pd.DataFrame:
    return extract_mentions(list(captures.values()))


def normalize(paths: ProjectPaths, curated: Curated, captures: dict[str, Capture],
              release_date: dt.date, entities: CuratedEntities | None = None) -> ReleaseTables:
    """entities: what this process read already (sovai check builds every release of one
    curated/), so that each entity is read once. The cyclic garbage collector waits
    meanwhile: the drafts of every curated entity stay alive through the build, and it would
    scan them again and again (at 100k claims normalize took 4.3 to 4.7 s of CPU with it
    paused, 5.6 to 6.1 s with it running)."""
    with collector_paused():
        return build_release_tables(curated, load_schemas(paths.schemas), captures,
                                    release_date, entities=entities)


def curated_entities(paths: ProjectPaths, curated: Curated, captures: dict[str, Capture]
                     ) -> CuratedEntities:
    """Every curated entity read and checked, whatever the release (normalize's first step,
    shared by the releases `sovai check` builds)."""
    from pipeline.curation.normalize import read_curated_entities, read_sources

    with collector_paused():
        return read_curated_entities(curated, load_schemas(paths.schemas),
                                     read_sources(curated, captures))


def resolve(paths: ProjectPaths, curated: Curated, mentions: pd.DataFrame,
            tables: ReleaseTables) -> MentionResolution:
    """Each declared mention column's cells as entity IDs. The collector waits here too: the
    alias index and the resolved rows are kept to the end, and at 1M claims its collections
    (about a thousand, over the tables normalize left) took 3.1 to 3.9 s of a 6.5 to 7.8 s
    resolve."""
    schemas = load_schemas(paths.schemas)
    with collector_paused():
        index = build_alias_index(tables.tables, {n: s.primary_key for n, s in schemas.items()})
        with_mentions = set(mentions["source_id"])  # once, not per rule (was quadratic)
        config = [r for r in curated.mention_columns if r.get("source") in with_mentions]
        return resolve_mentions(mentions, config, index)


def source_texts(tables: ReleaseTables, captures: dict[str, Capture]) -> dict[str, SourceText]:
    """The text of each source of the release (read once per process: normalize's, which
    remembers where each quote is, when normalize ran in this process)."""
    from pipeline.extraction.extract import source_text

    return {s: source_text(s, captures[s])
            for s in tables.tables["sources"]["source_id"] if s in captures}


def release_stats(tables: ReleaseTables, unresolved: pd.DataFrame,
                  texts: dict[str, SourceText]) -> dict:
    """The figures a build prints and records in the run metadata."""
    claims = tables.tables["claims"]
    quoted = claims[claims["basis"] != "external"]
    verified = int(quotes_found(quoted, texts).sum())
    return {
        "rows": {name: len(frame) for name, frame in tables.tables.items()},
        "claims": len(claims),
        "quoted_claims": len(quoted),
        "verified_quote_share": round(verified / len(quoted), 6) if len(quoted) else 1.0,
        "external_basis_values": tables.external_values,
        "conflicts": len(tables.tables["conflicts"]),
        "unresolved_mentions": len(unresolved),
        "dropped_references": len(tables.dropped_references),
        "withheld_rows": len(tables.withheld),
    }


def load_project(paths: ProjectPaths) -> tuple[Curated, dict[str, TableSchema], list[Release]]:
    curated = load_curated(paths.curated)
    return curated, load_schemas(paths.schemas), declared_releases(curated)


def release_for(paths: ProjectPaths, key: str) -> Release:
    return find_release(declared_releases(load_curated(paths.curated)), key)


def release_dir(paths: ProjectPaths, release: Release) -> Path:
    return paths.releases / release.key
