"""The citable metadata around a release, each held to its standard's own validator, run in
its own pinned environment (tests/tool_envs.py): croissant.json to mlcroissant, CITATION.cff
to cffconvert. Plus the licences, stated once (curated/publication.yaml) and the same in
pyproject.toml, LICENSE, LICENSE-DATA, every datapackage.json, croissant.json and CITATION.cff.

mlcroissant takes one file per call and ~3.5 s to start (pandas), so its calls are made once
per module, side by side, in the `mlcroissant_runs` fixture.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.site.citation import citation_cff
from pipeline.site.config import LICENSES, Publication, load_publication
from pipeline.site.croissant import croissant_metadata, write_croissant
from tests.tool_envs import tool_env

REPO = Path(__file__).resolve().parent.parent
RELEASES = sorted(p.parent for p in (REPO / "releases").glob("*/datapackage.json"))
BASE = "https://atlas.example.org/"
PUBLICATION = load_publication(REPO / "curated")
HOSTED = Publication(base_url=BASE, data_license=PUBLICATION.data_license,
                     code_license=PUBLICATION.code_license, authors=PUBLICATION.authors)
LICENSE_URL = LICENSES[PUBLICATION.data_license]["path"]
# The one warning mlcroissant gives the Atlas: it wants schema.org `version` in semver, and a
# release's version is its date everywhere (datapackage.json, CITATION.cff, the site).
VERSION_WARNING = re.compile(r"WarningException\(\"Version doesn't follow MAJOR\.MINOR\.PATCH: "
                             r"\d{4}-\d{2}-\d{2}\. ")
# mlcroissant logs through absl: "E1201 13:52:12.123 pid file.py:41] message", where the first
# letter is the level; an issue report lists each issue on its own "  -  " line below that.
ABSL_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S+:\d+\] (.*)$")
# Run inside the mlcroissant environment: every record of every RecordSet, as JSON.
LOAD_SCRIPT = """
import datetime, json, sys
import mlcroissant as mlc

def plain(v):
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if hasattr(v, "to_pydatetime"):  # pandas.Timestamp: how mlcroissant gives sc:Date
        return v.date().isoformat()
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    return v

out = {}
for jsonld in sys.argv[2:]:
    dataset = mlc.Dataset(jsonld)
    out[jsonld] = {
        rs.id: [{k.split("/", 1)[1]: plain(v) for k, v in r.items()}
                for r in dataset.records(rs.id)]
        for rs in dataset.metadata.record_sets}
with open(sys.argv[1], "w", encoding="utf-8") as f:
    json.dump(out, f)
"""


# The tool environments are installed without bytecode, and this machine's environment sets
# PYTHONDONTWRITEBYTECODE, so each call would compile pandas anew (mlcroissant's start-up goes
# from ~1.4 s to ~3.3 s): the validators' processes may write their __pycache__.
TOOL_ENVIRON = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str  # stdout and stderr, in that order


def _run(cmd: list[str], cache: Path) -> Run:
    # mlcroissant copies what it reads into $CROISSANT_CACHE (~/.cache/croissant by default).
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**TOOL_ENVIRON, "CROISSANT_CACHE": str(cache)})
    return Run(done.returncode, done.stdout + done.stderr)


def _issues(output: str) -> tuple[list[str], list[str]]:
    """The errors and the warnings in mlcroissant's output: absl E/F and W lines, and every
    issue line of a report under them."""
    errors: list[str] = []
    warnings: list[str] = []
    current: list[str] | None = None
    for line in output.splitlines():
        if match := ABSL_LINE.match(line):
            level, message = match.groups()
            current = errors if level in "EF" else warnings if level == "W" else None
            if current is not None and not message.startswith("Found the following"):
                current.append(message)
        elif line.startswith(("ERROR:", "CRITICAL:", "WARNING:")):
            # The same through plain logging, where absl's handler is not set up (the
            # load script imports mlcroissant as a library).
            current = warnings if line.startswith("WARNING:") else errors
            current.append(line)
        elif line.startswith("  -  ") and current is not None:
            current.append(line[5:])
        elif line.startswith(("Traceback", "mlcroissant._src.core.issues.ValidationError")):
            errors.append(line)
    return errors, warnings


def _broken(metadata: dict) -> dict:
    """A copy with one field's dataType gone: what mlcroissant must reject."""
    broken = json.loads(json.dumps(metadata))
    del broken["recordSet"][0]["field"][0]["dataType"]
    return broken


def _write(path: Path, metadata: dict) -> Path:
    path.write_text(json.dumps(metadata, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def mlcroissant_runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every mlcroissant call of the module, made side by side: validate for each release
    with and without a base URL, validate a broken control, and load every record of every
    release from a croissant.json written beside a copy of its files."""
    bin_dir = tool_env("mlcroissant")
    tmp = tmp_path_factory.mktemp("croissant")
    to_validate: dict[tuple[str, str], Path] = {}
    copies = []
    for release in RELEASES:
        for label, publication in (("relative", PUBLICATION), ("absolute", HOSTED)):
            target = tmp / label / release.name / "croissant.json"
            to_validate[release.name, label] = write_croissant(release, target, publication)
        copy = tmp / "copies" / release.name
        shutil.copytree(release, copy)
        copies.append(write_croissant(copy, copy / "croissant.json", PUBLICATION))
    broken = _write(tmp / "broken.json",
                    _broken(croissant_metadata(RELEASES[-1], PUBLICATION)))
    to_validate["broken", "control"] = broken
    records = tmp / "records.json"
    commands = {key: [str(bin_dir / "mlcroissant"), "validate", "--jsonld", str(path)]
                for key, path in to_validate.items()}
    commands["load"] = [str(bin_dir / "python"), "-c", LOAD_SCRIPT, str(records),
                        *map(str, copies)]
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        done = pool.map(lambda cmd: _run(cmd, tmp / "cache"), commands.values())
        runs = dict(zip(commands, done, strict=True))
    runs["paths"] = to_validate
    runs["records"] = records
    runs["copies"] = dict(zip((r.name for r in RELEASES), copies, strict=True))
    return runs


@pytest.mark.parametrize("label", ["relative", "absolute"])
@pytest.mark.parametrize("release", RELEASES, ids=lambda p: p.name)
def test_mlcroissant_validates_every_release(mlcroissant_runs: dict, release: Path,
                                             label: str) -> None:
    run = mlcroissant_runs[release.name, label]
    errors, warnings = _issues(run.output)
    assert run.returncode == 0, run.output
    assert errors == [], run.output
    assert [w for w in warnings if not VERSION_WARNING.search(w)] == [], run.output
    assert "Done." in run.output


def test_mlcroissant_rejects_a_broken_croissant(mlcroissant_runs: dict) -> None:
    """The control: the validator and _issues do see an error when there is one."""
    run = mlcroissant_runs["broken", "control"]
    errors, _ = _issues(run.output)
    assert run.returncode == 1, run.output
    assert any("does not specify a valid" in e and "dataType" in e for e in errors), run.output


@pytest.mark.parametrize("release", RELEASES, ids=lambda p: p.name)
def test_content_urls_follow_the_base_url(mlcroissant_runs: dict, release: Path) -> None:
    def urls(label: str) -> list[str]:
        metadata = json.loads(mlcroissant_runs["paths"][release.name, label].read_text())
        return [metadata["url"]] + [d["contentUrl"] for d in metadata["distribution"]]

    prefix = f"{BASE}{release.name}/"
    assert all(u.startswith(prefix) and "/" not in u[len(prefix):] for u in urls("absolute"))
    assert not any(re.match(r"^[a-z][a-z0-9+.-]*:|^/", u) for u in urls("relative"))
    assert urls("relative")[0] == "index.html"
    assert [u[len(prefix):] for u in urls("absolute")] == urls("relative")


def _parquet_rows(path: Path) -> list[dict]:
    rows = pq.read_table(path).to_pylist()
    return [{k: v.isoformat() if isinstance(v, datetime.date) else v for k, v in row.items()}
            for row in rows]


@pytest.mark.parametrize("release", RELEASES, ids=lambda p: p.name)
def test_mlcroissant_loads_the_parquet_files_as_they_are(mlcroissant_runs: dict,
                                                         release: Path) -> None:
    """Every record mlcroissant yields, list columns and dates included, is the row pyarrow
    reads, in the same order and with the same JSON types (1 is not 1.0, true is not 1)."""
    run = mlcroissant_runs["load"]
    assert run.returncode == 0, run.output
    errors, warnings = _issues(run.output)
    assert errors == [], run.output
    assert [w for w in warnings if not VERSION_WARNING.search(w)
            and not w.startswith("WARNING:absl:Found the following")] == [], run.output
    loaded = json.loads(mlcroissant_runs["records"].read_text())
    records = loaded[str(mlcroissant_runs["copies"][release.name])]
    package = json.loads((release / "datapackage.json").read_text(encoding="utf-8"))
    tables = [r for r in package["resources"] if r.get("type") == "table"]
    assert sorted(records) == sorted(r["name"] for r in tables)
    for table in tables:
        expected = [json.dumps(row, sort_keys=True)
                    for row in _parquet_rows(release / table["path"])]
        got = [json.dumps(row, sort_keys=True) for row in records[table["name"]]]
        assert len(got) == table["rows"], table["name"]
        assert got == expected, table["name"]


@pytest.mark.parametrize("release", RELEASES, ids=lambda p: p.name)
def test_croissant_mirrors_the_datapackage(release: Path) -> None:
    package = json.loads((release / "datapackage.json").read_text(encoding="utf-8"))
    metadata = croissant_metadata(release, PUBLICATION)
    assert metadata == croissant_metadata(release, PUBLICATION)  # deterministic
    assert (metadata["version"], metadata["citeAs"]) == (package["version"],
                                                         package["citation"])
    files = {d["@id"]: d for d in metadata["distribution"]}
    assert list(files) == [r["path"] for r in package["resources"]]
    for resource in package["resources"]:
        assert "sha256:" + files[resource["path"]]["sha256"] == resource["hash"]
        assert files[resource["path"]]["contentSize"] == f"{resource['bytes']} B"
    record_sets = {rs["@id"]: rs for rs in metadata["recordSet"]}
    for resource in (r for r in package["resources"] if r.get("type") == "table"):
        rs, schema = record_sets[resource["name"]], resource["schema"]
        assert [f["name"] for f in rs["field"]] == [f["name"] for f in schema["fields"]]
        assert rs["key"] == {"@id": f"{resource['name']}/{schema['primaryKey'][0]}"}
        arrays = {f["name"] for f in schema["fields"] if f["type"] == "array"}
        assert {f["name"] for f in rs["field"] if f.get("isArray")} == arrays


def test_write_croissant_is_byte_stable(tmp_path: Path) -> None:
    first = write_croissant(RELEASES[-1], tmp_path / "a" / "croissant.json", PUBLICATION)
    second = write_croissant(RELEASES[-1], tmp_path / "b.json", PUBLICATION)
    assert first.read_bytes() == second.read_bytes()
    assert first.read_text(encoding="utf-8").endswith("}\n")


# CITATION.cff


@pytest.fixture(scope="module")
def cffconvert() -> Path:
    return tool_env("cffconvert") / "cffconvert"


def _cff_validate(cffconvert: Path, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(cffconvert), "--validate", "-i", str(path)],
                          capture_output=True, text=True, timeout=120, env=TOOL_ENVIRON)


def _release_entry(date: str) -> dict:
    index = json.loads((REPO / "releases" / "index.json").read_text(encoding="utf-8"))
    return next(r for r in index["releases"] if r["date"] == date)


def test_root_citation_is_generated_and_valid(cffconvert: Path) -> None:
    path = REPO / "CITATION.cff"
    assert path.read_bytes() == citation_cff(PUBLICATION).encode("utf-8")
    done = _cff_validate(cffconvert, path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid according to schema version 1.2.0" in done.stdout
    lines = path.read_text(encoding="utf-8").splitlines()
    assert not any(line.startswith(("version:", "identifiers:")) for line in lines)
    urls = [line for line in lines if line.startswith("url:")]
    assert urls == ([f'url: "{PUBLICATION.base_url}"'] if PUBLICATION.base_url else [])


def test_release_citation_is_valid(cffconvert: Path, tmp_path: Path) -> None:
    folder = REPO / "releases" / "2026-06-30"
    digest = hashlib.sha256((folder / "datapackage.json").read_bytes()).hexdigest()
    entry = _release_entry("2026-06-30")
    assert entry["datapackage_sha256"] == digest
    text = citation_cff(HOSTED, {"date": "2026-06-30", "title": entry["title"],
                                 "datapackage_sha256": digest})
    path = tmp_path / "CITATION.cff"
    path.write_text(text, encoding="utf-8")
    done = _cff_validate(cffconvert, path)
    assert done.returncode == 0, done.stdout + done.stderr
    for line in ('version: "2026-06-30"', 'date-released: "2026-06-30"', "  - type: other",
                 f'    value: "sha256:{digest}"', f'url: "{BASE}2026-06-30/"'):
        assert line in text.splitlines()
    assert f'url: "{BASE}"' in citation_cff(HOSTED).splitlines()


def test_cffconvert_rejects_a_broken_citation(cffconvert: Path, tmp_path: Path) -> None:
    """The control: a CITATION.cff without authors must fail, or the checks above prove
    nothing."""
    text = citation_cff(PUBLICATION)
    path = tmp_path / "CITATION.cff"
    path.write_text(re.sub(r"authors:\n  - name: .*\n", "", text), encoding="utf-8")
    assert _cff_validate(cffconvert, path).returncode != 0


# Licences: stated once in curated/publication.yaml, the same everywhere.


def test_code_licence_is_the_same_everywhere() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["license"] == PUBLICATION.code_license
    licence = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith(f"{LICENSES[PUBLICATION.code_license]['title']}\n")
    assert "Copyright (c) 2026 Sovereign AI Atlas contributors" in licence.splitlines()


def test_data_licence_is_the_same_everywhere() -> None:
    notice = " ".join((REPO / "LICENSE-DATA").read_text(encoding="utf-8").split())
    assert PUBLICATION.data_license in notice and LICENSE_URL in notice
    assert LICENSES[PUBLICATION.data_license]["title"] in notice
    for release in RELEASES:
        package = json.loads((release / "datapackage.json").read_text(encoding="utf-8"))
        assert [lic["name"] for lic in package["licenses"]] == [PUBLICATION.data_license]
        assert [lic["path"] for lic in package["licenses"]] == [LICENSE_URL]
        assert croissant_metadata(release, PUBLICATION)["license"] == LICENSE_URL
    cff = (REPO / "CITATION.cff").read_text(encoding="utf-8")
    assert f'license: "{PUBLICATION.data_license}"' in cff.splitlines()
