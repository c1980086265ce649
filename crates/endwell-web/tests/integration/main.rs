//! One integration-test binary for the web crate (links once).

mod app;
mod browser;
mod calendar;
mod http;
mod office;
mod triage;
