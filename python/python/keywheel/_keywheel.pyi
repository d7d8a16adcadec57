"""Type stubs of the native module keywheel._keywheel (checked by ``python -m mypy.stubtest``)."""

from os import PathLike
from typing import ClassVar, Literal, Optional, Union, final

_Bytes = Union[bytes, bytearray]
_Strength = Literal["aes256", "aes128"]
_Layout = Literal["name_hmac_aes", "name_aes_hmac"]
_FormatName = Literal["nginx", "nginx48", "haproxy", "haproxy48", "apache", "ats", "openssl"]

__all__ = [
    "KeywheelError",
    "MainKey",
    "derive_key",
    "Schedule",
    "Slot",
    "TfoKeys",
    "tfo_keys",
    "Role",
    "LabelKey",
    "TicketKey",
    "TicketSchedule",
    "TicketSlot",
    "Lookup",
    "Format",
    "render",
    "render_keys",
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
        """Reads a main key file (first 32 bytes); refuses group/other access unless allowed."""

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
class LabelKey:
    """The main key specialised to one label (1..=64 bytes of UTF-8)."""

    def __new__(cls, main: MainKey, label: str) -> LabelKey: ...
    @property
    def label(self) -> str: ...
    def ticket_key(self, strength: str, counter: int) -> TicketKey:
        """The ticket key of interval ``counter``."""
    def ticket_name(self, strength: str, counter: int) -> bytes:
        """The 16-byte name of the ticket key of interval ``counter``."""
    def lookup(self, strength: str, slot: TicketSlot, name: _Bytes) -> Lookup:
        """Looks a ticket's key name up in ``slot``'s window."""

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
    def record(self, layout: str) -> bytes:
        """The key record: name || hmac || aes or name || aes || hmac."""

@final
class TicketSchedule:
    """Ticket rotation: interval (even, 10..=604800) and keep, (keep + 1) * interval <= 604800."""

    def __new__(cls, interval: int, keep: Optional[int] = None) -> TicketSchedule: ...
    @property
    def interval(self) -> int: ...
    @property
    def keep(self) -> int: ...
    @property
    def max_ticket_age(self) -> int: ...
    def at(self, now: int) -> TicketSlot:
        """The slot at unix time ``now``."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

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
    """Result of ``LabelKey.lookup``; true when a key was found."""

    @property
    def kind(self) -> Literal["current", "accepted", "not_found"]: ...
    @property
    def key(self) -> Optional[TicketKey]: ...
    @property
    def role(self) -> Optional[Role]: ...
    def __bool__(self) -> bool: ...

@final
class Format:
    """A server's ticket-key format (one of ``FORMATS``)."""

    def __new__(cls, name: Union[str, Format]) -> Format: ...
    @property
    def name(self) -> _FormatName: ...
    @property
    def strength(self) -> _Strength: ...
    @property
    def layout(self) -> _Layout: ...
    @property
    def record_len(self) -> int: ...
    @property
    def one_file_per_key(self) -> bool: ...
    @property
    def base64_lines(self) -> bool: ...
    @property
    def current_only(self) -> bool: ...
    def key_count(self, slot: TicketSlot) -> int: ...
    def roles(self, slot: TicketSlot) -> list[Role]: ...
    def render_key(self, key: TicketKey) -> bytes: ...
    def render(self, label: LabelKey, slot: TicketSlot) -> bytes:
        """Every key of the format for ``slot`` (for nginx: the per-key files concatenated)."""
    def render_keys(self, label: LabelKey, slot: TicketSlot) -> list[bytes]:
        """The records of ``render`` one by one (for nginx: file i.key is item i)."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

def render(format: Union[str, Format], label: LabelKey, slot: TicketSlot) -> bytes:
    """``Format(format).render(label, slot)``."""

def render_keys(
    format: Union[str, Format], label: LabelKey, slot: TicketSlot
) -> list[bytes]:
    """``Format(format).render_keys(label, slot)``."""
