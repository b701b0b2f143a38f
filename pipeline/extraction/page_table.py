"""A table found in a page, whatever its format: what the Markdown reader (extract) and the HTML
reader (htmlpage) both produce, so neither imports the other."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PageTable:
    """A table found in a page: header cells and data rows, all as plain text."""

    header: list[str]
    rows: list[list[str]]
    line: int | None = None  # 1-based line of the header in a text capture
    caption: str | None = None
    links: dict[tuple[int, int], list[str]] = field(default_factory=dict)  # (row, col) -> hrefs
