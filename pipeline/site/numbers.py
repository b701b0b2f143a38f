"""Amounts as people read them, and how sure an investment's conversion to USD is."""

from __future__ import annotations

# currency_rule (from 2026-07-31 on): how the build read the currency of an amount.
RULES = {
    "stated": "currency stated",
    "us_investor": "$ read as US dollars (US investor)",
    "no_local_dollar": "$ read as US dollars (no local dollar)",
    "unresolved": "not converted: currency undecided",
}
STATED = "currency stated"
AMBIGUOUS = "$ outside the US, read as US dollars (uncertain)"
NOT_CONVERTED = "not converted"


def scaled(amount: float) -> str:
    """15200000000 -> '15.2 billion'; exact below a million."""
    for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if abs(amount) >= size:
            return f"{amount / size:,.2f}".rstrip("0").rstrip(".") + f" {word}"
    return f"{amount:,.0f}"


def money(amount: float | None, currency: str | None, high: float | None = None) -> str:
    """'EUR 109 billion', 'USD 30 billion–50 billion'; null says so."""
    if amount is None:
        return "not stated"
    text = scaled(amount) + (f"–{scaled(high)}" if high is not None else "")
    return f"{currency} {text}" if currency else text


def conversion(row: dict) -> str:
    """How an investment's amount became USD: the stated currency, a rule for '$', or none.
    Uses currency_rule where the release has it, else currency_ambiguous."""
    if row.get("amount_usd") is None:
        return RULES["unresolved"] if row.get("currency_rule") == "unresolved" else NOT_CONVERTED
    rule = row.get("currency_rule")
    if rule:
        return RULES.get(rule, rule)
    return AMBIGUOUS if row.get("currency_ambiguous") else STATED


def uncertain(row: dict) -> bool:
    """A converted amount whose currency the page does not state unambiguously."""
    return row.get("amount_usd") is not None and conversion(row) != STATED
