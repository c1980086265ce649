//! Triage labels and the seam a classifier plugs into.
//!
//! Decisions only need the labels; how they are found is a
//! [`Classifier`]'s business. Until the phrase-pack classifier lands,
//! [`StubClassifier`] flags a short list of unmistakable crisis phrases so
//! that a crisis is never held; everything else is `other`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The labels of DESIGN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    Crisis,
    ThreatOrAbuse,
    RomanticOrSexual,
    GiftOrMoney,
    SocialInvitation,
    SocialMedia,
    ScopeChange,
    Payment,
    Scheduling,
    Other,
}

impl Label {
    pub fn key(self) -> &'static str {
        match self {
            Label::Crisis => "crisis",
            Label::ThreatOrAbuse => "threat_or_abuse",
            Label::RomanticOrSexual => "romantic_or_sexual",
            Label::GiftOrMoney => "gift_or_money",
            Label::SocialInvitation => "social_invitation",
            Label::SocialMedia => "social_media",
            Label::ScopeChange => "scope_change",
            Label::Payment => "payment",
            Label::Scheduling => "scheduling",
            Label::Other => "other",
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// One label found in a message, how sure, and the words that triggered it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub label: Label,
    pub score: f32,
    pub evidence: Vec<String>,
}

/// Finds labels in a message's text.
pub trait Classifier: Send + Sync {
    fn classify(&self, text: &str) -> Vec<Finding>;
}

/// Whether any finding is a crisis.
pub fn is_crisis(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.label == Label::Crisis)
}

/// Placeholder classifier: unmistakable crisis phrases only.
#[derive(Debug, Default, Clone, Copy)]
pub struct StubClassifier;

const CRISIS_PHRASES: &[&str] = &[
    "suicid",
    "kill myself",
    "end my life",
    "end it all",
    "hurt myself",
    "harm myself",
    "self-harm",
    "self harm",
    "overdose",
    "want to die",
    "don't want to be here anymore",
    "dont want to be here anymore",
    "do not want to be here anymore",
    "not safe",
];

impl Classifier for StubClassifier {
    fn classify(&self, text: &str) -> Vec<Finding> {
        let lower = text.to_lowercase().replace('\u{2019}', "'");
        let evidence: Vec<String> = CRISIS_PHRASES
            .iter()
            .filter(|p| lower.contains(*p))
            .map(|p| p.to_string())
            .collect();
        if evidence.is_empty() {
            vec![Finding {
                label: Label::Other,
                score: 1.0,
                evidence: Vec::new(),
            }]
        } else {
            vec![Finding {
                label: Label::Crisis,
                score: 1.0,
                evidence,
            }]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stub_flags_clear_crisis_words_only() {
        let c = StubClassifier;
        assert!(is_crisis(&c.classify("I don’t want to be here anymore")));
        assert!(!is_crisis(&c.classify("Can we move Thursday's session?")));
    }
}
