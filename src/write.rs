//! Atomic writes that keep the file mode.
