//! TCP Fast Open: `Schedule`, `Slot`, `TfoKeys`, `tfo_keys`, `tfo_key_fingerprint`.

use keywheel as kw;
use keywheel::schedule::{Schedule as CoreSchedule, Slot as CoreSlot};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::args::{interval_arg, time_arg, with_bytes};
use crate::main_key::MainKey;
use crate::{KeywheelError, err};

/// The TFO rotation schedule: an interval in seconds, even and in 10..=604800 (default 86400,
/// tofurkey's).
#[pyclass(frozen, eq, hash, module = "keywheel")]
#[derive(PartialEq, Eq, Hash)]
pub(crate) struct Schedule {
    pub(crate) inner: CoreSchedule,
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
pub(crate) struct Slot {
    pub(crate) inner: CoreSlot,
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
pub(crate) struct TfoKeys {
    pub(crate) inner: kw::TfoKeys,
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
pub(crate) fn tfo_keys(
    main: &MainKey,
    schedule: &Schedule,
    now: &Bound<'_, PyAny>,
) -> PyResult<TfoKeys> {
    Ok(TfoKeys {
        inner: kw::tfo_keys(&main.inner, &schedule.inner, time_arg(now)?).map_err(err)?,
    })
}

/// The public 8-byte fingerprint of one 16-byte TCP Fast Open key (e.g. ``TfoKeys.primary``):
/// nodes whose primary keys have the same fingerprint accept each other's cookies.
#[pyfunction]
pub(crate) fn tfo_key_fingerprint<'py>(
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
