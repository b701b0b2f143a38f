"""Dagster definitions by domain: atlas (capture → publish) and fetching (live sources)."""
