"""Complaints service: the six-step workflow with tier-based SLAs (contract.md: crm.complaints.v1)."""
