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
    assert isinstance(k.__version__, str) and k.__version__


def test_secrets_are_not_shown_or_pickled():
    main = keywheel.MainKey(TOFURKEY_KEY)
    tfo = keywheel.tfo_keys(main, keywheel.Schedule(), 1_000_000)
    label = keywheel.LabelKey(main, "www.example.com")
    key = label.ticket_key("aes256", 7)
    assert repr(main) == str(main) == "MainKey(..)"
    assert repr(tfo) == "TfoKeys(..)"
    assert repr(label) == "LabelKey('www.example.com', ..)"
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
    slot = keywheel.TicketSchedule(3600).at(1_700_000_000)
    with pytest.raises(AttributeError):
        slot.current = 1
    with pytest.raises(AttributeError):
        keywheel.LabelKey(keywheel.MainKey(bytes(32)), "a").label = "b"


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


def test_ticket_schedule_and_slot():
    ts = keywheel.TicketSchedule(3600)
    assert (ts.interval, ts.keep, ts.max_ticket_age) == (3600, 1, 7200)
    assert repr(ts) == "TicketSchedule(interval=3600, keep=1)"
    assert ts == keywheel.TicketSchedule(3600, keep=1) != keywheel.TicketSchedule(3600, 2)
    slot = keywheel.TicketSchedule(3600, keep=2).at(1_700_000_000)
    c = 1_700_000_000 // 3600
    assert (slot.now, slot.current, slot.keep, slot.next_rotation) == (1_700_000_000, c, 2, (c + 1) * 3600)
    R = keywheel.Role
    assert slot.window() == [(c - 2, R.previous(2)), (c - 1, R.previous(1)), (c, R.CURRENT), (c + 1, R.NEXT)]
    assert slot.counter(R.NEXT) == c + 1 and slot.counter(R.previous(3)) is None
    assert slot.role(c + 2) is None and slot.role(c - 3) is None
    assert repr(slot) == f"TicketSlot(now=1700000000, current={c}, keep=2, next_rotation={(c + 1) * 3600})"
    # keep 0: only current and next.
    assert [r for _, r in keywheel.TicketSchedule(604800, 0).at(10**9).window()] == [R.CURRENT, R.NEXT]


def test_lookup_results():
    main = keywheel.MainKey(TOFURKEY_KEY)
    label = keywheel.LabelKey(main, "svc")
    slot = keywheel.TicketSchedule(60, keep=1).at(1_000_020)
    cur = label.lookup("aes128", slot, label.ticket_name("aes128", slot.current))
    assert cur and cur.kind == "current" and cur.role == keywheel.Role.CURRENT
    assert cur.key.name == label.ticket_name("aes128", slot.current)
    assert repr(cur) == "Lookup('current', Role.CURRENT)"
    nxt = label.lookup("aes128", slot, bytearray(label.ticket_name("aes128", slot.current + 1)))
    assert nxt.kind == "accepted" and nxt.role == keywheel.Role.NEXT
    # A name of the other strength, or of another label, is not found.
    assert not label.lookup("aes256", slot, label.ticket_name("aes128", slot.current))
    other = keywheel.LabelKey(main, "svd")
    miss = label.lookup("aes128", slot, other.ticket_name("aes128", slot.current))
    assert not miss and repr(miss) == "Lookup('not_found')"


def test_formats_describe_themselves():
    table = {f: keywheel.Format(f) for f in keywheel.FORMATS}
    for name, f in table.items():
        strength, layout, _, b64 = ref.FORMATS[name]
        assert (f.name, f.strength, f.layout) == (name, strength, "name_" + layout)
        assert f.base64_lines == b64
        assert f.one_file_per_key == name.startswith("nginx")
        assert f.current_only == (name in ("apache", "openssl"))
        assert repr(f) == f"Format('{name}')"
        assert keywheel.Format(f) == f and hash(keywheel.Format(name)) == hash(f)
    assert [table[n].record_len for n in keywheel.FORMATS] == [80, 48, 109, 65, 48, 48, 80]
    slot = keywheel.TicketSchedule(3600, keep=3).at(1_700_000_000)
    R = keywheel.Role
    assert table["nginx"].roles(slot) == [R.CURRENT, R.NEXT, R.previous(1), R.previous(2), R.previous(3)]
    assert table["ats"].key_count(slot) == 5
    assert table["apache"].roles(slot) == [R.CURRENT] == table["openssl"].roles(slot)
    slot1 = keywheel.TicketSchedule(3600, keep=1).at(1_700_000_000)
    assert table["haproxy"].roles(slot1) == [R.previous(1), R.CURRENT, R.NEXT]


def test_render_accepts_a_format_object_and_returns_bytes():
    label = keywheel.LabelKey(keywheel.MainKey(TOFURKEY_KEY), "www.example.com")
    slot = keywheel.TicketSchedule(3600, keep=1).at(1_700_000_000)
    for name in keywheel.FORMATS:
        a = keywheel.render(name, label, slot)
        assert isinstance(a, bytes)
        assert a == keywheel.render(keywheel.Format(name), label, slot) == keywheel.Format(name).render(label, slot)
        parts = keywheel.render_keys(name, label, slot)
        assert all(isinstance(p, bytes) for p in parts) and b"".join(parts) == a
