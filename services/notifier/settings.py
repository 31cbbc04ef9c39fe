from datetime import timedelta

from shared.settings import settings_class


class NotifierSettings(settings_class("notifier", default_port=8004)):  # type: ignore[misc]
    # Test/demo clock: see services/notifier/clock.py.
    clock_offset: timedelta = timedelta(0)
    scheduler_enabled: bool = True
    scheduler_poll_seconds: float = 0.5
    delivery_poll_seconds: float = 0.5
    # E-mail goes through this SMTP server (a relay of the company's mail system).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    mail_from: str = "crm-notifier@localhost"
