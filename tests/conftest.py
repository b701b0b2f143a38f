"""A small, complete project in a temporary folder, for tests that must not depend on the
real curated data (which grows) or touch the real releases/."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

PAGE = """\
Mini Atlas: who builds models
This page was published on April 20, 2026.
| Model | Lab | Country |
|---|---|---|
| Qwen 3.6 | Alibaba | China |
| Mistral Large | Mistral AI | France |
| Hunyuan/Hy3 | Tencent | China |
Alibaba released Qwen 3.6 under Apache 2.0 as open weights for text.
France committed €109 billion to AI infrastructure between 2025 and 2030.
The index counts 139 projects as of January 2026.
China is Tier 1 of sovereign AI.
"""

LATER_PAGE = """\
A later page
Written in May 2026.
The index counts 130 projects as of January 2026.
Mistral AI released Mistral Large under the MIT license.
"""

FILES = {
    "releases.yaml": """
        - {date: 2026-04-25, title: April 2026, status: draft}
        - {date: 2026-05-31, title: May 2026, status: draft}
    """,
    "sources.yaml": """
        - source_id: mini-page
          title: "Mini Atlas: who builds models"
          title_from_page: true
          publisher: null
          url: null
          citation_note: The mini page is a file written by the tests; it has no address.
          capture_file: pages/mini.txt
          published_on: 2026-04-20
          date_precision: day
          date_evidence: "This page was published on April 20, 2026."
        - source_id: later-page
          title: A later page
          title_from_page: true
          publisher: null
          url: null
          citation_note: The later page is a file written by the tests; it has no address.
          capture_file: pages/later.txt
          published_on: 2026-05-01
          date_precision: month
          date_evidence: "Written in May 2026."
    """,
    "jurisdictions.yaml": """
        - jurisdiction_id: CHN
          region: Asia
          subregion: Eastern Asia
          aliases: []
          claims:
            - {basis: external, reference: "https://unstats.un.org/unsd/methodology/m49/",
               fields: [region, subregion]}
        - jurisdiction_id: FRA
          region: Europe
          subregion: Western Europe
          claims:
            - {basis: external, reference: "https://unstats.un.org/unsd/methodology/m49/",
               fields: [region, subregion]}
    """,
    "regions.yaml": """
        - region_id: east-asia
          name: East Asia
          member_ids: [CHN]
          claims:
            - {basis: external, reference: "https://unstats.un.org/unsd/methodology/m49/",
               fields: [name, member_ids]}
    """,
    "organizations.yaml": """
        - organization_id: alibaba
          name: Alibaba
          jurisdiction_id: CHN
          kind: company
          claims:
            - {source: mini-page, quote: "| Qwen 3.6 | Alibaba | China |", basis: table,
               fields: [name, jurisdiction_id]}
            - {basis: external, reference: "https://www.alibabagroup.com/", fields: [kind]}
        - organization_id: mistral-ai
          name: Mistral AI
          aliases: [Mistral]
          jurisdiction_id: FRA
          kind: company
          claims:
            - {source: mini-page, quote: "| Mistral Large | Mistral AI | France |",
               basis: table, fields: [name, jurisdiction_id]}
            - {basis: external, reference: "https://mistral.ai/", fields: [kind]}
        - organization_id: tencent
          name: Tencent
          jurisdiction_id: CHN
          kind: company
          claims:
            - {source: mini-page, quote: "| Hunyuan/Hy3 | Tencent | China |", basis: table,
               fields: [name, jurisdiction_id]}
            - {basis: external, reference: "https://www.tencent.com/", fields: [kind]}
    """,
    "model_families.yaml": """
        - family_id: qwen
          name: Qwen
          origin: unknown
          organization_ids: [alibaba]
          jurisdiction_id: CHN
          claims:
            - {source: mini-page, quote: "| Qwen 3.6 | Alibaba | China |", basis: table,
               fields: [name, organization_ids, jurisdiction_id]}
    """,
    "models.yaml": """
        - model_id: qwen-3-6
          name: Qwen 3.6
          aliases: [Qwen3.6]
          family_id: qwen
          version: "3.6"
          organization_ids: [alibaba]
          jurisdiction_id: CHN
          modality: text
          open_weights: open
          license: Apache-2.0
          origin: unknown
          claims:
            - {source: mini-page, quote: "| Qwen 3.6 | Alibaba | China |", basis: table,
               fields: [name, family_id, version, organization_ids, jurisdiction_id]}
            - source: mini-page
              quote: Alibaba released Qwen 3.6 under Apache 2.0 as open weights for text.
              fields: [license, open_weights, modality]
        - model_id: mistral-large
          name: Mistral Large
          organization_ids: [mistral-ai]
          jurisdiction_id: FRA
          modality: text
          open_weights: unknown
          license: null
          origin: unknown
          claims:
            - {source: mini-page, quote: "| Mistral Large | Mistral AI | France |",
               basis: table, fields: [name, organization_ids, jurisdiction_id, modality]}
        - model_id: hunyuan-hy3
          name: Hunyuan
          aliases: [Hy3, Hunyuan/Hy3]
          organization_ids: [tencent]
          jurisdiction_id: CHN
          modality: text
          open_weights: unknown
          origin: unknown
          claims:
            - {source: mini-page, quote: "| Hunyuan/Hy3 | Tencent | China |", basis: table,
               fields: [name, organization_ids, jurisdiction_id, modality]}
    """,
    "projects.yaml": """
        - project_id: france-ai-infrastructure
          name: France AI infrastructure plan
          jurisdiction_id: FRA
          layer: compute
          build_approach: not_applicable
          release_status: not_applicable
          claims:
            - {source: mini-page, quote: "France committed €109 billion to AI infrastructure",
               fields: [name, jurisdiction_id, layer]}
    """,
    "fx_rates.yaml": """
        - fx_rate_id: eur-2024-12-31
          currency: EUR
          usd_per_unit: 1.0389
          as_of: 2024-12-31
          precision: day
          note: ECB euro reference rate
          claims:
            - {basis: external, reference: "https://www.ecb.europa.eu/stats/policy_and_exchange_rates/euro_reference_exchange_rates/html/index.en.html",
               fields: [currency, usd_per_unit, as_of, precision]}
    """,
    "investments.yaml": """
        - investment_id: france-ai-109bn
          name: France AI infrastructure investments
          investor: FRA
          jurisdiction_id: FRA
          amount: 109000000000
          amount_qualifier: exact
          currency: EUR
          currency_ambiguous: false
          period_start: 2025
          period_end: 2030
          committed_on: 2024-12-31
          committed_precision: day
          claims:
            - source: mini-page
              quote: France committed €109 billion to AI infrastructure between 2025 and 2030.
              fields: [name, investor, jurisdiction_id, amount, amount_qualifier, currency,
                       currency_ambiguous, period_start, period_end]
            - {basis: external, reference: "https://www.elysee.fr/", fields: [committed_on,
               committed_precision]}
    """,
    "figures.yaml": """
        - figure_id: index-projects-139
          metric: sovereign_ai_projects
          value: 139
          value_qualifier: exact
          unit: projects
          as_of: 2026-01
          scope: projects in the index
          source_id: mini-page
          claims:
            - {source: mini-page, quote: The index counts 139 projects as of January 2026.,
               fields: [metric, value, value_qualifier, unit, as_of, scope]}
        - figure_id: index-projects-130
          metric: sovereign_ai_projects
          value: 130
          value_qualifier: exact
          unit: projects
          as_of: 2026-01
          scope: projects in the index
          source_id: later-page
          claims:
            - {source: later-page, quote: The index counts 130 projects as of January 2026.,
               fields: [metric, value, value_qualifier, unit, as_of, scope]}
    """,
    "assessments.yaml": """
        - assessment_id: chn-sovereignty-tier
          subject_id: CHN
          dimension: sovereignty_tier
          value: Tier 1
          source_id: mini-page
          claims:
            - {source: mini-page, quote: China is Tier 1 of sovereign AI., fields: [value,
               subject_id, dimension]}
    """,
    "groupings.yaml": """
        - grouping_id: mini-table-china
          scheme: other
          label: China
          position: 1
          member_ids: [qwen-3-6, hunyuan-hy3]
          members_text: [Qwen 3.6, Hunyuan/Hy3]
          source_id: mini-page
          claims:
            - {source: mini-page, quote: "| Qwen 3.6 | Alibaba | China |", basis: table,
               fields: {label: China, member_ids: [qwen-3-6], members_text: [Qwen 3.6]}}
            - {source: mini-page, quote: "| Hunyuan/Hy3 | Tencent | China |", basis: table,
               fields: {member_ids: [hunyuan-hy3], members_text: [Hunyuan/Hy3]}}
    """,
    "conflicts.yaml": """
        - table_name: figures
          metric: sovereign_ai_projects
          field: value
          figure_ids: [index-projects-139, index-projects-130]
          resolution: Both published; the pages count the same index at different cut-offs.
    """,
    "mention_columns.yaml": """
        - {source: mini-page, table: 1, column: Model, resolve_to: [models, model_families]}
        - {source: mini-page, table: 1, column: Lab, resolve_to: [organizations]}
        - {source: mini-page, table: 1, column: Country, resolve_to: [jurisdictions]}
    """,
    "redirects.yaml": "[]\n",
}


def write_project(root: Path, files: dict[str, str] | None = None) -> Path:
    """A project root with the real schemas/, the mini pages and the curated files above."""
    shutil.copytree(REPO / "schemas", root / "schemas")
    (root / "pages").mkdir(parents=True)
    (root / "pages" / "mini.txt").write_text(PAGE, encoding="utf-8")
    (root / "pages" / "later.txt").write_text(LATER_PAGE, encoding="utf-8")
    (root / "curated").mkdir()
    shutil.copyfile(REPO / "curated" / "publication.yaml", root / "curated" / "publication.yaml")
    for name, text in {**FILES, **(files or {})}.items():
        (root / "curated" / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "project")


@pytest.fixture(autouse=True)
def _isolated_root(monkeypatch):
    """`sovai --root` sets $SOVAI_ROOT for the process; undo it after each test."""
    monkeypatch.delenv("SOVAI_ROOT", raising=False)
