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

TLS session-ticket keys (the same ``TicketKeys`` as in C and JavaScript)::

    keys = keywheel.TicketKeys(main, "www.example.com", "aes256", 3600, keep=1)
    keys.current()                  # name, aes_key, hmac_key of the encrypting key
    keys.lookup(ticket[:16])        # the key of a ticket's name, if accepted
    keys.render("haproxy")          # the file HAProxy reads
"""

from ._keywheel import (
    CONTEXT_LEN,
    DEFAULT_INTERVAL,
    DERIVE_MAX_LEN,
    DERIVE_MIN_LEN,
    FINGERPRINT_LEN,
    FORMATS,
    MAIN_KEY_LEN,
    MAX_INTERVAL,
    MAX_LABEL_LEN,
    MAX_TICKET_AGE,
    MAX_TIME,
    MIN_INTERVAL,
    MIN_TIME,
    ROOT_ID_LEN,
    SEED_LEN,
    STATE_FILE_MAX_LEN,
    STRENGTHS,
    TFO_CONTEXT,
    TFO_KEY_LEN,
    TICKET_NAME_LEN,
    TREE_END,
    KeywheelError,
    Lookup,
    MainKey,
    Role,
    Schedule,
    Slot,
    State,
    TfoKeys,
    TicketKey,
    TicketKeys,
    TicketSlot,
    __version__,
    derive_key,
    format_record_len,
    tfo_key_fingerprint,
    tfo_keys,
)

__all__ = [
    "CONTEXT_LEN",
    "DEFAULT_INTERVAL",
    "DERIVE_MAX_LEN",
    "DERIVE_MIN_LEN",
    "FINGERPRINT_LEN",
    "FORMATS",
    "MAIN_KEY_LEN",
    "MAX_INTERVAL",
    "MAX_LABEL_LEN",
    "MAX_TICKET_AGE",
    "MAX_TIME",
    "MIN_INTERVAL",
    "MIN_TIME",
    "ROOT_ID_LEN",
    "SEED_LEN",
    "STATE_FILE_MAX_LEN",
    "STRENGTHS",
    "TFO_CONTEXT",
    "TFO_KEY_LEN",
    "TICKET_NAME_LEN",
    "TREE_END",
    "KeywheelError",
    "Lookup",
    "MainKey",
    "Role",
    "Schedule",
    "Slot",
    "State",
    "TfoKeys",
    "TicketKey",
    "TicketKeys",
    "TicketSlot",
    "__version__",
    "derive_key",
    "format_record_len",
    "tfo_key_fingerprint",
    "tfo_keys",
]
