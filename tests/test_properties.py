"""Property-based tests (hypothesis): the table parsers, alias folding and the diff, on random
tables, Unicode names and odd whitespace. None may crash, and parse -> render -> parse gives
back what it was given.

Examples are few (the suite runs on two cores) and derandomized, with no example database, so
every run, on a laptop or in CI, tries the same inputs."""

from __future__ import annotations

import html
import unicodedata
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.curation.resolve import build_alias_index, resolve_name
from pipeline.extraction.extract import PageTable, markdown_tables
from pipeline.extraction.htmlpage import _pipe_row, html_main_text, html_tables
from pipeline.publishing.diff import diff_release_dirs, reconcile_counts
from pipeline.text import fold_name, fold_whitespace, slugify
from tests.release_factory import write_release

SETTINGS = {"derandomize": True, "database": None, "deadline": None,
            "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.function_scoped_fixture]}
FAST = settings(max_examples=150, **SETTINGS)  # pure functions: milliseconds each
SLOW = settings(max_examples=25, **SETTINGS)  # each example writes and diffs Parquet files

# Odd whitespace a page may hold: tabs, no-break and ideographic spaces, em spaces.
ODD_SPACES = "\t \u00a0\u2003\u3000\u202f"
# Text in one line of a capture: letters, digits, punctuation, symbols (pipes and backslashes
# included) and odd spaces; no line breaks, no control characters, no surrogates.
LINE_TEXT = st.text(st.characters(categories=("L", "M", "N", "P", "S", "Zs"),
                                  include_characters=ODD_SPACES + "|\\"), max_size=12)
NAME = st.text(st.characters(categories=("L", "M", "N", "P", "Zs")), min_size=1, max_size=16)


def _cell(text: str) -> str:
    """What a parser gives for a cell: whitespace folded, as both parsers give it."""
    return fold_whitespace(text)


@st.composite
def tables(draw: st.DrawFn, *, min_rows: int = 0) -> tuple[list[str], list[list[str]]]:
    width = draw(st.integers(1, 5))
    header = draw(st.lists(LINE_TEXT, min_size=width, max_size=width))
    rows = draw(st.lists(st.lists(LINE_TEXT, min_size=width, max_size=width),
                         min_size=min_rows, max_size=6))
    return header, rows


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    """A pipe table the way a capture holds one (and the HTML renderer writes one)."""
    lines = [_pipe_row(header), "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + [_pipe_row(row) for row in rows]) + "\n"


def _folded(header: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    return [_cell(c) for c in header], [[_cell(c) for c in row] for row in rows]


def _parsed(table: PageTable) -> tuple[list[str], list[list[str]]]:
    return table.header, table.rows


# --- the Markdown table parser --------------------------------------------------------------


@FAST
@given(st.text(max_size=300))
def test_any_text_parses_without_crashing_into_rectangular_tables(text):
    for table in markdown_tables(text):
        assert all(len(row) == len(table.header) for row in table.rows)


@FAST
@given(tables(), st.lists(st.sampled_from(["Some prose.", "", "Plain words"]), max_size=2))
def test_a_markdown_table_parses_back_to_its_cells(table, prose):
    header, rows = table
    folded = _folded(header, rows)
    # Cells arrive stripped at their ends; inner odd whitespace is the page's own.
    expected = ([c.strip() for c in header], [[c.strip() for c in row] for row in rows])
    text = "".join(f"{line}\n" for line in prose) + _markdown(header, rows) + "\n".join(prose)
    [parsed] = markdown_tables(text)
    assert _parsed(parsed) == expected
    assert parsed.line == len(prose) + 1
    # Render what was parsed and parse it again: the same table.
    [again] = markdown_tables(_markdown(*_parsed(parsed)))
    assert _parsed(again) == _parsed(parsed)
    assert _folded(*_parsed(again)) == folded


@FAST
@given(st.lists(tables(), min_size=1, max_size=3))
def test_tables_separated_by_prose_are_found_in_order(many):
    text = "\n\nA line between tables.\n\n".join(_markdown(*t) for t in many)
    parsed = markdown_tables(text)
    assert [_folded(*_parsed(p)) for p in parsed] == [_folded(*t) for t in many]


# --- the HTML table parser ------------------------------------------------------------------


def _html(header: list[str], rows: list[list[str]], *, spaces: str) -> str:
    def cells(tag: str, row: list[str]) -> str:
        return "".join(f"<{tag}>{spaces}{html.escape(c)}{spaces}</{tag}>" for c in row)

    body = "".join(f"<tr>{cells('td', row)}</tr>\n" for row in rows)
    return (f"<html><body><p>Before the table.</p><table>{spaces}<thead><tr>"
            f"{cells('th', header)}</tr></thead>\n<tbody>{body}</tbody></table>"
            f"<p>After it.</p></body></html>")


@FAST
@given(st.text(max_size=300))
def test_any_markup_parses_without_crashing(markup):
    document = f"<table><tr><td>{markup}</td></tr>{markup}</table>{markup}"
    for table in html_tables(document):
        assert all(len(row) == len(table.header) for row in table.rows)
    html_main_text(document)


TAG_SOUP = st.lists(st.sampled_from([
    "<table>", "</table>", "<tr>", "</tr>", "<td>", "</td>", "<th>", "</th>", "<thead>",
    "</thead>", "<tbody>", "<tfoot>", "<caption>", "</caption>", '<td colspan="3">',
    '<th rowspan="0">', '<td rowspan="2" colspan="x">', '<table role="presentation">', "<br>",
    "<p>", "<pre>", "</pre>", "<script>", "</script>", "<main>", "<article>", "<header>",
    "x", "Qwen 3.6", "|", "\\", " ", "\n", "\u00a0", "&amp;", "&#124;", "<!--", "-->"]),
    max_size=60).map("".join)


@FAST
@given(TAG_SOUP)
def test_tag_soup_gives_rectangular_tables_that_the_text_parser_reads_back(soup):
    """Broken nesting, spans, presentation tables and comments: every table is rectangular,
    and a table the text writes is found again by the Markdown parser with the same cells."""
    tables_found = html_tables(soup)
    for table in tables_found:
        assert all(len(row) == len(table.header) for row in table.rows)
    lines = html_main_text(soup).splitlines()
    for table in tables_found:
        [again] = markdown_tables("\n".join(lines[table.line - 1:]))[:1] or [None]
        assert again is not None and again.header == table.header
        assert again.rows[:len(table.rows)] == table.rows


@FAST
@given(tables(min_rows=1), st.sampled_from(["", " ", "\n\t ", "\u00a0"]))
def test_an_html_table_parses_to_its_cells_and_its_text_parses_to_the_same_table(table, spaces):
    header, rows = table
    document = _html(header, rows, spaces=spaces)
    [parsed] = html_tables(document)
    assert _parsed(parsed) == _folded(header, rows)
    # The main text writes the table as a pipe table, at the line html_tables reports; the
    # Markdown parser reads that text back to the same table.
    text = html_main_text(document)
    [from_text] = markdown_tables(text)
    assert _parsed(from_text) == _parsed(parsed)
    assert from_text.line == parsed.line


@FAST
@given(st.lists(st.lists(LINE_TEXT, min_size=0, max_size=5), min_size=1, max_size=5))
def test_ragged_html_rows_are_padded_to_the_widest(rows):
    document = "<table>" + "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    ) + "</table>"
    width = max(len(r) for r in rows)
    parsed = html_tables(document)
    if width == 0:
        assert parsed == []
        return
    [table] = parsed
    assert len(table.header) == width and all(len(r) == width for r in table.rows)
    assert table.rows == [[_cell(c) for c in row] + [""] * (width - len(row)) for row in rows]


# --- alias folding --------------------------------------------------------------------------


@FAST
@given(NAME)
@example("\u0345")  # found by this test: a combining mark that casefolds to a letter (ι)
@example("\u1fb3")  # ᾳ, whose iota subscript is that mark
@example("\u210c")  # ℌ decomposes to an uppercase H
def test_folding_ignores_normal_form_case_spacing_and_punctuation(name):
    key = fold_name(name)
    for form in ("NFC", "NFD", "NFKC", "NFKD"):
        assert fold_name(unicodedata.normalize(form, name)) == key
    assert fold_name(f" -{name.replace(' ', ' _ ')}. ") == key
    assert fold_name(name.casefold()) == key
    assert fold_name(key) == key  # a folded key is its own key


@FAST
@given(st.text(st.characters(categories=("Lu", "Ll", "Nd"), max_codepoint=127), min_size=1,
               max_size=16))
def test_an_ascii_name_and_its_slug_fold_to_one_key(name):
    assert fold_name(slugify(name)) == fold_name(name) == fold_name(name.upper())


@st.composite
def entities(draw: st.DrawFn) -> dict[str, list[str]]:
    """IDs with names and aliases, no two entities sharing a folded key."""
    names = draw(st.lists(NAME.filter(lambda n: fold_name(n) and "/" not in n), min_size=1,
                          max_size=6, unique_by=fold_name))
    return {f"e-{i}": [name] for i, name in enumerate(names)}


@FAST
@given(entities(), st.data())
def test_every_name_resolves_however_a_page_spells_it(named, data):
    frame = pd.DataFrame({"model_id": list(named), "name": [n[0] for n in named.values()],
                          "aliases": [[] for _ in named]})
    index = build_alias_index({"models": frame}, {"models": "model_id"})
    for entity_id, (name,) in named.items():
        spelling = data.draw(st.sampled_from([name, name.upper(), f"  {name}  ",
                                              name.replace(" ", "-"),
                                              unicodedata.normalize("NFD", name)]))
        if fold_name(spelling) != fold_name(name):
            continue  # upper() is not reversible for every letter (ı, ſ)
        assert resolve_name(spelling, ["models"], index) == [("models", entity_id)]
    # "A/B" is one entity when a name folds to it whole, else A and B part by part.
    first, last = list(named)[0], list(named)[-1]
    both = f"{named[first][0]}/{named[last][0]}"
    whole = index["models"].get(fold_name(both))
    expected = [whole] if whole else [first, last]
    assert resolve_name(both, ["models"], index) == [("models", e) for e in expected]


# --- the diff -------------------------------------------------------------------------------

VALUE = st.one_of(st.none(), NAME)
ROWS = st.dictionaries(st.text(st.characters(categories=("L", "N", "Pd")), min_size=1,
                               max_size=8),
                       st.tuples(VALUE, st.lists(NAME, max_size=3)), max_size=6)


def _release(folder: Path, rows: dict) -> Path:
    return write_release(folder, {"models": [
        {"model_id": key, "name": name, "aliases": aliases}
        for key, (name, aliases) in sorted(rows.items())]}, columns={
        "models": ["model_id", "name", "aliases"]})


def _changes(frame: pd.DataFrame) -> set[tuple]:
    return {tuple(None if pd.isna(v) else v for v in row)
            for row in frame[["entity_id", "change", "field", "old_value", "new_value"]]
            .itertuples(index=False)}


@SLOW
@given(ROWS, ROWS)
def test_the_diff_names_every_change_and_reversed_is_its_inverse(tmp_path_factory, old, new):
    base = tmp_path_factory.mktemp("diff")
    old_dir, new_dir = _release(base / "old", old), _release(base / "new", new)
    forward = diff_release_dirs(old_dir, new_dir)
    assert {(e, c) for e, c, *_ in _changes(forward) if c != "changed"} == (
        {(k, "added") for k in set(new) - set(old)}
        | {(k, "removed") for k in set(old) - set(new)})
    changed = {(e, f) for e, c, f, *_ in _changes(forward) if c == "changed"}
    assert changed == {(k, field) for k in set(old) & set(new)
                       for field, i in (("name", 0), ("aliases", 1)) if old[k][i] != new[k][i]}
    assert reconcile_counts(forward, old_dir, new_dir)["ok"].all()
    backward = diff_release_dirs(new_dir, old_dir)
    swap = {"added": "removed", "removed": "added", "changed": "changed"}
    assert _changes(backward) == {(e, swap[c], f, n, o) for e, c, f, o, n in _changes(forward)}
    assert diff_release_dirs(old_dir, old_dir).empty
