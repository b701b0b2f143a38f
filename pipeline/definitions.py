"""The Dagster code location: `dagster dev -w workspace.yaml` loads `defs` from here."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipeline.defs.atlas import AtlasSettings, build_atlas_definitions
from pipeline.defs.automation import build_automation
from pipeline.defs.fetching import build_fetch_assets
from pipeline.defs.site import build_site_assets
from pipeline.paths import default_root

BUILD_JOB = "build_release"


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
        sensors=automation["sensors"],
        resources={"settings": AtlasSettings(root=str(root))},
    )


defs = build_definitions()
