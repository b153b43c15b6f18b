"""What the case functions refuse, each with a message fit to show a person as it is."""


class CaseError(Exception):
    """Base of the refusals below: the command line shows the message, never a traceback."""


class UnknownCase(CaseError, LookupError):
    def __init__(self, case_id: str, hint: str = ""):
        super().__init__(f"no case {case_id!r} in this warehouse{hint}")
        self.case_id = case_id


class AmbiguousCase(CaseError, LookupError):
    def __init__(self, prefix: str, candidates: list[str]):
        shown = ", ".join(candidates[:10]) + (
            f" and {len(candidates) - 10} more" if len(candidates) > 10 else ""
        )
        super().__init__(f"case ID prefix {prefix!r} is ambiguous: it matches {shown}")
        self.prefix = prefix
        self.candidates = candidates


class TransitionRefused(CaseError):
    """The action is not allowed from the case's current status."""

    def __init__(self, case_id: str, status: str, reason: str):
        super().__init__(f"case {case_id} is {status}: {reason}")
        self.case_id = case_id
        self.status = status


class PartitionNotReconciled(CaseError, LookupError):
    """Syncing a partition that was never built would clear every one of its cases."""


class DuplicateDiscrepancy(CaseError, ValueError):
    """The partition's discrepancies repeat an ID: the mart is broken, no case is opened."""
