"""Pure entitlement rules: the rights content carries and their overrides, how package limits combine, and the login throttle's schedule."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace

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


@dataclass(frozen=True)
class Rights:
    """What may be done with a piece of content (a channel, later a programme or a title)."""

    live: bool = True
    timeshift: bool = True
    timeshift_window_s: int | None = None  # None: the channel's own window
    startover: bool = True
    catchup: bool = True
    catchup_days: int = 7
    recording: bool = True
    recording_copy: str = "shared"  # private: each recording plays from a copy of its own
    device_types: frozenset[str] | None = None  # None: every device type
    countries: frozenset[str] | None = None  # ISO 3166 alpha-2 allow-list; None: anywhere
    age_rating: int | None = None  # the content's rating on the Polish scale (0 = AL, 7 ... 18)

    def allows_mode(self, mode: str) -> bool:
        """Tell whether these rights allow a playback mode."""
        return {"live": self.live, "timeshift": self.timeshift, "startover": self.startover,
                "catchup": self.catchup, "recording": self.recording, "vod": True}.get(mode, False)

    def overridden(self, override: "RightsOverride | None") -> "Rights":
        """Return these rights with an override's set fields applied (programme or title level)."""
        if override is None:
            return self
        changes = {f.name: getattr(override, f.name) for f in fields(override)
                   if getattr(override, f.name) is not None}
        return replace(self, **changes)


@dataclass(frozen=True)
class RightsOverride:
    """A narrower level's rights: each field that is not None replaces the wider level's."""

    live: bool | None = None
    timeshift: bool | None = None
    timeshift_window_s: int | None = None
    startover: bool | None = None
    catchup: bool | None = None
    catchup_days: int | None = None
    recording: bool | None = None
    device_types: frozenset[str] | None = None
    countries: frozenset[str] | None = None
    age_rating: int | None = None
