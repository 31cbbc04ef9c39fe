"""Topic names of the public contract (contract.md) and their dead-letter twins."""

CUSTOMERS = "crm.customers.v1"
ORDERS = "crm.orders.v1"
COMPLAINTS = "crm.complaints.v1"
GRADING = "crm.grading.v1"
NOTIFICATIONS = "crm.notifications.v1"

ALL = (CUSTOMERS, ORDERS, COMPLAINTS, GRADING, NOTIFICATIONS)


def dlq(topic: str) -> str:
    return f"{topic}.dlq"


def named(topic: str, prefix: str = "") -> str:
    """The physical topic name; a prefix isolates test runs sharing one broker."""
    return f"{prefix}{topic}"
