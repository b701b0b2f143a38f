"""Bad curated input stops the build before publish, with an error naming file, line, key,
column and value; releases/ is left untouched."""

from __future__ import annotations

import re
import textwrap

import click
import dagster as dg
import pytest

from pipeline.cli.main import run_build
from pipeline.paths import project_paths

from .conftest import FILES, write_project


def _build_fails(tmp_path, files: dict[str, str]) -> str:
    root = write_project(tmp_path / "project", files)
    out = tmp_path / "releases"
    out.mkdir()
    (out / "keep.txt").write_text("published before", encoding="utf-8")
    with pytest.raises(click.ClickException) as raised:
        run_build(project_paths(root, out), "2026-04-25", echo=lambda _: None,
                  instance=dg.DagsterInstance.ephemeral())
    # Nothing published, nothing already there touched, no temporary folder left behind.
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert (out / "keep.txt").read_text(encoding="utf-8") == "published before"
    return raised.value.message


def _edit(name: str, old: str, new: str) -> dict[str, str]:
    text = textwrap.dedent(FILES[name])
    assert old in text
    return {name: text.replace(old, new, 1)}


def test_unknown_jurisdiction(tmp_path):
    message = _build_fails(tmp_path, _edit("organizations.yaml",
                                           "jurisdiction_id: FRA", "jurisdiction_id: XXF"))
    assert re.search(r"curated/organizations\.yaml:\d+", message)
    assert "'mistral-ai'" in message and "'jurisdiction_id'" in message and "'XXF'" in message
    assert "unknown jurisdiction" in message


def test_duplicate_id(tmp_path):
    message = _build_fails(tmp_path, _edit("organizations.yaml",
                                           "organization_id: tencent",
                                           "organization_id: alibaba"))
    assert re.search(r"curated/organizations\.yaml:\d+", message)
    assert "duplicate organization_id" in message and "'alibaba'" in message


def test_quote_not_in_capture(tmp_path):
    message = _build_fails(tmp_path, _edit(
        "models.yaml", "Alibaba released Qwen 3.6 under Apache 2.0 as open weights for text.",
        "Alibaba released Qwen 3.6 under the MIT licence."))
    assert re.search(r"curated/models\.yaml:\d+", message)
    assert "'qwen-3-6'" in message and "'quote'" in message
    assert "Alibaba released Qwen 3.6 under the MIT licence." in message
    assert "does not occur in the capture of mini-page" in message


def test_missing_required_column(tmp_path):
    message = _build_fails(tmp_path, _edit("models.yaml", "  modality: text\n  open_weights: open",
                                           "  open_weights: open"))
    assert re.search(r"curated/models\.yaml:\d+", message)
    assert "'qwen-3-6'" in message and "'modality'" in message
    assert "missing required column" in message


def test_unparseable_date(tmp_path):
    message = _build_fails(tmp_path, _edit("sources.yaml", "published_on: 2026-04-20",
                                           "published_on: 20 April 2026"))
    assert re.search(r"curated/sources\.yaml:\d+", message)
    assert "'mini-page'" in message and "'published_on'" in message
    assert "'20 April 2026'" in message and "not a date" in message


def test_value_outside_allowed_values(tmp_path):
    message = _build_fails(tmp_path, _edit("models.yaml", "open_weights: open",
                                           "open_weights: maybe"))
    assert "'open_weights'" in message and "'maybe'" in message and "must be one of" in message


def test_unresolved_conflict_blocks(tmp_path):
    # The later page, dated into April, makes 139 and 130 projects disagree in April 2026.
    later_in_april = _edit("sources.yaml", "published_on: 2026-05-01", "published_on: 2026-04-01")
    message = _build_fails(tmp_path, {"conflicts.yaml": "[]\n", **later_in_april})
    assert "declare the conflict in conflicts.yaml" in message


def test_language_tag_that_is_not_iso_639(tmp_path):
    message = _build_fails(tmp_path, _edit("models.yaml", "  license: null\n",
                                           "  license: null\n  languages: [fr, French]\n"))
    assert re.search(r"curated/models\.yaml:\d+", message)
    assert "'mistral-large'" in message and "'languages'" in message and "'French'" in message
    assert "BCP 47" in message


def test_a_source_without_publisher_or_url_needs_a_reason(tmp_path):
    message = _build_fails(tmp_path, _edit(
        "sources.yaml",
        "  citation_note: The mini page is a file written by the tests; it has no address.\n",
        ""))
    assert message.count("\n") <= 2, message  # one clear line, not a traceback
    assert ("curated/sources.yaml:1, key 'mini-page', column 'citation_note': publisher and "
            "url null") in message


def test_a_bad_publication_setting_is_one_clear_line(tmp_path):
    message = _build_fails(tmp_path, {"publication.yaml": "base_url: atlas.example.org\n"
                                                          "data_license: CC-BY-4.0\n"
                                                          "code_license: MIT\n"
                                                          "authors: Someone\n"})
    assert ("curated/publication.yaml, key 'base_url', value 'atlas.example.org': must be "
            "null or an http(s) URL ending in '/'") in message


def test_a_section_quote_must_be_a_whole_heading_and_never_the_title(tmp_path):
    anchor = "jurisdiction_id, modality]}"  # the end of Mistral Large's table claim
    extra = '\n    - {source: mini-page, quote: "%s", basis: section, fields: [modality]}'
    fragment = _edit("models.yaml", anchor, anchor + extra % "who builds")
    message = _build_fails(tmp_path / "a", fragment)
    assert "curated/models.yaml:" in message and "'who builds'" in message
    assert "must be the whole heading or row label it relies on" in message
    title = _edit("models.yaml", anchor, anchor + extra % "Mini Atlas: who builds models")
    message = _build_fails(tmp_path / "b", title)
    assert "a page's title states no value" in message


def test_sovai_check_lists_every_claim_that_rests_on_a_title(tmp_path):
    from click.testing import CliRunner

    from pipeline.cli.main import main

    models = textwrap.dedent(FILES["models.yaml"]).replace(
        "jurisdiction_id, modality]}",
        'jurisdiction_id]}\n    - {source: mini-page, quote: "Mini Atlas: who builds models", '
        "basis: section, fields: [modality]}")
    root = write_project(tmp_path / "project", {"models.yaml": models})
    result = CliRunner().invoke(main, ["--root", str(root), "check"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines()
             if "title states no value" in line and line.startswith("BLOCKING: curated/")]
    assert len(lines) == 2, result.output  # Mistral Large's claim and Hunyuan's, with lines
    assert all(line.startswith("BLOCKING: curated/models.yaml:") for line in lines)


def test_a_table_row_must_name_its_entity_or_say_how_it_bears_on_it(tmp_path):
    wrong_row = _edit("models.yaml", 'quote: "| Mistral Large | Mistral AI | France |",',
                      'quote: "| Qwen 3.6 | Alibaba | China |",')
    message = _build_fails(tmp_path / "a", wrong_row)
    assert "curated/models.yaml:" in message and "models mistral-large: the table row quoted " \
           "names neither 'Mistral Large' nor its family" in message
    # The same row with the curator's reason is accepted (the value must still be supported).
    noted = _edit("models.yaml", 'quote: "| Mistral Large | Mistral AI | France |",',
                  'quote: "| Qwen 3.6 | Alibaba | China |", note: "For the test: a reason.",')
    root = write_project(tmp_path / "b" / "project", noted)
    run_build(project_paths(root, tmp_path / "b" / "out"), "2026-04-25", echo=lambda _: None,
              instance=dg.DagsterInstance.ephemeral())


def test_a_date_more_precise_than_its_precision_is_one_clear_line(tmp_path):
    # A month known to the month is its first day: 2026-05-14 would claim a day no page gives.
    message = _build_fails(tmp_path, _edit("sources.yaml", "published_on: 2026-05-01",
                                           "published_on: 2026-05-14"))
    assert re.search(r"curated/sources\.yaml:\d+, key 'later-page', column 'published_on', "
                     r"value '2026-05-14': a month-precision date must be the month's first day",
                     message)
    message = _build_fails(tmp_path / "investment", _edit(
        "investments.yaml", "committed_precision: day", "committed_precision: year"))
    assert re.search(r"curated/investments\.yaml:\d+, key 'france-ai-109bn', column "
                     r"'committed_on', value '2024-12-31': a year-precision date must be the "
                     r"year's first day", message)


def test_a_quote_must_write_the_amount_it_backs(tmp_path):
    # "France committed €109 billion": the quote cannot back 108 billion.
    message = _build_fails(tmp_path, _edit("investments.yaml", "amount: 109000000000",
                                           "amount: 108000000000"))
    assert re.search(r"curated/investments\.yaml:\d+: investments france-ai-109bn: the quote "
                     r"does not write its amount 108000000000; quote the words that do, or say "
                     r"in `note` how it states it", message)
