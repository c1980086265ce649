//! Boundary incidents: crossings or violations, in DESIGN.md's categories.
//! Triage proposes them from a contact's labels; only the practitioner
//! records one, so nothing is logged about a client on a phrase match alone.

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::triage::{Finding, Label};

/// DESIGN.md's boundary categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    AfterHoursContact,
    DualOrMultipleRelationship,
    GiftsOrMoney,
    SelfDisclosure,
    PhysicalContact,
    SocialMedia,
    RomanticOrSexual,
    ScopeCreep,
    Payment,
    OverInvolvement,
    Dependency,
    Favouritism,
    Exploitation,
    Competence,
    Confidentiality,
    Other,
}

impl Category {
    pub const ALL: [Category; 16] = [
        Category::AfterHoursContact,
        Category::DualOrMultipleRelationship,
        Category::GiftsOrMoney,
        Category::SelfDisclosure,
        Category::PhysicalContact,
        Category::SocialMedia,
        Category::RomanticOrSexual,
        Category::ScopeCreep,
        Category::Payment,
        Category::OverInvolvement,
        Category::Dependency,
        Category::Favouritism,
        Category::Exploitation,
        Category::Competence,
        Category::Confidentiality,
        Category::Other,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Category::AfterHoursContact => "after_hours_contact",
            Category::DualOrMultipleRelationship => "dual_or_multiple_relationship",
            Category::GiftsOrMoney => "gifts_or_money",
            Category::SelfDisclosure => "self_disclosure",
            Category::PhysicalContact => "physical_contact",
            Category::SocialMedia => "social_media",
            Category::RomanticOrSexual => "romantic_or_sexual",
            Category::ScopeCreep => "scope_creep",
            Category::Payment => "payment",
            Category::OverInvolvement => "over_involvement",
            Category::Dependency => "dependency",
            Category::Favouritism => "favouritism",
            Category::Exploitation => "exploitation",
            Category::Competence => "competence",
            Category::Confidentiality => "confidentiality",
            Category::Other => "other",
        }
    }

    /// In words, for pages.
    pub fn words(self) -> &'static str {
        match self {
            Category::AfterHoursContact => "after-hours contact",
            Category::DualOrMultipleRelationship => "dual or multiple relationship",
            Category::GiftsOrMoney => "gifts or money",
            Category::SelfDisclosure => "self-disclosure",
            Category::PhysicalContact => "physical contact",
            Category::SocialMedia => "social media",
            Category::RomanticOrSexual => "romantic or sexual",
            Category::ScopeCreep => "scope creep",
            Category::Payment => "payment",
            Category::OverInvolvement => "over-involvement",
            Category::Dependency => "dependency",
            Category::Favouritism => "favouritism",
            Category::Exploitation => "exploitation",
            Category::Competence => "competence",
            Category::Confidentiality => "confidentiality",
            Category::Other => "other (threats, abuse, anything else)",
        }
    }
}

impl std::str::FromStr for Category {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        Category::ALL.into_iter().find(|c| c.key() == s.trim()).ok_or_else(|| {
            DomainError::invalid(
                "category",
                format!(
                    "{s:?} is not a boundary category; use one of {}",
                    Category::ALL.map(|c| c.key()).join(", ")
                ),
            )
        })
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// Who started a crossing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitiatedBy {
    Client,
    Practitioner,
    Other,
}

impl InitiatedBy {
    pub fn key(self) -> &'static str {
        match self {
            InitiatedBy::Client => "client",
            InitiatedBy::Practitioner => "practitioner",
            InitiatedBy::Other => "other",
        }
    }
}

impl std::str::FromStr for InitiatedBy {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        match s.trim() {
            "client" => Ok(InitiatedBy::Client),
            "practitioner" => Ok(InitiatedBy::Practitioner),
            "other" => Ok(InitiatedBy::Other),
            _ => Err(DomainError::invalid(
                "initiated_by",
                format!("{s:?}: use client, practitioner or other"),
            )),
        }
    }
}

/// The category a boundary label points to. Payment and scheduling are shown
/// on the contact but not proposed (a late payment is logged by the payment
/// signals, not from one message), nor is a crisis (it is an alert).
pub fn category_for(label: Label) -> Option<Category> {
    match label {
        Label::ThreatOrAbuse => Some(Category::Other),
        Label::RomanticOrSexual => Some(Category::RomanticOrSexual),
        Label::GiftOrMoney => Some(Category::GiftsOrMoney),
        Label::SocialInvitation => Some(Category::DualOrMultipleRelationship),
        Label::SocialMedia => Some(Category::SocialMedia),
        Label::ScopeChange => Some(Category::ScopeCreep),
        Label::Crisis | Label::Payment | Label::Scheduling | Label::Other => None,
    }
}

/// The longest a report's texts may be, in characters.
const REPORT_LIMIT: usize = 4000;

/// What the practitioner writes about an incident, checked and trimmed:
/// what happened (required) and how they responded.
pub fn report(what_happened: &str, response: &str) -> Result<(String, String), DomainError> {
    let (what, response) = (what_happened.trim(), response.trim());
    if what.is_empty() {
        return Err(DomainError::invalid(
            "what_happened",
            "say what happened, in a sentence or two",
        ));
    }
    if what.chars().count() > REPORT_LIMIT || response.chars().count() > REPORT_LIMIT {
        return Err(DomainError::invalid("what_happened", "keep it under 4,000 characters"));
    }
    Ok((what.to_string(), response.to_string()))
}

/// A boundary incident triage suggests, for the practitioner to confirm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proposal {
    pub category: Category,
    pub label: Label,
    /// What happened, in words to start from: the label and its evidence.
    pub what_happened: String,
}

/// The proposals for a contact's findings, one per category.
pub fn proposals(findings: &[Finding]) -> Vec<Proposal> {
    let mut out: Vec<Proposal> = Vec::new();
    for f in findings {
        let Some(category) = category_for(f.label) else {
            continue;
        };
        if out.iter().any(|p| p.category == category) {
            continue;
        }
        let said = if f.evidence.is_empty() {
            String::new()
        } else {
            format!(": “{}”", f.evidence.join("”, “"))
        };
        let what = match f.label {
            Label::ThreatOrAbuse => "The client's message may be threatening or abusive",
            Label::RomanticOrSexual => "The client's message may express romantic or sexual interest",
            Label::GiftOrMoney => "The client's message offers or asks for a gift or money",
            Label::SocialInvitation => "The client's message invites you to meet socially",
            Label::SocialMedia => "The client's message seeks contact on social media",
            Label::ScopeChange => "The client's message asks for something outside the agreed work",
            _ => "The client's message",
        };
        out.push(Proposal {
            category,
            label: f.label,
            what_happened: format!("{what}{said}."),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_says_what_happened_in_reasonable_length() {
        assert_eq!(
            report("  Offered a gift. ", " Thanked her. ").unwrap(),
            ("Offered a gift.".to_string(), "Thanked her.".to_string())
        );
        assert!(
            report("   ", "x")
                .unwrap_err()
                .to_string()
                .contains("say what happened")
        );
        assert!(
            report("x", &"y".repeat(4001))
                .unwrap_err()
                .to_string()
                .contains("under 4,000")
        );
    }

    #[test]
    fn boundary_labels_propose_one_incident_each() {
        let f = |label, ev: &[&str]| Finding {
            label,
            score: 0.9,
            evidence: ev.iter().map(|s| s.to_string()).collect(),
        };
        let p = proposals(&[
            f(Label::GiftOrMoney, &["bought you a gift"]),
            f(Label::Payment, &["invoice"]),
            f(Label::SocialInvitation, &["come to my wedding"]),
            f(Label::Crisis, &["want to die"]),
        ]);
        assert_eq!(
            p.iter().map(|p| p.category).collect::<Vec<_>>(),
            [Category::GiftsOrMoney, Category::DualOrMultipleRelationship]
        );
        assert_eq!(
            p[0].what_happened,
            "The client's message offers or asks for a gift or money: “bought you a gift”."
        );
        assert!("scope_creep".parse::<Category>().is_ok());
        assert!(
            "gifts"
                .parse::<Category>()
                .unwrap_err()
                .to_string()
                .contains("gifts_or_money")
        );
    }
}
