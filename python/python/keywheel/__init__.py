"""keywheel: every server of a cluster computes the same short-lived keys -- Linux TCP Fast Open
keys and TLS session-ticket keys -- from one shared main secret and the clock.

Everything is computed by the Rust crate ``keywheel`` (the native module ``keywheel._keywheel``);
this package re-exports it. Keys are returned as ``bytes``. Bad values raise
:class:`KeywheelError` (a ``ValueError``) whose message names the value and the range it must be
in; arguments of the wrong type raise ``TypeError``.

TCP Fast Open (tofurkey-compatible)::

    main = keywheel.MainKey.from_file("/etc/keywheel/main.key")
    keys = keywheel.tfo_keys(main, keywheel.Schedule(86400), int(time.time()))
    keys.procfs_text()      # for /proc/sys/net/ipv4/tcp_fastopen_key

TLS session-ticket keys::

    label = keywheel.LabelKey(main, "www.example.com")
    slot = keywheel.TicketSchedule(3600, keep=1).at(int(time.time()))
    label.ticket_key("aes256", slot.current)          # name, aes_key, hmac_key
    keywheel.render("haproxy", label, slot)          # the file HAProxy reads
"""

from ._keywheel import (
    CONTEXT_LEN,
    DEFAULT_INTERVAL,
    DERIVE_MAX_LEN,
    DERIVE_MIN_LEN,
    FORMATS,
    MAIN_KEY_LEN,
    MAX_INTERVAL,
    MAX_LABEL_LEN,
    MAX_TICKET_AGE,
    MAX_TIME,
    MIN_INTERVAL,
    MIN_TIME,
    STRENGTHS,
    TFO_CONTEXT,
    TFO_KEY_LEN,
    TICKET_NAME_LEN,
    Format,
    KeywheelError,
    LabelKey,
    Lookup,
    MainKey,
    Role,
    Schedule,
    Slot,
    TfoKeys,
    TicketKey,
    TicketSchedule,
    TicketSlot,
    __version__,
    derive_key,
    render,
    render_keys,
    tfo_keys,
)

__all__ = [
    "CONTEXT_LEN",
    "DEFAULT_INTERVAL",
    "DERIVE_MAX_LEN",
    "DERIVE_MIN_LEN",
    "FORMATS",
    "MAIN_KEY_LEN",
    "MAX_INTERVAL",
    "MAX_LABEL_LEN",
    "MAX_TICKET_AGE",
    "MAX_TIME",
    "MIN_INTERVAL",
    "MIN_TIME",
    "STRENGTHS",
    "TFO_CONTEXT",
    "TFO_KEY_LEN",
    "TICKET_NAME_LEN",
    "Format",
    "KeywheelError",
    "LabelKey",
    "Lookup",
    "MainKey",
    "Role",
    "Schedule",
    "Slot",
    "TfoKeys",
    "TicketKey",
    "TicketSchedule",
    "TicketSlot",
    "__version__",
    "derive_key",
    "render",
    "render_keys",
    "tfo_keys",
]
