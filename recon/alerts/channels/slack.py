"""A Slack incoming webhook, as a Block Kit message."""

import json

from recon.alerts.channels.base import post, secret
from recon.alerts.config import SlackOptions
from recon.alerts.notices import Notice


def blocks(notice: Notice) -> dict:
    lines = notice.lines()
    return {
        # `text` is the fallback shown in notifications and by clients without blocks.
        "text": notice.title,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": notice.title[:150]}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "\n".join(f"• {line}" for line in lines)[:3000]},
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"notice `{notice.notice_id}`"}],
            },
        ],
    }


class SlackSender:
    def __init__(self, options: SlackOptions) -> None:
        self.options = options

    def send(self, notice: Notice) -> None:
        url = secret(self.options.webhook_url_env)
        body = json.dumps(blocks(notice)).encode()
        post(url, body, {"Content-Type": "application/json"}, self.options.timeout_s)
