"""Console and log output: the default channel."""

import logging
import sys

from recon.alerts.config import ConsoleOptions
from recon.alerts.notices import Notice

log = logging.getLogger("recon.alerts")


class ConsoleSender:
    def __init__(self, options: ConsoleOptions) -> None:
        self.options = options

    def send(self, notice: Notice) -> None:
        text = "\n".join([notice.title, *(f"  {line}" for line in notice.lines())])
        if self.options.stream == "log":
            log.warning("%s", text)
        else:
            stream = sys.stdout if self.options.stream == "stdout" else sys.stderr
            print(text, file=stream, flush=True)
