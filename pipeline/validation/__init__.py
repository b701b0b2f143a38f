"""Validation: table schemas, pandera checks, cross-table checks, release verification."""
