//! `MainKey` and `derive_key`.

use std::path::PathBuf;

use keywheel as kw;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::args::{counter_arg, u64_arg, with_bytes};
use crate::{KeywheelError, err};

/// The cluster's long-term main secret: 32 bytes.
///
/// ``MainKey(material)`` takes ``bytes`` or ``bytearray`` of at least 32 bytes and keeps the
/// first 32 (as tofurkey does with its key file). The Rust copy is wiped when the object is
/// freed; ``repr()`` shows no key byte, and the object cannot be pickled or copied. (Copies the
/// caller made in Python, e.g. the ``bytes`` given here, are not wiped.)
#[pyclass(frozen, module = "keywheel")]
pub(crate) struct MainKey {
    pub(crate) inner: kw::MainKey,
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
pub(crate) fn derive_key<'py>(
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
