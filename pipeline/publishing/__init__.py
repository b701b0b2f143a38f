"""Publishing and diffs: release folders, their diff, CHANGES.md and the dictionary."""
