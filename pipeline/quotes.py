"""Quote verification: a quote must occur in its capture, whitespace folded, nothing else."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from functools import cached_property

from pipeline.text import fold_whitespace


@dataclass
class SourceText:
    """A capture's text with whitespace folded, and a map back to original line numbers."""

    source_id: str
    text: str
    folded: str = field(init=False)
    _line_of_folded: list[int] = field(init=False, repr=False)  # folded offset -> line starts

    def __post_init__(self) -> None:
        pieces: list[str] = []
        starts: list[int] = []  # folded offset at which each original line begins
        lines: list[int] = []
        position = 0
        line = 1
        last_was_space = True  # strip leading whitespace
        for match in re.finditer(r"\s+|\S+", self.text):
            chunk = match.group()
            if chunk.isspace():
                newlines = chunk.count("\n")
                if not last_was_space:
                    pieces.append(" ")
                    position += 1
                    last_was_space = True
                if newlines:
                    line += newlines
                    starts.append(position)
                    lines.append(line)
            else:
                pieces.append(chunk)
                position += len(chunk)
                last_was_space = False
        self.folded = "".join(pieces).rstrip()
        self._starts = starts
        self._lines = lines

    def find(self, quote: str) -> int | None:
        """The 1-based line where the folded quote starts, or None when it does not occur."""
        folded_quote = fold_whitespace(quote)
        if not folded_quote:
            return None
        offset = self.folded.find(folded_quote)
        if offset < 0:
            return None
        index = bisect.bisect_right(self._starts, offset) - 1
        return self._lines[index] if index >= 0 else 1

    @cached_property
    def lines(self) -> set[str]:
        """Every non-empty line of the capture, whitespace folded."""
        return {fold_whitespace(line) for line in self.text.splitlines() if line.strip()}

    @cached_property
    def first_line(self) -> str:
        return next((fold_whitespace(line) for line in self.text.splitlines() if line.strip()),
                    "")


def basis_problem(text: SourceText, quote: str, basis: str, title: str) -> str | None:
    """Why a quote cannot carry its basis, or None. A `section` quote is the heading or row
    label it relies on, and a `table` quote the row: each a whole line of the capture, never a
    fragment of one. A page's title states no value (not a modality, not a figure's date)."""
    if basis not in ("section", "table"):
        return None
    folded = fold_whitespace(quote)
    if basis == "section" and folded in (fold_whitespace(title), text.first_line):
        return "a page's title states no value: quote the sentence, heading or row that does"
    if folded not in text.lines:
        what = "heading or row label" if basis == "section" else "table row"
        return (f"a basis: {basis} quote must be the whole {what} it relies on, a line of the "
                f"capture, not part of one")
    return None


def _letters(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.casefold())


def names_any(quote: str, names: list[str]) -> bool:
    """Whether the quote names one of `names`, compared without case, spaces or punctuation
    (captured table rows often lose their separators: "Qwen 3.6Alibaba1M context")."""
    folded = _letters(quote)
    return any(len(_letters(n)) >= 2 and _letters(n) in folded for n in names)
