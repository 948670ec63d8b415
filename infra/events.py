"""How a lower package reaches a higher one without importing it: events, and provided functions.

Events inside the transaction: a lower package announces a change, higher ones react.

A package that must tell others of a change it makes (a channel created, a guide changed, an
account's packages changed) publishes an event; the packages above that care subscribe to it, and
every subscription is listed in one module (``infra.composition.wiring``). Handlers run at once,
in the publisher's session and so in its transaction: what they write commits or rolls back with
the change itself. Messages to other processes still go over the bus after commit.

A provided function is the other direction: a lower package needs an answer only a higher one
can give (the recorder asks the playback door whether a subscriber may record). It declares a
`Provided` and calls it; the composition provides the implementation at start-up.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

E = TypeVar("E")
F = TypeVar("F", bound=Callable[..., Any])
Handler = Callable[[Session, Any], None]

_handlers: dict[type, list[Handler]] = defaultdict(list)


def subscribe(event_type: type[E], handler: Callable[[Session, E], None]) -> None:
    """Call handler(db_session, event) for every event of event_type published from now on (once per handler)."""
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


def unsubscribe_all() -> None:
    """Forget every subscription (the wiring starts again from nothing, bound to a new runtime)."""
    _handlers.clear()


def publish(db_session: Session, event: object) -> None:
    """Hand event to its subscribers, in the order they subscribed, inside db_session's transaction."""
    for handler in _handlers.get(type(event), ()):
        handler(db_session, event)


def subscribers(event_type: type) -> list[Handler]:
    """Return the handlers subscribed to event_type (for tests and the architecture document)."""
    return list(_handlers.get(event_type, ()))


class Provided(Generic[F]):
    """A function a lower package calls and the composition provides (wired in one module)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.implementation: F | None = None

    def provide(self, implementation: F) -> None:
        """Use implementation from now on (the composition does, once per process)."""
        self.implementation = implementation

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the implementation; refuse clearly when the composition did not provide one."""
        if self.implementation is None:
            raise RuntimeError(f"{self.what} is not provided (infra.composition.wiring)")
        return self.implementation(*args, **kwargs)
