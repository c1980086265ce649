//! Endwell's domain: the vocabulary of DESIGN.md as types and pure rules.
//!
//! No I/O, no async, no SQL: everything here is a function of its inputs, so
//! the rules that keep boundaries holding can be tested on their own and
//! reused by the store, the web UI, the API and the CLI alike.

pub mod access;
pub mod availability;
pub mod boundary;
pub mod calendar;
pub mod compose;
pub mod decision;
pub mod error;
pub mod event;
pub mod ids;
pub mod lifecycle;
pub mod message;
pub mod model;
pub mod terms;
pub mod terms_form;
pub mod triage;

pub use error::DomainError;
pub use ids::{AgreementId, ClientId, EngagementId, EventId, UserId};
pub use lifecycle::{EngagementState, Transition};
pub use terms::Terms;
