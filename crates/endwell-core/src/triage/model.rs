//! The word model beside a phrase pack: per label, a logistic regression
//! over the client's normalised words and word pairs, trained on a labelled
//! corpus (`endwell triage train`) and kept as data next to the pack
//! (`packs/triage/en.model.json`), so an agency can retrain it on its own
//! messages.
//!
//! Why a second kind of classifier: a phrase pack flags what its writers
//! foresaw, and held-out messages say the same things in words nobody
//! listed. A linear model over words reaches a little further, stays
//! explainable (the words that weighed most are the evidence) and costs one
//! hash lookup per word and word pair. A label is flagged when the phrases
//! or the model flag it.
//!
//! Written by hand: the model is a weighted sum and its training a few
//! dozen lines of gradient descent; the Rust ML crates would bring
//! ndarray/BLAS for what a `Vec<f32>` does here.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::hash::{self, Prehashed};
use super::pack::{Normalized, Pack};
use super::text::{self, CLAUSE, Span};
use super::{Label, readable};
use crate::DomainError;

/// A slot per label (that of `other` stays unused: it is what is left).
const N: usize = Label::ALL.len();

/// A model file as written by `endwell triage train`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    pub language: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub labels: BTreeMap<String, LabelModel>,
}

/// One label's logistic regression.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelModel {
    pub bias: f32,
    /// The probability at or above which the label is flagged.
    pub threshold: f32,
    /// A weight per feature: one normalised word, or two words in a row.
    pub weights: BTreeMap<String, f32>,
}

/// A checked model, ready to score messages.
#[derive(Debug, Clone)]
pub struct WordModel {
    bias: [f32; N],
    /// Above 1 for a label the model does not flag.
    threshold: [f32; N],
    /// Feature hash → its row of weights.
    rows: HashMap<u64, u32, Prehashed>,
    weights: Vec<[f32; N]>,
    features: usize,
}

/// What the model found in one message.
#[derive(Debug, Clone)]
pub struct Scored {
    probability: [f32; N],
}

impl Scored {
    pub fn probability(&self, l: Label) -> f32 {
        self.probability[l.index()]
    }
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

fn error(name: &str, msg: impl std::fmt::Display) -> DomainError {
    DomainError::TriagePack(format!("{name}: {msg}"))
}

/// Evidence kept per label: the strongest features, with words around.
const MAX_EVIDENCE: usize = 3;
const CONTEXT: usize = 2;

impl WordModel {
    /// Read and check a model for `pack` (its features must be written as
    /// the pack normalises words); `name` (a file name) is used in errors.
    pub fn parse(name: &str, json_text: &str, pack: &Pack) -> Result<WordModel, DomainError> {
        let file: ModelFile = serde_json::from_str(json_text).map_err(|e| error(name, e))?;
        if file.language.trim() != pack.language() {
            return Err(error(
                name,
                format!(
                    "the model is for language {:?} but its pack is {:?}",
                    file.language,
                    pack.language()
                ),
            ));
        }
        let mut model = WordModel {
            bias: [0.0; N],
            threshold: [f32::INFINITY; N],
            rows: HashMap::default(),
            weights: Vec::new(),
            features: 0,
        };
        for (key, lm) in &file.labels {
            let label = Label::parse(key).filter(|l| *l != Label::Other).ok_or_else(|| {
                error(
                    name,
                    format!("{key:?} is not a label a model can flag; use one of crisis, threat_or_abuse, romantic_or_sexual, gift_or_money, social_invitation, social_media, scope_change, payment, scheduling"),
                )
            })?;
            if !(lm.threshold > 0.0 && lm.threshold <= 1.0 && lm.bias.is_finite()) {
                return Err(error(
                    name,
                    format!("{key}: threshold must be above 0 and at most 1, and bias a number"),
                ));
            }
            model.bias[label.index()] = lm.bias;
            model.threshold[label.index()] = lm.threshold;
            for (feature, w) in &lm.weights {
                let words = pack.normal_words(feature);
                let normal = words.join(" ");
                if words.is_empty() || words.len() > 2 || words.iter().any(|w| w == CLAUSE) {
                    return Err(error(
                        name,
                        format!("{key}: feature {feature:?} must be one word or two words in a row"),
                    ));
                }
                if normal != *feature {
                    return Err(error(
                        name,
                        format!("{key}: feature {feature:?} is read as {normal:?}; write it that way"),
                    ));
                }
                if !w.is_finite() {
                    return Err(error(name, format!("{key}: the weight of {feature:?} is not a number")));
                }
                let h = match words.as_slice() {
                    [w] => hash::word(w),
                    [a, b] => hash::pair(hash::word(a), hash::word(b)),
                    _ => unreachable!("checked above: one or two words"),
                };
                let next = u32::try_from(model.weights.len()).map_err(|_| error(name, "too many features"))?;
                let row = *model.rows.entry(h).or_insert(next);
                if row == next {
                    model.weights.push([0.0; N]);
                }
                model.weights[row as usize][label.index()] = *w;
            }
        }
        model.features = model.weights.len();
        // The words of pairs get a row (of zeros when they weigh nothing
        // alone): `score` looks a pair up only when both words have one.
        let pairs: Vec<String> = file
            .labels
            .values()
            .flat_map(|lm| lm.weights.keys())
            .filter(|f| f.contains(' '))
            .cloned()
            .collect();
        for w in pairs.iter().flat_map(|p| p.split(' ')) {
            let next = u32::try_from(model.weights.len()).map_err(|_| error(name, "too many features"))?;
            if *model.rows.entry(hash::word(w)).or_insert(next) == next {
                model.weights.push([0.0; N]);
            }
        }
        Ok(model)
    }

    /// How many distinct features the model weighs.
    pub fn feature_count(&self) -> usize {
        self.features
    }

    /// The labels the model can flag.
    pub fn labels(&self) -> impl Iterator<Item = Label> + '_ {
        Label::ALL.into_iter().filter(|l| self.threshold[l.index()] <= 1.0)
    }

    /// The model's features in a normalised text, in order, as (row,
    /// first word, last word): each word, and each pair of words in a row
    /// within a clause. Every word of a pair has a row (see `parse`), so a
    /// pair is looked up only when both words are known: most are not.
    fn hits(&self, n: &Normalized, mut f: impl FnMut(u32, usize, usize)) {
        let mut prev: Option<(u64, usize)> = None;
        for (i, h) in n.hashes.iter().enumerate() {
            let row = if n.is_clause[i] { None } else { self.rows.get(h) };
            let Some(row) = row else {
                prev = None;
                continue;
            };
            f(*row, i, i);
            if let Some((hp, j)) = prev
                && let Some(pair) = self.rows.get(&hash::pair(hp, *h))
            {
                f(*pair, j, i);
            }
            prev = Some((*h, i));
        }
    }

    /// Each label's probability for a normalised text. A feature counts
    /// once however often it appears (the model was trained that way).
    pub(super) fn score(&self, n: &Normalized) -> Scored {
        // Which rows were added: on the stack for a model of usual size.
        let mut small = [0u64; 256];
        let mut large = Vec::new();
        let seen: &mut [u64] = if self.weights.len() <= small.len() * 64 {
            &mut small
        } else {
            large.resize(self.weights.len().div_ceil(64), 0);
            &mut large
        };
        let mut z = self.bias;
        self.hits(n, |r, _, _| {
            let (word, bit) = (r as usize / 64, 1u64 << (r % 64));
            if seen[word] & bit == 0 {
                seen[word] |= bit;
                for (z, w) in z.iter_mut().zip(&self.weights[r as usize]) {
                    *z += w;
                }
            }
        });
        Scored {
            probability: z.map(sigmoid),
        }
    }

    pub(super) fn flags(&self, l: Label, s: &Scored) -> bool {
        s.probability[l.index()] >= self.threshold[l.index()]
    }

    pub(super) fn flags_any(&self, s: &Scored) -> bool {
        s.probability.iter().zip(&self.threshold).any(|(p, t)| p >= t)
    }

    /// For each of `labels`, the places of the features that weighed most
    /// toward it: one pass over the text for all of them.
    pub(super) fn evidence(&self, labels: &[Label], n: &Normalized) -> Vec<Vec<Span>> {
        // The few strongest per label (of equal ones, the earlier)...
        let mut top = vec![[(0f32, 0usize, 0usize); MAX_EVIDENCE]; labels.len()];
        self.hits(n, |r, first, last| {
            for (l, top) in labels.iter().zip(top.iter_mut()) {
                let w = self.weights[r as usize][l.index()];
                if w <= top[MAX_EVIDENCE - 1].0 {
                    continue;
                }
                let mut k = MAX_EVIDENCE - 1;
                while k > 0 && w > top[k - 1].0 {
                    top[k] = top[k - 1];
                    k -= 1;
                }
                top[k] = (w, first, last);
            }
        });
        top.into_iter().map(|top| spans(top, n)).collect()
    }
}

/// ...that weighed at least half as much as the strongest, each with up to
/// two words either side in its clause (a word alone says little to a
/// reader), overlapping ones shown once.
fn spans(top: [(f32, usize, usize); MAX_EVIDENCE], n: &Normalized) -> Vec<Span> {
    let strongest = top[0].0;
    let mut out: Vec<Span> = Vec::new();
    for (_, first, last) in top.into_iter().filter(|t| t.0 > 0.0 && t.0 >= strongest / 2.0) {
        let (mut first, mut last) = (first, last);
        for _ in 0..CONTEXT {
            if first > 0 && !n.is_clause[first - 1] {
                first -= 1;
            }
            if last + 1 < n.len() && !n.is_clause[last + 1] {
                last += 1;
            }
        }
        let span = Span {
            start: n.origin[first].start,
            end: n.origin[last].end,
        };
        text::add_merged(&mut out, span);
    }
    out
}

/// How a model is trained.
#[derive(Debug, Clone, Copy)]
pub struct TrainOptions {
    /// L2 penalty on the weights.
    pub l2: f32,
    /// Full-batch gradient steps.
    pub steps: usize,
    /// Folds of the cross-validation that picks each label's threshold.
    pub folds: usize,
    /// A feature is kept when this many messages have it.
    pub min_count: usize,
    /// Weights nearer zero than this are left out of the file (they move a
    /// score by little, and the file stays small).
    pub min_weight: f32,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            l2: 1.0,
            steps: 300,
            folds: 5,
            min_count: 2,
            min_weight: 0.05,
        }
    }
}

/// What cross-validation says of one label at the chosen threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    pub label: Label,
    pub positives: usize,
    pub threshold: f32,
    pub precision: f64,
    pub recall: f64,
}

/// Train a model for `pack` on labelled messages (the text as triage reads
/// it and the expected labels). Each label's threshold is the one that did
/// best on messages held out in cross-validation (recall counts twice for
/// crisis: when uncertain, flag).
pub fn train(
    pack: &Pack,
    examples: &[(String, Vec<Label>)],
    opts: TrainOptions,
) -> Result<(ModelFile, Vec<Fit>), DomainError> {
    if examples.len() < opts.folds.max(2) * 2 {
        return Err(DomainError::invalid(
            "corpus",
            format!("{} messages are too few to train on", examples.len()),
        ));
    }
    // Each message as the set of its features, named.
    let docs: Vec<BTreeSet<String>> = examples
        .iter()
        .map(|(text, _)| {
            let n = pack.normalized(readable(text));
            let mut set = BTreeSet::new();
            features_named(&n, |f| {
                set.insert(f);
            });
            set
        })
        .collect();
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &docs {
        for f in d {
            *count.entry(f.as_str()).or_default() += 1;
        }
    }
    let vocab: Vec<&str> = count
        .iter()
        .filter(|(_, c)| **c >= opts.min_count)
        .map(|(f, _)| *f)
        .collect();
    let index: HashMap<&str, u32> = vocab.iter().enumerate().map(|(i, f)| (*f, i as u32)).collect();
    let x: Vec<Vec<u32>> = docs
        .iter()
        .map(|d| d.iter().filter_map(|f| index.get(f.as_str()).copied()).collect())
        .collect();

    let mut labels = BTreeMap::new();
    let mut fits = Vec::new();
    for l in Label::ALL.into_iter().filter(|l| *l != Label::Other) {
        let y: Vec<bool> = examples.iter().map(|(_, ls)| ls.contains(&l)).collect();
        let positives = y.iter().filter(|y| **y).count();
        if positives < opts.folds {
            continue;
        }
        // Out-of-fold probabilities: each message scored by a model that
        // did not see it.
        let mut oof = vec![0f32; x.len()];
        for k in 0..opts.folds {
            let train_idx: Vec<usize> = (0..x.len()).filter(|i| i % opts.folds != k).collect();
            let (w, b) = fit(&x, &y, &train_idx, vocab.len(), opts);
            for i in (0..x.len()).filter(|i| i % opts.folds == k) {
                oof[i] = predict(&w, b, &x[i]);
            }
        }
        let (threshold, precision, recall) = best_threshold(&oof, &y, beta(l));
        let all: Vec<usize> = (0..x.len()).collect();
        let (w, b) = fit(&x, &y, &all, vocab.len(), opts);
        let weights = vocab
            .iter()
            .zip(&w)
            .filter(|(_, w)| w.abs() >= opts.min_weight)
            .map(|(f, w)| (f.to_string(), round(*w)))
            .collect();
        labels.insert(
            l.key().to_string(),
            LabelModel {
                bias: round(b),
                threshold: round(threshold),
                weights,
            },
        );
        fits.push(Fit {
            label: l,
            positives,
            threshold,
            precision,
            recall,
        });
    }
    let file = ModelFile {
        language: pack.language().to_string(),
        description: Some(format!(
            "Word model trained by `endwell triage train` on {} messages; flags a label beside the phrases of the {} pack",
            examples.len(),
            pack.language()
        )),
        labels,
    };
    Ok((file, fits))
}

/// Choose each label's threshold for the pack and its model together (a
/// label is flagged when the phrases or the model flag it) on labelled
/// messages that neither was built from, and write them into `file`.
/// Training's own thresholds are chosen for the model alone; beside the
/// phrases, a higher one usually loses little recall and much less noise.
pub fn calibrate(
    pack: &Pack,
    file: &mut ModelFile,
    examples: &[(String, Vec<Label>)],
) -> Result<Vec<Fit>, DomainError> {
    let model = pack
        .model()
        .ok_or_else(|| DomainError::TriagePack("calibrating needs a pack with its word model".into()))?;
    let phrases = pack.phrases_only();
    let read: Vec<(Vec<Label>, [f32; N])> = examples
        .iter()
        .map(|(text, _)| {
            let text = readable(text);
            let found = phrases.findings(text).into_iter().map(|f| f.label).collect();
            (found, model.score(&pack.normalized(text)).probability)
        })
        .collect();
    let mut fits = Vec::new();
    for (key, lm) in file.labels.iter_mut() {
        let Some(l) = Label::parse(key) else { continue };
        let y: Vec<bool> = examples.iter().map(|(_, ls)| ls.contains(&l)).collect();
        if !y.contains(&true) {
            // Nothing to choose by: training's threshold stays.
            continue;
        }
        // What the phrases flag is flagged at any threshold.
        let p: Vec<f32> = read
            .iter()
            .map(|(found, p)| {
                if found.contains(&l) {
                    f32::INFINITY
                } else {
                    p[l.index()]
                }
            })
            .collect();
        let (threshold, precision, recall) = best_threshold(&p, &y, beta(l));
        lm.threshold = round(threshold);
        fits.push(Fit {
            label: l,
            positives: y.iter().filter(|y| **y).count(),
            threshold,
            precision,
            recall,
        });
    }
    Ok(fits)
}

/// Recall counts twice for crisis: when uncertain, flag.
fn beta(l: Label) -> f64 {
    if l == Label::Crisis { 2.0 } else { 1.0 }
}

/// Four decimals: the file stays readable and diffs small.
fn round(x: f32) -> f32 {
    (x * 10_000.0).round() / 10_000.0
}

/// Features named as the model file writes them.
fn features_named(n: &Normalized, mut f: impl FnMut(String)) {
    let mut prev: Option<usize> = None;
    for i in 0..n.len() {
        if n.is_clause[i] {
            prev = None;
            continue;
        }
        f(n.word(i).to_string());
        if let Some(j) = prev {
            f(format!("{} {}", n.word(j), n.word(i)));
        }
        prev = Some(i);
    }
}

fn predict(w: &[f32], b: f32, x: &[u32]) -> f32 {
    sigmoid(b + x.iter().map(|j| w[*j as usize]).sum::<f32>())
}

/// Logistic regression with an L2 penalty, by full-batch Adam: the same
/// answer every run, and a few hundred steps are plenty at this size.
fn fit(x: &[Vec<u32>], y: &[bool], rows: &[usize], dim: usize, opts: TrainOptions) -> (Vec<f32>, f32) {
    const LR: f32 = 0.05;
    const B1: f32 = 0.9;
    const B2: f32 = 0.999;
    const EPS: f32 = 1e-8;
    let mut w = vec![0f32; dim + 1]; // the last is the bias
    let mut m = vec![0f32; dim + 1];
    let mut v = vec![0f32; dim + 1];
    let mut g = vec![0f32; dim + 1];
    for step in 1..=opts.steps {
        for (g, w) in g[..dim].iter_mut().zip(&w) {
            *g = opts.l2 * w;
        }
        g[dim] = 0.0;
        for &i in rows {
            let err = predict(&w[..dim], w[dim], &x[i]) - if y[i] { 1.0 } else { 0.0 };
            for j in &x[i] {
                g[*j as usize] += err;
            }
            g[dim] += err;
        }
        let (c1, c2) = (1.0 - B1.powi(step as i32), 1.0 - B2.powi(step as i32));
        for j in 0..=dim {
            m[j] = B1 * m[j] + (1.0 - B1) * g[j];
            v[j] = B2 * v[j] + (1.0 - B2) * g[j] * g[j];
            w[j] -= LR * (m[j] / c1) / ((v[j] / c2).sqrt() + EPS);
        }
    }
    let b = w[dim];
    w.truncate(dim);
    (w, b)
}

/// The threshold with the best F-beta on out-of-fold probabilities, and the
/// precision and recall there.
fn best_threshold(p: &[f32], y: &[bool], beta: f64) -> (f32, f64, f64) {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|a, b| p[*b].total_cmp(&p[*a]));
    let positives = y.iter().filter(|y| **y).count() as f64;
    let (mut tp, mut fp) = (0f64, 0f64);
    let mut best = (0.5f32, -1f64, 0f64, 0f64);
    for (k, &i) in order.iter().enumerate() {
        if y[i] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        // Only between distinct probabilities.
        if order.get(k + 1).is_some_and(|&n| p[n] == p[i]) {
            continue;
        }
        let (precision, recall) = (tp / (tp + fp), tp / positives.max(1.0));
        let b2 = beta * beta;
        let f = if tp == 0.0 {
            0.0
        } else {
            (1.0 + b2) * precision * recall / (b2 * precision + recall)
        };
        if f > best.1 {
            // Halfway down to the next probability, so that the threshold
            // is not tuned to one message.
            let next = order.get(k + 1).map_or(0.0, |&n| p[n]);
            best = (((p[i] + next) / 2.0).clamp(0.02, 0.99), f, precision, recall);
        }
    }
    (best.0, best.2, best.3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack() -> Pack {
        Pack::parse(
            "t.toml",
            "language = \"en\"\n[normalize]\n\"dont\" = \"do not\"\n[[rule]]\nlabel = \"payment\"\nweight = 0.9\nphrases = [\"invoice\"]\n",
        )
        .unwrap()
    }

    #[test]
    fn trains_flags_and_explains() {
        let p = pack();
        let mut examples = Vec::new();
        for i in 0..40 {
            examples.push((format!("I have had enough of it all {i}"), vec![Label::Crisis]));
            examples.push((format!("I have had lunch, it was all fine {i}"), vec![Label::Other]));
            examples.push((format!("can we move thursday to {i} pm"), vec![Label::Scheduling]));
            examples.push((format!("thanks for the chat {i}"), vec![Label::Other]));
        }
        let (file, fits) = train(&p, &examples, TrainOptions::default()).unwrap();
        assert!(fits.iter().any(|f| f.label == Label::Crisis && f.recall == 1.0));
        let json = serde_json::to_string(&file).unwrap();
        let p = p.with_model("t.model.json", &json).unwrap();
        let f = p.findings("honestly i have had enough");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].label, Label::Crisis);
        assert_eq!(f[0].evidence, ["i have had enough"], "with the words around it");
        // Phrases still flag on their own, with their own evidence.
        let f = p.findings("the invoice");
        assert_eq!(
            (f[0].label, f[0].evidence.as_slice()),
            (Label::Payment, &["invoice".to_string()][..])
        );
        assert!(p.findings("see you soon").is_empty());
    }

    #[test]
    fn calibration_chooses_thresholds_for_phrases_and_model_together() {
        let p = pack();
        let mut examples = Vec::new();
        for i in 0..40 {
            examples.push((format!("I have had enough of it all {i}"), vec![Label::Crisis]));
            examples.push((format!("can we move thursday to {i} pm"), vec![Label::Scheduling]));
            examples.push((format!("thanks for the chat {i}"), vec![Label::Other]));
        }
        let (mut file, _) = train(&p, &examples, TrainOptions::default()).unwrap();
        let scheduling = file.labels["scheduling"].threshold;
        // Held-out messages with crises and without any scheduling.
        let held: Vec<(String, Vec<Label>)> = (0..10)
            .flat_map(|i| {
                [
                    (format!("had enough {i}"), vec![Label::Crisis]),
                    (format!("thanks {i}"), vec![Label::Other]),
                ]
            })
            .collect();
        let with = p
            .phrases_only()
            .with_model("m.json", &serde_json::to_string(&file).unwrap())
            .unwrap();
        let fits = calibrate(&with, &mut file, &held).unwrap();
        let crisis = fits.iter().find(|f| f.label == Label::Crisis).unwrap();
        assert_eq!((crisis.positives, crisis.recall), (10, 1.0));
        assert_eq!(file.labels["crisis"].threshold, round(crisis.threshold));
        assert!(
            !fits.iter().any(|f| f.label == Label::Scheduling),
            "no scheduling to choose by"
        );
        assert_eq!(file.labels["scheduling"].threshold, scheduling);
        // Calibrating needs the model beside the pack.
        assert!(calibrate(&p, &mut file, &held).is_err());
    }

    #[test]
    fn errors_say_what_to_change() {
        let p = pack();
        let err = |j: &str| WordModel::parse("m.json", j, &p).unwrap_err().to_string();
        let model = |label: &str, t: f32, feature: &str| {
            format!(
                r#"{{"language":"en","labels":{{"{label}":{{"bias":0,"threshold":{t},"weights":{{"{feature}":1}}}}}}}}"#
            )
        };
        assert!(err(&model("crises", 0.5, "x")).contains("\"crises\" is not a label"));
        assert!(err(&model("other", 0.5, "x")).contains("\"other\" is not a label"));
        assert!(err(&model("crisis", 1.5, "x")).contains("threshold must be above 0"));
        assert!(err(&model("crisis", 0.5, "Dont")).contains("is read as \"do not\""));
        assert!(err(&model("crisis", 0.5, "a b c")).contains("one word or two"));
        assert!(err(&model("crisis", 0.5, "a. b")).contains("one word or two"));
        assert!(err(r#"{"language":"fr","labels":{}}"#).contains("pack is \"en\""));
        assert!(err("{").contains("m.json"));
        // A pair is read as the pack normalises: "dont" is "do not".
        let json = model("crisis", 0.5, "do not").replace("\"bias\":0", "\"bias\":-0.5");
        let p = p.with_model("m.json", &json).unwrap();
        assert_eq!(p.findings("I DONT")[0].evidence, ["I DONT"]);
        assert!(p.findings("do it, not now").is_empty(), "a pair is within a clause");
    }
}
