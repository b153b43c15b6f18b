"""The revenue bridge's arithmetic, shared by its report and its asset check: read in order, each
total of a currency's bridge is the previous total plus the steps since."""

from collections.abc import Iterable


def unclosed_totals(lines: Iterable[tuple[str, str, str, int]]) -> list[tuple[str, str, str]]:
    """(currency, line, why) for each total that is not the previous total plus the steps since;
    `lines` are (currency, line, kind, amount_minor) in the bridge's order within each currency,
    kind being `step` or `total`."""
    problems = []
    running: dict[str, int] = {}
    for currency, line, kind, amount in lines:
        if kind == "step":
            running[currency] = running.get(currency, 0) + amount
            continue
        if currency in running and running[currency] != amount:
            problems.append((currency, line, f"steps reach {running[currency]}, total is {amount}"))
        running[currency] = amount
    return problems
