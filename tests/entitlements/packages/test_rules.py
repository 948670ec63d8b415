"""Pure entitlement rules as tables: limits, throttle schedule, tokens, codes, signatures."""

from __future__ import annotations

import pytest

from entitlements.accounts.billing import signature
from entitlements.accounts.tokens import (
    AccessClaims,
    PlaybackGrant,
    PlaybackTokens,
    TokenKeys,
    new_user_code,
    normalize_user_code,
)
from entitlements.packages.rules import PackageLimits as P
from entitlements.packages.rules import ThrottlePolicy, combine_limits


@pytest.mark.parametrize("packages,expected", [
    ([], {"max_devices": None, "max_streams": None, "recording_hours": None}),
    ([P("base", 3, 2, 50)], {"max_devices": 3, "max_streams": 2, "recording_hours": 50}),
    # The largest base wins, limit by limit: tiers do not add up.
    ([P("base", 3, 2, 50), P("base", 5, 1, None)], {"max_devices": 5, "max_streams": 2, "recording_hours": 50}),
    # Add-ons add on top of the best base.
    ([P("base", 3, 2, 50), P("addon", None, 2, None), P("addon", 1, None, 100)],
     {"max_devices": 4, "max_streams": 4, "recording_hours": 150}),
    # An add-on alone still grants what it adds.
    ([P("addon", None, None, 20)], {"max_devices": None, "max_streams": None, "recording_hours": 20}),
    ([P("base", 0, 0, 0), P("addon", None, 1, None)], {"max_devices": 0, "max_streams": 1, "recording_hours": 0}),
])
def test_combine_limits(packages, expected) -> None:  # noqa: ANN001
    assert combine_limits(packages) == expected


@pytest.mark.parametrize("attempts,delay", [(1, 0), (2, 0), (3, 1), (4, 2), (5, 4), (8, 32), (9, 60), (50, 60)])
def test_throttle_delays_double_after_the_free_attempts(attempts, delay) -> None:  # noqa: ANN001
    assert ThrottlePolicy().delay_after(attempts) == delay


def test_access_tokens_verify_across_key_rotation_and_expire() -> None:
    old = TokenKeys("old-secret-" + "o" * 16)
    token = old.sign(AccessClaims("sub1", "dev1", "ses1", 2_000), issued_at=1_000)
    rotated = TokenKeys("new-secret-" + "n" * 16, ["old-secret-" + "o" * 16])
    assert rotated.verify(token, now=1_500) == AccessClaims("sub1", "dev1", "ses1", 2_000)
    assert rotated.verify(token, now=2_000) is None  # expired
    assert TokenKeys("new-secret-" + "n" * 16).verify(token, now=1_500) is None  # old key retired
    assert rotated.verify(token[:-3] + "xyz", now=1_500) is None


def test_user_codes_are_short_unambiguous_and_forgiving() -> None:
    code = new_user_code()
    assert len(code) == 9 and code[4] == "-" and not set(code.replace("-", "")) & set("AEIOUY01")
    assert normalize_user_code(code.lower().replace("-", " ")) == code
    assert normalize_user_code("bcdf ghjk") == "BCDF-GHJK"


def test_billing_signature_covers_every_part_of_the_request() -> None:
    base = signature("s", "100", "PUT", "/v1/x", b"{}", "r1")
    variants = [signature("t", "100", "PUT", "/v1/x", b"{}", "r1"), signature("s", "101", "PUT", "/v1/x", b"{}", "r1"),
                signature("s", "100", "POST", "/v1/x", b"{}", "r1"), signature("s", "100", "PUT", "/v1/y", b"{}", "r1"),
                signature("s", "100", "PUT", "/v1/x", b"{ }", "r1"), signature("s", "100", "PUT", "/v1/x", b"{}", "r2")]
    assert base == signature("s", "100", "put", "/v1/x", b"{}", "r1") and base not in variants
    assert len(set(variants)) == len(variants)


def test_playback_tokens_survive_key_rotation_and_refuse_tampering() -> None:

    grant = PlaybackGrant("ab" * 16, "cd" * 16, "ef" * 16, "channel:tvp1", "timeshift", 2_000)
    old_secret, new_secret = "old-secret-" + "o" * 16, "new-secret-" + "n" * 16
    token = PlaybackTokens(old_secret).sign(grant)
    rotated = PlaybackTokens(new_secret, [old_secret])
    assert rotated.verify(token, now=1_000) == grant  # running sessions keep playing
    assert rotated.verify(rotated.sign(grant), now=1_000) == grant
    assert PlaybackTokens(new_secret).verify(token, now=1_000) is None  # the old key retired
    assert rotated.verify(token, now=2_000) is None  # expired
    body, mac = token.split(".")
    assert rotated.verify(body[:-2] + "AA" + "." + mac, now=1_000) is None
    assert rotated.verify(token + "x", now=1_000) is None and rotated.verify("", now=1_000) is None
