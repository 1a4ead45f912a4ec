//! The C ABI of ferroftp (work in progress).
