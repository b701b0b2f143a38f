"""Curation and normalization: curated files in, release tables out."""
