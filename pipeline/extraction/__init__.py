"""Extraction: text and tables out of captured pages, and finding quotes in them."""
