"""Seeded synthetic projects and release pairs, shaped like the real curated files.

    uv run python benchmarks/synthetic.py OUT --claims 10000 [--seed 0] [--rows-per-page 200]

A project (`generate_project`) is a folder with the real schemas/ and publication.yaml, pages
under pages/ (plain-text captures, each a Markdown table of models and one sentence per model),
and curated/ written the way curators write it (flow-style claims, files split into folders
below 1 MiB, as curated/models/ is):

- jurisdictions.yaml: 30 real ISO 3166 countries (the page tables name them), external claims;
- organizations/: one lab per family, claimed by its table row (name, jurisdiction) and an
  external reference (kind);
- model_families/: one family per lab, claimed by the table row of its first model;
- projects/: one compute programme per lab, claimed by a sentence (name, jurisdiction, layer,
  developer), so that the layer evidence has rows;
- models/: `models_per_family` models per family, each claimed by its table row (name, family,
  version, developer, jurisdiction) and by a sentence (licence, open weights, modality); every
  other model is an adaptation of the model before it (`base_model_ids`, a self-reference), and
  each has an ollama-style alias;
- sources.yaml: one entry per page, dated so that the first release includes the first
  `first_release_share` of the pages and the second includes all of them (two draft releases);
- mention_columns.yaml: the Model, Family, Lab and Country columns of every page's table;
- redirects.yaml: `redirects` retired model IDs pointing at curated ones.

Every quote occurs in its capture (table quotes are whole rows), every name is a unique run of
tokens (no name is a prefix of another's tokens), so `sovai check` reports 0 blocking problems.
The number of rows of the claims table (one per claim, field and value) is what `claims` aims
at: each family of 4 models gives 44 claim rows (8.5 per model, 3 per lab, 3 per family, 4 per
programme), about 6.3 claim rows per entity.

A release pair (`generate_release_pair`) is two release folders of one models-like table with
exactly `added`, `removed`, `changed` (rows with one cell changed) and `renamed` rows (old ID
retired with a redirect), for the diff and CHANGES.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

# (ISO 3166-1 alpha-3, the ISO short name pages write, UN M49 region, sub-region)
COUNTRIES = [
    ("ARG", "Argentina", "Americas", "South America"),
    ("AUT", "Austria", "Europe", "Western Europe"),
    ("BRA", "Brazil", "Americas", "South America"),
    ("CAN", "Canada", "Americas", "Northern America"),
    ("CHL", "Chile", "Americas", "South America"),
    ("DEU", "Germany", "Europe", "Western Europe"),
    ("DNK", "Denmark", "Europe", "Northern Europe"),
    ("EGY", "Egypt", "Africa", "Northern Africa"),
    ("ESP", "Spain", "Europe", "Southern Europe"),
    ("FIN", "Finland", "Europe", "Northern Europe"),
    ("FRA", "France", "Europe", "Western Europe"),
    ("GHA", "Ghana", "Africa", "Sub-Saharan Africa"),
    ("GRC", "Greece", "Europe", "Southern Europe"),
    ("IDN", "Indonesia", "Asia", "South-eastern Asia"),
    ("IND", "India", "Asia", "Southern Asia"),
    ("IRL", "Ireland", "Europe", "Northern Europe"),
    ("ISR", "Israel", "Asia", "Western Asia"),
    ("ITA", "Italy", "Europe", "Southern Europe"),
    ("JPN", "Japan", "Asia", "Eastern Asia"),
    ("KEN", "Kenya", "Africa", "Sub-Saharan Africa"),
    ("MAR", "Morocco", "Africa", "Northern Africa"),
    ("MEX", "Mexico", "Americas", "Latin America and the Caribbean"),
    ("NGA", "Nigeria", "Africa", "Sub-Saharan Africa"),
    ("NOR", "Norway", "Europe", "Northern Europe"),
    ("PER", "Peru", "Americas", "South America"),
    ("POL", "Poland", "Europe", "Eastern Europe"),
    ("PRT", "Portugal", "Europe", "Southern Europe"),
    ("SGP", "Singapore", "Asia", "South-eastern Asia"),
    ("SWE", "Sweden", "Europe", "Northern Europe"),
    ("THA", "Thailand", "Asia", "South-eastern Asia"),
]
LICENSES = [("Apache-2.0", "Apache 2.0"), ("MIT", "the MIT license"),
            ("LicenseRef-Synthetic-Community", "a community license")]
MODALITIES = [("text", "for text"), ("image", "for image generation"),
              ("multimodal", "as a multimodal model")]
# Syllables for names: a name is an index written in this base, so names are unique and no
# name is a token of another. None of them spells an English word of the page templates.
SYLLABLES = ("ba be bi bo bu da de di do du fa fe fi fo fu ga ge gi go gu ka ke ki ko ku la le "
             "li lo lu ma me mi mo mu na ne ni no nu pa pe pi po pu ra re ri ro ru sa se si so "
             "su ta te ti to tu va ve vi vo vu za ze zi zo zu").split()
FIRST_RELEASE = dt.date(2026, 4, 30)
SECOND_RELEASE = dt.date(2026, 5, 31)
MAX_FILE_BYTES = 900_000  # curated files must stay under 1 MiB
CLAIMS_PER_MODEL = 8.5
CLAIMS_PER_FAMILY_OVERHEAD = 10  # lab 3, family 3, programme 4


@dataclasses.dataclass(frozen=True)
class ProjectShape:
    """What a generated project holds (what the caller can assert on)."""

    root: Path
    seed: int
    pages: int
    organizations: int
    families: int
    models: int
    projects: int
    curated_claims: int  # claim entries in curated/ (each backs several fields)
    claim_rows: int      # expected rows of the last release's claims table
    first_release_claim_rows: int
    redirects: int
    releases: tuple[str, ...]

    def as_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v)
                for k, v in dataclasses.asdict(self).items()}


def _name(index: int, width: int, order: list[str]) -> str:
    """The index in base len(order), `width` syllables, capitalised: unique per index (the
    index is first spread by a multiplier prime to the base, so neighbours look unalike)."""
    index = (index * 7919 + 1234) % len(order) ** width
    parts = []
    for _ in range(width):
        index, digit = divmod(index, len(order))
        parts.append(order[digit])
    return "".join(parts).capitalize()


def _q(text: str) -> str:
    """A YAML double-quoted scalar."""
    return json.dumps(text, ensure_ascii=False)


class _SplitWriter:
    """Writes records into <folder>/part-NNNN.yaml, starting a new file below 1 MiB."""

    def __init__(self, folder: Path, header: str):
        self.folder, self.header = folder, header
        folder.mkdir(parents=True, exist_ok=True)
        self.parts: list[list[str]] = [[header]]
        self.size = len(header)

    def add(self, text: str) -> None:
        if self.size + len(text) > MAX_FILE_BYTES:
            self.parts.append([self.header])
            self.size = len(self.header)
        self.parts[-1].append(text)
        self.size += len(text.encode("utf-8"))

    def close(self) -> None:
        for number, chunk in enumerate(self.parts, start=1):
            body = "".join(chunk)
            if len(chunk) == 1:
                body += "[]\n"
            (self.folder / f"part-{number:04d}.yaml").write_text(body, encoding="utf-8")


def families_for(claims: int, models_per_family: int = 4) -> int:
    per_family = CLAIMS_PER_FAMILY_OVERHEAD + models_per_family * CLAIMS_PER_MODEL
    return max(1, round(claims / per_family))


def generate_project(root: Path, claims: int = 10_000, *, seed: int = 0,
                     rows_per_page: int = 200, models_per_family: int = 4,
                     first_release_share: float = 0.9, redirects: int = 10) -> ProjectShape:
    """Write a synthetic project of about `claims` claim rows into `root` (must not exist)."""
    if root.exists():
        raise FileExistsError(f"{root} exists; generate into a new folder")
    rng = np.random.default_rng(seed)
    order = list(SYLLABLES)
    rng.shuffle(order)
    n_families = families_for(claims, models_per_family)
    n_models = n_families * models_per_family
    # Names: families take indices [0, F), labs [F, 2F), all 3 syllables (64,000 names); the
    # width grows with the scale so that every name stays unique.
    width = 3
    while len(order) ** width < 3 * n_families + redirects:
        width += 1
    families_per_page = max(1, rows_per_page // models_per_family)
    n_pages = -(-n_families // families_per_page)
    first_pages = max(1, min(n_pages - 1, round(n_pages * first_release_share))) \
        if n_pages > 1 else 1

    shutil.copytree(ROOT / "schemas", root / "schemas")
    curated = root / "curated"
    curated.mkdir()
    shutil.copyfile(ROOT / "curated" / "publication.yaml", curated / "publication.yaml")
    (root / "pages").mkdir()

    def w(name: str, text: str) -> None:
        (curated / name).write_text(text, encoding="utf-8")

    w("releases.yaml",
      f"# Synthetic project, seed {seed}: two drafts, the second with every page.\n"
      f"- {{date: {FIRST_RELEASE}, title: Synthetic first, status: draft}}\n"
      f"- {{date: {SECOND_RELEASE}, title: Synthetic second, status: draft}}\n")
    w("jurisdictions.yaml", "".join(
        f"- jurisdiction_id: {iso}  # {name}\n  region: {region}\n  subregion: {sub}\n"
        f"  aliases: []\n  claims:\n    - {{basis: external, reference: "
        f"\"https://unstats.un.org/unsd/methodology/m49/\", fields: [region, subregion]}}\n"
        for iso, name, region, sub in COUNTRIES))
    for name in ("regions", "investments", "figures", "assessments", "groupings",
                 "conflicts", "fx_rates"):
        w(f"{name}.yaml", "[]\n")

    orgs = _SplitWriter(curated / "organizations", "# Synthetic labs.\n")
    fams = _SplitWriter(curated / "model_families", "# Synthetic families.\n")
    models = _SplitWriter(curated / "models", "# Synthetic models.\n")
    projects = _SplitWriter(curated / "projects", "# Synthetic compute programmes.\n")
    sources, mention_rules = [], []
    curated_claims = 0
    claim_rows = first_rows = 0
    model_ids: list[str] = []
    country_of = rng.integers(0, len(COUNTRIES), n_families)
    license_of = rng.integers(0, len(LICENSES), n_models)
    modality_of = rng.integers(0, len(MODALITIES), n_models)

    for page in range(n_pages):
        source_id = f"synthetic-page-{page:05d}"
        in_first = page < first_pages
        published = FIRST_RELEASE - dt.timedelta(days=10) if in_first \
            else SECOND_RELEASE - dt.timedelta(days=10)
        evidence = f"This page was published on {published:%B} {published.day}, {published.year}."
        title = f"Synthetic register {page}: who builds models"
        rows, sentences = [], []
        page_rows = 0
        for f in range(page * families_per_page, min(n_families, (page + 1) * families_per_page)):
            family = _name(f, width, order)
            lab = _name(n_families + f, width, order) + " Labs"
            iso, country, _, _ = COUNTRIES[country_of[f]]
            family_id, lab_id = family.lower() + "-family", lab.lower().replace(" ", "-")
            first_row = None
            for m in range(models_per_family):
                index = f * models_per_family + m
                version = str(m + 1)
                model = f"{family} {version}"
                model_id = f"{family.lower()}-{version}"
                row = f"| {model} | {family} | {lab} | {country} |"
                first_row = first_row or row
                rows.append(row)
                spdx, license_text = LICENSES[license_of[index]]
                modality, modality_text = MODALITIES[modality_of[index]]
                sentence = (f"{lab} released {model} under {license_text} as open weights "
                            f"{modality_text}.")
                sentences.append(sentence)
                base = ""
                base_claim = ""
                row_claims = 8
                if m % 2 == 1:  # an adaptation of the model before it (a self-reference)
                    base_sentence = f"{model} is built on {family} {m}."
                    sentences.append(base_sentence)
                    base = f"  base_model_ids: [{model_ids[-1]}]\n"
                    base_claim = (f"    - {{source: {source_id}, quote: {_q(base_sentence)}, "
                                  f"fields: [base_model_ids]}}\n")
                    row_claims += 1
                    curated_claims += 1
                models.add(
                    f"- model_id: {model_id}\n  name: {model}\n"
                    f"  aliases: [{_q(family.lower() + version + ':7b')}]\n"
                    f"  family_id: {family_id}\n  version: \"{version}\"\n"
                    f"  organization_ids: [{lab_id}]\n  jurisdiction_id: {iso}\n"
                    f"  modality: {modality}\n  open_weights: open\n  license: {spdx}\n"
                    f"  origin: unknown\n{base}  claims:\n"
                    f"    - {{source: {source_id}, quote: {_q(row)}, basis: table,\n"
                    f"       fields: [name, family_id, version, organization_ids, "
                    f"jurisdiction_id]}}\n"
                    f"    - {{source: {source_id}, quote: {_q(sentence)},\n"
                    f"       fields: [license, open_weights, modality]}}\n{base_claim}")
                curated_claims += 2
                model_ids.append(model_id)
                page_rows += row_claims
            fams.add(f"- family_id: {family_id}\n  name: {family}\n  origin: unknown\n"
                     f"  organization_ids: [{lab_id}]\n  jurisdiction_id: {iso}\n  claims:\n"
                     f"    - {{source: {source_id}, quote: {_q(first_row)}, basis: table,\n"
                     f"       fields: [name, organization_ids, jurisdiction_id]}}\n")
            orgs.add(f"- organization_id: {lab_id}\n  name: {lab}\n  jurisdiction_id: {iso}\n"
                     f"  kind: company\n  claims:\n"
                     f"    - {{source: {source_id}, quote: {_q(first_row)}, basis: table,\n"
                     f"       fields: [name, jurisdiction_id]}}\n"
                     f"    - {{basis: external, reference: \"https://example.org/{lab_id}\", "
                     f"fields: [kind]}}\n")
            programme = _name(2 * n_families + f, width, order) + " programme"
            project_id = programme.lower().replace(" ", "-")
            project_sentence = f"{lab} runs the {programme} for compute in {country}."
            sentences.append(project_sentence)
            projects.add(f"- project_id: {project_id}\n  name: {programme}\n"
                         f"  jurisdiction_id: {iso}\n  layer: compute\n"
                         f"  build_approach: not_applicable\n  release_status: not_applicable\n"
                         f"  organization_ids: [{lab_id}]\n  claims:\n"
                         f"    - {{source: {source_id}, quote: {_q(project_sentence)},\n"
                         f"       fields: [name, jurisdiction_id, layer, organization_ids]}}\n")
            curated_claims += 4
            page_rows += 10
        text = (f"{title}\n{evidence}\n| Model | Family | Lab | Country |\n|---|---|---|---|\n"
                + "\n".join(rows) + "\n\n" + "\n".join(sentences) + "\n")
        (root / "pages" / f"{source_id}.txt").write_text(text, encoding="utf-8")
        sources.append(
            f"- source_id: {source_id}\n  title: {_q(title)}\n  title_from_page: true\n"
            f"  publisher: null\n  url: null\n"
            f"  citation_note: A synthetic page written by benchmarks/synthetic.py; it has no "
            f"address.\n  capture_file: pages/{source_id}.txt\n  published_on: {published}\n"
            f"  date_precision: day\n  date_evidence: {_q(evidence)}\n")
        for column, targets in (("Model", "[models, model_families]"),
                                ("Family", "[model_families]"), ("Lab", "[organizations]"),
                                ("Country", "[jurisdictions]")):
            mention_rules.append(f"- {{source: {source_id}, table: 1, column: {column}, "
                                 f"resolve_to: {targets}}}\n")
        claim_rows += page_rows
        first_rows += page_rows if in_first else 0

    for writer in (orgs, fams, models, projects):
        writer.close()
    w("sources.yaml", "".join(sources))
    w("mention_columns.yaml", "".join(mention_rules))
    n_redirects = min(redirects, len(model_ids))
    w("redirects.yaml", "".join(
        f"- {{table: models, old_id: retired-{_name(3 * n_families + r, width, order).lower()}"
        f", new_id: {model_ids[r * len(model_ids) // max(1, n_redirects)]}, "
        f"reason: Synthetic rename}}\n" for r in range(n_redirects)) or "[]\n")
    return ProjectShape(root=root, seed=seed, pages=n_pages, organizations=n_families,
                        families=n_families, models=n_models, projects=n_families,
                        curated_claims=curated_claims + len(COUNTRIES),
                        claim_rows=claim_rows + len(COUNTRIES) * 4,
                        first_release_claim_rows=first_rows + len(COUNTRIES) * 4,
                        redirects=n_redirects,
                        releases=(FIRST_RELEASE.isoformat(), SECOND_RELEASE.isoformat()))


# --- release pairs ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ReleasePair:
    old: Path
    new: Path
    table: str
    key: str
    added: int
    removed: int
    changed: int
    renamed: int
    redirects: list[dict]


def generate_release_pair(folder: Path, rows: int, *, added: int, removed: int, changed: int,
                          renamed: int, seed: int = 42) -> ReleasePair:
    """Two releases of one models-like table (bench_diff's columns): the new one drops
    `removed` rows, changes one cell of `changed` rows, gives `renamed` rows a new ID (with a
    redirect each, values unchanged) and adds `added` rows. The counts are exact."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_diff import KEY, TABLE, _columns, _ids

    if removed + changed + renamed > rows:
        raise ValueError("removed + changed + renamed must not exceed rows")
    rng = np.random.default_rng(seed)
    old = pa.table({KEY: _ids("model-", rows), **_columns(rng, rows)})
    picks = rng.permutation(rows)
    removed_i = np.sort(picks[:removed])
    changed_i = np.sort(picks[removed:removed + changed])
    renamed_i = np.sort(picks[removed + changed:removed + changed + renamed])
    keep = np.ones(rows, dtype=bool)
    keep[removed_i] = False
    ids = old[KEY].to_pylist()
    names = old["name"].to_pylist()
    for i in changed_i:
        names[i] = f"{names[i]} (changed)"
    redirects = []
    for i in renamed_i:
        redirects.append({"table": TABLE, "old_id": ids[i], "new_id": f"{ids[i]}-renamed",
                          "reason": "synthetic rename"})
        ids[i] = f"{ids[i]}-renamed"
    new = old.set_column(0, KEY, pa.array(ids)).set_column(
        old.schema.get_field_index("name"), "name", pa.array(names)).filter(pa.array(keep))
    extra = pa.table({KEY: _ids("model-new-", added), **_columns(rng, added, tag="n")})
    new = pa.concat_tables([new, extra.cast(new.schema)]).sort_by(KEY)
    old = old.sort_by(KEY)
    dirs = []
    for label, table in (("2026-01-31", old), ("2026-02-28", new)):
        target = folder / label
        target.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target / f"{TABLE}.parquet", compression="zstd")
        # Just enough of a datapackage.json for `sovai diff` to find the primary key.
        (target / "datapackage.json").write_text(json.dumps({"resources": [
            {"name": TABLE, "path": f"{TABLE}.parquet", "schema": {"primaryKey": [KEY]}}]}))
        dirs.append(target)
    return ReleasePair(dirs[0], dirs[1], TABLE, KEY, added, removed, changed, renamed,
                       redirects)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows-per-page", type=int, default=200)
    args = parser.parse_args()
    shape = generate_project(args.out, args.claims, seed=args.seed,
                             rows_per_page=args.rows_per_page)
    print(json.dumps(shape.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
