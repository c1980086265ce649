//! The engagement lifecycle: `proposed → active → ending → ended`, or
//! `→ transferred` to another engagement. Every step is explicit; a step the
//! lifecycle does not allow is an error, never a silent no-op.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// Where an engagement is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngagementState {
    Proposed,
    Active,
    Ending,
    Ended,
    Transferred,
}

impl EngagementState {
    pub const ALL: [EngagementState; 5] = [
        EngagementState::Proposed,
        EngagementState::Active,
        EngagementState::Ending,
        EngagementState::Ended,
        EngagementState::Transferred,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EngagementState::Proposed => "proposed",
            EngagementState::Active => "active",
            EngagementState::Ending => "ending",
            EngagementState::Ended => "ended",
            EngagementState::Transferred => "transferred",
        }
    }

    /// Ended and transferred engagements are over: no further transitions.
    pub fn is_closed(self) -> bool {
        matches!(self, EngagementState::Ended | EngagementState::Transferred)
    }

    /// The steps a person may take from here, in the order a UI shows them.
    pub fn allowed(self) -> &'static [Transition] {
        use Transition::*;
        match self {
            EngagementState::Proposed => &[Activate, Withdraw],
            EngagementState::Active => &[BeginEnding, Transfer],
            EngagementState::Ending => &[End, Resume, Transfer],
            EngagementState::Ended | EngagementState::Transferred => &[],
        }
    }
}

impl fmt::Display for EngagementState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EngagementState {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EngagementState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(
                    "state",
                    format!("unknown state {s:?}; expected proposed, active, ending, ended or transferred"),
                )
            })
    }
}

/// A step in the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// proposed → active: the agreement has been consented to and work starts.
    Activate,
    /// proposed → ended: the work never started (declined or withdrawn).
    Withdraw,
    /// active → ending: an ending is being planned.
    BeginEnding,
    /// ending → active: the planned ending was called off.
    Resume,
    /// ending → ended: the relationship is over.
    End,
    /// active or ending → transferred: another worker takes over.
    Transfer,
}

impl Transition {
    pub const ALL: [Transition; 6] = [
        Transition::Activate,
        Transition::Withdraw,
        Transition::BeginEnding,
        Transition::Resume,
        Transition::End,
        Transition::Transfer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Activate => "activate",
            Transition::Withdraw => "withdraw",
            Transition::BeginEnding => "begin_ending",
            Transition::Resume => "resume",
            Transition::End => "end",
            Transition::Transfer => "transfer",
        }
    }

    /// The label a button carries.
    pub fn label(self) -> &'static str {
        match self {
            Transition::Activate => "Start the work",
            Transition::Withdraw => "Withdraw (never started)",
            Transition::BeginEnding => "Begin planning the ending",
            Transition::Resume => "Call off the ending",
            Transition::End => "Close: the work has ended",
            Transition::Transfer => "Mark as transferred",
        }
    }

    pub fn past_tense(self) -> &'static str {
        match self {
            Transition::Activate => "activated",
            Transition::Withdraw => "withdrawn",
            Transition::BeginEnding => "moved to ending",
            Transition::Resume => "resumed",
            Transition::End => "ended",
            Transition::Transfer => "transferred",
        }
    }

    /// The state this step leads to.
    pub fn target(self) -> EngagementState {
        match self {
            Transition::Activate | Transition::Resume => EngagementState::Active,
            Transition::Withdraw | Transition::End => EngagementState::Ended,
            Transition::BeginEnding => EngagementState::Ending,
            Transition::Transfer => EngagementState::Transferred,
        }
    }
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Transition {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Transition::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| {
            DomainError::invalid(
                "transition",
                format!(
                    "unknown transition {s:?}; expected one of activate, withdraw, begin_ending, resume, end, transfer"
                ),
            )
        })
    }
}

/// What the lifecycle needs to know besides the current state.
#[derive(Debug, Clone, Copy, Default)]
pub struct TransitionContext {
    /// The latest agreement version has a consent record.
    pub has_consented_agreement: bool,
}

impl TransitionContext {
    /// The context given the latest agreement version, if there is one.
    pub fn from_latest(latest: Option<&crate::model::Agreement>) -> TransitionContext {
        TransitionContext {
            has_consented_agreement: latest.is_some_and(|a| a.consent.is_some()),
        }
    }
}

/// The work could start from here but for the client's consent to the
/// latest terms: the one thing to do before activating.
pub fn awaits_consent(state: EngagementState, ctx: TransitionContext) -> bool {
    state.allowed().contains(&Transition::Activate) && !ctx.has_consented_agreement
}

/// Apply `transition` to an engagement in state `from`; the new state, or an
/// error that says why not and what to do instead.
pub fn apply(
    from: EngagementState,
    transition: Transition,
    ctx: TransitionContext,
) -> Result<EngagementState, DomainError> {
    if !from.allowed().contains(&transition) {
        let hint = if from.is_closed() {
            "it is closed; open a new engagement if work resumes".to_string()
        } else {
            let allowed: Vec<&str> = from.allowed().iter().map(|t| t.as_str()).collect();
            format!("from {from} the allowed steps are {}", allowed.join(", "))
        };
        return Err(DomainError::InvalidTransition { from, transition, hint });
    }
    if transition == Transition::Activate && awaits_consent(from, ctx) {
        return Err(DomainError::InvalidTransition {
            from,
            transition,
            hint: "the terms must be agreed first: record the client's consent to the latest agreement version".into(),
        });
    }
    Ok(transition.target())
}

#[cfg(test)]
mod tests {
    use super::*;
    use EngagementState::*;

    const OK: TransitionContext = TransitionContext {
        has_consented_agreement: true,
    };

    #[test]
    fn every_state_transition_pair_is_decided() {
        // The full table: (from, transition) -> Some(to) when allowed.
        let expected = |from: EngagementState, t: Transition| -> Option<EngagementState> {
            match (from, t) {
                (Proposed, Transition::Activate) => Some(Active),
                (Proposed, Transition::Withdraw) => Some(Ended),
                (Active, Transition::BeginEnding) => Some(Ending),
                (Active, Transition::Transfer) => Some(Transferred),
                (Ending, Transition::End) => Some(Ended),
                (Ending, Transition::Resume) => Some(Active),
                (Ending, Transition::Transfer) => Some(Transferred),
                _ => None,
            }
        };
        for from in EngagementState::ALL {
            for t in Transition::ALL {
                let got = apply(from, t, OK);
                match expected(from, t) {
                    Some(to) => assert_eq!(got, Ok(to), "{from} --{t}-->"),
                    None => {
                        let err = got.expect_err("must be refused");
                        assert_eq!(err.code(), "invalid_transition");
                    }
                }
            }
        }
    }

    #[test]
    fn activation_needs_consented_terms() {
        let err = apply(Proposed, Transition::Activate, TransitionContext::default()).unwrap_err();
        assert!(err.to_string().contains("consent"), "{err}");
    }

    #[test]
    fn only_a_proposed_engagement_awaits_consent() {
        let none = TransitionContext::default();
        assert!(awaits_consent(Proposed, none));
        assert!(!awaits_consent(Proposed, OK));
        assert!(
            !awaits_consent(Active, none),
            "consent to a later version does not stop the work"
        );
        assert!(!TransitionContext::from_latest(None).has_consented_agreement);
    }

    #[test]
    fn closed_states_explain_themselves() {
        let err = apply(Ended, Transition::Resume, OK).unwrap_err();
        assert_eq!(
            err.to_string(),
            "an engagement that is ended cannot be resumed: it is closed; open a new engagement if work resumes"
        );
        let err = apply(Active, Transition::End, OK).unwrap_err();
        assert!(err.to_string().contains("begin_ending"), "{err}");
    }

    #[test]
    fn names_round_trip() {
        for s in EngagementState::ALL {
            assert_eq!(s.as_str().parse::<EngagementState>().unwrap(), s);
        }
        for t in Transition::ALL {
            assert_eq!(t.as_str().parse::<Transition>().unwrap(), t);
        }
        assert!("paused".parse::<EngagementState>().is_err());
    }
}
