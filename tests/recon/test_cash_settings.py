"""The cash settings as a user gives them (JSON in the environment) and as the rules read them:
the fee the schedule sets, rounded half up, and one tolerance per rule and currency with the most
specific setting winning."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from recon.cash_settings import (
    FeeSchedule,
    Tolerance,
    Tolerances,
    expected_fee,
    fee_rows,
    tolerance_rows,
)
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


def test_the_settings_tables_are_queries_of_their_rows(tmp_path):
    import duckdb

    con = duckdb.connect()
    params = RunParams(fee_schedule=FeeSchedule.parse({"EUR": {"percent": "1.4"}}))
    fee_rows = con.execute(param_table_sql("meta.fee_schedule", None, params)).fetchall()
    assert fee_rows == [("EUR", 14_000, 0, 0)]
    empty = con.execute(param_table_sql("meta.fee_schedule", None, RunParams())).fetchall()
    assert empty == []


def test_any_currency_and_lower_case_keys_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv(
        "RECON_FEE_SCHEDULE",
        '{"eur": {"percent": "1.4", "fixed_minor": 25}, '
        '"*": {"percent": "2.9", "fixed_minor": 30}}',
    )
    monkeypatch.setenv(
        "RECON_TOLERANCES",
        '{"settlement_amount_mismatch": {"jpy": {"absolute_minor": 1}, '
        '"*": {"relative": "0.001"}}}',
    )
    settings = ReconSettings()
    assert set(settings.fee_schedule.rules) == {"EUR", "*"}
    assert expected_fee(settings.fee_schedule, "charge", 2500, "EUR") == 60
    assert expected_fee(settings.fee_schedule, "charge", 1000, "USD") == 29 + 30
    assert set(settings.tolerances.rules["settlement_amount_mismatch"]) == {"JPY", "*"}
    jpy = settings.tolerances.for_rule("settlement_amount_mismatch", "JPY")
    assert (jpy.absolute_minor, jpy.relative_ppm) == (1, 0)
    other = settings.tolerances.for_rule("settlement_amount_mismatch", "CHF")
    assert (other.absolute_minor, other.relative_ppm) == (0, 1000)


def test_without_cash_settings_fees_are_not_checked_and_nothing_is_tolerated(monkeypatch):
    monkeypatch.delenv("RECON_FEE_SCHEDULE", raising=False)
    monkeypatch.delenv("RECON_TOLERANCES", raising=False)
    settings = ReconSettings(_env_file=None)
    assert expected_fee(settings.fee_schedule, "charge", 2500, "EUR") is None
    assert settings.tolerances.for_rule("payout_mismatch", "EUR") == Tolerance()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RECON_FEE_SCHEDULE", '{"EURO": {"percent": "1"}}', "'EURO' is neither an ISO-4217"),
        ("RECON_FEE_SCHEDULE", '{"EUR": {"percent": "101"}}', "less than or equal to 100"),
        ("RECON_TOLERANCES", '{"amount_missmatch": {}}', r"no tolerance for rule\(s\) amount_"),
        ("RECON_TOLERANCES", '{"fee_mismatch": {"*": {"relative": "2"}}}', "less than or equal"),
        # the unknown currency is named, wherever it is given
        ("RECON_TOLERANCES", '{"payout_mismatch": {"XYZ": {"absolute_minor": 1}}}', "'XYZ'"),
        ("RECON_FEE_SCHEDULE", '{"eur": {}, "ABC": {}}', "'ABC' is neither an ISO-4217"),
        # the unknown rule is named, with the rules that take a tolerance
        ("RECON_TOLERANCES", '{"fee_missmatch": {}}', "fee_missmatch.*payout_mismatch"),
        # a percentage to more than 4 decimals is not a fee a provider charges
        ("RECON_FEE_SCHEDULE", '{"EUR": {"percent": "1.23456"}}', "no more than 4 decimal"),
        ("RECON_TOLERANCES", '{"fee_mismatch": {"*": {"relative": "0.0000001"}}}', "6 decimal"),
        # a misspelt field is refused, not ignored
        ("RECON_FEE_SCHEDULE", '{"EUR": {"percentage": "1.4"}}', "percentage"),
        ("RECON_TOLERANCES", '{"fee_mismatch": {"EUR": {"absolute": 1}}}', "absolute"),
        ("RECON_FEE_SCHEDULE", '{"EUR": {"fixed_minor": -1}}', "fixed_minor"),
    ],
)
def test_a_bad_cash_setting_names_what_is_wrong(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=message):
        ReconSettings()


def test_a_percentage_of_four_decimals_is_exact_in_parts_per_million():
    schedule = FeeSchedule.parse({"EUR": {"percent": "1.2345"}})
    assert schedule.rule_for("EUR").rate_ppm == 12_345
    # 1.2345 % of 10,000 is 123.45: down to 123; of 20,000 is 246.9: up to 247
    assert expected_fee(schedule, "charge", 10_000, "EUR") == 123
    assert expected_fee(schedule, "charge", 20_000, "EUR") == 247


def test_the_fee_is_rounded_half_up_where_half_to_even_would_round_down():
    # 1.4 % of 750 is 10.5: half up gives 11 (half to even, or cutting, 10)
    assert expected_fee(SCHEDULE, "charge", 750, "EUR") == 11 + 25
    # 2.5 % of 100 is 2.5, of 140 is 3.5: both up
    assert expected_fee(SCHEDULE, "charge", 100, "USD") == 3
    assert expected_fee(SCHEDULE, "charge", 140, "USD") == 4


def test_the_currency_s_own_rule_wins_over_any_currency():
    schedule = FeeSchedule.parse({"*": {"percent": "3"}, "JPY": {"percent": "1"}})
    assert expected_fee(schedule, "charge", 1000, "JPY") == 10
    assert expected_fee(schedule, "charge", 1000, "KRW") == 30


@pytest.mark.parametrize(
    ("tolerance", "difference", "expected", "allowed"),
    [
        (Tolerance(), 0, 100, True),  # no difference is always fine
        (Tolerance(), 1, 100, False),  # nothing given tolerates nothing
        (Tolerance(relative=Decimal("0.0001")), 100, 1_000_000, True),  # exactly 0.01 %
        (Tolerance(relative=Decimal("0.0001")), 101, 1_000_000, False),
        (Tolerance(relative=Decimal("0.0001")), 100, -1_000_000, True),  # of a debit too
        (Tolerance(relative=Decimal("0.0001")), 1, 0, False),  # no share of nothing
        (Tolerance(absolute_minor=3, relative=Decimal("0.5")), 3, 0, True),  # either one
        (Tolerance(absolute_minor=3, relative=Decimal("0.5")), 50, 100, True),
        (Tolerance(absolute_minor=3, relative=Decimal("0.5")), 51, 100, False),
    ],
)
def test_a_tolerance_is_at_most_the_absolute_or_the_relative_share(
    tolerance, difference, expected, allowed
):
    assert tolerance.allows(difference, expected) is allowed
    assert tolerance.allows(-difference, expected) is allowed


def test_amount_mismatch_tolerates_the_older_single_setting_unless_given():
    rows = _resolved(Tolerances(), amount_tolerance_minor=7)
    assert rows[("amount_mismatch", "EUR")] == (7, 0)
    assert rows[("amount_mismatch", "JPY")] == (7, 0)
    # the other rules do not take it
    assert rows[("payout_mismatch", "EUR")] == (0, 0)
    assert rows[("settlement_amount_mismatch", "EUR")] == (0, 0)
    given = Tolerances.parse(
        {"amount_mismatch": {"*": {"absolute_minor": 2}, "USD": {"relative": "0.01"}}}
    )
    rows = _resolved(given, amount_tolerance_minor=7)
    assert rows[("amount_mismatch", "EUR")] == (2, 0)  # the rule's own `*` beats the default
    assert rows[("amount_mismatch", "USD")] == (0, 10_000)


def test_fee_mismatch_tolerates_the_schedule_s_tolerance_of_the_currency():
    schedule = FeeSchedule.parse(
        {
            "EUR": {"percent": "1.4", "tolerance_minor": 4},
            "GBP": {"percent": "1.4"},
            "*": {"percent": "2.9", "tolerance_minor": 3},
        }
    )
    rows = {
        (rule, currency): (absolute, ppm)
        for rule, currency, absolute, ppm in tolerance_rows(Tolerances(), schedule, 0)
    }
    assert rows[("fee_mismatch", "EUR")] == (4, 0)
    assert rows[("fee_mismatch", "GBP")] == (0, 0)  # its own rule, of no tolerance, beats `*`'s
    assert rows[("fee_mismatch", "USD")] == (3, 0)  # `*`
    # only fee_mismatch reads the schedule's tolerance
    assert rows[("settlement_amount_mismatch", "EUR")] == (0, 0)
    given = Tolerances.parse({"fee_mismatch": {"EUR": {"absolute_minor": 1}, "USD": {}}})
    rows = {
        (rule, currency): (absolute, ppm)
        for rule, currency, absolute, ppm in tolerance_rows(given, schedule, 0)
    }
    assert rows[("fee_mismatch", "EUR")] == (1, 0)  # given explicitly: wins
    assert rows[("fee_mismatch", "USD")] == (0, 0)  # given as nothing: nothing


def test_the_unit_fixtures_settings_resolve_to_the_rows_they_give():
    """tests/dbt_like_models/units/ give meta.tolerances and meta.fee_schedule already resolved:
    these are the settings their comments name."""
    tolerances = Tolerances.parse(
        {
            "payout_mismatch": {"*": {"absolute_minor": 10}, "USD": {"absolute_minor": 1}},
            "settlement_amount_mismatch": {
                "JPY": {"absolute_minor": 1},
                "*": {"relative": "0.001"},
            },
            "amount_mismatch": {"EUR": {"absolute_minor": 5}, "USD": {"relative": "0.01"}},
        }
    )
    rows = {
        (rule, currency): (absolute, ppm)
        for rule, currency, absolute, ppm in tolerance_rows(tolerances, FeeSchedule(), 0)
    }
    assert rows[("payout_mismatch", "EUR")] == (10, 0)
    assert rows[("payout_mismatch", "USD")] == (1, 0)
    assert rows[("settlement_amount_mismatch", "JPY")] == (1, 0)
    assert rows[("settlement_amount_mismatch", "EUR")] == (0, 1000)
    assert rows[("amount_mismatch", "EUR")] == (5, 0)
    assert rows[("amount_mismatch", "USD")] == (0, 10_000)
    assert rows[("amount_mismatch", "GBP")] == (0, 0)
    schedule = FeeSchedule.parse(
        {
            "EUR": {"percent": "1.4", "fixed_minor": 25, "chargeback_fee_minor": 1500},
            "*": {"percent": "2.9", "fixed_minor": 30, "chargeback_fee_minor": 2000},
        }
    )
    by_currency = {row[0]: row[1:] for row in fee_rows(schedule)}
    assert by_currency["EUR"] == (14_000, 25, 1500)
    assert by_currency["USD"] == (29_000, 30, 2000)


def test_the_fee_schedule_has_a_row_per_currency_it_covers_and_none_for_others():
    only_two = {row[0] for row in fee_rows(FeeSchedule.parse({"EUR": {}, "usd": {}}))}
    assert only_two == {"EUR", "USD"}
    everything = fee_rows(FeeSchedule.parse({"*": {}}))
    assert len(everything) == len({row[0] for row in everything}) > 100


def test_two_spellings_of_one_currency_are_an_error_not_a_silent_choice():
    with pytest.raises(ValidationError, match="EUR is given twice"):
        FeeSchedule.parse({"eur": {"percent": "1.4"}, "EUR": {"percent": "2.9"}})
