"""An independent Python implementation of SPEC.md section 4 (TLS session-ticket keys).

Written from the spec text with hashlib.blake2b only; it shares no code with the Rust crate.
The real-server tests use it to check the tickets servers issue (key name, HMAC, AES) and, only
while the `keywheel stek` CLI does not exist, to render key files (see harness.write_keys).
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

MAIN_KEY_LEN = 32
LABEL_PERSON = b"keywheel.label"  # padded to 16 bytes by hashlib (zero bytes), as in SPEC 4.1

# strength -> (name context, key context, aes length, hmac length)
STRENGTHS = {
    "aes256": (b"kwtn-256", b"kwtk-256", 32, 32),
    "aes128": (b"kwtn-128", b"kwtk-128", 16, 16),
}

# format -> (strength, record layout)
FORMATS = {
    "nginx": ("aes256", "name-hmac-aes"),
    "nginx48": ("aes128", "name-aes-hmac"),
    "haproxy": ("aes256", "name-aes-hmac"),
    "haproxy48": ("aes128", "name-aes-hmac"),
    "apache": ("aes128", "name-hmac-aes"),
    "ats": ("aes128", "name-hmac-aes"),
    "openssl": ("aes256", "name-hmac-aes"),
    # SPEC.md §4.4: 92-byte record (times, name, hmac, aes) / YAML entries
    "lighttpd": ("aes256", "name-hmac-aes"),
    "h2o": ("aes256", "name-aes-hmac"),
}


def derive_key(key: bytes, ctx: bytes, subkey_id: int, length: int) -> bytes:
    """SPEC 2: libsodium's crypto_kdf_blake2b_derive_from_key."""
    assert len(key) == 32 and len(ctx) == 8 and 16 <= length <= 64
    return hashlib.blake2b(
        b"",
        digest_size=length,
        key=key,
        salt=subkey_id.to_bytes(8, "little") + bytes(8),
        person=ctx + bytes(8),
    ).digest()


def label_key(main: bytes, label: str) -> bytes:
    """SPEC 4.1."""
    raw = label.encode("utf-8")
    assert 1 <= len(raw) <= 64
    assert len(main) >= MAIN_KEY_LEN
    return hashlib.blake2b(raw, digest_size=32, key=main[:MAIN_KEY_LEN], person=LABEL_PERSON).digest()


@dataclass(frozen=True)
class TicketKey:
    """One ticket key: 16-byte name, AES key, HMAC-SHA256 key."""

    counter: int
    strength: str
    name: bytes
    aes: bytes
    hmac: bytes

    def record(self, layout: str) -> bytes:
        if layout == "name-hmac-aes":
            return self.name + self.hmac + self.aes
        if layout == "name-aes-hmac":
            return self.name + self.aes + self.hmac
        raise ValueError(layout)


def ticket_key(main: bytes, label: str, strength: str, counter: int) -> TicketKey:
    """SPEC 4.2."""
    name_ctx, key_ctx, aes_len, hmac_len = STRENGTHS[strength]
    lk = label_key(main, label)
    name = derive_key(lk, name_ctx, counter, 16)
    material = derive_key(lk, key_ctx, counter, aes_len + hmac_len)
    return TicketKey(counter, strength, name, material[:aes_len], material[aes_len:])


def current_counter(now: int, interval: int) -> int:
    """SPEC 4.3: c = floor(now / I)."""
    assert interval % 2 == 0 and 10 <= interval <= 604800
    return now // interval


def window(now: int, interval: int, keep: int) -> list[int]:
    """SPEC 4.3: accepted counters, oldest first: c-k .. c-1, c, c+1."""
    assert (keep + 1) * interval <= 604800
    c = current_counter(now, interval)
    return list(range(c - keep, c + 2))


def render(fmt: str, main: bytes, label: str, now: int, interval: int, keep: int, out: Path) -> None:
    """Write what `keywheel stek --format fmt ... --out out --time now --once` writes, as
    SPEC.md section 4 and README "TLS session tickets" describe it (reference renderer, used
    only until the CLI exists)."""
    strength, layout = FORMATS[fmt]
    c = current_counter(now, interval)
    prev = [c - i for i in range(1, keep + 1)]
    rec = lambda n: ticket_key(main, label, strength, n).record(layout)  # noqa: E731
    out = Path(out)
    if fmt in ("nginx", "nginx48"):
        out.mkdir(parents=True, exist_ok=True)
        d = out / f"keys.{c}"
        d.mkdir(exist_ok=True)
        order = [c, c + 1, *prev]
        for i, n in enumerate(order):
            _write(d / f"{i}.key", rec(n))
        tmp = out / f".current.{os.getpid()}"
        if tmp.is_symlink():
            tmp.unlink()
        tmp.symlink_to(d.name)
        os.replace(tmp, out / "current")
        for old in out.glob("keys.*"):
            if old != d:
                for f in old.iterdir():
                    f.unlink()
                old.rmdir()
        cur = (out / "current").absolute()
        text = "".join(f"ssl_session_ticket_key {cur}/{i}.key;\n" for i in range(len(order)))
        _write(out / "nginx.conf", text.encode())
    elif fmt in ("haproxy", "haproxy48"):
        assert keep == 1
        lines = [base64.b64encode(rec(n)).decode() for n in (c - 1, c, c + 1)]
        _write(out, ("\n".join(lines) + "\n").encode())
    elif fmt in ("apache", "openssl"):
        _write(out, rec(c))
    elif fmt == "lighttpd":
        lighttpd_render(main, label, now, interval, keep, out)
    elif fmt == "h2o":
        h2o_render(main, label, now, interval, keep, out)
    elif fmt == "ats":
        _write(out, b"".join(rec(n) for n in [c, c + 1, *prev]))
    else:
        raise ValueError(fmt)


def _write(path: Path, data: bytes, mtime: int | None = None, group: int | None = None) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
        if group is not None:
            os.fchown(fd, -1, group)
            os.fchmod(fd, 0o640)
        if mtime is not None:
            os.utime(fd, (mtime, mtime))
    finally:
        os.close(fd)
    os.replace(tmp, path)


# --- Go crypto/tls and Caddy seeds (SPEC 4.5) -----------------------------------------------

GO_SEED_CONTEXT = b"kwts-g32"


def go_seed(main: bytes, label: str, counter: int) -> bytes:
    """SPEC 4.5: the 32-byte seed of interval `counter` for Go's SetSessionTicketKeys."""
    return derive_key(label_key(main, label), GO_SEED_CONTEXT, counter, 32)


def go_window(main: bytes, label: str, now: int, interval: int, keep: int) -> list[bytes]:
    """SPEC 4.5: the seeds in Go's order: current, next, previous 1..keep."""
    c = current_counter(now, interval)
    assert (keep + 1) * interval <= 604800
    return [go_seed(main, label, n) for n in [c, c + 1, *[c - i for i in range(1, keep + 1)]]]


def go_ticket_name(seed: bytes) -> bytes:
    """Go crypto/tls (1.19): a ticket key's name is SHA-512(seed)[0:16]."""
    return hashlib.sha512(seed).digest()[:16]


# --- lighttpd (SPEC.md §4.4, README "lighttpd") -------------------------------------
# One 92-byte record per file: LE int32 version 0, activation, expiry, name16, hmac32, aes32.
# Key n: activation n*I, expiry (n+keep+1)*I - 1. lighttpd checks the file when unix time is a
# multiple of 64; key n is written 32 s before C(n), the last such check >= 60 s before n*I.

LIGHTTPD_CHECK = 64
LIGHTTPD_MARGIN = 60


def lighttpd_record(key: TicketKey, interval: int, keep: int) -> bytes:
    n = key.counter
    # struct.error for times past 2**31 - 1 (lighttpd's signed 32-bit fields)
    return (struct.pack("<iii", 0, n * interval, (n + keep + 1) * interval - 1)
            + key.name + key.hmac + key.aes)


def lighttpd_load_check(n: int, interval: int) -> int:
    return (n * interval - LIGHTTPD_MARGIN) // LIGHTTPD_CHECK * LIGHTTPD_CHECK


def lighttpd_publish_time(n: int, interval: int) -> int:
    return lighttpd_load_check(n, interval) - LIGHTTPD_CHECK // 2


def lighttpd_key_in_file(now: int, interval: int) -> int:
    c = now // interval
    return c + 1 if now >= lighttpd_publish_time(c + 1, interval) else c


def lighttpd_step(now: int, interval: int, holds: int | None) -> int | None:
    """The counter to write at `now` given the counter the file holds (None: nothing usable)."""
    c = now // interval
    target = lighttpd_key_in_file(now, interval)
    if holds == target:
        return None
    if target == c + 1 and holds != c:
        return c  # start-up inside the publication window: the current key first
    return target


def lighttpd_mtime(now: int, old: int | None) -> int:
    t = max(now, now // LIGHTTPD_CHECK * LIGHTTPD_CHECK + 2)
    return t if old is None else max(t, old + 1)


def lighttpd_render(main: bytes, label: str, now: int, interval: int, keep: int, out: Path,
                    group: int | None = None) -> int | None:
    """Write what `keywheel stek --format lighttpd --once --time now` writes; returns the counter
    written (None: the file already held the right key and is left alone)."""
    out = Path(out)
    c = now // interval
    holds, old_mtime = None, None
    if out.exists():
        data, old_mtime = out.read_bytes(), int(out.stat().st_mtime)
        for n in range(c - 2, c + 3):
            if data[12:28] == ticket_key(main, label, "aes256", n).name:
                holds = n
    n = lighttpd_step(now, interval, holds)
    if n is not None:
        rec = lighttpd_record(ticket_key(main, label, "aes256", n), interval, keep)
        _write(out, rec, lighttpd_mtime(now, old_mtime), group)
    return n


# --- h2o (SPEC.md §4.4, README "h2o") -------------------------------------------
# YAML sequence, newest first: c+1, c, c-1 .. c-keep; key = hex(aes32 | hmac32 | 0^32): h2o
# passes 64 bytes (SHA-256's block size) to HMAC, and HMAC zero-pads shorter keys to the block.


def h2o_yaml(keys: list[TicketKey], interval: int, keep: int) -> str:
    out = []
    for k in keys:
        out.append(
            f"- name: {k.name.hex()}\n"
            f"  cipher: aes-256-cbc\n"
            f"  hash: sha256\n"
            f"  key: {(k.aes + k.hmac + bytes(32)).hex()}\n"
            f"  not_before: {k.counter * interval}\n"
            f"  not_after: {(k.counter + keep + 1) * interval - 1}\n")
    return "".join(out)


def h2o_render(main: bytes, label: str, now: int, interval: int, keep: int, out: Path,
               group: int | None = None) -> None:
    out = Path(out)
    c = now // interval
    keys = [ticket_key(main, label, "aes256", n) for n in range(c + 1, c - keep - 1, -1)]
    old = int(out.stat().st_mtime) if out.exists() else None
    mtime = now if old is None or old < now else old + 1
    _write(out, h2o_yaml(keys, interval, keep).encode(), mtime, group)
