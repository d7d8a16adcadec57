"""Forward-secure mode written from the design text only (FORWARD_SECRECY.md, SPEC.md section
"Forward-secure mode"), with Python's hashlib.blake2b: the GGM tree over unix seconds, the
canonical cover, the state file (writer and strict reader), leaves, ticket keys and TFO keys.

Node values are computed the slow, obvious way — every node walked down from the root — so
that nothing here shares the incremental cover and advance logic of keywheel's core.
"""

import struct
from datetime import datetime, timezone
from functools import lru_cache
from hashlib import blake2b

from independent import STRENGTHS, TICKET_NAME_LEN, TicketKey, derive_both

DEPTH = 40
END = 1 << DEPTH  # leaves are the seconds 0 .. 2^40
SEED_LEN = 32
MAGIC = b"KWFS"
VERSION = 1
HEADER_LEN = 25  # magic 4, version 1, depth 1, flags 2, root id 8, s0 8, n 1
CHECKSUM_LEN = 16


def _salt(n: int) -> bytes:
    return struct.pack("<Q", n) + bytes(8)


def _person(p: bytes) -> bytes:
    assert len(p) <= 16
    return p + bytes(16 - len(p))


def _h(key: bytes, salt_n: int, person: bytes, message: bytes = b"", size: int = 32) -> bytes:
    """BLAKE2b(key, salt = LE64(salt_n) || 0^8, personal = person || 0..., message)."""
    return blake2b(message, digest_size=size, key=key, salt=_salt(salt_n),
                   person=_person(person)).digest()


def root(seed: bytes) -> bytes:
    assert len(seed) == SEED_LEN
    return _h(seed, DEPTH, b"keywheel.fsroot")


def root_id(seed: bytes) -> bytes:
    return blake2b(b"", digest_size=8, key=root(seed), person=_person(b"keywheel.fsid")).digest()


def child(v: bytes, h: int, right: bool) -> bytes:
    """Child at height h of a node at height h + 1."""
    return _h(v, h, b"keywheel.fs.R" if right else b"keywheel.fs.L")


@lru_cache(maxsize=1 << 16)
def node(seed: bytes, h: int, p: int) -> bytes:
    """The value of node (h, p), covering seconds [p * 2^h, (p + 1) * 2^h), from the root."""
    assert 0 <= h <= DEPTH and 0 <= p < (1 << (DEPTH - h))
    if h == DEPTH:
        return root(seed)
    return child(node(seed, h + 1, p >> 1), h, bool(p & 1))


def leaf(seed: bytes, s: int) -> bytes:
    assert 0 <= s < END
    return node(seed, 0, s)


def cover(s0: int) -> list[tuple[int, int]]:
    """The canonical cover of [s0, 2^40), by the design's definition."""
    assert 0 <= s0 < END
    if s0 == 0:
        return [(DEPTH, 0)]
    j = (s0 & -s0).bit_length() - 1
    out = [(j, s0 >> j)]
    for h in range(j + 1, DEPTH):
        if not (s0 >> h) & 1:
            out.append((h, (s0 >> h) + 1))
    return out


def cover_by_ranges(s0: int) -> list[tuple[int, int]]:
    """The same cover found another way: greedily take, from second t = s0 on, the largest
    aligned block that starts at t and fits below 2^40."""
    out, t = [], s0
    while t < END:
        h = DEPTH if t == 0 else (t & -t).bit_length() - 1
        while t + (1 << h) > END:
            h -= 1
        out.append((h, t >> h))
        t += 1 << h
    return out


def state_file(seed: bytes, s0: int) -> bytes:
    c = cover(s0)
    body = (MAGIC + bytes([VERSION, DEPTH]) + struct.pack("<H", 0) + root_id(seed)
            + struct.pack("<Q", s0) + bytes([len(c)])
            + b"".join(node(seed, h, p) for h, p in c))
    return body + checksum(body)


def checksum(body: bytes) -> bytes:
    return blake2b(body, digest_size=CHECKSUM_LEN, person=_person(b"keywheel.fsck")).digest()


def file_problem(data: bytes) -> str | None:
    """The first problem of a state file, in file order, as the name of keywheel's
    StateFileError variant; None for a valid file."""
    head = data[:4]
    if head != MAGIC[:len(head)]:
        return "Magic"
    if len(data) < HEADER_LEN:
        return "TruncatedHeader"
    if data[4] != VERSION:
        return "Version"
    if data[5] != DEPTH:
        return "Depth"
    if struct.unpack("<H", data[6:8])[0] != 0:
        return "Flags"
    s0 = struct.unpack("<Q", data[16:24])[0]
    if s0 >= END:
        return "Start"
    n = data[24]
    if n != len(cover(s0)):
        return "NodeCount"
    expected = HEADER_LEN + 32 * n + CHECKSUM_LEN
    if len(data) < expected:
        return "Truncated"
    if len(data) > expected:
        return "Trailing"
    if checksum(data[:-CHECKSUM_LEN]) != data[-CHECKSUM_LEN:]:
        return "Checksum"
    return None


def fs_label_key(seed: bytes, interval: int, counter: int, label: bytes) -> bytes:
    return _h(leaf(seed, counter * interval), interval, b"keywheel.fslabel", label)


def fs_ticket_key(seed: bytes, label: bytes, interval: int, strength: str,
                  counter: int) -> TicketKey:
    s = STRENGTHS[strength]
    lk = fs_label_key(seed, interval, counter, label)
    name = derive_both(lk, s.name_context, counter, TICKET_NAME_LEN)
    material = derive_both(lk, s.key_context, counter, 2 * s.key_len)
    return TicketKey(name, material[:s.key_len], material[s.key_len:])


def fs_go_seed(seed: bytes, label: bytes, interval: int, counter: int) -> bytes:
    """Go/Caddy session-ticket seed in forward-secure mode: SPEC.md 4.5 with the label key of
    6.3, derive_key(LK, "kwts-g32", counter, 32)."""
    return derive_both(fs_label_key(seed, interval, counter, label), b"kwts-g32", counter, 32)


def fs_tfo_key(seed: bytes, interval: int, counter: int) -> bytes:
    inner = _h(leaf(seed, counter * interval), interval, b"keywheel.fstfo")
    return derive_both(inner, b"tofurkey", counter, 16)


def iso(t: int) -> str:
    """A unix time as UTC ISO 8601 (years past 9999 computed by hand: datetime stops there)."""
    if t < 253402300800:  # 10000-01-01
        return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    # Shift by whole 400-year Gregorian cycles (146097 days each), which keep the calendar.
    cycle = 146097 * 86400
    k = (t - 253402300800) // cycle + 1
    d = datetime.fromtimestamp(t - k * cycle, timezone.utc)
    return f"{d.year + 400 * k}-{d:%m-%dT%H:%M:%SZ}"
