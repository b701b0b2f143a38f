"""Every kind of bad input a curator or a page can give, each with the one line it gets.

Each case breaks the mini project (tests/conftest.py) one way. `sovai check` must report it as
one BLOCKING line naming the file and its line or key (and the value), never a traceback; a
few kinds also go through a full build, which must fail the same way, publish nothing and
leave the release already published byte for byte as it was. Two kinds are accepted on
purpose: Windows line endings (YAML reads CRLF as a line break) and a table with ragged rows
(pages are third parties' words: a short row is padded with empty cells, cells past the
header are dropped)."""

from __future__ import annotations

import hashlib
import re
import shutil
import textwrap
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import click
import dagster as dg
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.cli.main import run_build
from pipeline.curation.curated import CuratedError, load_curated
from pipeline.paths import project_paths
from pipeline.validation.check import run_check

from .conftest import FILES, LATER_PAGE, PAGE, write_project

Edit = dict[str, str] | Callable[[Path], None]


def _text(name: str) -> str:
    return textwrap.dedent(FILES[name]).lstrip()


def _edit(name: str, old: str, new: str) -> dict[str, str]:
    text = _text(name)
    assert old in text, (name, old)
    return {name: text.replace(old, new, 1)}


def _write(relative: str, data: bytes) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return apply


def _tamper_capture(root: Path) -> None:
    """Capture once (as `sovai check` does), then flip a word in the stored bytes."""
    run_check(project_paths(root, root / "releases"), echo=lambda _: None)
    stored = next((root / "raw" / "mini-page").glob("*.txt"))
    stored.write_bytes(stored.read_bytes().replace(b"Apache 2.0", b"MIT 2.0 "))


def _html_page_without_tables(root: Path) -> None:
    body = "".join(f"<p>{line}</p>" for line in LATER_PAGE.splitlines())
    (root / "pages" / "later.html").write_text(f"<html><body>{body}</body></html>",
                                               encoding="utf-8")
    sources = (root / "curated" / "sources.yaml")
    sources.write_text(sources.read_text(encoding="utf-8").replace("pages/later.txt",
                                                                   "pages/later.html"),
                       encoding="utf-8")
    rules = root / "curated" / "mention_columns.yaml"
    rules.write_text(rules.read_text(encoding="utf-8") + "- {source: later-page, table: 1, "
                     "column: Model, resolve_to: [models]}\n", encoding="utf-8")


def _second_models_file(root: Path) -> None:
    """curated/models/ beside models.yaml: the same ID again, in another file."""
    qwen = _text("models.yaml").split("- model_id: mistral-large")[0]
    (root / "curated" / "models").mkdir()
    (root / "curated" / "models" / "more.yaml").write_text(qwen, encoding="utf-8")


def _huge_file(root: Path) -> None:
    """50 MB of figures: refused before it is read."""
    figure = _text("figures.yaml").split("- figure_id: index-projects-130")[0]
    with (root / "curated" / "figures.yaml").open("w", encoding="utf-8") as handle:
        handle.write(figure)
        chunk = "# padding " + "x" * 1013 + "\n"
        for _ in range(50 * 1024):
            handle.write(chunk)


MODELS = _text("models.yaml")
REDIRECT = "- {{table: {table}, old_id: {old}, new_id: {new}, reason: For the test.}}\n"

# (kind, edit, the line `sovai check` prints, as a regex). Each names the file and its line or
# the key, and the value where there is one.
KINDS: list[tuple[str, Edit, str]] = [
    ("malformed YAML", _edit("models.yaml", '  version: "3.6"', "  version: [3.6"),
     r"curated/models\.yaml:6: not valid YAML: expected ',' or '\]'"),
    ("a tab indent", _edit("models.yaml", '  version: "3.6"', '\tversion: "3.6"'),
     r"curated/models\.yaml:5: not valid YAML: found character '\\t' that cannot start any "
     r"token \(indent with spaces, not tabs\)"),
    ("duplicate YAML keys", _edit("models.yaml", "  license: Apache-2.0\n",
                                  "  license: Apache-2.0\n  license: MIT\n"),
     r"curated/models\.yaml:11, key 'license': duplicate key \(first at line 10\); YAML would "
     r"keep only the later value"),
    ("a byte-order mark", _write("curated/models.yaml", b"\xef\xbb\xbf" + MODELS.encode()),
     r"curated/models\.yaml:1: starts with a byte-order mark \(BOM\); save it as UTF-8 "
     r"without one"),
    ("non-UTF-8 bytes", _write("curated/models.yaml", MODELS.replace(
        "name: Mistral Large", "name: Mistral Largé").encode("latin-1")),
     r"curated/models\.yaml:19: not UTF-8: byte 0xe9 at column 21; save the file as UTF-8"),
    ("an empty file", {"models.yaml": "# no models yet\n"},
     r"curated/models\.yaml:1: empty file: write \[\] for a table with no records"),
    ("a mapping where the list of records belongs",
     {"redirects.yaml": "table: models\nold_id: a\nnew_id: b\n"},
     r"curated/redirects\.yaml:1: expected a YAML list of records \(each item `- key: value`\), "
     r"found a mapping"),
    ("a list where a record belongs", {"redirects.yaml": "- [models, a, b]\n"},
     r"curated/redirects\.yaml:1, value \['models', 'a', 'b'\]: item 1 is not a mapping"),
    ("a list where a mapping belongs (resolutions)",
     _edit("models.yaml", "  origin: unknown\n  claims:",
           "  origin: unknown\n  resolutions: [license]\n  claims:"),
     r"curated/models\.yaml:1, key 'qwen-3-6', column 'resolutions', value \['license'\]: "
     r"resolutions must map each field to the reason its value was chosen"),
    ("a mapping where a list belongs (claims)",
     _edit("projects.yaml", "  claims:\n    - {source", "  claims:\n    {source"),
     r"curated/projects\.yaml:1, key 'france-ai-infrastructure', column 'claims', value "
     r"\{'source': 'mini-page'.*: claims must be a list"),
    ("a misspelt field", _edit("models.yaml", "  license: Apache-2.0", "  licence: Apache-2.0"),
     r"curated/models\.yaml:1, key 'qwen-3-6', column 'licence', value 'Apache-2.0': models "
     r"has no such column \(did you mean 'license'\?\)"),
    ("a misspelt source key", _edit("sources.yaml", "  title_from_page: true",
                                    "  title_form_page: true"),
     r"curated/sources\.yaml:1, key 'mini-page', column 'title_form_page', value True: a "
     r"source has no such key \(did you mean 'title_from_page'\?\)"),
    ("an unknown release key", _edit("releases.yaml", "status: draft}", "status: draft, "
                                                                        "titel: x}"),
     r"curated/releases\.yaml:1, key '2026-04-25', column 'titel', value 'x': a release has no "
     r"such key"),
    ("an unknown conflict key", _edit("conflicts.yaml", "  field: value\n",
                                      "  field: value\n  resolved: yes\n"),
     r"curated/conflicts\.yaml:1, column 'resolved', value True: a conflict has no such key"),
    ("a row citing an unknown source", _edit("figures.yaml", "source_id: later-page",
                                             "source_id: later-pgae"),
     r"curated/figures\.yaml:\d+, key 'index-projects-130', column 'source_id', value "
     r"'later-pgae': unknown source"),
    ("a mapping where text belongs", _edit("sources.yaml", "  publisher: null",
                                           "  publisher: {name: Someone}"),
     r"curated/sources\.yaml:1, key 'mini-page', column 'publisher', value \{'name': "
     r"'Someone'\}: must be text"),
    ("an unknown mention rule key", _edit("mention_columns.yaml", "resolve_to: [organizations]",
                                          "resolve_to: [organizations], splitt: ', '"),
     r"curated/mention_columns\.yaml:2, column 'splitt', value ', ': a mention rule has no "
     r"such key \(did you mean 'split'\?\)"),
    ("an unknown claim key", _edit("models.yaml", "    - source: mini-page\n      quote:",
                                   "    - source: mini-page\n      qoute:"),
     r"curated/models\.yaml:15, key 'qwen-3-6', column 'qoute': unknown claim key \(did you "
     r"mean 'quote'\?\)"),
    ("a missing required field", _edit("models.yaml", "  modality: text\n  open_weights: open",
                                       "  open_weights: open"),
     r"curated/models\.yaml:1, key 'qwen-3-6', column 'modality': missing required column"),
    ("an ID that is not a slug", _edit("models.yaml", "model_id: qwen-3-6", "model_id: Qwen 3.6"),
     r"curated/models\.yaml:1, key 'Qwen 3\.6', column 'model_id', value 'Qwen 3\.6': does not "
     r"match"),
    ("a duplicate ID across files", _second_models_file,
     r"curated/models/more\.yaml:1, key 'qwen-3-6', column 'model_id', value 'qwen-3-6': "
     r"duplicate model_id \(first at curated/models\.yaml:1\)"),
    ("an alias claimed by two entities",
     _edit("models.yaml", "  name: Mistral Large\n",
           "  name: Mistral Large\n  aliases: [QWEN-3.6]\n"),
     r"curated/models\.yaml:\d+, key 'mistral-large', column 'aliases', value 'qwen36': alias "
     r"also names qwen-3-6 \(curated/models\.yaml:1\)"),
    ("an unknown ID", _edit("models.yaml", "  family_id: qwen\n", "  family_id: qwen-nope\n"),
     r"curated/models\.yaml:1, key 'qwen-3-6', column 'family_id', value 'qwen-nope': unknown "
     r"model_families"),
    ("a retired ID", {**_edit("models.yaml", "  family_id: qwen\n", "  family_id: qwen-old\n"),
                      "redirects.yaml": REDIRECT.format(table="model_families", old="qwen-old",
                                                        new="qwen")},
     r"curated/models\.yaml:1, key 'qwen-3-6', column 'family_id', value 'qwen-old': retired "
     r"model_families ID: redirects\.yaml renames it to qwen; use that"),
    ("a retired ID still curated",
     {"redirects.yaml": REDIRECT.format(table="models", old="qwen-3-6", new="qwen-3-7")},
     r"curated/redirects\.yaml:1, key 'qwen-3-6', column 'old_id', value 'qwen-3-6': models "
     r"qwen-3-6 is retired by this redirect but still curated"),
    ("a redirect cycle", {"redirects.yaml": REDIRECT.format(table="models", old="qwen-a",
                                                            new="qwen-b")
                          + REDIRECT.format(table="models", old="qwen-b", new="qwen-a")},
     r"curated/redirects\.yaml:1, key 'qwen-a', column 'new_id', value 'qwen-b': redirect "
     r"cycle: qwen-a -> qwen-b -> qwen-a"),
    ("a redirect without its reason", {"redirects.yaml": "- {table: models, old_id: qwen-a, "
                                                         "new_id: qwen-3-6}\n"},
     r"curated/redirects\.yaml:1, column 'reason': missing required column"),
    ("a redirect to nothing", {"redirects.yaml": REDIRECT.format(table="models", old="qwen-a",
                                                                 new="qwen-z")},
     r"curated/redirects\.yaml:1, key 'qwen-a', column 'new_id', value 'qwen-z': redirects to "
     r"qwen-z, which is not a curated models ID"),
    ("a quote not in its page", _edit(
        "models.yaml", "Alibaba released Qwen 3.6 under Apache 2.0 as open weights for text.",
        "Alibaba released Qwen 3.6 under the MIT licence."),
     r"curated/models\.yaml:15: quote not in mini-page: 'Alibaba released Qwen 3\.6 under the "
     r"MIT licence\.'"),
    ("an empty quote", _edit(
        "models.yaml", "quote: Alibaba released Qwen 3.6 under Apache 2.0 as open weights for "
                       "text.", 'quote: "  "'),
     r"curated/models\.yaml:15, key 'qwen-3-6', column 'quote', value '  ': an empty quote "
     r"supports nothing"),
    ("an impossible date", _edit("sources.yaml", "published_on: 2026-04-20",
                                 "published_on: 2026-02-30"),
     r"curated/sources\.yaml:8, value '2026-02-30': not a date: day is out of range for month"),
    ("a date in words", _edit("sources.yaml", "published_on: 2026-04-20",
                              "published_on: April 2026"),
     r"curated/sources\.yaml:1, key 'mini-page', column 'published_on', value 'April 2026': "
     r"not a date \(expected YYYY-MM-DD\)"),
    ("a release dated before every source",
     {"releases.yaml": _text("releases.yaml")
      + "- {date: 2026-01-31, title: January 2026, status: draft}\n"},
     r"curated/releases\.yaml:3, key '2026-01-31', column 'date', value '2026-01-31': release "
     r"2026-01-31 is dated before every source \(the first, mini-page, is published on "
     r"2026-04-20\): it would publish nothing"),
    ("a negative amount", _edit("investments.yaml", "amount: 109000000000",
                                "amount: -109000000000"),
     r"curated/investments\.yaml:1, key 'france-ai-109bn', column 'amount', value "
     r"-109000000000\.0: a negative amount"),
    ("a non-numeric amount", _edit("investments.yaml", "amount: 109000000000", "amount: lots"),
     r"curated/investments\.yaml:1, key 'france-ai-109bn', column 'amount', value 'lots': not "
     r"a valid float64: write the number in whole units"),
    ("an amount like 1.5bn", _edit("investments.yaml", "amount: 109000000000", "amount: 1.5bn"),
     r"curated/investments\.yaml:1, key 'france-ai-109bn', column 'amount', value '1\.5bn': "
     r"not a valid float64: write the number in whole units \(1\.5bn is 1500000000\)"),
    ("an amount_max below the amount", _edit("investments.yaml", "amount: 109000000000",
                                             "amount: 109000000000\n  amount_max: 1000"),
     r"curated/investments\.yaml:1, key 'france-ai-109bn', column 'amount_max', value 1000\.0: "
     r"amount_max is below amount 109000000000"),
    ("an unknown currency", _edit("investments.yaml", "currency: EUR", "currency: EUX"),
     r"curated/investments\.yaml:1, key 'france-ai-109bn', column 'currency', value 'EUX': not "
     r"an ISO 4217 currency code"),
    ("a licence that is not SPDX", _edit("models.yaml", "license: Apache-2.0", "license: Llama-3"),
     r"curated/models\.yaml:1, key 'qwen-3-6', column 'license', value 'Llama-3': not an SPDX "
     r"licence identifier"),
    ("a licence misspelt", _edit("models.yaml", "license: Apache-2.0", "license: apache-2.0"),
     r"curated/models\.yaml:1, key 'qwen-3-6', column 'license', value 'apache-2\.0': not an "
     r"SPDX licence identifier \(spelt as SPDX does"),
    ("a capture whose bytes do not match its hash", _tamper_capture,
     r"curated/sources\.yaml:1, key 'mini-page': .*raw/mini-page/[0-9a-f]{64}\.txt: stored "
     r"bytes do not match the recorded sha256 [0-9a-f]{64}: the capture was altered"),
    ("an HTML page with no tables", _html_page_without_tables,
     r"curated/mention_columns\.yaml:4, key 'later-page', column 'table', value 1: later-page "
     r"has no table 1 \(its capture has 0\)"),
    ("a mention rule naming a column the table lacks",
     _edit("mention_columns.yaml", "column: Lab", "column: Labs"),
     r"curated/mention_columns\.yaml:2, key 'mini-page', column 'column', value 'Labs': "
     r"mini-page table 1 has no such column \(its columns: \['Model', 'Lab', 'Country'\]\)"),
    ("an empty page", _write("pages/later.txt", b""),
     r"curated/sources\.yaml:11, key 'later-page', column 'capture_file', value "
     r"'pages/later\.txt': the capture of later-page is empty"),
    ("a page that is not UTF-8", _write("pages/later.txt", LATER_PAGE.replace(
        "A later page", "A later pagé").encode("latin-1")),
     r"curated/sources\.yaml:11, key 'later-page', column 'capture_file', value "
     r"'pages/later\.txt': .*not valid UTF-8 at byte 11"),
    ("a capture file that is missing", _edit("sources.yaml", "pages/later.txt",
                                            "pages/gone.txt"),
     r"curated/sources\.yaml:11.*later-page.*pages/gone\.txt"),
    ("a YAML alias of a list (a billion laughs)", _edit(
        "models.yaml", "  organization_ids: [alibaba]\n",
        "  organization_ids: &labs [alibaba]\n  base_model_ids: *labs\n"),
     r"curated/models\.yaml:7: the alias \*labs repeats a list or mapping; only a scalar"),
    ("a Python object tag", _edit("models.yaml", '  version: "3.6"',
                                  "  version: !!python/object/apply:os.system [true]"),
     r"curated/models\.yaml:5: not valid YAML: could not determine a constructor for the tag "
     r"'tag:yaml\.org,2002:python/object/apply:os\.system'"),
    ("a 50 MB curated file", _huge_file,
     r"curated/figures\.yaml: \d+ bytes, over the 1048576 bytes allowed for one curated file; "
     r"split the table into a folder of files"),
]


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """The mini project's April release, built once: what 'already published' means here."""
    base = tmp_path_factory.mktemp("published")
    root = write_project(base / "project")
    out = base / "releases"
    run_build(project_paths(root, out), "2026-04-25", echo=lambda _: None,
              instance=dg.DagsterInstance.ephemeral())
    assert (out / "2026-04-25" / "datapackage.json").is_file()
    return out


def _broken_project(tmp_path: Path, edit: Edit, published: Path) -> tuple[Path, Path]:
    root = write_project(tmp_path / "project", edit if isinstance(edit, dict) else None)
    out = tmp_path / "releases"
    shutil.copytree(published, out)
    if callable(edit):
        edit(root)
    return root, out


def _blocking_line(lines: list[str], pattern: str) -> str:
    blocking = [line for line in lines if line.startswith("BLOCKING: ")]
    assert blocking, lines
    assert not any("Traceback" in line or 'File "' in line for line in lines), lines
    matching = [line for line in blocking if re.search(pattern, line)]
    assert matching, (pattern, blocking)
    return matching[0]


@pytest.mark.parametrize(("kind", "edit", "pattern"), KINDS, ids=[k[0] for k in KINDS])
def test_each_kind_of_bad_input_is_one_line_and_publishes_nothing(tmp_path, published, kind,
                                                                  edit, pattern):
    root, out = _broken_project(tmp_path, edit, published)
    before = _snapshot(out)
    lines: list[str] = []
    assert run_check(project_paths(root, out), echo=lines.append) == 1
    _blocking_line(lines, pattern)
    assert _snapshot(out) == before


def test_there_are_at_least_thirty_kinds():
    assert len(KINDS) >= 30


# Kinds that also go through a full build: the release already published stays as it was.
BUILT = ["duplicate YAML keys", "non-UTF-8 bytes", "an impossible date", "a negative amount",
         "a redirect cycle", "a capture whose bytes do not match its hash",
         "a 50 MB curated file"]


@pytest.mark.parametrize("kind", BUILT)
def test_a_build_refuses_the_same_way_and_leaves_the_published_release(tmp_path, published,
                                                                       kind):
    _, edit, pattern = next(k for k in KINDS if k[0] == kind)
    root, out = _broken_project(tmp_path, edit, published)
    before = _snapshot(out)
    with pytest.raises((click.ClickException, CuratedError)) as raised:
        run_build(project_paths(root, out), "2026-04-25", echo=lambda _: None,
                  instance=dg.DagsterInstance.ephemeral())
    error = raised.value
    message = error.message if isinstance(error, click.ClickException) else str(error)
    assert re.search(pattern, message), message
    assert "Traceback" not in message and len(message.splitlines()) <= 2, message
    assert _snapshot(out) == before  # nothing published, nothing already published changed


def test_a_50_mb_file_is_refused_in_bounded_time_and_memory(tmp_path):
    root = write_project(tmp_path / "project")
    _huge_file(root)
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(CuratedError, match="over the 1048576 bytes allowed"):
        load_curated(root / "curated")
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 2 and peak < 8 * 1024 * 1024, (elapsed, peak)


def _tables(root: Path) -> dict:
    from pipeline import stages

    paths = project_paths(root, root / "releases")
    curated, _, _ = stages.load_project(paths)
    captures = stages.capture_sources(paths, curated).captures
    tables = stages.normalize(paths, curated, captures, __import__("datetime").date(2026, 5, 31))
    return tables.tables


def test_windows_line_endings_build_the_same_tables(tmp_path):
    """Accepted: a file saved with CRLF reads exactly as the same file with LF."""
    crlf = {name: _text(name).replace("\n", "\r\n") for name in FILES}
    lf_tables = _tables(write_project(tmp_path / "lf"))
    crlf_tables = _tables(write_project(tmp_path / "crlf", crlf))
    assert (tmp_path / "crlf" / "curated" / "models.yaml").read_bytes().count(b"\r\n") > 10
    assert lf_tables.keys() == crlf_tables.keys()
    for name, frame in lf_tables.items():
        # captured_at is the wall clock of each project's capture, seconds apart under load
        other = crlf_tables[name]
        assert frame.drop(columns="captured_at", errors="ignore").equals(
            other.drop(columns="captured_at", errors="ignore")), name


def test_a_table_with_ragged_rows_is_read_cell_by_cell(tmp_path):
    """Accepted: a short row is padded with empty cells, cells past the header are dropped, and
    every name still resolves to its column."""
    ragged = PAGE.replace("| Qwen 3.6 | Alibaba | China |", "| Qwen 3.6 | Alibaba |").replace(
        "| Mistral Large | Mistral AI | France |", "| Mistral Large | Mistral AI | France | 2024 |")
    root = write_project(tmp_path / "project")
    (root / "pages" / "mini.txt").write_text(ragged, encoding="utf-8")
    claims = {"organizations.yaml", "model_families.yaml", "models.yaml", "groupings.yaml"}
    for name in claims:  # the quotes follow the page's rows as they now read
        path = root / "curated" / name
        path.write_text(path.read_text(encoding="utf-8")
                        .replace("| Qwen 3.6 | Alibaba | China |", "| Qwen 3.6 | Alibaba |")
                        .replace("| Mistral Large | Mistral AI | France |",
                                 "| Mistral Large | Mistral AI | France | 2024 |"),
                        encoding="utf-8")
    lines: list[str] = []
    assert run_check(project_paths(root, root / "releases"), echo=lines.append) == 0, lines
    assert lines[-1] == "0 blocking problems, 0 unresolved mentions in the latest release"


def test_an_html_span_bomb_is_cut_to_a_bounded_grid():
    """64 KB of `<td colspan=1000>` rows would expand to two million cells; a page's tables
    keep at most MAX_PAGE_CELLS, as many columns as fit, and each row keeps its first cell."""
    from pipeline.extraction.htmlpage import MAX_PAGE_CELLS, html_tables

    bomb = "<table>" + "<tr><td colspan=1000>x</td></tr>" * 2000 + "</table>"
    started = time.perf_counter()
    [table] = html_tables(bomb)
    assert time.perf_counter() - started < 10
    assert len(table.header) * len(table.rows) <= MAX_PAGE_CELLS
    assert len(table.rows) == 2000 and all(row == ["x"] * len(table.header)
                                           for row in table.rows)


# Any value where any other belongs: `sovai check` answers with lines, never a traceback.
ODD_VALUES = [None, "", [], {}, 0, -1, 1.5, True, "xyz", [1, 2], {"a": 1}, [None], [[]], [{}],
              "2026-02-30", "../x", 10**30, {"source": 1}]


@settings(max_examples=15, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(k for k in FILES if FILES[k].strip() != "[]")), st.data())
def test_any_value_in_any_field_is_reported_never_a_traceback(tmp_path_factory, name, data):
    records = yaml.safe_load(_text(name))
    target = data.draw(st.sampled_from(records), label="record")
    claims = target.get("claims")
    if isinstance(claims, list) and claims and data.draw(st.booleans(), label="in a claim"):
        target = data.draw(st.sampled_from(claims), label="claim")
    key = data.draw(st.sampled_from([*target, "extra"]), label="key")
    target[key] = data.draw(st.sampled_from(ODD_VALUES), label="value")
    root = write_project(tmp_path_factory.mktemp("odd") / "project",
                         {name: yaml.safe_dump(records, allow_unicode=True, sort_keys=False)})
    lines: list[str] = []
    result = run_check(project_paths(root, root / "releases"), echo=lines.append)
    blocking = [line for line in lines if line.startswith("BLOCKING: ")]
    assert result == (1 if blocking else 0), lines
    assert all(re.match(r"BLOCKING: (release \S+: )?curated/\S+\.yaml", line)
               for line in blocking), blocking  # each names its file
