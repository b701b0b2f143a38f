"""`sovai check` for curators, and the Dagster code location as `dagster` loads it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from click.testing import CliRunner

from pipeline.cli.main import main
from pipeline.definitions import BUILD_JOB, build_definitions

from .conftest import FILES, REPO, write_project


def test_check_passes_on_a_clean_project(tmp_path):
    root = write_project(tmp_path / "project")
    result = CliRunner().invoke(main, ["--root", str(root), "check"])
    assert result.exit_code == 0, result.output
    assert "0 blocking problems" in result.output
    assert "conflict: figures sovereign_ai_projects value: ['139', '130']" in result.output


def test_check_lists_every_bad_quote_with_file_and_line(tmp_path):
    models = textwrap.dedent(FILES["models.yaml"])
    models = models.replace("Alibaba released Qwen 3.6 under Apache 2.0 as open weights for text.",
                            "Alibaba released Qwen 3.6 under the MIT licence.")
    models = models.replace('"| Mistral Large | Mistral AI | France |"', '"| Mistral | France |"')
    root = write_project(tmp_path / "project", {"models.yaml": models})
    result = CliRunner().invoke(main, ["--root", str(root), "check"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if "quote not in" in line]
    assert len(lines) == 2, result.output
    assert lines[0].startswith("BLOCKING: curated/models.yaml:")
    assert "'Alibaba released Qwen 3.6 under the MIT licence.'" in result.output


def test_check_reports_unresolved_names(tmp_path):
    mentions = "- {source: mini-page, table: 1, column: Lab, resolve_to: [models]}\n"
    root = write_project(tmp_path / "project", {"mention_columns.yaml": mentions})
    result = CliRunner().invoke(main, ["--root", str(root), "check"])
    assert "3 unresolved mentions" in result.output
    assert "unresolved: curated/mention_columns.yaml:1: 'Alibaba' in mini-page#table=1&row=1" \
        in result.output


def test_definitions_have_partitioned_assets_checks_job_schedule_and_sensor():
    defs = build_definitions(REPO)
    job = defs.resolve_job_def(BUILD_JOB)
    assert job.partitions_def is not None
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"curated_records", "source_captures", "table_mentions", "models", "claims",
            "normalize_report", "unresolved_mentions", "release_folder"} <= keys
    assert "release_tables" not in keys  # each table is its own asset now
    checks = {c.name for c in defs.resolve_asset_graph().asset_check_keys}
    assert {"models_schema", "claims_schema", "foreign_keys", "claim_coverage",
            "quotes_verified"} <= checks
    assert defs.resolve_schedule_def("monthly_release") is not None
    assert defs.resolve_sensor_def("inputs_changed") is not None
    assert defs.resolve_sensor_def("sealed_releases") is not None


def test_dagster_definitions_validate(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "All code locations passed validation" in result.stdout + result.stderr
    assert "Validation successful for code location sovai." in result.stdout + result.stderr
