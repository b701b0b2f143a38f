"""Sealed (published) releases in the asset catalog: never rebuilt, so no run materializes
them; once their checksums are verified they are recorded as materializations of
release_folder and of each table's asset, for their partition, with the sha256 and row count
that datapackage.json states. The partitions view then shows every sealed release as
materialized, with the checksums it was verified against.

`sovai build` records them as it verifies them; the sealed_releases sensor does the same for
an instance that `dagster dev` runs."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from pipeline.curation.curated import load_curated
from pipeline.curation.releases import Release, declared_releases, sha256_file
from pipeline.paths import ProjectPaths, project_paths
from pipeline.publishing.publish import check_sealed
from pipeline.validation.schemas import load_schemas

RELEASE_ASSET = "release_folder"


def sealed_materializations(paths: ProjectPaths, release: Release
                            ) -> list[dg.AssetMaterialization]:
    """The materializations that describe a sealed release folder (raises if its checksums
    do not verify): one for release_folder, one for each table asset it holds."""
    check_sealed(release, paths.releases)
    tables = set(load_schemas(paths.schemas))
    folder = paths.releases / release.key
    package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    common = {"sealed": True, "release": release.key}
    events = [dg.AssetMaterialization(
        asset_key=RELEASE_ASSET, partition=release.key,
        description=f"{release.key} {release.title}: published (sealed); checksums verified",
        metadata={**common, "path": dg.MetadataValue.path(str(folder)),
                  "datapackage_sha256": sha256_file(folder / "datapackage.json"),
                  "files": dg.MetadataValue.json({r["path"]: r["hash"].removeprefix("sha256:")
                                                  for r in package["resources"]})})]
    for resource in package["resources"]:
        if resource.get("type") == "table" and resource["name"] in tables:
            events.append(dg.AssetMaterialization(
                asset_key=resource["name"], partition=release.key,
                description=f"as published in {release.key}/{resource['path']} (sealed)",
                metadata={**common, "dagster/row_count": dg.MetadataValue.int(resource["rows"]),
                          "sha256": resource["hash"].removeprefix("sha256:"),
                          "path": dg.MetadataValue.path(str(folder / resource["path"]))}))
    return events


def recorded_sha256(instance: dg.DagsterInstance, key: str) -> str | None:
    """The datapackage sha256 the instance last recorded for release `key`, if any."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(RELEASE_ASSET), asset_partitions=[key]),
        limit=1).records
    if not records:
        return None
    materialization = records[0].asset_materialization
    value = materialization.metadata.get("datapackage_sha256") if materialization else None
    return getattr(value, "value", value)


def unrecorded_sealed(instance: dg.DagsterInstance, paths: ProjectPaths,
                      releases: list[Release]) -> list[dg.AssetMaterialization]:
    """Materializations of the sealed releases present whose folder the instance has not
    recorded yet (or recorded with other checksums)."""
    events: list[dg.AssetMaterialization] = []
    for release in releases:
        folder = paths.releases / release.key
        if not release.sealed or not (folder / "datapackage.json").is_file():
            continue
        if recorded_sha256(instance, release.key) != sha256_file(folder / "datapackage.json"):
            events += sealed_materializations(paths, release)
    return events


def record_sealed(instance: dg.DagsterInstance, paths: ProjectPaths, releases: list[Release]
                  ) -> int:
    """Record the sealed releases not yet recorded; returns how many events were written."""
    events = unrecorded_sealed(instance, paths, releases)
    for event in events:
        instance.report_runless_asset_event(event)
    return len(events)


def build_sealed_sensor(root: Path) -> dg.SensorDefinition:
    """Records each sealed release as materialized, once its checksums verify."""

    @dg.sensor(minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING,
               description="Record each sealed release (`releases/DATE/` with its checksums "
                           "verified) as materialized: release_folder and its tables.")
    def sealed_releases(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        paths = project_paths(root)
        releases = declared_releases(load_curated(paths.curated))
        events = unrecorded_sealed(context.instance, paths, releases)
        if not events:
            return dg.SensorResult(skip_reason="every sealed release is recorded")
        return dg.SensorResult(asset_events=events)

    return sealed_releases
