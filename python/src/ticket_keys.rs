//! `TicketKeys`: the one ticket API of the core (SPEC §4), from a main key or a forward-secure state.

use keywheel as kw;
use keywheel::ticket::TicketSchedule;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::args::{
    counter_arg, format_arg, interval_arg, now_arg, str_arg, strength_arg, u64_arg, with_bytes,
};
use crate::main_key::MainKey;
use crate::state::{State, scrubbed, state_err};
use crate::ticket::{Lookup, Role, TicketKey, TicketSlot};
use crate::{KeywheelError, err};

/// The session-ticket keys of one label (a service or cluster name, 1..=64 bytes of UTF-8)
/// under ``main``, in ``strength`` (``"aes256"`` or ``"aes128"``), rotated every ``interval``
/// seconds (even, 10..=604800) with ``keep`` previous keys accepted (default 1;
/// ``(keep + 1) * interval`` may not exceed 604800 s, RFC 8446's 7 days). It holds the
/// label's key, wiped when the object is freed; ``repr()`` shows no key byte.
///
/// Every ``now`` is a unix time in seconds (1000000..=100000000000), the current time when
/// omitted.
#[pyclass(module = "keywheel")]
pub(crate) struct TicketKeys {
    pub(crate) inner: kw::TicketKeys,
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
pub(crate) fn ticket_args(
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
