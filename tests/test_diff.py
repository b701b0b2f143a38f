"""The release diff (pipeline.publishing.diff), its release notes
(pipeline.publishing.changes_md) and `sovai diff`."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pipeline.cli.diff import diff_command
from pipeline.publishing.changes_md import render_changes_md
from pipeline.publishing.diff import CHANGES_COLUMNS, DiffError, diff_release_dirs, reconcile_counts
from tests.release_factory import PRIMARY_KEYS, base_tables, rows_by_id, write_release


def _pair(tmp_path: Path, edit=None, **kwargs) -> tuple[Path, Path]:
    """An old release from base_tables() and a new one after edit(tables) (in place)."""
    old = write_release(tmp_path / "2026-04-25", base_tables())
    tables = base_tables()
    if edit is not None:
        edit(tables)
    new = write_release(tmp_path / "2026-05-31", tables, **kwargs)
    return old, new


def _rows(changes: pd.DataFrame, **match) -> list[dict]:
    mask = pd.Series(True, index=changes.index)
    for column, value in match.items():
        mask &= changes[column] == value
    return [{k: (None if pd.isna(v) else v) for k, v in row.items()}
            for row in changes[mask].to_dict("records")]


def _cell(changes: pd.DataFrame, table: str, entity: str, field: str) -> tuple | None:
    rows = _rows(changes, table_name=table, entity_id=entity, field=field, change="changed")
    assert len(rows) <= 1
    return (rows[0]["old_value"], rows[0]["new_value"]) if rows else None


def _models(tables: dict) -> dict[str, dict]:
    return rows_by_id(tables["models"], "model_id")


def _run(*args: str) -> object:
    return CliRunner().invoke(diff_command, list(args))


def _assert_reconciles(changes: pd.DataFrame, old: Path, new: Path) -> pd.DataFrame:
    counts = reconcile_counts(changes, old, new)
    assert counts["ok"].all(), counts.to_string()
    assert (counts["previous"] + counts["added"] - counts["removed"] == counts["current"]).all()
    return counts


# --- the diff ------------------------------------------------------------------------------


def test_identical_releases_give_an_empty_diff_and_exit_0(tmp_path):
    old, new = _pair(tmp_path)
    changes = diff_release_dirs(old, new)
    assert changes.empty
    assert list(changes.columns) == CHANGES_COLUMNS
    result = _run(str(old), str(new))
    assert result.exit_code == 0, result.output
    assert "identical" in result.output


def test_first_release_diff_is_empty_with_the_right_columns(tmp_path):
    new = write_release(tmp_path / "2026-04-25", base_tables())
    changes = diff_release_dirs(None, new, primary_keys=PRIMARY_KEYS)
    assert changes.empty and list(changes.columns) == CHANGES_COLUMNS
    counts = reconcile_counts(changes, None, new)
    assert counts["ok"].all()
    assert dict(zip(counts["table_name"], counts["current"], strict=True))["models"] == 3


def test_added_removed_and_changed_cells_with_exact_values(tmp_path):
    def edit(tables):
        models = _models(tables)
        models["deepseek-v4"]["license"] = "Apache-2.0"
        models["deepseek-v4"]["params_b"] = 685.5
        models["deepseek-v4"]["downloads"] = 1300
        models["qwen-3-5"]["params_b"] = 236.0
        tables["models"] = [m for m in tables["models"] if m["model_id"] != "mistral-large"]
        tables["models"].append({
            "model_id": "qwen-3-6", "name": "Qwen 3.6", "aliases": [],
            "organization_ids": ["alibaba"], "jurisdiction_id": "CHN", "license": "Apache-2.0",
            "params_b": None, "downloads": 0, "released_on": dt.date(2026, 4, 2),
            "version": "3.6"})

    old, new = _pair(tmp_path, edit)
    changes = diff_release_dirs(old, new, primary_keys=PRIMARY_KEYS)
    assert _rows(changes, change="added") == [{
        "table_name": "models", "entity_id": "qwen-3-6", "change": "added", "field": None,
        "old_value": None, "new_value": None, "kind": "value"}]
    assert [r["entity_id"] for r in _rows(changes, change="removed")] == ["mistral-large"]
    assert _cell(changes, "models", "deepseek-v4", "license") == ("MIT", "Apache-2.0")
    assert _cell(changes, "models", "deepseek-v4", "params_b") == ("671", "685.5")
    assert _cell(changes, "models", "deepseek-v4", "downloads") == ("1200", "1300")
    assert _cell(changes, "models", "qwen-3-5", "params_b") == ("235", "236")
    assert len(_rows(changes, change="changed")) == 4  # nothing else differs
    assert set(changes["kind"]) == {"value"}
    # Deterministic order: (table_name, entity_id, change, field).
    keys = list(zip(changes["table_name"], changes["entity_id"], changes["change"],
                    changes["field"].fillna(""), strict=True))
    assert keys == sorted(keys)
    _assert_reconciles(changes, old, new)


def test_nulls_compare_explicitly(tmp_path):
    def edit(tables):
        models = _models(tables)
        models["mistral-large"]["params_b"] = 123.0  # null -> value
        models["deepseek-v4"]["license"] = None  # value -> null
        # mistral-large license and every version stay null: null -> null is no change

    old, new = _pair(tmp_path, edit)
    changes = diff_release_dirs(old, new)
    assert _cell(changes, "models", "mistral-large", "params_b") == (None, "123")
    assert _cell(changes, "models", "deepseek-v4", "license") == ("MIT", None)
    assert _cell(changes, "models", "mistral-large", "license") is None
    assert _rows(changes, field="version") == []
    assert len(changes) == 2


def test_list_and_date_columns(tmp_path):
    def edit(tables):
        models = _models(tables)
        models["qwen-3-5"]["organization_ids"] = ["alibaba", "deepseek"]
        models["qwen-3-5"]["aliases"] = []
        models["deepseek-v4"]["released_on"] = dt.date(2026, 2, 1)

    old, new = _pair(tmp_path, edit)
    changes = diff_release_dirs(old, new)
    assert _cell(changes, "models", "qwen-3-5", "organization_ids") == (
        '["alibaba"]', '["alibaba","deepseek"]')
    assert _cell(changes, "models", "qwen-3-5", "aliases") == ('["Qwen3.5"]', "[]")
    assert _cell(changes, "models", "deepseek-v4", "released_on") == ("2026-01-20", "2026-02-01")
    assert len(changes) == 3


def test_list_order_matters(tmp_path):
    def edit(tables):
        _models(tables)["deepseek-v4"]["organization_ids"] = ["deepseek", "alibaba"]
        _models(tables)["qwen-3-5"]["organization_ids"] = ["alibaba", "deepseek"]

    old, new = _pair(tmp_path, edit)
    changes = diff_release_dirs(old, new)
    assert len(_rows(changes, field="organization_ids")) == 2


def test_rename_via_redirect_is_renamed_not_removed_and_added(tmp_path):
    def edit(tables):
        model = _models(tables)["deepseek-v4"]
        model["model_id"] = "deepseek-v4-0"
        model["name"] = "DeepSeek V4.0"

    old, new = _pair(tmp_path, edit)
    redirects = [{"table": "models", "old_id": "deepseek-v4", "new_id": "deepseek-v4-0",
                  "reason": "renamed upstream"}]
    changes = diff_release_dirs(old, new, redirects=redirects)
    assert _rows(changes, change="added") == [] and _rows(changes, change="removed") == []
    assert _rows(changes, change="renamed") == [{
        "table_name": "models", "entity_id": "deepseek-v4-0", "change": "renamed",
        "field": None, "old_value": "deepseek-v4", "new_value": "deepseek-v4-0",
        "kind": "value"}]
    assert _cell(changes, "models", "deepseek-v4-0", "name") == ("DeepSeek V4", "DeepSeek V4.0")
    assert len(changes) == 2
    counts = _assert_reconciles(changes, old, new)
    models = counts.set_index("table_name").loc["models"]
    assert (models["renamed"], models["added"], models["removed"]) == (1, 0, 0)

    # Without the redirect the same folders are a removal plus an addition.
    plain = diff_release_dirs(old, new)
    assert sorted(plain["change"]) == ["added", "removed"]


def test_rename_with_unchanged_values_and_chained_redirects(tmp_path):
    def edit(tables):
        _models(tables)["qwen-3-5"]["model_id"] = "qwen3-5"

    old, new = _pair(tmp_path, edit)
    redirects = [{"table": "models", "old_id": "qwen-3-5", "new_id": "qwen-3-5-x"},
                 {"table": "models", "old_id": "qwen-3-5-x", "new_id": "qwen3-5"},
                 {"table": "organizations", "old_id": "qwen-3-5", "new_id": "elsewhere"}]
    changes = diff_release_dirs(old, new, redirects=redirects)
    assert list(changes["change"]) == ["renamed"]
    assert (changes["old_value"][0], changes["new_value"][0]) == ("qwen-3-5", "qwen3-5")


def test_merge_into_an_existing_entity_reconciles(tmp_path):
    def edit(tables):
        tables["models"] = [m for m in tables["models"] if m["model_id"] != "mistral-large"]

    old, new = _pair(tmp_path, edit)
    redirects = [{"table": "models", "old_id": "mistral-large", "new_id": "qwen-3-5"}]
    changes = diff_release_dirs(old, new, redirects=redirects)
    assert _rows(changes) == [{
        "table_name": "models", "entity_id": "mistral-large", "change": "removed",
        "field": None, "old_value": None, "new_value": "qwen-3-5", "kind": "value"}]
    _assert_reconciles(changes, old, new)


def test_duplicate_primary_key_is_an_error(tmp_path):
    def edit(tables):
        tables["models"].append(dict(_models(tables)["qwen-3-5"], name="Qwen again"))

    old, new = _pair(tmp_path, edit)
    with pytest.raises(DiffError) as err:
        diff_release_dirs(old, new)
    message = str(err.value)
    assert "models" in message and "qwen-3-5" in message and str(new) in message
    result = _run(str(old), str(new))
    assert result.exit_code == 2
    assert "duplicate primary key" in result.stderr and "qwen-3-5" in result.stderr
    # ...in the old folder too.
    with pytest.raises(DiffError, match="2026-05-31"):
        diff_release_dirs(new, old)


def test_null_primary_key_is_an_error(tmp_path):
    def edit(tables):
        _models(tables)["qwen-3-5"]["model_id"] = None

    old, new = _pair(tmp_path, edit)
    with pytest.raises(DiffError, match="null primary key"):
        diff_release_dirs(old, new)


def test_missing_folder_and_unreadable_files_exit_2(tmp_path):
    old, new = _pair(tmp_path)
    result = _run(str(old), str(tmp_path / "nope"))
    assert result.exit_code == 2
    assert "release folder not found" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    result = _run("2031-01-01", str(new), "--releases-dir", str(tmp_path))
    assert result.exit_code == 2 and "2031-01-01" in result.stderr

    (new / "models.parquet").write_bytes(b"not parquet")
    result = _run(str(old), str(new))
    assert result.exit_code == 2 and "models.parquet" in result.stderr

    (new / "models.parquet").unlink()
    (new / "datapackage.json").write_text("{not json")
    result = _run(str(old), str(new))
    assert result.exit_code == 2 and "datapackage.json" in result.stderr


def test_missing_primary_key_is_an_error(tmp_path):
    old, new = _pair(tmp_path, datapackage=False)
    (old / "datapackage.json").unlink()
    with pytest.raises(DiffError, match="no primary key"):
        diff_release_dirs(old, new)
    assert diff_release_dirs(old, new, primary_keys=PRIMARY_KEYS).empty


def test_schema_changes_are_listed(tmp_path):
    def edit(tables):
        for model in tables["models"]:
            model["languages"] = ["en"]  # added
            del model["version"]  # removed
            model["downloads"] = float(model["downloads"])  # int64 -> float64, equal values

    old, new = _pair(tmp_path, edit, types={"models": {"downloads": pa.float64()}})
    changes = diff_release_dirs(old, new)
    assert _rows(changes, kind="schema") == [
        {"table_name": "models", "entity_id": None, "change": "column_added",
         "field": "languages", "old_value": None, "new_value": "list<string>", "kind": "schema"},
        {"table_name": "models", "entity_id": None, "change": "column_removed",
         "field": "version", "old_value": "string", "new_value": None, "kind": "schema"},
        {"table_name": "models", "entity_id": None, "change": "column_retyped",
         "field": "downloads", "old_value": "int64", "new_value": "float64", "kind": "schema"},
    ]
    assert len(changes) == 3  # 1200 -> 1200.0 is no cell change; added columns list no cells
    result = _run(str(old), str(new))
    assert result.exit_code == 1


def test_retyped_column_with_a_different_value(tmp_path):
    def edit(tables):
        for model in tables["models"]:
            model["downloads"] = str(model["downloads"])
        _models(tables)["qwen-3-5"]["downloads"] = "nine hundred"

    old, new = _pair(tmp_path, edit, types={"models": {"downloads": pa.string()}})
    changes = diff_release_dirs(old, new)
    assert _cell(changes, "models", "qwen-3-5", "downloads") == ("900", "nine hundred")
    assert len(_rows(changes, change="column_retyped")) == 1


def test_added_and_removed_tables(tmp_path):
    def edit(tables):
        del tables["jurisdictions"]
        tables["fx_rates"] = [{"fx_rate_id": "eur-2026", "currency": "EUR",
                               "usd_per_unit": 1.1}]

    old, new = _pair(tmp_path, edit)
    changes = diff_release_dirs(old, new, primary_keys=PRIMARY_KEYS)
    assert sorted(_rows(changes, table_name="jurisdictions", kind="value")[0].items()) == sorted(
        {"table_name": "jurisdictions", "entity_id": "CHN", "change": "removed", "field": None,
         "old_value": None, "new_value": None, "kind": "value"}.items())
    assert len(_rows(changes, table_name="jurisdictions", change="removed")) == 3
    assert [r["entity_id"] for r in _rows(changes, table_name="fx_rates", change="added")] == [
        "eur-2026"]
    _assert_reconciles(changes, old, new)


def test_claims_and_sources_changes_are_provenance(tmp_path):
    def edit(tables):
        tables["claims"].append({
            "claim_id": "c3", "table_name": "models", "entity_id": "deepseek-v4",
            "field": "license", "value": "MIT", "source_id": "page-b",
            "quote": "MIT, says page B", "locator": "page-b#line=9", "basis": "stated",
            "reference_url": None})
        rows_by_id(tables["claims"], "claim_id")["c2"]["quote"] = "Qwen 3.5 (table)"
        rows_by_id(tables["sources"], "source_id")["page-b"]["url"] = "https://example.org/b"

    old, new = _pair(tmp_path, edit)
    changes = diff_release_dirs(old, new)
    assert set(changes["kind"]) == {"provenance"}
    assert _rows(changes, table_name="claims", change="added")[0]["entity_id"] == "c3"
    assert _cell(changes, "claims", "c2", "quote") == ("Qwen 3.5", "Qwen 3.5 (table)")
    assert _cell(changes, "sources", "page-b", "url") == (None, "https://example.org/b")
    _assert_reconciles(changes, old, new)


def test_counts_reconcile_on_a_mixed_release(tmp_path):
    def edit(tables):
        tables["models"] = tables["models"][1:]
        tables["organizations"].append({"organization_id": "zhipu", "name": "Zhipu AI",
                                        "aliases": [], "jurisdiction_id": "CHN",
                                        "kind": "company"})
        tables["claims"] = tables["claims"][:1]
        rows_by_id(tables["jurisdictions"], "jurisdiction_id")["USA"]["region"] = "N. America"

    old, new = _pair(tmp_path, edit)
    changes = diff_release_dirs(old, new)
    counts = _assert_reconciles(changes, old, new).set_index("table_name")
    assert counts.loc["models", ["previous", "removed", "current"]].tolist() == [3, 1, 2]
    assert counts.loc["organizations", ["added", "current"]].tolist() == [1, 4]
    assert counts.loc["jurisdictions", "changed"] == 1


def test_key_hash_collisions_fall_back_to_exact_keys(tmp_path, monkeypatch):
    def edit(tables):
        _models(tables)["deepseek-v4"]["license"] = "Apache-2.0"
        _models(tables)["qwen-3-5"]["model_id"] = "qwen3-5"
        tables["models"] = [m for m in tables["models"] if m["model_id"] != "mistral-large"]

    old, new = _pair(tmp_path, edit)
    redirects = [{"table": "models", "old_id": "qwen-3-5", "new_id": "qwen3-5"}]
    expected = diff_release_dirs(old, new, redirects=redirects)
    plain = diff_release_dirs(old, new)
    # Every key hashes alike: duplicates that are not, and pairs with the wrong keys.
    monkeypatch.setattr("pipeline.publishing.diff.KEY_HASH", "(length(CAST({} AS VARCHAR)) * 0)")
    pd.testing.assert_frame_equal(diff_release_dirs(old, new, redirects=redirects), expected)
    pd.testing.assert_frame_equal(diff_release_dirs(old, new), plain)

    one = write_release(tmp_path / "one", {"models": [{"model_id": "a", "name": "A"}]})
    other = write_release(tmp_path / "other", {"models": [{"model_id": "b", "name": "B"}]})
    assert sorted(diff_release_dirs(one, other)["change"]) == ["added", "removed"]


def test_each_row_reports_just_its_own_changed_columns(tmp_path):
    # Different rows change different columns (and one column changes in no row), so the
    # columns fetched for the changed rows are a union; no cell is reported where it did not
    # change, and no changed cell is missed.
    def edit(tables):
        models = _models(tables)
        models["deepseek-v4"]["name"] = "DeepSeek V4.1"
        models["qwen-3-5"]["downloads"] = 901
        models["qwen-3-5"]["aliases"] = ["Qwen3.5", "Qwen-3.5"]
        models["mistral-large"]["model_id"] = "mistral-large-3"  # renamed, values unchanged

    old, new = _pair(tmp_path, edit)
    redirects = [{"table": "models", "old_id": "mistral-large", "new_id": "mistral-large-3"}]
    changes = diff_release_dirs(old, new, redirects=redirects)
    cells = {(r["entity_id"], r["field"]): (r["old_value"], r["new_value"])
             for r in _rows(changes, change="changed")}
    assert cells == {("deepseek-v4", "name"): ("DeepSeek V4", "DeepSeek V4.1"),
                     ("qwen-3-5", "downloads"): ("900", "901"),
                     ("qwen-3-5", "aliases"): ('["Qwen3.5"]', '["Qwen3.5","Qwen-3.5"]')}
    assert [(r["old_value"], r["new_value"]) for r in _rows(changes, change="renamed")] == [
        ("mistral-large", "mistral-large-3")]
    _assert_reconciles(changes, old, new)


# --- release notes -------------------------------------------------------------------------


def _qwen_release(tables):
    tables["models"].append({
        "model_id": "qwen-3-6", "name": "Qwen 3.6", "aliases": ["Qwen3.6"],
        "organization_ids": ["alibaba"], "jurisdiction_id": "CHN", "license": "Apache-2.0",
        "params_b": None, "downloads": 0, "released_on": dt.date(2026, 4, 2), "version": "3.6"})
    tables["claims"].append({
        "claim_id": "c9", "table_name": "models", "entity_id": "qwen-3-6", "field": "name",
        "value": "Qwen 3.6", "source_id": "page-a", "quote": "Qwen 3.6Alibaba",
        "locator": "page-a#line=8", "basis": "table", "reference_url": None})
    _models(tables)["deepseek-v4"]["license"] = "Apache-2.0"
    rows_by_id(tables["claims"], "claim_id")["c1"].update(
        value="Apache-2.0", quote="DeepSeek V4 is now Apache licensed")
    tables["models"] = [m for m in tables["models"] if m["model_id"] != "mistral-large"]


def test_changes_md_reads_like_release_notes(tmp_path):
    old, new = _pair(tmp_path, _qwen_release)
    changes = diff_release_dirs(old, new)
    counts = reconcile_counts(changes, old, new)
    text = render_changes_md(changes, new, old_label="2026-04-25", new_label="2026-05-31",
                             counts=counts, old_dir=old)
    assert text.startswith("# Sovereign AI Atlas 2026-05-31: changes since 2026-04-25")
    assert text.index("| table | previous | added | removed | renamed | changed | current |") \
        < text.index("Qwen 3.6 added")
    assert "| models | 3 | 1 | 1 | 0 | 1 | 3 |" in text
    assert ("Qwen 3.6 added (Alibaba, China, Apache-2.0) — "
            "[Sovereign models of every country][page-a]") in text
    assert text.endswith("\n[page-a]: https://example.org/a\n")  # the link's target
    assert "license of DeepSeek V4 changed from MIT to Apache-2.0" in text
    assert "Mistral Large removed" in text
    assert "## Provenance" in text and "### Claims" in text
    assert text == render_changes_md(changes, new, old_label="2026-04-25",
                                     new_label="2026-05-31", counts=counts, old_dir=old)
    # Without the previous folder, removed entities fall back to their IDs.
    text = render_changes_md(changes, new, old_label="2026-04-25", new_label="2026-05-31",
                             counts=counts)
    assert "mistral-large removed" in text


def test_changes_md_for_schema_rename_and_first_release(tmp_path):
    def edit(tables):
        _models(tables)["qwen-3-5"]["model_id"] = "qwen3-5"
        rows_by_id(tables["sources"], "source_id")["page-b"]["url"] = "https://example.org/b"
        for model in tables["models"]:
            model["languages"] = ["en"]

    old, new = _pair(tmp_path, edit)
    redirects = [{"table": "models", "old_id": "qwen-3-5", "new_id": "qwen3-5"}]
    changes = diff_release_dirs(old, new, redirects=redirects)
    text = render_changes_md(changes, new, old_label="2026-04-25", new_label="2026-05-31",
                             counts=reconcile_counts(changes, old, new), old_dir=old)
    assert "Qwen 3.5 (`qwen-3-5`) renamed to Qwen 3.5 (`qwen3-5`)" in text
    assert "models: column `languages` added (list<string>)" in text
    assert "url of [A page without URL][page-b] changed from none to" in text
    assert "\n[page-b]: https://example.org/b\n" in text

    first = render_changes_md(diff_release_dirs(None, old), old, old_label=None,
                              new_label="2026-04-25",
                              counts=reconcile_counts(diff_release_dirs(None, old), None, old))
    assert "First release: 13 rows in 5 tables." in first
    assert "- A page without URL" in first  # neither URL nor capture: no link
    assert "[Sovereign models of every country][page-a]" in first
    assert "\n[page-a]: https://example.org/a\n" in first


def test_changes_md_reads_rows_as_pandas_gives_them(tmp_path):
    """The notes format the rows they read, so a row read through Arrow is the record
    to_dict gives of the whole table read by pandas: the same types, NaN where pandas has NaN
    (an int column with a null is floats), lists as arrays, for a batch and for one ID."""
    from pipeline.publishing.changes_md import _Release

    table = pa.table({
        "thing_id": ["a", "b", "c"],
        "name": ["A", None, "C"],
        "tags": pa.array([["x", None], None, []], pa.list_(pa.string())),
        "count": pa.array([1, None, 3], pa.int64()),
        "size": pa.array([1, 2, 3], pa.int64()),
        "on": pa.array([dt.date(2026, 1, 2), None, dt.date(2026, 3, 4)], pa.date32()),
        "flag": [True, False, True],
        "share": [0.5, None, 1.0],
    })
    pq.write_table(table, tmp_path / "things.parquet")
    expected = dict(zip(["a", "b", "c"], table.to_pandas().to_dict("records"), strict=True))

    def same(a, b) -> bool:
        if isinstance(a, float) and a != a:
            return isinstance(b, float) and b != b
        if hasattr(a, "tolist"):
            return type(a) is type(b) and a.dtype == b.dtype and a.tolist() == b.tolist()
        return type(a) is type(b) and a == b

    batch = _Release(tmp_path)
    batch.fetch_rows("things", ["c", "a", "b", "missing"])
    for release in (batch, _Release(tmp_path)):  # the second reads one ID at a time
        for thing_id, record in expected.items():
            row = release.row("things", thing_id)
            assert list(row) == list(record)
            assert all(same(record[c], row[c]) for c in record), (thing_id, row, record)
        assert release.row("things", "missing") is None


# --- sovai diff ------------------------------------------------------------------------------


def test_cli_summary_dates_and_outputs(tmp_path):
    _pair(tmp_path, _qwen_release)
    out_parquet, out_json = tmp_path / "d.parquet", tmp_path / "d.json"
    result = _run("2026-04-25", "2026-05-31", "--releases-dir", str(tmp_path),
                  "--output", str(out_parquet))
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[1].split() == ["table", "added", "removed", "changed", "renamed", "schema"]
    assert ["models", "1", "1", "1", "0", "0"] in [line.split() for line in lines]
    expected = diff_release_dirs(tmp_path / "2026-04-25", tmp_path / "2026-05-31")
    back = pq.read_table(out_parquet)
    assert back.schema.metadata is None and back.column_names == CHANGES_COLUMNS
    pd.testing.assert_frame_equal(back.to_pandas(), expected)

    result = _run(str(tmp_path / "2026-04-25"), str(tmp_path / "2026-05-31"),
                  "--output", str(out_json))
    assert result.exit_code == 1
    records = json.loads(out_json.read_text())
    assert len(records) == len(expected)
    assert {"table_name": "models", "entity_id": "qwen-3-6", "change": "added", "field": None,
            "old_value": None, "new_value": None, "kind": "value"} in records

    result = _run("2026-04-25", "2026-05-31", "--releases-dir", str(tmp_path),
                  "--output", str(tmp_path / "d.csv"))
    assert result.exit_code == 2


def test_cli_reads_redirects_from_the_project(tmp_path, monkeypatch):
    def edit(tables):
        _models(tables)["qwen-3-5"]["model_id"] = "qwen3-5"

    old, new = _pair(tmp_path / "releases", edit)
    (tmp_path / "curated").mkdir()
    (tmp_path / "curated" / "redirects.yaml").write_text(
        "- {table: models, old_id: qwen-3-5, new_id: qwen3-5, reason: typo}\n")
    monkeypatch.setenv("SOVAI_ROOT", str(tmp_path))
    result = _run("2026-04-25", "2026-05-31")
    assert result.exit_code == 1
    assert ["models", "0", "0", "0", "1", "0"] in [line.split() for line in
                                                   result.output.splitlines()]


DIFF_IMPORTS = textwrap.dedent("""
    import json, sys
    from pipeline.cli.main import main
    sys.argv = ["sovai", "diff", *sys.argv[1:]]
    try:
        main()
    except SystemExit as exit:
        code = exit.code
    print(json.dumps({"code": code, "imported": sorted(
        m for m in ("pandas", "pandera", "dagster", "pyarrow.acero") if m in sys.modules)}))
""")


def test_sovai_diff_runs_without_loading_pandas(tmp_path):
    # Start-up is most of a small diff's time: pandas, pandera and dagster each take a second
    # or more to import on this machine, and the diff works in DuckDB and Arrow throughout.
    old, new = _pair(tmp_path, _qwen_release)
    result = subprocess.run([sys.executable, "-c", DIFF_IMPORTS, str(old), str(new)],
                            capture_output=True, text=True, timeout=300)
    *printed, summary = result.stdout.strip().splitlines()
    assert json.loads(summary) == {"code": 1, "imported": []}, result.stderr
    assert ["models", "1", "1", "1", "0", "0"] in [line.split() for line in printed]
