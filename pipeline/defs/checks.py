"""The release's validation as blocking asset checks on the tables they read.

Each table's pandera check `<table>_schema` is a check on that table's asset; a cross-table
check (foreign_keys, claim_coverage, quotes_verified, one_id_per_thing) has a result on each
table it spans, failing on the tables its messages name. All of them are one multi-asset check
(one `validate` step, which reads the tables once). A failed check blocks the release folder.
The checks are thin: pipeline.validation.validate does the work."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import dagster as dg
import pandas as pd

from pipeline import stages
from pipeline.curation.normalize import ReleaseTables
from pipeline.sources.capture import Capture
from pipeline.validation import validate
from pipeline.validation.schemas import TableSchema


def check_result(messages: list[str], *, asset: str | None = None,
                 check: str | None = None) -> dg.AssetCheckResult:
    """Passed when there is no message; else the first message is the description."""
    return dg.AssetCheckResult(
        asset_key=asset, check_name=check, passed=not messages,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"failures": len(messages),
                  "details": dg.MetadataValue.md("\n".join(f"- {m}" for m in messages)
                                                 or "none")},
        description=messages[0] if messages else None,
    )


def messages_about(messages: list[str], table: str) -> list[str]:
    """The messages naming a row of `table` (every validate message starts `table: `)."""
    return [m for m in messages if m.startswith(f"{table}: ")]


def shared_id_messages(tables: dict[str, pd.DataFrame], schemas: dict[str, TableSchema]
                       ) -> list[str]:
    """One thing, one ID: a key of two tables, named once for each table holding it."""
    return [f"{name}: {schemas[name].primary_key}={key!r} is also a key of "
            f"{' and '.join(n for n in names if n != name)}: one thing, one ID (rename one, "
            f"with a redirect)"
            for key, names in validate.shared_ids(tables, schemas).items() for name in names]


def _spec(name: str, table: str, reads: list[str], description: str,
          partitions: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
    # A check of one release must read that release's partition of the table: without
    # partitions_def the check is unpartitioned and loads every partition. Dagster 1.13 has
    # no other way to say so and marks this one Preview, warning on every spec; this one
    # warning is silenced, here only.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=dg.PreviewWarning,
                                message=".*partitions_def on an AssetCheckSpec")
        return dg.AssetCheckSpec(name, asset=table, blocking=True, partitions_def=partitions,
                                 description=description,
                                 additional_deps=[t for t in reads if t != table])


def _quote_messages(tables: dict[str, pd.DataFrame], captures: dict[str, Capture]
                    ) -> list[str]:
    release = ReleaseTables(tables, 0, [], [])
    return validate.check_quotes(tables["claims"], stages.source_texts(release, captures))


def cross_table_rules(schemas: dict[str, TableSchema]) -> list[tuple]:
    """Each cross-table check: name, description, the tables it has a result on, the one
    carrying every message (else each table carries those naming it), and its messages."""
    referencing = [n for n, s in schemas.items() if any(c.references for c in s.columns)]
    claimed = [n for n, s in schemas.items() if s.claimed_columns()]
    entities = [n for n, s in schemas.items() if s.claims]
    return [
        ("foreign_keys", "Every ID a table points to exists in the release.", referencing,
         None, lambda t, c: validate.check_foreign_keys(t, schemas)),
        ("claim_coverage", "Every published value has at least one claim.",
         [*claimed, "claims"], "claims", lambda t, c: validate.check_claim_coverage(t, schemas)),
        ("quotes_verified", "Every quote occurs in its source's capture (whitespace folded, "
         "nothing else).", ["claims", "sources"], "sources", _quote_messages),
        ("one_id_per_thing", "No ID is a key of two tables (a reference that may point at "
         "either could not say which).", entities, None,
         lambda t, c: shared_id_messages(t, schemas)),
    ]


def validation_checks(schemas: dict[str, TableSchema], partitions: dg.PartitionsDefinition
                      ) -> dg.AssetChecksDefinition:
    """Every check of the release in one step (the tables are read once): on each table its
    pandera check `<table>_schema`, and the cross-table checks on the tables they span."""
    tables = list(schemas)
    rules = cross_table_rules(schemas)
    specs = [_spec(f"{n}_schema", n, [], f"pandera: the {n} table matches schemas/{n}.yaml "
                   f"(columns, types, nullability, allowed values, patterns, a unique primary "
                   f"key).", partitions) for n in tables]
    specs += [_spec(name, table, [*tables, "source_captures"], description, partitions)
              for name, description, spans, _, _ in rules for table in spans]

    @dg.multi_asset_check(name="validate", specs=specs,
                          ins={t: dg.AssetIn(key=t) for t in [*tables, "source_captures"]},
                          description="pandera on each table, then the checks across tables "
                                      "(pipeline.validation.validate).")
    def validate_release(source_captures: dict[str, Capture], **frames: pd.DataFrame
                         ) -> Iterator[dg.AssetCheckResult]:
        for name in tables:
            yield check_result(validate.check_schema(schemas[name], frames[name]),
                               asset=name, check=f"{name}_schema")
        for name, _, spans, everything_on, messages in rules:
            found = messages(frames, source_captures)
            for table in spans:
                mine = found if table == everything_on else messages_about(found, table)
                yield check_result(mine, asset=table, check=name)

    return validate_release
