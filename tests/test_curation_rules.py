"""Rules a curator relies on beyond bad input: one conflict row per disagreement, figure
conflicts only between figures about the same subjects, rows withheld from a release (and
references dropped) listed by `sovai check`, names declared as no entity, language tags."""

from __future__ import annotations

import datetime as dt
import textwrap

import pandas as pd
import pytest
from click.testing import CliRunner

from pipeline import stages
from pipeline.cli.main import main
from pipeline.curation.curated import CuratedError
from pipeline.paths import project_paths

from .conftest import FILES, write_project

THIRD_PAGE = """\
A third page
Written in May 2026.
Qwen 3.6 ships under the MIT license, with a 1M context.
Mistral Large has a 128K context.
"""
FOURTH_PAGE = """\
A fourth page
Written in May 2026.
We read that Qwen 3.6 is under the MIT license.
"""


def _with_pages(**pages: str) -> str:
    """sources.yaml with the mini project's two pages and the given extra ones."""
    extra = "".join(f"""
        - source_id: {name}
          title: {name}
          title_from_page: false
          publisher: null
          url: null
          citation_note: A file the tests write; it has no address and no publisher.
          capture_file: pages/{name}.txt
          published_on: 2026-05-01
          date_precision: month
          date_evidence: "Written in May 2026."
    """ for name in pages)
    return textwrap.dedent(FILES["sources.yaml"]) + textwrap.dedent(extra)


def _project(tmp_path, files: dict[str, str], **pages: str):
    root = write_project(tmp_path / "project", {"sources.yaml": _with_pages(**pages), **files})
    for name, text in pages.items():
        (root / "pages" / f"{name}.txt").write_text(text, encoding="utf-8")
    return root


def _release_tables(root, date: str):
    import datetime as dt

    paths = project_paths(root, root / "releases")
    curated, _, _ = stages.load_project(paths)
    captures = stages.capture_sources(paths, curated).captures
    return stages.normalize(paths, curated, captures, dt.date.fromisoformat(date))


def _edit(name: str, old: str, new: str) -> str:
    text = textwrap.dedent(FILES[name])
    assert old in text
    return text.replace(old, new, 1)


QWEN_MIT = _edit("models.yaml", """      fields: [license, open_weights, modality]
""", """      fields: [license, open_weights, modality]
    - {source: third, quote: "Qwen 3.6 ships under the MIT license", fields: {license: MIT}}
    - {source: fourth, quote: "Qwen 3.6 is under the MIT license", fields: {license: MIT}}
  resolutions:
    license: The mini page is Alibaba's own statement; the later pages report MIT.
""")


def test_two_pages_stating_the_same_other_value_make_one_conflict_row(tmp_path):
    root = _project(tmp_path, {"models.yaml": QWEN_MIT}, third=THIRD_PAGE, fourth=FOURTH_PAGE)
    conflicts = _release_tables(root, "2026-05-31").tables["conflicts"]
    licence = conflicts[(conflicts["entity_id"] == "qwen-3-6") & (conflicts["field"] == "license")]
    assert len(licence) == 1, licence
    assert list(licence.iloc[0]["values"]) == ["Apache-2.0", "MIT"]
    assert list(licence.iloc[0]["source_ids"]) == ["mini-page", "fourth; third"]
    assert conflicts["conflict_id"].is_unique


CONTEXT_FIGURES = textwrap.dedent(FILES["figures.yaml"]) + textwrap.dedent("""
    - figure_id: qwen-3-6-context
      metric: context_window
      value: 1000000
      value_qualifier: exact
      unit: tokens
      as_of: 2026-05
      scope: Qwen 3.6 context window
      subject_ids: [qwen-3-6]
      source_id: third
      claims:
        - {source: third, quote: "Qwen 3.6 ships under the MIT license, with a 1M context.",
           fields: [metric, value, value_qualifier, unit, as_of, scope, subject_ids]}
    - figure_id: mistral-large-context
      metric: context_window
      value: 128000
      value_qualifier: exact
      unit: tokens
      as_of: 2026-05
      scope: Mistral Large context window
      subject_ids: [mistral-large]
      source_id: third
      claims:
        - {source: third, quote: "Mistral Large has a 128K context.",
           fields: [metric, value, value_qualifier, unit, as_of, scope, subject_ids]}
""")


def test_figures_about_different_subjects_are_no_conflict(tmp_path):
    root = _project(tmp_path, {"figures.yaml": CONTEXT_FIGURES}, third=THIRD_PAGE)
    tables = _release_tables(root, "2026-05-31").tables
    assert set(tables["figures"]["figure_id"]) >= {"qwen-3-6-context", "mistral-large-context"}
    assert "context_window" not in set(tables["conflicts"]["metric"])


def test_figures_about_the_same_subjects_that_disagree_must_be_declared(tmp_path):
    same_subject = CONTEXT_FIGURES.replace("subject_ids: [mistral-large]",
                                           "subject_ids: [qwen-3-6]")
    root = _project(tmp_path, {"figures.yaml": same_subject}, third=THIRD_PAGE)
    with pytest.raises(CuratedError) as raised:
        _release_tables(root, "2026-05-31")
    message = str(raised.value)
    assert "curated/figures.yaml:" in message and "context_window" in message
    assert "declare the conflict in conflicts.yaml" in message


def test_check_lists_withheld_rows_and_dropped_references(tmp_path):
    # Tencent is named only on a later page, so in April Hunyuan's developer reference waits;
    # Mistral Large's name is stated only by the later page, so in April the row waits (a
    # modality, which may be unknown, would not hold it back).
    tencent = '"| Hunyuan/Hy3 | Tencent | China |", basis: table,\n'
    organizations = _edit("organizations.yaml", f"{{source: mini-page, quote: {tencent}",
                          '{source: third, quote: "Written in May 2026.", basis: section,\n')
    large = "basis: table, fields: [name, organization_ids, jurisdiction_id, modality]}"
    models = _edit("models.yaml", f"{large}\n- model_id: hunyuan-hy3",
                   large.replace("[name, ", "[") + "\n    - {source: third, quote: Mistral "
                   "Large has a 128K context., fields: [name]}\n- model_id: hunyuan-hy3")
    root = _project(tmp_path, {"organizations.yaml": organizations, "models.yaml": models},
                    third=THIRD_PAGE)
    result = CliRunner().invoke(main, ["--root", str(root), "check"])
    assert result.exit_code == 0, result.output
    april = result.output.splitlines()
    assert any(line.startswith("release 2026-04-25:") and "1 rows withheld" in line
               and "references dropped" in line for line in april), result.output
    assert any(line.startswith("  withheld: curated/models.yaml:") and "mistral-large" in line
               and "name=Mistral Large" in line for line in april), result.output
    assert "  dropped reference: models.hunyuan-hy3.organization_ids=tencent (not in this " \
           "release)" in result.output
    may = next(line for line in april if line.startswith("release 2026-05-31:"))
    assert "0 rows withheld, 0 references dropped" in may


def _check_with_lab_rule(tmp_path, resolve_to: str, not_entities: str):
    """`sovai check` on the mini project whose Lab column declares `not_entities`."""
    mentions = textwrap.dedent(FILES["mention_columns.yaml"]).replace(
        "- {source: mini-page, table: 1, column: Lab, resolve_to: [organizations]}",
        f"- source: mini-page\n  table: 1\n  column: Lab\n  resolve_to: [{resolve_to}]\n"
        f"  not_entities: {not_entities}")
    root = write_project(tmp_path / "project", {"mention_columns.yaml": mentions})
    return CliRunner().invoke(main, ["--root", str(root), "check"])


def test_names_declared_as_no_entity_are_reported_apart(tmp_path):
    result = _check_with_lab_rule(tmp_path, "models", "{Alibaba: a test reason}")
    assert "2 unresolved mentions" in result.output  # Mistral AI and Tencent
    assert "not an entity (declared at curated/mention_columns.yaml:" in result.output
    assert "'Alibaba' in mini-page#table=1&row=1" in result.output
    assert "a test reason" in result.output


def test_a_stale_no_entity_declaration_blocks(tmp_path):
    result = _check_with_lab_rule(tmp_path, "organizations",
                                  "{Baidu: named nowhere in this column}")
    assert result.exit_code == 1
    assert "BLOCKING: release 2026-04-25: curated/mention_columns.yaml:" in result.output
    assert "'Baidu'" in result.output and "not_entities" in result.output


SHARED_PAGE = """\
A shared page
Written in May 2026.
Qwen 3.6 and Mistral Large both publish open weights.
"""


def _models_with_shared_claim(extra: str = "") -> str:
    """Qwen 3.6's open weights also claimed from a sentence that names Mistral Large too."""
    models = textwrap.dedent(FILES["models.yaml"])
    claim = ("      fields: [license, open_weights, modality]\n"
             "    - source: shared\n"
             "      quote: Qwen 3.6 and Mistral Large both publish open weights.\n"
             "      fields: [open_weights]\n" + extra)
    assert "      fields: [license, open_weights, modality]\n" in models
    return models.replace("      fields: [license, open_weights, modality]\n", claim, 1)


def test_one_sentence_cannot_leave_a_like_case_unknown(tmp_path):
    root = _project(tmp_path, {"models.yaml": _models_with_shared_claim()}, shared=SHARED_PAGE)
    with pytest.raises(CuratedError) as raised:
        _release_tables(root, "2026-05-31")
    message = str(raised.value)
    assert message.startswith("curated/models.yaml:")
    assert "models qwen-3-6: the quote gives open_weights=open and also names mistral-large, " \
           "whose open_weights is unknown" in message
    # The curator either gives Mistral Large the value from the same sentence, or says why
    # the sentence does not state it for Mistral Large; either way the build goes on.
    reason = '      not_stated_for: {mistral-large: "For the test: a reason is given."}\n'
    root = _project(tmp_path / "declared", {"models.yaml": _models_with_shared_claim(reason)},
                    shared=SHARED_PAGE)
    tables = _release_tables(root, "2026-05-31").tables
    assert tables["models"].set_index("model_id").loc["mistral-large", "open_weights"] == \
        "unknown"
    # Before the shared page is published (April) nothing is asked of it.
    root = _project(tmp_path / "april", {"models.yaml": _models_with_shared_claim()},
                    shared=SHARED_PAGE)
    assert len(_release_tables(root, "2026-04-25").tables["models"]) == 3


def test_links_are_filled_both_ways(tmp_path):
    """A family lists its models, a model the projects that produced it, an organisation those
    inside it: derived from the one direction the pages give, never curated twice."""
    organizations = textwrap.dedent(FILES["organizations.yaml"]).replace(
        "  name: Tencent\n", "  name: Tencent\n  parent_id: alibaba\n")  # for the test only
    organizations = organizations.replace(
        '{source: mini-page, quote: "| Hunyuan/Hy3 | Tencent | China |", basis: table,\n'
        '       fields: [name, jurisdiction_id]}',
        '{source: mini-page, quote: "| Hunyuan/Hy3 | Tencent | China |", basis: table,\n'
        '       fields: [name, jurisdiction_id, parent_id]}')
    projects = textwrap.dedent(FILES["projects.yaml"]).replace(
        "  release_status: not_applicable\n",
        "  release_status: not_applicable\n  model_ids: [mistral-large]\n").replace(
        "fields: [name, jurisdiction_id, layer]}", "fields: [name, jurisdiction_id, layer]}\n"
        '    - {source: mini-page, quote: "| Mistral Large | Mistral AI | France |", '
        'basis: table, note: "The row names the model.", fields: [model_ids]}')
    root = _project(tmp_path, {"organizations.yaml": organizations, "projects.yaml": projects})
    tables = _release_tables(root, "2026-04-25").tables
    families = tables["model_families"].set_index("family_id")
    assert families.loc["qwen", "model_ids"] == ["qwen-3-6"]
    models = tables["models"].set_index("model_id")
    assert models.loc["mistral-large", "project_ids"] == ["france-ai-infrastructure"]
    assert models.loc["qwen-3-6", "project_ids"] == []
    organizations = tables["organizations"].set_index("organization_id")
    assert organizations.loc["alibaba", "subsidiary_ids"] == ["tencent"]
    # Derived, so no claim is needed or made for them.
    claims = tables["claims"]
    assert not claims["field"].isin(["model_ids", "project_ids", "subsidiary_ids"])[
        claims["table_name"] != "projects"].any()


LARGEST_PAGE = """\
A page of superlatives
Written in May 2026.
Alibaba's $1 billion fund is the largest AI fund in China.
Alibaba's $2 billion plan is the biggest AI plan in Asia.
"""


def _largest_investments() -> str:
    extra = "".join(f"""
        - investment_id: alibaba-{slug}
          name: Alibaba {slug}
          investor: alibaba
          jurisdiction_id: CHN
          amount: {amount}
          amount_qualifier: exact
          currency: USD
          currency_ambiguous: false
          claims:
            - source: largest
              quote: "{quote}"
              fields: [name, investor, jurisdiction_id, amount, amount_qualifier, currency,
                       currency_ambiguous]
    """ for slug, amount, quote in (
        ("fund", 1000000000, "Alibaba's $1 billion fund is the largest AI fund in China."),
        ("plan", 2000000000, "Alibaba's $2 billion plan is the biggest AI plan in Asia.")))
    return textwrap.dedent(FILES["investments.yaml"]) + textwrap.dedent(extra)


def test_two_rows_each_called_the_largest_must_be_declared(tmp_path):
    root = _project(tmp_path, {"investments.yaml": _largest_investments()},
                    largest=LARGEST_PAGE)
    with pytest.raises(CuratedError) as raised:
        _release_tables(root, "2026-05-31")
    assert str(raised.value) == (
        "curated/conflicts.yaml: investments alibaba-fund, alibaba-plan of alibaba are each "
        "called the largest (the largest ai fund in china; the biggest ai plan in asia): "
        "declare the disagreement (table_name, entity_ids, field, resolution)")
    conflicts = textwrap.dedent(FILES["conflicts.yaml"]) + textwrap.dedent("""
        - table_name: investments
          entity_ids: [alibaba-fund, alibaba-plan]
          field: amount
          resolution: Both published; the page calls each the largest of something else.
    """)
    root = _project(tmp_path / "declared", {"investments.yaml": _largest_investments(),
                                            "conflicts.yaml": conflicts}, largest=LARGEST_PAGE)
    published = _release_tables(root, "2026-05-31").tables["conflicts"]
    row = published[published["table_name"] == "investments"].iloc[0]
    assert list(row["entity_ids"]) == ["alibaba-fund", "alibaba-plan"]
    assert list(row["values"]) == ["1000000000", "2000000000"]
    assert list(row["source_ids"]) == ["largest", "largest"]


PARTS_PAGE = """\
A page of parts
Written in May 2026.
Of France's AI plan, €200 billion goes to one campus.
"""


def test_components_that_add_up_to_more_than_their_total_must_be_declared(tmp_path):
    investments = textwrap.dedent(FILES["investments.yaml"]) + textwrap.dedent("""
        - investment_id: france-ai-campus
          name: France AI campus
          investor: FRA
          jurisdiction_id: FRA
          amount: 200000000000
          amount_qualifier: exact
          currency: EUR
          currency_ambiguous: false
          part_of: france-ai-109bn
          claims:
            - source: parts
              quote: "Of France's AI plan, €200 billion goes to one campus."
              fields: [name, investor, jurisdiction_id, amount, amount_qualifier, currency,
                       currency_ambiguous, part_of]
    """)
    root = _project(tmp_path, {"investments.yaml": investments}, parts=PARTS_PAGE)
    with pytest.raises(CuratedError, match=r"investments france-ai-109bn: its components "
                       r"france-ai-campus add up to 200,000,000,000 EUR, more than its own "
                       r"109,000,000,000 EUR: declare the disagreement"):
        _release_tables(root, "2026-05-31")
    conflicts = textwrap.dedent(FILES["conflicts.yaml"]) + textwrap.dedent("""
        - table_name: investments
          entity_ids: [france-ai-109bn, france-ai-campus]
          field: amount
          resolution: Both published; the page's part exceeds its total.
    """)
    root = _project(tmp_path / "declared", {"investments.yaml": investments,
                                            "conflicts.yaml": conflicts}, parts=PARTS_PAGE)
    published = _release_tables(root, "2026-05-31").tables["conflicts"]
    assert list(published[published["table_name"] == "investments"].iloc[0]["values"]) == [
        "109000000000", "200000000000"]


DOLLARS_PAGE = """\
A page of dollars
Written in May 2026.
Canada's $2 billion compute strategy has two components: a $705 million supercomputer and a
$300 million access fund.
Microsoft commits $5.5 billion in Singapore.
Saudi Arabia commits $77 billion to AI.
"""


def _dollar_investments() -> str:
    rows = [("canada-strategy", "CAN", "CAN", 2000000000, None, 2,
             "Canada's $2 billion compute strategy has two components"),
            ("canada-supercomputer", "CAN", "CAN", 705000000, "canada-strategy", None,
             "a $705 million supercomputer"),
            ("canada-access-fund", "CAN", "CAN", 300000000, "canada-strategy", None,
             "$300 million access fund"),
            ("microsoft-singapore", "microsoft", "SGP", 5500000000, None, None,
             "Microsoft commits $5.5 billion in Singapore."),
            ("saudi-ai", "SAU", "SAU", 77000000000, None, None,
             "Saudi Arabia commits $77 billion to AI.")]
    extra = "".join(f"""
        - investment_id: {slug}
          name: {slug}
          investor: {investor}
          jurisdiction_id: {place}
          amount: {amount}
          amount_qualifier: exact
          currency: USD
          currency_ambiguous: true
          {f"part_of: {part_of}" if part_of else ""}
          {f"component_count: {count}" if count else ""}
          claims:
            - source: dollars
              quote: "{quote}"
              fields: [name, investor, jurisdiction_id, amount, amount_qualifier, currency,
                       currency_ambiguous{", part_of" if part_of else ""}\
{", component_count" if count else ""}]
    """ for slug, investor, place, amount, part_of, count, quote in rows)
    return textwrap.dedent(FILES["investments.yaml"]) + textwrap.dedent(extra)


def _dollar_places() -> dict[str, str]:
    """The jurisdictions and the US company the dollar rows name."""
    places = "".join(f"""
        - jurisdiction_id: {code}
          region: {region}
          subregion: {subregion}
          claims:
            - {{basis: external, reference: "https://unstats.un.org/unsd/methodology/m49/",
               fields: [region, subregion]}}
    """ for code, region, subregion in (("CAN", "Americas", "Northern America"),
                                        ("USA", "Americas", "Northern America"),
                                        ("SGP", "Asia", "South-eastern Asia"),
                                        ("SAU", "Asia", "Western Asia")))
    microsoft = """
        - organization_id: microsoft
          name: Microsoft
          jurisdiction_id: USA
          kind: company
          claims:
            - {basis: external, reference: "https://www.microsoft.com/", fields: [name,
               jurisdiction_id, kind]}
    """
    return {"jurisdictions.yaml": textwrap.dedent(FILES["jurisdictions.yaml"])
            + textwrap.dedent(places),
            "organizations.yaml": textwrap.dedent(FILES["organizations.yaml"])
            + textwrap.dedent(microsoft)}


def test_a_dollar_outside_the_us_converts_only_where_a_stated_rule_decides_it(tmp_path):
    # Canada's components leave $995 million of the stated total unaccounted for: a conflict.
    root = _project(tmp_path, {"investments.yaml": _dollar_investments(), **_dollar_places()},
                    dollars=DOLLARS_PAGE)
    with pytest.raises(CuratedError, match=r"investments canada-strategy: its components "
                       r"canada-access-fund, canada-supercomputer add up to 1,005,000,000 USD, "
                       r"less than its own 2,000,000,000 USD: declare the disagreement"):
        _release_tables(root, "2026-05-31")
    conflicts = textwrap.dedent(FILES["conflicts.yaml"]) + textwrap.dedent("""
        - table_name: investments
          entity_ids: [canada-strategy, canada-supercomputer, canada-access-fund]
          field: amount
          resolution: All published; the page's two components fall short of its total.
    """)
    root = _project(tmp_path / "declared", {"investments.yaml": _dollar_investments(),
                                            "conflicts.yaml": conflicts, **_dollar_places()},
                    dollars=DOLLARS_PAGE)
    rows = _release_tables(root, "2026-05-31").tables["investments"].set_index(
        "investment_id")
    # Canada writes its own dollar with "$" too: not converted, CAD named as the alternative.
    assert rows.loc["canada-strategy", "currency_rule"] == "unresolved"
    assert rows.loc["canada-strategy", "currency_alternative"] == "CAD"
    assert pd.isna(rows.loc["canada-strategy", "amount_usd"])
    # Singapore's dollar is also "$", but a US company commits in US dollars.
    assert rows.loc["microsoft-singapore", ["currency_rule", "currency_alternative",
                                            "amount_usd"]].tolist() == [
        "us_investor", "SGD", 5_500_000_000]
    # No currency of Saudi Arabia is written with "$": the US dollar, no alternative.
    assert rows.loc["saudi-ai", "currency_rule"] == "no_local_dollar"
    assert pd.isna(rows.loc["saudi-ai", "currency_alternative"])
    assert rows.loc["saudi-ai", "amount_usd"] == 77_000_000_000
    # The euro amount converts at the rate of its own commitment date, named in fx_rate_id.
    assert rows.loc["france-ai-109bn", ["currency_rule", "fx_rate_id", "amount_usd"]].tolist(
        ) == ["stated", "eur-2024-12-31", round(109_000_000_000 * 1.0389)]


def test_a_commitment_without_a_rate_of_its_date_is_not_converted(tmp_path):
    investments = _edit("investments.yaml", "committed_on: 2024-12-31\n  committed_precision: "
                        "day", "committed_on: 2025-02-01\n  committed_precision: month")
    root = _project(tmp_path, {"investments.yaml": investments})
    row = _release_tables(root, "2026-05-31").tables["investments"].iloc[0]
    assert row["committed_on"] == dt.date(2025, 2, 1) and row["currency_rule"] == "stated"
    assert pd.isna(row["fx_rate_id"]) and pd.isna(row["amount_usd"])
