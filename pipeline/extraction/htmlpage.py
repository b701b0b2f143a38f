"""htmlpage: an HTML capture becomes readable text and tables, the way a text capture gives them.

Parsing uses BeautifulSoup with Python's own html.parser (no lxml), which accepts broken markup.

- `decode_html(data, charset)`: bytes to text. The encoding comes from the HTTP header charset,
  then the page's <meta> declaration, then the bytes (a byte-order mark, then bs4's UnicodeDammit
  with charset detection), in that order. Labels browsers treat as windows-1252 (iso-8859-1,
  us-ascii) are decoded as windows-1252, as browsers do.
- `html_main_text(html)`: the main text, one line per block element (paragraph, heading, list
  item...), without nav, script, style, footer, header, aside, noscript and template (a <header>
  or <footer> inside an <article> is the article's own title, byline or date, and is kept). The
  text of <main> is used when present, else that of the top-level <article>s, else the <body>.
  Each <table> is written as a pipe table (header line, |---| line, one line per row), exactly
  the form a text capture gives, so quotes of table rows verify the same way.
- `html_tables(html)`: the same tables as `PageTable`s, with `line` the 1-based line of the header
  in `html_main_text`, so mention locators point at the right line. Header cells come from
  <thead>, else from leading rows made only of <th>; row and column spans are expanded (the text
  repeated in every cell the span covers); `links[(row, column)]` (0-based indices into `rows`)
  lists the hrefs of the links in a data cell. A table without header cells gets empty headers.
  Tables marked role="presentation" (layout) are read as ordinary blocks, not as tables.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator

from bs4 import BeautifulSoup, UnicodeDammit
from bs4.dammit import EncodingDetector
from bs4.element import NavigableString, PreformattedString, Tag

from pipeline.extraction.page_table import PageTable

REMOVED_TAGS = ("nav", "script", "style", "footer", "header", "aside", "noscript", "template",
                "title", "svg", "iframe", "object", "embed", "canvas")
KEPT_IN_ARTICLE = ("header", "footer")

BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
    "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "html", "legend", "li",
    "listing", "main", "menu", "nav", "ol", "option", "p", "plaintext", "search", "section",
    "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "xmp",
})

MAX_COLSPAN = 1000  # the limits browsers apply (HTML spec)
MAX_ROWSPAN = 65534
# Spans and ragged rows expand a table to rows x columns cells: a 64 KB page of
# `<tr><td colspan=1000>` rows would be two million. A page's tables together get at most this
# many; a table that would take more keeps as many columns as fit (at least one per row).
MAX_PAGE_CELLS = 250_000

_WHITESPACE = re.compile(r"\s+")
_SPAN = re.compile(r"\s*(\d+)")
# Labels that browsers decode as windows-1252 (WHATWG Encoding Standard).
_AS_WINDOWS_1252 = frozenset({"iso8859-1", "ascii", "latin-1", "iso-8859-1"})


def _c1_passthrough(error: UnicodeError) -> tuple[str, int]:
    """windows-1252 leaves 0x81, 0x8D, 0x8F, 0x90 and 0x9D undefined; browsers map them to the
    C1 control with the same number. Decoding must never fail on them."""
    assert isinstance(error, UnicodeDecodeError)
    return chr(error.object[error.start]), error.start + 1


codecs.register_error("sovai-c1", _c1_passthrough)


# --- decoding --------------------------------------------------------------------------------


def codec_name(label: str | None) -> str | None:
    """The Python codec for a charset label ('ISO-8859-1' -> 'cp1252'), or None if unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return "cp1252" if name in _AS_WINDOWS_1252 or label in _AS_WINDOWS_1252 else name


def _decode(data: bytes, codec: str) -> str | None:
    """Strict decoding; None when the bytes are not valid in `codec`."""
    try:
        if codec == "cp1252":
            return data.decode("cp1252", errors="sovai-c1")
        if codec == "utf-8":
            return data.decode("utf-8-sig")
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def detect_html_encoding(data: bytes, charset: str | None = None) -> tuple[str, str, str]:
    """Decode an HTML page. Returns (text, codec, how) where `how` is 'header', 'meta', 'bom',
    'detected' or 'fallback' (UTF-8 with replacement characters: nothing else decoded it)."""
    codec = codec_name(charset)
    if codec is not None:
        text = _decode(data, codec)
        if text is not None:
            return text.lstrip("\ufeff"), codec, "header"
    declared = EncodingDetector.find_declared_encoding(data, is_html=True)
    codec = codec_name(declared)
    if codec is not None and codec.startswith(("utf-16", "utf-32")):
        codec = "utf-8"  # a page that can declare its charset in ASCII is not UTF-16 (WHATWG)
    if codec is not None:
        text = _decode(data, codec)
        if text is not None:
            return text.lstrip("\ufeff"), codec, "meta"
    stripped, bom_encoding = EncodingDetector.strip_byte_order_mark(data)
    codec = codec_name(bom_encoding)
    if codec is not None:
        text = _decode(stripped, codec)
        if text is not None:
            return text, codec, "bom"
    text = _decode(data, "utf-8")  # valid UTF-8 is almost never anything else
    if text is not None:
        return text.lstrip("\ufeff"), "utf-8", "detected"
    dammit = UnicodeDammit(data, is_html=True)
    if dammit.unicode_markup is not None:
        codec = codec_name(dammit.original_encoding) or str(dammit.original_encoding)
        if codec == "cp1252":  # re-decode so undefined bytes follow the browser rule
            return data.decode("cp1252", errors="sovai-c1"), codec, "detected"
        return dammit.unicode_markup.lstrip("\ufeff"), codec, "detected"
    return data.decode("utf-8", errors="replace").lstrip("\ufeff"), "utf-8", "fallback"


def decode_html(data: bytes, charset: str | None = None) -> str:
    """The text of an HTML page: header charset, then <meta>, then BOM, then detection."""
    return detect_html_encoding(data, charset)[0]


# --- parsing ---------------------------------------------------------------------------------


def _soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


_TABLE_PART_LEVEL = {"td": 0, "th": 0, "tr": 1, "thead": 2, "tbody": 2, "tfoot": 2}


def _repair_tables(soup: BeautifulSoup) -> None:
    """html.parser never closes <td>, <th>, <tr> or row groups implicitly: in `<td>1<td>2` the
    second cell ends up inside the first. Lift such a part, and what follows it, out to where a
    browser's parser would put it (after the enclosing part of the same or a higher level)."""
    for part in soup.find_all(tuple(_TABLE_PART_LEVEL)):
        level = _TABLE_PART_LEVEL[part.name]
        for child in list(part.children):
            if not isinstance(child, Tag) or child.parent is not part:
                continue
            child_level = _TABLE_PART_LEVEL.get(child.name or "")
            if child_level is None or child_level < level or (level == 1 and child_level == 0):
                continue
            target, ancestor = part, part
            while ancestor is not None and ancestor.name in _TABLE_PART_LEVEL:
                target = ancestor
                if _TABLE_PART_LEVEL[ancestor.name] >= child_level:
                    break
                ancestor = ancestor.parent
            moved = [child, *child.find_next_siblings()]
            for element in moved:
                element.extract()
            target.insert_after(*moved)
            break
    # Cells straight in a <table> or row group, without a <tr>: a browser makes them a row.
    for container in soup.find_all(("table", "thead", "tbody", "tfoot")):
        run: list[Tag] = []
        for child in [*container.children, None]:
            if isinstance(child, Tag) and child.name in ("td", "th"):
                run.append(child)
                continue
            if run and isinstance(child, NavigableString) and not child.strip():
                continue
            if run:
                row = soup.new_tag("tr")
                run[0].insert_before(row)
                for cell in run:
                    row.append(cell.extract())
                run = []


def _strip_boilerplate(soup: BeautifulSoup) -> None:
    for tag in soup.find_all(REMOVED_TAGS):
        if tag.decomposed:  # inside an element removed already
            continue
        if tag.name in KEPT_IN_ARTICLE and tag.find_parent("article") is not None:
            continue
        if tag.name == "title" and tag.find(True) is not None:
            continue  # an unclosed <title> swallowed the page (html.parser): keep the page
        tag.decompose()


def _content_roots(soup: BeautifulSoup) -> list[Tag]:
    main = soup.find("main")
    if isinstance(main, Tag):
        return [main]
    articles = [a for a in soup.find_all("article") if a.find_parent("article") is None]
    if articles:
        return articles
    body = soup.find("body")
    return [body] if isinstance(body, Tag) else [soup]


def _is_text(node: object) -> bool:
    # Comments, doctypes, CDATA and processing instructions are PreformattedStrings.
    return isinstance(node, NavigableString) and not isinstance(node, PreformattedString)


def _is_layout_table(table: Tag) -> bool:
    return str(table.get("role", "")).strip().lower() in ("presentation", "none")


class _Renderer:
    """Walks a tree (iteratively: broken pages nest deeply) into lines of text. Whitespace inside
    a block folds to one space; each block element starts and ends a line. Tables become pipe
    tables unless `cells` is set (rendering a cell's content, where nested tables are blocks)."""

    def __init__(self, *, cells: bool = False) -> None:
        self.cells = cells
        self.cells_left = MAX_PAGE_CELLS  # of the page's table grids (MAX_PAGE_CELLS)
        self.lines: list[str] = []
        self.tables: list[PageTable] = []
        self._buffer: list[str] = []

    def flush(self) -> None:
        text = _WHITESPACE.sub(" ", "".join(self._buffer)).strip()
        if text:
            self.lines.append(text)
        self._buffer = []

    def render(self, root: Tag) -> None:
        end = object()
        stack: list[object] = list(reversed(list(root.children)))
        while stack:
            node = stack.pop()
            if node is end:
                self.flush()
                continue
            if _is_text(node):
                self._buffer.append(str(node))
                continue
            if not isinstance(node, Tag):
                continue
            name = node.name
            if name == "br":
                self.flush()
            elif name == "table" and not self.cells and not _is_layout_table(node):
                self.flush()
                self._table(node)
            elif name in ("pre", "listing", "plaintext", "xmp"):
                self.flush()
                for line in node.get_text().splitlines():
                    if line.strip():
                        self.lines.append(line.rstrip())
            elif name in BLOCK_TAGS:
                self.flush()
                stack.append(end)
                stack.extend(reversed(list(node.children)))
            else:
                stack.extend(reversed(list(node.children)))
        self.flush()

    def _table(self, node: Tag) -> None:
        table = parse_table(node, cells_left=self.cells_left)
        if table is None:
            return
        self.cells_left -= len(table.header) * (len(table.rows) + 1)
        if table.caption:
            self.lines.append(table.caption)
        table.line = len(self.lines) + 1
        self.lines.append(_pipe_row(table.header))
        self.lines.append("|" + "|".join("---" for _ in table.header) + "|")
        self.lines.extend(_pipe_row(row) for row in table.rows)
        self.tables.append(table)


def _pipe_row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _cell_text(cell: Tag) -> str:
    renderer = _Renderer(cells=True)
    renderer.render(cell)
    return " ".join(renderer.lines)


def _cell_links(cell: Tag) -> list[str]:
    links = []
    for anchor in cell.find_all("a", href=True):
        href = str(anchor["href"]).strip()
        if href and href not in links:
            links.append(href)
    return links


def _span(cell: Tag, attribute: str, limit: int) -> int:
    match = _SPAN.match(str(cell.get(attribute, "")))
    value = int(match.group(1)) if match else 1
    return min(value, limit)


def _own_rows(table: Tag) -> Iterator[Tag]:
    for row in table.find_all("tr"):
        if row.find_parent("table") is table:
            yield row


def _grid(rows: list[Tag], max_width: int = MAX_COLSPAN) -> list[list[tuple[str, list[str]]]]:
    """Rows of (text, links) with row and column spans expanded. A rowspan of 0 or one running
    past the last row stops at the last row, as in browsers. Columns past `max_width` are
    dropped."""
    cells: dict[tuple[int, int], tuple[str, list[str]]] = {}
    for r, row in enumerate(rows):
        c = 0
        for cell in row.find_all(("td", "th"), recursive=False):
            while (r, c) in cells:
                c += 1
            if c >= max_width:
                break
            colspan = min(max(_span(cell, "colspan", MAX_COLSPAN), 1), max_width - c)
            rowspan = _span(cell, "rowspan", MAX_ROWSPAN)
            rowspan = len(rows) - r if rowspan == 0 else min(rowspan, len(rows) - r)
            value = (_cell_text(cell), _cell_links(cell))
            for dr in range(rowspan):
                for dc in range(colspan):
                    cells.setdefault((r + dr, c + dc), value)
            c += colspan
    width = max((c for _, c in cells), default=-1) + 1
    return [[cells.get((r, c), ("", [])) for c in range(width)] for r in range(len(rows))]


def _row_group(row: Tag, table: Tag) -> str:
    parent = row.find_parent(("thead", "tbody", "tfoot", "table"))
    return parent.name if parent is not None and parent is not table else "table"


def _join_header(values: list[str]) -> str:
    parts: list[str] = []
    for value in values:
        if value and (not parts or parts[-1] != value):
            parts.append(value)
    return " / ".join(parts)


def parse_table(table: Tag, *, cells_left: int = MAX_PAGE_CELLS) -> PageTable | None:
    """One <table> as a PageTable (None when it has no cells), at most `cells_left` cells
    wide times high (at least one column)."""
    rows = list(_own_rows(table))
    max_width = max(1, min(MAX_COLSPAN, cells_left // max(len(rows), 1)))
    head = [r for r in rows if _row_group(r, table) == "thead"]
    if not head:
        for row in rows:
            cells = row.find_all(("td", "th"), recursive=False)
            if not cells or any(cell.name != "th" for cell in cells):
                break
            head.append(row)
    head_ids = {id(r) for r in head}  # Tag equality is structural: compare identities
    body = [r for r in rows if id(r) not in head_ids]
    head_grid, body_grid = _grid(head, max_width), _grid(body, max_width)
    width = max([len(r) for r in head_grid + body_grid], default=0)
    if width == 0:
        return None
    header = [_join_header([row[c][0] if c < len(row) else "" for row in head_grid])
              for c in range(width)]
    data = [[row[c][0] if c < len(row) else "" for c in range(width)] for row in body_grid]
    links = {(r, c): row[c][1] for r, row in enumerate(body_grid)
             for c in range(len(row)) if row[c][1]}
    caption = None
    for caption_tag in table.find_all("caption"):
        if caption_tag.find_parent("table") is table:
            caption = _cell_text(caption_tag) or None
            break
    return PageTable(header=header, rows=data, caption=caption, links=links)


def _render(html: str) -> _Renderer:
    soup = _soup(html)
    _repair_tables(soup)
    _strip_boilerplate(soup)
    renderer = _Renderer()
    for root in _content_roots(soup):
        renderer.render(root)
    return renderer


def html_main_text(html: str) -> str:
    """The readable main text of a page, one block per line, tables as pipe tables."""
    lines = _render(html).lines
    return "\n".join(lines) + "\n" if lines else ""


def html_tables(html: str) -> list[PageTable]:
    """Every table of the main text, in document order, with the line of its header."""
    return _render(html).tables


def html_title(html: str) -> str | None:
    """The page's <title>, whitespace folded (None when absent or empty)."""
    title = _soup(html).find("title")
    if not isinstance(title, Tag):
        return None
    text = _WHITESPACE.sub(" ", title.get_text()).strip()
    return text or None
