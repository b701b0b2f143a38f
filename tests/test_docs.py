"""The docs run: every Python, SQL and console snippet in README.md runs exactly as written and
prints what the README says it prints (the ```output block after it, or the lines after each
`$` command), and every YAML example in CURATING.md is what curated/ really holds.

Not run here: ```py blocks (the standalone loader against a remote site), the quick start's
```sh block (CI runs its test command, and test_real_data builds
every release through the same run_build), ```text blocks (illustrations, e.g. a fetch from
example.org, which this machine cannot reach), and the layout diagrams."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from pipeline.curation.curated import ENTITY_FILES, load_curated
from pipeline.validation.schemas import load_schemas

from .conftest import REPO

FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)
RUNNABLE = ("python", "sql", "console")


def _blocks(path: Path) -> list[tuple[str, str, str | None, int]]:
    """(language, code, expected output or None, line) for each fenced block."""
    text = path.read_text(encoding="utf-8")
    found = [(m.group(1), m.group(2), m.start(), m.end()) for m in FENCE.finditer(text)]
    out = []
    for i, (language, code, start, end) in enumerate(found):
        if language == "output":
            continue
        following = found[i + 1] if i + 1 < len(found) else None
        expected = None
        if following and following[0] == "output" and not text[end:following[2]].strip():
            expected = following[1]
        out.append((language, code, expected, text.count("\n", 0, start) + 1))
    return out


README_BLOCKS = [b for b in _blocks(REPO / "README.md") if b[0] in RUNNABLE]


def test_the_readme_has_snippets_of_every_kind():
    kinds = {b[0] for b in README_BLOCKS}
    assert kinds == set(RUNNABLE)
    assert all(b[2] is not None for b in README_BLOCKS if b[0] != "console"), \
        "a python or sql snippet in README.md has no ```output block after it"


def _run_python(code: str) -> str:
    # After the snippet, skip interpreter teardown: pyarrow's thread pools can abort there
    # (apache/arrow#34314), which says nothing about the snippet.
    wrapped = code + "\nimport os as _os, sys as _sys\n_sys.stdout.flush()\n_os._exit(0)\n"
    result = subprocess.run([sys.executable, "-c", wrapped], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _run_sql(code: str) -> str:
    connection = duckdb.connect()
    connection.execute(f"SET file_search_path = '{REPO}'")
    rows = connection.sql(code).fetchall()
    return "\n".join(" | ".join(str(v) for v in row) for row in rows) + "\n"


def _console_steps(code: str) -> list[tuple[str, str]]:
    """The `$ command` lines (with `\\` continuations) and the output written under each."""
    steps: list[tuple[str, list[str]]] = []
    continuing = False
    for line in code.splitlines():
        if continuing:
            steps[-1] = (steps[-1][0] + "\n" + line, steps[-1][1])
        elif line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
        continuing = line.endswith("\\")
    return [(command, "\n".join(lines)) for command, lines in steps]


def _run_console(code: str, tmp_path: Path) -> list[tuple[str, str, str]]:
    """Each command in one bash session at the project root; (command, expected, actual)."""
    steps = _console_steps(code)
    # The marker keeps $? of the command before it, so `echo $?` reads what it should.
    script = "\n".join(f"_rc=$?; echo '@@step {i}'; (exit $_rc)\n{command}"
                       for i, (command, _) in enumerate(steps)) + "\n"
    before = {p.name for p in REPO.iterdir()}
    try:
        result = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True,
                                text=True, timeout=600)
    finally:
        for path in REPO.iterdir():  # what the snippet wrote at the root (diff --output)
            if path.name not in before and path.is_file():
                path.unlink()
    chunks = re.split(r"^@@step \d+\n", result.stdout + result.stderr, flags=re.M)[1:]
    assert len(chunks) == len(steps), result.stdout + result.stderr
    return [(command, expected, actual) for (command, expected), actual in zip(
        steps, chunks, strict=True)]


@pytest.mark.parametrize("language, code, expected, line", README_BLOCKS,
                         ids=[f"README.md:{b[3]}:{b[0]}" for b in README_BLOCKS])
def test_readme_snippet_runs_as_written(language, code, expected, line, tmp_path):
    if language == "python":
        assert _run_python(code).strip() == expected.strip()
    elif language == "sql":
        assert _run_sql(code).strip() == expected.strip()
    else:
        for command, want, got in _run_console(code, tmp_path):
            assert got.strip() == want.strip(), command


# --- CURATING.md: the worked examples are the real records --------------------------------

CLAIM_KEYS = {"source", "quote", "basis", "fields", "reference", "note"}
CURATED = load_curated(REPO / "curated")
SCHEMAS = load_schemas(REPO / "schemas")
YAML_BLOCKS = [b for b in _blocks(REPO / "CURATING.md") if b[0] == "yaml"]


def _records_by_key() -> dict[tuple[str, str], dict]:
    out = {}
    for table in ENTITY_FILES:
        key = SCHEMAS[table].primary_key
        for record in CURATED.entities[table]:
            out[(key, record.get(key))] = record
    for record in CURATED.sources:
        out[("source_id", record.get("source_id"))] = record
    return out


RECORDS = _records_by_key()
KNOWN_COLUMNS = {c for s in SCHEMAS.values() for c in s.column_names} | {
    "claims", "resolutions", "capture_file", "date_note", "title_from_page", "table", "old_id",
    "new_id", "reason", "figure_ids", "resolution", "source", "column", "split", "resolve_to",
    "not_entities"}


def _shown_in(example: dict, real: dict, where: str) -> None:
    """Every key the example shows has the real record's value; each claim shown is a claim
    of the real record (on the keys it shows)."""
    for key, value in example.items():
        assert key in real, f"{where}: {key!r} is not in the real record"
        if isinstance(value, dict):
            for sub, shown in value.items():
                assert real[key].get(sub) == shown, f"{where}: {key}.{sub} differs"
        elif key == "claims":
            for claim in value:
                assert any(all(c.get(k) == v for k, v in claim.items()) for c in real[key]), \
                    f"{where}: claim {claim} is not a claim of the real record"
        else:
            assert real[key] == value, f"{where}: {key} is {real[key]!r}, not {value!r}"


def _real_match(item: dict) -> dict | None:
    for key, value in item.items():
        if isinstance(value, str) and (key, value) in RECORDS:
            return RECORDS[(key, value)]
    if {"source", "table", "column"} <= set(item):
        return next((r for r in CURATED.mention_columns if all(
            r.get(k) == item[k] for k in ("source", "table", "column"))), None)
    if "figure_ids" in item:
        return next((r for r in CURATED.conflicts
                     if r.get("figure_ids") == item["figure_ids"]), None)
    return None


@pytest.mark.parametrize("language, code, expected, line", YAML_BLOCKS,
                         ids=[f"CURATING.md:{b[3]}" for b in YAML_BLOCKS])
def test_curating_examples_are_the_real_records(language, code, expected, line):
    items = yaml.safe_load(code)
    assert isinstance(items, list) and items
    for item in items:
        where = f"CURATING.md:{line}"
        if set(item) <= CLAIM_KEYS:  # a claim on its own
            continue
        real = _real_match(item)
        if real is None:  # a hypothetical (a rename to come): its keys must still be real
            assert set(item) <= KNOWN_COLUMNS, (where, set(item) - KNOWN_COLUMNS)
            continue
        _shown_in(item, real, where)
