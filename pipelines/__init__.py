"""Dagster definitions, jobs, partitions, schedules, sensors, resources, settings and the CLI."""
