"""Password and API-key hashes: what the users file holds instead of the secret."""

import hashlib

import pytest

from recon.web.passwords import ScryptHash, hash_secret, parse_hash, verify_secret


def test_a_hash_verifies_its_password_and_nothing_else():
    stored = hash_secret("correct horse")
    assert verify_secret("correct horse", parse_hash(stored))
    assert not verify_secret("correct hors", parse_hash(stored))
    assert not verify_secret("Correct horse", parse_hash(stored))
    assert "correct horse" not in stored


def test_a_hash_names_its_scheme_and_cost_and_is_salted():
    first, second = hash_secret("same"), hash_secret("same")
    assert first.startswith("scrypt$n=16384,r=8,p=1$")
    assert first != second  # a random salt each time: equal passwords do not show
    assert str(parse_hash(first)) == first


def test_a_hash_made_with_other_parameters_still_verifies():
    # A config may carry stronger parameters than today's defaults (or older, weaker ones).
    salt = b"0123456789abcdef"
    key = hashlib.scrypt(b"pw", salt=salt, n=2**12, r=4, p=2, dklen=24)
    stored = str(ScryptHash(2**12, 4, 2, salt, key))
    assert verify_secret("pw", parse_hash(stored))
    assert not verify_secret("pw2", parse_hash(stored))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("hunter2", "not a scrypt hash"),
        ("bcrypt$n=16384,r=8,p=1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==", "not a scrypt hash"),
        ("scrypt$n=1000,r=8,p=1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==", "power of two"),
        ("scrypt$n=16384,r=8,p=1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA=", "not base64"),
        ("scrypt$n=16384,r=8,p=1$AAAA$AAAAAAAAAAAAAAAAAAAAAA==", "too short"),
        ("scrypt$n=4294967296,r=8,p=1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==", "out of range"),
    ],
)
def test_a_malformed_hash_is_refused_with_how_to_make_one(text, says):
    with pytest.raises(ValueError, match=says) as refused:
        parse_hash(text)
    assert "recon web hash-password" in str(refused.value)


def test_an_empty_password_is_not_hashed():
    with pytest.raises(ValueError, match="empty"):
        hash_secret("")
