"""Unit tests of the plain transform functions, called directly."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from pipeline.curation.resolve import resolve_name
from pipeline.extraction.extract import markdown_tables, mentions_from_tables
from pipeline.extraction.quotes import SourceText
from pipeline.sources.capture import capture_file, latest_capture, list_captures
from pipeline.text import fold_name, fold_whitespace, slugify
from pipeline.validation.schemas import frame_from_records, load_schemas, to_arrow

from .conftest import REPO


def test_fold_name_ignores_case_accents_and_punctuation():
    assert fold_name("Qwen 3.6") == fold_name("qwen3.6") == fold_name("QWEN-3-6") == "qwen36"
    assert fold_name("Sabiá") == fold_name("sabia")
    assert fold_name("U.S.") == "us"


def test_slug_and_whitespace():
    assert slugify("Qwen 3.6") == "qwen-3-6"
    assert slugify("IndiaAI Mission") == "indiaai-mission"
    assert fold_whitespace("a \n\t b  ") == "a b"


def test_markdown_tables_keep_cells_in_their_columns():
    text = "intro\n| A | B |\n|---|---|\n| x | y |\n| only |\nafter\n"
    (table,) = markdown_tables(text)
    assert table.header == ["A", "B"]
    assert table.rows == [["x", "y"], ["only", ""]]
    mentions = mentions_from_tables("src", "abc", [table])
    assert list(mentions["text"]) == ["x", "y", "only", ""]
    assert mentions.iloc[1]["locator"] == "src#table=1&row=1&column=2&line=4"


def test_capture_is_content_addressed_and_immutable(tmp_path):
    page = tmp_path / "page.txt"
    page.write_text("first version\n", encoding="utf-8")
    raw = tmp_path / "raw"
    first, new = capture_file(raw, "s1", page)
    assert new and first.path.read_bytes() == b"first version\n"
    again, new_again = capture_file(raw, "s1", page)
    assert not new_again and again.sha256 == first.sha256
    assert len(list((raw / "s1").iterdir())) == 2  # the bytes and the sidecar, once
    page.write_text("second version\n", encoding="utf-8")
    second, new = capture_file(raw, "s1", page)
    assert new and second.sha256 != first.sha256
    assert {c.sha256 for c in list_captures(raw, "s1")} == {first.sha256, second.sha256}
    assert first.path.read_bytes() == b"first version\n"  # the old capture is kept
    assert latest_capture(raw, "s1") is not None
    sidecar = json.loads((raw / "s1" / f"{first.sha256}.json").read_text())
    assert sidecar["bytes"] == len(b"first version\n")
    assert sidecar["media_type"] == "text/plain" and sidecar["source_id"] == "s1"


def test_capture_refuses_non_utf8_text(tmp_path):
    page = tmp_path / "bad.txt"
    page.write_bytes(b"caf\xe9\n")
    from pipeline.sources.capture import CaptureError

    with pytest.raises(CaptureError, match="not valid UTF-8"):
        capture_file(tmp_path / "raw", "s1", page)
    assert not (tmp_path / "raw").exists()


def test_quotes_fold_whitespace_only_and_give_lines():
    text = SourceText("s", "Title\n\nThe  quick\nbrown fox.\nIt’s here.")
    assert text.find("The quick brown fox.") == 3
    assert text.find("It’s here.") == 5
    assert text.find("It's here.") is None  # curly quotes are not folded
    assert text.find("the quick") is None  # nor is case


def test_resolve_name_tries_whole_then_slash_parts():
    index = {"models": {"hunyuan": "hunyuan", "hy3": "hy3"},
             "organizations": {"alibaba": "alibaba"}}
    assert resolve_name("Hunyuan/Hy3", ["models"], index) == [("models", "hunyuan"),
                                                             ("models", "hy3")]
    index["models"]["hunyuanhy3"] = "hunyuan"
    assert resolve_name("Hunyuan/Hy3", ["models"], index) == [("models", "hunyuan")]
    assert resolve_name("Unknown Lab", ["models", "organizations"], index) == []


def test_frames_convert_to_declared_arrow_types():
    schemas = load_schemas(REPO / "schemas")
    sources = schemas["sources"]
    frame = frame_from_records(sources, [{
        "source_id": "b", "title": "T", "title_from_page": True, "published_on": dt.date(2026, 4,
                                                                                         25),
        "date_precision": "day", "date_evidence": "x", "media_type": "text/plain", "bytes": 3,
        "sha256": "0" * 64, "captured_at": "2026-04-25T00:00:00Z"}, {
        "source_id": "a", "title": "U", "title_from_page": False, "published_on": dt.date(2026,
                                                                                          5, 1),
        "date_precision": "month", "date_evidence": "y", "media_type": "text/plain",
        "bytes": 4, "sha256": "1" * 64, "captured_at": "2026-05-01T00:00:00Z"}])
    assert list(frame["source_id"]) == ["a", "b"]  # sorted by primary key
    table = to_arrow(sources, frame)
    assert str(table.schema.field("published_on").type) == "date32[day]"
    assert table.schema.metadata is None  # no pandas metadata: plain reads work everywhere
    assert table.column("publisher").null_count == 2
    assert isinstance(frame, pd.DataFrame)


def test_data_dictionary_is_generated_from_the_schemas():
    from pipeline.publishing.dictionary import render_dictionary

    committed = (REPO / "docs" / "DATA_DICTIONARY.md").read_text(encoding="utf-8")
    assert committed == render_dictionary(load_schemas(REPO / "schemas")), \
        "docs/DATA_DICTIONARY.md is stale: run `sovai dictionary`"


def test_a_table_can_be_split_into_a_folder_of_files(tmp_path):
    from pipeline.curation.curated import CuratedError, load_curated

    curated = tmp_path / "curated"
    (curated / "models").mkdir(parents=True)
    (curated / "models.yaml").write_text("- {model_id: a, name: A}\n")
    (curated / "models" / "b-west.yaml").write_text("- {model_id: b, name: B}\n")
    (curated / "models" / "a-east.yaml").write_text("- {model_id: c, name: C}\n")
    records = load_curated(curated).entities["models"]
    assert [r["model_id"] for r in records] == ["a", "c", "b"]
    assert records[1].file == "curated/models/a-east.yaml" and records[1].line == 1
    (curated / "models" / "bad.yaml").write_text("- {model_id: d\n")
    with pytest.raises(CuratedError, match="curated/models/bad.yaml"):
        load_curated(curated)


def test_pandera_checks_every_item_of_a_list_column():
    from pipeline.validation.validate import check_schema

    projects = load_schemas(REPO / "schemas")["projects"]
    row = {"project_id": "p", "name": "P", "aliases": [], "layer": "compute",
           "build_approach": "not_applicable", "base_model_ids": [], "model_ids": [],
           "organization_ids": [], "release_status": "not_applicable",
           "other_layers": ["data", "models"]}
    assert check_schema(projects, frame_from_records(projects, [row])) == []
    bad = frame_from_records(projects, [{**row, "other_layers": ["data", "space"]}])
    [message] = check_schema(projects, bad)
    assert "'p'" in message and "other_layers" in message and "items one of" in message


def test_shared_ids_names_every_key_used_by_two_tables():
    import pandas as pd

    from pipeline.validation.validate import shared_ids

    schemas = load_schemas(REPO / "schemas")
    tables = {"models": pd.DataFrame({"model_id": ["allam", "jais"]}),
              "projects": pd.DataFrame({"project_id": ["allam", "eurohpc"]}),
              "claims": pd.DataFrame({"claim_id": ["allam"]})}  # not an entity table
    assert shared_ids(tables, schemas) == {"allam": ["models", "projects"]}


@pytest.mark.parametrize(("quote", "value"), [
    ("$15.2B in equity in G42", 15_200_000_000), ("₹10,371.92 crore", 103_719_200_000),
    ("valued between $30 and $50 billion", 30_000_000_000), ("Twenty-six are permissive", 26),
    ("Qwen 3.6Alibaba1M context", 1_000_000), ("targeting trillion-dollar AI impact", 1e12),
    ("estimated at $9-14 billion in 2026", 9_000_000_000)])
def test_a_quote_writes_a_number_in_the_scale_pages_use(quote, value):
    from pipeline.extraction.quotes import states_number

    assert states_number(quote, value)
    assert not states_number(quote, value * 1.1)  # a different number is not stated
