"""Customers service: the living customer archive (contract.md: crm.customers.v1, crm.orders.v1)."""
