"""When the pipeline runs by itself.

- daily_ingestion (schedule): refresh every source with a URL (the ingest_sources job);
- new_captures (sensor): a new capture fetched into raw/ (by that job or `sovai fetch`) runs
  the next draft's build;
- inputs_changed (sensor): a change to curated/, schemas/ or a page a source declares as its
  capture_file runs the next draft's build;
- monthly_release (schedule): the next draft's build on the 1st of each month.

All of them build drafts only: the next draft is chosen among the releases declared `draft`, the
build refuses a sealed one, and nothing here edits curated/releases.yaml, so a release is
published (sealed) only by a person changing its status. The two sensors watch disjoint
folders, so one change starts one build."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from pipeline.curation.curated import CuratedError, load_curated, load_table_records
from pipeline.curation.releases import Release, declared_releases
from pipeline.defs.atlas import release_partitions
from pipeline.defs.fetching import ingestion_job
from pipeline.sources.capture import CaptureError, project_file

if TYPE_CHECKING:  # the type define_asset_job returns (not exported by dagster)
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )


@dataclass(frozen=True)
class NextDraft:
    """The partition key of the draft to build, or None and why not. `retry`: the draft is
    declared but not loaded yet, so a sensor keeps the change that woke it for later."""

    key: str | None
    why_not: str = ""
    retry: bool = False


def next_draft(releases: list[Release], today: dt.date) -> Release | None:
    """The earliest draft dated today or later; else the latest draft (still being curated)."""
    drafts = [r for r in releases if not r.sealed]
    upcoming = [r for r in drafts if r.date >= today]
    if upcoming:
        return upcoming[0]
    return drafts[-1] if drafts else None


def following_month_end(date: dt.date) -> dt.date:
    """The last day of the month after `date`'s month: the next monthly release date."""
    first_of_next = (date.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return (first_of_next + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


def no_draft_reason(releases: list[Release]) -> str:
    if not releases:
        return "no release is declared in curated/releases.yaml"
    upcoming = following_month_end(releases[-1].date)
    return (f"every declared release is published; to start the next one, declare "
            f"{{date: {upcoming}, status: draft}} in curated/releases.yaml")


def declared_capture_files(root: Path) -> list[Path]:
    """The files the curated sources name as their capture_file (pages/ by convention), those
    that exist inside the project. A build captures each into raw/ itself, so an edit to one
    is a change of the inputs, not a fetched capture."""
    try:
        sources = load_table_records(root / "curated", "sources")
    except CuratedError:
        return []  # the broken file is itself a change of curated/
    files = set()
    for record in sources:
        if record.get("capture_file") is None:
            continue
        try:
            path = project_file(root, record.get("capture_file"))
        except CaptureError:
            continue  # the build names it
        if path.is_file():
            files.add(path)
    return sorted(files)


def inputs_fingerprint(root: Path) -> str:
    """A hash of what curators edit: curated/, schemas/ and the pages the sources declare as
    their capture_file (raw/ is new_captures' to watch)."""
    digest, root = hashlib.sha256(), root.resolve()  # declared files come back resolved
    paths = [p for folder in ("curated", "schemas") for p in sorted((root / folder).rglob("*"))
             if p.is_file()]
    for path in [*paths, *declared_capture_files(root)]:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def fetched_captures(root: Path) -> list[str]:
    """The captures in raw/ fetched over HTTP (by the ingestion job or `sovai fetch`), as
    "source_id/sha256". The captures a build makes of declared files are left out: that build
    already used them, and counting them would start a second, identical build."""
    names = []
    for sidecar in sorted((root / "raw").glob("*/*.json")):
        try:
            fetched = bool(json.loads(sidecar.read_text(encoding="utf-8")).get("http"))
        except (OSError, ValueError, AttributeError):
            fetched = False  # not a capture's metadata; the build reports a broken one
        if fetched:
            names.append(f"{sidecar.parent.name}/{sidecar.stem}")
    return names


def new_capture_request(key: str, new: list[str]) -> dg.RunRequest:
    """The build of draft `key` for these new captures; its run key names them, so the same
    captures never build twice, and its tags say which sources changed."""
    digest = hashlib.sha256("\n".join(new).encode()).hexdigest()[:16]
    sources = sorted({name.split("/")[0] for name in new})
    return dg.RunRequest(run_key=f"{key}-captures-{digest}", partition_key=key,
                         tags={"sovai/trigger": "new_captures",
                               "sovai/new_captures": ",".join(sources)[:200]})


NextRelease = Callable[[dt.date], NextDraft]


def next_release_finder(root: Path) -> NextRelease:
    """next_release(today): the next draft among the releases declared now, if this code
    location has its partition (a release declared after it loaded has none until a reload)."""
    loaded = set(release_partitions(root).get_partition_keys())  # the job's, as loaded

    def next_release(today: dt.date) -> NextDraft:
        releases = declared_releases(load_curated(root / "curated"))
        release = next_draft(releases, today)
        if release is None:
            return NextDraft(None, no_draft_reason(releases))
        if release.key not in loaded:
            return NextDraft(None, f"release {release.key} was declared after the code location "
                                   f"loaded: reload it (Deployment > Reload in the UI, or restart "
                                   f"sovai ui) to build it", retry=True)
        return NextDraft(release.key)

    return next_release


def monthly_schedule(job: UnresolvedAssetJobDefinition, next_release: NextRelease
                     ) -> dg.ScheduleDefinition:
    @dg.schedule(job=job, cron_schedule="0 6 1 * *", execution_timezone="UTC",
                 description="Monthly: build the next draft release.")
    def monthly_release(context: dg.ScheduleEvaluationContext):
        draft = next_release(context.scheduled_execution_time.date())
        if draft.key is None:
            return dg.SkipReason(draft.why_not)
        return dg.RunRequest(run_key=f"{draft.key}-{context.scheduled_execution_time:%Y-%m}",
                             partition_key=draft.key)

    return monthly_release


def inputs_changed_sensor(root: Path, job: UnresolvedAssetJobDefinition,
                          next_release: NextRelease) -> dg.SensorDefinition:
    @dg.sensor(job=job, minimum_interval_seconds=300,
               description="Rebuild the next draft when a curated or schema file changes.")
    def inputs_changed(context: dg.SensorEvaluationContext):
        fingerprint = inputs_fingerprint(root)
        if fingerprint == context.cursor:
            return dg.SkipReason("curated/ and schemas/ are unchanged")
        draft = next_release(dt.date.today())
        if not draft.retry:  # else the change still counts once the location is reloaded
            context.update_cursor(fingerprint)
        if draft.key is None:
            return dg.SkipReason(draft.why_not)
        return dg.RunRequest(run_key=f"{draft.key}-{fingerprint[:16]}", partition_key=draft.key)

    return inputs_changed


def new_captures_sensor(root: Path, job: UnresolvedAssetJobDefinition,
                        next_release: NextRelease) -> dg.SensorDefinition:
    @dg.sensor(job=job, minimum_interval_seconds=60,
               description="Build the next draft when raw/ holds a fetched capture it did not "
                           "hold at the last tick (the first tick only records what is there).")
    def new_captures(context: dg.SensorEvaluationContext):
        names = fetched_captures(root)
        if context.cursor is None:
            context.update_cursor(json.dumps(names))
            return dg.SkipReason(f"recorded the {len(names)} fetched captures in raw/; a "
                                 f"capture fetched from now on builds the next draft")
        seen = set(json.loads(context.cursor))
        new = [name for name in names if name not in seen]
        if not new:
            return dg.SkipReason("no new fetched capture in raw/")
        draft = next_release(dt.date.today())
        if not draft.retry:
            context.update_cursor(json.dumps(names))
        if draft.key is None:
            return dg.SkipReason(draft.why_not)
        return new_capture_request(draft.key, new)

    return new_captures


def daily_ingestion_schedule(ingest: UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    @dg.schedule(job=ingest, cron_schedule="0 5 * * *", execution_timezone="UTC",
                 description="Daily: fetch every source with a URL (new captures then build the "
                             "next draft through the new_captures sensor).")
    def daily_ingestion(context: dg.ScheduleEvaluationContext):
        return dg.RunRequest(run_key=f"ingest-{context.scheduled_execution_time:%Y-%m-%d}")

    return daily_ingestion


def build_automation(root: Path, job: UnresolvedAssetJobDefinition) -> dict:
    """The schedules and sensors of the code location; `job` builds one release partition.
    The ingestion job comes with its schedule (Definitions registers a schedule's job)."""
    next_release = next_release_finder(root)
    schedules = [monthly_schedule(job, next_release)]
    ingest = ingestion_job(root)
    if ingest is not None:
        schedules.append(daily_ingestion_schedule(ingest))
    return {"schedules": schedules,
            "sensors": [inputs_changed_sensor(root, job, next_release),
                        new_captures_sensor(root, job, next_release)]}
