"""Password and API-key hashes: scrypt from the standard library with a random salt, kept as one
self-describing string `scrypt$n=16384,r=8,p=1$<salt>$<key>` (base64), so that the cost can be
raised later without breaking the hashes already written in a config."""

import base64
import binascii
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

# About 50 ms and 16 MiB per hash on a laptop: slow enough to make guessing costly, fast enough
# for a sign-in. OWASP's minimum for scrypt is n=2^17 with r=8 at p=1 *or* this n with more p;
# a config may carry stronger parameters, which `verify_secret` honours.
N, R, P = 2**14, 8, 1
SALT_BYTES = 16
KEY_BYTES = 32
SCHEME = "scrypt"
# Bounds for parameters read from a config: a typo must not ask for gigabytes per sign-in.
_MAX_N, _MAX_R, _MAX_P = 2**20, 32, 16
_FORMAT = re.compile(
    r"scrypt\$n=(?P<n>\d+),r=(?P<r>\d+),p=(?P<p>\d+)\$(?P<salt>[A-Za-z0-9+/=]+)\$(?P<key>[A-Za-z0-9+/=]+)"
)
HOW_TO_HASH = "`recon web hash-password` prints one"


@dataclass(frozen=True)
class ScryptHash:
    n: int
    r: int
    p: int
    salt: bytes
    key: bytes

    def __repr__(self) -> str:
        return f"ScryptHash(n={self.n}, r={self.r}, p={self.p})"

    def __str__(self) -> str:
        salt, key = (base64.b64encode(value).decode() for value in (self.salt, self.key))
        return f"{SCHEME}$n={self.n},r={self.r},p={self.p}${salt}${key}"


def _derive(secret: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    # maxmem: scrypt needs 128 * r * n bytes (and some); OpenSSL's default cap is 32 MiB.
    return hashlib.scrypt(
        secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=256 * r * n + 2**20
    )


def hash_secret(secret: str) -> str:
    """The string to put in the users file for this password or API key."""
    if not secret:
        raise ValueError("an empty password cannot be hashed")
    salt = os.urandom(SALT_BYTES)
    return str(ScryptHash(N, R, P, salt, _derive(secret, salt, N, R, P, KEY_BYTES)))


def parse_hash(text: str) -> ScryptHash:
    """A stored hash, checked; ValueError says what is wrong (never quoting the hash)."""
    match = _FORMAT.fullmatch(text.strip())
    if not match:
        raise ValueError(
            f"not a scrypt hash of the form scrypt$n=…,r=…,p=…$salt$key ({HOW_TO_HASH})"
        )
    n, r, p = (int(match[name]) for name in ("n", "r", "p"))
    if n < 2 or n & (n - 1) or n > _MAX_N or not 1 <= r <= _MAX_R or not 1 <= p <= _MAX_P:
        raise ValueError(
            f"scrypt parameters out of range: n must be a power of two up to {_MAX_N}, r 1 to "
            f"{_MAX_R}, p 1 to {_MAX_P} ({HOW_TO_HASH})"
        )
    try:
        salt, key = (base64.b64decode(match[name], validate=True) for name in ("salt", "key"))
    except binascii.Error:
        raise ValueError(
            f"the salt or key of this scrypt hash is not base64 ({HOW_TO_HASH})"
        ) from None
    if len(salt) < 8 or len(key) < 16:
        raise ValueError(f"this scrypt hash's salt or key is too short ({HOW_TO_HASH})")
    return ScryptHash(n, r, p, salt, key)


def verify_secret(secret: str, stored: ScryptHash) -> bool:
    """Whether `secret` is the one `stored` was made from (compared in constant time)."""
    derived = _derive(secret, stored.salt, stored.n, stored.r, stored.p, len(stored.key))
    return hmac.compare_digest(derived, stored.key)


# Checked when a name is unknown, so that a sign-in takes as long whether or not the user exists.
DUMMY = parse_hash("scrypt$n=16384,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 43 + "=")
