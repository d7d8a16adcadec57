"""Every case of tests/vectors/keywheel.json recomputed without keywheel: hashlib.blake2b,
libsodium (ctypes) and the TFO schedule arithmetic written from the contract text."""

import pytest

from independent import (
    CONTEXT_LEN,
    DERIVE_MAX_LEN,
    DERIVE_MIN_LEN,
    MAIN_KEY_LEN,
    MAX_INTERVAL,
    MAX_TIME,
    MIN_INTERVAL,
    MIN_TIME,
    TFO_CONTEXT,
    TFO_KEY_LEN,
    ZERO_KEY_MESSAGE,
    hashlib_derive,
    libsodium,
    load_vectors,
    procfs_key,
    tfo_procfs,
    tfo_slot,
    valid_interval,
    valid_time,
)

VECTORS = load_vectors()
DERIVE = VECTORS["derive_key"]["cases"]
TFO = VECTORS["tfo"]["cases"]
ERRORS = VECTORS["errors"]["cases"]

# tofurkey 1.3.4, t/itest.sh and t/test.key: an expected value from the real peer.
TOFURKEY_KEY = bytes.fromhex("363ec6a05e76eedeb9eb73bc5c25ca5f13f7c1df70c9af3531db4c83d23a8f6b")
TOFURKEY_PROCFS = "c998252e-8f89667d-31961e08-3897526b,1c9ca1a5-9d295055-f8e3d4df-7107b577"


def ids(cases):
    return [str(i) for i in range(len(cases))]


def test_format():
    assert VECTORS["version"] == 1
    assert "regenerate" in VECTORS["comment"]
    for name, section in VECTORS.items():
        if name in ("version", "comment"):
            continue
        assert set(section) == {"comment", "cases"}, name
        assert section["comment"] and section["cases"], name


def test_libsodium_agrees_with_the_spec_ranges():
    s = libsodium()
    assert (s.bytes_min, s.bytes_max) == (DERIVE_MIN_LEN, DERIVE_MAX_LEN)
    assert (s.contextbytes, s.keybytes) == (CONTEXT_LEN, MAIN_KEY_LEN)


def test_hashlib_reproduces_the_tofurkey_itest_vector():
    # The value below is copied from tofurkey's own test suite, not from keywheel.
    assert tfo_procfs(TOFURKEY_KEY, 86400, 1000000) == TOFURKEY_PROCFS


def test_the_tofurkey_itest_vector_is_in_the_file():
    assert any(
        bytes.fromhex(c["main_key"]) == TOFURKEY_KEY
        and (c["interval"], c["time"]) == (86400, 1000000)
        and c["procfs"] == TOFURKEY_PROCFS
        for c in TFO
    )


RULED = [c for c in DERIVE + TFO + ERRORS if "main_key_rule" in c]


@pytest.mark.parametrize("case", RULED, ids=ids(RULED))
def test_main_key_rule(case):
    rule = case["main_key_rule"]
    expected = bytes((i * rule["mul"] + rule["add"]) % 251 for i in range(rule["len"]))
    assert bytes.fromhex(case["main_key"]) == expected


@pytest.mark.parametrize("case", DERIVE, ids=ids(DERIVE))
def test_derive_key(case):
    main = bytes.fromhex(case["main_key"])
    context = bytes.fromhex(case["context"])
    subkey_id = int(case["subkey_id"])
    n = case["output_len"]
    assert len(main) >= MAIN_KEY_LEN and len(context) == CONTEXT_LEN
    assert 0 <= subkey_id < 2**64 and case["subkey_id"] == str(subkey_id)
    if case["context_ascii"] is not None:
        assert case["context_ascii"].encode("ascii") == context
    expected = bytes.fromhex(case["output"])
    assert len(expected) == n
    assert hashlib_derive(main, context, subkey_id, n) == expected
    assert libsodium().derive(main, context, subkey_id, n) == expected


@pytest.mark.parametrize("case", TFO, ids=ids(TFO))
def test_tfo(case):
    main = bytes.fromhex(case["main_key"])
    interval, now = case["interval"], case["time"]
    slot = tfo_slot(interval, now)
    assert case["primary"] == slot.primary
    assert case["backup"] == slot.backup
    assert case["next_wake"] == slot.next_wake
    assert (case["wake_time_secs"], case["wake_time_nanos"]) == (
        slot.wake_time_secs,
        slot.wake_time_nanos,
    )
    for field, counter in (("primary_key", slot.primary), ("backup_key", slot.backup)):
        expected = bytes.fromhex(case[field])
        assert hashlib_derive(main, TFO_CONTEXT, counter, TFO_KEY_LEN) == expected
        assert libsodium().derive(main, TFO_CONTEXT, counter, TFO_KEY_LEN) == expected
    assert case["procfs"] == (
        procfs_key(bytes.fromhex(case["primary_key"]))
        + ","
        + procfs_key(bytes.fromhex(case["backup_key"]))
    )
    assert len(case["procfs"]) == 71
    assert case["procfs"] == tfo_procfs(main, interval, now)


def test_tfo_slot_examples_from_the_contract():
    # Worked by hand from the contract text, independent of any generated file.
    s = tfo_slot(86400, 1000000)  # 1000000 = 11 * 86400 + 49600, 49600 >= 43200
    assert (s.primary, s.backup, s.next_wake) == (11, 12, 1036800)
    s = tfo_slot(10, 1000004)  # 4 < 5: first half
    assert (s.primary, s.backup, s.next_wake) == (100000, 99999, 1000005)
    s = tfo_slot(10, 1000005)  # 5 >= 5: second half
    assert (s.primary, s.backup, s.next_wake) == (100000, 100001, 1000010)
    s = tfo_slot(14, 1000006)  # 1000006 = 71429 * 14 + 0
    assert (s.primary, s.backup, s.next_wake) == (71429, 71428, 1000013)
    assert (s.wake_time_secs, s.wake_time_nanos) == (1000015, 20000000)


def error_value_and_range(case):
    """Which input the spec says is bad, its value, and the allowed range the message must name."""
    op = case["operation"]
    if op == "main_key":
        main = bytes.fromhex(case["main_key"])
        n = len(main)
        if n >= MAIN_KEY_LEN:
            assert not any(main[:MAIN_KEY_LEN])
            return "MainKeyZero", None, None
        return "MainKeyTooShort", n, f"at least {MAIN_KEY_LEN}"
    if op == "schedule":
        v = case["interval"]
        assert not valid_interval(v)
        return "Interval", v, f"{MIN_INTERVAL}..={MAX_INTERVAL}"
    if op == "schedule_at":
        assert valid_interval(case["interval"])
        v = case["time"]
        assert not valid_time(v)
        return "Time", v, f"{MIN_TIME}..={MAX_TIME}"
    if op == "derive_key":
        main = bytes.fromhex(case["main_key"])
        context = bytes.fromhex(case["context"])
        assert len(main) >= MAIN_KEY_LEN and len(context) == CONTEXT_LEN
        n = case["output_len"]
        assert not DERIVE_MIN_LEN <= n <= DERIVE_MAX_LEN
        # libsodium refuses the same lengths.
        assert libsodium().derive(main, context, int(case["subkey_id"]), n) is None
        return "OutputLength", n, f"{DERIVE_MIN_LEN}..={DERIVE_MAX_LEN}"
    raise AssertionError(f"unknown operation {op}")


@pytest.mark.parametrize("case", ERRORS, ids=ids(ERRORS))
def test_error(case):
    kind, value, allowed = error_value_and_range(case)
    assert case["kind"] == kind
    message = case["message"]
    if kind == "MainKeyZero":
        assert message == ZERO_KEY_MESSAGE
        return
    # The message names the bad value first, then the allowed range.
    assert f" {value} " in f" {message} " and allowed in message
    assert message.index(f" {value} ") < message.index(allowed)
    if kind == "Interval" and value % 2 == 1:
        assert message == f"interval {value} is odd; it must be even and in 10..=604800"


def test_coverage():
    """The cases the issue asks for are all there."""
    derive_ids = {int(c["subkey_id"]) for c in DERIVE}
    assert {0, 1, 2, 2**32 - 1, 2**32, 2**63, 2**64 - 1} <= derive_ids
    assert {c["output_len"] for c in DERIVE} == {16, 17, 32, 48, 63, 64}
    assert TFO_CONTEXT.hex() in {c["context"] for c in DERIVE}
    assert len({c["context"] for c in DERIVE}) >= 3
    assert any(len(bytes.fromhex(c["main_key"])) > MAIN_KEY_LEN for c in DERIVE)
    assert any(len(bytes.fromhex(c["main_key"])) > MAIN_KEY_LEN for c in TFO)

    intervals = {c["interval"] for c in TFO}
    assert {10, 12, 3600, 86400, 604800} <= intervals
    for interval in intervals:
        cases = [c for c in TFO if c["interval"] == interval]
        times = {c["time"] for c in cases}
        assert {MIN_TIME, MAX_TIME} <= times, interval
        offsets = {t % interval for t in times - {MIN_TIME, MAX_TIME}}
        half = interval // 2
        assert {interval - 1, 0, 1, half - 1, half, half + 1} <= offsets, interval

    errors = {(c["operation"], c.get("interval"), c.get("time"), c.get("output_len"),
               len(c.get("main_key", "")) // 2) for c in ERRORS}
    ops = {e[0] for e in errors}
    assert ops == {"main_key", "schedule", "schedule_at", "derive_key"}
    assert any(op == "schedule" and i % 2 == 1 for op, i, *_ in errors)
    for interval in (8, 604802):
        assert any(op == "schedule" and i == interval for op, i, *_ in errors)
    for time in (999999, 100000000001):
        assert any(op == "schedule_at" and t == time for op, _, t, *_ in errors)
    for n in (15, 65):
        assert any(op == "derive_key" and o == n for op, _, _, o, _ in errors)
    assert any(op == "main_key" and k == 31 for op, _, _, _, k in errors)
    zero = [c for c in ERRORS if c["operation"] == "main_key"
            and len(c["main_key"]) >= 2 * MAIN_KEY_LEN and not any(bytes.fromhex(c["main_key"]))]
    assert zero and all(c["kind"] == "MainKeyZero" for c in zero)
