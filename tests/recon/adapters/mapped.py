"""What the adapter tests read off a mapping's result (`recon.adapters.apply.apply_mapping`)."""


def quarantined(mapped) -> list[tuple[int, str, str]]:
    """(line, reason, detail) of each row the mapping quarantined."""
    return [(r["line"], r["reason"], r["detail"]) for r in mapped.quarantine.to_pylist()]
