"""Login back-off and temporary lock-out, per account and per client address, on the shared cache.

Every attempt on an account is counted before its password is checked, with an atomic
counter, so parallel guessers cannot slip past the limit: at most ``lock_after`` passwords
are checked per account and window, however many requests arrive at once. A success clears
the account's count. An address counts only its failures, so the successful logins of many
households behind one carrier NAT never lock it.
"""

from __future__ import annotations

import math
import time

from entitlements.accounts.errors import LoginThrottled
from entitlements.packages.rules import ThrottlePolicy
from infra.cache import Cache


class LoginThrottle:
    """Admits or refuses login attempts for a set of keys (account, address)."""

    def __init__(self, cache: Cache) -> None:
        self.cache = cache

    def check(self, key: str) -> None:
        """Raise LoginThrottled if key is locked or must still wait."""
        now = time.time()
        for kind in ("lock", "gate"):
            until = self.cache.get(f"login:{kind}:{key}")
            if until is not None and float(until) > now:
                raise _throttled(float(until) - now)

    def admit(self, key: str, policy: ThrottlePolicy) -> int:
        """Count an attempt on key before it is checked; raise LoginThrottled if it must wait."""
        self.check(key)
        attempts = self.cache.incr(f"login:count:{key}", policy.window_s)
        if attempts > policy.lock_after:
            self._lock(key, policy, time.time())
            raise _throttled(policy.lock_s)
        return attempts

    def failed(self, key: str, policy: ThrottlePolicy, attempts: int | None = None) -> float:
        """Record a failed attempt (counted now unless admit counted it); return the wait it causes."""
        if attempts is None:
            attempts = self.cache.incr(f"login:count:{key}", policy.window_s)
        now = time.time()
        if attempts >= policy.lock_after:
            self._lock(key, policy, now)
            return policy.lock_s
        delay = policy.delay_after(attempts)
        if delay > 0:
            self.cache.set(f"login:gate:{key}", str(now + delay).encode(), delay)
        return delay

    def succeeded(self, key: str) -> None:
        """Forget the failures of key (after a correct password)."""
        self.cache.delete(f"login:count:{key}", f"login:gate:{key}")

    def _lock(self, key: str, policy: ThrottlePolicy, now: float) -> None:
        self.cache.add(f"login:lock:{key}", str(now + policy.lock_s).encode(), policy.lock_s)


def _throttled(wait_s: float) -> LoginThrottled:
    retry = max(1, math.ceil(wait_s))
    return LoginThrottled("too many login attempts; try again later", retry_after_s=retry)
