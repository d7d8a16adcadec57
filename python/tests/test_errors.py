"""Every bad input: a KeywheelError (a ValueError) whose message names the value and the range,
or a TypeError for an argument of the wrong type. Expected messages are the texts of SPEC.md."""

import os
import re

import pytest

import keywheel
from keywheel import KeywheelError

MAIN = keywheel.MainKey(bytes(range(32)))
NOW = 1_700_000_000


def ticket_keys(interval=3600, keep=None, label="svc", strength="aes256", main=MAIN):
    """``TicketKeys(main, label, strength, interval[, keep])``."""
    args = (main, label, strength, interval) + (() if keep is None else (keep,))
    return keywheel.TicketKeys(*args)


KEYS = ticket_keys(3600, 1)
SLOT = KEYS.slot(NOW)
U64_MAX = 2**64 - 1

INTERVAL_RANGE = "it must be even and in 10..=604800"
TIME_RANGE = "it must be in 1000000..=100000000000"


def raises(exc, message, fn, *args, **kwargs):
    with pytest.raises(exc) as info:
        fn(*args, **kwargs)
    if exc is KeywheelError:
        assert isinstance(info.value, ValueError)
        assert str(info.value) == message
    else:
        assert re.search(message, str(info.value)), str(info.value)


def test_error_class():
    assert issubclass(KeywheelError, ValueError)
    assert KeywheelError.__module__ == "keywheel"
    assert KeywheelError.__doc__


# --- main key ----------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 16, 31])
def test_main_key_too_short(n):
    for ctor in (keywheel.MainKey, keywheel.MainKey.from_bytes):
        raises(KeywheelError, f"main key is {n} bytes; it must be at least 32 bytes", ctor, bytes(n))
        raises(KeywheelError, f"main key is {n} bytes; it must be at least 32 bytes", ctor,
               bytearray(n))


ZERO = ("main key is all zero bytes; it must be 32 random bytes "
        "(generate them with `keywheel gen-secret`)")


@pytest.mark.parametrize("material", [bytes(32), bytes(64), bytes(32) + b"\xff" * 8])
def test_main_key_all_zero(material):
    # SPEC.md 1: the first 32 bytes all zero are refused; one non-zero byte is a key.
    for ctor in (keywheel.MainKey, keywheel.MainKey.from_bytes):
        raises(KeywheelError, ZERO, ctor, material)
        raises(KeywheelError, ZERO, ctor, bytearray(material))
    assert keywheel.MainKey(bytes(31) + b"\x01").fingerprint() != keywheel.MainKey(
        b"\x01" + bytes(31)).fingerprint()


@pytest.mark.parametrize("bad", ["0" * 32, 12345, None, [0] * 32, memoryview(bytes(32))])
def test_main_key_wrong_type(bad):
    raises(TypeError, "main key material must be bytes or bytearray, not", keywheel.MainKey, bad)


def write_key(path, data, mode):
    path.write_bytes(data)
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o610, 0o601, 0o660])
def test_main_key_file_open_to_others_is_refused(tmp_path, mode):
    p = write_key(tmp_path / "main.key", bytes(range(32)), mode)
    raises(KeywheelError,
           f"main key file {p} has mode {mode:04o}, so group or others can access it; "
           f"fix it with `chmod 600 {p}` (or pass allow_insecure=True)",
           keywheel.MainKey.from_file, p)
    main = keywheel.MainKey.from_file(p, allow_insecure=True)
    assert keywheel.derive_key(main, b"tofurkey", 0, 16) == keywheel.derive_key(MAIN, b"tofurkey", 0, 16)


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700])
def test_main_key_file_private_is_read(tmp_path, mode):
    # A longer file is accepted and its first 32 bytes used, as tofurkey does.
    p = write_key(tmp_path / "main.key", bytes(range(32)) + b"tail", mode)
    main = keywheel.MainKey.from_file(str(p))
    assert keywheel.derive_key(main, b"tofurkey", 5, 16) == keywheel.derive_key(MAIN, b"tofurkey", 5, 16)


@pytest.mark.parametrize("n", [0, 31])
def test_main_key_file_too_short(tmp_path, n):
    p = write_key(tmp_path / "short.key", bytes(n), 0o600)
    raises(KeywheelError,
           f"main key file {p} is too short: main key is {n} bytes; it must be at least 32 bytes",
           keywheel.MainKey.from_file, p)


@pytest.mark.parametrize("data", [bytes(32), bytes(32) + b"tail"])
def test_main_key_file_all_zero(tmp_path, data):
    p = write_key(tmp_path / "zero.key", data, 0o600)
    for kwargs in ({}, {"allow_insecure": True}):
        raises(KeywheelError, f"main key file {p} is unusable: {ZERO}",
               keywheel.MainKey.from_file, p, **kwargs)


def test_main_key_file_missing_or_unreadable(tmp_path):
    with pytest.raises(FileNotFoundError):
        keywheel.MainKey.from_file(tmp_path / "nope.key")
    d = tmp_path / "dir"
    d.mkdir(mode=0o700)
    raises(KeywheelError, f"main key file {d} is a directory; it must be a regular file",
           keywheel.MainKey.from_file, d)


def test_main_key_file_not_regular_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)  # no writer: a blocking open would hang
    raises(KeywheelError, f"main key file {fifo} is a FIFO; it must be a regular file",
           keywheel.MainKey.from_file, fifo, allow_insecure=True)
    raises(KeywheelError, "main key file /dev/null is a character device; it must be a regular file",
           keywheel.MainKey.from_file, "/dev/null", allow_insecure=True)
    with pytest.raises(TypeError):
        keywheel.MainKey.from_file(1234)
    with pytest.raises(TypeError):
        keywheel.MainKey.from_file(tmp_path / "x", True)  # allow_insecure is keyword-only


# --- derive_key --------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 7, 9, 16])
def test_derive_context_length(n):
    raises(KeywheelError, f"context is {n} bytes; it must be 8 bytes",
           keywheel.derive_key, MAIN, bytes(n), 0, 16)


@pytest.mark.parametrize("length", [-1, 0, 15, 65, 128, 2**63, 2**64, 2**100])
def test_derive_length(length):
    raises(KeywheelError,
           f"output length {length} is out of range; it must be in 16..=64",
           keywheel.derive_key, MAIN, b"tofurkey", 0, length)


@pytest.mark.parametrize("subkey_id", [-1, -(2**64), 2**64, 2**200])
def test_derive_subkey_id(subkey_id):
    raises(KeywheelError,
           f"subkey_id {subkey_id} is out of range; it must be in 0..={U64_MAX}",
           keywheel.derive_key, MAIN, b"tofurkey", subkey_id, 16)


def test_derive_wrong_types():
    raises(TypeError, "context must be bytes or bytearray, not str",
           keywheel.derive_key, MAIN, "tofurkey", 0, 16)
    raises(TypeError, "subkey_id must be an int, not float", keywheel.derive_key, MAIN, b"tofurkey", 1.0, 16)
    raises(TypeError, "subkey_id must be an int, not bool", keywheel.derive_key, MAIN, b"tofurkey", True, 16)
    raises(TypeError, "subkey_id must be an int, not str", keywheel.derive_key, MAIN, b"tofurkey", "1", 16)
    raises(TypeError, "length must be an int, not float", keywheel.derive_key, MAIN, b"tofurkey", 1, 16.0)
    raises(TypeError, "length must be an int, not NoneType", keywheel.derive_key, MAIN, b"tofurkey", 1, None)
    raises(TypeError, "MainKey", keywheel.derive_key, bytes(32), b"tofurkey", 1, 16)
    with pytest.raises(TypeError):
        keywheel.derive_key(MAIN, b"tofurkey", 1)  # missing argument


def test_bad_output_length_writes_nothing_and_valid_neighbours_work():
    assert len(keywheel.derive_key(MAIN, b"tofurkey", 0, 16)) == 16
    assert len(keywheel.derive_key(MAIN, b"tofurkey", 0, 64)) == 64
    assert len(keywheel.derive_key(MAIN, b"tofurkey", U64_MAX, 16)) == 16


# --- intervals, times --------------------------------------------------------------------------

@pytest.mark.parametrize("interval,why", [
    (11, "is odd"), (9, "is odd"), (604801, "is odd"), (86401, "is odd"),
    (8, "is out of range"), (0, "is out of range"), (604802, "is out of range"),
    (-2, "is out of range"), (-1, "is out of range"), (2**64, "is out of range"),
])
def test_interval(interval, why):
    msg = f"interval {interval} {why}; {INTERVAL_RANGE}"
    raises(KeywheelError, msg, keywheel.Schedule, interval)
    raises(KeywheelError, msg, ticket_keys, interval)
    raises(KeywheelError, msg, ticket_keys, interval, 0)


@pytest.mark.parametrize("bad", ["86400", 86400.0, True, None, b"10"])
def test_interval_wrong_type(bad):
    if bad is None:  # None means "default" for Schedule, and is required for TicketKeys
        assert keywheel.Schedule(None).interval == 86400
        raises(TypeError, "interval must be an int, not NoneType", ticket_keys, None)
        return
    raises(TypeError, f"interval must be an int, not {type(bad).__name__}", keywheel.Schedule, bad)
    raises(TypeError, f"interval must be an int, not {type(bad).__name__}", ticket_keys, bad)


@pytest.mark.parametrize("now", [0, 999_999, 100_000_000_001, -1, 2**64, 2**64 - 1])
def test_time(now):
    msg = f"time {now} is out of range; {TIME_RANGE}"
    raises(KeywheelError, msg, keywheel.Schedule(10).at, now)
    keys = ticket_keys(10)
    raises(KeywheelError, msg, keys.slot, now)
    raises(KeywheelError, msg, keys.current, now)
    raises(KeywheelError, msg, keys.lookup, bytes(16), now)
    raises(KeywheelError, msg, keys.render, "nginx", now)
    raises(KeywheelError, msg, keys.render_rollover, "nginx", [KEYS], now)
    raises(KeywheelError, msg, keywheel.tfo_keys, MAIN, keywheel.Schedule(), now)


@pytest.mark.parametrize("bad", [1e6, "1000000", False, None])
def test_time_wrong_type(bad):
    raises(TypeError, f"time must be an int, not {type(bad).__name__}", keywheel.Schedule().at, bad)
    if bad is not None:  # TicketKeys methods take None for "now"
        raises(TypeError, f"time must be an int, not {type(bad).__name__}", KEYS.slot, bad)
        raises(TypeError, f"time must be an int, not {type(bad).__name__}", KEYS.render, "nginx", bad)


# --- ticket schedule ---------------------------------------------------------------------------

@pytest.mark.parametrize("interval,keep", [(86400, 7), (86400, 100), (604800, 1), (3600, 168), (10, 60480)])
def test_keep_too_large(interval, keep):
    max_keep = 604800 // interval - 1
    raises(KeywheelError,
           f"keep {keep} with interval {interval} accepts tickets up to {(keep + 1) * interval} s old; "
           f"(keep + 1) * interval must be at most 604800 (7 days, RFC 8446), "
           f"so keep must be in 0..={max_keep}",
           ticket_keys, interval, keep)
    # The largest keep allowed is accepted.
    assert ticket_keys(interval, max_keep).max_ticket_age <= 604800


@pytest.mark.parametrize("keep", [-1, 2**64])
def test_keep_not_u64(keep):
    raises(KeywheelError, f"keep {keep} is out of range; it must be in 0..=167",
           ticket_keys, 3600, keep)
    # A bad interval is reported first.
    raises(KeywheelError, f"interval 7 is odd; {INTERVAL_RANGE}", ticket_keys, 7, keep)


def test_keep_wrong_type():
    raises(TypeError, "keep must be an int, not float", ticket_keys, 3600, 1.0)
    raises(TypeError, "keep must be an int, not bool", ticket_keys, 3600, True)


# --- labels, strengths, counters ---------------------------------------------------------------

@pytest.mark.parametrize("label,n", [("", 0), ("x" * 65, 65), ("é" * 33, 66), ("€" * 22, 66)])
def test_label_length(label, n):
    raises(KeywheelError, f"label is {n} bytes; it must be 1..=64 bytes of UTF-8",
           keywheel.TicketKeys, MAIN, label, "aes256", 3600)


def test_label_limits_accepted():
    assert ticket_keys(label="x" * 64).label == "x" * 64
    assert ticket_keys(label="é" * 32).label == "é" * 32


def test_label_wrong_type_or_not_utf8():
    raises(TypeError, "label must be a str, not bytes", ticket_keys, label=b"svc")
    raises(TypeError, "label must be a str, not NoneType", ticket_keys, label=None)
    raises(KeywheelError, "label 'a\\ud800' is not valid UTF-8 (it holds a lone surrogate)",
           ticket_keys, label="a\ud800")
    raises(TypeError, "MainKey", keywheel.TicketKeys, bytes(32), "svc", "aes256", 3600)


@pytest.mark.parametrize("strength", ["aes512", "AES256", "", "aes-256"])
def test_strength_unknown(strength):
    msg = f"strength {strength!r} is unknown; it must be 'aes256' or 'aes128'"
    raises(KeywheelError, msg, ticket_keys, strength=strength)


def test_strength_and_counter_wrong_types():
    raises(TypeError, "strength must be a str, not bytes", ticket_keys, strength=b"aes256")
    raises(TypeError, "counter must be an int, not float", KEYS.by_counter, 1.0)
    raises(TypeError, "counter must be an int, not str", SLOT.role, "1")
    raises(TypeError, "name must be bytes or bytearray, not str", KEYS.lookup, "00" * 16, NOW)
    raises(TypeError, "TicketKeys", KEYS.render_rollover, "nginx", [MAIN], NOW)


@pytest.mark.parametrize("counter", [-1, 2**64])
def test_counter_out_of_range(counter):
    msg = f"counter {counter} is out of range; it must be in 0..={U64_MAX}"
    raises(KeywheelError, msg, KEYS.by_counter, counter)
    raises(KeywheelError, msg, SLOT.role, counter)


@pytest.mark.parametrize("name", [b"", bytes(15), bytes(17), bytes(16)])
def test_lookup_of_a_wrong_name_is_not_found(name):
    found = KEYS.lookup(name, NOW)
    assert not found and found.kind == "not_found" and found.key is None and found.role is None


def test_role_previous():
    raises(KeywheelError, f"previous 0 is out of range; it must be in 1..={U64_MAX}", keywheel.Role.previous, 0)
    raises(KeywheelError, f"previous -1 is out of range; it must be in 1..={U64_MAX}", keywheel.Role.previous, -1)
    raises(TypeError, "n must be an int, not str", keywheel.Role.previous, "1")
    assert SLOT.counter(keywheel.Role.previous(2)) is None  # beyond keep: not an error, absent


# --- formats -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["nginx80", "NGINX", "json", "", "haproxy "])
def test_format_unknown(name):
    msg = (f"format {name!r} is unknown; it must be one of "
           "nginx, nginx48, haproxy, haproxy48, apache, ats, openssl")
    raises(KeywheelError, msg, KEYS.render, name, NOW)
    raises(KeywheelError, msg, KEYS.render_rollover, name, [], NOW)
    raises(KeywheelError, msg, keywheel.format_record_len, name)


def test_format_wrong_type():
    raises(TypeError, "format must be a str, not int", KEYS.render, 1, NOW)
    raises(TypeError, "format must be a str, not bytes", keywheel.format_record_len, b"nginx")


@pytest.mark.parametrize("fmt", ["haproxy", "haproxy48"])
@pytest.mark.parametrize("keep", [0, 2, 5])
def test_haproxy_needs_keep_1(fmt, keep):
    strength = "aes256" if fmt == "haproxy" else "aes128"
    keys = ticket_keys(3600, keep, strength=strength)
    msg = (f"keep {keep} does not fit format {fmt}: HAProxy uses exactly 3 keys "
           "(previous, current, next), so keep must be 1")
    raises(KeywheelError, msg, keys.render, fmt, NOW)
    raises(KeywheelError, msg, keys.render_rollover, fmt, [keys], NOW)


@pytest.mark.parametrize("fmt", ["nginx", "nginx48", "haproxy", "haproxy48", "apache", "ats", "openssl"])
def test_render_of_the_wrong_strength(fmt):
    own = "aes128" if fmt in ("nginx48", "haproxy48", "apache", "ats") else "aes256"
    other = "aes128" if own == "aes256" else "aes256"
    raises(KeywheelError, f"the key's strength does not match format {fmt}",
           ticket_keys(strength=other).render, fmt, NOW)
    assert ticket_keys(strength=own).render(fmt, NOW)
