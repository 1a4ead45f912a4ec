//! Python bindings of ferroftp (work in progress).
