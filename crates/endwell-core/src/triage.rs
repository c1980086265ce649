//! Triage: which labels a client's message carries, how sure, and the
//! words that say so, so that a crisis is never held and boundary-relevant
//! messages reach the practitioner's attention.
//!
//! Decisions only need the labels; how they are found is a [`Classifier`]'s
//! business. [`PackClassifier`] reads the phrase packs under
//! `packs/triage/` (data an agency may edit; see [`pack`]); the English
//! pack is built in.

pub mod eval;
mod hash;
pub mod model;
pub mod pack;
pub mod text;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::DomainError;

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
    /// Every label, in the order findings are listed (crisis first).
    pub const ALL: [Label; 10] = [
        Label::Crisis,
        Label::ThreatOrAbuse,
        Label::RomanticOrSexual,
        Label::GiftOrMoney,
        Label::SocialInvitation,
        Label::SocialMedia,
        Label::ScopeChange,
        Label::Payment,
        Label::Scheduling,
        Label::Other,
    ];

    /// Its place in [`Label::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// A label from its key (`"gift_or_money"`).
    pub fn parse(key: &str) -> Option<Label> {
        Label::ALL.into_iter().find(|l| l.key() == key.trim())
    }

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

/// One label found in a message, how sure (0 to 1, two decimal places), and
/// the words that triggered it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub label: Label,
    pub score: f64,
    pub evidence: Vec<String>,
}

/// Finds labels in a message's text.
pub trait Classifier: Send + Sync {
    fn classify(&self, text: &str) -> Vec<Finding>;

    /// Findings for a parsed message: its subject and text (see [`message_text`]).
    fn classify_message(&self, m: &crate::message::Message) -> Vec<Finding> {
        self.classify(&message_text(m))
    }
}

/// Whether any finding is a crisis.
pub fn is_crisis(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.label == Label::Crisis)
}

/// The English pack shipped with Endwell (`packs/triage/en.toml`).
pub const ENGLISH_PACK: &str = include_str!("../../../packs/triage/en.toml");

/// The word model trained beside the English pack (`packs/triage/en.model.json`).
pub const ENGLISH_MODEL: &str = include_str!("../../../packs/triage/en.model.json");

/// What triage reads of a message's text: the client's own words, quoted
/// earlier mail and signatures left out, unless nothing else is there
/// (then all of it is read, so that a crisis is not missed for where it
/// was written).
pub fn readable(message: &str) -> &str {
    let own = text::own_words(message);
    if own.chars().any(char::is_alphanumeric) {
        own
    } else {
        message
    }
}

/// A classifier over one or more phrase packs (one per language).
#[derive(Debug, Clone)]
pub struct PackClassifier {
    packs: Vec<pack::Pack>,
}

impl PackClassifier {
    pub fn new(packs: Vec<pack::Pack>) -> Result<PackClassifier, DomainError> {
        if packs.is_empty() {
            return Err(DomainError::TriagePack("no triage pack was given".into()));
        }
        Ok(PackClassifier { packs })
    }

    /// The built-in English pack, read and compiled once per process and
    /// shared (several thousand phrases: not worth doing per server state).
    pub fn english() -> std::sync::Arc<PackClassifier> {
        static ENGLISH: std::sync::LazyLock<std::sync::Arc<PackClassifier>> = std::sync::LazyLock::new(|| {
            // The pack is part of the build and checked by this crate's tests.
            let pack = pack::Pack::parse("en.toml", ENGLISH_PACK)
                .and_then(|p| p.with_model("en.model.json", ENGLISH_MODEL))
                .unwrap_or_else(|e| panic!("built-in triage pack: {e}"));
            std::sync::Arc::new(PackClassifier { packs: vec![pack] })
        });
        ENGLISH.clone()
    }

    pub fn packs(&self) -> &[pack::Pack] {
        &self.packs
    }

    /// The same packs without their word models (to measure what the
    /// phrases do alone).
    pub fn phrases_only(&self) -> PackClassifier {
        PackClassifier {
            packs: self.packs.iter().map(pack::Pack::phrases_only).collect(),
        }
    }
}

impl Classifier for PackClassifier {
    /// The client's own words are read (see [`readable`]).
    fn classify(&self, message: &str) -> Vec<Finding> {
        let read = readable(message);
        let mut out: Vec<Finding> = Vec::new();
        for p in &self.packs {
            for f in p.findings(read) {
                match out.iter_mut().find(|o| o.label == f.label) {
                    Some(o) => {
                        o.score = o.score.max(f.score);
                        for e in f.evidence {
                            if !o.evidence.contains(&e) {
                                o.evidence.push(e);
                            }
                        }
                    }
                    None => out.push(f),
                }
            }
        }
        if out.is_empty() {
            out.push(Finding {
                label: Label::Other,
                score: 1.0,
                evidence: Vec::new(),
            });
        }
        out.sort_by_key(|f| f.label);
        out
    }
}

/// What triage reads of a message: the subject and the text.
pub fn message_text(m: &crate::message::Message) -> String {
    match m.subject.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => format!("{s}\n\n{}", m.body),
        None => m.body.clone(),
    }
}
