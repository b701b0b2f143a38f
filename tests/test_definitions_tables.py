"""The tables are the assets: one Dagster asset per published table with its column schema,
row count, primary key and checks; tables pass between steps as Parquet; a failed check blocks
publish; sealed releases are recorded as materialized; and a Dagster build writes the same
bytes as the plain stages (`sovai reproduce`'s path)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from pipeline import stages
from pipeline.cli.main import run_build
from pipeline.definitions import BUILD_JOB, build_definitions
from pipeline.defs.sealed import build_sealed_sensor, recorded_sha256
from pipeline.paths import project_paths
from pipeline.publishing.reproduce import compare_folders, prepare_release, publish_prepared
from pipeline.validation.schemas import load_schemas

from .conftest import REPO, write_project

SCHEMAS = load_schemas(REPO / "schemas")
RUN_QUIETLY = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@pytest.fixture(scope="module")
def graph():
    return build_definitions(REPO).resolve_asset_graph()


def test_one_asset_per_published_table_with_its_column_schema(graph):
    for name, schema in SCHEMAS.items():
        node = graph.get(dg.AssetKey(name))
        assert node.group_name == "normalize"
        assert schema.description in node.description
        assert node.metadata["primary_key"] == schema.primary_key
        table_schema = node.metadata["dagster/column_schema"].schema
        assert [c.name for c in table_schema.columns] == schema.column_names
        for column, spec in zip(table_schema.columns, schema.columns, strict=True):
            assert column.type == spec.type and column.description == spec.description
            assert column.constraints.nullable == spec.nullable
            assert column.constraints.unique == (spec.name == schema.primary_key)
            other = " ".join(column.constraints.other)
            for value in spec.allowed or ():
                assert value in other
            for target in spec.references:
                assert f"references {target}" in other or f"or {target}" in other
            if spec.pattern:
                assert spec.pattern in other
        assert {"parquet", "pandas"} <= set(node.kinds)
    models = graph.get(dg.AssetKey("models")).metadata["dagster/column_schema"].schema
    open_weights = next(c for c in models.columns if c.name == "open_weights")
    assert "one of: open, restricted, closed, unknown" in open_weights.constraints.other


def _checks(graph, table: str) -> set[str]:
    return {k.name for k in graph.asset_check_keys if k.asset_key == dg.AssetKey(table)}


def test_each_table_has_its_pandera_check_and_the_cross_table_checks_it_is_in(graph):
    for name, schema in SCHEMAS.items():
        checks = _checks(graph, name)
        assert f"{name}_schema" in checks
        if any(c.references for c in schema.columns):
            assert "foreign_keys" in checks
        if schema.claimed_columns():
            assert {"claim_coverage", "one_id_per_thing"} <= checks
    assert {"claim_coverage", "quotes_verified"} <= _checks(graph, "claims")
    assert "quotes_verified" in _checks(graph, "sources")
    assert _checks(graph, "release_folder") == set()
    for key in graph.asset_check_keys:
        assert graph.get_check_spec(key).blocking, key


def test_lineage_runs_from_curated_files_and_captures_to_the_release_folder(graph):
    def parents(name: str) -> set[str]:
        return {k.to_user_string() for k in graph.get(dg.AssetKey(name)).parent_keys}

    assert parents("source_captures") == {"curated_records"}
    assert parents("table_mentions") == {"curated_records", "source_captures"}
    assert {"table_mentions", "models", "organizations"} <= parents("unresolved_mentions")
    for name in SCHEMAS:
        assert parents(name) == {"curated_records", "source_captures"}
    assert set(SCHEMAS) | {"unresolved_mentions", "normalize_report"} <= parents(
        "release_folder")
    assert parents("release_site") == {"release_folder"}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path, dg.DagsterInstance]:
    base = tmp_path_factory.mktemp("tables")
    root = write_project(base / "project")
    instance = dg.DagsterInstance.ephemeral()
    run_build(project_paths(root, base / "releases"), echo=lambda _: None, instance=instance)
    return root, base / "releases", instance


def test_a_dagster_build_writes_the_bytes_the_plain_stages_write(built, tmp_path):
    """The Dagster build against `sovai reproduce`'s path (prepare_release, publish_prepared)
    on the same project and captures: every file byte for byte the same."""
    root, out, _ = built
    paths = project_paths(root, tmp_path / "plain")
    for release in stages.load_project(paths)[2]:
        publish_prepared(prepare_release(paths, release), paths.releases)
        assert compare_folders(out / release.key, paths.releases / release.key) == []


def test_tables_pass_between_steps_as_parquet_an_operator_can_open(built):
    root, out, instance = built
    storage = root / ".dagster" / "storage"
    files = [p for p in storage.rglob("*") if p.is_file()]
    assert files and {p.suffix for p in files} <= {".parquet", ".json"}  # never a pickle
    for name in SCHEMAS:
        step = pd.read_parquet(storage / name / "2026-05-31.parquet")
        published = pd.read_parquet(out / "2026-05-31" / f"{name}.parquet")
        pd.testing.assert_frame_equal(step, published)
        record = instance.fetch_materializations(dg.AssetRecordsFilter(
            asset_key=dg.AssetKey(name), asset_partitions=["2026-05-31"]), limit=1).records[0]
        metadata = record.asset_materialization.metadata
        assert metadata["dagster/row_count"].value == len(published)
        assert metadata["primary_key"].value == SCHEMAS[name].primary_key
    assert (storage / "unresolved_mentions" / "2026-05-31.parquet").is_file()
    assert (storage / "source_captures" / "2026-05-31.json").is_file()


def test_a_rebuild_of_the_release_folder_reads_the_tables_from_their_files(built):
    """Only release_folder, in a run of its own: its inputs come from .dagster/storage/, and
    the folder it writes is the same, byte for byte."""
    from pipeline.curation import curated

    root, out, instance = built
    before = {p.name: p.read_bytes() for p in (out / "2026-05-31").iterdir()}
    curated._PARSED.clear()  # as in a process of its own
    result = _run(root, out, instance, "2026-05-31", [dg.AssetKey("release_folder")])
    assert result.success
    steps = {e.step_key for e in result.all_events if e.is_step_success}
    assert steps == {"release_folder"}
    assert {p.name: p.read_bytes() for p in (out / "2026-05-31").iterdir()} == before


def _run(root: Path, out: Path, instance: dg.DagsterInstance, key: str,
         selection: list[dg.AssetKey] | None = None):
    job = build_definitions(root).resolve_job_def(BUILD_JOB)
    config = {"resources": {"settings": {"config": {"root": str(root),
                                                    "releases_dir": str(out)}}}}
    return job.execute_in_process(partition_key=key, instance=instance, raise_on_error=False,
                                  run_config=config | RUN_QUIETLY, asset_selection=selection)


def test_the_runs_settings_choose_where_steps_keep_their_outputs(tmp_path):
    """Definitions loaded for one project, run with another's root: the outputs go to the
    run's project, never to the one the definitions were imported for."""
    loaded, other = write_project(tmp_path / "loaded"), write_project(tmp_path / "other")
    job = build_definitions(loaded).resolve_job_def(BUILD_JOB)
    config = {"resources": {"settings": {"config": {"root": str(other)}}}}
    result = job.execute_in_process(
        partition_key="2026-04-25", instance=dg.DagsterInstance.ephemeral(),
        run_config=config | RUN_QUIETLY,
        asset_selection=[dg.AssetKey("curated_records"), dg.AssetKey("source_captures")])
    assert result.success
    assert (other / ".dagster" / "storage" / "source_captures" / "2026-04-25.json").is_file()
    assert not (loaded / ".dagster").exists()


def test_a_failed_check_names_its_table_and_blocks_publish(tmp_path, monkeypatch):
    root = write_project(tmp_path / "project")
    normalize = stages.normalize

    def corrupted(*args, **kwargs):
        built = normalize(*args, **kwargs)
        models = built.tables["models"]
        models.loc[models["model_id"] == "qwen-3-6", "jurisdiction_id"] = "XXX"
        return built

    monkeypatch.setattr(stages, "normalize", corrupted)
    result = _run(root, tmp_path / "out", dg.DagsterInstance.ephemeral(), "2026-04-25")
    failed = {(e.asset_key.to_user_string(), e.check_name)
              for e in result.get_asset_check_evaluations() if not e.passed}
    # The bad ID fails the checks of the table holding it (and claims, which lacks its
    # claim); every other table's checks pass.
    assert failed == {("models", "foreign_keys"), ("models", "claim_coverage"),
                      ("claims", "claim_coverage")}
    evaluation = next(e for e in result.get_asset_check_evaluations()
                      if e.check_name == "foreign_keys" and not e.passed)
    assert "models: model_id='qwen-3-6', column 'jurisdiction_id', value 'XXX'" in (
        evaluation.description)
    published = {e.asset_key.to_user_string() for e in
                 (x.step_materialization_data.materialization
                  for x in result.get_asset_materialization_events())}
    assert "models" in published and "release_folder" not in published
    assert not (tmp_path / "out" / "2026-04-25").exists()


def test_publish_checks_the_tables_itself_when_its_run_did_not(tmp_path):
    """release_folder alone, in a run of its own, after a stored table was altered on disk
    since the run that checked it: publish validates what it reads and writes nothing."""
    import pyarrow.parquet as pq

    from pipeline.validation.schemas import to_arrow

    root, out = write_project(tmp_path / "project"), tmp_path / "out"
    instance = dg.DagsterInstance.ephemeral()
    everything_but_publish = [k for k in build_definitions(root).resolve_asset_graph()
                              .materializable_asset_keys
                              if k.to_user_string() not in ("release_folder", "release_site")]
    assert _run(root, out, instance, "2026-04-25", everything_but_publish).success
    stored = root / ".dagster" / "storage" / "models" / "2026-04-25.parquet"
    models = pd.read_parquet(stored)
    models.loc[models["model_id"] == "qwen-3-6", "jurisdiction_id"] = "XXX"
    pq.write_table(to_arrow(SCHEMAS["models"], models), stored)

    result = _run(root, out, instance, "2026-04-25", [dg.AssetKey("release_folder")])
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "models: model_id='qwen-3-6', column 'jurisdiction_id', value 'XXX'" in (
        failure.step_failure_data.error.to_string())
    assert not (out / "2026-04-25").exists()


def test_sealed_releases_are_recorded_as_materialized(tmp_path):
    root = write_project(tmp_path / "project")
    out = tmp_path / "releases"
    instance = dg.DagsterInstance.ephemeral()
    run_build(project_paths(root, out), "2026-04-25", echo=lambda _: None, instance=instance)
    releases = root / "curated" / "releases.yaml"
    releases.write_text(releases.read_text().replace(
        "title: April 2026, status: draft", "title: April 2026, status: published"))
    run_build(project_paths(root, out), "2026-04-25", echo=lambda _: None, instance=instance)
    package = out / "2026-04-25" / "datapackage.json"
    assert recorded_sha256(instance, "2026-04-25") == hashlib.sha256(
        package.read_bytes()).hexdigest()
    record = instance.fetch_materializations(dg.AssetRecordsFilter(
        asset_key=dg.AssetKey("models"), asset_partitions=["2026-04-25"]), limit=1).records[0]
    assert record.asset_materialization.metadata["sealed"].value is True
    assert record.asset_materialization.metadata["dagster/row_count"].value == len(
        pd.read_parquet(out / "2026-04-25" / "models.parquet"))
    # Recorded once: a second build and the sensor add nothing.
    count = len(instance.fetch_materializations(dg.AssetKey("release_folder"), limit=50).records)
    run_build(project_paths(root, out), "2026-04-25", echo=lambda _: None, instance=instance)
    assert len(instance.fetch_materializations(dg.AssetKey("release_folder"),
                                               limit=50).records) == count
    sensor = build_sealed_sensor(root)
    fresh = dg.DagsterInstance.ephemeral()
    # The sensor reads releases/ of its root; a sealed folder there is recorded.
    (root / "releases").symlink_to(out, target_is_directory=True)
    result = sensor(dg.build_sensor_context(instance=fresh))
    assert {e.asset_key.to_user_string() for e in result.asset_events} >= {"release_folder",
                                                                          "models"}
    for event in result.asset_events:
        fresh.report_runless_asset_event(event)
    assert sensor(dg.build_sensor_context(instance=fresh)).skip_reason is not None


def test_a_sealed_partition_is_never_rebuilt_by_a_run(tmp_path):
    root = write_project(tmp_path / "project", {"releases.yaml": (
        "- {date: 2026-04-25, title: April 2026, status: published}\n")})
    result = _run(root, tmp_path / "out", dg.DagsterInstance.ephemeral(), "2026-04-25")
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "is published (sealed): it is never rebuilt" in (
        failure.step_failure_data.error.to_string())
    assert not (tmp_path / "out").exists()
