"""A pure-Python keywheel written from SPEC.md alone, on hashlib.blake2b.

It shares no code with keywheel (no import of it): the tests compare the binding against these
functions. Everything raises AssertionError on inputs the spec refuses; the tests check refusals
against the spec's ranges separately.
"""

from __future__ import annotations

import base64
import hashlib
from typing import List, Tuple

MIN_INTERVAL = 10
MAX_INTERVAL = 604800
MIN_TIME = 1_000_000
MAX_TIME = 100_000_000_000
MAX_TICKET_AGE = 604800


def derive(main: bytes, context: bytes, subkey_id: int, length: int) -> bytes:
    """SPEC §2: BLAKE2b(key=M[0..32], salt=LE64(id)||0^8, person=ctx||0^8, empty message)."""
    assert len(main) >= 32 and len(context) == 8 and 16 <= length <= 64
    assert 0 <= subkey_id < 2**64
    return hashlib.blake2b(
        b"",
        digest_size=length,
        key=main[:32],
        salt=subkey_id.to_bytes(8, "little") + bytes(8),
        person=context + bytes(8),
    ).digest()


def valid_interval(interval: int) -> bool:
    return interval % 2 == 0 and MIN_INTERVAL <= interval <= MAX_INTERVAL


def valid_time(now: int) -> bool:
    return MIN_TIME <= now <= MAX_TIME


def tfo_slot(interval: int, now: int) -> Tuple[int, int, int]:
    """SPEC §3.2: (primary, backup, next_wake)."""
    assert valid_interval(interval) and valid_time(now)
    half = interval // 2
    primary = now // interval
    start = primary * interval
    if now - start >= half:
        return primary, primary + 1, start + interval
    return primary, primary - 1, start + half


def tfo_key(main: bytes, counter: int) -> bytes:
    return derive(main, b"tofurkey", counter, 16)


def procfs_text(primary: bytes, backup: bytes) -> str:
    """SPEC §3.3: each key as 4 groups of 8 lowercase hex digits joined by '-'."""

    def one(k: bytes) -> str:
        h = k.hex()
        return "-".join(h[i : i + 8] for i in range(0, 32, 8))

    return one(primary) + "," + one(backup)


def label_key(main: bytes, label: str) -> bytes:
    """SPEC §4.1."""
    raw = label.encode("utf-8")
    assert 1 <= len(raw) <= 64
    return hashlib.blake2b(raw, digest_size=32, key=main[:32], person=b"keywheel.label").digest()


KEY_LEN = {"aes256": 32, "aes128": 16}


def ticket_key(main: bytes, label: str, strength: str, counter: int) -> Tuple[bytes, bytes, bytes]:
    """SPEC §4.2: (name, aes, hmac)."""
    lk = label_key(main, label)
    bits = "256" if strength == "aes256" else "128"
    n = KEY_LEN[strength]
    name = derive(lk, f"kwtn-{bits}".encode(), counter, 16)
    material = derive(lk, f"kwtk-{bits}".encode(), counter, 2 * n)
    return name, material[:n], material[n:]


def ticket_window(interval: int, keep: int, now: int) -> List[Tuple[int, str]]:
    """SPEC §4.3: (counter, role) oldest first; role 'current', 'next' or 'previous N'."""
    assert valid_interval(interval) and valid_time(now)
    assert (keep + 1) * interval <= MAX_TICKET_AGE and keep >= 0
    c = now // interval
    out = [(c - k, f"previous {k}") for k in range(keep, 0, -1)]
    return out + [(c, "current"), (c + 1, "next")]


# SPEC.md §4.4 (server formats): per format, strength, layout, and which keys in which order.
FORMATS = {
    # name: (strength, layout, order, base64)
    "nginx": ("aes256", "hmac_aes", "current_next_previous", False),
    "nginx48": ("aes128", "aes_hmac", "current_next_previous", False),
    "haproxy": ("aes256", "aes_hmac", "previous_current_next", True),
    "haproxy48": ("aes128", "aes_hmac", "previous_current_next", True),
    "apache": ("aes128", "hmac_aes", "current", False),
    "ats": ("aes128", "hmac_aes", "current_next_previous", False),
    "openssl": ("aes256", "hmac_aes", "current", False),
}


def record(name: bytes, aes: bytes, hmac: bytes, layout: str) -> bytes:
    return name + (hmac + aes if layout == "hmac_aes" else aes + hmac)


def format_counters(fmt: str, interval: int, keep: int, now: int) -> List[int]:
    """The counters of the keys a server format holds, in file order."""
    _, _, order, _ = FORMATS[fmt]
    c = now // interval
    if order == "current":
        return [c]
    if order == "previous_current_next":
        assert keep == 1, "HAProxy holds exactly previous, current, next"
        return [c - 1, c, c + 1]
    return [c, c + 1] + [c - k for k in range(1, keep + 1)]


def render_records(main: bytes, label: str, fmt: str, interval: int, keep: int, now: int) -> List[bytes]:
    """Each record of the format as stored (raw bytes, or a base64 line ending in '\\n')."""
    strength, layout, _, b64 = FORMATS[fmt]
    out = []
    for counter in format_counters(fmt, interval, keep, now):
        rec = record(*ticket_key(main, label, strength, counter), layout)
        out.append(base64.b64encode(rec) + b"\n" if b64 else rec)
    return out
