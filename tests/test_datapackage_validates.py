"""`frictionless validate` (the standard validator, in its own environment) on every release's
datapackage.json: no error that comes from our descriptor or data.

What is left are the tool's own limits, each asserted by kind so nothing else can hide among
them: its Parquet reader goes through pandas, so list cells arrive as numpy arrays (type-error on
every `array` field), nullable integers arrive as NaN (type-error "nan" on `integer` fields), and
it cannot count a Parquet file's bytes (byte-count, actual "None")."""

from __future__ import annotations

import json
import subprocess

import pytest

from .conftest import REPO
from .tool_envs import tool_env

RELEASES = sorted(p.parent for p in (REPO / "releases").glob("*/datapackage.json"))
# Two defects of the sealed releases' descriptors, which are immutable; 2026-07-31 fixes both.
# assessments.subject_id was declared a foreign key to both jurisdictions and regions, so every
# row failed one of them; changes.parquet had no schema, so the tool guessed its types from the
# first rows (2026-05-31's `field` column taken for a year-month).
SEALED = {"2026-04-25", "2026-05-31", "2026-06-30"}
SEALED_DEFECTS = {("assessments", "foreign-key"), ("changes", "type-error")}


@pytest.fixture(scope="module")
def reports() -> dict[str, dict]:
    frictionless = tool_env("frictionless") / "frictionless"
    running = {folder.name: subprocess.Popen(
        [str(frictionless), "validate", "--json", "datapackage.json"], cwd=folder,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for folder in RELEASES}
    out = {}
    for name, process in running.items():
        stdout, stderr = process.communicate(timeout=600)
        assert stdout.strip(), stderr[-2000:]
        out[name] = json.loads(stdout)
    return out


def _fields(folder) -> dict[tuple[str, str], str]:
    package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    return {(r["name"], f["name"]): f["type"] for r in package["resources"]
            if "schema" in r for f in r["schema"]["fields"]}


def _is_tool_limit(error: dict, resource: str, types: dict) -> bool:
    if error["type"] == "byte-count":
        return 'actual is "None"' in error["message"]
    if error["type"] == "type-error":
        kind = types.get((resource, error.get("fieldName")))
        return kind == "array" or (kind == "integer" and error.get("cell") == "nan")
    return False


@pytest.mark.parametrize("folder", RELEASES, ids=[f.name for f in RELEASES])
def test_frictionless_finds_no_defect_of_ours(reports, folder):
    report = reports[folder.name]
    assert report["errors"] == [], report["errors"]  # the descriptor itself is valid
    types = _fields(folder)
    defects = []
    for task in report["tasks"]:
        for error in task["errors"]:
            if _is_tool_limit(error, task["name"], types):
                continue
            defects.append((task["name"], error["type"], error["message"][:200]))
    if folder.name in SEALED:
        # The validator does see real defects: the sealed releases' are reported, and nothing
        # else. Every assessment fails the key to the table its subject is not in.
        assert {d[:2] for d in defects} <= SEALED_DEFECTS
        keys = [d for d in defects if d[1] == "foreign-key"]
        assert keys and all('"subject_id"' in d[2] for d in keys)
    else:
        assert defects == []
    # Every resource was read: nothing skipped for a format the tool could not open.
    assert {t["name"] for t in report["tasks"]} >= {"models", "assessments", "sources"}
    assert not any(e["type"] in ("source-error", "scheme-error", "format-error")
                   for t in report["tasks"] for e in t["errors"])
