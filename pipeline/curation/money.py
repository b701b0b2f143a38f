"""Amounts in USD: which currency a "$" means, and the rate of the commitment's date.

A page that writes "$" for a programme outside the US leaves the dollar open. One stated rule
decides it where it can (investments.currency_rule documents it), the alternative stays visible
(currency_alternative), and where the rule cannot decide, nothing is converted."""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

USD = "USD"
# Local currencies as of the period the pages describe (CLDR territory data, through babel).
CURRENCY_DATE = dt.date(2026, 1, 1)


@cache
def local_dollars(jurisdiction_id: str) -> tuple[str, ...]:
    """The currencies of a jurisdiction, other than USD, that its own locales write with "$"
    (CAD in Canada, SGD in Singapore, BRL's R$ in Brazil): what a bare "$" could mean there."""
    import pycountry
    from babel.core import Locale, UnknownLocaleError
    from babel.languages import get_official_languages
    from babel.numbers import get_territory_currencies

    country = pycountry.countries.get(alpha_3=jurisdiction_id)
    if country is None:  # the EU: the euro, never written "$"
        return ()
    territory = country.alpha_2
    found = []
    for currency in get_territory_currencies(territory, start_date=CURRENCY_DATE):
        symbols = set()
        for language in get_official_languages(territory):
            try:
                symbols.add(Locale.parse(f"{language}_{territory}").currency_symbols
                            .get(currency, currency))
            except (UnknownLocaleError, ValueError):
                continue
        if currency != USD and any("$" in symbol for symbol in symbols):
            found.append(currency)
    return tuple(found)


def decide_currency(row: dict, investor_jurisdiction: str | None,
                    investor_is_us_organization: bool) -> tuple[str, str | None]:
    """(currency_rule, currency_alternative) of one investment row."""
    if not row["currency_ambiguous"]:
        return "stated", None
    places = [j for j in (row.get("jurisdiction_id"), investor_jurisdiction) if j]
    alternatives = sorted({c for j in places for c in local_dollars(j)})
    alternative = " or ".join(alternatives) or None
    if places and not alternatives:
        return "no_local_dollar", None
    if investor_is_us_organization:
        return "us_investor", alternative
    return "unresolved", alternative


def rate_for(row: dict, fx_rows: list[dict]) -> dict | None:
    """The rate of the commitment's own date and precision: a commitment the page dates to a
    month converts at that month's mean, never at one rate for every amount."""
    if row.get("committed_on") is None:
        return None
    for rate in fx_rows:
        if (rate["currency"] == row["currency"] and rate["as_of"] == row["committed_on"]
                and rate["precision"] == row["committed_precision"]):
            return rate
    return None


def add_usd(rows: list[dict], organizations: dict[str, dict[str, Any]],
            fx_rows: list[dict]) -> None:
    """Derive currency_rule, currency_alternative, fx_rate_id and the USD amounts (after the
    investor is typed). `organizations` maps organization_id to its values (headquarters)."""
    for row in rows:
        investor = organizations.get(row["investor"])
        investor_jurisdiction = ((investor or {}).get("jurisdiction_id")
                                 or row.get("investor_jurisdiction_id"))
        rule, alternative = decide_currency(row, investor_jurisdiction,
                                            investor_jurisdiction == "USA" and bool(investor))
        row["currency_rule"], row["currency_alternative"] = rule, alternative
        rate, rate_id = None, None
        if rule == "unresolved":
            pass
        elif row["currency"] == USD:
            rate = 1.0
        elif (found := rate_for(row, fx_rows)) is not None:
            rate, rate_id = found["usd_per_unit"], found["fx_rate_id"]
        row["fx_rate_id"] = rate_id
        row["amount_usd"] = None if rate is None else round(row["amount"] * rate)
        row["amount_usd_max"] = (None if rate is None or row.get("amount_max") is None
                                 else round(row["amount_max"] * rate))
