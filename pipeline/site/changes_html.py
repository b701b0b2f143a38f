"""A release's CHANGES.md as HTML for its page: headings two levels down (under the page's
"Changes" h2), raw HTML in the Markdown escaped, and every relative link rebased to the page.
The sealed releases link captures at ../../raw/<source>/<file>; the site keeps them in
captures/."""

from __future__ import annotations

import posixpath
from urllib.parse import urlsplit

_SEALED_RAW = "../../raw/"


def changes_html(markdown: str, date: str, page_dir: str) -> str:
    """`markdown` (the CHANGES.md of release `date`) rendered for a page in `page_dir`
    (a folder relative to the site root, '' for the root)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(markdown)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 2, 6)}"
        for child in token.children or []:
            if child.type == "link_open":
                child.attrSet("href", rebase(str(child.attrGet("href")), date, page_dir))
    return md.renderer.render(tokens, md.options, {})


def rebase(href: str, date: str, page_dir: str) -> str:
    """A link written from <date>/CHANGES.md, as seen from a page in `page_dir`."""
    if urlsplit(href).scheme or href.startswith("#"):
        return href
    if href.startswith(_SEALED_RAW):
        href = "../captures/" + href.removeprefix(_SEALED_RAW)
    target = posixpath.normpath(posixpath.join(date, href))
    return posixpath.relpath(target, page_dir or ".")
