"""extract: tables in captures become mention rows with a locator and the raw cell text.

Text and Markdown captures give their pipe tables; HTML captures give their <table>s (parsed in
htmlpage). Prose facts are not extracted here: they are curated with a quote (curated/).
"""

from __future__ import annotations

import re

import pandas as pd

from pipeline.extraction.page_table import PageTable
from pipeline.extraction.quotes import SourceText
from pipeline.sources.capture import Capture

MENTION_COLUMNS = [
    "source_id",
    "capture_sha256",
    "table_index",
    "row_index",
    "column_index",
    "column_header",
    "text",
    "locator",
]


_SEPARATOR_CELL = re.compile(r"^:?-{3,}:?$")


def _split_pipe_row(line: str) -> list[str]:
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    cells = re.split(r"(?<!\\)\|", body)
    return [cell.strip().replace("\\|", "|") for cell in cells]


def _is_separator(line: str) -> bool:
    cells = _split_pipe_row(line)
    return bool(cells) and all(_SEPARATOR_CELL.match(cell.replace(" ", "")) for cell in cells)


def markdown_tables(text: str) -> list[PageTable]:
    """Pipe tables: a header row, a separator row (|---|---|), then rows until a non-table line."""
    lines = text.splitlines()
    tables: list[PageTable] = []
    i = 0
    while i < len(lines) - 1:
        if "|" in lines[i] and _is_separator(lines[i + 1]):
            header = _split_pipe_row(lines[i])
            table = PageTable(header=header, rows=[], line=i + 1)
            j = i + 2
            while j < len(lines) and "|" in lines[j] and lines[j].strip():
                cells = _split_pipe_row(lines[j])
                # Pad or trim to the header's width so each cell keeps its column.
                cells = (cells + [""] * len(header))[: len(header)]
                table.rows.append(cells)
                j += 1
            tables.append(table)
            i = j
        else:
            i += 1
    return tables


def decode_text(capture: Capture) -> str:
    data = capture.read_bytes()
    return data.decode(capture.charset or "utf-8")


def capture_text(capture: Capture) -> str:
    """The readable text of a capture: the file itself for text, the main text for HTML.
    Quotes are verified against this text."""
    if capture.media_type in ("text/html", "application/xhtml+xml"):
        from pipeline.extraction import htmlpage

        return htmlpage.html_main_text(htmlpage.decode_html(capture.read_bytes(), capture.charset))
    return decode_text(capture)


# (source_id, sha256) -> its SourceText, for this process: normalize, the checks, publish's
# re-check and the stats each ask about every quote, and a SourceText remembers each answer,
# so a page is folded and each quote searched for once per process, not once per step. A
# capture is content-addressed, so its sha256 names its text.
_TEXTS: dict[tuple[str, str], SourceText] = {}


def source_text(source_id: str, capture: Capture) -> SourceText:
    """The capture's text, folded and searchable (read once per process)."""
    key = (source_id, capture.sha256)
    if key not in _TEXTS:
        _TEXTS[key] = SourceText(source_id, capture_text(capture))
    return _TEXTS[key]


def capture_tables(capture: Capture) -> list[PageTable]:
    if capture.media_type in ("text/html", "application/xhtml+xml"):
        from pipeline.extraction import htmlpage

        return htmlpage.html_tables(htmlpage.decode_html(capture.read_bytes(), capture.charset))
    return markdown_tables(decode_text(capture))


def _add_mention_columns(columns: dict[str, list], source_id: str, sha256: str,
                         tables: list[PageTable]) -> None:
    """Append one value per data cell to each of MENTION_COLUMNS' lists. Locators are 1-based:
    table, row (data rows), column."""
    # Column-wise lists rather than a tuple per cell: pandas then converts eight lists once
    # instead of about 900k records at 1M claims.
    sources, shas, t_indexes, r_indexes, c_indexes, headers, texts, locators = (
        columns[c] for c in MENTION_COLUMNS)
    for t_index, table in enumerate(tables, start=1):
        width = len(table.header)
        for r_index, row in enumerate(table.rows, start=1):
            prefix = f"{source_id}#table={t_index}&row={r_index}&column="
            line = "" if table.line is None else f"&line={table.line + 1 + r_index}"
            for c_index, cell in enumerate(row, start=1):
                headers.append(table.header[c_index - 1] if c_index <= width else "")
                texts.append(cell)
                c_indexes.append(c_index)
                locators.append(f"{prefix}{c_index}{line}")
            n = len(row)
            sources.extend([source_id] * n)
            shas.extend([sha256] * n)
            t_indexes.extend([t_index] * n)
            r_indexes.extend([r_index] * n)


def _mention_frame(columns: dict[str, list]) -> pd.DataFrame:
    """The frame from_records gave for the same rows (the same dtypes, object when empty)."""
    if not columns["text"]:
        return pd.DataFrame.from_records([], columns=MENTION_COLUMNS)
    return pd.DataFrame(columns, columns=MENTION_COLUMNS)


def mentions_from_tables(source_id: str, sha256: str, tables: list[PageTable]) -> pd.DataFrame:
    """One row per data cell. Locators are 1-based: table, row (data rows), column."""
    columns: dict[str, list] = {c: [] for c in MENTION_COLUMNS}
    _add_mention_columns(columns, source_id, sha256, tables)
    return _mention_frame(columns)


def extract_mentions(captures: list[Capture]) -> pd.DataFrame:
    """Mentions from every capture's tables, in a stable order."""
    # One frame for all captures, built once, instead of one per capture and a concat.
    columns: dict[str, list] = {c: [] for c in MENTION_COLUMNS}
    for c in sorted(captures, key=lambda c: c.source_id):
        _add_mention_columns(columns, c.source_id, c.sha256, capture_tables(c))
    if not columns["text"]:
        return pd.DataFrame(columns=MENTION_COLUMNS)
    return _mention_frame(columns)
