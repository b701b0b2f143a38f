"""One site built from the real releases for the whole test session (building takes seconds;
the site, browser and page tests all read it and none changes it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.site.build import build_site
from pipeline.site.config import load_publication

from .conftest import REPO


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    return build_site(REPO / "releases", tmp_path_factory.mktemp("built") / "site",
                      load_publication(REPO / "curated"))
