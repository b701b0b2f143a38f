"""A release's CHANGES.md as HTML for its page: headings two levels down (under the page's
"Changes" h2), raw HTML in the Markdown escaped, and every relative link rebased to the page.
The sealed releases link captures at ../../raw/<source>/<file>; the site keeps them in
captures/."""

from __future__ import annotations

import posixpath
from html import escape
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
        if token.type == "th_open":
            token.attrSet("scope", "col")
        for child in token.children or []:
            if child.type == "link_open":
                child.attrSet("href", rebase(str(child.attrGet("href")), date, page_dir))
    return md.renderer.render(_captioned(tokens), md.options, {})


def _captioned(tokens: list) -> list:
    """Each table gets a caption: the heading it sits under."""
    from markdown_it.token import Token

    out, heading = [], ""
    for i, token in enumerate(tokens):
        out.append(token)
        if token.type == "heading_open":
            heading = tokens[i + 1].content
        if token.type == "table_open":
            out.append(Token("html_block", "", 0,
                             content=f"<caption>{escape(heading)}</caption>\n"))
    return out


def rebase(href: str, date: str, page_dir: str) -> str:
    """A link written from <date>/CHANGES.md, as seen from a page in `page_dir`."""
    if urlsplit(href).scheme or href.startswith("#"):
        return href
    if href.startswith(_SEALED_RAW):
        href = "../captures/" + href.removeprefix(_SEALED_RAW)
    target = posixpath.normpath(posixpath.join(date, href))
    return posixpath.relpath(target, page_dir or ".")
