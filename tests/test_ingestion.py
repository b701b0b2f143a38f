"""Scheduled ingestion end to end: a real HTTP server on 127.0.0.1 serves a source page, the
ingest_sources job fetches it as a real Dagster run on a temporary instance, the new_captures
sensor (evaluated as Dagster evaluates it) asks for the next draft's build, and that build
publishes the draft. The freshness policy, evaluated by Dagster's own freshness daemon, shows a
source that has not been fetched for weeks as stale."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from pipeline.definitions import BUILD_JOB, build_definitions
from pipeline.defs.fetching import FRESHNESS_FAIL, FRESHNESS_WARN, INGEST_JOB, fetch_asset_name
from pipeline.sources.fetch import ALLOW_HOSTS_ENV

from .conftest import REPO, write_project
from .serving import Server

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Mini Atlas</title></head>
<body><main><h1>Mini Atlas: who builds models</h1>
<p>This page was published on April 20, 2026.</p>
<table><tr><th>Model</th><th>Lab</th></tr><tr><td>Qwen 3.6</td><td>Alibaba</td></tr></table>
</main></body></html>
"""
SOURCE = "html-atlas"
# One draft: the build of a draft needs the release before it built already.
RELEASES = "- {date: 2026-05-31, title: May 2026, status: draft}\n"
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Server]:
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "atlas.html").write_text(PAGE, encoding="utf-8")
    server = Server(folder)  # a static host: Last-Modified, and 304 to If-Modified-Since
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def project(tmp_path: Path, site: Server, monkeypatch) -> Path:
    """The mini project with one more source, whose URL is the page on the local server."""
    monkeypatch.setenv(ALLOW_HOSTS_ENV, "127.0.0.1")  # loopback is refused unless named
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    root = write_project(tmp_path / "project", {"releases.yaml": RELEASES})
    sources_file = root / "curated" / "sources.yaml"
    sources = yaml.safe_load(sources_file.read_text(encoding="utf-8"))
    sources.append({"source_id": SOURCE, "title": "Mini Atlas: who builds models",
                    "publisher": "Mini Atlas Press",
                    "url": site.url + "atlas.html", "published_on": "2026-04-20",
                    "date_precision": "day",
                    "date_evidence": "This page was published on April 20, 2026."})
    sources_file.write_text(yaml.safe_dump(sources, allow_unicode=True), encoding="utf-8")
    return root


def _ingest(defs: dg.Definitions, instance: dg.DagsterInstance) -> dict[str, object]:
    """Run the ingestion job for real; the fetch asset's recorded metadata."""
    result = defs.resolve_job_def(INGEST_JOB).execute_in_process(instance=instance,
                                                                 run_config=QUIET)
    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = event.step_materialization_data.materialization.metadata
    return {k: getattr(v, "value", v) for k, v in metadata.items()}


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None):
    sensor = defs.resolve_sensor_def("new_captures")
    return sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor,
                                                        definitions=defs))


def test_a_new_capture_from_the_scheduled_ingestion_builds_the_next_draft(project, site):
    defs = build_definitions(project)
    releases_yaml = (project / "curated" / "releases.yaml").read_bytes()
    schedule = defs.resolve_schedule_def("daily_ingestion")
    assert schedule.job_name == INGEST_JOB
    with dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 5, 2, 5,
                                                                        tzinfo=dt.UTC)) as ctx:
        [request] = schedule.evaluate_tick(ctx).run_requests
    assert request.run_key == "ingest-2026-05-02"

    with dg.instance_for_test() as instance:
        baseline = _tick(defs, instance, None)  # the first tick records what raw/ holds
        assert not baseline.run_requests

        fetched = _ingest(defs, instance)
        assert (fetched["outcome"], fetched["http_status"]) == ("new", 200)
        assert site.requests[-1] == "/atlas.html"
        after_fetch = _tick(defs, instance, baseline.cursor)
        [build] = after_fetch.run_requests
        assert build.partition_key == "2026-05-31"  # the next draft
        assert build.job_name in (None, BUILD_JOB)
        assert build.tags["sovai/new_captures"] == SOURCE

        run = defs.resolve_job_def(BUILD_JOB).execute_in_process(
            instance=instance, partition_key=build.partition_key, tags=build.tags,
            run_config=QUIET)
        assert run.success
        folder = project / "releases" / "2026-05-31"
        assert (folder / "datapackage.json").is_file()
        sources = pd.read_parquet(folder / "sources.parquet")
        assert SOURCE in set(sources["source_id"])
        # Built, not sealed: the release is still declared a draft.
        assert (project / "curated" / "releases.yaml").read_bytes() == releases_yaml

        # The page has not changed: the static host answers 304, nothing new is captured,
        # and the sensor asks for nothing (the build's own captures are already counted).
        refetched = _ingest(defs, instance)
        assert (refetched["outcome"], refetched["http_status"]) == ("unchanged", 304)
        quiet = _tick(defs, instance, after_fetch.cursor)
        assert not quiet.run_requests
        assert not _tick(defs, instance, quiet.cursor).run_requests


def _workspace_file(tmp_path: Path, root: Path) -> Path:
    """A code location file that loads this project's definitions (the module-level `defs` of
    pipeline.definitions is the checkout's own project)."""
    location = tmp_path / "location.py"
    location.write_text("from pathlib import Path\n"
                        "from pipeline.definitions import build_definitions\n"
                        f"defs = build_definitions(Path({str(root)!r}))\n", encoding="utf-8")
    return location


def test_a_source_not_fetched_for_weeks_shows_as_stale(project, tmp_path):
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
    from dagster._daemon.freshness import FreshnessDaemon

    key = dg.AssetKey(fetch_asset_name(SOURCE))
    origin = InProcessCodeLocationOrigin(LoadableTargetOrigin(
        executable_path=sys.executable, python_file=str(_workspace_file(tmp_path, project)),
        attribute="defs", working_directory=str(REPO)), location_name="sovai")
    with dg.instance_for_test() as instance:
        _ingest(build_definitions(project), instance)
        fetched_at = dt.datetime.now(dt.UTC)

        def state_after(age: dt.timedelta) -> str:
            with create_test_daemon_workspace_context(InProcessWorkspaceLoadTarget(origin),
                                                      instance) as workspace, \
                    freeze_time(fetched_at + age):
                list(FreshnessDaemon().run_iteration(workspace))
            return instance.get_freshness_state_records([key])[key].freshness_state.value

        assert state_after(dt.timedelta(hours=1)) == "PASS"
        assert state_after(FRESHNESS_WARN + dt.timedelta(days=1)) == "WARN"
        assert state_after(FRESHNESS_FAIL + dt.timedelta(days=1)) == "FAIL"


def test_one_failing_source_does_not_stop_the_others(project, site):
    sources_file = project / "curated" / "sources.yaml"
    sources = yaml.safe_load(sources_file.read_text(encoding="utf-8"))
    sources.append({**sources[-1], "source_id": "gone-page", "url": site.url + "gone.html"})
    sources_file.write_text(yaml.safe_dump(sources, allow_unicode=True), encoding="utf-8")
    defs = build_definitions(project)
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def(INGEST_JOB).execute_in_process(
            instance=instance, run_config=QUIET, raise_on_error=False)
    assert not result.success  # the run says a source failed ...
    fetched = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert fetched == {fetch_asset_name(SOURCE)}  # ... and the other one was still fetched
    assert "/gone.html" in site.requests
    assert [p.name for p in (project / "raw").iterdir()] == [SOURCE]
