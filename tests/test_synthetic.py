"""The benchmarks' synthetic projects at tiny scale: they pass `sovai check` with nothing
blocking and build both releases by the plain stages, with the claim counts the generator
promises; a synthetic release pair diffs to exactly the rows it was generated with."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from synthetic import generate_project, generate_release_pair  # noqa: E402

from pipeline import stages  # noqa: E402
from pipeline.paths import project_paths  # noqa: E402
from pipeline.publishing.diff import diff_release_dirs  # noqa: E402
from pipeline.publishing.reproduce import prepare_release, publish_prepared  # noqa: E402
from pipeline.validation.check import run_check  # noqa: E402


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("synthetic") / "project"
    return generate_project(root, claims=600, seed=3, rows_per_page=20)


def test_generator_is_seeded(tmp_path: Path, synthetic) -> None:
    again = generate_project(tmp_path / "again", claims=600, seed=3, rows_per_page=20)
    for name in ("curated/sources.yaml", "curated/models/part-0001.yaml",
                 "pages/synthetic-page-00000.txt"):
        assert (again.root / name).read_bytes() == (synthetic.root / name).read_bytes()
    other = generate_project(tmp_path / "other", claims=600, seed=4, rows_per_page=20)
    assert (other.root / "curated/models/part-0001.yaml").read_bytes() != \
        (synthetic.root / "curated/models/part-0001.yaml").read_bytes()


def test_check_has_nothing_blocking(synthetic) -> None:
    assert synthetic.pages >= 2 and synthetic.models >= 40
    lines: list[str] = []
    assert run_check(project_paths(synthetic.root), echo=lines.append) == 0, "\n".join(lines)
    assert lines[-1] == "0 blocking problems, 0 unresolved mentions in the latest release"


def test_both_releases_build(synthetic, tmp_path: Path) -> None:
    paths = project_paths(synthetic.root)
    _, _, releases = stages.load_project(paths)
    assert [r.key for r in releases] == list(synthetic.releases)
    built = []
    for release in releases:
        prepared = prepare_release(paths, release)
        built.append((prepared, publish_prepared(prepared, tmp_path / "releases")))
    (first, _), (second, folder) = built
    assert len(first.tables["claims"]) == synthetic.first_release_claim_rows
    assert len(second.tables["claims"]) == synthetic.claim_rows
    assert len(second.tables["models"]) == synthetic.models
    assert len(second.tables["projects"]) == synthetic.projects
    assert second.stats["verified_quote_share"] == 1.0
    assert second.stats["unresolved_mentions"] == 0
    assert (folder / "CHANGES.md").is_file() and (folder / "changes.parquet").is_file()


def test_release_pair_diffs_to_its_counts(tmp_path: Path) -> None:
    pair = generate_release_pair(tmp_path, 2_000, added=17, removed=11, changed=23, renamed=5)
    changes = diff_release_dirs(pair.old, pair.new, primary_keys={pair.table: pair.key},
                                redirects=pair.redirects)
    rows = changes[changes["table_name"] == pair.table]
    counts = Counter(rows["change"])
    assert counts["added"] == pair.added
    assert counts["removed"] == pair.removed
    assert counts["renamed"] == pair.renamed
    assert rows.loc[rows["change"] == "changed", "entity_id"].nunique() == pair.changed


def _check_lines(root: Path, workers: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("SOVAI_CHECK_WORKERS", str(workers))
    lines: list[str] = []
    run_check(project_paths(root), echo=lines.append)
    return lines


def test_check_in_parallel_prints_what_one_process_prints(synthetic, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """`sovai check` of a large project checks each release in a forked process of its own:
    the report is the one a single process prints, line for line and in release order, on a
    clean project and on one with a quote its page does not hold."""
    import os
    import shutil

    root = tmp_path / "project"
    shutil.copytree(synthetic.root, root)
    pids = tmp_path / "pids"
    normalize = stages.normalize

    def recording(*args, **kwargs):
        with pids.open("a") as handle:
            handle.write(f"{os.getpid()}\n")
        return normalize(*args, **kwargs)

    monkeypatch.setattr(stages, "normalize", recording)
    clean = _check_lines(root, 1, monkeypatch)
    pids.unlink()
    assert _check_lines(root, 2, monkeypatch) == clean
    forked = set(pids.read_text().split())
    assert len(forked) == 2 and str(os.getpid()) not in forked

    models = root / "curated" / "models" / "part-0001.yaml"
    text = models.read_text(encoding="utf-8")
    assert "under the MIT license" in text
    models.write_text(text.replace("under the MIT license", "under the BSD license", 1),
                      encoding="utf-8")
    broken = _check_lines(root, 1, monkeypatch)
    assert broken[-1].startswith("3 blocking problems")  # the quote, then in each release
    assert [line for line in broken if "release 2026-0" in line and "BLOCKING" in line]
    assert _check_lines(root, 2, monkeypatch) == broken
