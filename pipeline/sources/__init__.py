"""Sources: capturing pages into raw/ and fetching them over HTTP."""
