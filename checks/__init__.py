"""Dagster asset checks: data contracts and reconciliation invariants.

Every check needs the partition being built, so each runs inside its asset (declared with
`check_specs`) and always sees the rows that asset just wrote: the landing checks in the ingestion
assets, the invariants in the models step (`invariants.MODEL_CHECKS`)."""
