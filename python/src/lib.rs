//! Python bindings of keywheel: the private extension module `keywheel._keywheel`, re-exported
//! by the `keywheel` package (`python/python/keywheel/__init__.py`).
//!
//! Every computation is the core crate's; this file only converts arguments and results. Keys
//! are derived straight into Python `bytes` where the core writes into a caller's buffer, so no
//! Rust copy of them outlives the call. Errors of the core become `keywheel.KeywheelError`
//! (a `ValueError`) carrying the core's message; arguments of the wrong type raise `TypeError`.

use std::path::PathBuf;

use pyo3::create_exception;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyInt, PyString, PyTuple};
use zeroize::Zeroizing;

use keywheel as kw;
use keywheel::schedule::{Schedule as CoreSchedule, Slot as CoreSlot};
use keywheel::ticket::{TicketSchedule, TicketSlot as CoreTicketSlot};

create_exception!(
    keywheel,
    KeywheelError,
    PyValueError,
    "An input keywheel refuses. The message names the bad value and the range it must be in,\n\
     e.g. \"interval 11 is odd; it must be even and in 10..=604800\"."
);

/// The core's error as a Python exception.
fn err(e: kw::Error) -> PyErr {
    KeywheelError::new_err(e.to_string())
}

/// The name of an object's type, for `TypeError` messages.
fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

/// An `int` argument (not a `bool`) that fits in a `u64`; `out_of_range` makes the message of a
/// `KeywheelError` from the value's text when it does not (negative or too large).
fn u64_arg(
    obj: &Bound<'_, PyAny>,
    what: &str,
    out_of_range: impl FnOnce(&str) -> String,
) -> PyResult<u64> {
    if obj.is_instance_of::<PyBool>() || !obj.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be an int, not {}",
            type_name(obj)
        )));
    }
    match obj.extract::<u64>() {
        Ok(v) => Ok(v),
        Err(_) => Err(KeywheelError::new_err(out_of_range(&obj.str()?.to_cow()?))),
    }
}

/// A unix time in seconds.
fn time_arg(obj: &Bound<'_, PyAny>) -> PyResult<u64> {
    u64_arg(obj, "time", |v| {
        format!(
            "time {v} is out of range; it must be in {}..={}",
            kw::MIN_TIME,
            kw::MAX_TIME
        )
    })
}

/// An interval in seconds.
fn interval_arg(obj: &Bound<'_, PyAny>) -> PyResult<u64> {
    u64_arg(obj, "interval", |v| {
        format!(
            "interval {v} is out of range; it must be even and in {}..={}",
            kw::MIN_INTERVAL,
            kw::MAX_INTERVAL
        )
    })
}

/// An unsigned 64-bit counter (KDF subkey id or interval counter).
fn counter_arg(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<u64> {
    u64_arg(obj, what, |v| {
        format!("{what} {v} is out of range; it must be in 0..={}", u64::MAX)
    })
}

/// Runs `f` on the bytes of a `bytes` or `bytearray` argument. A `bytearray` (mutable, so it
/// cannot be borrowed safely) is copied into a buffer that is wiped afterwards.
fn with_bytes<R>(
    obj: &Bound<'_, PyAny>,
    what: &str,
    f: impl FnOnce(&[u8]) -> PyResult<R>,
) -> PyResult<R> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return f(b.as_bytes());
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        let copy = Zeroizing::new(b.to_vec());
        return f(&copy);
    }
    Err(PyTypeError::new_err(format!(
        "{what} must be bytes or bytearray, not {}",
        type_name(obj)
    )))
}

/// A `str` argument.
fn str_arg(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    let s = obj.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!("{what} must be a str, not {}", type_name(obj)))
    })?;
    match s.to_cow() {
        Ok(c) => Ok(c.into_owned()),
        Err(_) => Err(KeywheelError::new_err(format!(
            "{what} {} is not valid UTF-8 (it holds a lone surrogate)",
            repr(obj)?
        ))),
    }
}

/// Python's `repr()` of an object, for messages.
fn repr(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    Ok(obj.repr()?.to_cow()?.into_owned())
}

fn strength_arg(obj: &Bound<'_, PyAny>) -> PyResult<kw::Strength> {
    let name = str_arg(obj, "strength")?;
    kw::Strength::from_name(&name).ok_or_else(|| {
        let names: Vec<String> = kw::Strength::ALL
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        match repr(obj) {
            Ok(r) => KeywheelError::new_err(format!(
                "strength {r} is unknown; it must be {}",
                names.join(" or ")
            )),
            Err(e) => e,
        }
    })
}

fn format_arg(obj: &Bound<'_, PyAny>) -> PyResult<kw::Format> {
    let name = str_arg(obj, "format")?;
    match kw::Format::from_name(&name) {
        Some(f) => Ok(f),
        None => Err(KeywheelError::new_err(format!(
            "format {} is unknown; it must be one of {}",
            repr(obj)?,
            format_names().join(", ")
        ))),
    }
}

/// The names of the formats, from the core's table.
fn format_names() -> Vec<&'static str> {
    kw::FORMATS.iter().map(|f| f.name()).collect()
}

/// `now`, or the current unix time when `None`.
fn now_arg(now: Option<&Bound<'_, PyAny>>) -> PyResult<u64> {
    match now {
        Some(now) => time_arg(now),
        None => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())),
    }
}

// ---------------------------------------------------------------------------------------------
// Main key and derivation

/// The cluster's long-term main secret: 32 bytes.
///
/// ``MainKey(material)`` takes ``bytes`` or ``bytearray`` of at least 32 bytes and keeps the
/// first 32 (as tofurkey does with its key file). The Rust copy is wiped when the object is
/// freed; ``repr()`` shows no key byte, and the object cannot be pickled or copied. (Copies the
/// caller made in Python, e.g. the ``bytes`` given here, are not wiped.)
#[pyclass(frozen, module = "keywheel")]
struct MainKey {
    inner: kw::MainKey,
}

#[pymethods]
impl MainKey {
    #[new]
    fn new(material: &Bound<'_, PyAny>) -> PyResult<Self> {
        with_bytes(material, "main key material", |m| {
            Ok(MainKey {
                inner: kw::MainKey::from_bytes(m).map_err(err)?,
            })
        })
    }

    /// The main key made of the first 32 bytes of ``material`` (``bytes`` or ``bytearray``).
    ///
    /// Raises ``KeywheelError`` when ``material`` is shorter than 32 bytes.
    #[staticmethod]
    fn from_bytes(material: &Bound<'_, PyAny>) -> PyResult<Self> {
        Self::new(material)
    }

    /// Reads a main key file: its first 32 bytes (a longer file is accepted, as by tofurkey).
    /// The loader is the core's, shared with the CLI and the C library.
    ///
    /// A file whose mode gives the group or others any access is refused with
    /// ``KeywheelError`` unless ``allow_insecure`` is true, as the CLI refuses it without
    /// ``--allow-insecure-key-file``; so is anything but a regular file (a directory, a FIFO,
    /// a device) and a file shorter than 32 bytes. A file that cannot be opened or read
    /// raises ``OSError``.
    #[staticmethod]
    #[pyo3(signature = (path, *, allow_insecure = false))]
    fn from_file(path: PathBuf, allow_insecure: bool) -> PyResult<Self> {
        let mode = if allow_insecure {
            kw::KeyFileMode::AllowInsecure
        } else {
            kw::KeyFileMode::Private
        };
        match kw::MainKey::from_file(&path, mode) {
            Ok(inner) => Ok(MainKey { inner }),
            Err(kw::KeyFileError::Open(e) | kw::KeyFileError::Read(e)) => Err(e.into()),
            Err(e) => Err(KeywheelError::new_err(e.message(
                "main key file",
                &path,
                "allow_insecure=True",
            ))),
        }
    }

    /// The main key's public 8-byte fingerprint: equal on nodes with the same main key; it
    /// reveals nothing about the key.
    fn fingerprint<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.fingerprint())
    }

    fn __repr__(&self) -> &'static str {
        "MainKey(..)"
    }
}

/// Derives ``length`` bytes: subkey ``subkey_id`` of ``main`` under the 8-byte ``context``.
///
/// BLAKE2b(key = main, salt = LE64(subkey_id) || 0^8, personal = context || 0^8, empty
/// message, digest length = ``length``), exactly libsodium's
/// ``crypto_kdf_blake2b_derive_from_key``. ``length`` must be in 16..=64 and ``subkey_id`` in
/// 0..=2**64-1; otherwise ``KeywheelError``.
#[pyfunction]
fn derive_key<'py>(
    py: Python<'py>,
    main: &MainKey,
    context: &Bound<'py, PyAny>,
    subkey_id: &Bound<'py, PyAny>,
    length: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let ctx = with_bytes(context, "context", |c| {
        <[u8; kw::CONTEXT_LEN]>::try_from(c).map_err(|_| {
            KeywheelError::new_err(format!(
                "context is {} bytes; it must be {} bytes",
                c.len(),
                kw::CONTEXT_LEN
            ))
        })
    })?;
    let id = counter_arg(subkey_id, "subkey_id")?;
    let len = u64_arg(length, "length", |v| {
        format!(
            "output length {v} is out of range; it must be in {}..={}",
            kw::DERIVE_MIN_LEN,
            kw::DERIVE_MAX_LEN
        )
    })?;
    // Check before allocating, so that a huge length is not an allocation; the core checks
    // again and its error is the one raised.
    let len = usize::try_from(len)
        .ok()
        .filter(|l| (kw::DERIVE_MIN_LEN..=kw::DERIVE_MAX_LEN).contains(l))
        .ok_or_else(|| {
            err(kw::Error::OutputLength {
                len: usize::try_from(len).unwrap_or(usize::MAX),
            })
        })?;
    PyBytes::new_with(py, len, |out| {
        kw::derive_key(&main.inner, &ctx, id, out).map_err(err)
    })
}

// ---------------------------------------------------------------------------------------------
// TCP Fast Open

/// The TFO rotation schedule: an interval in seconds, even and in 10..=604800 (default 86400,
/// tofurkey's).
#[pyclass(frozen, eq, hash, module = "keywheel")]
#[derive(PartialEq, Eq, Hash)]
struct Schedule {
    inner: CoreSchedule,
}

#[pymethods]
impl Schedule {
    #[new]
    #[pyo3(signature = (interval = None))]
    fn new(interval: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let interval = match interval {
            Some(i) => interval_arg(i)?,
            None => kw::DEFAULT_INTERVAL,
        };
        Ok(Schedule {
            inner: CoreSchedule::new(interval).map_err(err)?,
        })
    }

    /// The interval in seconds.
    #[getter]
    fn interval(&self) -> u64 {
        self.inner.interval()
    }

    /// The slot at unix time ``now`` (seconds, in 1000000..=100000000000).
    fn at(&self, now: &Bound<'_, PyAny>) -> PyResult<Slot> {
        Ok(Slot {
            inner: self.inner.at(time_arg(now)?).map_err(err)?,
        })
    }

    fn __repr__(&self) -> String {
        format!("Schedule(interval={})", self.inner.interval())
    }
}

/// What the TFO schedule says at one unix time: the counters of the primary and backup keys
/// and the next half-interval boundary.
#[pyclass(frozen, eq, hash, module = "keywheel")]
#[derive(PartialEq, Eq, Hash)]
struct Slot {
    inner: CoreSlot,
}

#[pymethods]
impl Slot {
    /// The unix time this slot was computed for.
    #[getter]
    fn now(&self) -> u64 {
        self.inner.now()
    }

    /// ``now // interval``: the counter of the primary key (new cookies).
    #[getter]
    fn primary(&self) -> u64 {
        self.inner.primary()
    }

    /// The counter of the backup key: primary - 1 in the first half of the interval,
    /// primary + 1 in the second half.
    #[getter]
    fn backup(&self) -> u64 {
        self.inner.backup()
    }

    /// The next half-interval boundary of unix time after ``now``.
    #[getter]
    fn next_wake(&self) -> u64 {
        self.inner.next_wake()
    }

    /// When a daemon wakes after this slot: ``(seconds, nanoseconds)`` of unix time,
    /// ``next_wake`` + 2.02 s.
    fn wake_time(&self) -> (u64, u32) {
        self.inner.wake_time()
    }

    fn __repr__(&self) -> String {
        let s = &self.inner;
        format!(
            "Slot(now={}, primary={}, backup={}, next_wake={})",
            s.now(),
            s.primary(),
            s.backup(),
            s.next_wake()
        )
    }
}

/// The primary and backup TFO keys of one slot (16 bytes each). ``repr()`` shows no key byte.
#[pyclass(frozen, module = "keywheel")]
struct TfoKeys {
    inner: kw::TfoKeys,
}

#[pymethods]
impl TfoKeys {
    /// The keys of ``slot``: ``derive_key(main, b"tofurkey", counter, 16)`` for its primary and
    /// backup counters.
    #[staticmethod]
    fn for_slot(main: &MainKey, slot: &Slot) -> Self {
        TfoKeys {
            inner: kw::TfoKeys::new(&main.inner, &slot.inner),
        }
    }

    /// The primary key (16 bytes): the kernel makes new cookies with it.
    #[getter]
    fn primary<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.primary())
    }

    /// The backup key (16 bytes): the kernel still accepts cookies made with it.
    #[getter]
    fn backup<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.backup())
    }

    /// The text for ``/proc/sys/net/ipv4/tcp_fastopen_key``: ``"primary,backup"``, each key as
    /// four groups of eight lowercase hex digits joined by ``-`` (71 characters, no NUL).
    fn procfs_text(&self) -> String {
        self.inner.procfs_text().as_str().to_owned()
    }

    fn __repr__(&self) -> &'static str {
        "TfoKeys(..)"
    }
}

/// The TFO keys to install at unix time ``now``: ``TfoKeys.for_slot(main, schedule.at(now))``.
#[pyfunction]
fn tfo_keys(main: &MainKey, schedule: &Schedule, now: &Bound<'_, PyAny>) -> PyResult<TfoKeys> {
    Ok(TfoKeys {
        inner: kw::tfo_keys(&main.inner, &schedule.inner, time_arg(now)?).map_err(err)?,
    })
}

// ---------------------------------------------------------------------------------------------
// TLS session-ticket keys

/// The role of a key in the window of one interval: ``Role.CURRENT`` (encrypts new tickets),
/// ``Role.NEXT`` (the next interval's key; decrypts tickets of a node whose clock runs ahead)
/// or ``Role.previous(n)`` (the key of ``n`` intervals ago, 1 <= n <= keep).
#[pyclass(frozen, eq, hash, module = "keywheel")]
#[derive(PartialEq, Eq, Hash, Clone, Copy)]
struct Role {
    inner: kw::Role,
}

#[pymethods]
impl Role {
    /// The current key's role.
    #[classattr]
    #[allow(non_snake_case)]
    fn CURRENT() -> Role {
        Role {
            inner: kw::Role::Current,
        }
    }

    /// The next key's role.
    #[classattr]
    #[allow(non_snake_case)]
    fn NEXT() -> Role {
        Role {
            inner: kw::Role::Next,
        }
    }

    /// The role of the key of ``n`` intervals ago (``n`` >= 1).
    #[staticmethod]
    fn previous(n: &Bound<'_, PyAny>) -> PyResult<Role> {
        let n = u64_arg(n, "n", |v| {
            format!(
                "previous {v} is out of range; it must be in 1..={}",
                u64::MAX
            )
        })?;
        if n == 0 {
            return Err(KeywheelError::new_err(format!(
                "previous 0 is out of range; it must be in 1..={}",
                u64::MAX
            )));
        }
        Ok(Role {
            inner: kw::Role::Previous(n),
        })
    }

    /// ``"current"``, ``"next"`` or ``"previous"``.
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.as_str()
    }

    /// For a previous key, how many intervals ago (>= 1); 0 for the current and next keys.
    #[getter]
    fn n(&self) -> u64 {
        self.inner.age().unwrap_or(0)
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self) -> String {
        match self.inner {
            kw::Role::Current => "Role.CURRENT".to_owned(),
            kw::Role::Next => "Role.NEXT".to_owned(),
            kw::Role::Previous(n) => format!("Role.previous({n})"),
        }
    }
}

/// One session-ticket key: a 16-byte ``name`` sent in clear in every ticket, an AES key and an
/// HMAC-SHA256 key (32 bytes each for ``"aes256"``, 16 for ``"aes128"``). ``repr()`` shows the
/// counter and the public name only.
#[pyclass(frozen, module = "keywheel")]
struct TicketKey {
    inner: kw::TicketKey,
}

#[pymethods]
impl TicketKey {
    /// ``"aes256"`` or ``"aes128"``.
    #[getter]
    fn strength(&self) -> &'static str {
        self.inner.strength().as_str()
    }

    /// The interval counter this key belongs to.
    #[getter]
    fn counter(&self) -> u64 {
        self.inner.counter()
    }

    /// The 16-byte key name (public: sent in clear inside every ticket).
    #[getter]
    fn name<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.name())
    }

    /// The AES key (32 bytes for aes256, 16 for aes128).
    #[getter]
    fn aes_key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.aes_key())
    }

    /// The HMAC-SHA256 key (32 bytes for aes256, 16 for aes128).
    #[getter]
    fn hmac_key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.hmac_key())
    }

    fn __repr__(&self) -> String {
        let name: String = self
            .inner
            .name()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!(
            "TicketKey(strength='{}', counter={}, name=bytes.fromhex('{name}'), ..)",
            self.strength(),
            self.inner.counter()
        )
    }
}

/// The session-ticket keys of one label (a service or cluster name, 1..=64 bytes of UTF-8)
/// under ``main``, in ``strength`` (``"aes256"`` or ``"aes128"``), rotated every ``interval``
/// seconds (even, 10..=604800) with ``keep`` previous keys accepted (default 1;
/// ``(keep + 1) * interval`` may not exceed 604800 s, RFC 8446's 7 days). It holds the
/// label's key, wiped when the object is freed; ``repr()`` shows no key byte.
///
/// Every ``now`` is a unix time in seconds (1000000..=100000000000), the current time when
/// omitted.
#[pyclass(module = "keywheel")]
struct TicketKeys {
    inner: kw::TicketKeys,
}

#[pymethods]
impl TicketKeys {
    #[new]
    #[pyo3(signature = (main, label, strength, interval, keep = None))]
    fn new(
        main: &MainKey,
        label: &Bound<'_, PyAny>,
        strength: &Bound<'_, PyAny>,
        interval: &Bound<'_, PyAny>,
        keep: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let (label, strength, schedule) = ticket_args(label, strength, interval, keep)?;
        Ok(TicketKeys {
            inner: kw::TicketKeys::new(&main.inner, &label, strength, schedule).map_err(err)?,
        })
    }

    /// The ticket keys of ``label`` in forward-secure mode from ``state`` (SPEC.md section 6):
    /// the same object as ``TicketKeys(main, ...)``, names, keys and every server format as in
    /// main-key mode. It keeps its own copy of the state, advanced to the start of the oldest
    /// key accepted at ``now``, so it derives no older key; ``advance`` moves it on. ``state``
    /// stays the caller's and may be advanced or deleted afterwards.
    ///
    /// Raises ``KeywheelError`` for a bad label, strength, interval, keep or time, and when
    /// ``state`` starts after the oldest key accepted at ``now`` ("...: it was punctured").
    #[staticmethod]
    #[pyo3(signature = (state, label, strength, interval, keep = None, now = None))]
    fn from_state(
        state: &State,
        label: &Bound<'_, PyAny>,
        strength: &Bound<'_, PyAny>,
        interval: &Bound<'_, PyAny>,
        keep: Option<&Bound<'_, PyAny>>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let (label, strength, schedule) = ticket_args(label, strength, interval, keep)?;
        let now = now_arg(now)?;
        let inner = scrubbed(true, || {
            kw::TicketKeys::from_state(&state.inner, &label, strength, schedule, now)
        });
        Ok(TicketKeys {
            inner: inner.map_err(state_err)?,
        })
    }

    /// Forward-secure mode: punctures this object's copy of the state up to the start of the
    /// oldest key accepted at ``now`` (the nodes it replaces are wiped), after checking that
    /// every key accepted at ``now`` can be derived; an earlier ``now`` whose keys it still
    /// derives changes nothing. Main-key mode: only checks ``now``.
    ///
    /// Raises ``KeywheelError`` for a bad time or a key that was punctured; nothing changes
    /// then.
    #[pyo3(signature = (now = None))]
    fn advance(&mut self, now: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let now = now_arg(now)?;
        let forward = self.forward();
        scrubbed(forward, || self.inner.advance(now)).map_err(state_err)
    }

    /// Forward-secure mode: the start of this object's copy of the state (unix seconds);
    /// ``None`` in main-key mode.
    #[getter]
    fn state_start(&self) -> Option<u64> {
        self.inner.state_start().map(|(s0, _)| s0)
    }

    /// The label.
    #[getter]
    fn label(&self) -> &str {
        self.inner.label()
    }

    /// ``"aes256"`` or ``"aes128"``.
    #[getter]
    fn strength(&self) -> &'static str {
        self.inner.strength().as_str()
    }

    /// The interval in seconds.
    #[getter]
    fn interval(&self) -> u64 {
        self.inner.schedule().interval()
    }

    /// How many previous keys are accepted.
    #[getter]
    fn keep(&self) -> u64 {
        self.inner.schedule().keep()
    }

    /// The longest a ticket can be accepted for, in seconds: ``(keep + 1) * interval``.
    #[getter]
    fn max_ticket_age(&self) -> u64 {
        self.inner.schedule().max_ticket_age()
    }

    /// The ticket window at ``now``.
    #[pyo3(signature = (now = None))]
    fn slot(&self, now: Option<&Bound<'_, PyAny>>) -> PyResult<TicketSlot> {
        Ok(TicketSlot {
            inner: self.inner.slot(now_arg(now)?).map_err(err)?,
        })
    }

    /// The key that encrypts new tickets at ``now``.
    #[pyo3(signature = (now = None))]
    fn current(&self, now: Option<&Bound<'_, PyAny>>) -> PyResult<TicketKey> {
        let now = now_arg(now)?;
        Ok(TicketKey {
            inner: scrubbed(self.forward(), || self.inner.current(now)).map_err(err)?,
        })
    }

    /// The key of interval ``counter`` (any counter, in the window or not).
    fn by_counter(&self, counter: &Bound<'_, PyAny>) -> PyResult<TicketKey> {
        let counter = counter_arg(counter, "counter")?;
        Ok(TicketKey {
            inner: scrubbed(self.forward(), || self.inner.by_counter(counter)).map_err(err)?,
        })
    }

    /// The Go ``crypto/tls`` / Caddy session-ticket seed of interval ``counter`` (32 bytes,
    /// what ``Config.SetSessionTicketKeys`` takes; SPEC.md 4.5, from a state 6.3). It does not
    /// depend on the strength.
    fn go_seed<'py>(
        &self,
        py: Python<'py>,
        counter: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let counter = counter_arg(counter, "counter")?;
        PyBytes::new_with(py, kw::GO_SEED_LEN, |out| {
            scrubbed(self.forward(), || {
                let seed = self.inner.go_seed(counter)?;
                out.copy_from_slice(seed.bytes());
                Ok(())
            })
            .map_err(err)
        })
    }

    /// Looks a ticket's 16-byte key ``name`` up among the keys accepted at ``now``. A name
    /// of another length is simply not found.
    #[pyo3(signature = (name, now = None))]
    fn lookup(
        &self,
        py: Python<'_>,
        name: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Lookup> {
        let now = now_arg(now)?;
        let forward = self.forward();
        let found = with_bytes(name, "name", |n| {
            scrubbed(forward, || self.inner.lookup(n, now)).map_err(err)
        })?;
        let kind = found.as_str();
        Ok(match found {
            kw::Lookup::Current(key) => Lookup {
                kind,
                key: Some(Py::new(py, TicketKey { inner: key })?),
                role: Some(Role {
                    inner: kw::Role::Current,
                }),
            },
            kw::Lookup::Accepted(key, role) => Lookup {
                kind,
                key: Some(Py::new(py, TicketKey { inner: key })?),
                role: Some(Role { inner: role }),
            },
            kw::Lookup::NotFound => Lookup {
                kind,
                key: None,
                role: None,
            },
        })
    }

    /// The key file of server format ``format`` (one of ``FORMATS``) at ``now``: every key
    /// the format holds, in its order. For nginx, which takes one key per file, the files
    /// concatenated: file ``i`` is record ``i`` of ``format_record_len(format)`` bytes.
    #[pyo3(signature = (format, now = None))]
    fn render<'py>(
        &self,
        py: Python<'py>,
        format: &Bound<'py, PyAny>,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        self.render_rollover(py, format, Vec::new(), now)
    }

    /// Main-key rollover (SPEC.md §5.2): ``render(format, now)``, then, for formats that hold
    /// any number of keys (nginx, nginx48, ats), the same window of each of ``decrypt_only``
    /// (``TicketKeys`` of the same label under the previous main key, then the next) as
    /// decrypt-only keys. Other formats get this object's keys alone.
    #[pyo3(signature = (format, decrypt_only, now = None))]
    fn render_rollover<'py>(
        &self,
        py: Python<'py>,
        format: &Bound<'py, PyAny>,
        decrypt_only: Vec<PyRef<'py, TicketKeys>>,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let format = format_arg(format)?;
        let now = now_arg(now)?;
        let others: Vec<&kw::TicketKeys> = decrypt_only.iter().map(|k| &k.inner).collect();
        let len = self.inner.rollover_len(format, others.len()).map_err(err)?;
        self.inner.slot(now).map_err(err)?;
        let forward = self.forward() || others.iter().any(|k| k.state_start().is_some());
        PyBytes::new_with(py, len, |out| {
            scrubbed(forward, || {
                self.inner.render_rollover(format, now, &others, out)
            })
            .map(|_| ())
            .map_err(err)
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let label = PyString::new(py, self.inner.label()).repr()?;
        Ok(format!(
            "TicketKeys({}, '{}', interval={}, keep={}, ..)",
            label.to_cow()?,
            self.strength(),
            self.interval(),
            self.keep()
        ))
    }
}

impl TicketKeys {
    /// Whether these keys come from a forward-secure state.
    fn forward(&self) -> bool {
        self.inner.state_start().is_some()
    }
}

/// The label, strength and schedule arguments of `TicketKeys` and `TicketKeys.from_state`.
fn ticket_args(
    label: &Bound<'_, PyAny>,
    strength: &Bound<'_, PyAny>,
    interval: &Bound<'_, PyAny>,
    keep: Option<&Bound<'_, PyAny>>,
) -> PyResult<(String, kw::Strength, TicketSchedule)> {
    let label = str_arg(label, "label")?;
    let strength = strength_arg(strength)?;
    let interval = interval_arg(interval)?;
    let keep = match keep {
        None => 1,
        Some(k) => match u64_arg(k, "keep", |_| String::new()) {
            Ok(k) => k,
            Err(e) if e.is_instance_of::<KeywheelError>(k.py()) => {
                // Negative or huge: report the interval's error first, as the core does.
                TicketSchedule::new(interval, 0).map_err(err)?;
                return Err(KeywheelError::new_err(format!(
                    "keep {} is out of range; it must be in 0..={}",
                    k.str()?.to_cow()?,
                    kw::MAX_TICKET_AGE / interval - 1
                )));
            }
            Err(e) => return Err(e),
        },
    };
    let schedule = TicketSchedule::new(interval, keep).map_err(err)?;
    Ok((label, strength, schedule))
}

// ---------------------------------------------------------------------------------------------
// Forward-secure mode

/// Runs `f`, then overwrites the stack its callees used ([`kw::scrub_stack`]) when `forward`:
/// node values, leaves and keys computed by the core on the way must not stay there.
#[inline(never)]
fn scrubbed<R>(forward: bool, f: impl FnOnce() -> R) -> R {
    let r = f();
    if forward {
        kw::scrub_stack();
    }
    r
}

/// A forward-secure error as a Python exception.
fn state_err(e: kw::StateError) -> PyErr {
    KeywheelError::new_err(e.to_string())
}

/// A second of the forward-secure tree (`0..2^40`; the core checks the upper end, JavaScript
/// words a negative value the same way).
fn tree_time_arg(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<u64> {
    u64_arg(obj, what, |v| {
        format!(
            "time {v} is out of range; it must be in 0..={}",
            kw::FS_END - 1
        )
    })
}

/// A forward-secure state (SPEC.md section 6): the tree nodes covering the unix seconds from
/// its start ``s0`` on, and nothing that derives an earlier second. ``State(seed, s0)`` makes
/// one from a 32-byte seed; ``from_bytes`` and ``from_file`` read a state file.
///
/// The nodes live in Rust memory, wiped when replaced by ``advance`` and when the object is
/// freed; ``repr()`` shows the start, node count and root id only, and the object cannot be
/// pickled or copied. (``bytes`` the caller holds, e.g. from ``to_bytes``, are not wiped.)
#[pyclass(module = "keywheel")]
struct State {
    inner: kw::State,
}

#[pymethods]
impl State {
    #[new]
    fn new(seed: &Bound<'_, PyAny>, s0: &Bound<'_, PyAny>) -> PyResult<Self> {
        let s0 = tree_time_arg(s0, "s0")?;
        with_bytes(seed, "seed", |seed| {
            Ok(State {
                inner: scrubbed(true, || kw::State::new(seed, s0)).map_err(state_err)?,
            })
        })
    }

    /// Reads a state from the bytes of a state file (version 1, strict: every malformed field,
    /// truncation, trailing byte or bad checksum raises ``KeywheelError`` naming it).
    #[staticmethod]
    fn from_bytes(data: &Bound<'_, PyAny>) -> PyResult<Self> {
        with_bytes(data, "state file", |data| {
            Ok(State {
                inner: scrubbed(true, || kw::State::from_bytes(data)).map_err(state_err)?,
            })
        })
    }

    /// Reads a state file with the checks of ``MainKey.from_file``: a regular file that group
    /// and others cannot access (unless ``allow_insecure``), at most 1322 bytes read into a
    /// buffer that is wiped, then the parser of ``from_bytes``. Refusals raise
    /// ``KeywheelError``; a file that cannot be opened or read raises ``OSError``.
    #[staticmethod]
    #[pyo3(signature = (path, *, allow_insecure = false))]
    fn from_file(path: PathBuf, allow_insecure: bool) -> PyResult<Self> {
        let mode = if allow_insecure {
            kw::KeyFileMode::AllowInsecure
        } else {
            kw::KeyFileMode::Private
        };
        match scrubbed(true, || kw::State::from_file(&path, mode)) {
            Ok(inner) => Ok(State { inner }),
            Err(kw::StateFileLoadError::File(
                kw::KeyFileError::Open(e) | kw::KeyFileError::Read(e),
            )) => Err(e.into()),
            Err(e) => Err(KeywheelError::new_err(e.message(
                "state file",
                &path,
                "allow_insecure=True",
            ))),
        }
    }

    /// The state file (version 1, ``41 + 32 * node_count`` bytes). It is a secret.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let len = self.inner.file_len();
        PyBytes::new_with(py, len, |out| {
            scrubbed(true, || self.inner.to_bytes(out))
                .map(|_| ())
                .map_err(err)
        })
    }

    /// Moves the start forward to ``s1`` (never backwards); every node it replaces is wiped.
    /// Raises ``KeywheelError`` when ``s1`` is before the start or past the tree; the state is
    /// then unchanged.
    fn advance(&mut self, s1: &Bound<'_, PyAny>) -> PyResult<()> {
        let s1 = tree_time_arg(s1, "s1")?;
        scrubbed(true, || self.inner.advance(s1)).map_err(state_err)
    }

    /// The start: the first second whose keys this state derives.
    #[getter]
    fn s0(&self) -> u64 {
        self.inner.s0()
    }

    /// The public 8-byte id of the tree's root: equal on every node of one seed.
    #[getter]
    fn root_id<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.root_id())
    }

    /// The number of nodes held (1..=40).
    #[getter]
    fn node_count(&self) -> usize {
        self.inner.node_count()
    }

    /// The forward-secure TFO keys (not tofurkey's) to install at ``now`` with ``schedule``.
    /// Raises ``KeywheelError`` for a bad time or a key whose interval starts before the
    /// state.
    #[pyo3(signature = (schedule, now = None))]
    fn tfo_keys(&self, schedule: &Schedule, now: Option<&Bound<'_, PyAny>>) -> PyResult<TfoKeys> {
        let now = now_arg(now)?;
        Ok(TfoKeys {
            inner: scrubbed(true, || self.inner.tfo_keys(&schedule.inner, now))
                .map_err(state_err)?,
        })
    }

    fn __repr__(&self) -> String {
        let id: String = self
            .inner
            .root_id()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!(
            "State(s0={}, node_count={}, root_id={id}, ..)",
            self.inner.s0(),
            self.inner.node_count()
        )
    }
}

/// The length of one record of server format ``format``: 80 or 48 raw bytes, or a base64 line
/// with its newline (109 or 65) for HAProxy. For nginx, file ``i`` is record ``i`` of
/// ``TicketKeys.render``.
#[pyfunction]
fn format_record_len(format: &Bound<'_, PyAny>) -> PyResult<usize> {
    Ok(format_arg(format)?.record_len())
}

/// What the ticket schedule says at one unix time: key ``current`` encrypts; ``current + 1``
/// (next) and ``current - 1 .. current - keep`` (previous) decrypt.
#[pyclass(frozen, eq, hash, module = "keywheel")]
#[derive(PartialEq, Eq, Hash)]
struct TicketSlot {
    inner: CoreTicketSlot,
}

#[pymethods]
impl TicketSlot {
    /// The unix time this slot was computed for.
    #[getter]
    fn now(&self) -> u64 {
        self.inner.now()
    }

    /// ``now // interval``: the counter of the encrypting key.
    #[getter]
    fn current(&self) -> u64 {
        self.inner.current()
    }

    /// How many previous keys are accepted.
    #[getter]
    fn keep(&self) -> u64 {
        self.inner.keep()
    }

    /// The unix time at which the next interval, and so the next rotation, starts.
    #[getter]
    fn next_rotation(&self) -> u64 {
        self.inner.next_rotation()
    }

    /// The counter of the key with ``role``, or ``None`` for a previous key beyond ``keep``.
    fn counter(&self, role: &Role) -> Option<u64> {
        self.inner.counter(role.inner)
    }

    /// The role of ``counter`` in this slot, or ``None`` outside the window.
    fn role(&self, counter: &Bound<'_, PyAny>) -> PyResult<Option<Role>> {
        let counter = counter_arg(counter, "counter")?;
        Ok(self.inner.role(counter).map(|inner| Role { inner }))
    }

    /// Every accepted key as ``(counter, role)``, oldest first:
    /// ``current - keep, ..., current - 1, current, current + 1``.
    fn window(&self) -> Vec<(u64, Role)> {
        self.inner
            .window()
            .map(|(c, inner)| (c, Role { inner }))
            .collect()
    }

    fn __repr__(&self) -> String {
        let s = &self.inner;
        format!(
            "TicketSlot(now={}, current={}, keep={}, next_rotation={})",
            s.now(),
            s.current(),
            s.keep(),
            s.next_rotation()
        )
    }
}

/// The result of ``TicketKeys.lookup``: ``kind`` is ``"current"`` (decrypt, keep the ticket),
/// ``"accepted"`` (a next or previous key: decrypt and issue a fresh ticket) or
/// ``"not_found"`` (make a full handshake). True when a key was found.
#[pyclass(frozen, module = "keywheel")]
struct Lookup {
    kind: &'static str,
    key: Option<Py<TicketKey>>,
    role: Option<Role>,
}

#[pymethods]
impl Lookup {
    /// ``"current"``, ``"accepted"`` or ``"not_found"``.
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }

    /// The key whose name matched, or ``None``.
    #[getter]
    fn key(&self, py: Python<'_>) -> Option<Py<TicketKey>> {
        self.key.as_ref().map(|k| k.clone_ref(py))
    }

    /// The matched key's role in the slot, or ``None``.
    #[getter]
    fn role(&self) -> Option<Role> {
        self.role
    }

    fn __bool__(&self) -> bool {
        self.key.is_some()
    }

    fn __repr__(&self) -> String {
        match &self.role {
            Some(r) => format!("Lookup('{}', {})", self.kind, r.__repr__()),
            None => format!("Lookup('{}')", self.kind),
        }
    }
}

/// The public 8-byte fingerprint of one 16-byte TCP Fast Open key (e.g. ``TfoKeys.primary``):
/// nodes whose primary keys have the same fingerprint accept each other's cookies.
#[pyfunction]
fn tfo_key_fingerprint<'py>(
    py: Python<'py>,
    key: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    with_bytes(key, "TFO key", |k| {
        let k: &[u8; kw::TFO_KEY_LEN] = k.try_into().map_err(|_| {
            KeywheelError::new_err(format!(
                "TFO key is {} bytes; it must be {} bytes",
                k.len(),
                kw::TFO_KEY_LEN
            ))
        })?;
        Ok(PyBytes::new(py, &kw::tfo_key_fingerprint(k)))
    })
}

/// Native part of the keywheel package; import ``keywheel`` instead.
#[pymodule]
fn _keywheel(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("KeywheelError", py.get_type::<KeywheelError>())?;
    m.add_class::<MainKey>()?;
    m.add_function(wrap_pyfunction!(derive_key, m)?)?;
    m.add_class::<Schedule>()?;
    m.add_class::<Slot>()?;
    m.add_class::<TfoKeys>()?;
    m.add_function(wrap_pyfunction!(tfo_keys, m)?)?;
    m.add_function(wrap_pyfunction!(tfo_key_fingerprint, m)?)?;
    m.add_class::<Role>()?;
    m.add_class::<TicketKeys>()?;
    m.add_class::<State>()?;
    m.add_class::<TicketKey>()?;
    m.add_class::<TicketSlot>()?;
    m.add_class::<Lookup>()?;
    m.add_function(wrap_pyfunction!(format_record_len, m)?)?;

    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("MAIN_KEY_LEN", kw::MAIN_KEY_LEN)?;
    m.add("CONTEXT_LEN", kw::CONTEXT_LEN)?;
    m.add("DERIVE_MIN_LEN", kw::DERIVE_MIN_LEN)?;
    m.add("DERIVE_MAX_LEN", kw::DERIVE_MAX_LEN)?;
    m.add("MIN_INTERVAL", kw::MIN_INTERVAL)?;
    m.add("MAX_INTERVAL", kw::MAX_INTERVAL)?;
    m.add("DEFAULT_INTERVAL", kw::DEFAULT_INTERVAL)?;
    m.add("MIN_TIME", kw::MIN_TIME)?;
    m.add("MAX_TIME", kw::MAX_TIME)?;
    m.add("TFO_CONTEXT", PyBytes::new(py, &kw::TFO_CONTEXT))?;
    m.add("TFO_KEY_LEN", kw::TFO_KEY_LEN)?;
    m.add("TICKET_NAME_LEN", kw::TICKET_NAME_LEN)?;
    m.add("MAX_LABEL_LEN", kw::MAX_LABEL_LEN)?;
    m.add("MAX_TICKET_AGE", kw::MAX_TICKET_AGE)?;
    m.add("FORMATS", PyTuple::new(py, format_names())?)?;
    m.add(
        "STRENGTHS",
        PyTuple::new(py, kw::Strength::ALL.map(kw::Strength::as_str))?,
    )?;
    m.add("FINGERPRINT_LEN", kw::FINGERPRINT_LEN)?;
    m.add("SEED_LEN", kw::FS_SEED_LEN)?;
    m.add("ROOT_ID_LEN", kw::FS_ROOT_ID_LEN)?;
    m.add("STATE_FILE_MAX_LEN", kw::STATE_FILE_MAX_LEN)?;
    m.add("TREE_END", kw::FS_END)?;
    Ok(())
}
