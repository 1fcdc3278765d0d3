"""Tables of the analysts' workbench (revision 0007): the people who triage leads, and the audit trail of
every change they make to a lead (status, assignee, region, notes)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from netwatch.store.models import Base


class User(Base):
    """An analyst (who sees and changes only the leads of their regions) or an admin (all leads)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(200))  # argon2id, with its salt and parameters
    role: Mapped[str] = mapped_column(sa.String(20))
    # Stored as ",海淀,朝阳," like watch targets' tags; empty for admins
    regions: Mapped[str] = mapped_column(sa.String(2000), default=",")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class LeadEvent(Base):
    """One change to a lead: who, when, what (field), from what to what. A note is an event whose new value is
    its text, so a lead keeps all its notes."""

    __tablename__ = "lead_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    user: Mapped[str] = mapped_column(sa.String(100))
    field: Mapped[str] = mapped_column(sa.String(20))  # status, assignee, region, note
    old: Mapped[str | None] = mapped_column(sa.Text)
    new: Mapped[str | None] = mapped_column(sa.Text)
