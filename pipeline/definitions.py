"""The Dagster code location `sovai`: `dagster dev -w workspace.yaml` loads `defs` from here.

`defs` is a `@dg.definitions` function, so importing this module builds nothing: the code
location loads it when it starts, and `sovai build` builds its own definitions once per build."""

from __future__ import annotations

import importlib
import os
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
EXECUTOR_ENV = "SOVAI_EXECUTOR"
IN_PROCESS, MULTIPROCESS = "in_process", "multiprocess"


class ExecutorSettingError(ValueError):
    """$SOVAI_EXECUTOR names no executor."""


def executor_name() -> str:
    """What $SOVAI_EXECUTOR asks for: in_process (unset or empty), multiprocess, or
    `module:attribute` naming an ExecutorDefinition (a cluster executor)."""
    return os.environ.get(EXECUTOR_ENV, "").strip() or IN_PROCESS


def configured_executor() -> dg.ExecutorDefinition:
    """The executor of every run of this code location, chosen by $SOVAI_EXECUTOR:
    in-process by default (one process: a fork per step re-imports the pipeline, about 10 s
    a step here), the multiprocess executor, or a deployment's own executor named as
    `module:attribute` (e.g. `dagster_k8s:k8s_job_executor`, each step a Kubernetes job)."""
    name = executor_name()
    if name == IN_PROCESS:
        return dg.in_process_executor
    if name == MULTIPROCESS:
        return dg.multiprocess_executor
    module, _, attribute = name.partition(":")
    try:
        executor = getattr(importlib.import_module(module), attribute) if attribute else None
    except (ImportError, AttributeError) as err:
        raise ExecutorSettingError(f"${EXECUTOR_ENV}={name!r}: {err}") from None
    if not isinstance(executor, dg.ExecutorDefinition):
        raise ExecutorSettingError(
            f"${EXECUTOR_ENV}={name!r}: not an executor (use {IN_PROCESS}, {MULTIPROCESS} "
            f"or module:attribute naming a Dagster ExecutorDefinition)")
    return executor


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
    executor = configured_executor()
    job = dg.define_asset_job(
        BUILD_JOB,
        selection=dg.AssetSelection.assets(*atlas["assets"]),
        executor_def=executor,
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
        executor=executor,  # also for assets materialized from the UI
    )


def build_release_job(root: str) -> dg.JobDefinition:
    """The build job of the project at `root`: what an out-of-process executor's step
    processes rebuild (dg.build_reconstructable_job names this function)."""
    return build_definitions(Path(root)).resolve_job_def(BUILD_JOB)


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
