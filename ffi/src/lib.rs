//! C ABI of keywheel (work in progress).
