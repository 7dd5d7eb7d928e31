"""The key of the natural-person hash: from the environment into the warehouse's restricted schema.

Natural persons' ID numbers leave raw only masked or as `credit.subject_hash(id)`, HMAC-SHA256
with a secret key [rules §9; 001 2017 §5.1-5.2] (sql/45_privacy.sql, docs/privacy.md). The key is
`CREDIT_DW_SUBJECT_HASH_KEY`; `install_hash_key` writes its HMAC pads into
`restricted.subject_hash_key` and runs at the end of `db.bootstrap` (it is idempotent).

WARNING: without the variable a fixed development key is used, which anyone who reads this file
knows: hashes made with it protect nothing. Set a long random secret in every deployment, keep it
in the secret store, and never change it casually: every natural person's subject_id changes
with the key (rebuild the marts the same night).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os

from credit_dw.db.connect import connect

log = logging.getLogger(__name__)

ENV_VAR = "CREDIT_DW_SUBJECT_HASH_KEY"
#: Development only (see the module docstring).
DEVELOPMENT_KEY = "credit-dw-development-key-not-a-secret"
BLOCK_SIZE = 64  # SHA-256 block, RFC 2104


def hash_key() -> bytes:
    """The configured key (UTF-8), or the development key with a warning."""
    key = os.environ.get(ENV_VAR)
    if not key:
        log.warning("%s is not set: natural persons are hashed with the public development key", ENV_VAR)
        key = DEVELOPMENT_KEY
    return key.encode("utf-8")


def normalize_id(id_number: str) -> str:
    """As `credit.normalize_code`: full-width forms to half-width, trimmed, upper case."""
    wide = [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]
    half = id_number.translate({c: c - 0xFEE0 for c in wide} | {0x3000: 0x20})
    return half.strip(" \t\r\n").upper()


def subject_hash(id_number: str, key: bytes | None = None) -> str:
    """What `credit.subject_hash` returns for the same ID and key (hex HMAC-SHA256)."""
    key = hash_key() if key is None else key
    return hmac.new(key, normalize_id(id_number).encode("utf-8"), hashlib.sha256).hexdigest()


def _pads(key: bytes) -> tuple[bytes, bytes]:
    if len(key) > BLOCK_SIZE:
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK_SIZE, b"\x00")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def fingerprint(key: bytes) -> str:
    """A short public tag of the key (to see which key a warehouse holds without revealing it)."""
    return hmac.new(key, b"credit_dw subject hash key fingerprint", hashlib.sha256).hexdigest()[:16]


def install_hash_key(url: str | None = None) -> str:
    """Write the key's HMAC pads into restricted.subject_hash_key; returns the key's fingerprint.

    Idempotent; logs a warning when the installed key changes (every person's subject_id changes).
    """
    key = hash_key()
    inner, outer = _pads(key)
    tag = fingerprint(key)
    with connect(url) as conn:
        previous = conn.execute(
            "select key_fingerprint from restricted.subject_hash_key where key_id = 1").fetchone()
        if previous and previous[0] != tag:
            log.warning("subject hash key changed (%s -> %s): natural persons' subject_id values change",
                        previous[0], tag)
        conn.execute(
            """insert into restricted.subject_hash_key (key_id, inner_pad, outer_pad, key_fingerprint)
               values (1, %s, %s, %s)
               on conflict (key_id) do update set inner_pad = excluded.inner_pad, outer_pad = excluded.outer_pad,
                   key_fingerprint = excluded.key_fingerprint,
                   installed_at = case when restricted.subject_hash_key.key_fingerprint = excluded.key_fingerprint
                                       then restricted.subject_hash_key.installed_at else now() end""",
            (inner, outer, tag),
        )
    return tag
