"""The shape of the API: names, reprs without secrets, values of the spec's examples."""

import copy
import pickle

import pytest

import keywheel
import reference as ref
from conftest import TOFURKEY_KEY


def test_package_layout():
    # The native module is private and re-exported; the package is typed.
    import importlib.resources

    assert keywheel._keywheel.__name__ == "keywheel._keywheel"
    for name in keywheel.__all__:
        assert getattr(keywheel, name) is getattr(keywheel._keywheel, name)
    assert set(keywheel.__all__) == set(keywheel._keywheel.__all__)
    files = importlib.resources.files("keywheel")
    assert files.joinpath("py.typed").is_file()
    assert files.joinpath("_keywheel.pyi").is_file()


def test_docstrings_everywhere():
    assert keywheel.__doc__ and keywheel._keywheel.__doc__
    for name in keywheel.__all__:
        obj = getattr(keywheel, name)
        if callable(obj):
            assert obj.__doc__, name
        if isinstance(obj, type):
            public = [a for a in vars(obj) if not a.startswith("_")]
            assert public or obj is keywheel.KeywheelError, name
            for attr in public:  # methods, static methods, getters, class attributes
                assert getattr(obj, attr).__doc__, f"{name}.{attr}"


def test_constants_are_the_specs():
    k = keywheel
    assert (k.MAIN_KEY_LEN, k.CONTEXT_LEN, k.DERIVE_MIN_LEN, k.DERIVE_MAX_LEN) == (32, 8, 16, 64)
    assert (k.MIN_INTERVAL, k.MAX_INTERVAL, k.DEFAULT_INTERVAL) == (10, 604800, 86400)
    assert (k.MIN_TIME, k.MAX_TIME) == (1_000_000, 100_000_000_000)
    assert (k.TFO_CONTEXT, k.TFO_KEY_LEN, k.TICKET_NAME_LEN) == (b"tofurkey", 16, 16)
    assert (k.MAX_LABEL_LEN, k.MAX_TICKET_AGE) == (64, 604800)
    assert k.FORMATS == ("nginx", "nginx48", "haproxy", "haproxy48", "apache", "ats", "openssl")
    assert k.STRENGTHS == ("aes256", "aes128")
    assert k.FINGERPRINT_LEN == 8
    # The stubs' type-level copies of the core's names.
    from keywheel import _keywheel as native
    stubs = (native.__file__.rsplit("/", 1)[0]) + "/_keywheel.pyi"
    text = open(stubs).read()
    for alias, names in (("_Strength", k.STRENGTHS),):
        line = next(l for l in text.splitlines() if l.startswith(alias + " = Literal["))
        assert line == f"{alias} = Literal[{', '.join(repr(n).replace(chr(39), chr(34)) for n in names)}]"
    assert isinstance(k.__version__, str) and k.__version__


def test_secrets_are_not_shown_or_pickled():
    main = keywheel.MainKey(TOFURKEY_KEY)
    tfo = keywheel.tfo_keys(main, keywheel.Schedule(), 1_000_000)
    label = keywheel.TicketKeys(main, "www.example.com", "aes256", 3600)
    key = label.by_counter(7)
    assert repr(main) == str(main) == "MainKey(..)"
    assert repr(tfo) == "TfoKeys(..)"
    assert repr(label) == "TicketKeys('www.example.com', 'aes256', interval=3600, keep=1, ..)"
    assert repr(key) == f"TicketKey(strength='aes256', counter=7, name=bytes.fromhex('{key.name.hex()}'), ..)"
    for text in (repr(main), repr(tfo), repr(label), repr(key)):
        for secret in (TOFURKEY_KEY, tfo.primary, tfo.backup, key.aes_key, key.hmac_key):
            assert secret.hex()[:8] not in text
    for obj in (main, tfo, label, key):
        with pytest.raises(TypeError):
            pickle.dumps(obj)
        with pytest.raises(TypeError):
            copy.copy(obj)


def test_objects_are_immutable():
    keys = keywheel.TicketKeys(keywheel.MainKey(b"\x01" * 32), "a", "aes256", 3600)
    slot = keys.slot(1_700_000_000)
    with pytest.raises(AttributeError):
        slot.current = 1
    with pytest.raises(AttributeError):
        keys.label = "b"


def test_main_key_uses_the_first_32_bytes():
    long = TOFURKEY_KEY + b"ignored bytes"
    a = keywheel.derive_key(keywheel.MainKey(long), b"tofurkey", 11, 16)
    assert a.hex() == "c998252e8f89667d31961e083897526b"  # SPEC §3.3
    assert keywheel.MainKey.from_bytes(bytearray(long)) is not None


def test_spec_tfo_examples():
    # SPEC §3.2 worked example, interval 10.
    s = keywheel.Schedule(10)
    assert s.interval == 10 and repr(s) == "Schedule(interval=10)"
    got = [(x.primary, x.backup, x.next_wake) for x in map(s.at, (1000000, 1000005, 1000010))]
    assert got == [(100000, 99999, 1000005), (100000, 100001, 1000010), (100001, 100000, 1000015)]
    assert s.at(1000000).wake_time() == (1000007, 20_000_000)
    assert keywheel.Schedule() == keywheel.Schedule(86400) != s
    assert s.at(1000000) == s.at(1000000) and hash(s.at(1000000)) == hash(s.at(1000000))
    assert repr(s.at(1000000)) == "Slot(now=1000000, primary=100000, backup=99999, next_wake=1000005)"


def test_roles():
    R = keywheel.Role
    assert R.CURRENT == R.CURRENT and R.CURRENT != R.NEXT and R.previous(1) == R.previous(1)
    assert R.previous(1) != R.previous(2)
    assert len({R.CURRENT, R.NEXT, R.previous(1), R.previous(1)}) == 3
    assert (R.CURRENT.kind, R.NEXT.kind, R.previous(3).kind) == ("current", "next", "previous")
    assert (R.CURRENT.n, R.NEXT.n, R.previous(3).n) == (0, 0, 3)
    assert [str(r) for r in (R.CURRENT, R.NEXT, R.previous(2))] == ["current", "next", "previous 2"]
    assert [repr(r) for r in (R.CURRENT, R.NEXT, R.previous(2))] == ["Role.CURRENT", "Role.NEXT", "Role.previous(2)"]


def test_ticket_keys_schedule_and_slot():
    main = keywheel.MainKey(TOFURKEY_KEY)
    ts = keywheel.TicketKeys(main, "svc", "aes128", 3600)
    assert (ts.label, ts.strength, ts.interval, ts.keep, ts.max_ticket_age) == ("svc", "aes128", 3600, 1, 7200)
    slot = keywheel.TicketKeys(main, "svc", "aes256", 3600, keep=2).slot(1_700_000_000)
    c = 1_700_000_000 // 3600
    assert (slot.now, slot.current, slot.keep, slot.next_rotation) == (1_700_000_000, c, 2, (c + 1) * 3600)
    R = keywheel.Role
    assert slot.window() == [(c - 2, R.previous(2)), (c - 1, R.previous(1)), (c, R.CURRENT), (c + 1, R.NEXT)]
    assert slot.counter(R.NEXT) == c + 1 and slot.counter(R.previous(3)) is None
    assert slot.role(c + 2) is None and slot.role(c - 3) is None
    assert repr(slot) == f"TicketSlot(now=1700000000, current={c}, keep=2, next_rotation={(c + 1) * 3600})"
    # keep 0: only current and next.
    k0 = keywheel.TicketKeys(main, "svc", "aes256", 604800, 0)
    assert [r for _, r in k0.slot(10**9).window()] == [R.CURRENT, R.NEXT]
    # now defaults to the current time.
    import time
    assert abs(ts.slot().now - time.time()) < 5


def test_current_and_by_counter_match_the_reference():
    main = keywheel.MainKey(TOFURKEY_KEY)
    for strength in keywheel.STRENGTHS:
        keys = keywheel.TicketKeys(main, "www.example.com", strength, 3600)
        cur = keys.current(1_700_000_000)
        name, aes, hmac = ref.ticket_key(TOFURKEY_KEY, "www.example.com", strength, 1_700_000_000 // 3600)
        assert (cur.name, cur.aes_key, cur.hmac_key, cur.strength) == (name, aes, hmac, strength)
        assert keys.by_counter(5).name == ref.ticket_key(TOFURKEY_KEY, "www.example.com", strength, 5)[0]


def test_main_key_fingerprint_matches_hashlib():
    import hashlib
    want = hashlib.blake2b(b"", digest_size=8, key=TOFURKEY_KEY[:32], person=b"keywheel.mainfp").digest()
    assert keywheel.MainKey(TOFURKEY_KEY).fingerprint() == want
    assert keywheel.MainKey(b"\x01" * 32).fingerprint() != want


def test_lookup_results():
    main = keywheel.MainKey(TOFURKEY_KEY)
    keys = keywheel.TicketKeys(main, "svc", "aes128", 60, keep=1)
    now = 1_000_020
    c = now // 60
    name = lambda label, strength, n: ref.ticket_key(TOFURKEY_KEY, label, strength, n)[0]
    cur = keys.lookup(name("svc", "aes128", c), now)
    assert cur and cur.kind == "current" and cur.role == keywheel.Role.CURRENT
    assert cur.key.name == name("svc", "aes128", c)
    assert repr(cur) == "Lookup('current', Role.CURRENT)"
    nxt = keys.lookup(bytearray(name("svc", "aes128", c + 1)), now)
    assert nxt.kind == "accepted" and nxt.role == keywheel.Role.NEXT
    # A name of the other strength, or of another label, is not found.
    assert not keys.lookup(name("svc", "aes256", c), now)
    miss = keys.lookup(name("svd", "aes128", c), now)
    assert not miss and repr(miss) == "Lookup('not_found')"


def test_format_record_lengths():
    assert [keywheel.format_record_len(n) for n in keywheel.FORMATS] == [80, 48, 109, 65, 48, 48, 80]


def test_render_returns_the_reference_records():
    main = keywheel.MainKey(TOFURKEY_KEY)
    for name in keywheel.FORMATS:
        strength = ref.FORMATS[name][0]
        keys = keywheel.TicketKeys(main, "www.example.com", strength, 3600, keep=1)
        out = keys.render(name, 1_700_000_000)
        assert isinstance(out, bytes)
        want = ref.render_records(TOFURKEY_KEY, "www.example.com", name, 3600, 1, 1_700_000_000)
        assert out == b"".join(want)
        n = keywheel.format_record_len(name)
        assert [out[i:i + n] for i in range(0, len(out), n)] == want


def test_render_rollover_appends_the_other_main_keys_window():
    # SPEC §5.2: nginx, nginx48 and ats get the previous main key's window after their own.
    old = bytes(range(100, 132))
    now = 1_700_000_000
    for name in keywheel.FORMATS:
        strength = ref.FORMATS[name][0]
        keys = keywheel.TicketKeys(keywheel.MainKey(TOFURKEY_KEY), "svc", strength, 3600)
        previous = keywheel.TicketKeys(keywheel.MainKey(old), "svc", strength, 3600)
        own = b"".join(ref.render_records(TOFURKEY_KEY, "svc", name, 3600, 1, now))
        theirs = b"".join(ref.render_records(old, "svc", name, 3600, 1, now))
        got = keys.render_rollover(name, [previous], now)
        assert got == (own + theirs if name in ("nginx", "nginx48", "ats") else own), name
        assert keys.render_rollover(name, [], now) == own


def test_tfo_key_fingerprint_matches_hashlib():
    # The primary key of tofurkey's test vector (SPEC §3.3).
    import hashlib
    key = bytes.fromhex("c998252e8f89667d31961e083897526b")
    want = hashlib.blake2b(key, digest_size=8, person=b"keywheel.tfofp").digest()
    assert want.hex() == "63f0af72476c6cbb"
    assert keywheel.tfo_key_fingerprint(key) == keywheel.tfo_key_fingerprint(bytearray(key)) == want
    with pytest.raises(keywheel.KeywheelError, match="TFO key is 15 bytes; it must be 16 bytes"):
        keywheel.tfo_key_fingerprint(bytes(15))
    with pytest.raises(TypeError):
        keywheel.tfo_key_fingerprint("c998")
