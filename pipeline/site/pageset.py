"""A release's pages for people: a set of pages in one folder of the site (the release's own
folder, and the site's root for the latest published release, which is the home page).

    <set>/index.html                 the release page (charts, places, sources, changes)
    <set>/figures.html  find.html    every figure; the search over names and aliases
    <set>/jurisdictions/<ID>.html    regions/<id>.html  sources/<id>.html
    <set>/charts/<name>.svg

Links between pages of a set are relative to the set; `root` leads to the site root and
`release_root` to the release's data folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.publishing.publish import write_text
from pipeline.site.config import Publication
from pipeline.site.pages import render_page
from pipeline.site.release_data import ReleaseData
from pipeline.site.sections import Context


@dataclass
class PageSet:
    site: Path
    folder: str  # relative to the site root: "" or "<date>/"
    entry: dict  # the release's entry of the site's index.json
    ctx: Context
    publication: Publication

    @property
    def data(self) -> ReleaseData:
        return self.ctx.data

    def write(self, relative: str, template: str, title: str, **context: Any) -> Path:
        """Render `template` to <set>/`relative` with the relative roots it needs."""
        inside = relative.count("/")
        set_root = "../" * inside
        release_root = set_root + ("" if self.folder else f"{self.entry['date']}/")
        target = self.site / self.folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text(target, render_page(
            template, depth=self.folder.count("/") + inside, title=title, set_root=set_root,
            release_root=release_root, release=self.entry, publication=self.publication,
            **context))
        return target

    def write_file(self, relative: str, text: str) -> None:
        """A file that is not a page (a chart's SVG) at <set>/`relative`."""
        target = self.site / self.folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text(target, text)
