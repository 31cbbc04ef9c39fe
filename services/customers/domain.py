"""Pure rules of the customer card: what a snapshot is, how a change moves the revision."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.events import CustomerUpdated

Lifecycle = Literal["prospect", "new", "existing", "lost"]
CustomerNumber = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-./]*$")]
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
PHONE = re.compile(r"^\+?[0-9][0-9 \-()]{4,30}$")


class CustomerIn(BaseModel):
    """A new customer card (the fields the backbone needs; the full card is the customers issue)."""

    model_config = ConfigDict(extra="forbid")

    number: CustomerNumber
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    owner_rep_id: Identifier
    team_id: Identifier
    strategic_partner: bool = False
    high_potential: bool = False
    lifecycle: Lifecycle = "prospect"
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40, pattern=PHONE.pattern)] | None = None
    address: Annotated[str, StringConstraints(max_length=500)] | None = None
    region: Annotated[str, StringConstraints(max_length=100)] | None = None


class CustomerOut(CustomerIn):
    model_config = ConfigDict(extra="ignore")

    customer_id: str
    revision: int = Field(ge=1)


def snapshot(customer_id: str, card: CustomerIn, revision: int) -> CustomerUpdated:
    """The CustomerUpdated payload: the full card after the change."""
    return CustomerUpdated.model_validate(
        {**card.model_dump(), "customer_id": customer_id, "revision": revision}
    )
