//! Triage throughput on the repo's corpus (every split, about 2,900
//! messages), beside a bare Aho–Corasick scan of the same bytes with the
//! same number of phrases, in the same run. Target (issue 4): triage at
//! least 25 % of the bare scan's MB/s.
//!
//! `cargo bench -p endwell-core --bench triage`

use std::time::{Duration, Instant};

use aho_corasick::{AhoCorasick, MatchKind};
use criterion::{Criterion, Throughput, black_box, criterion_group};
use endwell_core::triage::eval::parse_corpus;
use endwell_core::triage::{Classifier, PackClassifier};

fn corpus() -> Vec<String> {
    let dir = format!("{}/../../corpus/triage", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut texts = Vec::new();
    for path in files {
        let path = path.display().to_string();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        texts.extend(
            parse_corpus(&text)
                .unwrap_or_else(|e| panic!("{path}: {e}"))
                .iter()
                .map(|e| e.text()),
        );
    }
    texts
}

/// The bare scan: the pack's own phrases, the same matcher settings.
fn bare(classifier: &PackClassifier) -> AhoCorasick {
    let phrases: Vec<&String> = classifier.packs().iter().flat_map(|p| p.matched_texts()).collect();
    AhoCorasick::builder()
        .match_kind(MatchKind::Standard)
        .build(phrases)
        .expect("phrases compile")
}

fn triage_all(c: &PackClassifier, texts: &[String]) -> usize {
    texts.iter().map(|t| c.classify(black_box(t)).len()).sum()
}

fn scan_all(ac: &AhoCorasick, texts: &[String]) -> usize {
    texts
        .iter()
        .map(|t| ac.find_overlapping_iter(black_box(t.as_str())).count())
        .sum()
}

fn bench(c: &mut Criterion) {
    let texts = corpus();
    let bytes: usize = texts.iter().map(String::len).sum();
    let classifier = PackClassifier::english();
    let ac = bare(&classifier);
    let mut g = c.benchmark_group("triage");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("classify corpus", |b| b.iter(|| triage_all(&classifier, &texts)));
    let phrases = classifier.phrases_only();
    g.bench_function("phrases only", |b| b.iter(|| triage_all(&phrases, &texts)));
    g.bench_function("bare aho-corasick scan", |b| b.iter(|| scan_all(&ac, &texts)));
    g.finish();
}

/// The ratio, measured in one run by alternating the two for a few seconds.
fn ratio() {
    let texts = corpus();
    let bytes: usize = texts.iter().map(String::len).sum();
    let classifier = PackClassifier::english();
    let phrases = classifier.phrases_only();
    let ac = bare(&classifier);
    let (mut t_triage, mut t_phrases, mut t_bare, mut rounds) = (Duration::ZERO, Duration::ZERO, Duration::ZERO, 0u32);
    let until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < until || rounds < 10 {
        let s = Instant::now();
        black_box(triage_all(&classifier, &texts));
        t_triage += s.elapsed();
        let s = Instant::now();
        black_box(triage_all(&phrases, &texts));
        t_phrases += s.elapsed();
        let s = Instant::now();
        black_box(scan_all(&ac, &texts));
        t_bare += s.elapsed();
        rounds += 1;
    }
    let mb = |t: Duration| bytes as f64 * f64::from(rounds) / t.as_secs_f64() / 1e6;
    let msgs = texts.len() as f64 * f64::from(rounds) / t_triage.as_secs_f64();
    println!(
        "\ntriage: {} messages, {} bytes, {} phrases; {rounds} rounds\n  triage {:.1} MB/s, {:.0} messages/s\n  phrases alone (no word model) {:.1} MB/s\n  bare scan {:.1} MB/s\n  ratio triage/bare {:.3} (target >= 0.25: {})",
        texts.len(),
        bytes,
        classifier.packs().iter().map(|p| p.phrase_count()).sum::<usize>(),
        mb(t_triage),
        msgs,
        mb(t_phrases),
        mb(t_bare),
        mb(t_triage) / mb(t_bare),
        if mb(t_triage) / mb(t_bare) >= 0.25 {
            "PASS"
        } else {
            "FAIL"
        }
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // Not under `cargo test --all-targets`, which runs benches once as tests.
    // Nor when profiling one benchmark (`--profile-time`).
    if std::env::args().any(|a| a == "--bench") && !std::env::args().any(|a| a == "--profile-time") {
        ratio();
    }
}
