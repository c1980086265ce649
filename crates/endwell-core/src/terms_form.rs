//! The agreement editor's fields as a person types them, and the conversion
//! to and from [`Terms`]. Lives in the domain so the web form, and anything
//! else that edits terms as text, reads them by the same rules.
//!
//! Line formats (one item per line; blank lines are ignored):
//! - exceptions: `2026-12-24 to 2026-12-28: Holiday` or
//!   `2027-01-15T12:00 to 2027-01-15T17:00: Training` (a single day: `2026-12-31: Closed`)
//! - on call: `sat, sun 10:00-16:00 sms, voice`

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::terms::{
    AutoReply, Channel, Channels, Crisis, EngagementTerms, Exception, LocalPoint, OfficeHours, OnCall, OncePer,
    PractitionerTerms, Terms, TimeRange, Weekday, Zone,
};

/// Every field of the editor, as text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TermsForm {
    pub timezone: String,
    pub response_time_hours: String,
    pub practitioner_name: String,
    pub practitioner_addresses: String,
    pub hours_mon: String,
    pub hours_tue: String,
    pub hours_wed: String,
    pub hours_thu: String,
    pub hours_fri: String,
    pub hours_sat: String,
    pub hours_sun: String,
    pub exceptions: String,
    pub on_call: String,
    /// "on" when the checkbox is ticked (HTML sends nothing otherwise).
    pub auto_reply_enabled: String,
    /// "closed_period" or "every_days".
    pub auto_reply_period: String,
    pub auto_reply_every_days: String,
    pub auto_reply_text: String,
    pub auto_reply_ending_text: String,
    /// Empty means the default wording.
    pub auto_reply_template: String,
    pub auto_reply_ending_template: String,
    pub auto_reply_crisis_template: String,
    pub crisis_resources: String,
    pub channel_email: String,
    pub channel_sms: String,
    pub channel_voice: String,
    pub channel_portal: String,
    pub objectives: String,
    pub ends_on: String,
    pub sessions: String,
    pub session_minutes: String,
    pub frequency: String,
    pub review_every_sessions: String,
    pub fee: String,
    pub payment_due_days: String,
    pub late_payment: String,
    pub scope: String,
    pub social_media: String,
    pub gifts: String,
    pub self_disclosure: String,
    pub ending_notice_days: String,
    pub ending: String,
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty())
}

fn list(text: &str) -> Vec<String> {
    lines(text).map(str::to_string).collect()
}

fn opt(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn number(field: &str, text: &str) -> Result<Option<u32>, DomainError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse::<u32>()
        .map(Some)
        .map_err(|_| DomainError::invalid(field, format!("{t:?} is not a whole number")))
}

fn with_field(field: &str, e: DomainError) -> DomainError {
    match e {
        DomainError::Invalid { message, .. } => DomainError::invalid(field, message),
        other => other,
    }
}

fn parse_exception(line: &str) -> Result<Exception, DomainError> {
    let (span, reason) = match line.split_once(": ") {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (line.trim_end_matches(':').trim(), ""),
    };
    let (from, to) = match span.split_once(" to ") {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (span, span),
    };
    let from: LocalPoint = from.parse().map_err(|e| with_field("exceptions", e))?;
    let to: LocalPoint = to.parse().map_err(|e| with_field("exceptions", e))?;
    let valid = match (from, to) {
        (LocalPoint::Day(a), LocalPoint::Day(b)) => a <= b,
        (LocalPoint::At(a), LocalPoint::At(b)) => a < b,
        _ => false,
    };
    if !valid {
        return Err(DomainError::invalid(
            "exceptions",
            format!("{line:?}: the end must come after the start, and both be dates or both date and time"),
        ));
    }
    Ok(Exception {
        from,
        to,
        reason: reason.to_string(),
    })
}

fn parse_on_call(line: &str) -> Result<OnCall, DomainError> {
    let bad = || {
        DomainError::invalid(
            "on_call",
            format!("{line:?} is not like \"sat, sun 10:00-16:00 sms, voice\""),
        )
    };
    // Split at the hours: the one token containing '-' and ':'.
    let tokens: Vec<&str> = line.split([' ', ',']).filter(|t| !t.is_empty()).collect();
    let at = tokens
        .iter()
        .position(|t| t.contains(':') && t.contains('-'))
        .ok_or_else(bad)?;
    let days = tokens[..at]
        .iter()
        .map(|d| d.parse::<Weekday>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| with_field("on_call", e))?;
    if days.is_empty() {
        return Err(bad());
    }
    let hours: TimeRange = tokens[at].parse().map_err(|e| with_field("on_call", e))?;
    let channels = tokens[at + 1..]
        .iter()
        .map(|c| c.parse::<Channel>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| with_field("on_call", e))?;
    Ok(OnCall { days, hours, channels })
}

impl TermsForm {
    /// Read the editor's fields into terms, or say which field is wrong.
    pub fn to_terms(&self) -> Result<Terms, DomainError> {
        let timezone: Zone = self.timezone.parse()?;
        let response_time_hours = number("response_time_hours", &self.response_time_hours)?.unwrap_or(24);
        let mut office_hours = OfficeHours::default();
        for (day, text) in [
            (Weekday::Mon, &self.hours_mon),
            (Weekday::Tue, &self.hours_tue),
            (Weekday::Wed, &self.hours_wed),
            (Weekday::Thu, &self.hours_thu),
            (Weekday::Fri, &self.hours_fri),
            (Weekday::Sat, &self.hours_sat),
            (Weekday::Sun, &self.hours_sun),
        ] {
            *office_hours.day_mut(day) =
                OfficeHours::parse_day(text).map_err(|e| with_field(&format!("hours_{}", day.key()), e))?;
        }
        let every_days = number("auto_reply_every_days", &self.auto_reply_every_days)?;
        let (once_per, every_days) = if self.auto_reply_period.trim() == "every_days" {
            match every_days {
                Some(n) if n >= 1 => (None, Some(n)),
                _ => {
                    return Err(DomainError::invalid(
                        "auto_reply_every_days",
                        "give the number of days between replies (1 or more)",
                    ));
                }
            }
        } else {
            (Some(OncePer::ClosedPeriod), None)
        };
        let ends_on = crate::model::parse_optional_date("ends_on", &self.ends_on)?;
        let terms = Terms {
            timezone,
            response_time_hours,
            practitioner: PractitionerTerms {
                name: self.practitioner_name.trim().to_string(),
                addresses: list(&self.practitioner_addresses)
                    .iter()
                    .map(|a| crate::model::parse_email("practitioner_addresses", a))
                    .collect::<Result<_, _>>()?,
            },
            office_hours,
            exceptions: lines(&self.exceptions).map(parse_exception).collect::<Result<_, _>>()?,
            on_call: lines(&self.on_call).map(parse_on_call).collect::<Result<_, _>>()?,
            auto_reply: AutoReply {
                enabled: !self.auto_reply_enabled.trim().is_empty(),
                once_per,
                every_days,
                text: self.auto_reply_text.trim().to_string(),
                ending_text: self.auto_reply_ending_text.trim().to_string(),
                template: template(&self.auto_reply_template),
                ending_template: template(&self.auto_reply_ending_template),
                crisis_template: template(&self.auto_reply_crisis_template),
            },
            crisis: Crisis {
                resources: list(&self.crisis_resources),
            },
            channels: Channels {
                email: opt(&self.channel_email),
                sms: opt(&self.channel_sms),
                voice: opt(&self.channel_voice),
                portal: opt(&self.channel_portal),
            },
            engagement: EngagementTerms {
                objectives: list(&self.objectives),
                ends_on,
                sessions: number("sessions", &self.sessions)?,
                session_minutes: number("session_minutes", &self.session_minutes)?,
                frequency: opt(&self.frequency),
                review_every_sessions: number("review_every_sessions", &self.review_every_sessions)?,
                fee: opt(&self.fee),
                payment_due_days: number("payment_due_days", &self.payment_due_days)?,
                late_payment: opt(&self.late_payment),
                scope: opt(&self.scope),
                social_media: opt(&self.social_media),
                gifts: opt(&self.gifts),
                self_disclosure: opt(&self.self_disclosure),
                ending_notice_days: number("ending_notice_days", &self.ending_notice_days)?,
                ending: opt(&self.ending),
            },
        };
        crate::compose::Templates::from_terms(&terms)?;
        Ok(terms)
    }

    /// The editor filled in from existing terms.
    pub fn from_terms(t: &Terms) -> TermsForm {
        let day = |d: Weekday| {
            t.office_hours
                .day(d)
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let num = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
        let s = |o: &Option<String>| o.clone().unwrap_or_default();
        let e = &t.engagement;
        TermsForm {
            timezone: t.timezone.name().to_string(),
            response_time_hours: t.response_time_hours.to_string(),
            practitioner_name: t.practitioner.name.clone(),
            practitioner_addresses: t.practitioner.addresses.join("\n"),
            hours_mon: day(Weekday::Mon),
            hours_tue: day(Weekday::Tue),
            hours_wed: day(Weekday::Wed),
            hours_thu: day(Weekday::Thu),
            hours_fri: day(Weekday::Fri),
            hours_sat: day(Weekday::Sat),
            hours_sun: day(Weekday::Sun),
            exceptions: t
                .exceptions
                .iter()
                .map(|x| {
                    let span = if x.from == x.to {
                        x.from.to_string()
                    } else {
                        format!("{} to {}", x.from, x.to)
                    };
                    if x.reason.is_empty() {
                        span
                    } else {
                        format!("{span}: {}", x.reason)
                    }
                })
                .collect::<Vec<_>>()
                .join("\n"),
            on_call: t
                .on_call
                .iter()
                .map(|o| {
                    let days = o.days.iter().map(|d| d.key()).collect::<Vec<_>>().join(", ");
                    let ch = o.channels.iter().map(|c| c.key()).collect::<Vec<_>>().join(", ");
                    format!("{days} {} {ch}", o.hours).trim().to_string()
                })
                .collect::<Vec<_>>()
                .join("\n"),
            auto_reply_enabled: if t.auto_reply.enabled {
                "on".into()
            } else {
                String::new()
            },
            auto_reply_period: if t.auto_reply.every_days.is_some() {
                "every_days".into()
            } else {
                "closed_period".into()
            },
            auto_reply_every_days: num(t.auto_reply.every_days),
            auto_reply_text: t.auto_reply.text.clone(),
            auto_reply_ending_text: t.auto_reply.ending_text.clone(),
            auto_reply_template: t.auto_reply.template.clone().unwrap_or_default(),
            auto_reply_ending_template: t.auto_reply.ending_template.clone().unwrap_or_default(),
            auto_reply_crisis_template: t.auto_reply.crisis_template.clone().unwrap_or_default(),
            crisis_resources: t.crisis.resources.join("\n"),
            channel_email: s(&t.channels.email),
            channel_sms: s(&t.channels.sms),
            channel_voice: s(&t.channels.voice),
            channel_portal: s(&t.channels.portal),
            objectives: e.objectives.join("\n"),
            ends_on: e.ends_on.map(|d| d.to_string()).unwrap_or_default(),
            sessions: num(e.sessions),
            session_minutes: num(e.session_minutes),
            frequency: s(&e.frequency),
            review_every_sessions: num(e.review_every_sessions),
            fee: s(&e.fee),
            payment_due_days: num(e.payment_due_days),
            late_payment: s(&e.late_payment),
            scope: s(&e.scope),
            social_media: s(&e.social_media),
            gifts: s(&e.gifts),
            self_disclosure: s(&e.self_disclosure),
            ending_notice_days: num(e.ending_notice_days),
            ending: s(&e.ending),
        }
    }
}

/// A template field: empty means "use the default wording".
fn template(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.replace("\r\n", "\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_terms_survive_the_editor() {
        let mut t = Terms::from_toml(include_str!("../tests/design-terms.toml")).unwrap();
        // The editor writes the default reply period explicitly.
        t.auto_reply.once_per = Some(OncePer::ClosedPeriod);
        let form = TermsForm::from_terms(&t);
        assert_eq!(form.hours_mon, "09:00-12:30, 13:30-17:00");
        assert_eq!(
            form.exceptions,
            "2026-12-24 to 2026-12-28: Holiday\n2027-01-15T12:00 to 2027-01-15T17:00: Training"
        );
        assert_eq!(form.on_call, "sat, sun 10:00-16:00 sms, voice");
        assert_eq!(form.to_terms().unwrap(), t);
    }

    #[test]
    fn mistakes_name_the_field() {
        let base = TermsForm::from_terms(&Terms::starter("UTC".parse().unwrap(), "Sam"));
        let cases: Vec<(TermsForm, &str)> = vec![
            (
                TermsForm {
                    hours_tue: "9 till 5".into(),
                    ..base.clone()
                },
                "hours_tue",
            ),
            (
                TermsForm {
                    timezone: "London".into(),
                    ..base.clone()
                },
                "timezone",
            ),
            (
                TermsForm {
                    sessions: "twelve".into(),
                    ..base.clone()
                },
                "sessions",
            ),
            (
                TermsForm {
                    exceptions: "2026-12-28 to 2026-12-24: x".into(),
                    ..base.clone()
                },
                "exceptions",
            ),
            (
                TermsForm {
                    on_call: "weekends".into(),
                    ..base.clone()
                },
                "on_call",
            ),
            (
                TermsForm {
                    ends_on: "30/06/2027".into(),
                    ..base.clone()
                },
                "ends_on",
            ),
            (
                TermsForm {
                    auto_reply_period: "every_days".into(),
                    ..base.clone()
                },
                "auto_reply_every_days",
            ),
        ];
        for (form, field) in cases {
            match form.to_terms() {
                Err(DomainError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        let single = TermsForm {
            exceptions: "2026-12-31: Closed".into(),
            ..base
        };
        assert_eq!(single.to_terms().unwrap().exceptions.len(), 1);
    }
}
