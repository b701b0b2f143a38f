"""Text folding shared by alias resolution and quote verification."""

from __future__ import annotations

import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")
_SLUG_SEPARATORS = re.compile(r"[^a-z0-9]+")


def fold_whitespace(text: str) -> str:
    """Collapse every run of whitespace to one space; nothing else changes (quote verification)."""
    return _WHITESPACE.sub(" ", text).strip()


def fold_name(name: str) -> str:
    """The key an alias is matched on: Unicode compatibility form, accents dropped, casefolded,
    and everything that is not a letter or digit removed ("Qwen 3.6" == "qwen3.6" == "QWEN-3-6")."""
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return "".join(ch for ch in stripped.casefold() if ch.isalnum())


def slugify(name: str) -> str:
    """A lowercase slug for IDs: "Qwen 3.6" -> "qwen-3-6"."""
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_only = decomposed.encode("ascii", "ignore").decode("ascii").lower()
    return _SLUG_SEPARATORS.sub("-", ascii_only).strip("-")
