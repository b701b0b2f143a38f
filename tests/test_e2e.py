"""End to end: real Dagster runs build releases into a temporary folder, which pandas (3 and
2.2), DuckDB and Polars read back."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import dagster as dg
import duckdb
import pandas as pd
import polars as pl
import pytest

from pipeline.cli.main import run_build
from pipeline.curation.curated import load_curated
from pipeline.curation.releases import declared_releases
from pipeline.paths import project_paths
from pipeline.site.config import load_publication
from pipeline.validation.schemas import load_schemas

from .conftest import REPO, write_project

SCHEMAS = load_schemas(REPO / "schemas")
TABLES = [name for name in SCHEMAS if name != "changes"]


def _build(root: Path, out: Path, release: str | None = None) -> list[dict]:
    return run_build(project_paths(root, out), release, echo=lambda _: None,
                     instance=dg.DagsterInstance.ephemeral())


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("e2e")
    root = write_project(base / "project")
    out = base / "releases"
    _build(root, out)
    return root, out


def _files(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_every_declared_release_is_built_with_every_table(built):
    _, out = built
    assert sorted(p.name for p in out.iterdir()) == ["2026-04-25", "2026-05-31", "captures",
                                                     "index.json"]
    # The captures the releases quote, content-addressed, beside them.
    captures = sorted(p.relative_to(out).as_posix() for p in (out / "captures").glob("*/*"))
    assert [c.split("/")[1] for c in captures] == ["later-page", "mini-page"]
    for path in (out / "captures").glob("*/*"):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name.split(".")[0]
    for release in ("2026-04-25", "2026-05-31"):
        names = {p.name for p in (out / release).iterdir()}
        assert {f"{t}.parquet" for t in TABLES} | {"changes.parquet", "CHANGES.md",
                                                  "datapackage.json"} == names


def test_tables_load_in_pandas_duckdb_and_polars(built):
    _, out = built
    folder = out / "2026-05-31"
    for table in TABLES:
        path = folder / f"{table}.parquet"
        frame = pd.read_parquet(path)
        schema = SCHEMAS[table]
        assert list(frame.columns) == schema.column_names
        keys = list(frame[schema.primary_key])
        assert keys == sorted(keys), f"{table} is not sorted by {schema.primary_key}"
        assert len(keys) == len(set(keys))
        for column in schema.columns:
            values = frame[column.name].dropna()
            if column.type == "date":
                assert all(isinstance(v, dt.date) for v in values), (table, column.name)
            if column.is_list:
                assert all(len(v) == 0 or isinstance(v[0], str) for v in values)
                assert all(hasattr(v, "__len__") and not isinstance(v, str) for v in values)
        assert duckdb.execute(f"SELECT count(*) FROM '{path}'").fetchone()[0] == len(frame)
        assert pl.read_parquet(path).height == len(frame)
    models = pd.read_parquet(folder / "models.parquet").set_index("model_id")
    assert list(models.loc["qwen-3-6", "organization_ids"]) == ["alibaba"]
    sources = pd.read_parquet(folder / "sources.parquet")
    assert sources["published_on"].iloc[0] == dt.date(2026, 5, 1)
    assert pl.read_parquet(folder / "sources.parquet").schema["published_on"] == pl.Date


def test_tables_load_with_pandas_2_2(built):
    """A plain read in pandas 2.2, in its own environment (uv fetches and caches it)."""
    _, out = built
    script = textwrap.dedent(f"""
        import datetime, glob, pandas as pd
        assert pd.__version__.startswith("2.2"), pd.__version__
        for path in sorted(glob.glob("{out / '2026-05-31'}/*.parquet")):
            frame = pd.read_parquet(path)
        s = pd.read_parquet("{out / '2026-05-31' / 'sources.parquet'}")
        assert isinstance(s["published_on"].iloc[0], datetime.date)
        m = pd.read_parquet("{out / '2026-05-31' / 'models.parquet'}")
        assert list(m.set_index("model_id").loc["qwen-3-6", "organization_ids"]) == ["alibaba"]
        print("ok", flush=True)
        # Every read and assertion is done. Skip interpreter teardown: pyarrow's
        # thread pools can abort there ("terminate called without an active
        # exception", apache/arrow#34314), which says nothing about our files.
        import os
        os._exit(0)
    """)
    result = subprocess.run(
        [sys.executable, "-m", "uv", "run", "--no-project", "--quiet", "--with",
         "pandas==2.2.3", "--with", "pyarrow==26.0.1", "python", "-c", script],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"


def test_releases_include_only_sources_published_by_their_date(built):
    _, out = built
    april = pd.read_parquet(out / "2026-04-25" / "sources.parquet")
    may = pd.read_parquet(out / "2026-05-31" / "sources.parquet")
    assert list(april["source_id"]) == ["mini-page"]
    assert list(may["source_id"]) == ["later-page", "mini-page"]
    april_figures = pd.read_parquet(out / "2026-04-25" / "figures.parquet")
    assert list(april_figures["figure_id"]) == ["index-projects-139"]
    may_conflicts = pd.read_parquet(out / "2026-05-31" / "conflicts.parquet")
    assert list(may_conflicts["values"].iloc[0]) == ["139", "130"]
    assert list(may_conflicts["source_ids"].iloc[0]) == ["mini-page", "later-page"]
    assert pd.read_parquet(out / "2026-04-25" / "conflicts.parquet").empty


def test_every_value_has_a_claim_whose_quote_is_in_the_capture(built):
    root, out = built
    claims = pd.read_parquet(out / "2026-05-31" / "claims.parquet")
    pages = {"mini-page": (root / "pages" / "mini.txt").read_text(),
             "later-page": (root / "pages" / "later.txt").read_text()}
    quoted = claims[claims["basis"] != "external"]
    assert len(quoted) > 0
    for row in quoted.itertuples():
        assert " ".join(row.quote.split()) in " ".join(pages[row.source_id].split())
    license_claim = claims[(claims.entity_id == "qwen-3-6") & (claims.field == "license")]
    assert list(license_claim["value"]) == ["Apache-2.0"]
    investments = pd.read_parquet(out / "2026-05-31" / "investments.parquet")
    assert investments["amount"].iloc[0] == 109_000_000_000
    assert investments["amount_usd"].iloc[0] == round(109_000_000_000 * 1.0389)


def test_datapackage_and_index_describe_the_files(built):
    _, out = built
    folder = out / "2026-05-31"
    package = json.loads((folder / "datapackage.json").read_text())
    assert package["version"] == "2026-05-31" and package["previous"] == "2026-04-25"
    for resource in package["resources"]:
        path = folder / resource["path"]
        assert resource["bytes"] == path.stat().st_size
        assert resource["hash"] == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
        if resource.get("type") == "table":
            assert resource["rows"] == len(pd.read_parquet(path))
            assert resource["schema"]["primaryKey"] == [SCHEMAS[resource["name"]].primary_key]
    index = json.loads((out / "index.json").read_text())
    assert [r["date"] for r in index["releases"]] == ["2026-04-25", "2026-05-31"]
    may = index["releases"][1]
    assert may["status"] == "draft" and may["previous"] == "2026-04-25"
    assert may["sources"] == ["later-page", "mini-page"]
    assert may["tables"]["models"]["rows"] == 3


def test_build_is_deterministic(built, tmp_path):
    root, out = built
    again = tmp_path / "again"
    _build(root, again, "2026-04-25")
    assert _files(again / "2026-04-25") == _files(out / "2026-04-25")


def test_published_release_is_sealed(tmp_path):
    root = write_project(tmp_path / "project")
    out = tmp_path / "releases"
    _build(root, out, "2026-04-25")
    releases = root / "curated" / "releases.yaml"
    releases.write_text(releases.read_text().replace(
        "title: April 2026, status: draft", "title: April 2026, status: published"))
    before = _files(out / "2026-04-25")
    messages: list[str] = []
    run_build(project_paths(root, out), "2026-04-25", echo=messages.append,
              instance=dg.DagsterInstance.ephemeral())
    assert "sealed" in messages[0] and _files(out / "2026-04-25") == before
    index = json.loads((out / "index.json").read_text())
    assert index["releases"][0]["status"] == "published"
    # A tampered file is detected and nothing is rebuilt over it.
    (out / "2026-04-25" / "models.parquet").write_bytes(b"tampered")
    with pytest.raises(Exception, match="models.parquet: sha256"):
        _build(root, out, "2026-04-25")
    assert (out / "2026-04-25" / "models.parquet").read_bytes() == b"tampered"


HEAVY = ("dagster", "pandas", "pandera", "pyarrow")
SEALED_BUILD = textwrap.dedent("""
    import json, sys
    from pipeline.cli.main import main
    sys.argv = ["sovai", "--root", sys.argv[1], "build"]
    try:
        main()
    except SystemExit as exit:
        code = exit.code
    print(json.dumps({"code": code, "imported": sorted(
        m for m in %r if m in sys.modules)}))
""") % (HEAVY,)


def _sealed_build(root: Path) -> tuple[dict, str]:
    """`sovai build` of `root` in a fresh process: its exit code, which heavy libraries it
    imported, and what it printed."""
    result = subprocess.run([sys.executable, "-c", SEALED_BUILD, str(root)],
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "DAGSTER_HOME": str(root / ".dagster")})
    *printed, summary = result.stdout.strip().splitlines()
    return json.loads(summary), "\n".join(printed) + result.stderr


def test_a_build_with_every_release_sealed_verifies_without_dagster_or_pandas(tmp_path):
    """The first build records the sealed releases in the project's instance; later ones
    only hash the files (and still refuse a changed one)."""
    root = tmp_path / "checkout"
    for name in ("curated", "schemas", "raw", "releases"):
        shutil.copytree(REPO / name, root / name)
    sealed = [r.key for r in declared_releases(load_curated(REPO / "curated")) if r.sealed]
    first, output = _sealed_build(root)
    assert first["code"] == 0 and "dagster" in first["imported"], output
    again, output = _sealed_build(root)
    assert again == {"code": 0, "imported": []}, output
    assert [line.split()[0] for line in output.splitlines()
            if line.endswith("checksums verified, not rebuilt")] == sealed
    for key in sealed:
        assert _files(root / "releases" / key) == _files(REPO / "releases" / key)
    table = root / "releases" / sealed[-1] / "models.parquet"
    table.write_bytes(table.read_bytes()[:-1])
    tampered, output = _sealed_build(root)
    assert tampered == {"code": 1, "imported": []}, output
    assert f"{sealed[-1]}/models.parquet: sha256" in output and "Traceback" not in output


def test_sealed_release_cannot_be_overwritten(tmp_path):
    from pipeline.curation.releases import Release, SealedReleaseError
    from pipeline.publishing.publish import publish_release

    root = write_project(tmp_path / "project")
    out = tmp_path / "releases"
    _build(root, out, "2026-04-25")
    sealed = Release(dt.date(2026, 4, 25), "April 2026", "published", None)
    with pytest.raises(SealedReleaseError, match="refusing to overwrite"):
        publish_release(sealed, {}, SCHEMAS, out,
                        publication=load_publication(REPO / "curated"))


def test_unknown_release_is_a_clear_error(tmp_path):
    root = write_project(tmp_path / "project")
    with pytest.raises(click.ClickException, match="2027-01-01 is not declared"):
        _build(root, tmp_path / "out", "2027-01-01")


def test_release_notes_count_changes_and_external_values(built):
    _, out = built
    package = json.loads((out / "2026-05-31" / "datapackage.json").read_text())
    stats = package["stats"]
    notes = (out / "2026-05-31" / "CHANGES.md").read_text()
    assert notes.startswith("# Sovereign AI Atlas 2026-05-31: changes since 2026-04-25")
    assert stats["verified_quote_share"] == 1.0 and stats["external_basis_values"] > 0
    assert (f"- values supported only by an external reference (no page states them): "
            f"{stats['external_basis_values']}") in notes
    assert f"- conflicts between pages (see conflicts.parquet): {stats['conflicts']}" in notes
    # The later page adds a figure and a disagreeing count: both are in the notes.
    changes = pd.read_parquet(out / "2026-05-31" / "changes.parquet")
    added = changes[(changes.change == "added") & (changes.table_name == "figures")]
    assert list(added.entity_id) == ["index-projects-130"]
    assert "index-projects-130" in notes or "130" in notes
