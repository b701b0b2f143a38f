"""The Dagster code location `sovai`: `dagster dev -w workspace.yaml` loads `defs` from here."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipeline.defs.atlas import AtlasSettings, build_atlas_definitions
from pipeline.defs.automation import build_automation
from pipeline.defs.fetching import build_fetch_assets
from pipeline.defs.sealed import build_sealed_sensor
from pipeline.defs.site import build_site_assets
from pipeline.defs.storage import project_io_manager
from pipeline.paths import default_root

BUILD_JOB = "build_release"


def project_resources(root: Path) -> dict:
    """The settings, and the IO managers that keep each step's output as a file under
    .dagster/storage/ (Parquet for tables, JSON for the rest)."""
    settings = AtlasSettings(root=str(root))
    return {"settings": settings,
            **{f"{kind}_io": project_io_manager(storage)
               for kind, storage in (("table", "tables"), ("report", "reports"),
                                     ("captures", "captures"), ("curated", "curated"))}}


def build_definitions(root: Path | None = None) -> dg.Definitions:
    root = Path(root or default_root())
    atlas = build_atlas_definitions(root)
    job = dg.define_asset_job(
        BUILD_JOB,
        selection=dg.AssetSelection.assets(*atlas["assets"]),
        executor_def=dg.in_process_executor,  # one process: a fork per step costs ~10 s here
        description="Capture, extract, normalize, validate and publish one release.",
    )
    automation = build_automation(root, job)
    assets = [*atlas["assets"], *build_fetch_assets(root), *build_site_assets()]
    return dg.Definitions(
        assets=assets,
        asset_checks=atlas["asset_checks"],
        jobs=[job],
        schedules=automation["schedules"],
        sensors=[*automation["sensors"], build_sealed_sensor(root)],
        resources=project_resources(root),
        executor=dg.in_process_executor,  # also for assets materialized from the UI
    )


defs = build_definitions()
