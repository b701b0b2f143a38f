"""The site's pages for people, read as HTML (the browser tests open them in Chromium): a page
per release, jurisdiction, region and source for every release, charts that say what they
show, every value one click from its quote, umbrella-only investment totals with uncertain
conversions marked, CHANGES.md with links that stay inside the site, and a search index."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.site import chart_data
from pipeline.site.changes_html import changes_html
from pipeline.site.numbers import AMBIGUOUS, NOT_CONVERTED, RULES, STATED, conversion
from pipeline.site.release_data import ReleaseData, load_release
from pipeline.text import fold_name

from . import site_fixture
from .conftest import REPO

built_site = site_fixture.built_site  # one build for the session
# What a cell may say without a claim: no page states it, so there is nothing to quote.
NO_CLAIM = {"not stated", "unknown: no page states it", "none", "not applicable"}
CHECKED_SECTIONS = ("models", "families", "labs", "projects", "investments", "assessments",
                    "figures")


@pytest.fixture(scope="module")
def site(built_site) -> Path:
    return built_site


@pytest.fixture(scope="module")
def releases(site) -> list[dict]:
    return json.loads((site / "index.json").read_text())["releases"]


def _rows(folder: Path, table: str) -> list[dict]:
    return pq.read_table(folder / f"{table}.parquet").to_pylist()


def test_every_release_has_its_pages_and_the_latest_is_the_home(site, releases):
    for entry in releases:
        folder = site / entry["date"]
        expected = {"index.html", "figures.html", "find.html", "dictionary.html"}
        expected |= {f"jurisdictions/{r['jurisdiction_id']}.html"
                     for r in _rows(folder, "jurisdictions")}
        expected |= {f"regions/{r['region_id']}.html" for r in _rows(folder, "regions")}
        expected |= {f"sources/{r['source_id']}.html" for r in _rows(folder, "sources")}
        assert {p.relative_to(folder).as_posix() for p in folder.rglob("*.html")} == expected
        charts = {p.stem for p in (folder / "charts").glob("*.svg")}
        assert {"models", "projects", "timeline"} <= charts
        assert ("investments" in charts) == bool(_rows(folder, "investments"))
        assert ("layer-evidence" in (folder / "jurisdictions" / "FRA.html").read_text()) == (
            (folder / "layer_evidence.parquet").is_file())
    latest = [r["date"] for r in releases if r["status"] == "published"][-1]
    home = (site / "index.html").read_text()
    assert f"release {latest}" in (site / "find.html").read_text()
    assert home.count('class="chart"') == 5
    for name in ("models", "projects", "investments", "figures", "timeline"):
        assert (site / "charts" / f"{name}.svg").read_bytes() == (
            site / latest / "charts" / f"{name}.svg").read_bytes()


def _cells(section_html: str) -> list[str]:
    return re.findall(r"<t[dh](?: [^>]*)?>(.*?)</t[dh]>", section_html, flags=re.S)


def _section(page: str, section_id: str) -> str:
    match = re.search(rf'<section id="{section_id}">(.*?)</section>', page, flags=re.S)
    return match.group(1) if match else ""


def test_every_value_on_a_place_or_figures_page_leads_to_its_quote(site, releases):
    checked = 0
    for entry in releases:
        folder = site / entry["date"]
        quotes = {c["quote"] for c in _rows(folder, "claims") if c["quote"]}
        for page_path in [*sorted((folder / "jurisdictions").glob("*.html")),
                          *sorted((folder / "regions").glob("*.html")), folder / "figures.html"]:
            page = page_path.read_text(encoding="utf-8")
            for section_id in CHECKED_SECTIONS:
                body = _section(page, section_id).split("</thead>", 1)[-1]
                for cell in _cells(body):
                    checked += 1
                    shown = [html.unescape(q) for q in re.findall(r"<q>(.*?)</q>", cell)]
                    if 'class="cite"' in cell:
                        assert shown or "external reference" in cell, cell
                        assert set(shown) <= quotes, (page_path, shown)
                    else:
                        text = html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
                        assert text in NO_CLAIM, (page_path, section_id, cell)
    assert checked > 5000


def test_charts_say_what_they_show_and_unknown_has_its_own_colour(site, releases):
    from pipeline.site.charts import OPEN_COLOURS

    colour = dict(zip(chart_data.OPEN_WEIGHTS, OPEN_COLOURS, strict=True))
    for entry in releases:
        folder = site / entry["date"]
        svg = (folder / "charts" / "models.svg").read_text()
        assert svg.startswith("<svg") and 'role="img"' in svg.split(">", 1)[0]
        assert "<title>Models by jurisdiction and open weights</title><desc>" in svg
        models = _rows(folder, "models")
        bars = re.findall(r'aria-label="models: (\d+); jurisdiction: [^;"]+; open_weights: '
                          r'(\w+)[^"]*" role="graphics-symbol" aria-roledescription="bar" '
                          r'd="[^"]*" fill="([^"]+)"', svg)
        assert sum(int(n) for n, _, _ in bars) == len(models)
        assert {v for _, v, _ in bars} == {m["open_weights"] for m in models}
        assert all(colour[value] == fill for _, value, fill in bars)
        page = (folder / "index.html").read_text()
        alts = re.findall(r'<img src="charts/[^"]+" alt="([^"]+)" class="chart"', page)
        assert len(alts) == page.count('class="chart"') >= 3
        names = {j["name"] for j in _rows(folder, "jurisdictions")}
        jurisdictions = {m["jurisdiction_id"] for m in _rows(folder, "models")}
        named = {j["name"] for j in _rows(folder, "jurisdictions")
                 if j["jurisdiction_id"] in jurisdictions}
        assert all(html.escape(n, quote=True) in alts[0] for n in named & names)


def _data(investments: list[dict]) -> ReleaseData:
    return ReleaseData(date="2099-01-01", tables={"investments": investments,
                                                  "jurisdictions": []}, columns={})


def test_investment_totals_count_umbrellas_once_and_mark_uncertain_amounts():
    rows = [
        {"investment_id": "pledge", "name": "Pledge", "jurisdiction_id": "FRA",
         "amount_usd": 100.0, "part_of": None, "currency_ambiguous": False},
        {"investment_id": "part", "name": "Part", "jurisdiction_id": "FRA",
         "amount_usd": 40.0, "part_of": "pledge", "currency_ambiguous": False},
        {"investment_id": "dollars", "name": "Dollars", "jurisdiction_id": "JPN",
         "amount_usd": 10.0, "part_of": None, "currency_ambiguous": True},
        {"investment_id": "undecided", "name": "Undecided", "jurisdiction_id": "CAN",
         "amount_usd": None, "part_of": None, "currency_rule": "unresolved"},
    ]
    umbrellas = chart_data.umbrella_investments(_data(rows))
    assert [u["investment_id"] for u in umbrellas] == ["undecided", "pledge", "dollars"]
    totals = {t["jurisdiction_id"]: t for t in chart_data.investment_totals(umbrellas)}
    assert totals["FRA"]["usd"] == 100.0 and totals["FRA"]["uncertain_usd"] == 0
    assert totals["JPN"]["uncertain_usd"] == 10.0
    assert totals["CAN"] == {"jurisdiction_id": "CAN", "jurisdiction": "CAN", "usd": 0.0,
                             "uncertain_usd": 0.0, "count": 1, "not_converted": 1}


def test_conversion_uses_currency_rule_where_a_release_has_it():
    assert conversion({"amount_usd": 1.0, "currency_ambiguous": False}) == STATED
    assert conversion({"amount_usd": 1.0, "currency_ambiguous": True}) == AMBIGUOUS
    assert conversion({"amount_usd": None}) == NOT_CONVERTED
    for rule, label in RULES.items():
        usd = None if rule == "unresolved" else 1.0
        assert conversion({"amount_usd": usd, "currency_ambiguous": True,
                           "currency_rule": rule}) == label


def test_a_release_page_total_is_its_umbrella_investments(site, releases):
    for entry in releases:
        folder = site / entry["date"]
        rows = [r for r in _rows(folder, "investments") if r["part_of"] is None]
        page = (folder / "index.html").read_text()
        for jid in {r["jurisdiction_id"] for r in rows if r["jurisdiction_id"]}:
            usd = sum(r["amount_usd"] for r in rows
                      if r["jurisdiction_id"] == jid and r["amount_usd"] is not None)
            assert re.search(rf'data-usd-total="{jid}"><data value="{usd:.0f}">', page), jid


def test_changes_render_inside_the_site(site, releases):
    sealed = (REPO / "releases" / "2026-05-31" / "CHANGES.md").read_text()
    assert "../../raw/" in sealed
    rendered = changes_html(sealed, "2026-05-31", "2026-05-31")
    assert "../../raw/" not in rendered and 'href="../captures/' in rendered
    assert "<h1" not in rendered and rendered.startswith("<h3>")
    at_root = changes_html(sealed, "2026-05-31", "")
    assert 'href="captures/' in at_root
    assert "<script" not in changes_html("<script>x()</script>\n", "2026-05-31", "")


def test_search_index_holds_every_name_and_alias(site, releases):
    entry = releases[-1]
    page = (site / entry["date"] / "find.html").read_text()
    index = json.loads(re.search(r'<script type="application/json" id="find-index">(.*?)'
                                 r"</script>", page, flags=re.S).group(1))
    rows = set(re.findall(r'<tr id="(find-[^"]+)">', page))
    assert {e["row"] for e in index} == rows
    keys = {e["row"]: set(e["keys"]) for e in index}
    for model in _rows(site / entry["date"], "models"):
        wanted = {fold_name(n) for n in (model["name"], *model["aliases"])} - {""}
        assert wanted <= keys[f"find-models-{model['model_id']}"], model["model_id"]
    hits = [row for row, k in keys.items() if any(fold_name("qwen3.5:27b") in x for x in k)]
    assert hits == ["find-models-qwen-3-5"]


def test_pages_are_accessible_without_javascript(site):
    pages = [site / "index.html", *sorted(site.glob("20*/jurisdictions/FRA.html")),
             *sorted(site.glob("20*/sources/*.html")), *sorted(site.glob("20*/find.html"))]
    for path in pages:
        page = path.read_text(encoding="utf-8")
        assert '<html lang="en">' in page and page.count("<h1") == 1, path
        assert page.count("<table") == page.count("<caption>"), path
        assert "<th>" not in page, path  # every header cell has a scope
        assert all(alt.strip() for alt in re.findall(r'<img [^>]*alt="([^"]*)"', page))
        assert len(re.findall(r"<img ", page)) == len(re.findall(r'<img [^>]*alt="', page))


def test_old_releases_render_what_they_have(site):
    first = load_release(REPO / "releases" / "2026-04-25")
    assert not first.has("layer_evidence") and not first.has("investments", "currency_rule")
    assert chart_data.umbrella_investments(first) == []
    page = (site / "2026-04-25" / "index.html").read_text()
    assert "This release has no investments." in page


def test_layer_evidence_counts_open_to_their_claims(site, releases):
    folder = site / releases[-1]["date"]
    if not (folder / "layer_evidence.parquet").is_file():
        pytest.fail("the newest release has no layer_evidence table to show")
    evidence = {r["evidence_id"]: r for r in _rows(folder, "layer_evidence")}
    claims = {c["claim_id"]: c for c in _rows(folder, "claims")}
    seen = 0
    for page_path in sorted((folder / "jurisdictions").glob("*.html")):
        body = _section(page_path.read_text(encoding="utf-8"), "layer-evidence")
        for row_id, row in re.findall(r'<tr id="([^"]+)">(.*?)</tr>', body, flags=re.S):
            count_cell = _cells(row)[2]
            ev = evidence[row_id]
            assert f'<data value="{ev["count"]}">' in count_cell, row_id
            quotes = {html.unescape(q) for q in re.findall(r"<q>(.*?)</q>", count_cell)}
            assert quotes == {claims[c]["quote"] for c in ev["claim_ids"]
                              if claims[c]["quote"]}, row_id
            seen += 1
    assert seen == len(evidence)


def test_the_site_build_imports_no_chart_library_until_it_draws():
    import subprocess
    import sys

    code = ("import sys, pipeline.cli.main, pipeline.site.build, pipeline.site.pages; "
            "print(sorted(m for m in ('altair', 'vl_convert', 'markdown_it') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout
    assert out.strip() == "[]"


def test_the_headline_names_the_leaders_the_parquet_files_give(site, releases):
    from collections import Counter

    for entry in releases:
        folder = site / entry["date"]
        names = {j["jurisdiction_id"]: j["name"] for j in _rows(folder, "jurisdictions")}
        counts = Counter(m["jurisdiction_id"] for m in _rows(folder, "models")
                         if m["jurisdiction_id"])
        top = max(counts.values())
        page = (folder / "index.html").read_text()
        headline = re.sub(r"<[^>]+>", "", re.search(r'<p id="headline">(.*?)</p>', page).group(1))
        leaders = ", ".join(f"{html.escape(names[j])} ({top})" for j in sorted(
            (j for j, n in counts.items() if n == top), key=lambda j: names[j]))
        assert f"Most models: {leaders}." in headline, entry["date"]
