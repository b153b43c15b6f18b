"""E-mail over SMTP, with a plain-text and an HTML part."""

import smtplib
from email.message import EmailMessage
from html import escape

from recon.alerts.channels.base import DeliveryError, secret
from recon.alerts.config import EmailOptions
from recon.alerts.notices import Notice


def message(notice: Notice, options: EmailOptions) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = notice.title
    mail["From"] = options.sender
    mail["To"] = ", ".join(options.recipients)
    mail["X-Recon-Notice-Id"] = notice.notice_id
    lines = notice.lines()
    mail.set_content("\n".join([notice.title, "", *lines]) + "\n")
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    mail.add_alternative(
        f"<html><body><h2>{escape(notice.title)}</h2><ul>{items}</ul></body></html>",
        subtype="html",
    )
    return mail


class EmailSender:
    def __init__(self, options: EmailOptions) -> None:
        self.options = options

    def send(self, notice: Notice) -> None:
        options = self.options
        password = secret(options.password_env) if options.password_env else None
        try:
            with smtplib.SMTP(options.host, options.port, timeout=options.timeout_s) as smtp:
                if options.starttls:
                    smtp.starttls()
                if options.username and password:
                    smtp.login(options.username, password)
                smtp.send_message(message(notice, options))
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryError(f"{type(error).__name__}: {error}") from error
