//! Phrase packs: triage rules as data (`packs/triage/*.toml`), so an agency
//! can read and change what is flagged without a new build.
//!
//! A pack names its language, how words are normalised (contractions,
//! text-speak, common misspellings), which words negate what follows, and
//! rules: phrases that point to a label with a weight. `except` phrases are
//! figures of speech that cancel a rule they overlap ("killing me" in "this
//! deadline is killing me"). Every phrase is normalised like the messages
//! it is matched against, so a pack can be written in plain English.
//!
//! Scoring: each distinct phrase found adds its weight as independent
//! evidence (1 − Π(1 − w)); a label is reported when its score reaches the
//! label's threshold. A strong phrase flags alone; weak cues need company.

use std::collections::{BTreeMap, HashMap, HashSet};

use aho_corasick::{AhoCorasick, MatchKind};
use serde::Deserialize;

use super::hash::{self, Fnv, Prehashed};
use super::model::WordModel;
use super::text::{self, CLAUSE, Span, Token};
use super::{Finding, Label};
use crate::DomainError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    language: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    normalize: BTreeMap<String, String>,
    #[serde(default)]
    negation: NegationFile,
    #[serde(default)]
    thresholds: BTreeMap<String, f32>,
    #[serde(default, rename = "rule")]
    rules: Vec<RuleFile>,
    #[serde(default, rename = "except")]
    excepts: Vec<ExceptFile>,
    #[serde(default, rename = "near")]
    nears: Vec<NearFile>,
}

/// Words of every group close together: a concept that single phrases
/// would need hundreds of spellings for ("took" … "pills", "cut" … "my arm").
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NearFile {
    label: String,
    weight: f32,
    /// How many words apart the first and the last may be at most.
    #[serde(default = "default_within")]
    within: usize,
    groups: Vec<Vec<String>>,
    #[serde(default = "yes")]
    negatable: bool,
}

fn default_within() -> usize {
    5
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NegationFile {
    #[serde(default)]
    words: Vec<String>,
    /// How many words before a phrase a negation reaches.
    #[serde(default = "default_window")]
    window: usize,
    /// Words that end a negation's reach, like a comma ("but").
    #[serde(default)]
    stop: Vec<String>,
}

impl Default for NegationFile {
    fn default() -> Self {
        NegationFile {
            words: Vec::new(),
            window: default_window(),
            stop: Vec::new(),
        }
    }
}

fn default_window() -> usize {
    3
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    label: String,
    weight: f32,
    phrases: Vec<String>,
    /// Whether a negation just before cancels the phrase. Phrases that
    /// carry their own negation ("don't want to be here") never are.
    #[serde(default = "yes")]
    negatable: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExceptFile {
    /// The labels these figures of speech cancel; `["*"]` for every label.
    labels: Vec<String>,
    phrases: Vec<String>,
}

/// What a phrase or a near rule adds to a label when it is found.
#[derive(Debug, Clone, Copy)]
struct Cue {
    label: Label,
    weight: f32,
    /// Whether a negation just before cancels it.
    negatable: bool,
}

/// What an Aho–Corasick pattern stands for.
#[derive(Debug, Clone)]
enum Meaning {
    Rule(Cue),
    Except {
        labels: Vec<Label>,
    },
    /// A word of group `group` of near rule `rule`.
    Near {
        rule: usize,
        group: usize,
    },
}

#[derive(Debug, Clone)]
struct Near {
    cue: Cue,
    within: usize,
    groups: usize,
}

#[derive(Debug, Clone)]
struct Pattern {
    meaning: Meaning,
    /// Matches the start of the last word only ("suicid*").
    prefix: bool,
    /// How many words it spans.
    words: usize,
}

/// A loaded, checked and compiled pack.
#[derive(Debug, Clone)]
pub struct Pack {
    language: String,
    description: Option<String>,
    /// Word hash → the word and what it becomes (words and their hashes).
    normalize: HashMap<u64, Normal, Prehashed>,
    negators: HashSet<String, Fnv>,
    stops: HashSet<String, Fnv>,
    window: usize,
    thresholds: [f32; Label::ALL.len()],
    patterns: Vec<Pattern>,
    nears: Vec<Near>,
    matcher: AhoCorasick,
    /// The patterns as matched (normalised, space-delimited).
    texts: Vec<String>,
    /// The word model trained beside the phrases, when there is one.
    model: Option<WordModel>,
}

/// One entry of a pack's normalisation.
#[derive(Debug, Clone)]
struct Normal {
    from: String,
    to: Vec<(String, u64)>,
}

/// A text as a pack reads it (see [`Pack::normalized`]).
#[derive(Default)]
pub(super) struct Normalized {
    /// " w1 w2 … wn ": the words after normalisation, between spaces.
    pub norm: String,
    /// Where each word starts in `norm`.
    pub starts: Vec<usize>,
    /// The original word each came from.
    pub origin: Vec<Span>,
    pub is_clause: Vec<bool>,
    /// Each word's hash ([`hash::word`]).
    pub hashes: Vec<u64>,
}

impl Normalized {
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Word `i` after normalisation ("," for a clause mark).
    pub fn word(&self, i: usize) -> &str {
        let end = self.starts.get(i + 1).copied().unwrap_or(self.norm.len());
        &self.norm[self.starts[i]..end - 1]
    }
}

/// Default threshold: one phrase of weight 0.5 or more flags a label.
const DEFAULT_THRESHOLD: f32 = 0.5;
/// Evidence kept per label.
const MAX_EVIDENCE: usize = 6;

fn error(name: &str, msg: impl std::fmt::Display) -> DomainError {
    DomainError::TriagePack(format!("{name}: {msg}"))
}

impl Pack {
    /// Read a pack from its TOML text; `name` (a file name) is used in errors.
    pub fn parse(name: &str, toml_text: &str) -> Result<Pack, DomainError> {
        let file: PackFile = toml::from_str(toml_text).map_err(|e| error(name, e.to_string().trim_end()))?;
        if file.language.trim().is_empty() {
            return Err(error(name, "language is empty; give a language tag such as \"en\""));
        }
        let label = |s: &str, what: &str| -> Result<Label, DomainError> {
            Label::parse(s).ok_or_else(|| {
                error(
                    name,
                    format!(
                        "{what}: {s:?} is not a label; use one of {}",
                        Label::ALL.iter().map(|l| l.key()).collect::<Vec<_>>().join(", ")
                    ),
                )
            })
        };

        // What a rule or near rule adds: a label that has phrases, a weight in (0, 1].
        let cue = |l: &str, weight: f32, negatable: bool, where_: &str| -> Result<Cue, DomainError> {
            let label = label(l, where_)?;
            if label == Label::Other {
                return Err(error(
                    name,
                    format!("{where_}: \"other\" is what is left when nothing matches; it has no phrases"),
                ));
            }
            if !(weight > 0.0 && weight <= 1.0) {
                return Err(error(
                    name,
                    format!("{where_}: weight {weight} must be above 0 and at most 1"),
                ));
            }
            Ok(Cue {
                label,
                weight,
                negatable,
            })
        };

        // Normalisation first: phrases are read through it.
        let mut normalize: HashMap<u64, Normal, Prehashed> = HashMap::default();
        for (from, to) in &file.normalize {
            let key = single_word(from).ok_or_else(|| {
                error(
                    name,
                    format!("normalize: {from:?} must be one word (with an apostrophe at most)"),
                )
            })?;
            let to_words: Vec<String> = text::words(to).into_iter().map(|w| w.text.into_owned()).collect();
            if to_words.is_empty() || to_words.iter().any(|w| w == CLAUSE) {
                return Err(error(
                    name,
                    format!("normalize: {from:?} = {to:?} must become one or more words"),
                ));
            }
            let to = to_words
                .into_iter()
                .map(|w| {
                    let h = hash::word(&w);
                    (w, h)
                })
                .collect();
            if normalize.insert(hash::word(&key), Normal { from: key, to }).is_some() {
                return Err(error(name, format!("normalize: {from:?} is given twice")));
            }
        }
        let mut pack = Pack {
            language: file.language.trim().to_string(),
            description: file.description,
            normalize,
            negators: HashSet::default(),
            stops: HashSet::default(),
            window: file.negation.window,
            thresholds: [DEFAULT_THRESHOLD; Label::ALL.len()],
            patterns: Vec::new(),
            nears: Vec::new(),
            matcher: AhoCorasick::new(Vec::<String>::new()).map_err(|e| error(name, e))?,
            texts: Vec::new(),
            model: None,
        };
        if pack.window == 0 || pack.window > 10 {
            return Err(error(name, "negation.window must be between 1 and 10 words"));
        }
        for w in &file.negation.words {
            let words = pack.normal_words(w);
            if words.is_empty() {
                return Err(error(name, format!("negation.words: {w:?} has no words")));
            }
            pack.negators.extend(words);
        }
        for w in &file.negation.stop {
            pack.stops.extend(pack.normal_words(w));
        }
        for (l, t) in &file.thresholds {
            let l = label(l, "thresholds")?;
            if !(*t > 0.0 && *t <= 1.0) {
                return Err(error(
                    name,
                    format!("thresholds.{l}: {t} must be above 0 and at most 1"),
                ));
            }
            pack.thresholds[l.index()] = *t;
        }

        let mut texts: Vec<String> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut add = |pack: &mut Pack, phrase: &str, meaning: Meaning, where_: &str| -> Result<(), DomainError> {
            let (body, prefix) = match phrase.trim().strip_suffix('*') {
                Some(b) => (b, true),
                None => (phrase.trim(), false),
            };
            let words = if prefix {
                // The stem is not normalised (it is not a whole word).
                let raw = text::words(body);
                match raw.split_last() {
                    Some((last, before)) => {
                        let mut ws = Vec::new();
                        for w in before {
                            ws.extend(pack.normal_words(&w.text));
                        }
                        ws.push(last.text.to_string());
                        ws
                    }
                    None => Vec::new(),
                }
            } else {
                pack.normal_words(body)
            };
            if words.is_empty() {
                return Err(error(name, format!("{where_}: {phrase:?} has no words")));
            }
            if words.iter().any(|w| w == CLAUSE) {
                return Err(error(
                    name,
                    format!("{where_}: {phrase:?} spans punctuation; phrases match within a clause"),
                ));
            }
            let meaning = match meaning {
                Meaning::Rule(cue) => Meaning::Rule(Cue {
                    negatable: cue.negatable && !words.iter().any(|w| pack.negators.contains(w)),
                    ..cue
                }),
                m => m,
            };
            let mut pattern = String::with_capacity(body.len() + 2);
            pattern.push(' ');
            pattern.push_str(&words.join(" "));
            if !prefix {
                pattern.push(' ');
            }
            // The same words for the same label again ("self-harm" and
            // "self harm" read alike): the first one counts.
            if !seen.insert(format!("{pattern}|{}", label_key(&meaning))) {
                return Ok(());
            }
            texts.push(pattern);
            pack.patterns.push(Pattern {
                meaning,
                prefix,
                words: words.len(),
            });
            Ok(())
        };
        for (i, r) in file.rules.iter().enumerate() {
            let where_ = format!("rule {} ({})", i + 1, r.label);
            let cue = cue(&r.label, r.weight, r.negatable, &where_)?;
            if r.phrases.is_empty() {
                return Err(error(name, format!("{where_}: no phrases")));
            }
            for p in &r.phrases {
                add(&mut pack, p, Meaning::Rule(cue), &where_)?;
            }
        }
        for (i, x) in file.excepts.iter().enumerate() {
            let where_ = format!("except {}", i + 1);
            let labels = if x.labels.iter().any(|l| l == "*") {
                Label::ALL.to_vec()
            } else {
                x.labels
                    .iter()
                    .map(|l| label(l, &where_))
                    .collect::<Result<Vec<_>, _>>()?
            };
            if labels.is_empty() {
                return Err(error(name, format!("{where_}: no labels; use [\"*\"] for every label")));
            }
            for p in &x.phrases {
                add(&mut pack, p, Meaning::Except { labels: labels.clone() }, &where_)?;
            }
        }
        for (i, n) in file.nears.iter().enumerate() {
            let where_ = format!("near {} ({})", i + 1, n.label);
            let cue = cue(&n.label, n.weight, n.negatable, &where_)?;
            if n.groups.len() < 2 || n.groups.iter().any(Vec::is_empty) {
                return Err(error(
                    name,
                    format!("{where_}: give two or more groups of words, none empty"),
                ));
            }
            if n.within == 0 || n.within > 30 {
                return Err(error(name, format!("{where_}: within must be between 1 and 30 words")));
            }
            let rule = pack.nears.len();
            pack.nears.push(Near {
                cue,
                within: n.within,
                groups: n.groups.len(),
            });
            // A phrase in two groups would satisfy the rule on its own.
            let mut seen_in: HashMap<String, usize> = HashMap::new();
            for (g, words) in n.groups.iter().enumerate() {
                for w in words {
                    let key = pack.normal_words(w.trim_end_matches('*')).join(" ");
                    if let Some(other) = seen_in.insert(key, g).filter(|other| *other != g) {
                        return Err(error(
                            name,
                            format!(
                                "{where_}: {w:?} is in groups {} and {}; a phrase can stand for one group only",
                                other + 1,
                                g + 1
                            ),
                        ));
                    }
                    add(&mut pack, w, Meaning::Near { rule, group: g }, &where_)?;
                }
            }
        }
        pack.matcher = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&texts)
            .map_err(|e| error(name, e))?;
        pack.texts = texts;
        Ok(pack)
    }

    pub fn language(&self) -> &str {
        &self.language
    }

    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// How many phrases (rules and exceptions) the pack matches.
    pub fn phrase_count(&self) -> usize {
        self.texts.len()
    }

    /// The phrases as they are matched: normalised words between spaces
    /// (for the benchmark's bare scan with the same phrases).
    pub fn matched_texts(&self) -> &[String] {
        &self.texts
    }

    /// The same pack with a word model beside its phrases (the text of a
    /// `*.model.json` file; `name` is used in errors).
    pub fn with_model(mut self, name: &str, json_text: &str) -> Result<Pack, DomainError> {
        self.model = Some(WordModel::parse(name, json_text, &self)?);
        Ok(self)
    }

    /// The same pack without its word model: phrases only.
    pub fn phrases_only(&self) -> Pack {
        Pack {
            model: None,
            ..self.clone()
        }
    }

    pub fn model(&self) -> Option<&WordModel> {
        self.model.as_ref()
    }

    /// The words of `s` after normalisation, clause marks included.
    pub(super) fn normal_words(&self, s: &str) -> Vec<String> {
        let mut out = Vec::new();
        for w in text::words(s) {
            match self.normal(&w.text, hash::word(&w.text)) {
                Some(n) => out.extend(n.to.iter().map(|(w, _)| w.clone())),
                None => out.push(w.text.into_owned()),
            }
        }
        out
    }

    /// What the word `w` (of hash `h`) becomes, if the pack normalises it.
    fn normal(&self, w: &str, h: u64) -> Option<&Normal> {
        self.normalize.get(&h).filter(|n| n.from == w)
    }

    /// `text` as the pack reads it: lower-case words after normalisation,
    /// each remembering the original word it came from. Built in one pass:
    /// each word is written lower-cased, then looked up and replaced when
    /// the pack normalises it.
    pub(super) fn normalized(&self, text: &str) -> Normalized {
        let mut n = Normalized::default();
        self.normalize_into(text, &mut n);
        n
    }

    /// [`Pack::normalized`] into buffers kept from an earlier message.
    fn normalize_into(&self, text: &str, n: &mut Normalized) {
        let Normalized {
            norm,
            starts,
            origin,
            is_clause,
            hashes,
        } = n;
        norm.clear();
        starts.clear();
        origin.clear();
        is_clause.clear();
        hashes.clear();
        norm.push(' ');
        text::scan(text, |t, span| {
            let at = norm.len();
            match t {
                Token::Clause => norm.push_str(CLAUSE),
                Token::Currency => norm.push_str(&text[span.start..span.end]),
                Token::Word { plain: true } => norm.push_str(&text[span.start..span.end]),
                Token::Word { plain: false } => text::push_lower(norm, text, span),
            }
            let h = hash::word(&norm[at..]);
            match self.normal(&norm[at..], h) {
                Some(n) => {
                    norm.truncate(at);
                    for (w, h) in &n.to {
                        starts.push(norm.len());
                        origin.push(span);
                        is_clause.push(false);
                        hashes.push(*h);
                        norm.push_str(w);
                        norm.push(' ');
                    }
                }
                None => {
                    starts.push(at);
                    origin.push(span);
                    is_clause.push(t == Token::Clause);
                    hashes.push(h);
                    norm.push(' ');
                }
            }
        });
    }

    /// Findings for the client's words in `text`, labels in their order.
    pub fn findings(&self, text: &str) -> Vec<Finding> {
        // The normalised text's buffers are kept per thread and reused:
        // allocating five of them for every message cost more than the
        // word model's scoring. A very long message's are not kept.
        thread_local! {
            static SCRATCH: std::cell::RefCell<Normalized> = std::cell::RefCell::new(Normalized::default());
        }
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut n) => {
                self.normalize_into(text, &mut n);
                let found = self.findings_in(text, &n);
                if n.norm.capacity() > 1 << 20 {
                    *n = Normalized::default();
                }
                found
            }
            Err(_) => self.findings_in(text, &self.normalized(text)),
        })
    }

    fn findings_in(&self, text: &str, n: &Normalized) -> Vec<Finding> {
        let Normalized {
            norm,
            starts,
            origin,
            is_clause,
            ..
        } = n;
        // Overlapping matches come in the order of their ends, so the word a
        // match ends in is found by moving forward, and its first word by
        // counting back (a search per match cost more than the match).
        let mut cursor = 0usize;

        /// A cue found from word `first` to word `last`; `id` tells phrases
        /// and near rules apart, so that each counts once.
        struct Hit {
            id: usize,
            cue: Cue,
            first: usize,
            last: usize,
        }
        let mut cues: Vec<Hit> = Vec::new();
        // Figures of speech as (first, last, the labels they cancel).
        let mut excepts: Vec<(usize, usize, &[Label])> = Vec::new();
        // Near words as (rule, group, first, last).
        let mut near: Vec<(usize, usize, usize, usize)> = Vec::new();
        for m in self.matcher.find_overlapping_iter(norm) {
            let id = m.pattern().as_usize();
            let p = &self.patterns[id];
            let end = m.end() - if p.prefix { 1 } else { 2 };
            if starts[cursor] > end {
                // Not in order after all (aho-corasick reports overlapping
                // matches by their end): start again rather than misplace it.
                cursor = 0;
            }
            while starts.get(cursor + 1).is_some_and(|s| *s <= end) {
                cursor += 1;
            }
            let last = cursor;
            let first = (last + 1).saturating_sub(p.words);
            match &p.meaning {
                Meaning::Rule(cue) => cues.push(Hit {
                    id,
                    cue: *cue,
                    first,
                    last,
                }),
                Meaning::Except { labels } => excepts.push((first, last, labels)),
                Meaning::Near { rule, group } => near.push((*rule, *group, first, last)),
            }
        }
        // A near rule holds where a word of each group is found within its
        // reach: it counts as one hit from the first word to the last. Hits
        // sorted by (rule, group, place) are walked rule by rule, each
        // group's looked up by range (messages have many common near words,
        // and most rules have none).
        near.sort_unstable();
        for found in near.chunk_by(|a, b| a.0 == b.0) {
            let r = found[0].0;
            let rule = &self.nears[r];
            let of = |g: usize| {
                let from = found.partition_point(|x| x.1 < g);
                let to = found.partition_point(|x| x.1 <= g);
                &found[from..to]
            };
            for anchor in of(0) {
                let (mut first, mut last) = (anchor.2, anchor.3);
                let mut all = true;
                for g in 1..rule.groups {
                    // The closest word of this group to the anchor.
                    let best = of(g)
                        .iter()
                        .filter(|h| h.2.abs_diff(anchor.2) <= rule.within)
                        .min_by_key(|h| h.2.abs_diff(anchor.2));
                    match best {
                        Some(h) => {
                            first = first.min(h.2);
                            last = last.max(h.3);
                        }
                        None => {
                            all = false;
                            break;
                        }
                    }
                }
                if all && last - first <= rule.within + 4 {
                    cues.push(Hit {
                        id: self.patterns.len() + r,
                        cue: rule.cue,
                        first,
                        last,
                    });
                }
            }
        }

        // The word model flags what the phrases missed; its words are the
        // evidence only when no phrase is.
        let model = self.model.as_ref().map(|m| (m, m.score(n)));
        if cues.is_empty() && !model.as_ref().is_some_and(|(m, s)| m.flags_any(s)) {
            return Vec::new();
        }
        let word = |i: usize| n.word(i);
        let negated = |first: usize| {
            let mut i = first;
            let mut seen = 0;
            while i > 0 && seen < self.window {
                i -= 1;
                if is_clause[i] || self.stops.contains(word(i)) {
                    return false;
                }
                if self.negators.contains(word(i)) {
                    return true;
                }
                seen += 1;
            }
            false
        };

        let mut score = [0f32; Label::ALL.len()];
        let mut counted: Vec<usize> = Vec::new();
        let mut evidence: [Vec<Span>; Label::ALL.len()] = Default::default();
        for h in &cues {
            let Cue {
                label,
                weight,
                negatable,
            } = h.cue;
            let excepted = excepts
                .iter()
                .any(|(first, last, labels)| *first <= h.last && h.first <= *last && labels.contains(&label));
            if excepted || (negatable && negated(h.first)) {
                continue;
            }
            let span = Span {
                start: origin[h.first].start,
                end: origin[h.last].end,
            };
            text::add_merged(&mut evidence[label.index()], span);
            // Each phrase counts once however often it appears.
            if !counted.contains(&h.id) {
                counted.push(h.id);
                let s = &mut score[label.index()];
                *s = 1.0 - (1.0 - *s) * (1.0 - weight);
            }
        }
        let by_phrases = |i: usize| score[i] > 0.0 && score[i] >= self.thresholds[i] - 1e-6;
        if let Some((m, s)) = &model {
            let only: Vec<Label> = Label::ALL
                .into_iter()
                .filter(|l| m.flags(*l, s) && !by_phrases(l.index()))
                .collect();
            if !only.is_empty() {
                for (l, ev) in only.iter().zip(m.evidence(&only, n)) {
                    evidence[l.index()] = ev;
                }
            }
        }
        let mut out = Vec::new();
        for l in Label::ALL {
            let i = l.index();
            let by_model = model.as_ref().filter(|(m, s)| m.flags(l, s));
            if by_phrases(i) || by_model.is_some() {
                let mut sure = if by_phrases(i) { score[i] } else { 0.0 };
                if let Some((_, s)) = &model {
                    sure = sure.max(s.probability(l));
                }
                let mut ev = std::mem::take(&mut evidence[i]);
                ev.sort_by_key(|e| e.start);
                let mut said: Vec<String> = Vec::new();
                for e in ev {
                    let s = text[e.start..e.end].to_string();
                    if !said.iter().any(|x| x.eq_ignore_ascii_case(&s)) && said.len() < MAX_EVIDENCE {
                        said.push(s);
                    }
                }
                out.push(Finding {
                    label: l,
                    score: (f64::from(sure) * 100.0).round() / 100.0,
                    evidence: said,
                });
            }
        }
        out
    }
}

fn label_key(m: &Meaning) -> String {
    match m {
        Meaning::Rule(cue) => cue.label.key().to_string(),
        Meaning::Except { labels } => format!(
            "except:{}",
            labels.iter().map(|l| l.key()).collect::<Vec<_>>().join(",")
        ),
        Meaning::Near { rule, group } => format!("near:{rule}:{group}"),
    }
}

/// `s` as one lower-case word, if it is one.
fn single_word(s: &str) -> Option<String> {
    let ws = text::words(s);
    match ws.as_slice() {
        [w] if w.text != CLAUSE => Some(w.text.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(toml: &str) -> String {
        Pack::parse("t.toml", toml).unwrap_err().to_string()
    }

    #[test]
    fn errors_say_what_to_change() {
        assert!(
            err("language = \"en\"\n[[rule]]\nlabel = \"crises\"\nweight = 0.5\nphrases = [\"x\"]")
                .contains("\"crises\" is not a label")
        );
        assert!(
            err("language = \"en\"\n[[rule]]\nlabel = \"crisis\"\nweight = 2\nphrases = [\"x\"]")
                .contains("weight 2 must be above 0")
        );
        assert!(
            err("language = \"en\"\n[[rule]]\nlabel = \"other\"\nweight = 0.5\nphrases = [\"x\"]")
                .contains("has no phrases")
        );
        assert!(
            err("language = \"en\"\n[[rule]]\nlabel = \"crisis\"\nweight = 0.5\nphrases = [\"stop. go\"]")
                .contains("spans punctuation")
        );
        assert!(err("language = \"en\"\n[normalize]\n\"two words\" = \"x\"").contains("must be one word"));
        assert!(
            err("language = \"en\"\n[[near]]\nlabel = \"crisis\"\nweight = 0.5\ngroups = [[\"a\"]]")
                .contains("two or more groups")
        );
        assert!(err("language = \"en\"\nlanguge = 1").contains("t.toml"));
        assert!(
            err("language = \"en\"\n[[near]]\nlabel = \"crisis\"\nweight = 0.5\ngroups = [[\"a\", \"b\"], [\"c\", \"A\"]]")
                .contains("\"A\" is in groups 1 and 2")
        );
        // A TOML mistake names its line.
        assert!(
            err("language = \"en\"\n[[rule]\n").contains("line 2"),
            "{}",
            err("language = \"en\"\n[[rule]\n")
        );
        assert!(err("language = \"\"").contains("language is empty"));
    }

    #[test]
    fn phrases_negation_exceptions_and_near_rules() {
        let pack = Pack::parse(
            "t.toml",
            r#"
language = "en"
[normalize]
"dont" = "do not"
"wanna" = "want to"
[negation]
words = ["not", "never"]
[[rule]]
label = "crisis"
weight = 0.9
phrases = ["want to die", "do not want to be here", "suicid*"]
[[rule]]
label = "scheduling"
weight = 0.3
phrases = ["monday", "tuesday"]
[[except]]
labels = ["crisis"]
phrases = ["want to die of embarrassment"]
[[near]]
label = "gift_or_money"
weight = 0.8
groups = [["bought you"], ["flowers", "cake"]]
"#,
        )
        .unwrap();
        let labels = |t: &str| pack.findings(t).into_iter().map(|f| f.label).collect::<Vec<_>>();
        assert_eq!(labels("i wanna die"), [Label::Crisis]);
        assert_eq!(labels("I would never want to die like that"), []);
        assert_eq!(labels("I dont want to be here"), [Label::Crisis], "its own negation");
        assert_eq!(labels("I could want to die of embarrassment"), []);
        assert_eq!(labels("feeling suicidal"), [Label::Crisis]);
        assert_eq!(labels("monday"), [], "one weak cue is not enough");
        assert_eq!(labels("monday or tuesday"), [Label::Scheduling]);
        assert_eq!(labels("I bought you some flowers"), [Label::GiftOrMoney]);
        assert_eq!(
            labels("I bought you. Later, flowers"),
            [Label::GiftOrMoney],
            "near reaches across a clause"
        );
        assert_eq!(labels("flowers"), []);
        // Evidence is the original words, merged where phrases overlap.
        let f = pack.findings("Honestly I WANNA DIE");
        assert_eq!(f[0].evidence, ["WANNA DIE"]);
    }
}
