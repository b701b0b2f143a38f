"""The site in a real browser: built from the real releases, served on 127.0.0.1 by
http.server, opened in headless Chromium (Debian's chromium, over the DevTools protocol).
Pages load without console errors or failed requests, every chart is drawn, the numbers the
pages show are the ones the Parquet files give, every link resolves, search finds names and
aliases, and the pages list everything without JavaScript. A missing browser fails the test
with a clear message: a check that does not run is a defect."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag
from urllib.request import urlopen

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from . import site_fixture
from .cdp import MISSING, Browser, find_chromium
from .serving import Server

COUNTRY = "FRA"  # has models, a project and investments in every release but the first


built_site = site_fixture.built_site  # one build for the session


@pytest.fixture(scope="module")
def site(built_site) -> Path:
    return built_site


@pytest.fixture(scope="module")
def url(site):
    server = Server(site)
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def browser():
    executable = find_chromium()
    if executable is None:
        pytest.fail(MISSING)
    chromium = Browser(executable)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def releases(site) -> list[dict]:
    return json.loads((site / "index.json").read_text())["releases"]


def _latest(releases: list[dict]) -> str:
    return [r["date"] for r in releases if r["status"] == "published"][-1]


def _table(site: Path, date: str, name: str):
    return pq.read_table(site / date / f"{name}.parquet")


def _charts(browser: Browser) -> list[dict]:
    return browser.evaluate("""[...document.querySelectorAll('img.chart')].map(i => ({
        name: i.dataset.chart, complete: i.complete, natural: i.naturalWidth,
        width: i.getBoundingClientRect().width, height: i.getBoundingClientRect().height,
        alt: i.alt}))""")


def test_home_and_a_country_page_load_cleanly_with_every_chart_drawn(browser, url, releases):
    assert browser.open(url) == []
    charts = _charts(browser)
    assert [c["name"] for c in charts] == ["models", "projects", "investments", "figures",
                                           "timeline"]
    for chart in charts:
        assert chart["complete"] and chart["natural"] > 0, chart
        assert chart["width"] > 100 and chart["height"] > 50, chart
        assert len(chart["alt"]) > 40, chart
    for date in (_latest(releases), releases[-1]["date"]):
        assert browser.open(f"{url}{date}/jurisdictions/{COUNTRY}.html") == [], date
        assert browser.open(f"{url}{date}/index.html") == [], date
        assert all(c["natural"] > 0 and c["height"] > 50 for c in _charts(browser)), date


def test_shown_numbers_are_the_parquet_files_numbers(browser, url, site, releases):
    for release in releases:
        date = release["date"]
        browser.open(f"{url}{date}/index.html")
        shown = browser.evaluate("""Object.fromEntries([...document.querySelectorAll(
            '[data-rows]')].map(td => [td.dataset.rows, Number(td.textContent)]))""")
        assert shown == {p.stem: pq.read_metadata(p).num_rows
                         for p in (site / date).glob("*.parquet") if p.stem != "changes"}
        models = _table(site, date, "models")
        assert _shown_models(browser) == _models_by_jurisdiction(models), date
        browser.open(f"{url}{date}/jurisdictions/{COUNTRY}.html")
        ours = models.filter(pc.field("jurisdiction_id") == COUNTRY)
        assert browser.evaluate("document.getElementById('model-count').value") == str(
            ours.num_rows)
        assert browser.evaluate("document.querySelectorAll('#models tbody tr').length") == (
            ours.num_rows)
        expected = _umbrella_usd(_table(site, date, "investments"), COUNTRY)
        total = browser.evaluate("document.querySelector('#investment-total data')?.value")
        assert (None if total is None else float(total)) == expected, date


def _shown_models(browser: Browser) -> dict[str, int]:
    return browser.evaluate("""Object.fromEntries([...document.querySelectorAll(
        '[data-models]')].map(d => [d.dataset.models, Number(d.value)]))""")


def _models_by_jurisdiction(models) -> dict[str, int]:
    counts: dict[str, int] = {}
    for jid in models.column("jurisdiction_id").to_pylist():
        counts[jid or ""] = counts.get(jid or "", 0) + 1
    return counts


def _umbrella_usd(investments, jid: str) -> float | None:
    rows = [r for r in investments.to_pylist()
            if r["jurisdiction_id"] == jid and r["part_of"] is None]
    if not rows:
        return None
    return round(sum(r["amount_usd"] for r in rows if r["amount_usd"] is not None))


def test_home_totals_are_the_parquet_files_totals(browser, url, site, releases):
    browser.open(url)
    investments = _table(site, _latest(releases), "investments")
    shown = browser.evaluate("""Object.fromEntries([...document.querySelectorAll(
        '[data-usd-total]')].map(td => [td.dataset.usdTotal,
        Number(td.querySelector('data').value)]))""")
    recipients = {r["jurisdiction_id"] or "" for r in investments.to_pylist()
                  if r["part_of"] is None}
    assert shown == {j: _umbrella_usd(investments, j or None) for j in recipients}
    assert _shown_models(browser) == _models_by_jurisdiction(
        _table(site, _latest(releases), "models"))


def _page_types(releases: list[dict]) -> dict[str, str]:
    """One page of each type, in the home's set, the newest release's and the first's."""
    newest = releases[-1]["date"]
    return {"home": "", "release": f"{newest}/index.html",
            "jurisdiction": f"{newest}/jurisdictions/{COUNTRY}.html",
            "region": f"{newest}/regions/europe.html",
            "source": f"{newest}/sources/sovereign-ai-full-map-2026-05.html",
            "figures": f"{newest}/figures.html", "find": f"{newest}/find.html",
            "dictionary": f"{newest}/dictionary.html",
            "first-release": f"{releases[0]['date']}/index.html",
            "first-release-jurisdiction": f"{releases[0]['date']}/jurisdictions/{COUNTRY}.html",
            "home-jurisdiction": f"jurisdictions/{COUNTRY}.html"}


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs) -> None:
        self.ids.update(value for name, value in attrs if name == "id" and value)


def test_every_internal_link_resolves(browser, url, releases):
    fetched: dict[str, set[str] | None] = {}  # page -> ids in it (None: not HTML)
    for page in _page_types(releases).values():
        assert browser.open(url + page) == [], page
        links = browser.evaluate("""[...document.querySelectorAll(
            'a[href], img[src], script[src], link[href]')].map(e => e.href || e.src)""")
        internal = {link for link in links if link.startswith(url)}
        assert internal, page
        for link in sorted(internal):
            target, fragment = urldefrag(link)
            if target not in fetched:
                with urlopen(target, timeout=30) as response:  # an HTTP error raises
                    body = response.read()
                    html = response.headers.get_content_type() == "text/html"
                parser = _Ids()
                if html:
                    parser.feed(body.decode("utf-8"))
                fetched[target] = parser.ids if html else None
            if fragment and fetched[target] is not None:
                assert fragment in fetched[target], (page, link)
    assert len(fetched) > 100


def _visible_rows(browser: Browser) -> list[str]:
    return browser.evaluate("""[...document.querySelectorAll('#find-table tbody tr')]
        .filter(tr => !tr.hidden && tr.getBoundingClientRect().height > 0)
        .map(tr => tr.querySelector('th').textContent.trim())""")


def _type(browser: Browser, text: str) -> list[str]:
    browser.evaluate(f"""(() => {{ const input = document.getElementById('find-input');
        input.value = {json.dumps(text)};
        input.dispatchEvent(new Event('input', {{bubbles: true}})); }})()""")
    return _visible_rows(browser)


def test_search_finds_names_and_aliases(browser, url, site, releases):
    newest = releases[-1]["date"]
    assert browser.open(f"{url}{newest}/find.html") == []
    everything = _visible_rows(browser)
    falcons = _type(browser, "Falcon")
    models = _table(site, newest, "models").to_pylist()
    assert {m["name"] for m in models if "falcon" in m["name"].lower()} <= set(falcons)
    assert 0 < len(falcons) < len(everything)
    qwen = [m["name"] for m in models if "qwen3.5:27b" in m["aliases"]]
    assert _type(browser, "qwen3.5:27b") == qwen == ["Qwen 3.5"]
    assert _type(browser, "") == everything
    # The home's search box leads to the same filter.
    assert browser.open(url) == []
    browser.evaluate("""(() => { document.getElementById('q').value = 'qwen3.5:27b';
        document.querySelector('form.find').submit(); })()""")
    browser.events = []
    _wait_for(browser, lambda: browser.evaluate("location.pathname").endswith("find.html"))
    _wait_for(browser, lambda: _visible_rows(browser) == qwen)


def _wait_for(browser: Browser, condition, seconds: float = 10) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_without_javascript_pages_list_everything(browser, url, site, releases):
    newest = releases[-1]["date"]
    browser.send("Emulation.setScriptExecutionDisabled", value=True)
    try:
        assert browser.open(f"{url}{newest}/find.html?q=falcon") == []
        named = sum(_table(site, newest, t).num_rows for t in (
            "jurisdictions", "regions", "models", "model_families", "organizations",
            "projects", "investments"))
        assert len(_visible_rows(browser)) == named
        assert browser.evaluate("document.getElementById('find-form').hidden") is True
        assert browser.open(url) == []  # the charts are images: drawn without scripts
        assert all(c["natural"] > 0 for c in _charts(browser))
    finally:
        browser.send("Emulation.setScriptExecutionDisabled", value=False)


def test_a_value_is_one_click_from_its_quote(browser, url, site, releases):
    newest = releases[-1]["date"]
    claims = [c for c in _table(site, newest, "claims").to_pylist()
              if c["table_name"] == "models" and c["field"] == "open_weights" and c["quote"]]
    models = {m["model_id"]: m for m in _table(site, newest, "models").to_pylist()}
    claim = next(c for c in claims if models[c["entity_id"]]["jurisdiction_id"] == COUNTRY)
    assert browser.open(f"{url}{newest}/jurisdictions/{COUNTRY}.html") == []
    row = json.dumps(f"models-{claim['entity_id']}")
    cell = f"document.getElementById({row}).cells[3].querySelector('details')"
    assert claim["quote"] in browser.evaluate(f"{cell}.querySelector('summary').title")
    assert browser.evaluate(f"{cell}.open") is False
    browser.evaluate(f"{cell}.querySelector('summary').click()")
    assert browser.evaluate(f"{cell}.open") is True
    shown = browser.evaluate(f"""[...{cell}.querySelectorAll('q')].filter(
        q => q.getBoundingClientRect().height > 0).map(q => q.textContent)""")
    assert claim["quote"] in shown


def test_screenshots_of_each_page_type(browser, url, releases, tmp_path_factory, capsys):
    folder = tmp_path_factory.mktemp("screenshots")
    for kind, page in _page_types(releases).items():
        assert browser.open(url + page) == [], page
        assert browser.screenshot(folder / f"{kind}.png").stat().st_size > 10_000, kind
    with capsys.disabled():
        print(f"\nscreenshots of each page type: {folder}")
