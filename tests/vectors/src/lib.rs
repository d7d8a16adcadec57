//! Shared vectors.
