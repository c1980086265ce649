//! Sample data for `endwell demo` (being written).
