//! An inbound message as the rules see it: who sent it, to whom, the
//! headers that say whether a person wrote it, and its text.
//!
//! RFC 5322 mail is read with mail-parser (MIME, encodings, HTML bodies);
//! plain text (an SMS, a portal message, a pasted note) is taken as it is.
//! The facts are kept raw here; what they mean is decided in
//! [`crate::decision`].

use serde::{Deserialize, Serialize};

/// A display name and an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mailbox {
    pub name: Option<String>,
    pub address: String,
}

impl Mailbox {
    /// `"Name" <address>` or `<address>`, as a reply's `To` header.
    pub fn header(&self) -> String {
        match &self.name {
            Some(n) if !n.trim().is_empty() => format!("\"{}\" <{}>", n.replace(['"', '\\'], ""), self.address),
            _ => format!("<{}>", self.address),
        }
    }
}

/// The envelope sender as the delivering server recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "address")]
pub enum ReturnPath {
    /// No `Return-Path` header (a pasted message, or a plain-text contact).
    Absent,
    /// `Return-Path: <>`: a bounce or other automatic mail; never answered.
    Null,
    Address(String),
}

/// One inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Whether the input carried mail headers at all.
    pub is_mail: bool,
    pub from: Option<Mailbox>,
    pub sender: Option<Mailbox>,
    pub return_path: ReturnPath,
    /// Addresses in To, Cc, Bcc, Resent-To, Resent-Cc and Resent-Bcc, lower-cased.
    pub recipients: Vec<String>,
    pub subject: Option<String>,
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// Values of `Auto-Submitted`, trimmed.
    pub auto_submitted: Vec<String>,
    /// Values of `Precedence`, trimmed.
    pub precedence: Vec<String>,
    /// Names of `List-*` headers present (RFC 2369/2919).
    pub list_headers: Vec<String>,
    /// Values of `X-Auto-Response-Suppress`.
    pub auto_response_suppress: Vec<String>,
    /// How many `Received` headers (a loop guard).
    pub received: usize,
    /// The text a person wrote: the plain-text body, or the HTML body as text.
    pub body: String,
}

/// The mailing-list headers RFC 5230 §4.6 names; presence is enough.
const LIST_HEADERS: [&str; 7] = [
    "list-id",
    "list-help",
    "list-subscribe",
    "list-unsubscribe",
    "list-post",
    "list-owner",
    "list-archive",
];

impl Message {
    /// A message that is only text, from a known sender (an SMS number, a portal account) or none.
    pub fn plain(sender: Option<&str>, body: &str) -> Message {
        Message {
            is_mail: false,
            from: sender.map(|a| Mailbox {
                name: None,
                address: a.trim().to_string(),
            }),
            sender: None,
            return_path: ReturnPath::Absent,
            recipients: Vec::new(),
            subject: None,
            message_id: None,
            in_reply_to: Vec::new(),
            references: Vec::new(),
            auto_submitted: Vec::new(),
            precedence: Vec::new(),
            list_headers: Vec::new(),
            auto_response_suppress: Vec::new(),
            received: 0,
            body: body.trim().to_string(),
        }
    }

    /// Read an RFC 5322 message, or plain text when the input has no header
    /// block (its first line is not `Name: value`).
    pub fn parse(raw: &[u8]) -> Message {
        let text = String::from_utf8_lossy(raw);
        if !looks_like_mail(&text) {
            return Message::plain(None, &text);
        }
        let Some(m) = mail_parser::MessageParser::default().parse(raw) else {
            return Message::plain(None, &text);
        };
        let first = |a: Option<&mail_parser::Address>| {
            a.and_then(|a| a.first()).and_then(|a| {
                Some(Mailbox {
                    name: a.name().map(str::to_string),
                    address: a.address()?.trim().to_string(),
                })
            })
        };
        let mut msg = Message::plain(None, "");
        msg.is_mail = true;
        msg.from = first(m.from());
        msg.sender = first(m.sender());
        for a in [m.to(), m.cc(), m.bcc(), m.resent_to(), m.resent_cc(), m.resent_bcc()]
            .into_iter()
            .flatten()
        {
            msg.recipients.extend(
                a.iter()
                    .filter_map(|x| x.address())
                    .map(|x| x.trim().to_ascii_lowercase()),
            );
        }
        msg.subject = m.subject().map(|s| s.trim().to_string());
        msg.message_id = m.message_id().map(str::to_string);
        msg.in_reply_to = text_list(m.in_reply_to());
        msg.references = text_list(m.references());
        for (name, value) in m.headers_raw() {
            let value = unfold(value);
            let lower = name.to_ascii_lowercase();
            match lower.as_str() {
                "return-path" => {
                    let inner = value.trim().trim_start_matches('<').trim_end_matches('>').trim();
                    // The header nearest the top was added at final delivery; keep the first.
                    if msg.return_path == ReturnPath::Absent {
                        msg.return_path = if inner.is_empty() {
                            ReturnPath::Null
                        } else {
                            ReturnPath::Address(inner.to_string())
                        };
                    }
                }
                "auto-submitted" => msg.auto_submitted.push(value),
                "precedence" => msg.precedence.push(value),
                "x-auto-response-suppress" => msg.auto_response_suppress.push(value),
                "received" => msg.received += 1,
                l if LIST_HEADERS.contains(&l) => msg.list_headers.push(name.to_string()),
                _ => {}
            }
        }
        msg.body = m.body_text(0).map(|b| b.trim().to_string()).unwrap_or_default();
        msg
    }

    /// The address a reply would go to: the envelope sender (RFC 3834 §4);
    /// for input without a Return-Path, the `From` address.
    pub fn reply_address(&self) -> Option<&str> {
        match &self.return_path {
            ReturnPath::Null => None,
            ReturnPath::Address(a) => Some(a),
            ReturnPath::Absent => self.from.as_ref().map(|m| m.address.as_str()),
        }
    }

    /// The sender as a person is known by: the envelope sender, else `From`.
    pub fn sender_address(&self) -> Option<&str> {
        match &self.return_path {
            ReturnPath::Address(a) => Some(a),
            _ => self.from.as_ref().map(|m| m.address.as_str()),
        }
    }
}

fn looks_like_mail(text: &str) -> bool {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    match first.split_once(':') {
        Some((name, _)) => {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }
        None => false,
    }
}

fn unfold(value: &str) -> String {
    value
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn text_list(v: &mail_parser::HeaderValue) -> Vec<String> {
    match v {
        mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
        mail_parser::HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mail_headers() {
        let raw = b"Return-Path: <alex@example.net>\r\nFrom: \"Alex K\" <Alex@Example.net>\r\nTo: Sam <SAM@clinic.example>\r\nCc: other@example.org\r\nSubject: Next week\r\nMessage-ID: <m1@example.net>\r\nReferences: <r1@x> <r2@x>\r\nList-Id: <x.lists>\r\nAuto-Submitted: no\r\nReceived: from a\r\nReceived: from b\r\n\r\nHello Sam\r\n";
        let m = Message::parse(raw);
        assert!(m.is_mail);
        assert_eq!(m.return_path, ReturnPath::Address("alex@example.net".into()));
        assert_eq!(m.from.as_ref().unwrap().name.as_deref(), Some("Alex K"));
        assert_eq!(m.recipients, vec!["sam@clinic.example", "other@example.org"]);
        assert_eq!(m.subject.as_deref(), Some("Next week"));
        assert_eq!(m.message_id.as_deref(), Some("m1@example.net"));
        assert_eq!(m.references, vec!["r1@x", "r2@x"]);
        assert_eq!(m.list_headers, vec!["List-ID"]);
        assert_eq!(m.auto_submitted, vec!["no"]);
        assert_eq!(m.received, 2);
        assert_eq!(m.body, "Hello Sam");
    }

    #[test]
    fn null_return_path() {
        let m = Message::parse(b"Return-Path: <>\nFrom: MAILER-DAEMON@x.example\n\nbounce");
        assert_eq!(m.return_path, ReturnPath::Null);
        assert_eq!(m.reply_address(), None);
    }

    #[test]
    fn plain_text_is_not_mail() {
        let m = Message::parse(b"Hi, can we move Thursday? Thanks: Alex");
        assert!(!m.is_mail);
        assert_eq!(m.body, "Hi, can we move Thursday? Thanks: Alex");
    }

    #[test]
    fn html_only_mail_gives_text() {
        let m = Message::parse(
            b"From: a@b.example\nContent-Type: text/html\n\n<html><body><p>Hello <b>there</b></p></body></html>",
        );
        assert!(m.body.contains("Hello"), "{:?}", m.body);
        assert!(!m.body.contains("<b>"));
    }
}
