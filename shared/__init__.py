"""The project's own chassis: events, outbox, inbox, consumers, settings, health, local stack."""
