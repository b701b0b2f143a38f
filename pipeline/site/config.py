"""curated/publication.yaml: where the site is published and the licences, stated once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.curation.curated import CuratedError

# The licences this project may use, with what their metadata needs.
LICENSES = {
    "CC-BY-4.0": {"title": "Creative Commons Attribution 4.0 International",
                  "path": "https://creativecommons.org/licenses/by/4.0/"},
    "MIT": {"title": "MIT License", "path": "https://opensource.org/license/mit"},
}
FILE_NAME = "publication.yaml"
# What the dataset is, in the words every piece of metadata uses (datapackage.json,
# croissant.json through it, CITATION.cff).
DESCRIPTION = ("Who controls which layer of AI, country by country: models and labs, "
               "jurisdictions, licences and open weights, national AI projects, investments, "
               "and the figures reports quote. Every value has a claim with the exact quote "
               "from a captured source.")
_KEYS = {"base_url", "data_license", "code_license", "authors"}


@dataclass(frozen=True)
class Publication:
    base_url: str | None
    data_license: str
    code_license: str
    authors: str

    def data_license_descriptor(self) -> dict:
        """The Data Package `licenses` entry of the data licence."""
        return {"name": self.data_license, **LICENSES[self.data_license]}

    def url(self, relative: str) -> str | None:
        """The absolute URL of a site path, or None when no base URL is set."""
        return self.base_url + relative if self.base_url else None


def load_publication(curated_dir: Path) -> Publication:
    path = curated_dir / FILE_NAME
    name = f"curated/{FILE_NAME}"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CuratedError("missing: it states the base URL and the licences",
                           file=name) from None
    except yaml.YAMLError as err:
        raise CuratedError(f"not valid YAML: {err}", file=name) from None
    if not isinstance(raw, dict):
        raise CuratedError("expected a mapping of settings", file=name)
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise CuratedError(f"unknown setting (known: {', '.join(sorted(_KEYS))})", file=name,
                           key=unknown[0])
    base_url = raw.get("base_url")
    if base_url is not None and not (isinstance(base_url, str)
                                     and base_url.startswith(("https://", "http://"))
                                     and base_url.endswith("/")):
        raise CuratedError("must be null or an http(s) URL ending in '/'", file=name,
                           key="base_url", value=base_url)
    for key in ("data_license", "code_license"):
        if raw.get(key) not in LICENSES:
            raise CuratedError(f"must be one of {sorted(LICENSES)}", file=name, key=key,
                               value=raw.get(key))
    if not isinstance(raw.get("authors"), str) or not raw["authors"].strip():
        raise CuratedError("must name who the citation credits", file=name, key="authors",
                           value=raw.get("authors"))
    return Publication(base_url=base_url, data_license=raw["data_license"],
                       code_license=raw["code_license"], authors=raw["authors"].strip())
