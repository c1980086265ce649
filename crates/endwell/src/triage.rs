//! `endwell triage`: a message's labels with evidence, a pack's check, and
//! the evaluation against a labelled corpus.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use endwell_core::DomainError;
use endwell_core::message::Message;
use endwell_core::triage::eval::{evaluate, parse_corpus};
use endwell_core::triage::model::{Fit, TrainOptions, calibrate, train as train_model};
use endwell_core::triage::pack::Pack;
use endwell_core::triage::{Classifier, Label, PackClassifier, is_crisis};
use serde_json::json;

/// The packs in `dir` (every `*.toml`, in name order, each with its word
/// model `*.model.json` when there is one), or the built-in English pack
/// when no folder is configured.
pub fn load_classifier(dir: Option<&Path>) -> anyhow::Result<Arc<PackClassifier>> {
    let Some(dir) = dir else {
        return Ok(PackClassifier::english());
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the triage packs folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(DomainError::TriagePack(format!(
            "{}: no *.toml packs in this folder; copy packs/triage/en.toml there to start from Endwell's",
            dir.display()
        ))
        .into());
    }
    let mut packs = Vec::new();
    for f in &files {
        packs.push(read_pack(f)?);
    }
    Ok(Arc::new(PackClassifier::new(packs)?))
}

fn read_pack(file: &Path) -> anyhow::Result<Pack> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let pack = Pack::parse(&file.display().to_string(), &text)?;
    let model = model_file(file);
    if !model.exists() {
        return Ok(pack);
    }
    let text = std::fs::read_to_string(&model).with_context(|| format!("cannot read {}", model.display()))?;
    Ok(pack.with_model(&model.display().to_string(), &text)?)
}

/// A pack's word model: `en.toml` → `en.model.json` beside it.
fn model_file(pack: &Path) -> PathBuf {
    pack.with_extension("model.json")
}

/// Triage the message on standard input.
pub fn triage(classifier: &PackClassifier, json_out: bool) -> anyhow::Result<()> {
    let mut raw = Vec::new();
    std::io::stdin()
        .read_to_end(&mut raw)
        .context("cannot read the message from standard input")?;
    let message = Message::parse(&raw);
    let findings = classifier.classify_message(&message);
    if json_out {
        let labels: Vec<_> = findings
            .iter()
            .map(|f| json!({"label": f.label.key(), "score": f.score, "evidence": f.evidence}))
            .collect();
        println!("{}", json!({"labels": labels, "crisis": is_crisis(&findings)}));
    } else {
        for f in &findings {
            if f.evidence.is_empty() {
                println!("{} ({:.2})", f.label, f.score);
            } else {
                println!("{} ({:.2}): {}", f.label, f.score, f.evidence.join(" · "));
            }
        }
    }
    Ok(())
}

/// Check one pack file and say what it holds.
pub fn check(file: &Path) -> anyhow::Result<()> {
    let pack = read_pack(file)?;
    println!(
        "{}: valid; language {}, {} phrases{}",
        file.display(),
        pack.language(),
        pack.phrase_count(),
        pack.description().map(|d| format!(" ({d})")).unwrap_or_default()
    );
    if let Some(m) = pack.model() {
        println!(
            "{}: valid; {} features, flags {}",
            model_file(file).display(),
            m.feature_count(),
            m.labels().map(Label::key).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}

/// Train a word model for the pack of `language` on labelled corpora and
/// write it to `out`; prints what cross-validation says of each label.
pub fn train(
    classifier: &PackClassifier,
    files: &[PathBuf],
    calibration: &[PathBuf],
    out: &Path,
    language: &str,
    opts: TrainOptions,
) -> anyhow::Result<()> {
    let pack = classifier
        .packs()
        .iter()
        .find(|p| p.language() == language)
        .ok_or_else(|| DomainError::TriagePack(format!("no pack for language {language:?} is loaded")))?;
    let examples = labelled(files)?;
    let (mut model, fits) = train_model(pack, &examples, opts)?;
    println!(
        "{} messages; cross-validated ({} folds), word model alone:",
        examples.len(),
        opts.folds
    );
    print_fits(&fits);
    let name = out.display().to_string();
    if !calibration.is_empty() {
        let held = labelled(calibration)?;
        let with = pack.phrases_only().with_model(&name, &serde_json::to_string(&model)?)?;
        let fits = calibrate(&with, &mut model, &held)?;
        println!(
            "{} messages held out for calibration; phrases and word model together:",
            held.len()
        );
        print_fits(&fits);
    }
    let text = serde_json::to_string_pretty(&model)? + "\n";
    // Checked as it will be read, before it is written.
    pack.phrases_only().with_model(&name, &text)?;
    std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!("Wrote {}.", out.display());
    Ok(())
}

/// The messages of labelled corpora as triage reads them, with their labels.
fn labelled(files: &[PathBuf]) -> anyhow::Result<Vec<(String, Vec<Label>)>> {
    let mut examples = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
        let corpus = parse_corpus(&text).with_context(|| format!("{} is not a valid corpus", file.display()))?;
        for e in corpus {
            // parse_corpus checked the labels.
            let expected = e.expected().unwrap_or_default();
            examples.push((e.text(), expected));
        }
    }
    Ok(examples)
}

fn print_fits(fits: &[Fit]) {
    println!(
        "{:<20} {:>9} {:>9} {:>9} {:>9}",
        "label", "messages", "threshold", "precision", "recall"
    );
    for f in fits {
        println!(
            "{:<20} {:>9} {:>9.2} {:>9.3} {:>9.3}",
            f.label.key(),
            f.positives,
            f.threshold,
            f.precision,
            f.recall
        );
    }
}

/// Evaluate against a corpus; fails (exit 1) when crisis recall is below
/// `min_crisis_recall`.
pub fn eval(
    classifier: &PackClassifier,
    file: &Path,
    min_crisis_recall: Option<f64>,
    json_out: bool,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let corpus = parse_corpus(&text).with_context(|| format!("{} is not a valid corpus", file.display()))?;
    let report = evaluate(classifier, &corpus);
    let crisis = report.counts(Label::Crisis);
    if json_out {
        let labels: serde_json::Map<String, serde_json::Value> = Label::ALL
            .iter()
            .map(|l| {
                let c = report.counts(*l);
                (
                    l.key().to_string(),
                    json!({"precision": c.precision(), "recall": c.recall(), "f1": c.f1(),
                           "true_positive": c.true_positive, "false_positive": c.false_positive, "false_negative": c.false_negative}),
                )
            })
            .collect();
        println!(
            "{}",
            json!({"examples": report.examples, "exact": report.exact, "labels": labels,
                   "micro_f1_others": report.micro_f1_others(), "confusion": report.confusion, "misses": report.misses})
        );
    } else {
        println!("{}: {}", file.display(), corpus.len());
        print!("{}", report.table());
    }
    if let Some(min) = min_crisis_recall
        && crisis.recall() < min
    {
        anyhow::bail!(
            "crisis recall {:.3} is below the minimum {min:.3}: {} crisis messages were missed",
            crisis.recall(),
            crisis.false_negative
        );
    }
    Ok(())
}
