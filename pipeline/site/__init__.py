"""The static site and the metadata that travels with a release: croissant.json, CITATION.cff."""
