"""Append each notice as one JSON line: for log shippers and audits."""

from recon.alerts.config import JsonlOptions
from recon.alerts.notices import Notice


class JsonlSender:
    def __init__(self, options: JsonlOptions) -> None:
        self.options = options

    def send(self, notice: Notice) -> None:
        self.options.path.parent.mkdir(parents=True, exist_ok=True)
        with self.options.path.open("a", encoding="utf-8") as handle:
            handle.write(notice.to_json() + "\n")
