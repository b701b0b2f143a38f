"""Text folding shared by alias resolution and quote verification."""

from __future__ import annotations

import re
import unicodedata

_SLUG_SEPARATORS = re.compile(r"[^a-z0-9]+")
_NOT_ASCII_ALNUM = re.compile(r"[^a-z0-9]+")


def fold_whitespace(text: str) -> str:
    """Collapse every run of whitespace to one space; nothing else changes (quote verification).

    str.split() splits on exactly the characters `\\s` matches (str.isspace), so this is
    `re.sub(r"\\s+", " ", text).strip()` at a third of the cost: it runs for every quote."""
    return " ".join(text.split())


def fold_name(name: str) -> str:
    """The key an alias is matched on: casefolded, Unicode compatibility form, accents dropped,
    and everything that is not a letter or digit removed ("Qwen 3.6" == "qwen3.6" == "QWEN-3-6").

    Case is folded before accents are dropped and again after the compatibility form (as in
    Unicode's compatibility caseless matching), so a name and its casefolded spelling share a
    key: the Greek iota subscript (U+0345) is a combining mark that casefolds to a letter,
    and "ℌ" decomposes to an uppercase H."""
    if name.isascii():
        # The same key, 5 times faster, for the names that are all ASCII (most): casefold is
        # lower(), NFKD changes nothing, and the letters and digits left are [a-z0-9].
        return _NOT_ASCII_ALNUM.sub("", name.lower())
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return "".join(ch for ch in unicodedata.normalize("NFKD", stripped.casefold())
                   if ch.isalnum())


def slugify(name: str) -> str:
    """A lowercase slug for IDs: "Qwen 3.6" -> "qwen-3-6"."""
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_only = decomposed.encode("ascii", "ignore").decode("ascii").lower()
    return _SLUG_SEPARATORS.sub("-", ascii_only).strip("-")
