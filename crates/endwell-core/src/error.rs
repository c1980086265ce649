//! Domain errors: what a person did that the rules do not allow.

use crate::lifecycle::{EngagementState, Transition};

/// A rule of the domain was broken. Each variant carries enough to tell a
/// person what to change; the web and CLI layers map them to responses.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DomainError {
    /// A field's value is not acceptable; `field` names it as a form or API would.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The lifecycle does not allow this step from the current state.
    #[error("an engagement that is {from} cannot be {}: {hint}", transition.past_tense())]
    InvalidTransition {
        from: EngagementState,
        transition: Transition,
        hint: String,
    },
    /// Terms (TOML or JSON) could not be read; the message names key and line.
    #[error("terms: {0}")]
    Terms(String),
    /// A triage phrase pack could not be read; the message names file and rule.
    #[error("triage pack {0}")]
    TriagePack(String),
}

impl DomainError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        DomainError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The stable machine-readable code used by the API and CLI.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::Invalid { .. } => "invalid_field",
            DomainError::InvalidTransition { .. } => "invalid_transition",
            DomainError::Terms(_) => "invalid_terms",
            DomainError::TriagePack(_) => "invalid_triage_pack",
        }
    }
}
