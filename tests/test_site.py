"""The site and the loader as a researcher meets them: a site built from the real releases,
served by a real http.server on 127.0.0.1, read by pipeline.dataset (pooch underneath) and by
the published single-file loader in an environment holding only pandas, pyarrow and pooch."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest

from pipeline import dataset
from pipeline.site.build import archive_name, build_site
from pipeline.site.config import Publication, load_publication

from . import site_fixture
from .conftest import REPO
from .serving import Server as _Server
from .tool_envs import tool_env

RELEASES = REPO / "releases"
FIRST = "2026-04-25"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): _sha(p)
            for p in sorted(folder.rglob("*")) if p.is_file()}


built_site = site_fixture.built_site  # one build for the session


@pytest.fixture(scope="module")
def site(built_site) -> Path:
    return built_site


@pytest.fixture
def served(tmp_path):
    """A copy of the built site (tests may tamper with it) behind a live server."""
    servers: list[_Server] = []

    def serve(site_dir: Path) -> _Server:
        copy = tmp_path / f"served-{len(servers)}"
        shutil.copytree(site_dir, copy)
        servers.append(_Server(copy))
        servers[-1].folder = copy
        return servers[-1]

    yield serve
    for server in servers:
        server.stop()


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(dataset.CACHE_ENV, str(folder))
    return folder


# --- the site -------------------------------------------------------------------------------


def test_site_holds_every_release_as_published(site):
    index = json.loads((site / "index.json").read_text())
    assert [r["date"] for r in index["releases"]] == sorted(
        p.name for p in RELEASES.iterdir() if (p / "datapackage.json").is_file())
    for entry in index["releases"]:
        folder = site / entry["date"]
        # The data part is releases/ itself: every listed file byte for byte.
        for file in entry["files"]:
            assert _sha(site / file["path"]) == file["sha256"] == _sha(RELEASES / file["path"])
        assert _sha(folder / "datapackage.json") == entry["datapackage_sha256"]
        for role in ("archive", "archive_sha256", "croissant", "citation", "dictionary",
                     "dictionary_html"):
            download = entry["downloads"][role]
            assert _sha(site / download["path"]) == download["sha256"], role
        zip_sha = (folder / f"{archive_name(entry['date'])}.sha256").read_text().split()[0]
        assert zip_sha == entry["downloads"]["archive"]["sha256"]
    for capture in index["captures"]:
        assert _sha(site / capture["path"]) == capture["sha256"]
    assert index["loader"]["sha256"] == _sha(site / "sovai_dataset.py")
    # Without a base URL the loader is the module itself, byte for byte.
    assert (site / "sovai_dataset.py").read_bytes() == (REPO / "pipeline" / "dataset.py"
                                                       ).read_bytes()


def test_site_build_is_byte_identical_twice(site, tmp_path):
    # The second build runs in a fresh process (`sovai site`), so nothing a process draws at
    # random (hash seeds, the chart renderer's state) can reach the pages or the SVGs.
    again = tmp_path / "again"
    subprocess.run([str(Path(sys.executable).parent / "sovai"), "site", "--out", str(again)],
                   cwd=REPO, check=True, capture_output=True)
    assert _tree(again) == _tree(site)
    assert any(path.endswith(".svg") for path in _tree(site))


def test_zip_is_the_release_folder_and_the_captures_it_quotes(site, tmp_path):
    index = json.loads((site / "index.json").read_text())
    entry = index["releases"][-1]
    with zipfile.ZipFile(site / entry["date"] / archive_name(entry["date"])) as archive:
        archive.extractall(tmp_path / "unzipped")
    unzipped = tmp_path / "unzipped"
    assert {f["path"] for f in entry["files"]} <= set(_tree(unzipped))
    for file in entry["files"]:
        assert _sha(unzipped / file["path"]) == file["sha256"]
    sources = pd.read_parquet(unzipped / entry["date"] / "sources.parquet")
    for row in sources.itertuples():
        capture = next((unzipped / "captures" / row.source_id).glob(f"{row.sha256}.*"))
        assert _sha(capture) == row.sha256
    # Once unzipped, every link of CHANGES.md that is not a web address resolves.
    for target in _markdown_targets(unzipped / entry["date"] / "CHANGES.md"):
        assert (unzipped / entry["date"] / target).resolve().is_file(), target


def _markdown_targets(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    targets = re.findall(r"^\[[^\]]+\]: (\S+)$", text, flags=re.M)
    targets += re.findall(r"\]\(([^)\s]+)\)", text)
    return [t for t in targets if not urlsplit(t).scheme]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.links += [value for name, value in attrs if name in ("href", "src") and value]


def _expected_pages(folder: Path) -> int:
    """A release's page set: its page, figures, find, and one page per jurisdiction, region
    and source (the data dictionary is counted apart)."""
    return 3 + sum(len(pd.read_parquet(folder / f"{table}.parquet"))
                   for table in ("jurisdictions", "regions", "sources"))


def test_pages_and_new_release_notes_link_only_inside_the_site(site):
    external = set()  # only a source's own address or a claim's external reference
    for folder in site.glob("20*"):
        external |= set(pd.read_parquet(folder / "sources.parquet")["url"].dropna())
        external |= set(pd.read_parquet(folder / "claims.parquet")["reference_url"].dropna())
    index = json.loads((site / "index.json").read_text())
    latest = [r["date"] for r in index["releases"] if r["status"] == "published"][-1]
    pages = sorted(site.rglob("*.html"))
    assert len(pages) == _expected_pages(site / latest) + sum(
        1 + _expected_pages(site / r["date"]) for r in index["releases"])
    texts: dict[Path, str] = {}
    for page in pages:
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        assert parser.links, page
        for link in set(parser.links):
            if link == "data:,":  # the empty favicon: no request for /favicon.ico
                continue
            if urlsplit(link).scheme:
                assert link in external, (page, link)
                continue
            assert not link.startswith("/"), (page, link)
            path, _, anchor = link.partition("#")
            target = (page.parent / path).resolve() if path else page
            assert target.is_file() and target.is_relative_to(site), (page, link)
            if anchor and target.suffix == ".html":
                if target not in texts:
                    texts[target] = target.read_text(encoding="utf-8")
                assert f'id="{anchor}"' in texts[target], (page, link)
    index = json.loads((site / "index.json").read_text())
    sealed_with_repo_links = []
    for entry in index["releases"]:
        notes = site / entry["date"] / "CHANGES.md"
        targets = _markdown_targets(notes)
        inside = all((notes.parent / t).resolve().is_file() for t in targets)
        if not inside:
            # Known erratum: the three sealed releases link captures as the repository lays
            # them out (../../raw/); they are immutable, so the fix starts with 2026-07-31.
            assert all(t.startswith("../../raw/") for t in targets), entry["date"]
            sealed_with_repo_links.append(entry["date"])
    assert sealed_with_repo_links == ["2026-04-25", "2026-05-31", "2026-06-30"]


def test_a_base_url_makes_the_metadata_absolute(tmp_path):
    publication = Publication(base_url="https://atlas.example.org/", data_license="CC-BY-4.0",
                              code_license="MIT", authors="Sovereign AI Atlas contributors")
    site = build_site(RELEASES, tmp_path / "site", publication)
    loader = (site / "sovai_dataset.py").read_text()
    assert "DEFAULT_BASE: str | None = 'https://atlas.example.org/'" in loader
    croissant = json.loads((site / FIRST / "croissant.json").read_text())
    assert croissant["url"].startswith("https://atlas.example.org/2026-04-25/")
    assert "url: \"https://atlas.example.org/" in (site / "CITATION.cff").read_text()


def test_site_refuses_a_changed_release(tmp_path):
    releases = tmp_path / "releases"
    shutil.copytree(RELEASES, releases)
    models = releases / FIRST / "models.parquet"
    models.write_bytes(models.read_bytes()[:-1] + b"\0")
    with pytest.raises(Exception, match="models.parquet: sha256"):
        build_site(releases, tmp_path / "site", load_publication(REPO / "curated"))
    assert not (tmp_path / "site").exists()


# --- the loader -----------------------------------------------------------------------------


def test_loader_imports_neither_dagster_nor_duckdb():
    code = ("import sys, pipeline.dataset; "
            "print(sorted(m for m in ('dagster', 'duckdb') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_frames_come_back_typed_with_their_descriptions():
    models = dataset.load("models", FIRST, base=RELEASES)
    assert models.attrs["release"] == FIRST and models.attrs["primary_key"] == ["model_id"]
    assert models.attrs["columns"]["open_weights"] == "Whether weights are published."
    assert isinstance(models["open_weights"].dtype, pd.CategoricalDtype)
    assert list(models["open_weights"].cat.categories) == ["open", "restricted", "closed",
                                                          "unknown"]
    qwen = models.set_index("model_id").loc["qwen-3-6"]
    assert qwen["organization_ids"] == ["alibaba"] and isinstance(qwen["aliases"], list)
    sources = dataset.load("sources", FIRST, base=RELEASES)
    assert str(sources["published_on"].dtype).startswith("datetime64")
    investments = dataset.load("investments", "2026-06-30", base=RELEASES)
    assert str(investments["period_start"].dtype) == "Int64"
    assert investments["period_start"].isna().any() and 2025 in set(investments["period_start"])
    # The latest published release by default; drafts only when asked for by date.
    published = [r for r in json.loads((RELEASES / "index.json").read_text())["releases"]
                 if r["status"] == "published"]
    assert dataset.load("regions", base=RELEASES).attrs["release"] == published[-1]["date"]


def test_remote_load_downloads_verifies_then_works_offline(site, served, cache):
    server = served(site)
    models = dataset.load("models", FIRST, base=server.url)
    local = dataset.load("models", FIRST, base=RELEASES)
    pd.testing.assert_frame_equal(models, local)
    assert server.requests == ["/index.json", f"/{FIRST}/datapackage.json",
                               f"/{FIRST}/models.parquet"]
    server.requests.clear()
    again = dataset.load("models", FIRST, base=server.url)
    assert server.requests == []  # a published release in the cache needs no request
    pd.testing.assert_frame_equal(again, models)
    server.stop()
    offline = dataset.load("models", FIRST, base=server.url)
    pd.testing.assert_frame_equal(offline, models)
    with pytest.warns(UserWarning, match="could not be fetched"):
        assert FIRST in set(dataset.list_releases(base=server.url)["date"].dt.strftime(
            "%Y-%m-%d"))


def test_a_tampered_file_on_the_server_is_refused_and_not_kept(site, served, cache):
    server = served(site)
    path = server.folder / FIRST / "models.parquet"
    good = _sha(path)
    path.write_bytes(path.read_bytes()[:-1] + b"\0")
    bad = _sha(path)
    with pytest.raises(dataset.IntegrityError) as raised:
        dataset.load("models", FIRST, base=server.url)
    message = str(raised.value)
    assert "models.parquet" in message and good in message and bad in message
    assert not list(cache.rglob("models.parquet*"))
    # The other files of the release still load.
    assert len(dataset.load("organizations", FIRST, base=server.url)) > 0


def test_a_tampered_datapackage_is_refused(site, served, cache):
    server = served(site)
    package = server.folder / FIRST / "datapackage.json"
    package.write_text(package.read_text().replace("CC-BY-4.0", "CC0-1.0"))
    with pytest.raises(dataset.IntegrityError, match="datapackage.json"):
        dataset.load("models", FIRST, base=server.url)


def test_a_researcher_with_only_the_loaders_dependencies(site, served, tmp_path):
    """Done when: pip install pandas pyarrow pooch, fetch sovai_dataset.py from the site, list
    releases, load models for 2026-04-25, verify it and cite it."""
    server = served(site)
    bin_dir = tool_env("loader")
    script = textwrap.dedent(f"""
        import json, urllib.request
        urllib.request.urlretrieve("{server.url}sovai_dataset.py", "sovai_dataset.py")
        import sovai_dataset as atlas
        releases = atlas.list_releases(base="{server.url}")
        models = atlas.load("models", release="{FIRST}", base="{server.url}")
        checked = atlas.verify("{FIRST}", base="{server.url}")
        print(json.dumps({{
            "releases": releases["date"].dt.strftime("%Y-%m-%d").tolist(),
            "rows": len(models), "dtype": str(models["open_weights"].dtype),
            "verified": sorted(checked), "citation": atlas.citation("{FIRST}",
                                                                    base="{server.url}"),
        }}), flush=True)
        import os
        os._exit(0)  # past pyarrow's teardown abort (apache/arrow#34314)
    """)
    work = tmp_path / "researcher"
    work.mkdir()
    env = {"PATH": str(bin_dir), "HOME": str(work), "SOVAI_ATLAS_CACHE": str(work / "cache")}
    result = subprocess.run([str(bin_dir / "python"), "-c", script], capture_output=True,
                            text=True, cwd=work, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    index = json.loads((site / "index.json").read_text())
    first = index["releases"][0]
    assert report["releases"] == [r["date"] for r in index["releases"]]
    assert report["rows"] == first["tables"]["models"]["rows"] and report["dtype"] == "category"
    assert report["verified"] == sorted(["datapackage.json"] + [
        f["path"].split("/", 1)[1] for f in first["files"] if not f["path"].endswith(
            "/datapackage.json")])
    assert first["datapackage_sha256"] in report["citation"]
    assert report["citation"].startswith(f"Sovereign AI Atlas, release {FIRST}")


def test_release_site_is_an_asset_of_the_publish_group(tmp_path):
    """A real Dagster run of the asset over a project built from scratch by the current code,
    whose release notes link only inside the site."""
    import dagster as dg

    from pipeline.cli.main import run_build
    from pipeline.definitions import build_definitions
    from pipeline.defs.atlas import AtlasSettings
    from pipeline.defs.site import build_site_assets
    from pipeline.paths import project_paths

    from .conftest import write_project

    root = write_project(tmp_path / "project")
    releases = tmp_path / "releases"
    instance = dg.DagsterInstance.ephemeral()
    run_build(project_paths(root, releases), echo=lambda _: None, instance=instance)
    graph = build_definitions(root).resolve_asset_graph()
    key = dg.AssetKey("release_site")
    assert graph.get(key).group_name == "publish"
    assert dg.AssetKey("release_folder") in graph.get(key).parent_keys
    (asset,) = build_site_assets()
    settings = AtlasSettings(root=str(root), releases_dir=str(releases),
                             site_dir=str(tmp_path / "site"))
    result = dg.materialize([asset], resources={"settings": settings}, instance=instance)
    assert result.success
    metadata = result.asset_materializations_for_node("release_site")[0].metadata
    assert metadata["releases"].value == 2 and metadata["published"].value == 0
    site = tmp_path / "site"
    for date in ("2026-04-25", "2026-05-31"):
        targets = _markdown_targets(site / date / "CHANGES.md")
        assert targets, date  # each release adds a source, linked to its capture
        for target in targets:
            resolved = (site / date / target).resolve()
            assert resolved.is_file() and resolved.is_relative_to(site), target


def test_sovai_site_without_releases_is_one_clear_line(tmp_path):
    from click.testing import CliRunner

    from pipeline.cli.main import main

    from .conftest import write_project

    root = write_project(tmp_path / "project")
    result = CliRunner().invoke(main, ["--root", str(root), "site"])
    assert result.exit_code == 1
    assert result.output.strip() == (f"Error: {root / 'releases' / 'index.json'}: missing; run "
                                     "`sovai build` first")
    assert not (root / "site").exists()


def test_a_base_url_gives_a_new_release_absolute_addresses(tmp_path):
    import dagster as dg

    from pipeline.cli.main import run_build
    from pipeline.paths import project_paths

    from .conftest import write_project

    root = write_project(tmp_path / "project", {
        "publication.yaml": "base_url: https://atlas.example.org/\ndata_license: CC-BY-4.0\n"
                            "code_license: MIT\nauthors: Sovereign AI Atlas contributors\n"})
    releases = tmp_path / "releases"
    run_build(project_paths(root, releases), "2026-04-25", echo=lambda _: None,
              instance=dg.DagsterInstance.ephemeral())
    package = json.loads((releases / FIRST / "datapackage.json").read_text())
    assert package["id"] == "https://atlas.example.org/2026-04-25/datapackage.json"
    assert package["homepage"] == "https://atlas.example.org/2026-04-25/index.html"
    (source,) = package["sources"]
    assert source["path"].startswith("https://atlas.example.org/captures/mini-page/")
    assert all(not urlsplit(r["path"]).scheme for r in package["resources"])  # loads offline


def test_a_served_releases_folder_reads_like_the_site(served, cache):
    """The data part of the site is releases/ itself: a served copy of it loads the same."""
    server = served(RELEASES)
    models = dataset.load("models", FIRST, base=server.url)
    pd.testing.assert_frame_equal(models, dataset.load("models", FIRST, base=RELEASES))
    assert sorted(dataset.verify(FIRST, base=server.url)) == sorted(
        ["datapackage.json"] + [f["path"].split("/", 1)[1] for f in json.loads(
            (RELEASES / "index.json").read_text())["releases"][0]["files"]
            if not f["path"].endswith("datapackage.json")])
