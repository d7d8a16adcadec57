"""An implementation of keywheel's derivation and TFO schedule that shares no code with it.

Written from the text of SPEC/DESIGN ("The TFO contract"), with two BLAKE2b implementations:
Python's hashlib and libsodium (Debian's libsodium23, loaded with ctypes). The tests in this
directory compare keywheel's vectors and binaries against these functions.
"""

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
