"""Dagster asset checks: data contracts and reconciliation invariants.

Checks that need the partition being built run inside their asset (declared with `check_specs`),
so they always see the rows that asset just wrote; `asset_checks()` lists the standalone ones."""

import dagster as dg


def asset_checks() -> list[dg.AssetChecksDefinition]:
    return []
