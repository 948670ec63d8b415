"""Messages to subscribers (password resets...) through a pluggable notifier.

The default writes each message to the ``outbox_messages`` table in the caller's transaction,
so a message exists exactly when the change that caused it committed; an operator's relay
(e-mail, SMS, push) reads the outbox and marks rows sent. Another notifier is named by
``SMARTGO_NOTIFIER=package.module:Class``. With ``SMARTGO_WEBHOOK_URL`` set, messages of the
subscribed kinds are also armed for the signed webhook relay (infra/webhooks.py).
"""

from __future__ import annotations

import datetime as dt
import importlib
from abc import ABC, abstractmethod
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from infra.db import Base, UTCDateTime
from infra.settings import Settings


class OutboxMessage(Base):
    """A message waiting for the operator's relay."""

    __tablename__ = "outbox_messages"
    # Only messages waiting for the webhook are in it, so finding the due ones stays cheap.
    __table_args__ = (Index("ix_outbox_messages_webhook_due", "webhook_next_at",
                            postgresql_where=text("webhook_next_at IS NOT NULL"),
                            sqlite_where=text("webhook_next_at IS NOT NULL")),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(254))
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The webhook relay: armed when written (next_at set) if the webhook wants the kind; next_at
    # is the next attempt or, while a sender holds the message, the end of its lease; it is
    # cleared once the message is delivered or given up.
    webhook_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    webhook_next_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    webhook_delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    webhook_failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    webhook_error: Mapped[str | None] = mapped_column(String(500))


class Notifier(ABC):
    """Sends a message of some kind to a subscriber."""

    @abstractmethod
    def send(self, *, db_session: Session, kind: str, recipient: str, payload: dict[str, Any]) -> None:
        """Hand over a message; it must go out only if db_session's transaction commits."""


class OutboxNotifier(Notifier):
    """Writes messages to the outbox table."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, *, db_session: Session, kind: str, recipient: str, payload: dict[str, Any]) -> None:

        now = dt.datetime.now(dt.UTC)
        # Armed now rather than picked by kind later: turning the webhook on does not replay
        # the whole history of the outbox to the receiver.
        next_at = now if self.settings.webhook_wants(kind) else None
        db_session.add(OutboxMessage(kind=kind, recipient=recipient, payload=payload, created_at=now,
                                     webhook_next_at=next_at))
        db_session.flush()


def load_notifier(settings: Settings) -> Notifier:
    """Return the notifier settings name (SMARTGO_NOTIFIER): "outbox" or "package.module:Class"."""
    spec = settings.notifier
    if spec == "outbox":
        return OutboxNotifier(settings)
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
