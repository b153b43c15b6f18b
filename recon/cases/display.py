"""How the command line and the web page spell a case's age and status: one spelling for both."""

from datetime import timedelta
from typing import Protocol


class _State(Protocol):
    status: str
    resolution: str | None


def age_text(span: timedelta) -> str:
    """`3d 4h`, `5h 12m` or `7m`: how long a case has been open, to the minute."""
    minutes = max(int(span.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes}m" if hours else f"{minutes}m"


def status_text(state: _State) -> str:
    """`resolved (refunded)`: the status, with the resolution when there is one."""
    return state.status + (f" ({state.resolution})" if state.resolution else "")
