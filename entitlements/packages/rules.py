"""Pure entitlement rules: how package limits combine, and the login throttle's schedule."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

LIMITS = ("max_devices", "max_streams", "recording_hours")


@dataclass(frozen=True)
class PackageLimits:
    """The limits one package grants; None means the package says nothing about that limit."""

    kind: str  # base | addon
    max_devices: int | None = None
    max_streams: int | None = None
    recording_hours: int | None = None


def combine_limits(packages: Iterable[PackageLimits]) -> dict[str, int | None]:
    """Combine the limits of several active packages.

    The rule: for each limit, the largest value among base packages wins; every add-on
    that sets the limit then adds its value on top. A limit no package sets is None
    (the caller applies its default). Base packages do not add up because operators sell
    them as tiers (Start, Comfort, Max): holding two tiers must not double the streams.
    Add-ons are sold as extras (+2 streams, +50 recording hours) and so they add.
    """
    packages = list(packages)
    out: dict[str, int | None] = {}
    for limit in LIMITS:
        base = [getattr(p, limit) for p in packages if p.kind == "base" and getattr(p, limit) is not None]
        extra = [getattr(p, limit) for p in packages if p.kind == "addon" and getattr(p, limit) is not None]
        if not base and not extra:
            out[limit] = None
        else:
            out[limit] = (max(base) if base else 0) + sum(extra)
    return out


@dataclass(frozen=True)
class ThrottlePolicy:
    """When repeated login attempts are slowed down and locked out (per account, per address)."""

    free_attempts: int = 3  # attempts before any delay
    base_delay_s: float = 1.0  # the delay before the next attempt doubles from here
    max_delay_s: float = 60.0
    lock_after: int = 10  # attempts within the window that lock the key
    window_s: float = 1800.0
    lock_s: float = 1800.0

    def delay_after(self, attempts: int) -> float:
        """Return how long the next attempt must wait after this many failed attempts."""
        if attempts < self.free_attempts:
            return 0.0
        return min(self.max_delay_s, self.base_delay_s * 2 ** (attempts - self.free_attempts))

    def guesses_per_hour(self) -> float:
        """Return the most passwords one account lets a guesser check per hour (steady state)."""
        return self.lock_after * 3600 / max(self.lock_s, self.window_s)

