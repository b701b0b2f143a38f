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
    # quote -> the line find() gave: every stage asks about the same quotes, and each (page,
    # quote) is searched for once per process, not once per stage (issue 14).
    _found: dict[str, int | None] = field(init=False, repr=False, compare=False,
                                          default_factory=dict)

    def __post_init__(self) -> None:
        # Folding joins the words of the whole text with single spaces (str.split splits on
        # the whitespace `\s` matches). Each line after the first that has a word starts, in
        # the folded text, at its first word: one step per line, not per word.
        self.folded = " ".join(self.text.split())
        starts: list[int] = []  # folded offset at which each original line begins
        lines: list[int] = []
        length = 0  # of the folded text up to the end of the line before
        for number, line in enumerate(self.text.split("\n"), start=1):
            words = " ".join(line.split())
            if not words:
                continue
            start = length + 1 if length else 0
            if number > 1:
                starts.append(start)
                lines.append(number)
            length = start + len(words)
        self._starts = starts
        self._lines = lines

    def find(self, quote: str) -> int | None:
        """The 1-based line where the folded quote starts, or None when it does not occur."""
        try:
            return self._found[quote]
        except KeyError:
            line = self._found[quote] = self._search(quote)
            return line

    def _search(self, quote: str) -> int | None:
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


_NOT_LETTERS = re.compile(r"[^a-z0-9]+")  # compiled once: _letters runs for every table row


def _letters(text: str) -> str:
    return _NOT_LETTERS.sub("", text.casefold())


def name_keys(names: list[str]) -> list[str]:
    """What quote_names_any looks for: each name of two letters or digits or more, without
    case, spaces or punctuation (folded once for an entity's several quotes)."""
    return [key for key in map(_letters, names) if len(key) >= 2]


def quote_names_any(quote: str, keys: list[str]) -> bool:
    """Whether the quote names one of the names whose name_keys are `keys`, compared without
    case, spaces or punctuation (captured table rows often lose their separators: "Qwen
    3.6Alibaba1M context")."""
    folded = _letters(quote)
    return any(key in folded for key in keys)



_SCALES = {"thousand": 1e3, "k": 1e3, "lakh": 1e5, "million": 1e6, "mn": 1e6, "m": 1e6,
           "crore": 1e7, "billion": 1e9, "bn": 1e9, "b": 1e9, "trillion": 1e12}
_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen " \
    "fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_WORDS = {**{w: i for i, w in enumerate(_UNITS)},
          **{t: 20 + 10 * i for i, t in enumerate(_TENS)},
          **{f"{t}-{u}": 20 + 10 * i + j for i, t in enumerate(_TENS)
             for j, u in enumerate(_UNITS[1:10], start=1)}}
_SCALE = r"(trillion|billion|million|thousand|crore|lakh|bn|mn|[kmb])(?![a-z])"
_FIGURE = r"\d+(?:,\d{3})*(?:\.\d+)?"
# Digits may follow letters: captured table rows lose their separators ("Alibaba1M context").
_NUMBER = re.compile(rf"(?<![\d.])({_FIGURE}|"
                     + "|".join(sorted(_WORDS, key=len, reverse=True))
                     + rf")(?:\s*{_SCALE})?", re.IGNORECASE)
# "$30 and $50 billion", "$9-14 billion": the scale written once serves both ends.
_RANGE = re.compile(rf"({_FIGURE})\s*(?:-|–|to|and)\s*\$?\s*{_FIGURE}\s*{_SCALE}",
                    re.IGNORECASE)
_BARE_SCALE = re.compile(r"(?<![\d\s])\s*\b(trillion|billion|million)\b", re.IGNORECASE)


def numbers_in(quote: str) -> set[float]:
    """Every number the quote writes, in each scale it could mean ("$15.2B" is 15.2 and
    15,200,000,000; "Twenty-six" is 26; "₹10,371.92 crore" is 103,719,200,000; the low end of
    "$9-14 billion" is 9,000,000,000; "trillion-dollar" is 1,000,000,000,000)."""
    found: set[float] = set()
    for digits, scale in _NUMBER.findall(quote):
        word = _WORDS.get(digits.casefold())
        value = float(word if word is not None else digits.replace(",", ""))
        found.add(value)
        if scale:
            found.add(round(value * _SCALES[scale.casefold()], 6))
    for low, scale in _RANGE.findall(quote):
        found.add(round(float(low.replace(",", "")) * _SCALES[scale.casefold()], 6))
    for scale in _BARE_SCALE.findall(quote):
        found.add(_SCALES[scale.casefold()])
    return found


def states_number(quote: str, value: float) -> bool:
    """Whether the quote writes `value` (as a number, in a scale, or as a word)."""
    return any(abs(n - value) <= 1e-9 * max(1.0, abs(value)) for n in numbers_in(quote))
