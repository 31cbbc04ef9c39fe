"""Grading service: A/B/C tiers from the money (contract.md: consumes crm.orders.v1, crm.customers.v1; publishes crm.grading.v1)."""
