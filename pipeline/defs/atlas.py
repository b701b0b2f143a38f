"""Dagster assets of the Atlas, grouped by stage and partitioned by release date.

curated_records and source_captures → table_mentions → (normalize) one asset per published
table, normalize_report, unresolved_mentions → release_folder. Each asset is a thin call into
pipeline.stages; values pass between steps as files (pipeline.defs.storage); validation runs
as blocking asset checks on the tables (pipeline.defs.checks), so a failed check stops the run
before publish. A sealed release is never rebuilt: pipeline.defs.sealed records it."""

from pathlib import Path

import dagster as dg
import pandas as pd

from pipeline import stages
from pipeline.curation.curated import Curated, load_curated, load_table_records
from pipeline.curation.normalize import ReleaseTables
from pipeline.curation.releases import Release, declared_releases, find_release
from pipeline.paths import ProjectPaths, default_root, project_paths
from pipeline.publishing.publish import check_sealed, publish_release, refresh_release_index
from pipeline.site.config import load_publication
from pipeline.sources.capture import Capture
from pipeline.validation import validate
from pipeline.validation.schemas import TableSchema, load_schemas


class AtlasSettings(dg.ConfigurableResource):
    """Where the project lives and where releases are written (`sovai build --out`)."""

    root: str = str(default_root())
    releases_dir: str = ""
    site_dir: str = ""  # where the release_site asset writes (default: site/ in the root)

    def paths(self) -> ProjectPaths:
        return project_paths(self.root, self.releases_dir or None)


def release_partitions(root: Path) -> dg.StaticPartitionsDefinition:
    """One partition per declared release: read from curated/releases.yaml alone (the rest of
    curated/ is parsed by the run that needs it)."""
    curated = root / "curated"
    releases_only = Curated(root=curated, releases=load_table_records(curated, "releases"),
                            sources=[], entities={}, redirects=[], conflicts=[],
                            mention_columns=[])
    return dg.StaticPartitionsDefinition([r.key for r in declared_releases(releases_only)])


def release_of(context: dg.AssetExecutionContext, curated: Curated) -> Release:
    return find_release(declared_releases(curated), context.partition_key)


def release_tables(tables: dict[str, pd.DataFrame], report: dict,
                   schemas: dict[str, TableSchema]) -> ReleaseTables:
    """The normalize step's result again, from its table assets and its report."""
    return ReleaseTables({n: tables[n] for n in schemas if n in tables},
                         report["external_values"], report["dropped_references"],
                         report["withheld"])


def build_atlas_definitions(root: Path) -> dict:
    from pipeline.defs.checks import validation_checks

    partitions = release_partitions(root)
    schemas = load_schemas(root / "schemas")
    checks = validation_checks(schemas, partitions)
    assets = [*_input_assets(partitions), _normalize_asset(schemas, partitions),
              _unresolved_asset(schemas, partitions),
              _release_folder(schemas, partitions, set(checks.check_keys))]
    return {"assets": assets, "asset_checks": [checks], "partitions": partitions,
            "tables": list(schemas)}


def _input_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    @dg.asset(group_name="curated", partitions_def=partitions, io_manager_key="curated_io",
              kinds={"yaml"},
              description="Everything in curated/: releases, sources, entities with claims. "
                          "Stored as the list of curated/ files with their sha256.")
    def curated_records(context: dg.AssetExecutionContext, settings: AtlasSettings) -> Curated:
        curated = load_curated(settings.paths().curated)  # sovai build's parse, if in process
        context.add_output_metadata({"sources": len(curated.sources), **{
            f"records_{name}": len(records) for name, records in curated.entities.items()}})
        return curated

    @dg.asset(group_name="capture", partitions_def=partitions, io_manager_key="captures_io",
              description="Content-addressed captures in raw/ of every curated source: the "
                          "latest capture of each. Quotes are verified against all of them; "
                          "the release uses those published on or before its date.")
    def source_captures(context: dg.AssetExecutionContext, settings: AtlasSettings,
                        curated_records: Curated) -> dict[str, Capture]:
        report = stages.capture_sources(settings.paths(), curated_records)
        included = stages.release_captures(report.captures, curated_records,
                                           release_of(context, curated_records))
        context.add_output_metadata({
            "sources": len(report.captures),
            "sources_in_release": len(included),
            "new_captures": len(report.new),
            "sha256": dg.MetadataValue.json(
                {k: v.sha256 for k, v in sorted(report.captures.items())}),
        })
        return report.captures

    @dg.asset(group_name="extract", partitions_def=partitions, io_manager_key="table_io",
              kinds={"parquet"},
              description="Table cells of the release's captures, with a locator and the raw "
                          "text.")
    def table_mentions(context: dg.AssetExecutionContext, curated_records: Curated,
                       source_captures: dict[str, Capture]) -> pd.DataFrame:
        release = release_of(context, curated_records)
        mentions = stages.mentions_for(
            stages.release_captures(source_captures, curated_records, release))
        context.add_output_metadata({"dagster/row_count": len(mentions)})
        return mentions

    return [curated_records, source_captures, table_mentions]


REPORT_DESCRIPTION = (
    "What normalize set aside, as JSON: rows named in this release but withheld (file:line "
    "and why), references dropped because their target is not in the release, and how many "
    "values rest only on an external reference.")


def _normalize_asset(schemas: dict[str, TableSchema], partitions: dg.PartitionsDefinition
                     ) -> dg.AssetsDefinition:
    from pipeline.defs.catalog import table_output_metadata, table_spec

    inputs = ["curated_records", "source_captures"]
    specs = [table_spec(s, inputs, partitions) for s in schemas.values()]
    specs.append(dg.AssetSpec("normalize_report", deps=inputs, group_name="normalize",
                              partitions_def=partitions, kinds={"json"},
                              description=REPORT_DESCRIPTION).with_io_manager_key("report_io"))

    @dg.multi_asset(name="normalize", specs=specs, ins={k: dg.AssetIn(k) for k in inputs},
                    description="Every published table of the release, built from curated "
                                "records whose claims come from the included sources.")
    def normalize(context: dg.AssetExecutionContext, settings: AtlasSettings,
                  curated_records: Curated, source_captures: dict[str, Capture]):
        release = release_of(context, curated_records)
        if release.sealed:
            raise dg.Failure(
                f"release {release.key} is published (sealed): it is never rebuilt. sovai "
                f"build records it as materialized from releases/{release.key}/ once its "
                f"checksums verify; `sovai reproduce {release.key}` rebuilds it to compare.")
        built = stages.normalize(settings.paths(), curated_records, source_captures,
                                 release.date)
        for name, frame in built.tables.items():
            yield dg.Output(frame, output_name=name,
                            metadata=table_output_metadata(schemas[name], frame))
        yield dg.Output({"external_values": built.external_values,
                         "dropped_references": built.dropped_references,
                         "withheld": built.withheld}, output_name="normalize_report",
                        metadata={"external_basis_values": built.external_values,
                                  "dropped_references": len(built.dropped_references),
                                  "withheld_rows": len(built.withheld)})

    return normalize


def _unresolved_asset(schemas: dict[str, TableSchema], partitions: dg.PartitionsDefinition
                      ) -> dg.AssetsDefinition:
    named = [n for n, s in schemas.items() if "name" in s.column_names]

    @dg.asset(group_name="normalize", partitions_def=partitions, io_manager_key="table_io",
              kinds={"parquet"},
              ins={"curated_records": dg.AssetIn(), "table_mentions": dg.AssetIn(),
                   **{n: dg.AssetIn(n) for n in named}},
              description="Names in table cells that resolved to no ID of the tables they "
                          "may name: a report, never dropped silently.")
    def unresolved_mentions(context: dg.AssetExecutionContext, settings: AtlasSettings,
                            curated_records: Curated, table_mentions: pd.DataFrame,
                            **tables: pd.DataFrame) -> pd.DataFrame:
        resolution = stages.resolve(settings.paths(), curated_records, table_mentions,
                                    ReleaseTables(tables, 0, [], []))
        unresolved = resolution.unresolved
        context.add_output_metadata({
            "dagster/row_count": len(unresolved),
            "resolved": len(resolution.resolved),
            "declared_not_entities": len(resolution.set_aside),
            "preview": dg.MetadataValue.md(unresolved.head(30).to_markdown(index=False)
                                           if len(unresolved) else "none"),
        })
        return unresolved

    return unresolved_mentions


def checks_passed_in_run(context: dg.AssetExecutionContext, checks: set[dg.AssetCheckKey]
                         ) -> bool:
    """Whether every one of `checks` passed on this release in this run (so on the tables
    this step reads, which no step of the run writes again)."""
    records = context.instance.get_records_for_run(
        context.run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    evaluations = [r.event_log_entry.dagster_event.asset_check_evaluation_data for r in records]
    passed = {e.asset_check_key for e in evaluations
              if e.passed and e.partition == context.partition_key}
    return checks <= passed


def _release_folder(schemas: dict[str, TableSchema], partitions: dg.PartitionsDefinition,
                    checks: set[dg.AssetCheckKey]) -> dg.AssetsDefinition:
    ins = {k: dg.AssetIn(k) for k in ("curated_records", "source_captures",
                                      "unresolved_mentions", "normalize_report", *schemas)}

    @dg.asset(group_name="publish", partitions_def=partitions, ins=ins, kinds={"parquet"},
              description="The release folder `releases/DATE/` (one partition per release "
                          "date), written once, atomically, with its diff against the "
                          "previous release.")
    def release_folder(context: dg.AssetExecutionContext, settings: AtlasSettings,
                       curated_records: Curated, source_captures: dict[str, Capture],
                       unresolved_mentions: pd.DataFrame, normalize_report: dict,
                       **tables: pd.DataFrame) -> dg.MaterializeResult:
        paths = settings.paths()
        release = release_of(context, curated_records)
        statuses = {r.key: r.status for r in declared_releases(curated_records)}
        if release.sealed:
            check_sealed(release, paths.releases)
            refresh_release_index(paths.releases, paths.raw, statuses)
            return dg.MaterializeResult(metadata={"sealed": True, "verified": True})
        built = release_tables(tables, normalize_report, schemas)
        texts = stages.source_texts(built, source_captures)
        # Nothing invalid is written: the blocking checks passed in this run, or (a run that
        # did not check these tables, such as one materializing release_folder alone) publish
        # checks them itself. Checking twice cost 19 s of a 1M-claim build.
        if not checks_passed_in_run(context, checks):
            problems = validate.check_release(built.tables, schemas, texts)
            if problems:
                raise validate.ValidationError("\n".join(problems))
        stats = stages.release_stats(built, unresolved_mentions, texts)
        target = publish_release(release, built.tables, schemas, paths.releases,
                                 publication=load_publication(paths.curated),
                                 redirects=[dict(r) for r in curated_records.redirects],
                                 stats=stats)
        refresh_release_index(paths.releases, paths.raw, statuses)
        return dg.MaterializeResult(metadata={
            "path": dg.MetadataValue.path(str(target)),
            **{f"rows_{k}": v for k, v in stats["rows"].items()},
            **{k: v for k, v in stats.items() if k != "rows"},
        })

    return release_folder
