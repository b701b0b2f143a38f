"""CITATION.cff (Citation File Format 1.2.0) for the dataset, or for one release of it.

The repository root carries the dataset-level file (no version: the code moves on, releases
are what people cite); the site carries one per release, naming it by date and by the sha256
of its datapackage.json, which pins every byte of the release. tests/test_metadata_validators.py
holds both to `cffconvert --validate` and the root file to citation_cff(load_publication(...)).

The YAML is written by hand so that the bytes are fixed by this file alone (no dumper's line
folding or key order): every scalar goes through json.dumps, and a JSON string is a valid
YAML double-quoted scalar.
"""

from __future__ import annotations

import json

from pipeline.site.config import DESCRIPTION, Publication

CFF_VERSION = "1.2.0"
TITLE = "Sovereign AI Atlas"
ABSTRACT = (DESCRIPTION + " Published as dated, immutable releases of Parquet tables "
            "described by a Frictionless Data Package.")
KEYWORDS = ("sovereign AI", "artificial intelligence", "AI policy", "large language models",
            "open weights", "dataset")
MESSAGE = ("If you use this dataset, please cite the release you used by its date and the "
           "sha256 of its datapackage.json (both are in releases/index.json and on the "
           "release's page), so that the exact data can be found again.")


def _scalar(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _release_lines(release: dict) -> list[str]:
    """version, date-released and the identifier a release is cited by."""
    date, digest = release["date"], release["datapackage_sha256"]
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"release {date}: datapackage_sha256 is not a sha256: {digest!r}")
    title = f" ({release['title']})" if release.get("title") else ""
    description = f"The sha256 of the datapackage.json of release {date}{title}."
    return [
        f"version: {_scalar(date)}",
        f"date-released: {_scalar(date)}",
        "identifiers:",
        "  - type: other",
        f"    value: {_scalar('sha256:' + digest)}",
        f"    description: {_scalar(description)}",
    ]


def citation_cff(publication: Publication, release: dict | None = None) -> str:
    """The CITATION.cff text for the dataset, or for `release` (a dict with date, title and
    datapackage_sha256) when given."""
    lines = [
        f"cff-version: {_scalar(CFF_VERSION)}",
        f"message: {_scalar(MESSAGE)}",
        "type: dataset",
        f"title: {_scalar(TITLE)}",
        f"abstract: {_scalar(ABSTRACT)}",
        "authors:",
        f"  - name: {_scalar(publication.authors)}",
    ]
    if release:
        lines += _release_lines(release)
    lines.append(f"license: {_scalar(publication.data_license)}")
    url = publication.url(f"{release['date']}/" if release else "")
    if url:
        lines.append(f"url: {_scalar(url)}")
    lines.append("keywords:")
    lines += [f"  - {_scalar(keyword)}" for keyword in KEYWORDS]
    return "\n".join(lines) + "\n"
