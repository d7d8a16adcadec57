//! Python bindings of keywheel (work in progress).
