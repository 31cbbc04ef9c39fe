"""The [customers] section of the policy file: the archive's tunable rules."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator

from shared.policy import Duration, PolicyModel, load_section


class CustomersPolicy(PolicyModel):
    # Template 1: a follow-up record is due within 24 h of the contact; later ones are flagged late.
    record_within: Duration = timedelta(hours=24)
    # Window of "12-month purchases" in trading status and portfolios.
    purchases_window: Duration = timedelta(days=365)
    # Dates (overdue payments) are judged in this time zone.
    timezone: str = "Asia/Shanghai"
    page_size: int = Field(default=50, ge=1, le=1000)
    max_page_size: int = Field(default=200, ge=1, le=5000)
    import_max_rows: int = Field(default=200_000, ge=1)
    import_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone
        return value


def load() -> CustomersPolicy:
    return load_section("customers", CustomersPolicy)
