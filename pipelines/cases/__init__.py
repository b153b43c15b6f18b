"""The `recon cases` commands, over `recon.cases` (the Dagster asset that syncs after a run comes
next)."""
