"""The cash settings as a user gives them (JSON in the environment) and as the rules read them:
the fee the schedule sets, rounded half up, and one tolerance per rule and currency with the most
specific setting winning."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from recon.cash_settings import FeeSchedule, Tolerance, Tolerances, expected_fee, tolerance_rows
from recon.run_params import RunParams, param_table_sql
from recon.settings import ReconSettings

SCHEDULE = FeeSchedule.parse(
    {
        "EUR": {"percent": "1.4", "fixed_minor": 25, "chargeback_fee_minor": 1500},
        "*": {"percent": "2.5", "fixed_minor": 0, "tolerance_minor": 3},
    }
)


@pytest.mark.parametrize(
    ("line_type", "gross", "currency", "fee"),
    [
        ("charge", 2500, "EUR", 35 + 25),
        ("charge", 2500, "eur", 60),  # currencies compare upper-cased
        ("charge", 1250, "EUR", 18 + 25),  # 17.5 rounds half up
        ("charge", 1249, "EUR", 17 + 25),  # 17.486 rounds down
        ("charge", -2500, "EUR", 60),  # the percentage of the amount, whatever its sign
        ("chargeback", -2500, "EUR", 1500),
        ("refund", -2500, "EUR", 0),
        ("chargeback_reversal", 2500, "EUR", 0),
        ("fee", 0, "EUR", None),  # the provider's own lines are not checked
        ("adjustment", 100, "EUR", None),
        ("charge", 1000, "USD", 25),  # `*`: every other currency
    ],
)
def test_expected_fee_follows_the_schedule(line_type, gross, currency, fee):
    assert expected_fee(SCHEDULE, line_type, gross, currency) == fee


def test_a_currency_the_schedule_does_not_cover_is_not_checked():
    only_eur = FeeSchedule.parse({"EUR": {"percent": "1.4"}})
    assert expected_fee(only_eur, "charge", 1000, "USD") is None
    assert expected_fee(FeeSchedule(), "charge", 1000, "EUR") is None


def test_a_tolerance_allows_the_absolute_or_the_relative_difference():
    tolerance = Tolerance(absolute_minor=5, relative=Decimal("0.001"))
    assert tolerance.allows(5, 100)
    assert not tolerance.allows(6, 100)
    assert tolerance.allows(-10, 10_000)  # 0.1 % of 10,000
    assert not tolerance.allows(11, 10_000)


def _resolved(tolerances: Tolerances, amount_tolerance_minor: int = 0) -> dict:
    rows = tolerance_rows(tolerances, SCHEDULE, amount_tolerance_minor)
    return {(rule, currency): (absolute, ppm) for rule, currency, absolute, ppm in rows}


def test_each_rule_and_currency_has_one_tolerance_the_most_specific_one():
    tolerances = Tolerances.parse(
        {
            "payout_mismatch": {"*": {"relative": "0.0001"}, "JPY": {"absolute_minor": 1}},
            "fee_mismatch": {"EUR": {"absolute_minor": 2}},
        }
    )
    rows = _resolved(tolerances, amount_tolerance_minor=7)
    assert rows[("payout_mismatch", "JPY")] == (1, 0)  # the currency's own
    assert rows[("payout_mismatch", "USD")] == (0, 100)  # the rule's `*`
    assert rows[("fee_mismatch", "EUR")] == (2, 0)  # given for the rule beats the schedule's
    assert rows[("fee_mismatch", "USD")] == (3, 0)  # the schedule's `*` tolerance_minor
    assert rows[("amount_mismatch", "GBP")] == (7, 0)  # the older single setting
    assert rows[("settlement_amount_mismatch", "GBP")] == (0, 0)  # nothing given: nothing
    # One row per rule and active currency, so a rule joins on currency alone.
    assert len({currency for _, currency in rows}) == len(rows) // 4


def test_settings_read_the_cash_settings_from_json_in_the_environment(monkeypatch):
    monkeypatch.setenv("RECON_FEE_SCHEDULE", '{"eur": {"percent": "1.4", "fixed_minor": 25}}')
    monkeypatch.setenv("RECON_TOLERANCES", '{"payout_mismatch": {"*": {"absolute_minor": 5}}}')
    settings = ReconSettings()
    assert settings.fee_schedule.rule_for("EUR").rate_ppm == 14_000
    assert settings.tolerances.for_rule("payout_mismatch", "CHF").absolute_minor == 5


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RECON_FEE_SCHEDULE", '{"EURO": {"percent": "1"}}', "'EURO' is neither an ISO-4217"),
        ("RECON_FEE_SCHEDULE", '{"EUR": {"percent": "101"}}', "less than or equal to 100"),
        ("RECON_TOLERANCES", '{"amount_missmatch": {}}', "no tolerance for rule(s) amount_"),
        ("RECON_TOLERANCES", '{"fee_mismatch": {"*": {"relative": "2"}}}', "less than or equal"),
    ],
)
def test_a_bad_cash_setting_is_an_error_naming_it(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ReconSettings()


def test_the_settings_tables_are_queries_of_their_rows(tmp_path):
    import duckdb

    con = duckdb.connect()
    params = RunParams(fee_schedule=FeeSchedule.parse({"EUR": {"percent": "1.4"}}))
    fee_rows = con.execute(param_table_sql("meta.fee_schedule", None, params)).fetchall()
    assert fee_rows == [("EUR", 14_000, 0, 0)]
    empty = con.execute(param_table_sql("meta.fee_schedule", None, RunParams())).fetchall()
    assert empty == []
