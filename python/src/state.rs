//! Forward-secure mode: `State` (SPEC §6).

use std::path::PathBuf;

use keywheel as kw;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::args::{now_arg, u64_arg, with_bytes};
use crate::tfo::{Schedule, TfoKeys};
use crate::{KeywheelError, err};

/// Runs `f`, then overwrites the stack its callees used ([`kw::scrub_stack`]) when `forward`:
/// node values, leaves and keys computed by the core on the way must not stay there.
#[inline(never)]
pub(crate) fn scrubbed<R>(forward: bool, f: impl FnOnce() -> R) -> R {
    let r = f();
    if forward {
        kw::scrub_stack();
    }
    r
}

/// A forward-secure error as a Python exception.
pub(crate) fn state_err(e: kw::StateError) -> PyErr {
    KeywheelError::new_err(e.to_string())
}

/// A second of the forward-secure tree (`0..2^40`; the core checks the upper end, JavaScript
/// words a negative value the same way).
pub(crate) fn tree_time_arg(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<u64> {
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
pub(crate) struct State {
    pub(crate) inner: kw::State,
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
