//! `endwell`: the command line, configuration and wiring of the web app.

mod bench_bare;
mod bench_seed;
mod config;
mod demo;
mod offline;
mod triage;

use std::io::{IsTerminal, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use endwell_core::model::{NewUser, Role};
use endwell_core::triage::model::TrainOptions;
use endwell_store::{Export, Store, StoreError};
use endwell_web::{AppState, WebConfig};

#[derive(Parser, Debug)]
#[command(name = "endwell", version, about = "Professional boundaries that hold, and endings that are planned.", long_about = None)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct Global {
    /// A SQLite file (created on first start) or a postgres:// URL [default: endwell.db]
    #[arg(long, global = true, env = "ENDWELL_DATABASE")]
    database: Option<String>,
    /// A config file [default: endwell.toml when present]
    #[arg(long, global = true, env = "ENDWELL_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the web UI and API.
    Serve {
        /// Address and port to listen on [default: 127.0.0.1:8080]
        #[arg(long, env = "ENDWELL_LISTEN")]
        listen: Option<String>,
    },
    /// Start with sample data in a fresh SQLite file (endwell-demo.db, replaced on each run).
    Demo {
        /// Address and port to listen on
        #[arg(long, env = "ENDWELL_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// Create or update the database schema, then exit.
    Migrate,
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Write everything (users, clients, engagements, agreements, history) as JSON.
    Export {
        /// JSON output (the only format for now).
        #[arg(long)]
        json: bool,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Load an export into an empty database.
    Import {
        /// JSON input (the only format for now).
        #[arg(long)]
        json: bool,
        /// The export file, or - for standard input.
        file: PathBuf,
    },
    /// Check the history's hash chain from the first event to the last.
    Verify,
    /// Print an annotated example config file.
    Config,
    /// Is the practitioner open at a time, and when does that change?
    Availability {
        /// A terms file (TOML, as an agreement holds).
        #[arg(long)]
        terms: PathBuf,
        /// RFC 3339 time [default: now]
        #[arg(long)]
        at: Option<String>,
        /// Print {"open", "next_open", "next_close"}.
        #[arg(long)]
        json: bool,
    },
    /// Calendars: import closures from an iCalendar file.
    #[command(subcommand)]
    Calendar(CalendarCommand),
    /// Decide what happens to a message (RFC 5322 or plain text on standard input).
    Decide {
        /// A terms file (TOML, as an agreement holds).
        #[arg(long)]
        terms: PathBuf,
        /// When the message arrived, RFC 3339 [default: now]
        #[arg(long)]
        at: Option<String>,
        /// email, sms, voice or portal
        #[arg(long, default_value = "email")]
        channel: String,
        /// The engagement's state: proposed, active, ending, ended or transferred
        #[arg(long, default_value = "active")]
        state: String,
        /// When this sender was last sent an automatic reply (RFC 3339).
        #[arg(long)]
        last_reply: Option<String>,
        /// The sender of a plain-text message (an SMS number, a portal account).
        #[arg(long)]
        from: Option<String>,
        /// Print {"action", "release_at", "labels", "reasons", "reply"}.
        #[arg(long)]
        json: bool,
    },
    /// Triage a message (RFC 5322 or plain text on standard input): its labels, scores and evidence.
    #[command(args_conflicts_with_subcommands = true)]
    Triage {
        #[command(subcommand)]
        command: Option<TriageCommand>,
        /// Print {"labels": [{"label", "score", "evidence"}], "crisis"}.
        #[arg(long)]
        json: bool,
        /// A folder of triage packs (*.toml) to use instead of the built-in English pack
        /// [default: ENDWELL_TRIAGE_PACKS, else the config file's triage_packs].
        #[arg(long, global = true)]
        packs: Option<PathBuf>,
    },
    /// Fill a database with many engagements and events (for benchmarks).
    #[command(hide = true)]
    BenchSeed {
        #[arg(long)]
        engagements: usize,
        #[arg(long)]
        events: usize,
    },
    /// Serve a bare axum endpoint at the decide endpoint's path (the baseline of bench/decide_http.py).
    #[command(hide = true)]
    BenchBare {
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: String,
    },
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Create an account. The password comes from ENDWELL_PASSWORD or one line
    /// of standard input; without either, a strong one is made and printed once.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// practitioner, supervisor or admin
        #[arg(long, default_value = "practitioner")]
        role: String,
        /// e.g. "Counsellor (BACP)"
        #[arg(long, default_value = "")]
        profession: String,
        /// IANA time zone, e.g. Europe/London
        #[arg(long, default_value = "UTC")]
        timezone: String,
        /// The email of this user's supervisor.
        #[arg(long)]
        supervisor: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List accounts.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Set a new password (from ENDWELL_PASSWORD or standard input, or made and printed).
    Password {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand, Debug)]
enum TriageCommand {
    /// Measure triage on a labelled corpus (JSONL; see corpus/triage/README.md):
    /// per-label precision, recall and F1, and what was confused.
    Eval {
        file: PathBuf,
        /// Fail (exit 1) when crisis recall is below this, e.g. 0.98.
        #[arg(long)]
        min_crisis_recall: Option<f64>,
        #[arg(long)]
        json: bool,
        /// Leave the word models out: what the phrases find alone.
        #[arg(long)]
        phrases_only: bool,
    },
    /// Check a triage pack file (and its word model beside it, X.model.json) and say what it holds.
    Check { file: PathBuf },
    /// Train the word model that flags beside a pack's phrases, on labelled corpora (JSONL),
    /// and write it as a model file (put it beside the pack as X.model.json).
    Train {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Where to write the model, e.g. packs/triage/en.model.json.
        #[arg(long)]
        out: PathBuf,
        /// Which pack's words to train on.
        #[arg(long, default_value = "en")]
        language: String,
        /// The L2 penalty on the weights (larger: smoother, fewer surprises from rare words).
        #[arg(long, default_value_t = TrainOptions::default().l2)]
        l2: f32,
        /// Keep a word or word pair when at least this many messages have it.
        #[arg(long, default_value_t = TrainOptions::default().min_count)]
        min_count: usize,
        /// Leave out weights nearer zero than this (a smaller file, faster triage).
        #[arg(long, default_value_t = TrainOptions::default().min_weight)]
        min_weight: f32,
        /// Labelled corpora (JSONL) that neither the pack nor the training saw, to choose each
        /// label's threshold for phrases and model together.
        #[arg(long, num_args = 1..)]
        calibrate: Vec<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum CalendarCommand {
    /// Read events from an .ics file as closed spells and print them as terms'
    /// [[exceptions]] (with --terms: the whole terms with them added).
    Import {
        /// The iCalendar file (an export from Google, Apple, Outlook or Thunderbird).
        file: PathBuf,
        /// A terms file to add the closures to (its time zone is used).
        #[arg(long)]
        terms: Option<PathBuf>,
        /// The practitioner's IANA time zone, when no --terms is given.
        #[arg(long)]
        zone: Option<String>,
        /// First day to import [default: today]
        #[arg(long)]
        from: Option<String>,
        /// Last day to import [default: a year from today]
        #[arg(long)]
        until: Option<String>,
        /// Keep the file in the database as this practitioner's calendar
        /// (its busy events then close their office hours in every engagement).
        #[arg(long, conflicts_with_all = ["terms", "zone", "from", "until"])]
        email: Option<String>,
        /// The calendar's name, with --email.
        #[arg(long, default_value = "Leave and holidays", requires = "email")]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Create an API token for a user and print it (it is shown only once).
    Create {
        #[arg(long)]
        email: String,
        /// What the token is for.
        #[arg(long, default_value = "API token")]
        label: String,
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let file = match config::FileConfig::load(cli.global.config.as_deref()) {
        Ok(f) => f,
        Err(e) => return fail(&e),
    };
    init_logging(&file);
    warn_unknown_env();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(&e.into()),
    };
    match runtime.block_on(run(cli, file)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn init_logging(file: &config::FileConfig) {
    let filter = std::env::var("ENDWELL_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .or_else(|| file.log.clone())
        .unwrap_or_else(|| "info,sqlx=warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
}

/// The environment variables Endwell reads.
const KNOWN_ENV: &[&str] = &[
    "ENDWELL_DATABASE",
    "ENDWELL_CONFIG",
    "ENDWELL_LISTEN",
    "ENDWELL_DATA_KEY",
    "ENDWELL_SECURE_COOKIES",
    "ENDWELL_LOG",
    "ENDWELL_PASSWORD",
    "ENDWELL_TEST_POSTGRES",
    "ENDWELL_SCHEDULER_SECONDS",
    "ENDWELL_PUBLIC_URL",
    "ENDWELL_CALENDAR_REFRESH_MINUTES",
    "ENDWELL_TRIAGE_PACKS",
];

/// A misspelt variable would otherwise be ignored in silence.
fn warn_unknown_env() {
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if name.starts_with("ENDWELL_") && !KNOWN_ENV.contains(&name) {
            tracing::warn!(
                "unknown environment variable {name} is ignored; known: {}",
                KNOWN_ENV.join(", ")
            );
        }
    }
}

/// One mapping from errors to exit codes: 2 invalid input, 3 not found,
/// 4 conflict, 1 anything else.
fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if let Some(s) = cause.downcast_ref::<StoreError>() {
            return match s {
                StoreError::Domain(_) => 2,
                StoreError::NotFound => 3,
                StoreError::Conflict(_) | StoreError::Forbidden => 4,
                _ => 1,
            };
        }
        if cause.downcast_ref::<endwell_core::DomainError>().is_some() {
            return 2;
        }
        if cause.downcast_ref::<serde_json::Error>().is_some() {
            return 2;
        }
    }
    1
}

fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("endwell: {e:#}");
    ExitCode::from(exit_code(e))
}

struct Settings {
    database: String,
    file: config::FileConfig,
}

impl Settings {
    fn new(global: &Global, file: config::FileConfig) -> Settings {
        let database = global
            .database
            .clone()
            .or_else(|| file.database.clone())
            .unwrap_or_else(|| "endwell.db".into());
        Settings { database, file }
    }

    async fn store(&self) -> anyhow::Result<Store> {
        let key = config::data_key(&self.database, self.file.data_key_file.as_deref())?;
        Store::open(&self.database, key)
            .await
            .with_context(|| format!("cannot open the database {}", redact(&self.database)))
    }

    /// The triage packs folder: ENDWELL_TRIAGE_PACKS, else the config file's.
    fn triage_packs(&self) -> Option<PathBuf> {
        std::env::var_os("ENDWELL_TRIAGE_PACKS")
            .map(PathBuf::from)
            .or_else(|| self.file.triage_packs.clone())
    }

    fn web(&self) -> WebConfig {
        let secure = std::env::var("ENDWELL_SECURE_COOKIES")
            .ok()
            .map(|v| v == "true" || v == "1");
        WebConfig {
            secure_cookies: secure.or(self.file.secure_cookies).unwrap_or(false),
            session_hours: self.file.session_hours.unwrap_or(12).clamp(1, 24 * 30),
            public_url: std::env::var("ENDWELL_PUBLIC_URL")
                .ok()
                .or_else(|| self.file.public_url.clone())
                .map(|u| u.trim().trim_end_matches('/').to_string())
                .filter(|u| !u.is_empty()),
            calendar_refresh: std::time::Duration::from_secs(
                60 * std::env::var("ENDWELL_CALENDAR_REFRESH_MINUTES")
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
                    .or(self.file.calendar_refresh_minutes)
                    .unwrap_or(60)
                    .max(5),
            ),
        }
    }
}

/// A database URL without its password, for messages and logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

async fn run(cli: Cli, file: config::FileConfig) -> anyhow::Result<()> {
    let settings = Settings::new(&cli.global, file);
    match cli.command {
        Command::Calendar(CalendarCommand::Import {
            file,
            email: Some(email),
            name,
            ..
        }) => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read the calendar {}", file.display()))?;
            let store = settings.store().await?;
            let user = account(&store, &email).await?;
            let zone = user.zone();
            let read = endwell_web::calendars::read(text, &zone, jiff::Timestamp::now())?;
            for note in &read.notes {
                eprintln!("note: {note}");
            }
            let cal = store
                .add_calendar(endwell_core::access::Viewer::of(&user), &name, None, read)
                .await?;
            println!(
                "Kept {:?} for {}: {} closures in the coming year ({}).",
                cal.name,
                user.email,
                cal.closures.exceptions.len(),
                zone.name()
            );
            Ok(())
        }
        Command::Calendar(CalendarCommand::Import {
            file,
            terms,
            zone,
            from,
            until,
            ..
        }) => offline::calendar_import(offline::CalendarImportArgs {
            file: &file,
            terms: terms.as_deref(),
            zone: zone.as_deref(),
            from: from.as_deref(),
            until: until.as_deref(),
        }),
        Command::Triage { command, json, packs } => {
            let packs = packs.or_else(|| settings.triage_packs());
            match command {
                Some(TriageCommand::Check { file }) => triage::check(&file),
                Some(TriageCommand::Eval {
                    file,
                    min_crisis_recall,
                    json,
                    phrases_only,
                }) => {
                    let classifier = triage::load_classifier(packs.as_deref())?;
                    let classifier = if phrases_only {
                        std::sync::Arc::new(classifier.phrases_only())
                    } else {
                        classifier
                    };
                    triage::eval(&classifier, &file, min_crisis_recall, json)
                }
                Some(TriageCommand::Train {
                    files,
                    out,
                    language,
                    l2,
                    min_count,
                    min_weight,
                    calibrate,
                }) => triage::train(
                    &*triage::load_classifier(packs.as_deref())?,
                    &files,
                    &calibrate,
                    &out,
                    &language,
                    TrainOptions {
                        l2,
                        min_count,
                        min_weight,
                        ..TrainOptions::default()
                    },
                ),
                None => triage::triage(&*triage::load_classifier(packs.as_deref())?, json),
            }
        }
        Command::Availability { terms, at, json } => offline::availability(&terms, at.as_deref(), json),
        Command::Decide {
            terms,
            at,
            channel,
            state,
            last_reply,
            from,
            json,
        } => offline::decide(offline::DecideArgs {
            terms: &terms,
            at: at.as_deref(),
            channel: &channel,
            state: &state,
            last_reply: last_reply.as_deref(),
            from: from.as_deref(),
            json,
            classifier: &*triage::load_classifier(settings.triage_packs().as_deref())?,
        }),
        Command::Serve { listen } => {
            let listen = listen
                .or_else(|| settings.file.listen.clone())
                .unwrap_or_else(|| "127.0.0.1:8080".into());
            let store = settings.store().await?;
            let classifier = triage::load_classifier(settings.triage_packs().as_deref())?;
            serve(store, settings.web(), classifier, &listen, None).await
        }
        Command::Demo { listen } => demo(cli.global.database.as_deref(), settings, &listen).await,
        Command::Migrate => {
            let store = settings.store().await?;
            store.close().await;
            eprintln!("The database {} is up to date.", redact(&settings.database));
            Ok(())
        }
        Command::User(cmd) => user_command(&settings, cmd).await,
        Command::Token(TokenCommand::Create { email, label, json }) => {
            let store = settings.store().await?;
            let user = account(&store, &email).await?;
            let token = endwell_web::auth::new_token();
            store
                .create_api_token(user.id, &endwell_web::auth::token_hash(&token), &label)
                .await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"token": token, "user": user.email, "label": label})
                );
            } else {
                println!("{token}");
                eprintln!(
                    "API token for {} ({label}). It is shown only this once; send it as `Authorization: Bearer <token>`.",
                    user.email
                );
            }
            Ok(())
        }
        Command::Export { json, output } => {
            require_json(json)?;
            let store = settings.store().await?;
            let data = store.export().await?;
            let text = serde_json::to_string_pretty(&data)?;
            match output {
                Some(path) => {
                    std::fs::write(&path, text + "\n").with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!(
                        "Exported {} users, {} clients, {} engagements, {} agreement versions and {} events to {}. It holds client data unencrypted: keep it safe.",
                        data.users.len(),
                        data.clients.len(),
                        data.engagements.len(),
                        data.agreements.len(),
                        data.events.len(),
                        path.display()
                    );
                }
                None => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(text.as_bytes())?;
                    out.write_all(b"\n")?;
                }
            }
            Ok(())
        }
        Command::Import { json, file } => {
            require_json(json)?;
            let text = if file.as_os_str() == "-" {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s)?;
                s
            } else {
                std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?
            };
            let data: Export = serde_json::from_str(&text).context("the file is not an Endwell JSON export")?;
            let store = settings.store().await?;
            eprintln!("Importing {} events…", data.events.len());
            let counts = store.import(&data).await?;
            println!("{}", serde_json::to_string(&counts)?);
            Ok(())
        }
        Command::Verify => {
            let store = settings.store().await?;
            let n = store.verify_events().await?;
            println!("The history is intact: {n} events, each sealed to the one before.");
            Ok(())
        }
        Command::Config => {
            print!("{}", config::EXAMPLE);
            Ok(())
        }
        Command::BenchBare { listen } => bench_bare::serve(&listen).await,
        Command::BenchSeed { engagements, events } => {
            let store = settings.store().await?;
            let data = bench_seed::data(engagements, events, &endwell_web::auth::hash_password("endwell-bench")?)?;
            store.import(&data).await?;
            eprintln!(
                "Seeded {engagements} engagements and {} events; log in as bench@clinic.example / endwell-bench",
                data.events.len()
            );
            Ok(())
        }
    }
}

fn require_json(json: bool) -> anyhow::Result<()> {
    if !json {
        bail!("say --json: JSON is the export format");
    }
    Ok(())
}

/// A password from ENDWELL_PASSWORD or piped standard input; else a new one, printed.
fn password_input() -> anyhow::Result<(String, bool)> {
    if let Ok(p) = std::env::var("ENDWELL_PASSWORD") {
        return Ok((p, false));
    }
    if !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        let p = line.trim_end_matches(['\r', '\n']).to_string();
        if !p.is_empty() {
            return Ok((p, false));
        }
    }
    Ok((endwell_web::auth::new_token()[..20].to_string(), true))
}

async fn user_command(settings: &Settings, cmd: UserCommand) -> anyhow::Result<()> {
    let store = settings.store().await?;
    match cmd {
        UserCommand::Add {
            email,
            name,
            role,
            profession,
            timezone,
            supervisor,
            json,
        } => {
            let role: Role = role.parse()?;
            let supervisor_id = match supervisor {
                Some(s) => Some(
                    store
                        .user_for_login(&s)
                        .await?
                        .ok_or(StoreError::NotFound)
                        .with_context(|| format!("no account for the supervisor {s}"))?
                        .0
                        .id,
                ),
                None => None,
            };
            let (password, generated) = password_input()?;
            endwell_web::auth::check_new_password(&password)?;
            let hash = endwell_web::auth::hash_password(&password)?;
            let user = store
                .create_user(
                    NewUser {
                        email,
                        display_name: name,
                        role,
                        profession,
                        timezone,
                        supervisor_id,
                    },
                    Some(hash),
                )
                .await?;
            if json {
                let mut v = serde_json::json!({"id": user.id, "email": user.email, "role": user.role});
                if generated {
                    v["password"] = password.into();
                }
                println!("{v}");
            } else {
                println!("Created {} ({}) as {}.", user.display_name, user.email, user.role);
                if generated {
                    println!(
                        "Password: {password}\n(shown only now; change it with `endwell user password --email {}`)",
                        user.email
                    );
                }
            }
        }
        UserCommand::List { json } => {
            let users = store.users().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                for u in users {
                    println!(
                        "{:<32} {:<13} {:<24} {}",
                        u.email,
                        u.role.as_str(),
                        u.timezone,
                        u.display_name
                    );
                }
            }
        }
        UserCommand::Password { email } => {
            let user = account(&store, &email).await?;
            let (password, generated) = password_input()?;
            endwell_web::auth::check_new_password(&password)?;
            store
                .set_password(user.id, &endwell_web::auth::hash_password(&password)?)
                .await?;
            println!("Password changed for {}; their sessions have ended.", user.email);
            if generated {
                println!("Password: {password}");
            }
        }
    }
    store.close().await;
    Ok(())
}

/// Bind and serve until Ctrl-C or SIGTERM. `ready` is told the bound address.
async fn serve(
    store: Store,
    web: WebConfig,
    classifier: std::sync::Arc<endwell_core::triage::PackClassifier>,
    listen: &str,
    banner: Option<String>,
) -> anyhow::Result<()> {
    let addr: SocketAddr = listen
        .parse()
        .with_context(|| format!("--listen {listen:?} is not an address like 127.0.0.1:8080"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (is another program using it?)"))?;
    let bound = listener.local_addr()?;
    let calendar_refresh = web.calendar_refresh;
    let mut state = AppState::new(store.clone(), web);
    state.classifier = classifier;
    tracing::info!(%bound, backend = ?store.backend(), "Endwell is listening");
    if let Some(b) = banner {
        println!("{b}");
    }
    println!("Endwell is running at http://{bound}/  (Ctrl-C stops it)");
    let _ = std::io::stdout().flush();
    // Held contacts are released by a durable job queue; every instance runs
    // the scheduler, and the database makes sure each release happens once.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let scheduler = tokio::spawn(endwell_store::contacts::run_scheduler(
        store.clone(),
        std::time::Duration::from_secs(scheduler_seconds()),
        async {
            let _ = stop_rx.await;
        },
    ));
    // Subscribed calendars are read again as they fall due, on any instance.
    let (cal_tx, cal_rx) = tokio::sync::oneshot::channel::<()>();
    let refresher = tokio::spawn(endwell_web::calendars::run_refresher(
        store.clone(),
        calendar_refresh,
        async {
            let _ = cal_rx.await;
        },
    ));
    endwell_web::serve(listener, state, shutdown_signal()).await?;
    let _ = stop_tx.send(());
    let _ = cal_tx.send(());
    let _ = scheduler.await;
    let _ = refresher.await;
    store.close().await;
    Ok(())
}

/// The account with this email, or "no account" (exit code 3).
async fn account(store: &Store, email: &str) -> anyhow::Result<endwell_core::model::User> {
    let (user, _) = store
        .user_for_login(email)
        .await?
        .ok_or(StoreError::NotFound)
        .with_context(|| format!("no account for {email}"))?;
    Ok(user)
}

/// How often the scheduler looks for due jobs (`ENDWELL_SCHEDULER_SECONDS`, default 15).
fn scheduler_seconds() -> u64 {
    std::env::var("ENDWELL_SCHEDULER_SECONDS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(15)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

const DEMO_PASSWORD: &str = "endwell-demo";

async fn demo(explicit_db: Option<&str>, settings: Settings, listen: &str) -> anyhow::Result<()> {
    let database = match explicit_db {
        Some(d) => d.to_string(),
        None => {
            let db = "endwell-demo.db";
            for f in [
                db.to_string(),
                format!("{db}-wal"),
                format!("{db}-shm"),
                format!("{db}.key"),
            ] {
                match std::fs::remove_file(&f) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e).with_context(|| format!("cannot replace {f}")),
                }
            }
            db.to_string()
        }
    };
    let settings = Settings { database, ..settings };
    let store = settings.store().await?;
    let hash = endwell_web::auth::hash_password(DEMO_PASSWORD)?;
    let logins = demo::seed(&store, &hash).await.context("seeding the demo data")?;
    let main = logins.first().context("the demo has no users")?;
    let (user, _) = store.user_for_login(&main.email).await?.ok_or(StoreError::NotFound)?;
    let token = endwell_web::auth::new_token();
    store
        .create_api_token(user.id, &endwell_web::auth::token_hash(&token), "demo")
        .await?;
    let mut banner = format!(
        "\nEndwell demo with sample data in {}.\n\n  Log in as   {}\n  Password   {DEMO_PASSWORD}\n\n  Other logins (same password):\n",
        settings.database, main.email
    );
    for l in logins.iter().skip(1) {
        banner.push_str(&format!("    {:<30} {} — {}\n", l.email, l.role, l.display_name));
    }
    banner.push_str(&format!("\n  API token for {}: {token}\n  e.g. curl -H 'Authorization: Bearer {token}' http://{listen}/api/v1/engagements\n", main.email));
    let classifier = triage::load_classifier(settings.triage_packs().as_deref())?;
    serve(store, settings.web(), classifier, listen, Some(banner)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("endwell.db"), "endwell.db");
    }
}
