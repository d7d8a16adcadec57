//! Session-ticket values: `Role`, `TicketKey`, `TicketSlot`, `Lookup`, `format_record_len`.

use keywheel as kw;
use keywheel::ticket::TicketSlot as CoreTicketSlot;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::KeywheelError;
use crate::args::{counter_arg, format_arg, u64_arg};

/// The role of a key in the window of one interval: ``Role.CURRENT`` (encrypts new tickets),
/// ``Role.NEXT`` (the next interval's key; decrypts tickets of a node whose clock runs ahead)
/// or ``Role.previous(n)`` (the key of ``n`` intervals ago, 1 <= n <= keep).
#[pyclass(frozen, eq, hash, module = "keywheel")]
#[derive(PartialEq, Eq, Hash, Clone, Copy)]
pub(crate) struct Role {
    pub(crate) inner: kw::Role,
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
pub(crate) struct TicketKey {
    pub(crate) inner: kw::TicketKey,
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

/// The length of one record of server format ``format``: 80 or 48 raw bytes, or a base64 line
/// with its newline (109 or 65) for HAProxy. For nginx, file ``i`` is record ``i`` of
/// ``TicketKeys.render``.
#[pyfunction]
pub(crate) fn format_record_len(format: &Bound<'_, PyAny>) -> PyResult<usize> {
    Ok(format_arg(format)?.record_len())
}

/// What the ticket schedule says at one unix time: key ``current`` encrypts; ``current + 1``
/// (next) and ``current - 1 .. current - keep`` (previous) decrypt.
#[pyclass(frozen, eq, hash, module = "keywheel")]
#[derive(PartialEq, Eq, Hash)]
pub(crate) struct TicketSlot {
    pub(crate) inner: CoreTicketSlot,
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
pub(crate) struct Lookup {
    pub(crate) kind: &'static str,
    pub(crate) key: Option<Py<TicketKey>>,
    pub(crate) role: Option<Role>,
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
