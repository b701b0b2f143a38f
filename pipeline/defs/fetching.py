"""Dagster assets that fetch sources with a URL: one asset per source, in group "capture".

Each asset is a thin call into pipeline.sources.fetch.fetch_one (which reads the URL from
curated/ at run time). Its metadata records the outcome (new or unchanged), HTTP status, bytes
and sha256; a failed fetch fails the materialization and leaves the last capture in raw/. The
freshness policy marks a source stale in the UI when it has not been fetched for a while (the
Dagster daemon evaluates it: warn after 14 days, fail after 35). The ingestion job runs every
fetch asset (the daily_ingestion schedule in pipeline.defs.automation runs it); a new capture
reaches the next draft's build through raw/ (the new_captures sensor watches it)."""

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from pipeline.defs.atlas import AtlasSettings
from pipeline.sources import fetch

INGEST_JOB = "ingest_sources"
FRESHNESS_WARN = dt.timedelta(days=14)
FRESHNESS_FAIL = dt.timedelta(days=35)  # releases are monthly

if TYPE_CHECKING:  # the type define_asset_job returns (not exported by dagster)
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )


def fetch_asset_name(source_id: str) -> str:
    return "fetch_" + re.sub(r"[^A-Za-z0-9_]", "_", source_id)


def _fetch_asset(source_id: str, url: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=fetch_asset_name(source_id),
        group_name="capture",
        kinds={"http"},
        description=f"Fetch {url} into raw/{source_id}/ (conditional GET; a changed page is a "
                    f"new capture beside the old ones).",
        metadata={"source_id": source_id, "url": dg.MetadataValue.url(url)},
        freshness_policy=dg.FreshnessPolicy.time_window(fail_window=FRESHNESS_FAIL,
                                                        warn_window=FRESHNESS_WARN),
    )
    def _asset(context: dg.AssetExecutionContext, settings: AtlasSettings
               ) -> dg.MaterializeResult:
        try:
            result = fetch.fetch_one(settings.paths(), source_id)
        except (fetch.FetchError, fetch.SourceRegistryError) as err:
            raise dg.Failure(description=str(err),
                             metadata={"source_id": source_id, "url": url}) from err
        context.log.info(result.line())
        capture = result.capture
        assert capture is not None
        return dg.MaterializeResult(metadata={
            "outcome": result.outcome,
            "http_status": result.http_status,
            "bytes": capture.bytes,
            "sha256": capture.sha256,
            "media_type": capture.media_type,
            "captured_at": capture.captured_at,
            "url": dg.MetadataValue.url(result.url),
            "final_url": str(capture.http.get("final_url") or capture.origin),
            "path": dg.MetadataValue.path(str(capture.path)),
        })

    return _asset


def build_fetch_assets(root: Path) -> list[dg.AssetsDefinition]:
    """One fetch asset per curated source with a URL; [] when there is none."""
    sources = fetch.url_sources(Path(root) / "curated")
    names: dict[str, str] = {}
    for source_id, _ in sources:
        name = fetch_asset_name(source_id)
        if name in names:
            raise ValueError(f"sources {names[name]!r} and {source_id!r} map to the same asset "
                             f"name {name!r}")
        names[name] = source_id
    return [_fetch_asset(source_id, url) for source_id, url in sources]


def fetch_asset_keys(root: Path) -> list[dg.AssetKey]:
    """The keys of the fetch assets build_fetch_assets makes for this project."""
    return [dg.AssetKey(fetch_asset_name(source_id))
            for source_id, _ in fetch.url_sources(Path(root) / "curated")]


def ingestion_job(root: Path) -> "UnresolvedAssetJobDefinition | None":
    """The job that refreshes every source with a URL (its fetch assets), or None when no source
    has one. Each fetch is its own step, so one failing source does not stop the others; the
    steps run on the code location's executor ($SOVAI_EXECUTOR, in-process by default)."""
    keys = fetch_asset_keys(root)
    if not keys:
        return None
    return dg.define_asset_job(
        INGEST_JOB, selection=dg.AssetSelection.assets(*keys),
        description="Fetch every source with a URL into raw/ (a changed page is a new capture; "
                    "an unchanged one writes nothing).")
