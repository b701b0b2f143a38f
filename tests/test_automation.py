"""The schedule and the sensor, evaluated as Dagster evaluates them: which release they run."""

from __future__ import annotations

import datetime as dt
import shutil
import textwrap

import dagster as dg

from pipeline.definitions import build_definitions
from pipeline.defs.automation import following_month_end

from .conftest import write_project

BOTH_DRAFTS = None  # keep the mini project's releases.yaml: 2026-04-25 and 2026-05-31, drafts
APRIL_PUBLISHED = """
    - {date: 2026-04-25, title: April 2026, status: published}
    - {date: 2026-05-31, title: May 2026, status: draft}
"""
ALL_PUBLISHED = """
    - {date: 2026-04-25, title: April 2026, status: published}
    - {date: 2026-05-31, title: May 2026, status: published}
"""


def _definitions(tmp_path, releases: str | None) -> dg.Definitions:
    files = {} if releases is None else {"releases.yaml": textwrap.dedent(releases)}
    return build_definitions(write_project(tmp_path / "project", files))


def _schedule_on(defs: dg.Definitions, day: dt.date):
    schedule = defs.resolve_schedule_def("monthly_release")
    when = dt.datetime.combine(day, dt.time(6), tzinfo=dt.UTC)
    with dg.build_schedule_context(scheduled_execution_time=when,
                                   repository_def=defs.get_repository_def()) as context:
        result = schedule.evaluate_tick(context)
    return list(result.run_requests or []), result.skip_message


def test_the_schedule_runs_the_next_draft_release(tmp_path):
    defs = _definitions(tmp_path, BOTH_DRAFTS)
    requests, _ = _schedule_on(defs, dt.date(2026, 4, 1))
    assert [r.partition_key for r in requests] == ["2026-04-25"]
    requests, _ = _schedule_on(defs, dt.date(2026, 5, 1))
    assert [r.partition_key for r in requests] == ["2026-05-31"]


def test_the_schedule_skips_published_releases(tmp_path):
    requests, _ = _schedule_on(_definitions(tmp_path, APRIL_PUBLISHED), dt.date(2026, 4, 1))
    assert [r.partition_key for r in requests] == ["2026-05-31"]


def test_with_every_release_published_the_schedule_says_what_to_declare(tmp_path):
    requests, message = _schedule_on(_definitions(tmp_path, ALL_PUBLISHED), dt.date(2026, 6, 1))
    assert requests == []
    assert "declare {date: 2026-06-30, status: draft} in curated/releases.yaml" in message


def test_the_sensor_runs_again_only_when_inputs_change(tmp_path):
    defs = _definitions(tmp_path, BOTH_DRAFTS)
    sensor = defs.resolve_sensor_def("inputs_changed")
    instance = dg.DagsterInstance.ephemeral()

    def tick(cursor: str | None = None):
        return sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor,
                                                            definitions=defs))

    first = tick()
    assert [r.partition_key for r in first.run_requests] == ["2026-05-31"]
    unchanged = tick(first.cursor)
    assert not unchanged.run_requests
    figures = tmp_path / "project" / "curated" / "figures.yaml"
    figures.write_text(figures.read_text(encoding="utf-8").replace(
        "scope: projects in the index", "scope: projects the index counts"), encoding="utf-8")
    changed = tick(first.cursor)
    assert [r.partition_key for r in changed.run_requests] == ["2026-05-31"]
    assert changed.run_requests[0].run_key != first.run_requests[0].run_key
    # A page a source declares as its capture_file is an input too; other files are not.
    (tmp_path / "project" / "notes.txt").write_text("not an input", encoding="utf-8")
    assert not tick(changed.cursor).run_requests
    page = tmp_path / "project" / "pages" / "mini.txt"
    page.write_text(page.read_text(encoding="utf-8") + "\nA corrected line.\n",
                    encoding="utf-8")
    edited = tick(changed.cursor)
    assert [r.partition_key for r in edited.run_requests] == ["2026-05-31"]
    assert edited.cursor not in (first.cursor, changed.cursor)


def test_following_month_end():
    assert following_month_end(dt.date(2026, 6, 30)) == dt.date(2026, 7, 31)
    assert following_month_end(dt.date(2026, 1, 31)) == dt.date(2026, 2, 28)
    assert following_month_end(dt.date(2026, 12, 15)) == dt.date(2027, 1, 31)


def test_a_fetched_capture_starts_one_build_and_a_sealed_release_none(tmp_path):
    """new_captures watches raw/, inputs_changed curated/ and schemas/: a fetched capture
    starts one build, of a draft; with every release published it starts none."""
    from pipeline.sources.capture import capture_bytes

    def ticks(defs: dg.Definitions):
        instance = dg.DagsterInstance.ephemeral()
        sensors = [defs.resolve_sensor_def(n) for n in ("inputs_changed", "new_captures")]
        cursors = [s.evaluate_tick(dg.build_sensor_context(instance=instance,
                                                           definitions=defs)).cursor
                   for s in sensors]
        root = tmp_path / "project"
        capture_bytes(root / "raw", "fetched-page", f"<p>{root}</p>".encode(),
                      origin="https://example.org/page", media_type="text/html",
                      http={"status": 200, "final_url": "https://example.org/page"})
        return [s.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=c,
                                                        definitions=defs))
                for s, c in zip(sensors, cursors, strict=True)]

    curated, captures = ticks(_definitions(tmp_path, BOTH_DRAFTS))
    assert not curated.run_requests
    [request] = captures.run_requests
    assert request.partition_key == "2026-05-31"
    assert request.tags["sovai/new_captures"] == "fetched-page"
    shutil.rmtree(tmp_path / "project")
    _, captures = ticks(_definitions(tmp_path, ALL_PUBLISHED))
    assert not captures.run_requests
    assert "every declared release is published" in captures.skip_message


def test_a_draft_declared_after_loading_waits_for_a_reload(tmp_path):
    """The running code location has no partition for a release declared after it loaded:
    the sensor says to reload instead of failing its tick, and keeps the change for then."""
    defs = _definitions(tmp_path, BOTH_DRAFTS)
    instance = dg.DagsterInstance.ephemeral()
    first = defs.resolve_sensor_def("inputs_changed").evaluate_tick(
        dg.build_sensor_context(instance=instance, definitions=defs))
    releases = tmp_path / "project" / "curated" / "releases.yaml"
    releases.write_text(releases.read_text(encoding="utf-8")
                        + "- {date: 2026-06-30, title: June 2026, status: draft}\n",
                        encoding="utf-8")

    def tick(loaded: dg.Definitions):
        return loaded.resolve_sensor_def("inputs_changed").evaluate_tick(
            dg.build_sensor_context(instance=instance, cursor=first.cursor, definitions=loaded))

    waiting = tick(defs)
    assert not waiting.run_requests
    assert "release 2026-06-30 was declared after the code location loaded: reload it" \
        in waiting.skip_message
    assert waiting.cursor == first.cursor  # the change still counts
    reloaded = build_definitions(tmp_path / "project")
    assert [r.partition_key for r in tick(reloaded).run_requests] == ["2026-06-30"]
