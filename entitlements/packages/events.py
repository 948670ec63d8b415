"""What the package catalogue announces to the playback door, inside the transaction of the change."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CatalogueChanged:
    """A package, its channels or a channel's rights changed: sessions on what changed are re-decided.

    ``channel_ids`` and ``package_code`` narrow who is touched; None means "not by this".
    """

    reason: str
    channel_ids: tuple[str, ...] | None = None
    package_code: str | None = None
