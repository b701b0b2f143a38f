"""layer_evidence: page 000's matrix computed from a release's tables, each cell with the rows
and claims behind it, and gaps shown as 0 rather than left out."""

from __future__ import annotations

import datetime as dt

from pipeline import dataset, stages
from pipeline.paths import project_paths

from .conftest import REPO, write_project


def _tables(root, date: str) -> dict:
    paths = project_paths(root, root / "releases")
    curated, _, _ = stages.load_project(paths)
    captures = stages.capture_sources(paths, curated).captures
    return stages.normalize(paths, curated, captures, dt.date.fromisoformat(date)).tables


def test_a_release_without_projects_has_zero_project_cells(tmp_path):
    # Found by the scaling harness: an empty projects table made normalize fail.
    tables = _tables(write_project(tmp_path / "project", {"projects.yaml": "[]\n"}),
                     "2026-04-25")
    evidence = tables["layer_evidence"].set_index("evidence_id")
    assert evidence.loc["fra-compute-national_projects", "count"] == 0
    assert list(evidence.loc["chn-licence-open_weight_models", "entity_ids"]) == ["qwen-3-6"]


def test_each_cell_lists_its_rows_and_claims_and_gaps_are_zero(tmp_path):
    tables = _tables(write_project(tmp_path / "project"), "2026-04-25")
    evidence = tables["layer_evidence"].set_index("evidence_id")
    claims = tables["claims"].set_index("claim_id")
    # One row per jurisdiction and kind, whatever the release holds.
    assert len(evidence) == len(tables["jurisdictions"]) * 10
    compute = evidence.loc["fra-compute-national_projects"]
    assert list(compute["entity_ids"]) == ["france-ai-infrastructure"] and compute["count"] == 1
    backing = claims.loc[list(compute["claim_ids"])]
    assert set(backing["entity_id"]) == {"france-ai-infrastructure"}
    assert set(backing["field"]) == {"layer"} and set(backing["value"]) == {"compute"}
    assert list(evidence.loc["chn-licence-open_weight_models", "entity_ids"]) == ["qwen-3-6"]
    # Unknown is its own cell, never folded into "not open".
    assert list(evidence.loc["fra-licence-weights_unknown", "entity_ids"]) == ["mistral-large"]
    assert evidence.loc["fra-licence-weights_not_open", "count"] == 0
    assert list(evidence.loc["fra-compute-investments", "entity_ids"]) == ["france-ai-109bn"]
    gap = evidence.loc["chn-compute-national_projects"]
    assert gap["count"] == 0 and list(gap["entity_ids"]) == [] and list(gap["claim_ids"]) == []


def test_the_real_release_matrix_agrees_with_its_tables():
    release = "2026-07-31"
    evidence = dataset.load("layer_evidence", release, base=REPO / "releases")
    claims = dataset.load("claims", release, base=REPO / "releases").set_index("claim_id")
    assert (evidence["count"] == evidence["entity_ids"].map(len)).all()
    for row in evidence[evidence["count"] > 0].itertuples():
        backing = claims.loc[row.claim_ids]
        assert set(backing["table_name"]) <= {row.entity_table}
        assert set(backing["entity_id"]) <= set(row.entity_ids)
    india = evidence.set_index("evidence_id").loc["ind-compute-national_projects"]
    assert {"indiaai-mission", "indiaai-compute-capacity"} <= set(india["entity_ids"])
    models = dataset.load("models", release, base=REPO / "releases")
    chinese_open = set(models[(models.jurisdiction_id == "CHN")
                              & (models.open_weights == "open")].model_id)
    assert set(evidence.set_index("evidence_id").loc["chn-licence-open_weight_models",
                                                     "entity_ids"]) == chinese_open
