"""Notifier service: follow-ups on cadence and SLA alerts, delivered once (contract.md: crm.notifications.v1)."""
