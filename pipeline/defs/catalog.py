"""The published tables as Dagster sees them: one asset spec per schemas/*.yaml, with its
description, column schema (dagster/column_schema), primary key and row count.

Plain functions of a TableSchema, so tests and the asset definitions read the same thing."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from pipeline.validation.schemas import FORMATS, ColumnSpec, TableSchema

TABLE_GROUP = "normalize"  # the stage that builds every published table
TABLE_IO = "table_io"  # the IO manager key of tables passed between steps as Parquet


def column_constraints(column: ColumnSpec, schema: TableSchema) -> dg.TableColumnConstraints:
    """Nullability, uniqueness (the primary key) and every other check schemas/ declares."""
    items = "each item " if column.is_list else ""
    other = []
    if column.name == schema.primary_key:
        other.append("primary key")
    if column.allowed:
        other.append(f"{items}one of: {', '.join(column.allowed)}")
    if column.pattern:
        other.append(f"{items}matches {column.pattern}")
    if column.format:
        other.append(f"{items}{FORMATS[column.format][1]}")
    if column.references:
        other.append(f"{items}references {' or '.join(column.references)}")
    if column.inverse_of:
        other.append(f"derived: the other direction of {column.inverse_of}")
    elif column.derived:
        other.append("derived by the pipeline from claimed values")
    elif (schema.claims and column.name != schema.primary_key
          and column not in schema.claimed_columns()):
        other.append("needs no claim")
    return dg.TableColumnConstraints(nullable=column.nullable,
                                     unique=column.name == schema.primary_key, other=other)


def column_schema(schema: TableSchema) -> dg.TableSchema:
    """The table's columns as Dagster table-schema metadata, generated from schemas/."""
    columns = [dg.TableColumn(name=c.name, type=c.type, description=c.description,
                              constraints=column_constraints(c, schema))
               for c in schema.columns]
    return dg.TableSchema(columns=columns, constraints=dg.TableConstraints(other=[
        f"primary key: {schema.primary_key} (unique, rows sorted by it)",
        "every published value has a claim" if schema.claims else "values need no claims",
    ]))


def table_spec(schema: TableSchema, deps: list[str],
               partitions: dg.PartitionsDefinition) -> dg.AssetSpec:
    """One published table as an asset of the normalize group, stored as Parquet."""
    return dg.AssetSpec(
        key=schema.name,
        deps=deps,
        description=f"{schema.title}: {schema.description}",
        group_name=TABLE_GROUP,
        kinds={"parquet", "pandas"},
        partitions_def=partitions,
        tags={"table": "published"},
        metadata={
            "dagster/column_schema": dg.MetadataValue.table_schema(column_schema(schema)),
            "primary_key": schema.primary_key,
            "schema_file": f"schemas/{schema.path.name if schema.path else schema.name}",
        },
    ).with_io_manager_key(TABLE_IO)


def table_output_metadata(schema: TableSchema, frame: pd.DataFrame) -> dict:
    """What a materialization of one table records: its row count and primary key."""
    return {"dagster/row_count": dg.MetadataValue.int(len(frame)),
            "primary_key": schema.primary_key}
