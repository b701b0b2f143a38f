"""Dagster assets of the Atlas, grouped by stage and partitioned by release date.

Each asset is a thin call into pipeline.stages; validation runs as blocking asset checks, so a
failed check stops the run before publish."""


import datetime as dt
from pathlib import Path

import dagster as dg
import pandas as pd

from pipeline import stages, validate
from pipeline.curated import Curated, load_curated
from pipeline.normalize import ReleaseTables
from pipeline.paths import ProjectPaths, default_root, project_paths
from pipeline.publish import check_sealed, publish_release, refresh_release_index
from pipeline.releases import declared_releases
from pipeline.schemas import load_schemas
from pipeline.site.config import load_publication


class AtlasSettings(dg.ConfigurableResource):
    """Where the project lives and where releases are written (`sovai build --out`)."""

    root: str = str(default_root())
    releases_dir: str = ""
    site_dir: str = ""  # where the release_site asset writes (default: site/ in the root)

    def paths(self) -> ProjectPaths:
        return project_paths(self.root, self.releases_dir or None)


def release_partitions(root: Path) -> dg.StaticPartitionsDefinition:
    curated = load_curated(root / "curated")
    return dg.StaticPartitionsDefinition([r.key for r in declared_releases(curated)])


def build_atlas_definitions(root: Path) -> dict:
    partitions = release_partitions(root)
    schemas = load_schemas(root / "schemas")

    def release_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
                   settings: AtlasSettings):
        return stages.release_for(settings.paths(), context.partition_key)

    @dg.asset(group_name="curated", partitions_def=partitions,
              description="Everything in curated/: releases, sources, entities with claims.")
    def curated_records(settings: AtlasSettings) -> Curated:
        return load_curated(settings.paths().curated)

    @dg.asset(group_name="capture", partitions_def=partitions,
              description="Content-addressed captures in raw/ of every curated source: the "
                          "latest capture of each. Quotes are verified against all of them; "
                          "the release uses those published on or before its date.")
    def source_captures(context: dg.AssetExecutionContext, settings: AtlasSettings,
                        curated_records: Curated) -> dict:
        paths = settings.paths()
        report = stages.capture_sources(paths, curated_records)
        release = release_of(context, settings)
        included = stages.release_captures(report.captures, curated_records, release)
        context.add_output_metadata({
            "sources": len(report.captures),
            "sources_in_release": len(included),
            "new_captures": len(report.new),
            "sha256": dg.MetadataValue.json(
                {k: v.sha256 for k, v in sorted(report.captures.items())}),
        })
        return report.captures

    @dg.asset(group_name="extract", partitions_def=partitions,
              description="Table cells of the release's captures, with a locator and the raw "
                          "text.")
    def table_mentions(context: dg.AssetExecutionContext, settings: AtlasSettings,
                       curated_records: Curated, source_captures: dict) -> pd.DataFrame:
        release = release_of(context, settings)
        mentions = stages.mentions_for(
            stages.release_captures(source_captures, curated_records, release))
        context.add_output_metadata({"mentions": len(mentions)})
        return mentions

    @dg.asset(group_name="normalize", partitions_def=partitions,
              description="The published tables of the release, built from curated records "
                          "whose claims come from the included sources.")
    def release_tables(context: dg.AssetExecutionContext, settings: AtlasSettings,
                       curated_records: Curated, source_captures: dict) -> ReleaseTables:
        release = release_of(context, settings)
        tables = stages.normalize(settings.paths(), curated_records, source_captures,
                                  release.date)
        context.add_output_metadata({f"rows_{k}": len(v) for k, v in tables.tables.items()}
                                    | {"external_basis_values": tables.external_values})
        return tables

    @dg.asset(group_name="normalize", partitions_def=partitions,
              description="Names in table cells that resolved to no ID: a report, never "
                          "dropped silently.")
    def unresolved_mentions(context: dg.AssetExecutionContext, settings: AtlasSettings,
                            curated_records: Curated, table_mentions: pd.DataFrame,
                            release_tables: ReleaseTables) -> pd.DataFrame:
        resolution = stages.resolve(settings.paths(), curated_records, table_mentions,
                                    release_tables)
        unresolved = resolution.unresolved
        context.add_output_metadata({
            "resolved": len(resolution.resolved),
            "unresolved": len(unresolved),
            "declared_not_entities": len(resolution.set_aside),
            "preview": dg.MetadataValue.md(unresolved.head(30).to_markdown(index=False)
                                           if len(unresolved) else "none"),
        })
        return unresolved

    checks = []
    for name in schemas:
        if name == "changes":
            continue
        checks.append(_schema_check(name, partitions))

    @dg.asset_check(asset=release_tables, blocking=True, partitions_def=partitions,
                    description="Every ID a table points to exists in the release.")
    def foreign_keys(release_tables: ReleaseTables) -> dg.AssetCheckResult:
        return _result(validate.check_foreign_keys(release_tables.tables, schemas))

    @dg.asset_check(asset=release_tables, blocking=True, partitions_def=partitions,
                    description="Every published value has at least one claim.")
    def claim_coverage(release_tables: ReleaseTables) -> dg.AssetCheckResult:
        return _result(validate.check_claim_coverage(release_tables.tables, schemas))

    @dg.asset_check(asset=release_tables, blocking=True, partitions_def=partitions,
                    additional_ins={"source_captures": dg.AssetIn()},
                    description="Every quote occurs in its source's capture (whitespace "
                                "folded, nothing else).")
    def quotes_verified(release_tables: ReleaseTables, source_captures: dict
                        ) -> dg.AssetCheckResult:
        texts = stages.source_texts(release_tables, source_captures)
        return _result(validate.check_quotes(release_tables.tables["claims"], texts))

    @dg.asset(group_name="publish", partitions_def=partitions,
              description="The release folder releases/<date>/, written once, atomically, "
                          "with its diff against the previous release.")
    def release_folder(context: dg.AssetExecutionContext, settings: AtlasSettings,
                       curated_records: Curated, source_captures: dict,
                       release_tables: ReleaseTables, unresolved_mentions: pd.DataFrame
                       ) -> dg.MaterializeResult:
        paths = settings.paths()
        releases = declared_releases(curated_records)
        release = release_of(context, settings)
        statuses = {r.key: r.status for r in releases}
        if release.sealed:
            check_sealed(release, paths.releases)
            refresh_release_index(paths.releases, paths.raw, statuses)
            return dg.MaterializeResult(metadata={"sealed": True, "verified": True})
        texts = stages.source_texts(release_tables, source_captures)
        # Defence in depth: the blocking checks ran already; publish re-checks cheaply so that
        # nothing invalid is written even if a check was skipped.
        problems = validate.check_release(release_tables.tables, schemas, texts)
        if problems:
            raise validate.ValidationError("\n".join(problems))
        stats = stages.release_stats(release_tables, unresolved_mentions, texts)
        target = publish_release(release, release_tables.tables, schemas, paths.releases,
                                 publication=load_publication(paths.curated),
                                 redirects=[dict(r) for r in curated_records.redirects],
                                 stats=stats)
        refresh_release_index(paths.releases, paths.raw, statuses)
        return dg.MaterializeResult(metadata={
            "path": str(target),
            **{f"rows_{k}": v for k, v in stats["rows"].items()},
            **{k: v for k, v in stats.items() if k != "rows"},
        })

    assets = [curated_records, source_captures, table_mentions, release_tables,
              unresolved_mentions, release_folder]
    return {
        "assets": assets,
        "asset_checks": checks + [foreign_keys, claim_coverage, quotes_verified],
        "partitions": partitions,
    }


def _result(messages: list[str]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=not messages,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"failures": len(messages),
                  "details": dg.MetadataValue.md("\n".join(f"- {m}" for m in messages)
                                                 or "none")},
        description=messages[0] if messages else None,
    )


def _schema_check(table: str, partitions: dg.PartitionsDefinition) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset="release_tables", name=f"{table}_schema", blocking=True,
                    partitions_def=partitions,
                    description=f"pandera: the {table} table matches schemas/{table}.yaml.")
    def schema_check(settings: AtlasSettings, release_tables: ReleaseTables
                     ) -> dg.AssetCheckResult:
        schema = load_schemas(settings.paths().schemas)[table]
        return _result(validate.check_schema(schema, release_tables.tables[table]))

    return schema_check


def today() -> dt.date:
    return dt.date.today()
