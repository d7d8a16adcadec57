"""An implementation of keywheel's derivation, TFO schedule and TLS session-ticket keys that
shares no code with it.

Written from the text of SPEC.md (section 3 for TFO keys; section 4 and its table of server
formats, 4.4, for ticket keys), with two BLAKE2b implementations: Python's
hashlib and libsodium (Debian's libsodium23, loaded with ctypes). The tests in this directory
compare keywheel's vectors and binaries against these functions.
"""

import base64
import ctypes
import ctypes.util
import json
import os
import struct
from dataclasses import dataclass
from functools import cache
from hashlib import blake2b
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
VECTORS_PATH = REPO_ROOT / "tests" / "vectors" / "keywheel.json"

MAIN_KEY_LEN = 32
CONTEXT_LEN = 8
DERIVE_MIN_LEN = 16
DERIVE_MAX_LEN = 64
MIN_INTERVAL = 10
MAX_INTERVAL = 604800
MIN_TIME = 1000000
MAX_TIME = 100000000000
TFO_CONTEXT = b"tofurkey"
TFO_KEY_LEN = 16
WAKE_FUDGE_NANOS = 2_020_000_000  # the daemon wakes 2.02 s after a half-interval boundary


def load_vectors() -> dict:
    with open(VECTORS_PATH, encoding="utf-8") as f:
        return json.load(f)


def hashlib_derive(main: bytes, context: bytes, subkey_id: int, length: int) -> bytes:
    """BLAKE2b(key = main[0..32], salt = LE64(id) || 0^8, person = ctx || 0^8, empty message)."""
    assert len(main) >= MAIN_KEY_LEN and len(context) == CONTEXT_LEN
    return blake2b(
        b"",
        digest_size=length,
        key=main[:MAIN_KEY_LEN],
        salt=struct.pack("<Q", subkey_id) + bytes(8),
        person=context + bytes(8),
    ).digest()


class Libsodium:
    """The few libsodium functions the tests need, through ctypes."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("sodium")
        if name is None:
            raise RuntimeError(
                "libsodium not found (ctypes.util.find_library('sodium')); "
                "install Debian's libsodium23 (or libsodium-dev)"
            )
        lib = ctypes.CDLL(name)
        if lib.sodium_init() < 0:
            raise RuntimeError("sodium_init() failed")
        f = lib.crypto_kdf_blake2b_derive_from_key
        f.argtypes = [
            ctypes.c_char_p,  # unsigned char *subkey
            ctypes.c_size_t,  # size_t subkey_len
            ctypes.c_uint64,  # uint64_t subkey_id
            ctypes.c_char_p,  # const char ctx[8]
            ctypes.c_char_p,  # const unsigned char key[32]
        ]
        f.restype = ctypes.c_int
        self._derive = f
        for fn in ("crypto_kdf_blake2b_bytes_min", "crypto_kdf_blake2b_bytes_max",
                   "crypto_kdf_blake2b_contextbytes", "crypto_kdf_blake2b_keybytes"):
            getattr(lib, fn).restype = ctypes.c_size_t
        g = lib.crypto_generichash_blake2b_salt_personal
        g.argtypes = [
            ctypes.c_char_p,  # unsigned char *out
            ctypes.c_size_t,  # size_t outlen
            ctypes.c_char_p,  # const unsigned char *in
            ctypes.c_ulonglong,  # unsigned long long inlen
            ctypes.c_char_p,  # const unsigned char *key
            ctypes.c_size_t,  # size_t keylen
            ctypes.c_char_p,  # const unsigned char salt[16]
            ctypes.c_char_p,  # const unsigned char personal[16]
        ]
        g.restype = ctypes.c_int
        self._generichash = g
        self.bytes_min = lib.crypto_kdf_blake2b_bytes_min()
        self.bytes_max = lib.crypto_kdf_blake2b_bytes_max()
        self.contextbytes = lib.crypto_kdf_blake2b_contextbytes()
        self.keybytes = lib.crypto_kdf_blake2b_keybytes()

    def derive(self, main: bytes, context: bytes, subkey_id: int, length: int) -> bytes | None:
        """crypto_kdf_blake2b_derive_from_key; None when libsodium refuses the length."""
        assert len(main) >= MAIN_KEY_LEN and len(context) == CONTEXT_LEN
        out = ctypes.create_string_buffer(max(length, 1))
        rc = self._derive(out, length, subkey_id, context, main[:MAIN_KEY_LEN])
        if rc != 0:
            return None
        return out.raw[:length]


    def generichash(self, message: bytes, length: int, key: bytes, salt: bytes,
                    personal: bytes) -> bytes:
        """crypto_generichash_blake2b_salt_personal (keyed BLAKE2b of a message)."""
        assert len(salt) == 16 and len(personal) == 16
        out = ctypes.create_string_buffer(length)
        rc = self._generichash(out, length, message, len(message), key, len(key), salt, personal)
        assert rc == 0, "crypto_generichash_blake2b_salt_personal failed"
        return out.raw


@cache
def libsodium() -> Libsodium:
    return Libsodium()


def derive_both(main: bytes, context: bytes, subkey_id: int, length: int) -> bytes:
    """The key from hashlib, after checking that libsodium gives the same bytes."""
    a = hashlib_derive(main, context, subkey_id, length)
    b = libsodium().derive(main, context, subkey_id, length)
    assert a == b, f"hashlib and libsodium disagree: {a.hex()} != {b and b.hex()}"
    return a


@dataclass(frozen=True)
class Slot:
    primary: int
    backup: int
    next_wake: int
    wake_time_secs: int
    wake_time_nanos: int


def valid_interval(interval: int) -> bool:
    return interval % 2 == 0 and MIN_INTERVAL <= interval <= MAX_INTERVAL


def valid_time(now: int) -> bool:
    return MIN_TIME <= now <= MAX_TIME


def tfo_slot(interval: int, now: int) -> Slot:
    """The contract: n = floor(now / interval); backup n+1 if (now mod interval) >= interval/2,
    else n-1; wake 2.02 s after the next half-interval boundary of unix time."""
    assert valid_interval(interval) and valid_time(now)
    n = now // interval
    backup = n + 1 if now % interval >= interval // 2 else n - 1
    half = interval // 2
    next_wake = (now // half + 1) * half
    wake_ns = next_wake * 1_000_000_000 + WAKE_FUDGE_NANOS
    return Slot(n, backup, next_wake, wake_ns // 1_000_000_000, wake_ns % 1_000_000_000)


def procfs_key(key: bytes) -> str:
    """One key as 4 groups of 8 lowercase hex digits joined by '-'."""
    assert len(key) == TFO_KEY_LEN
    h = key.hex()
    return "-".join(h[i:i + 8] for i in range(0, 32, 8))


def tfo_procfs(main: bytes, interval: int, now: int) -> str:
    """The text tofurkey writes to procfs (without its trailing NUL)."""
    slot = tfo_slot(interval, now)
    primary = derive_both(main, TFO_CONTEXT, slot.primary, TFO_KEY_LEN)
    backup = derive_both(main, TFO_CONTEXT, slot.backup, TFO_KEY_LEN)
    return procfs_key(primary) + "," + procfs_key(backup)


def bin_dir() -> Path:
    """Where the built binaries are: $KEYWHEEL_BIN_DIR, else $CARGO_TARGET_DIR/debug, else
    target/debug of the repository."""
    d = os.environ.get("KEYWHEEL_BIN_DIR")
    if d:
        return Path(d).resolve()
    t = os.environ.get("CARGO_TARGET_DIR")
    if t:
        return (REPO_ROOT / t / "debug").resolve()
    return REPO_ROOT / "target" / "debug"


def binary(name: str) -> Path:
    """The path of a built binary; fails with the command that builds it when it is missing."""
    path = bin_dir() / name
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: build it first (cargo build --workspace --bins), "
            "or point KEYWHEEL_BIN_DIR at the directory that holds it"
        )
    return path


# --- TLS session-ticket keys (SPEC.md section 4) ---------------------------------------------

LABEL_PERSONAL = b"keywheel.label"  # padded with zeros to 16 bytes
MAX_LABEL_LEN = 64
MAX_TICKET_AGE = 604800  # RFC 8446 4.6.1: 7 days
TICKET_NAME_LEN = 16


@dataclass(frozen=True)
class Strength:
    name_context: bytes
    key_context: bytes
    key_len: int  # of the AES key and of the HMAC key

    @property
    def record_len(self) -> int:
        return TICKET_NAME_LEN + 2 * self.key_len


STRENGTHS = {
    "aes256": Strength(b"kwtn-256", b"kwtk-256", 32),
    "aes128": Strength(b"kwtn-128", b"kwtk-128", 16),
}


def label_key(main: bytes, label: bytes) -> bytes:
    """LK = BLAKE2b(key = M, salt = 0^16, personal = "keywheel.label" || 0^2, message = label,
    32 bytes), from hashlib after checking that libsodium's generichash gives the same bytes."""
    assert len(main) >= MAIN_KEY_LEN and 1 <= len(label) <= MAX_LABEL_LEN
    label.decode("utf-8")  # a label is UTF-8
    a = blake2b(label, digest_size=32, key=main[:MAIN_KEY_LEN], person=LABEL_PERSONAL).digest()
    b = libsodium().generichash(label, 32, main[:MAIN_KEY_LEN], bytes(16),
                                LABEL_PERSONAL + bytes(16 - len(LABEL_PERSONAL)))
    assert a == b, f"hashlib and libsodium disagree on the label key: {a.hex()} != {b.hex()}"
    return a


@dataclass(frozen=True)
class TicketKey:
    name: bytes
    aes: bytes
    hmac: bytes

    def record(self, layout: tuple) -> bytes:
        return b"".join(getattr(self, part) for part in layout)


def ticket_key(main: bytes, label: bytes, strength: str, counter: int) -> TicketKey:
    """name = derive_key(LK, name context, n, 16); aes || hmac = derive_key(LK, key context, n,
    2 * key_len)."""
    s = STRENGTHS[strength]
    lk = label_key(main, label)
    name = derive_both(lk, s.name_context, counter, TICKET_NAME_LEN)
    material = derive_both(lk, s.key_context, counter, 2 * s.key_len)
    return TicketKey(name, material[:s.key_len], material[s.key_len:])


def valid_keep(interval: int, keep: int) -> bool:
    return keep >= 0 and (keep + 1) * interval <= MAX_TICKET_AGE


@dataclass(frozen=True)
class TicketSlot:
    current: int
    next_rotation: int
    window: tuple  # ((counter, role, age), ...) oldest first; age is None but for "previous"


def ticket_slot(interval: int, keep: int, now: int) -> TicketSlot:
    """c = floor(now / I) encrypts; c + 1 (next) and c - 1 ... c - keep (previous) decrypt."""
    assert valid_interval(interval) and valid_keep(interval, keep) and valid_time(now)
    c = now // interval
    window = tuple((c - age, "previous", age) for age in range(keep, 0, -1))
    window += ((c, "current", None), (c + 1, "next", None))
    return TicketSlot(c, (c + 1) * interval, window)


def ticket_lookup(main: bytes, label: bytes, strength: str, interval: int, keep: int, now: int,
                  name: bytes) -> dict:
    """The window's key whose name is `name`: result current / accepted / not_found."""
    for counter, role, age in ticket_slot(interval, keep, now).window:
        key = ticket_key(main, label, strength, counter)
        if key.name == name:
            found = {"result": "current" if role == "current" else "accepted",
                     "counter": str(counter), "role": role,
                     "aes": key.aes.hex(), "hmac": key.hmac.hex()}
            if age is not None:
                found["age"] = age
            return found
    return {"result": "not_found"}


@dataclass(frozen=True)
class ServerFormat:
    """One row of SPEC.md 4.4's tables of server formats."""
    strength: str
    layout: tuple  # the parts of one record, in order
    order: str  # "current_first", "haproxy" or "current_only"
    base64_lines: bool


NAME_HMAC_AES = ("name", "hmac", "aes")
NAME_AES_HMAC = ("name", "aes", "hmac")

SERVER_FORMATS = {
    # nginx: one key per file; the first ssl_session_ticket_key encrypts, all decrypt.
    "nginx": ServerFormat("aes256", NAME_HMAC_AES, "current_first", False),
    "nginx48": ServerFormat("aes128", NAME_AES_HMAC, "current_first", False),
    # HAProxy: base64 lines; of the last 3: previous, current (penultimate), next.
    "haproxy": ServerFormat("aes256", NAME_AES_HMAC, "haproxy", True),
    "haproxy48": ServerFormat("aes128", NAME_AES_HMAC, "haproxy", True),
    # Apache httpd: the first 48 bytes, the only key.
    "apache": ServerFormat("aes128", NAME_HMAC_AES, "current_only", False),
    # Traffic Server: N x 48, the first record encrypts, all decrypt.
    "ats": ServerFormat("aes128", NAME_HMAC_AES, "current_first", False),
    # OpenSSL SSL_CTX_set_tlsext_ticket_keys: 80 bytes, the only key.
    "openssl": ServerFormat("aes256", NAME_HMAC_AES, "current_only", False),
}

HAPROXY_KEYS = 3  # HAProxy's TLS_TICKETS_NO: it uses the last 3 lines of the file


def format_keys(fmt: str, interval: int, keep: int, now: int) -> list:
    """The (counter, role, age) of every key the format holds, in its order."""
    f = SERVER_FORMATS[fmt]
    slot = ticket_slot(interval, keep, now)
    by_role = {(role, age): (counter, role, age) for counter, role, age in slot.window}
    current, nxt = by_role[("current", None)], by_role[("next", None)]
    previous = [by_role[("previous", a)] for a in range(1, keep + 1)]
    if f.order == "current_only":
        return [current]
    if f.order == "current_first":
        return [current, nxt] + previous
    assert f.order == "haproxy" and keep == HAPROXY_KEYS - 2
    return list(reversed(previous)) + [current, nxt]


def format_record_len(fmt: str) -> int:
    f = SERVER_FORMATS[fmt]
    raw = STRENGTHS[f.strength].record_len
    return len(base64.b64encode(bytes(raw))) + 1 if f.base64_lines else raw


def render(fmt: str, main: bytes, label: bytes, interval: int, keep: int, now: int) -> bytes:
    """Every key of the format in its order: raw records, or base64 lines ending in a newline.
    For nginx the result is its files concatenated in order."""
    f = SERVER_FORMATS[fmt]
    out = b""
    for counter, _, _ in format_keys(fmt, interval, keep, now):
        record = ticket_key(main, label, f.strength, counter).record(f.layout)
        out += base64.b64encode(record) + b"\n" if f.base64_lines else record
    return out


def ticket_error(main: bytes, label: bytes | None = None, interval: int | None = None,
                 keep: int | None = None, now: int | None = None, fmt: str | None = None,
                 buffer_len: int | None = None) -> str | None:
    """The error kind the spec gives for these inputs, checked in the order main key, label,
    interval, keep, time, format (HAProxy's keep, then the buffer length); None when valid."""
    if len(main) < MAIN_KEY_LEN:
        return "MainKeyTooShort"
    if not any(main[:MAIN_KEY_LEN]):
        return "MainKeyZero"
    if label is not None and not 1 <= len(label) <= MAX_LABEL_LEN:
        return "LabelLength"
    if interval is not None and not valid_interval(interval):
        return "Interval"
    if keep is not None and not valid_keep(interval, keep):
        return "Keep"
    if now is not None and not valid_time(now):
        return "Time"
    if fmt is not None and SERVER_FORMATS[fmt].base64_lines and keep != HAPROXY_KEYS - 2:
        return "FormatKeep"
    if buffer_len is not None and buffer_len < len(render(fmt, main, label, interval, keep, now)):
        return "BufferTooSmall"
    return None


# SPEC.md 1: the message for main key material whose first 32 bytes are all zero.
ZERO_KEY_MESSAGE = ("main key is all zero bytes; it must be 32 random bytes "
                    "(generate them with `keywheel gen-secret`)")


def label_message(n: int) -> str:
    """SPEC.md 4.1."""
    return f"label is {n} bytes; it must be 1..={MAX_LABEL_LEN} bytes of UTF-8"


def keep_message(keep: int, interval: int) -> str:
    """SPEC.md 4.3."""
    return (f"keep {keep} with interval {interval} accepts tickets up to {(keep + 1) * interval} "
            f"s old; (keep + 1) * interval must be at most {MAX_TICKET_AGE} (7 days, RFC 8446), "
            f"so keep must be in 0..={MAX_TICKET_AGE // interval - 1}")


def interval_message(interval: int) -> str:
    """SPEC.md 3.1."""
    why = "odd" if interval % 2 == 1 else "out of range"
    return f"interval {interval} is {why}; it must be even and in {MIN_INTERVAL}..={MAX_INTERVAL}"


def time_message(now: int) -> str:
    """SPEC.md 3.1."""
    return f"time {now} is out of range; it must be in {MIN_TIME}..={MAX_TIME}"
