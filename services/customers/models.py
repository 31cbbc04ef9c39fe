"""Tables owned by the customers service."""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class Customer(SQLModel, table=True):
    __tablename__ = "customers"

    customer_id: str = Field(primary_key=True, max_length=64)
    number: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    name: str = Field(max_length=200)
    owner_rep_id: str = Field(max_length=64, index=True)
    team_id: str = Field(max_length=64, index=True)
    strategic_partner: bool = False
    high_potential: bool = False
    lifecycle: str = Field(default="prospect", max_length=16)
    card: dict = Field(default_factory=dict, sa_type=sa.JSON)
    revision: int = 1
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
