"""Where the project's folders are. Every function takes a root so tests can work on a copy."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import click

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def default_root() -> Path:
    """The project root: $SOVAI_ROOT if set, else the checkout this package lives in."""
    return Path(os.environ.get("SOVAI_ROOT", PACKAGE_ROOT)).resolve()


@dataclass(frozen=True)
class ProjectPaths:
    root: Path
    releases_override: Path | None = None

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def curated(self) -> Path:
        return self.root / "curated"

    @property
    def schemas(self) -> Path:
        return self.root / "schemas"

    @property
    def releases(self) -> Path:
        return self.releases_override or (self.root / "releases")

    @property
    def dagster_home(self) -> Path:
        return self.root / ".dagster"


# The project's own folders, which no --out may be or lie in (releases/ and site/ may).
PROTECTED = ("raw", "curated", "schemas", "pipeline", "tests", "docs", ".git", ".dagster")


_RELEASE_ENTRY = re.compile(r"\d{4}-\d{2}-\d{2}|captures|index\.json|\.(tmp|old)-.*")


class OutputFolderError(click.ClickException, ValueError):
    """An output folder (`--out`) the Atlas must not write into; one line, exit code 1."""


def output_folder(root: Path, out: Path | str, *, option: str = "--out",
                  marker: str = "index.json") -> Path:
    """`out` resolved, refused when writing there could overwrite or replace what is not the
    Atlas's output: a name with a NUL byte; the project root, a folder above it, or one of its
    own folders (raw/, curated/, schemas/, ...) or a folder inside them; an existing folder
    without `marker` (index.json: a releases folder or a site written before) that holds
    anything but release folders, captures/ and leftovers of an interrupted build. The
    project's releases/ and site/ are always allowed."""
    text = str(out)
    if "\0" in text:
        raise OutputFolderError(f"{option} {text!r}: contains a NUL byte")
    target, root = Path(text).expanduser().resolve(), root.resolve()
    if target in (root / "releases", root / "site"):
        return target
    if root.is_relative_to(target):
        raise OutputFolderError(f"{option} {target}: is the project root or a folder above it; "
                                f"choose a folder of its own")
    for name in PROTECTED:
        if target.is_relative_to(root / name):
            raise OutputFolderError(f"{option} {target}: lies in the project's {name}/, which "
                                    f"only the Atlas's own steps write")
    if target.exists() and not (target / marker).is_file():
        foreign = [p.name for p in target.iterdir() if not _RELEASE_ENTRY.fullmatch(p.name)] \
            if target.is_dir() else [target.name]
        if foreign:
            raise OutputFolderError(f"{option} {target}: holds {foreign[0]!r}, which is not "
                                    f"an earlier output (no {marker}); it could be replaced, "
                                    f"so choose a new or empty folder")
    return target


def project_paths(
    root: Path | str | None = None, releases: Path | str | None = None
) -> ProjectPaths:
    return ProjectPaths(
        root=Path(root).resolve() if root else default_root(),
        releases_override=Path(releases).resolve() if releases else None,
    )
