"""The alerts' Dagster asset and `recon alerts` command, over `recon.alerts`."""
