//! The in-memory reference implementation of the ports with state.
