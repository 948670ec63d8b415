"""Password hashing with argon2id.

Parameters: 19 MiB of memory, 2 passes, 1 lane: OWASP's recommended argon2id setting
(Password Storage Cheat Sheet). It costs about 37 ms of one core here, so a 2-core API node
signs in about 40 subscribers a second (docs/benchmarks.md) while a stolen hash costs an
attacker 19 MiB and 2 passes per guess. RFC 9106's 64 MiB, 3 passes cost several times the
CPU per login; online, the login throttle bounds guessing anyway. Hashes carry their parameters,
so raising them later re-hashes each password at its next successful login.
"""

from __future__ import annotations

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16)
# Checked when the login is unknown, so an unknown login costs what a wrong password costs.
_DUMMY_HASH = HASHER.hash("smartgo-no-such-account")

MIN_LENGTH, MAX_LENGTH = 8, 256


def hash_password(password: str) -> str:
    """Return the argon2id PHC string of a password."""
    return HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Tell whether password matches; spends the same time when there is no stored hash."""
    try:
        return HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Tell whether a hash was made with other parameters than today's."""
    try:
        return HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return False


def is_argon2_hash(value: str) -> bool:
    """Tell whether value is an argon2id PHC string of sane cost (billing may hand us one)."""
    if not value.startswith("$argon2id$") or len(value) > 200:
        return False
    try:
        params = extract_parameters(value)
    except InvalidHashError:
        return False
    # A hash that asks for more than 64 MiB or 4 passes would let one login stall a node.
    return params.memory_cost <= 65536 and params.time_cost <= 4 and params.parallelism <= 4


def password_problem(password: str) -> str | None:
    """Return why a new password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password has at most {MAX_LENGTH} characters"
    if password.isdigit() and len(set(password)) <= 2:
        return "a password may not be one repeated digit pattern"
    return None
