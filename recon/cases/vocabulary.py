"""The words of the case log. Kept apart from everything that imports DuckDB so that the command
line can build its choices without loading it (`recon --help` starts fast)."""

STATUSES = ("open", "acknowledged", "resolved", "cleared")
ACTIONS = ("opened", "acknowledged", "assigned", "resolved", "reopened", "cleared", "noted")
RESOLUTIONS = ("refunded", "written_off", "false_positive", "fixed_upstream", "other")
