//! People and relationships: users, clients, engagements, agreement versions.
//! Input types (`NewClient`, …) check themselves with `validate`, which names
//! the field that is wrong so forms and the API can show it beside the field.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::ids::{AgreementId, ClientId, EngagementId, UserId};
use crate::lifecycle::EngagementState;
use crate::terms::{Terms, Zone};

/// What a user may do. A practitioner sees only their own caseload; a
/// supervisor also sees (read-only) the caseloads of those they supervise; an
/// admin manages accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Practitioner,
    Supervisor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Practitioner => "practitioner",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "practitioner" => Ok(Role::Practitioner),
            "supervisor" => Ok(Role::Supervisor),
            "admin" => Ok(Role::Admin),
            _ => Err(DomainError::invalid(
                "role",
                format!("{s:?} is not a role; use practitioner, supervisor or admin"),
            )),
        }
    }
}

/// A person who logs in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    /// e.g. "Counsellor (BACP)"; which ethics packs apply comes later.
    pub profession: String,
    pub timezone: String,
    pub supervisor_id: Option<UserId>,
    pub created_at: Timestamp,
}

impl User {
    /// The user's time zone, or UTC when their account holds none Endwell
    /// knows (the zone is checked when set; this is for old or imported data).
    pub fn zone(&self) -> crate::terms::Zone {
        self.timezone.parse().unwrap_or_else(|_| crate::terms::Zone::utc())
    }
}

/// A user to be created.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub profession: String,
    pub timezone: String,
    pub supervisor_id: Option<UserId>,
}

impl NewUser {
    pub fn validate(mut self) -> Result<NewUser, DomainError> {
        self.email = parse_email("email", &self.email)?;
        self.display_name = required("display_name", &self.display_name, 200)?;
        self.profession = optional_text("profession", &self.profession, 200)?;
        self.timezone = self.timezone.parse::<Zone>()?.name().to_string();
        Ok(self)
    }
}

/// A person served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Client {
    pub id: ClientId,
    pub practitioner_id: UserId,
    pub given_name: String,
    pub family_name: String,
    pub preferred_name: String,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    /// Sensitive: encrypted at rest.
    pub vulnerability_notes: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Client {
    /// The fields that differ from `other`, by name, for the history. Only
    /// names: the log must not carry sensitive values such as the notes.
    pub fn changed_fields(&self, other: &Client) -> Vec<&'static str> {
        [
            ("given_name", self.given_name != other.given_name),
            ("family_name", self.family_name != other.family_name),
            ("preferred_name", self.preferred_name != other.preferred_name),
            ("emails", self.emails != other.emails),
            ("phones", self.phones != other.phones),
            (
                "vulnerability_notes",
                self.vulnerability_notes != other.vulnerability_notes,
            ),
        ]
        .into_iter()
        .filter_map(|(name, differs)| differs.then_some(name))
        .collect()
    }

    /// How to address the client: the preferred name, or the given name.
    pub fn display_name(&self) -> String {
        let first = if self.preferred_name.is_empty() {
            &self.given_name
        } else {
            &self.preferred_name
        };
        if self.family_name.is_empty() {
            first.clone()
        } else {
            format!("{first} {}", self.family_name)
        }
    }
}

/// The editable fields of a client, as a form or the API sends them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientFields {
    pub given_name: String,
    #[serde(default)]
    pub family_name: String,
    #[serde(default)]
    pub preferred_name: String,
    #[serde(default)]
    pub emails: Vec<String>,
    #[serde(default)]
    pub phones: Vec<String>,
    #[serde(default)]
    pub vulnerability_notes: String,
}

impl ClientFields {
    pub fn validate(self) -> Result<ClientFields, DomainError> {
        let emails = dedup(
            self.emails
                .iter()
                .filter(|e| !e.trim().is_empty())
                .map(|e| parse_email("emails", e))
                .collect::<Result<Vec<_>, _>>()?,
        );
        let phones = dedup(
            self.phones
                .iter()
                .filter(|p| !p.trim().is_empty())
                .map(|p| parse_phone(p))
                .collect::<Result<Vec<_>, _>>()?,
        );
        Ok(ClientFields {
            given_name: required("given_name", &self.given_name, 200)?,
            family_name: optional_text("family_name", &self.family_name, 200)?,
            preferred_name: optional_text("preferred_name", &self.preferred_name, 200)?,
            emails,
            phones,
            vulnerability_notes: optional_text("vulnerability_notes", &self.vulnerability_notes, 20_000)?,
        })
    }
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|x| seen.insert(x.clone()));
    v
}

/// One working relationship ("a case").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Engagement {
    pub id: EngagementId,
    pub client_id: ClientId,
    pub practitioner_id: UserId,
    pub state: EngagementState,
    /// A short name for the work, e.g. "CBT for panic".
    pub title: String,
    pub started_on: Option<Date>,
    /// The planned end: from the latest agreement's `ends_on` unless set here.
    pub planned_end: Option<Date>,
    pub next_review: Option<Date>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Engagement {
    /// A review is due when its date has come and the work is not over.
    pub fn review_due(&self, today: Date) -> bool {
        !self.state.is_closed() && self.next_review.is_some_and(|d| d <= today)
    }
}

/// An optional date as a form or the API sends it: empty means none.
pub fn parse_optional_date(field: &str, value: &str) -> Result<Option<Date>, DomainError> {
    match value.trim() {
        "" => Ok(None),
        t => t
            .parse()
            .map(Some)
            .map_err(|_| DomainError::invalid(field, format!("{t:?} is not a date like 2027-06-30"))),
    }
}

/// The editable fields of an engagement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngagementFields {
    pub title: String,
    #[serde(default)]
    pub started_on: Option<Date>,
    #[serde(default)]
    pub planned_end: Option<Date>,
    #[serde(default)]
    pub next_review: Option<Date>,
}

impl EngagementFields {
    /// From text as typed: dates in ISO form (`2027-06-30`) or empty.
    pub fn from_text(title: &str, started_on: &str, planned_end: &str, next_review: &str) -> Result<Self, DomainError> {
        Ok(EngagementFields {
            title: title.to_string(),
            started_on: parse_optional_date("started_on", started_on)?,
            planned_end: parse_optional_date("planned_end", planned_end)?,
            next_review: parse_optional_date("next_review", next_review)?,
        })
    }

    pub fn validate(self) -> Result<EngagementFields, DomainError> {
        if let (Some(s), Some(e)) = (self.started_on, self.planned_end)
            && e < s
        {
            return Err(DomainError::invalid(
                "planned_end",
                "the planned end is before the start",
            ));
        }
        Ok(EngagementFields {
            title: required("title", &self.title, 200)?,
            ..self
        })
    }
}

/// How consent to an agreement version was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentMethod {
    InPerson,
    ClientPage,
    Written,
}

impl ConsentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentMethod::InPerson => "in_person",
            ConsentMethod::ClientPage => "client_page",
            ConsentMethod::Written => "written",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            ConsentMethod::InPerson => "in person",
            ConsentMethod::ClientPage => "on the client page",
            ConsentMethod::Written => "in writing",
        }
    }
}

impl FromStr for ConsentMethod {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "in_person" => Ok(ConsentMethod::InPerson),
            "client_page" => Ok(ConsentMethod::ClientPage),
            "written" => Ok(ConsentMethod::Written),
            _ => Err(DomainError::invalid(
                "consent_method",
                "use in_person, client_page or written",
            )),
        }
    }
}

/// Who agreed to a version of the terms, when and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consent {
    /// The person who consented, as they are named.
    pub given_by: String,
    pub at: Timestamp,
    pub method: ConsentMethod,
    pub recorded_by: UserId,
}

/// One version of an engagement's terms. Versions are never edited: a change
/// is a new version, so what was agreed when stays on record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    pub id: AgreementId,
    pub engagement_id: EngagementId,
    /// 1, 2, 3…: the order in which versions were made.
    pub version: i64,
    pub terms: Terms,
    /// Why this version was made ("initial terms", "office hours changed").
    pub note: String,
    pub created_by: UserId,
    pub created_at: Timestamp,
    pub consent: Option<Consent>,
}

/// The next version number after `latest`.
/// The version whose terms govern contacts now: the latest one the client
/// consented to, else the latest proposed one (so a new engagement's
/// messages are still decided by what was written), from versions newest first.
pub fn in_force(versions_newest_first: &[Agreement]) -> Option<&Agreement> {
    in_force_by(versions_newest_first, |a| a.consent.is_some())
}

/// [`in_force`] for any summary of the versions (newest first), given
/// whether each was consented to: a store can pick the version before it
/// reads the terms.
pub fn in_force_by<T>(versions_newest_first: &[T], consented: impl Fn(&T) -> bool) -> Option<&T> {
    versions_newest_first
        .iter()
        .find(|a| consented(a))
        .or(versions_newest_first.first())
}

pub fn next_version(latest: Option<i64>) -> i64 {
    latest.unwrap_or(0) + 1
}

fn required(field: &str, value: &str, max: usize) -> Result<String, DomainError> {
    let v = optional_text(field, value, max)?;
    if v.is_empty() {
        return Err(DomainError::invalid(field, "is required"));
    }
    Ok(v)
}

fn optional_text(field: &str, value: &str, max: usize) -> Result<String, DomainError> {
    let v = value.trim();
    if v.chars().count() > max {
        return Err(DomainError::invalid(field, format!("is longer than {max} characters")));
    }
    Ok(v.to_string())
}

/// A plausible email address, lower-cased in its domain. Deliverability is
/// the mail system's business; this catches typing slips.
pub fn parse_email(field: &str, value: &str) -> Result<String, DomainError> {
    let v = value.trim();
    let bad = || DomainError::invalid(field, format!("{v:?} is not an email address like name@example.org"));
    let (local, domain) = v.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || domain.is_empty()
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || v.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
        || v.len() > 254
    {
        return Err(bad());
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

/// A phone number as people write it: digits with spaces, dashes, brackets
/// and a leading +; at least six digits.
pub fn parse_phone(value: &str) -> Result<String, DomainError> {
    let v = value.trim();
    let digits = v.chars().filter(|c| c.is_ascii_digit()).count();
    let ok_chars = v
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || " -().".contains(c) || (c == '+' && i == 0));
    if !ok_chars || !(6..=20).contains(&digits) {
        return Err(DomainError::invalid(
            "phones",
            format!("{v:?} is not a phone number like +44 20 7946 0018"),
        ));
    }
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_fields_are_cleaned_and_checked() {
        let f = ClientFields {
            given_name: "  Ana ".into(),
            emails: vec!["Ana@Example.ORG".into(), "".into(), "Ana@example.org".into()],
            phones: vec!["+44 7700 900123".into()],
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(f.given_name, "Ana");
        assert_eq!(f.emails, vec!["Ana@example.org"]);
        let err = ClientFields::default().validate().unwrap_err();
        assert_eq!(err.to_string(), "given_name: is required");
        let err = ClientFields {
            given_name: "A".into(),
            emails: vec!["not an email".into()],
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(matches!(err, DomainError::Invalid { ref field, .. } if field == "emails"));
        assert!(parse_phone("12").is_err());
        assert!(parse_phone("07700 900123").is_ok());
    }

    #[test]
    fn engagement_dates_must_be_in_order() {
        let err = EngagementFields {
            title: "x".into(),
            started_on: Some(jiff::civil::date(2026, 5, 1)),
            planned_end: Some(jiff::civil::date(2026, 4, 1)),
            next_review: None,
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().starts_with("planned_end"));
    }

    #[test]
    fn dates_and_reviews() {
        assert_eq!(parse_optional_date("d", " ").unwrap(), None);
        let err = parse_optional_date("next_review", "31/12/2026").unwrap_err();
        assert_eq!(
            err.to_string(),
            "next_review: \"31/12/2026\" is not a date like 2027-06-30"
        );
        let f = EngagementFields::from_text("Work", "2026-01-05", "", "2026-02-01").unwrap();
        let today = jiff::civil::date(2026, 2, 1);
        let mut e = Engagement {
            id: EngagementId::new(),
            client_id: ClientId::new(),
            practitioner_id: UserId::new(),
            state: EngagementState::Active,
            title: f.title,
            started_on: f.started_on,
            planned_end: f.planned_end,
            next_review: f.next_review,
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
        };
        assert!(e.review_due(today));
        assert!(!e.review_due(jiff::civil::date(2026, 1, 31)));
        e.state = EngagementState::Ended;
        assert!(!e.review_due(today));
    }

    #[test]
    fn versions_count_up() {
        assert_eq!(next_version(None), 1);
        assert_eq!(next_version(Some(3)), 4);
    }
}
