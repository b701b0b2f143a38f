"""Where the project's folders are. Every function takes a root so tests can work on a copy."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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


def project_paths(
    root: Path | str | None = None, releases: Path | str | None = None
) -> ProjectPaths:
    return ProjectPaths(
        root=Path(root).resolve() if root else default_root(),
        releases_override=Path(releases).resolve() if releases else None,
    )
