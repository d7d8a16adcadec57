"""Type stubs of the native module keywheel._keywheel (checked by ``python -m mypy.stubtest``)."""

from os import PathLike
from typing import ClassVar, Literal, Optional, Sequence, Union, final

_Bytes = Union[bytes, bytearray]
# The two strengths of SPEC.md (python/tests/test_api.py checks them against STRENGTHS). A format
# name is any of FORMATS, which the module takes from the core's table: a new server format is
# one entry there, so it is not repeated here.
_Strength = Literal["aes256", "aes128"]
_FormatName = str

__all__ = [
    "KeywheelError",
    "MainKey",
    "derive_key",
    "Schedule",
    "Slot",
    "TfoKeys",
    "tfo_keys",
    "tfo_key_fingerprint",
    "Role",
    "TicketKeys",
    "State",
    "TicketKey",
    "TicketSlot",
    "Lookup",
    "format_record_len",
    "__version__",
    "MAIN_KEY_LEN",
    "CONTEXT_LEN",
    "DERIVE_MIN_LEN",
    "DERIVE_MAX_LEN",
    "MIN_INTERVAL",
    "MAX_INTERVAL",
    "DEFAULT_INTERVAL",
    "MIN_TIME",
    "MAX_TIME",
    "TFO_CONTEXT",
    "TFO_KEY_LEN",
    "TICKET_NAME_LEN",
    "MAX_LABEL_LEN",
    "MAX_TICKET_AGE",
    "FORMATS",
    "STRENGTHS",
    "FINGERPRINT_LEN",
    "SEED_LEN",
    "ROOT_ID_LEN",
    "STATE_FILE_MAX_LEN",
    "TREE_END",
]

__version__: str
MAIN_KEY_LEN: int
CONTEXT_LEN: int
DERIVE_MIN_LEN: int
DERIVE_MAX_LEN: int
MIN_INTERVAL: int
MAX_INTERVAL: int
DEFAULT_INTERVAL: int
MIN_TIME: int
MAX_TIME: int
TFO_CONTEXT: bytes
TFO_KEY_LEN: int
TICKET_NAME_LEN: int
MAX_LABEL_LEN: int
MAX_TICKET_AGE: int
FORMATS: tuple[str, ...]
STRENGTHS: tuple[str, ...]
FINGERPRINT_LEN: int
SEED_LEN: int
ROOT_ID_LEN: int
STATE_FILE_MAX_LEN: int
TREE_END: int

class KeywheelError(ValueError):
    """An input keywheel refuses; the message names the bad value and its range."""

@final
class MainKey:
    """The cluster's 32-byte main secret. ``repr()`` shows no key byte."""

    def __new__(cls, material: _Bytes) -> MainKey: ...
    @staticmethod
    def from_bytes(material: _Bytes) -> MainKey:
        """The main key made of the first 32 bytes of ``material``."""
    @staticmethod
    def from_file(path: Union[str, PathLike[str]], *, allow_insecure: bool = False) -> MainKey:
        """Reads a main key file (first 32 bytes); refuses group/other access unless allowed,
        and anything but a regular file."""
    def fingerprint(self) -> bytes:
        """The 8-byte public fingerprint: equal on nodes with the same main key."""

def derive_key(main: MainKey, context: _Bytes, subkey_id: int, length: int) -> bytes:
    """BLAKE2b(key=main, salt=LE64(subkey_id)||0^8, person=context||0^8), ``length`` bytes."""

@final
class Schedule:
    """The TFO rotation schedule (interval: even, 10..=604800 seconds; default 86400)."""

    def __new__(cls, interval: Optional[int] = None) -> Schedule: ...
    @property
    def interval(self) -> int: ...
    def at(self, now: int) -> Slot:
        """The slot at unix time ``now``."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Slot:
    """The primary and backup counters at one time, and the next half-interval boundary."""

    @property
    def now(self) -> int: ...
    @property
    def primary(self) -> int: ...
    @property
    def backup(self) -> int: ...
    @property
    def next_wake(self) -> int: ...
    def wake_time(self) -> tuple[int, int]:
        """``(seconds, nanoseconds)``: ``next_wake`` + 2.02 s."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class TfoKeys:
    """The primary and backup TFO keys of one slot. ``repr()`` shows no key byte."""

    @staticmethod
    def for_slot(main: MainKey, slot: Slot) -> TfoKeys: ...
    @property
    def primary(self) -> bytes: ...
    @property
    def backup(self) -> bytes: ...
    def procfs_text(self) -> str:
        """``"primary,backup"`` for /proc/sys/net/ipv4/tcp_fastopen_key (71 characters)."""

def tfo_keys(main: MainKey, schedule: Schedule, now: int) -> TfoKeys:
    """The TFO keys to install at unix time ``now``."""

def tfo_key_fingerprint(key: _Bytes) -> bytes:
    """The 8-byte public fingerprint of a 16-byte TFO key."""

@final
class Role:
    """A key's role in a ticket window: CURRENT, NEXT or previous(n)."""

    CURRENT: ClassVar[Role]
    NEXT: ClassVar[Role]
    @staticmethod
    def previous(n: int) -> Role: ...
    @property
    def kind(self) -> Literal["current", "next", "previous"]: ...
    @property
    def n(self) -> int: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class TicketKeys:
    """The ticket keys of one label, strength, interval and keep. ``now`` defaults to the time."""

    def __new__(
        cls,
        main: MainKey,
        label: str,
        strength: _Strength,
        interval: int,
        keep: Optional[int] = None,
    ) -> TicketKeys: ...
    @staticmethod
    def from_state(
        state: State,
        label: str,
        strength: _Strength,
        interval: int,
        keep: Optional[int] = None,
        now: Optional[int] = None,
    ) -> TicketKeys:
        """Forward-secure ticket keys from ``state``: a punctured copy of it, from the oldest key
        accepted at ``now``."""
    def advance(self, now: Optional[int] = None) -> None:
        """Forward-secure mode: punctures the copy of the state up to the window at ``now``."""
    @property
    def state_start(self) -> Optional[int]: ...
    @property
    def label(self) -> str: ...
    @property
    def strength(self) -> _Strength: ...
    @property
    def interval(self) -> int: ...
    @property
    def keep(self) -> int: ...
    @property
    def max_ticket_age(self) -> int: ...
    def slot(self, now: Optional[int] = None) -> TicketSlot:
        """The ticket window at unix time ``now``."""
    def current(self, now: Optional[int] = None) -> TicketKey:
        """The key that encrypts new tickets at ``now``."""
    def by_counter(self, counter: int) -> TicketKey:
        """The key of interval ``counter``."""
    def go_seed(self, counter: int) -> bytes:
        """The Go crypto/tls / Caddy session-ticket seed (32 bytes) of interval ``counter``."""
    def lookup(self, name: _Bytes, now: Optional[int] = None) -> Lookup:
        """Looks a ticket's 16-byte key name up among the keys accepted at ``now``."""
    def render(self, format: _FormatName, now: Optional[int] = None) -> bytes:
        """The key file of ``format`` (for nginx: the per-key files concatenated)."""
    def render_rollover(
        self, format: _FormatName, decrypt_only: Sequence[TicketKeys], now: Optional[int] = None
    ) -> bytes:
        """``render``, then the windows of ``decrypt_only`` (nginx, nginx48, ats only)."""

def format_record_len(format: _FormatName) -> int:
    """Length of one record of ``format`` (HAProxy: a base64 line with its newline)."""

@final
class TicketKey:
    """One ticket key: public 16-byte name, AES key and HMAC-SHA256 key."""

    @property
    def strength(self) -> _Strength: ...
    @property
    def counter(self) -> int: ...
    @property
    def name(self) -> bytes: ...
    @property
    def aes_key(self) -> bytes: ...
    @property
    def hmac_key(self) -> bytes: ...

@final
class TicketSlot:
    """The ticket window at one time: current encrypts; next and previous 1..keep decrypt."""

    @property
    def now(self) -> int: ...
    @property
    def current(self) -> int: ...
    @property
    def keep(self) -> int: ...
    @property
    def next_rotation(self) -> int: ...
    def counter(self, role: Role) -> Optional[int]: ...
    def role(self, counter: int) -> Optional[Role]: ...
    def window(self) -> list[tuple[int, Role]]:
        """``(counter, role)`` of every accepted key, oldest first."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Lookup:
    """Result of ``TicketKeys.lookup``; true when a key was found."""

    @property
    def kind(self) -> Literal["current", "accepted", "not_found"]: ...
    @property
    def key(self) -> Optional[TicketKey]: ...
    @property
    def role(self) -> Optional[Role]: ...
    def __bool__(self) -> bool: ...

@final
class State:
    """A forward-secure state: the tree nodes covering the seconds from ``s0`` on."""

    def __new__(cls, seed: _Bytes, s0: int) -> State: ...
    @staticmethod
    def from_bytes(data: _Bytes) -> State:
        """Reads a state file (version 1, strict)."""
    @staticmethod
    def from_file(path: Union[str, PathLike[str]], *, allow_insecure: bool = False) -> State:
        """Reads a state file with the checks of ``MainKey.from_file``."""
    def to_bytes(self) -> bytes:
        """The state file (a secret)."""
    def advance(self, s1: int) -> None:
        """Moves the start forward to ``s1``; the replaced nodes are wiped."""
    @property
    def s0(self) -> int: ...
    @property
    def root_id(self) -> bytes: ...
    @property
    def node_count(self) -> int: ...
    def tfo_keys(self, schedule: Schedule, now: Optional[int] = None) -> TfoKeys:
        """The forward-secure TFO keys to install at ``now``."""
