//! Measuring triage against a labelled corpus (`corpus/triage/*.jsonl`):
//! per-label precision, recall and F1, and which labels were confused.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Label;
use crate::DomainError;

/// One labelled message of a corpus.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    pub id: String,
    pub channel: String,
    pub message: String,
    pub labels: Vec<String>,
    #[serde(default)]
    pub note: Option<String>,
}

impl Example {
    /// The expected labels, checked.
    pub fn expected(&self) -> Result<Vec<Label>, DomainError> {
        let mut out = Vec::new();
        for l in &self.labels {
            let label = Label::parse(l)
                .ok_or_else(|| DomainError::invalid("labels", format!("{}: {l:?} is not a label", self.id)))?;
            if !out.contains(&label) {
                out.push(label);
            }
        }
        if out.is_empty() {
            return Err(DomainError::invalid(
                "labels",
                format!("{}: no labels; write [\"other\"] when none applies", self.id),
            ));
        }
        if out.len() > 1 && out.contains(&Label::Other) {
            return Err(DomainError::invalid(
                "labels",
                format!("{}: \"other\" cannot go with another label", self.id),
            ));
        }
        out.sort();
        Ok(out)
    }
}

impl Example {
    /// What triage reads of it: a whole mail is parsed (MIME, HTML, the
    /// subject); other channels are taken as typed.
    pub fn text(&self) -> String {
        if self.channel == "email" {
            super::message_text(&crate::message::Message::parse(self.message.as_bytes()))
        } else {
            self.message.clone()
        }
    }
}

/// Classify every example and compare.
pub fn evaluate(classifier: &dyn super::Classifier, corpus: &[Example]) -> Report {
    let mut report = Report::default();
    for e in corpus {
        // parse_corpus checked the labels.
        let expected = e.expected().unwrap_or_default();
        let found: Vec<Label> = classifier.classify(&e.text()).into_iter().map(|f| f.label).collect();
        report.add(&e.id, &expected, &found);
    }
    report
}

/// Read a JSONL corpus; errors name the line.
pub fn parse_corpus(text: &str) -> Result<Vec<Example>, DomainError> {
    let mut out: Vec<Example> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let e: Example = serde_json::from_str(line)
            .map_err(|err| DomainError::invalid("corpus", format!("line {}: {err}", n + 1)))?;
        e.expected()
            .map_err(|err| DomainError::invalid("corpus", format!("line {}: {err}", n + 1)))?;
        if out.iter().any(|o| o.id == e.id) {
            return Err(DomainError::invalid(
                "corpus",
                format!("line {}: id {:?} is used twice", n + 1, e.id),
            ));
        }
        out.push(e);
    }
    if out.is_empty() {
        return Err(DomainError::invalid("corpus", "no examples"));
    }
    Ok(out)
}

/// Counts for one label.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Counts {
    pub true_positive: u32,
    pub false_positive: u32,
    pub false_negative: u32,
}

impl Counts {
    pub fn precision(&self) -> f64 {
        ratio(self.true_positive, self.true_positive + self.false_positive)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.true_positive, self.true_positive + self.false_negative)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) }
    }
}

/// 1.0 when there was nothing to get right.
fn ratio(a: u32, b: u32) -> f64 {
    if b == 0 { 1.0 } else { f64::from(a) / f64::from(b) }
}

/// A message the classifier got wrong.
#[derive(Debug, Clone, Serialize)]
pub struct Miss {
    pub id: String,
    pub expected: Vec<Label>,
    pub found: Vec<Label>,
}

/// The result of an evaluation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub examples: u32,
    pub exact: u32,
    pub labels: BTreeMap<Label, Counts>,
    /// For each expected label that was missed, what was found instead.
    pub confusion: BTreeMap<Label, BTreeMap<Label, u32>>,
    pub misses: Vec<Miss>,
}

impl Report {
    /// Add one example: what was expected and what was found.
    pub fn add(&mut self, id: &str, expected: &[Label], found: &[Label]) {
        self.examples += 1;
        let mut found: Vec<Label> = found.to_vec();
        found.sort();
        found.dedup();
        if expected == found.as_slice() {
            self.exact += 1;
        } else {
            self.misses.push(Miss {
                id: id.to_string(),
                expected: expected.to_vec(),
                found: found.clone(),
            });
        }
        for l in Label::ALL {
            let (e, f) = (expected.contains(&l), found.contains(&l));
            let c = self.labels.entry(l).or_default();
            match (e, f) {
                (true, true) => c.true_positive += 1,
                (false, true) => c.false_positive += 1,
                (true, false) => {
                    c.false_negative += 1;
                    let instead = self.confusion.entry(l).or_default();
                    for g in found.iter().filter(|g| !expected.contains(g)) {
                        *instead.entry(*g).or_default() += 1;
                    }
                    if found.iter().all(|g| expected.contains(g)) {
                        *instead.entry(Label::Other).or_default() += 1;
                    }
                }
                (false, false) => {}
            }
        }
    }

    pub fn counts(&self, l: Label) -> Counts {
        self.labels.get(&l).copied().unwrap_or_default()
    }

    /// Micro-averaged F1 over the boundary, payment and scheduling labels
    /// (neither `crisis`, which has its own targets, nor `other`).
    pub fn micro_f1_others(&self) -> f64 {
        let mut sum = Counts::default();
        for l in Label::ALL
            .into_iter()
            .filter(|l| !matches!(l, Label::Crisis | Label::Other))
        {
            let c = self.counts(l);
            sum.true_positive += c.true_positive;
            sum.false_positive += c.false_positive;
            sum.false_negative += c.false_negative;
        }
        sum.f1()
    }

    /// A table for people.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{:<20} {:>9} {:>7} {:>6}   {:>4} {:>4} {:>4}\n",
            "label", "precision", "recall", "F1", "tp", "fp", "fn"
        );
        for l in Label::ALL {
            let c = self.counts(l);
            s.push_str(&format!(
                "{:<20} {:>9.3} {:>7.3} {:>6.3}   {:>4} {:>4} {:>4}\n",
                l.key(),
                c.precision(),
                c.recall(),
                c.f1(),
                c.true_positive,
                c.false_positive,
                c.false_negative
            ));
        }
        s.push_str(&format!(
            "\n{} messages, {} with exactly the expected labels; micro-F1 over the labels besides crisis and other: {:.3}\n",
            self.examples,
            self.exact,
            self.micro_f1_others()
        ));
        if !self.confusion.is_empty() {
            s.push_str("\nmissed labels, and what was found instead:\n");
            for (l, instead) in &self.confusion {
                let list: Vec<String> = instead.iter().map(|(g, n)| format!("{g} {n}")).collect();
                s.push_str(&format!("  {:<20} {}\n", l.key(), list.join(", ")));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_confusion() {
        let mut r = Report::default();
        r.add("a", &[Label::Crisis], &[Label::Crisis]);
        r.add("b", &[Label::Crisis], &[Label::Scheduling]);
        r.add("c", &[Label::Other], &[Label::Payment]);
        let c = r.counts(Label::Crisis);
        assert_eq!((c.true_positive, c.false_negative), (1, 1));
        assert_eq!(c.recall(), 0.5);
        assert_eq!(r.confusion[&Label::Crisis][&Label::Scheduling], 1);
        assert_eq!(r.counts(Label::Payment).false_positive, 1);
        assert_eq!(r.exact, 1);
    }

    #[test]
    fn corpus_errors_name_the_line() {
        let err =
            parse_corpus("{\"id\":\"x\",\"channel\":\"sms\",\"message\":\"hi\",\"labels\":[\"nope\"]}").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        let err =
            parse_corpus("{\"id\":\"x\",\"channel\":\"sms\",\"message\":\"hi\",\"labels\":[\"other\",\"payment\"]}")
                .unwrap_err();
        assert!(err.to_string().contains("cannot go with"), "{err}");
    }
}
