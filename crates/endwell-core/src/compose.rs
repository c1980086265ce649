//! The words of automatic replies, composed from the terms.
//!
//! Each reply is a template with a handful of placeholders, editable per
//! agreement. Placeholders are few and known, so they are filled by a small
//! hand-written renderer rather than a template engine: templates are data
//! a practitioner types, and an unknown placeholder must be an error that
//! names it, not silently empty text.
//!
//! A reply never says why the practitioner is away: no placeholder carries
//! an exception's reason.

use crate::DomainError;
use crate::terms::Terms;

/// The out-of-hours reply.
pub const DEFAULT_AWAY: &str = "\
Hello,

Thank you for your message. It has arrived safely and is waiting for {name}, \
who will reply by {reply_by}.

{text}

If you need help before then, or you are in crisis:
{crisis}

This is an automatic reply.";

/// The reply to a message from a former client.
pub const DEFAULT_ENDING: &str = "\
Hello,

Thank you for your message. Your work with {name} has ended, so this \
message has not been passed on and you will not receive a personal reply.

{text}

If you need help now, or you are in crisis:
{crisis}

This is an automatic reply.";

/// The reply to a message that may be a crisis; never held.
pub const DEFAULT_CRISIS: &str = "\
Hello,

Thank you for writing. If you are in danger or thinking of harming yourself, \
please contact one of these now; they can help straight away:
{crisis}

Your message has been passed on to {name} now.

This is an automatic reply.";

/// What a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// The practitioner's name as the terms give it.
    Name,
    /// The concrete local day and time the practitioner will reply by.
    ReplyBy,
    /// The crisis resources, one per line.
    Crisis,
    /// The practitioner's own words.
    Text,
}

impl Placeholder {
    const ALL: [(&'static str, Placeholder); 4] = [
        ("name", Placeholder::Name),
        ("reply_by", Placeholder::ReplyBy),
        ("crisis", Placeholder::Crisis),
        ("text", Placeholder::Text),
    ];
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Slot(Placeholder),
}

/// A parsed template: literal text and placeholders (`{name}`; `{{` and `}}` are braces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    pub fn parse(field: &str, text: &str) -> Result<Template, DomainError> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(i) = rest.find(['{', '}']) {
            lit.push_str(&rest[..i]);
            let tail = &rest[i..];
            if let Some(after) = tail.strip_prefix("{{") {
                lit.push('{');
                rest = after;
            } else if let Some(after) = tail.strip_prefix("}}") {
                lit.push('}');
                rest = after;
            } else if tail.starts_with('}') {
                return Err(DomainError::invalid(
                    field,
                    "has a \"}\" without \"{\"; write \"}}\" for a brace",
                ));
            } else {
                let end = tail.find('}').ok_or_else(|| {
                    DomainError::invalid(field, "has a \"{\" that is never closed; write \"{{\" for a brace")
                })?;
                let key = &tail[1..end];
                let slot = Placeholder::ALL
                    .iter()
                    .find(|(k, _)| *k == key.trim())
                    .map(|(_, p)| *p)
                    .ok_or_else(|| {
                        DomainError::invalid(
                            field,
                            format!(
                                "{{{key}}} is not a placeholder; use {{name}}, {{reply_by}}, {{crisis}} or {{text}}"
                            ),
                        )
                    })?;
                if !lit.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut lit)));
                }
                pieces.push(Piece::Slot(slot));
                rest = &tail[end + 1..];
            }
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            pieces.push(Piece::Literal(lit));
        }
        Ok(Template { pieces })
    }

    /// Fill the placeholders. Paragraphs left empty (say, no own words) are
    /// dropped so the reply reads as if written for the occasion.
    pub fn render(&self, fill: impl Fn(Placeholder) -> String) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Literal(s) => out.push_str(s),
                Piece::Slot(slot) => out.push_str(&fill(*slot)),
            }
        }
        tidy(&out)
    }
}

/// Trim line ends and collapse runs of blank lines into one.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out
}

/// The three reply templates of one agreement, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Templates {
    pub away: Template,
    pub ending: Template,
    pub crisis: Template,
}

impl Templates {
    pub fn from_terms(terms: &Terms) -> Result<Templates, DomainError> {
        let a = &terms.auto_reply;
        Ok(Templates {
            away: Template::parse("auto_reply.template", a.template.as_deref().unwrap_or(DEFAULT_AWAY))?,
            ending: Template::parse(
                "auto_reply.ending_template",
                a.ending_template.as_deref().unwrap_or(DEFAULT_ENDING),
            )?,
            crisis: Template::parse(
                "auto_reply.crisis_template",
                a.crisis_template.as_deref().unwrap_or(DEFAULT_CRISIS),
            )?,
        })
    }
}

/// Crisis resources as reply lines; a safe line even when none were agreed.
pub fn crisis_lines(terms: &Terms) -> String {
    if terms.crisis.resources.is_empty() {
        return "- your local emergency number".to_string();
    }
    terms
        .crisis
        .resources
        .iter()
        .map(|r| format!("- {r}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The practitioner's name for replies; a neutral phrase when the terms do not give one.
pub fn practitioner_name(terms: &Terms) -> &str {
    let n = terms.practitioner.name.trim();
    if n.is_empty() { "your practitioner" } else { n }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_braces() {
        let t = Template::parse("t", "{{x}} {name} by {reply_by}.").unwrap();
        let out = t.render(|p| match p {
            Placeholder::Name => "Sam".into(),
            Placeholder::ReplyBy => "Monday".into(),
            _ => String::new(),
        });
        assert_eq!(out, "{x} Sam by Monday.");
    }

    #[test]
    fn unknown_placeholders_are_named() {
        let e = Template::parse("auto_reply.template", "Hi {reason}").unwrap_err();
        assert!(e.to_string().contains("{reason} is not a placeholder"), "{e}");
        assert!(Template::parse("t", "Hi {name").is_err());
        assert!(Template::parse("t", "Hi }").is_err());
    }

    #[test]
    fn empty_paragraphs_are_dropped() {
        let t = Template::parse("t", "A\n\n{text}\n\nB").unwrap();
        assert_eq!(t.render(|_| String::new()), "A\n\nB");
    }

    #[test]
    fn defaults_parse() {
        for t in [DEFAULT_AWAY, DEFAULT_ENDING, DEFAULT_CRISIS] {
            Template::parse("t", t).unwrap();
        }
    }
}
