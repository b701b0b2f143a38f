"""The curated loader's fast path (libyaml composes, a lean walk builds the Records) gives
exactly what the pure-Python line-tracking loader gives: the same values of the same types, the
same file and line on every Record, and the same one-line error for a bad file. Each file is
parsed once per process and parsed again when its content changes."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pipeline.curation import curated as loader
from pipeline.curation.curated import CuratedError, Record, load_curated, load_yaml_records
from pipeline.paths import project_paths
from tests.conftest import REPO, write_project


def _shape(value: Any) -> Any:
    """A value with its types spelled out (1 == 1.0 == True in Python), and each Record's
    file and line."""
    if isinstance(value, Record):
        return ("Record", value.file, value.line,
                [(_shape(k), _shape(v)) for k, v in value.items()])
    if isinstance(value, dict):
        return ("dict", [(_shape(k), _shape(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_shape(v) for v in value])
    return (type(value).__name__, repr(value))


def _outcome(path: Path) -> Any:
    try:
        return _shape(load_yaml_records(path, display_root=path.parent.parent))
    except CuratedError as err:
        return ("error", str(err))


def _outcomes(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """(the loader's outcome, the line-tracking loader's alone) for one file."""
    loader._PARSED.clear()
    fast = _outcome(path)
    loader._PARSED.clear()
    with monkeypatch.context() as patch:
        def declined(text: str, name: str) -> list[Record]:
            raise loader._FastPathDeclined("the reference")
        patch.setattr(loader, "_parse_fast", declined)
        reference = _outcome(path)
    loader._PARSED.clear()
    return fast, reference


# Everything YAML lets a curator write that the fast path must build, hand over or reject
# exactly as the line-tracking loader does.
SNIPPETS = {
    "scalars of every kind": "- {a: 1, b: 1.5, c: true, d: yes, e: null, f: ~, g: 2026-04-20, "
                             "h: 2026-04-20 10:30:00, i: '2026', j: \"x\", k: 0o17, l: 0x1F, "
                             "m: 1_000, n: .inf, o: -1e3, p: off, q: '', r: !!str 12}\n",
    "block and folded text": "- a: |\n    block\n    text\n  b: >\n    folded\n    text\n"
                             "  c: plain\n    over two lines\n",
    "escapes": '- a: "\\u00e9 \\x41 \\t \\N \\_"\n  b: \'it\'\'s\'\n',
    "Windows line endings": "- a: 1\r\n  b: [x, y]\r\n- c: 2\r\n",
    "a line separator in a quote": '- a: "one\u2028two"\n- b: 2\n',
    "a next-line character": "- a: one\x85two\n- b: 2\n",
    "nested records": "- a: {b: [{c: 1}, {d: [2, 3]}]}\n  claims:\n    - source: s\n"
                      "      fields: {x: 1}\n",
    "an alias of a scalar": "- a: &q quoted words\n  b: *q\n- c: *q\n",
    "an alias of a mapping": "- base: &m {x: 1}\n  copy: *m\n",
    "an alias of a list": "- labs: &l [a, b]\n- labs: *l\n",
    "a merge key": "- <<: {x: 1}\n  y: 2\n",
    "two spellings of one key": "- {yes: 1, true: 2}\n",
    "a duplicate key": "- a: 1\n  b: 2\n- a: 1\n  b: 2\n  a: 3\n",
    "a duplicate key by its text": "- {1: a, '1': b}\n",
    "a key that is a list": "- ? [a, b]\n  : 1\n",
    "binary": "- a: !!binary aGVsbG8=\n",
    "a set": "- a: !!set {x, y}\n",
    "an unknown tag": "- a: !custom x\n",
    "an impossible date": "- a: 1\n- published_on: 2026-02-30\n",
    "bad YAML": "- a: [1, 2\n- b: 3\n",
    "a tab indent": "- a: 1\n\tb: 2\n",
    "a control character": "- a: x\x01y\n",
    "an empty list": "[]\n",
    "an empty file": "",
    "only a comment": "# nothing yet\n",
    "a mapping": "a: 1\nb: 2\n",
    "items that are not mappings": "- {a: 1}\n- 2\n",
    "two documents": "- a: 1\n---\n- b: 2\n",
    "a repeated anchor": "- a: &x 1\n  b: &x 2\n",
    "an undefined alias": "- a: *nope\n",
    "a long key": "- " + "k" * 1100 + ": 1\n",
    "nesting past the line-tracking loader's limit": "- a: " + "[" * 600 + "]" * 600 + "\n",
    "nesting past the fast path's limit": "- a: " + "[" * 150 + "1" + "]" * 150 + "\n",
    "nesting the fast path takes": "- a: " + "[" * 60 + "1" + "]" * 60 + "\n",
}


@pytest.mark.parametrize("text", SNIPPETS.values(), ids=SNIPPETS.keys())
def test_the_fast_path_gives_what_the_line_tracking_loader_gives(tmp_path, monkeypatch, text):
    path = tmp_path / "curated" / "models.yaml"
    path.parent.mkdir()
    path.write_bytes(text.encode("utf-8"))
    fast, reference = _outcomes(path, monkeypatch)
    assert fast == reference


def test_every_real_curated_file_loads_the_same_by_either_path(monkeypatch):
    files = sorted((REPO / "curated").rglob("*.yaml"))
    files.remove(REPO / "curated" / "publication.yaml")  # a mapping: the site reads it
    assert len(files) > 10
    for path in files:
        fast, reference = _outcomes(path, monkeypatch)
        assert fast == reference, path
        assert fast[0] == "list" and fast[1], path


def test_a_duplicate_key_deep_in_a_large_file_names_its_file_and_line(tmp_path):
    """A file of thousands of records (the fast path's case) with one repeated key: one line
    naming the file, the key's line and the first one's."""
    lines = ["# models"]
    for number in range(3000):
        lines += [f"- model_id: m-{number}", f"  name: Model {number}", "  license: MIT"]
    lines.insert(3 * 2000 + 3, "  license: Apache-2.0")  # after model 1999's license
    root = write_project(tmp_path / "project", {"models.yaml": "\n".join(lines) + "\n"})
    with pytest.raises(CuratedError) as raised:
        load_curated(root / "curated")
    message = str(raised.value)
    assert message == ("curated/models.yaml:6005, key 'license': duplicate key (first at line "
                       "6004); YAML would keep only the later value")
    assert "\n" not in message


def test_nesting_deep_enough_to_overflow_libyaml_is_one_line_not_a_crash(tmp_path):
    """libyaml's composer recurses in C; 100,000 open brackets (100 KB) would overflow its
    stack and kill the process. A child process, so that a crash fails only this test."""
    path = tmp_path / "curated" / "models.yaml"
    path.parent.mkdir()
    path.write_text("- a: " + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    code = ("import sys; from pathlib import Path\n"
            "from pipeline.curation.curated import CuratedError, load_yaml_records\n"
            "try:\n    load_yaml_records(Path(sys.argv[1]), display_root=Path(sys.argv[2]))\n"
            "except CuratedError as err:\n    print(err)\n")
    child = subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path)],
                           capture_output=True, text=True, timeout=120, cwd=REPO)
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout == "curated/models.yaml: not valid YAML: nested too deeply\n"


def test_a_file_is_parsed_once_and_again_when_it_changes(tmp_path):
    curated = tmp_path / "curated"
    curated.mkdir()
    path = curated / "models.yaml"
    path.write_text("- {model_id: a, name: A}\n", encoding="utf-8")
    first = load_yaml_records(path, display_root=tmp_path)
    again = load_yaml_records(path, display_root=tmp_path)
    assert again is not first and again[0] is first[0]  # a list of its own, one parse
    # The same size and the same mtime: only the content tells the change.
    stat = path.stat()
    path.write_text("- {model_id: b, name: B}\n", encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    changed = load_yaml_records(path, display_root=tmp_path)
    assert [dict(r) for r in changed] == [{"model_id": "b", "name": "B"}]
    path.write_text("- {model_id: b, name: B\n", encoding="utf-8")
    with pytest.raises(CuratedError, match=r"^curated/models\.yaml:2: not valid YAML"):
        load_yaml_records(path, display_root=tmp_path)
    path.unlink()
    assert load_yaml_records(path, display_root=tmp_path) == []


def test_a_whole_check_and_release_build_leave_the_shared_records_as_loaded(tmp_path):
    """The parsed Records are shared by every caller in the process, not copied: `sovai check`
    and a release's stages (normalize, resolve, validate, publish) must only read them."""
    from pipeline.curation.releases import declared_releases
    from pipeline.publishing.reproduce import prepare_release, publish_prepared
    from pipeline.validation.check import run_check

    root = write_project(tmp_path / "project")
    paths = project_paths(root, root / "releases")
    curated = load_curated(paths.curated)
    loaded = _shape(copy.deepcopy(curated).__dict__)
    report: list[str] = []
    assert run_check(paths, echo=report.append) == 0, report
    for release in declared_releases(curated):
        publish_prepared(prepare_release(paths, release), paths.releases)
    assert (paths.releases / "2026-05-31" / "datapackage.json").is_file()
    again = load_curated(paths.curated)
    assert again.entities["models"][0] is curated.entities["models"][0]
    assert _shape(again.__dict__) == _shape(curated.__dict__) == loaded


def test_the_loader_keeps_records_of_text_written_with_dedent(tmp_path):
    """Records keep the line of their first key, as curators see it in an editor."""
    path = tmp_path / "curated" / "sources.yaml"
    path.parent.mkdir()
    path.write_text(textwrap.dedent("""\
        # two sources
        - source_id: a
          title: A

        - {source_id: b, title: B}
        -
          source_id: c
    """), encoding="utf-8")
    records = load_yaml_records(path, display_root=tmp_path)
    assert [(r.file, r.line, r["source_id"]) for r in records] == [
        ("curated/sources.yaml", 2, "a"), ("curated/sources.yaml", 5, "b"),
        ("curated/sources.yaml", 7, "c")]


@pytest.mark.parametrize(("text", "message"), [
    ("- a: 1\n- a: x\x01y\n", "curated/models.yaml:2: not valid YAML: unacceptable character "
                             "#x0001: special characters are not allowed"),
    ("- a: 1\n- ? [a, b]\n  : 1\n", "curated/models.yaml:2: a key must be a single word or "
                                   "value, not a list or mapping"),
], ids=["a control character", "a key that is a list"])
def test_a_control_character_or_a_list_as_a_key_is_one_line(tmp_path, text, message):
    path = tmp_path / "curated" / "models.yaml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CuratedError) as raised:
        load_yaml_records(path, display_root=tmp_path)
    assert str(raised.value) == message


def test_a_later_process_reads_the_parses_kept_on_disk_until_a_file_changes(tmp_path,
                                                                            monkeypatch):
    """load_curated keeps each file's parse under .dagster/parsed/: a later process (here,
    the in-process cache emptied) reads it back without parsing, with the same values, files
    and lines; an edited file (same size, same mtime) is parsed again, and an unreadable
    cache file is parsed around."""
    root = write_project(tmp_path / "project")
    monkeypatch.setattr(loader.ParseCache, "FROM_BYTES", 0)  # the test's files are small
    loader._PARSED.clear()
    first = load_curated(root / "curated")
    kept = sorted((root / loader.PARSE_CACHE).glob("*.pickle"))
    assert kept

    def no_parse(text: str, name: str) -> list[Record]:
        raise AssertionError(f"{name} was parsed again")

    loader._PARSED.clear()
    with monkeypatch.context() as patch:
        patch.setattr(loader, "_records_of", no_parse)
        again = load_curated(root / "curated")
    assert _shape(again.entities) == _shape(first.entities)
    assert _shape(again.sources) == _shape(first.sources)

    path = root / "curated" / "models.yaml"
    text = path.read_text(encoding="utf-8")
    stat = path.stat()
    edited = text.replace("Qwen 3.6", "Qwen 3.7", 1)
    assert edited != text and len(edited) == len(text)
    path.write_text(edited, encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    loader._PARSED.clear()
    changed = load_curated(root / "curated")
    names = [r.get("name") for r in changed.entities["models"]]
    assert "Qwen 3.7" in names and "Qwen 3.6" not in names
    assert len(sorted((root / loader.PARSE_CACHE).glob("*.pickle"))) == len(kept)  # replaced

    # A file moved (a table split into a folder) keeps no parse under its old name.
    (root / "curated" / "models").mkdir()
    path.rename(root / "curated" / "models" / "all.yaml")
    loader._PARSED.clear()
    moved = load_curated(root / "curated")
    assert [dict(r) for r in moved.entities["models"]] == [
        dict(r) for r in changed.entities["models"]]
    assert {str(r.file) for r in moved.entities["models"]} == {"curated/models/all.yaml"}
    stems = {p.name.split("-")[0] for p in (root / loader.PARSE_CACHE).glob("*.pickle")}
    assert len(stems) == len(kept)
    assert loader.ParseCache.stem_of("curated/models/all.yaml") in stems
    assert loader.ParseCache.stem_of("curated/models.yaml") not in stems

    for pickle_file in (root / loader.PARSE_CACHE).glob("*.pickle"):
        pickle_file.write_bytes(pickle_file.read_bytes()[:20])  # truncated
    loader._PARSED.clear()
    assert _shape(load_curated(root / "curated").entities) == _shape(moved.entities)
    loader._PARSED.clear()
