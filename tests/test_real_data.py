"""The real Atlas: the curated facts of the five pages build every declared release, pass
`sovai check`, reproduce the committed release folders byte for byte, and keep the traps the
pages set (combined names, versions, parent organisations, umbrella amounts, conflicting counts)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from pipeline.cli.main import run_build
from pipeline.curation.curated import load_curated
from pipeline.curation.releases import declared_releases
from pipeline.curation.resolve import build_alias_index, resolve_name
from pipeline.paths import project_paths
from pipeline.validation.check import run_check
from pipeline.validation.schemas import load_schemas

from .conftest import REPO

SCHEMAS = load_schemas(REPO / "schemas")
RELEASES = [r.key for r in declared_releases(load_curated(REPO / "curated"))]
LATEST = RELEASES[-1]


SEALED = [r.key for r in declared_releases(load_curated(REPO / "curated")) if r.sealed]


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    """Every declared release as `sovai build` leaves it: published ones are the committed
    folders (verified, never rebuilt), drafts are built from this commit."""
    folder = tmp_path_factory.mktemp("real") / "releases"
    folder.mkdir()
    for key in SEALED:
        shutil.copytree(REPO / "releases" / key, folder / key)
    run_build(project_paths(REPO, folder), echo=lambda _: None,
              instance=dg.DagsterInstance.ephemeral())
    return folder


def _table(out: Path, release: str, name: str) -> pd.DataFrame:
    return pd.read_parquet(out / release / f"{name}.parquet")


def test_sovai_check_passes_on_the_real_project():
    lines: list[str] = []
    assert run_check(project_paths(REPO), echo=lines.append) == 0, "\n".join(lines)


def test_every_table_is_filled_and_every_quote_verified(out):
    for name in SCHEMAS:
        if name != "changes":
            assert len(_table(out, LATEST, name)) > 0, name
    # The sealed April release has the tables of its day (layer_evidence came in July).
    april = {name: len(_table(out, "2026-04-25", name)) for name in SCHEMAS
             if (out / "2026-04-25" / f"{name}.parquet").is_file()}
    assert set(SCHEMAS) - set(april) == {"layer_evidence"}
    # The April pages state no programme's amount and do not contradict each other: those two
    # tables fill from the May page on. Everything else is in the first release.
    assert april.pop("investments") == 0 and april.pop("conflicts") == 0
    assert all(april.values()), april
    for release in RELEASES:
        stats = (out / release / "datapackage.json").read_text()
        assert '"verified_quote_share": 1.0' in stats


def test_committed_releases_are_the_build_of_this_commit(out):
    """Drafts: the committed folder is exactly what this commit builds. Published releases
    were checked this way when they were sealed; since then `sovai build` verifies them."""
    committed = REPO / "releases"
    assert (committed / "index.json").read_bytes() == (out / "index.json").read_bytes()
    for release in RELEASES:
        built = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                 for p in sorted((out / release).iterdir())}
        on_disk = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                   for p in sorted((committed / release).iterdir())}
        assert built == on_disk, f"releases/{release} is stale: run `sovai build`"


def test_versions_share_a_family_and_combined_names_resolve(out):
    models = _table(out, LATEST, "models").set_index("model_id")
    qwen = set(models.index[models["family_id"] == "qwen"])
    assert {"qwen-3-6", "qwen-3-5", "qwen-3", "qwen-2-5"} <= qwen
    tables = {n: _table(out, LATEST, n) for n in ("models", "model_families", "organizations")}
    index = build_alias_index(tables, {n: SCHEMAS[n].primary_key for n in tables})
    look = ["models", "model_families"]
    assert set(resolve_name("DeepSeek V3/R1", look, index)) == {
        ("models", "deepseek-v3"), ("models", "deepseek-r1")}
    assert {i for _, i in resolve_name("Hunyuan/Hy3", look, index)} == {"hunyuan", "hy3"}
    assert resolve_name("deepseek-r1:14b", look, index) == [("models", "deepseek-r1")]
    assert resolve_name("Qwen 3.6", look, index) == [("models", "qwen-3-6")]
    assert list(models.loc["k2-think", "base_model_ids"]) == ["qwen-2-5"]


def test_labs_inside_groups_record_their_parent(out):
    organizations = _table(out, LATEST, "organizations").set_index("organization_id")
    assert organizations.loc["google-deepmind", "parent_id"] == "alphabet"
    assert organizations.loc["alibaba", "jurisdiction_id"] == "CHN"


def test_umbrella_amounts_are_not_double_counted(out):
    investments = _table(out, LATEST, "investments").set_index("investment_id")
    # "with ASML contributing €1.3 billion": the page says the Series C contains the stake.
    assert investments.loc["asml-mistral-ai-stake", "part_of"] == "mistral-ai-series-c-2025"
    # "€109B total; Mistral AI €1.7B" lists both; no page says one contains the other.
    assert pd.isna(investments.loc["mistral-ai-series-c-2025", "part_of"])
    france = investments.loc["france-ai-infrastructure-109bn"]
    assert france["amount"] == 109_000_000_000 and france["currency"] == "EUR"
    umbrellas = investments[investments["part_of"].isna()]
    assert "asml-mistral-ai-stake" not in umbrellas.index
    # "$" for a non-US programme is recorded as ambiguous, and converted only by a stated rule.
    humain = investments.loc["humain-ai-strategy-investment"]
    assert bool(humain["currency_ambiguous"]) and humain["currency_rule"] == "no_local_dollar"
    canada = investments.loc["canada-sovereign-ai-compute-strategy-investment"]
    assert canada["currency_rule"] == "unresolved" and pd.isna(canada["amount_usd"])


def test_conflicting_counts_are_listed_with_both_sources(out):
    conflicts = _table(out, LATEST, "conflicts")
    projects = conflicts[conflicts["metric"] == "sovereign_ai_projects"]
    assert len(projects) == 1
    row = projects.iloc[0]
    assert sorted(row["values"]) == ["130", "139"]
    assert set(row["source_ids"]) == {"open-weights-sovereign-ai-index-2026",
                                      "sovereign-ai-full-map-2026-05"}
    assert row["resolution"]


def test_origins_programmes_and_open_projects_without_a_licence(out):
    families = _table(out, LATEST, "model_families").set_index("family_id")
    # Page 000's origin table: ERNIE, Seed and Pangu are own foundation families.
    assert set(families.loc[["ernie", "seed", "pangu"], "origin"]) == {"foundation"}
    assert families.loc["flux", "origin"] == "media"
    assert families.loc["llama", "origin"] == "unknown"  # no page classes it
    projects = _table(out, LATEST, "projects").set_index("project_id")
    mission = projects.loc["indiaai-mission"]
    assert (mission["layer"], list(mission["other_layers"])) == ("compute", ["data", "models"])
    assert set(projects["layer"]) == {"compute", "models", "data"}  # DESIGN.md's three values
    parts = set(projects.index[projects["part_of"] == "indiaai-mission"])
    assert parts == {"indiaai-compute-capacity", "aikosha", "indiaai-innovation-centre",
                     "bharatgen-project"}
    assert set(projects.loc[sorted(parts), "layer"]) == {"compute", "data", "models"}
    # "release open weights" without a licence: open, terms unspecified (not permissive).
    assert projects.loc["minerva-project", "release_status"] == "open_unspecified"


def test_one_conflict_row_per_disagreement_and_figures_by_subject(out):
    conflicts = _table(out, LATEST, "conflicts")
    assert conflicts["conflict_id"].is_unique
    amount = conflicts[(conflicts["entity_id"] == "indiaai-mission-budget")
                       & (conflicts["field"] == "amount")]
    # The page's "~$1.25 billion USD" and its table's "$1.25B" are one disagreement.
    assert len(amount) == 1
    figures = _table(out, LATEST, "figures").set_index("figure_id")
    assert list(figures.loc["qwen-3-6-context-window", "subject_ids"]) == ["qwen-3-6"]
    assert "context_window" not in set(conflicts["metric"].dropna())


def test_release_notes_name_what_ids_point_to(out):
    notes = (out / "2026-05-31" / "CHANGES.md").read_text(encoding="utf-8")
    # part_of points into the table itself; its label comes from the release's own schema.
    assert "- part_of of BharatGen set to IndiaAI Mission — " in notes
    assert "- strategy of China added (" in (out / "2026-06-30" / "CHANGES.md").read_text()


def test_the_releases_of_the_five_pages_are_published_and_intact():
    import json

    from pipeline.curation.releases import verify_release_folder

    index = json.loads((REPO / "releases" / "index.json").read_text(encoding="utf-8"))
    listed = [(r["date"], r["status"], r["previous"]) for r in index["releases"]]
    assert listed == [("2026-04-25", "published", None),
                      ("2026-05-31", "published", "2026-04-25"),
                      ("2026-06-30", "published", "2026-05-31"),
                      ("2026-07-31", "published", "2026-06-30")]
    assert len(index["releases"][-1]["sources"]) == 5  # the latest includes all five pages
    for key in SEALED:
        assert verify_release_folder(REPO / "releases" / key) == [], key


def test_release_notes_link_each_source_to_its_capture():
    import re

    for key in RELEASES:
        folder = REPO / "releases" / key
        notes = (folder / "CHANGES.md").read_text(encoding="utf-8")
        targets = dict(re.findall(r"^\[([a-z0-9-]+)\]: (\S+)$", notes, flags=re.M))
        used = set(re.findall(r"\]\[([a-z0-9-]+)\]", notes))
        assert used <= set(targets), key
        assert used or key not in ("2026-04-25", "2026-05-31", "2026-06-30"), key
        for target in targets.values():  # a page with no URL links its capture
            assert (folder / target).resolve().is_file(), target


def test_reference_columns_join_their_one_table(out):
    """A column that points at one table holds keys of that table only, so a join never
    drops a row: base_model_ids holds models, families are in base_family_ids, and the
    polymorphic subject and investor get one typed column per table."""
    tables = {name: _table(out, LATEST, name) for name in SCHEMAS if name != "changes"}
    for name, schema in SCHEMAS.items():
        for column in schema.columns:
            if name == "changes" or len(column.references) != 1:
                continue
            (target,) = column.references
            keys = set(tables[target][SCHEMAS[target].primary_key])
            values = tables[name][column.name].dropna()
            items = [i for v in values for i in (v if column.is_list else [v])]
            assert set(items) <= keys, (name, column.name, set(items) - keys)
    models = tables["models"].set_index("model_id")
    assert list(models.loc["allam", "base_family_ids"]) == ["llama"]
    assert list(models.loc["allam", "base_model_ids"]) == []
    investments = tables["investments"].set_index("investment_id")
    assert investments.loc["microsoft-japan-2024", "investor_organization_id"] == "microsoft"
    assert investments.loc["france-ai-infrastructure-109bn", "investor_jurisdiction_id"] == "FRA"
    assert investments.loc["france-uae-ai-data-center-investment", "investor_type"] == "named"
    assessments = tables["assessments"]
    by_type = assessments.groupby("subject_type")
    assert set(by_type.groups) <= {"jurisdiction", "region"}
    assert (assessments["subject_id"] == assessments["jurisdiction_id"].fillna(
        assessments["region_id"])).all()


def test_links_the_pages_give_are_filled_both_ways(out):
    models = _table(out, LATEST, "models").set_index("model_id")
    projects = _table(out, LATEST, "projects").set_index("project_id")
    for project, produced in projects["model_ids"].items():
        for model in produced:
            assert project in list(models.loc[model, "project_ids"]), (project, model)
    # Named in the same sentence as ALLaM and Krikri, which list their models: so do these.
    for model in ("sahabat-ai", "taide", "bharatgen", "viettel-administrative-pilot"):
        assert list(projects.loc[f"{model}-project", "model_ids"]) == [model]
    families = _table(out, LATEST, "model_families").set_index("family_id")
    assert {"qwen-3", "qwen-3-6"} <= set(families.loc["qwen", "model_ids"])
    organizations = _table(out, LATEST, "organizations").set_index("organization_id")
    assert "google-deepmind" in set(organizations.loc["alphabet", "subsidiary_ids"])


def test_one_thing_one_id_and_typed_lists(out):
    """No ID is a key of two tables (a project and its model, a family and its company), so
    the lists that may point at several tables carry each item's table."""
    from pipeline.validation.validate import shared_ids

    tables = {name: _table(out, LATEST, name) for name in SCHEMAS}
    assert shared_ids(tables, SCHEMAS) == {}
    kinds = {"jurisdictions": "jurisdiction", "regions": "region",
             "organizations": "organization", "model_families": "model_family",
             "models": "model", "projects": "project"}
    keys = {kind: set(tables[t][SCHEMAS[t].primary_key]) for t, kind in kinds.items()}
    for table, ids, types in (("figures", "subject_ids", "subject_types"),
                              ("groupings", "member_ids", "member_types")):
        for row_ids, row_types in zip(tables[table][ids], tables[table][types], strict=True):
            assert len(row_ids) == len(row_types)
            assert all(i in keys[t] for i, t in zip(row_ids, row_types, strict=True))
    models = tables["models"].set_index("model_id")
    assert list(models.loc["allam", "project_ids"]) == ["allam-project"]
    families = tables["model_families"].set_index("family_id")
    assert "deepseek-family" in families.index and "deepseek" not in families.index
