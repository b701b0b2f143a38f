"""When the pipeline runs by itself: a monthly schedule for the next draft release, and a sensor
that notices captures or curated changes that would alter it."""


import datetime as dt
import hashlib
from pathlib import Path

import dagster as dg

from pipeline.curation.curated import load_curated
from pipeline.curation.releases import Release, declared_releases


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


def inputs_fingerprint(root: Path) -> str:
    """A hash of everything that feeds a draft: curated/, schemas/ and raw/ capture metadata."""
    digest = hashlib.sha256()
    for folder in ("curated", "schemas", "raw"):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and (folder != "raw" or path.suffix == ".json"):
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def build_automation(root: Path, job) -> dict:
    def next_release(today: dt.date) -> tuple[str | None, str]:
        """The partition key of the next draft, or None and why there is none."""
        releases = declared_releases(load_curated(root / "curated"))
        release = next_draft(releases, today)
        return (release.key, "") if release else (None, no_draft_reason(releases))

    @dg.schedule(job=job, cron_schedule="0 6 1 * *", execution_timezone="UTC",
                 description="Monthly: build the next draft release.")
    def monthly_release(context: dg.ScheduleEvaluationContext):
        key, why_not = next_release(context.scheduled_execution_time.date())
        if key is None:
            return dg.SkipReason(why_not)
        return dg.RunRequest(run_key=f"{key}-{context.scheduled_execution_time:%Y-%m}",
                             partition_key=key)

    @dg.sensor(job=job, minimum_interval_seconds=300,
               description="Rebuild the next draft when a capture or curated file changes.")
    def inputs_changed(context: dg.SensorEvaluationContext):
        fingerprint = inputs_fingerprint(root)
        if fingerprint == context.cursor:
            return dg.SkipReason("curated/, schemas/ and raw/ are unchanged")
        key, why_not = next_release(dt.date.today())
        context.update_cursor(fingerprint)
        if key is None:
            return dg.SkipReason(why_not)
        return dg.RunRequest(run_key=f"{key}-{fingerprint[:16]}", partition_key=key)

    return {"schedules": [monthly_release], "sensors": [inputs_changed]}
