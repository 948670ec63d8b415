"""Messages to subscribers (password resets...) through a pluggable notifier.

The default writes each message to the ``outbox_messages`` table in the caller's transaction,
so a message exists exactly when the change that caused it committed; an operator's relay
(e-mail, SMS, push) reads the outbox and marks rows sent. Another notifier is named by
``SMARTGO_NOTIFIER=package.module:Class``.
"""

from __future__ import annotations

import datetime as dt
import importlib
from abc import ABC, abstractmethod
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from infra.db import Base


class OutboxMessage(Base):
    """A message waiting for the operator's relay."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(254))
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Notifier(ABC):
    """Sends a message of some kind to a subscriber."""

    @abstractmethod
    def send(self, *, db_session: Session, kind: str, recipient: str, payload: dict[str, Any]) -> None:
        """Hand over a message; it must go out only if db_session's transaction commits."""


class OutboxNotifier(Notifier):
    """Writes messages to the outbox table."""

    def send(self, *, db_session: Session, kind: str, recipient: str, payload: dict[str, Any]) -> None:
        db_session.add(OutboxMessage(kind=kind, recipient=recipient, payload=payload,
                                     created_at=dt.datetime.now(dt.UTC)))
        db_session.flush()


def load_notifier(spec: str) -> Notifier:
    """Return the notifier a setting names: "outbox" or "package.module:Class"."""
    if spec == "outbox":
        return OutboxNotifier()
    module, _, name = spec.partition(":")
    if not module or not name:
        raise ValueError(f"SMARTGO_NOTIFIER must be 'outbox' or 'package.module:Class' (got {spec!r})")
    cls = getattr(importlib.import_module(module), name)
    notifier = cls()
    if not isinstance(notifier, Notifier):
        raise ValueError(f"{spec} is not an infra.notify.Notifier")
    return notifier


def outbox(*, db_session: Session, recipient: str | None = None, kind: str | None = None) -> list[OutboxMessage]:
    """Return outbox messages, newest first (for the relay and for tests)."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc())
    if recipient:
        query = query.where(OutboxMessage.recipient == recipient)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return list(db_session.scalars(query))
