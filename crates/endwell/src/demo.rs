//! Sample data for `endwell demo`: three practitioners in different
//! professions and time zones, a supervisor, and a current-looking caseload
//! with engagements in every lifecycle state, versioned agreements and the
//! notes a practitioner would write at each step.
//!
//! Everything is made through the store's public API, exactly as the web UI
//! and the API would make it, so the history (events) is real and verifies.
//! Names, addresses and numbers are fictional: example.org/.com/.net mail,
//! Ofcom's drama numbers (07700 900xxx, 020 7946 0xxx), the US 555-01xx range
//! and ACMA's fictional mobiles (0491 570 xxx). Crisis lines are the real
//! public services of each country, as a practitioner's terms would list them.

use ConsentMethod::{ClientPage, InPerson, Written};
use EngagementState as S;
use Transition as T;
use anyhow::{Context, bail, ensure};
use endwell_core::access::Viewer;
use endwell_core::model::{Client, ClientFields, ConsentMethod, EngagementFields, NewUser, Role, User};
use endwell_core::terms::{Channel, OfficeHours, OnCall, Weekday};
use endwell_core::{EngagementState, Terms, Transition};
use endwell_store::Store;
use jiff::ToSpan;
use jiff::civil::Date;

/// One demo login printed by `endwell demo`.
pub struct DemoLogin {
    pub email: String,
    pub role: &'static str,
    pub display_name: String,
}

/// Fill an empty store with realistic sample data. All demo users get the same password hash.
pub async fn seed(store: &Store, password_hash: &str) -> anyhow::Result<Vec<DemoLogin>> {
    if !store.users().await?.is_empty() {
        bail!("the demo data goes into an empty database, and this one already has accounts");
    }
    let today = jiff::Zoned::now().date();

    let supervisor = store
        .create_user(
            NewUser {
                email: SUPERVISOR.email.into(),
                display_name: SUPERVISOR.display_name.into(),
                role: Role::Supervisor,
                profession: SUPERVISOR.profession.into(),
                timezone: SUPERVISOR.timezone.into(),
                supervisor_id: None,
            },
            Some(password_hash.to_string()),
        )
        .await?;

    let mut logins = Vec::new();
    let mut practitioners: Vec<User> = Vec::new();
    for p in &PRACTICES {
        let user = store
            .create_user(
                NewUser {
                    email: p.email.into(),
                    display_name: p.display_name.into(),
                    role: Role::Practitioner,
                    profession: p.profession.into(),
                    timezone: p.timezone.into(),
                    supervisor_id: p.supervised.then_some(supervisor.id),
                },
                Some(password_hash.to_string()),
            )
            .await?;
        logins.push(login(&user));
        practitioners.push(user);
    }
    logins.push(login(&supervisor));

    let mut clients: Vec<(&'static str, usize, Client)> = Vec::new();
    for c in CLIENTS {
        let client = store
            .create_client(
                viewer(&practitioners[c.practice]),
                ClientFields {
                    given_name: c.given.into(),
                    family_name: c.family.into(),
                    preferred_name: c.preferred.into(),
                    emails: c.emails.iter().map(|s| s.to_string()).collect(),
                    phones: c.phones.iter().map(|s| s.to_string()).collect(),
                    vulnerability_notes: c.notes.into(),
                },
            )
            .await
            .with_context(|| format!("creating the demo client {}", c.key))?;
        clients.push((c.key, c.practice, client));
    }

    let mut amaras = None;
    for spec in &ENGAGEMENTS {
        let (_, practice, client) = clients
            .iter()
            .find(|(key, _, _)| *key == spec.client)
            .with_context(|| format!("the demo engagement {:?} names no client", spec.title))?;
        let owner = viewer(&practitioners[*practice]);
        let id = seed_engagement(store, owner, &PRACTICES[*practice], client, spec, today)
            .await
            .with_context(|| format!("creating the demo engagement {:?}", spec.title))?;
        if spec.client == "amara" && spec.state == S::Active {
            amaras = Some(id);
        }
    }
    if let Some(id) = amaras {
        demo_contacts(store, &practitioners[SAM], id, today)
            .await
            .context("creating the demo contacts")?;
    }
    demo_calendar(store, &practitioners[0], today)
        .await
        .context("creating the demo calendar")?;
    Ok(logins)
}

/// Three messages from Amara yesterday, decided as the server would decide
/// them (terms in force, triage, the time each arrived): a change of time
/// with a small gift (a boundary incident is proposed), an invoice question,
/// and late in the evening a message that may be a crisis (an alert until
/// Sam acknowledges it).
async fn demo_contacts(
    store: &Store,
    sam: &User,
    engagement: endwell_core::EngagementId,
    today: Date,
) -> anyhow::Result<()> {
    use endwell_core::decision::{Contact, Policy};
    use endwell_core::message::Message;
    use endwell_core::triage::{Classifier, PackClassifier};
    let v = viewer(sam);
    let (_, terms) = store.terms_in_force(v, engagement).await?;
    let terms = terms.context("Amara's engagement has consented terms")?;
    let zone = sam.zone().tz().clone();
    let yesterday = day(today, -1)?;
    let triage = PackClassifier::english();
    let from = "amara.okonkwo@example.org";
    let messages = [
        (
            "11:05",
            "Invoice",
            "Hi Sam, is the invoice for November the same amount as October's? I'd like to set up the payment. Thanks, Amara",
        ),
        (
            "19:40",
            "Thursday",
            "Hi Sam, could we move Thursday's session to the afternoon? Also I've made you a little something to say thank you, it's only a candle, I'll bring it on Thursday. Amara",
        ),
        (
            "23:20",
            "tonight",
            "I'm sorry to write this late. Tonight has been really bad and I don't want to be here anymore. I don't know what to do.",
        ),
    ];
    let mut last_reply = None;
    for (time, subject, body) in messages {
        let at = yesterday.at(0, 0, 0, 0).to_zoned(zone.clone())?;
        let at = at.with().time(time.parse()?).build()?.timestamp();
        let raw = format!(
            "Return-Path: <{from}>\nFrom: Amara Okonkwo <{from}>\nTo: {}\nSubject: {subject}\n\n{body}\n",
            sam.email
        );
        let m = Message::parse(raw.as_bytes());
        let labels = triage.classify_message(&m);
        let decision = Policy::around(&terms, at).decide(&Contact {
            channel: Channel::Email,
            state: EngagementState::Active,
            message: &m,
            labels: &labels,
            at,
            last_reply,
        });
        if decision.reply.is_some() {
            last_reply = Some(at);
        }
        store
            .record_contact(
                v,
                endwell_store::contacts::NewContact {
                    practitioner_id: sam.id,
                    engagement_id: Some(engagement),
                    channel: Channel::Email,
                    sender: from.into(),
                    subject: Some(subject.into()),
                    body: m.body.clone(),
                    received_at: at,
                    labels,
                    decision,
                },
            )
            .await?;
    }
    Ok(())
}

/// The first practitioner's own calendar, as if uploaded from their
/// calendar program: a training afternoon, a week of leave and weekly
/// supervision, so the week view, the Calendar page and replies show closures.
async fn demo_calendar(store: &Store, user: &User, today: Date) -> anyhow::Result<()> {
    // The first weekday `n` or more days on, so closures fall in office hours.
    let d = |n: i64| -> anyhow::Result<String> {
        let mut at = day(today, n)?;
        while matches!(
            at.weekday(),
            jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
        ) {
            at = at.tomorrow()?;
        }
        Ok(at.strftime("%Y%m%d").to_string())
    };
    let tz = &user.timezone;
    let ics = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Endwell demo//EN\r\n\
         BEGIN:VEVENT\r\nUID:training@demo.endwell\r\nDTSTAMP:20261101T000000Z\r\n\
         DTSTART;TZID={tz}:{}T130000\r\nDTEND;TZID={tz}:{}T170000\r\nSUMMARY:Trauma-informed practice training\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:leave@demo.endwell\r\nDTSTAMP:20261101T000000Z\r\n\
         DTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\nSUMMARY:Annual leave\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:supervision@demo.endwell\r\nDTSTAMP:20261101T000000Z\r\n\
         DTSTART;TZID={tz}:{}T160000\r\nDTEND;TZID={tz}:{}T170000\r\nRRULE:FREQ=WEEKLY;COUNT=26\r\nSUMMARY:Supervision\r\nEND:VEVENT\r\n\
         END:VCALENDAR\r\n",
        d(3)?,
        d(3)?,
        d(35)?,
        d(40)?,
        d(1)?,
        d(1)?,
    );
    let zone = user.zone();
    let read = endwell_web::calendars::read(ics, &zone, jiff::Timestamp::now())?;
    store
        .add_calendar(viewer(user), "Training, leave and supervision", None, read)
        .await?;
    Ok(())
}

fn login(user: &User) -> DemoLogin {
    DemoLogin {
        email: user.email.clone(),
        role: user.role.as_str(),
        display_name: user.display_name.clone(),
    }
}

fn viewer(user: &User) -> Viewer {
    Viewer {
        id: user.id,
        role: user.role,
    }
}

/// `today` moved by `days` (negative: in the past).
fn day(today: Date, days: i64) -> anyhow::Result<Date> {
    Ok(today.checked_add(days.days())?)
}

/// Create one engagement and take it through its agreements and steps.
async fn seed_engagement(
    store: &Store,
    who: Viewer,
    practice: &Practice,
    client: &Client,
    spec: &EngagementSpec,
    today: Date,
) -> anyhow::Result<endwell_core::EngagementId> {
    let started_on = day(today, spec.start)?;
    let next_review = spec.review.map(|d| day(today, d)).transpose()?;
    let fields = EngagementFields {
        title: spec.title.into(),
        started_on: Some(started_on),
        planned_end: None,
        next_review,
    };
    let mut engagement = store.create_engagement(who, client.id, fields.clone()).await?;
    let consenter = format!("{} {}", client.given_name, client.family_name);

    if let Some(note) = spec.v1_note {
        let ends_on = day(started_on, spec.length)?;
        let terms = practice.terms(today, ends_on, spec.extra, spec.body)?;
        let v1 = store.add_agreement(who, engagement.id, terms, note).await?;
        if let Some(method) = spec.v1_consent {
            store
                .record_consent(who, engagement.id, v1.version, &consenter, method)
                .await?;
        }
    }

    for (i, (step, note)) in spec.steps.iter().enumerate() {
        if let Some(rev) = spec.revision.as_ref().filter(|r| r.after_step == i) {
            revise(store, who, engagement.id, rev, &consenter, today).await?;
        }
        engagement = store.transition(who, engagement.id, *step, note).await?;
    }
    if let Some(rev) = spec.revision.as_ref().filter(|r| r.after_step == spec.steps.len()) {
        revise(store, who, engagement.id, rev, &consenter, today).await?;
        engagement = store.engagement(who, engagement.id).await?;
    }

    if let Some(final_session) = spec.final_session {
        // The ending is planned: the final session date becomes the planned end.
        engagement = store
            .update_engagement(
                who,
                engagement.id,
                EngagementFields {
                    title: engagement.title.clone(),
                    started_on: engagement.started_on,
                    planned_end: Some(day(today, final_session)?),
                    next_review: engagement.next_review,
                },
            )
            .await?;
    }
    ensure!(
        engagement.state == spec.state,
        "the demo engagement {:?} ended up {} instead of {}",
        spec.title,
        engagement.state,
        spec.state
    );
    Ok(engagement.id)
}

/// Add a second version of the terms, consented or awaiting consent.
async fn revise(
    store: &Store,
    who: Viewer,
    engagement: endwell_core::EngagementId,
    rev: &Revision,
    consenter: &str,
    today: Date,
) -> anyhow::Result<()> {
    let latest = store
        .agreements(who, engagement)
        .await?
        .into_iter()
        .next()
        .context("a revision needs a first version")?;
    let mut terms = latest.terms;
    (rev.change)(&mut terms, today)?;
    let v2 = store.add_agreement(who, engagement, terms, rev.note).await?;
    if let Some(method) = rev.consent {
        store
            .record_consent(who, engagement, v2.version, consenter, method)
            .await?;
    }
    Ok(())
}

// ------------------------------------------------------------------ people

struct Person {
    email: &'static str,
    display_name: &'static str,
    profession: &'static str,
    timezone: &'static str,
}

const SUPERVISOR: Person = Person {
    email: "ruth@clinic.example",
    display_name: "Dr Ruth Adeyemi",
    profession: "Clinical supervisor (BACP accredited)",
    timezone: "Europe/London",
};

/// A practitioner and the terms they offer every client.
struct Practice {
    email: &'static str,
    display_name: &'static str,
    profession: &'static str,
    timezone: &'static str,
    /// Supervised by the demo supervisor.
    supervised: bool,
    /// Everything before `[engagement]`. `{closed_from}`/`{closed_to}` are
    /// replaced by dates (or times) a few weeks ahead.
    base: &'static str,
    /// Closed spell: days from today, and local times for a part-day spell.
    closed: (i64, i64, Option<(&'static str, &'static str)>),
    /// `[engagement]` keys every agreement of this practitioner shares.
    defaults: &'static str,
}

impl Practice {
    /// The terms of one agreement: the practice's base, any extra tables,
    /// and the engagement section with its end date.
    fn terms(&self, today: Date, ends_on: Date, extra: &str, body: &str) -> anyhow::Result<Terms> {
        let (from, to, times) = self.closed;
        let (from, to) = (day(today, from)?, day(today, to)?);
        let (from, to) = match times {
            Some((a, b)) => (format!("{from}T{a}"), format!("{to}T{b}")),
            None => (from.to_string(), to.to_string()),
        };
        let base = self.base.replace("{closed_from}", &from).replace("{closed_to}", &to);
        let text = format!(
            "{base}\n{extra}\n[engagement]\nends_on = \"{ends_on}\"\n{body}\n{}",
            self.defaults
        );
        Terms::from_toml(&text).with_context(|| format!("the demo terms of {}", self.display_name))
    }
}

const PRACTICES: [Practice; 3] = [
    Practice {
        email: "sam@clinic.example",
        display_name: "Sam Rivera",
        profession: "Counsellor (BACP registered)",
        timezone: "Europe/London",
        supervised: true,
        closed: (38, 45, None),
        base: r#"
timezone = "Europe/London"
response_time_hours = 24
[practitioner]
name = "Sam Rivera"
addresses = ["sam@clinic.example"]
[office_hours]
mon = ["09:00-12:30", "13:30-17:00"]
tue = ["09:00-17:00"]
wed = ["09:00-17:00"]
thu = ["09:00-17:00"]
fri = ["09:00-15:00"]
[[exceptions]]
from = "{closed_from}"
to = "{closed_to}"
reason = "Annual leave"
[auto_reply]
enabled = true
once_per = "closed_period"
text = "Thank you for your message. I read messages during my working hours and will reply within one working day. If you need help sooner, please use the numbers below."
[crisis]
resources = ["Samaritans: 116 123 (free, 24 hours)", "Shout: text SHOUT to 85258", "NHS 111, option 2, for urgent mental health help", "Emergency: 999"]
[channels]
email = "anything that can wait for office hours"
sms = "appointment changes only"
voice = "appointment changes; voicemail after hours"
"#,
        defaults: r#"
session_minutes = 50
payment_due_days = 14
late_payment = "Sessions pause after two unpaid invoices"
social_media = "No connections on personal accounts; the practice page is information only"
gifts = "Small tokens only; anything more is declined politely"
self_disclosure = "Kept to what helps the work"
ending_notice_days = 14
ending = "Planned together, with at least one closing session; referral if needs remain"
"#,
    },
    Practice {
        email: "dana@clinic.example",
        display_name: "Dana Whitfield",
        profession: "Licensed clinical social worker (LCSW, NASW)",
        timezone: "America/New_York",
        supervised: true,
        closed: (20, 20, Some(("12:00", "17:00"))),
        base: r#"
timezone = "America/New_York"
response_time_hours = 16
[practitioner]
name = "Dana Whitfield, LCSW"
addresses = ["dana@clinic.example"]
[office_hours]
mon = ["08:30-16:30"]
tue = ["08:30-16:30"]
wed = ["11:00-19:00"]
thu = ["08:30-16:30"]
fri = ["08:30-12:00"]
[[exceptions]]
from = "{closed_from}"
to = "{closed_to}"
reason = "Agency training"
[auto_reply]
enabled = true
every_days = 3
text = "Thanks for reaching out. I'm away from the office right now and will get back to you during my next business hours."
[crisis]
resources = ["988 Suicide & Crisis Lifeline: call or text 988 (24/7)", "Crisis Text Line: text HOME to 741741", "Emergency: 911"]
[channels]
email = "scheduling and anything that can wait for business hours; please keep clinical details for sessions"
voice = "appointment changes; voicemail after hours"
portal = "forms, invoices and messages that can wait for business hours"
"#,
        defaults: r#"
session_minutes = 53
payment_due_days = 30
late_payment = "We talk about a payment plan before any balance goes to collections"
social_media = "I don't accept friend or follow requests from current or former clients"
gifts = "I don't accept gifts; a card or a note is always welcome"
self_disclosure = "Only when it serves your goals, and briefly"
ending_notice_days = 14
ending = "Planned together; a closing session, a written summary and referrals if needs remain"
"#,
    },
    Practice {
        email: "priya@clinic.example",
        display_name: "Priya Raman",
        profession: "Life coach (ICF PCC)",
        timezone: "Australia/Sydney",
        supervised: false,
        closed: (25, 27, None),
        base: r#"
timezone = "Australia/Sydney"
response_time_hours = 48
[practitioner]
name = "Priya Raman"
addresses = ["priya@clinic.example"]
[office_hours]
mon = ["10:00-18:00"]
tue = ["10:00-18:00"]
wed = ["12:00-20:00"]
thu = ["10:00-18:00"]
sat = ["09:00-12:00"]
[[exceptions]]
from = "{closed_from}"
to = "{closed_to}"
reason = "Coaching supervision retreat"
[auto_reply]
enabled = true
once_per = "closed_period"
text = "Thanks for your message! I'm offline right now and will reply within two business days. Coaching isn't a crisis service: if you need urgent support, please use the numbers below."
[crisis]
resources = ["Lifeline: 13 11 14 (24 hours)", "Beyond Blue: 1300 22 4636", "Emergency: 000"]
[channels]
email = "scheduling and between-session reflections"
portal = "session notes, worksheets and invoices"
"#,
        defaults: r#"
session_minutes = 60
payment_due_days = 7
late_payment = "Sessions are rescheduled until the invoice is paid"
social_media = "Happy to connect on LinkedIn after our work ends, not during"
gifts = "Not needed; a testimonial only if you want to give one"
self_disclosure = "Occasional, when a story of mine helps you think"
ending_notice_days = 7
ending = "A closing session to review goals and plan what comes next"
"#,
    },
];

struct ClientSpec {
    key: &'static str,
    /// Index into `PRACTICES`.
    practice: usize,
    given: &'static str,
    family: &'static str,
    preferred: &'static str,
    emails: &'static [&'static str],
    phones: &'static [&'static str],
    notes: &'static str,
}

const SAM: usize = 0;
const DANA: usize = 1;
const PRIYA: usize = 2;

const CLIENTS: [ClientSpec; 17] = [
    // Sam Rivera, London
    ClientSpec {
        key: "amara",
        practice: SAM,
        given: "Amara",
        family: "Okonkwo",
        preferred: "",
        emails: &["amara.okonkwo@example.org"],
        phones: &["+44 7700 900123"],
        notes: "",
    },
    ClientSpec {
        key: "tom",
        practice: SAM,
        given: "Tomasz",
        family: "Kowalski",
        preferred: "Tom",
        emails: &[],
        phones: &["+44 7700 900481", "+44 20 7946 0958"],
        notes: "Recently bereaved (his father, in the spring); lives alone. GP aware and supportive.",
    },
    ClientSpec {
        key: "siobhan",
        practice: SAM,
        given: "Siobhán",
        family: "Murphy",
        preferred: "",
        emails: &["siobhan.murphy@example.com"],
        phones: &["+44 7700 900217"],
        notes: "",
    },
    ClientSpec {
        key: "rahul",
        practice: SAM,
        given: "Rahul",
        family: "Mehta",
        preferred: "",
        emails: &["rahul.mehta@example.net"],
        phones: &["+44 7700 900665"],
        notes: "Made redundant two months ago; money is tight. Offered the reduced fee.",
    },
    ClientSpec {
        key: "leila",
        practice: SAM,
        given: "Leila",
        family: "Haddad",
        preferred: "",
        emails: &["leila.haddad@example.com"],
        phones: &["+44 7700 900392"],
        notes: "",
    },
    ClientSpec {
        key: "gareth",
        practice: SAM,
        given: "Gareth",
        family: "Price",
        preferred: "",
        emails: &["gareth.price@example.org", "g.price@work.example.com"],
        phones: &["+44 7700 900754"],
        notes: "Risk assessed at intake as low; partner aware he is in counselling. Reviewed at each review.",
    },
    // Dana Whitfield, New York
    ClientSpec {
        key: "majo",
        practice: DANA,
        given: "María José",
        family: "Hernández",
        preferred: "Majo",
        emails: &["majo.hernandez@example.org"],
        phones: &["+1 (212) 555-0142"],
        notes: "History of self-harm; safety plan on file and reviewed monthly. Lives with her sister.",
    },
    ClientSpec {
        key: "deshawn",
        practice: DANA,
        given: "DeShawn",
        family: "Williams",
        preferred: "",
        emails: &["deshawn.williams@example.com"],
        phones: &["+1 (718) 555-0187"],
        notes: "Was his mother's main carer until her death in the winter; sleep still disturbed.",
    },
    ClientSpec {
        key: "ana",
        practice: DANA,
        given: "Ana Lúcia",
        family: "Ferreira",
        preferred: "",
        emails: &["analucia.ferreira@example.net"],
        phones: &["+1 (646) 555-0119"],
        notes: "",
    },
    ClientSpec {
        key: "yuki",
        practice: DANA,
        given: "Yuki",
        family: "Tanaka",
        preferred: "",
        emails: &["yuki.tanaka@example.org"],
        phones: &[],
        notes: "",
    },
    ClientSpec {
        key: "kwame",
        practice: DANA,
        given: "Kwame",
        family: "Asante",
        preferred: "",
        emails: &["kwame.asante@example.com"],
        phones: &["+1 (917) 555-0163"],
        notes: "In early recovery from alcohol use; attends a weekly peer group.",
    },
    ClientSpec {
        key: "hannah",
        practice: DANA,
        given: "Hannah",
        family: "Goldberg",
        preferred: "",
        emails: &["hannah.goldberg@example.org"],
        phones: &["+1 (347) 555-0128"],
        notes: "",
    },
    // Priya Raman, Sydney
    ClientSpec {
        key: "lachlan",
        practice: PRIYA,
        given: "Lachlan",
        family: "O'Brien",
        preferred: "Lochie",
        emails: &["lochie.obrien@example.com"],
        phones: &["+61 491 570 156"],
        notes: "",
    },
    ClientSpec {
        key: "ngaio",
        practice: PRIYA,
        given: "Ngaio",
        family: "Parata",
        preferred: "",
        emails: &["ngaio.parata@example.org"],
        phones: &["+61 491 570 157"],
        notes: "",
    },
    ClientSpec {
        key: "thanh",
        practice: PRIYA,
        given: "Thanh",
        family: "Nguyen",
        preferred: "",
        emails: &["thanh.nguyen@example.net"],
        phones: &["+61 491 570 158"],
        notes: "Has dyslexia; prefers a short written summary after each session.",
    },
    ClientSpec {
        key: "isabella",
        practice: PRIYA,
        given: "Isabella",
        family: "Rossi",
        preferred: "Bella",
        emails: &["bella.rossi@example.com"],
        phones: &["+61 491 570 159"],
        notes: "",
    },
    ClientSpec {
        key: "farid",
        practice: PRIYA,
        given: "Farid",
        family: "Rahimi",
        preferred: "",
        emails: &["farid@rahimi-tiles.example.com"],
        phones: &["+61 491 570 110"],
        notes: "",
    },
];

// ------------------------------------------------------------- engagements

/// One engagement: dates are days from today (negative: in the past).
struct EngagementSpec {
    client: &'static str,
    title: &'static str,
    /// The state it is left in (checked).
    state: EngagementState,
    /// Start (or planned start) date.
    start: i64,
    /// The agreed end date, counted from the start.
    length: i64,
    review: Option<i64>,
    /// The note of version 1; `None`: no terms yet.
    v1_note: Option<&'static str>,
    v1_consent: Option<ConsentMethod>,
    /// TOML tables added to the practice's base (e.g. `[[on_call]]`).
    extra: &'static str,
    /// `[engagement]` keys of this agreement.
    body: &'static str,
    revision: Option<Revision>,
    steps: &'static [(Transition, &'static str)],
    /// Once the ending is planned: the final session, the planned end.
    final_session: Option<i64>,
}

/// A second version of the terms.
struct Revision {
    /// Added after this many steps.
    after_step: usize,
    note: &'static str,
    change: fn(&mut Terms, Date) -> anyhow::Result<()>,
    /// `None`: sent, awaiting the client's consent.
    consent: Option<ConsentMethod>,
}

const ENGAGEMENTS: [EngagementSpec; 18] = [
    // ---- Sam Rivera, counsellor, London
    EngagementSpec {
        client: "amara",
        title: "CBT for panic attacks",
        state: S::Active,
        start: -70,
        length: 168,
        review: Some(9),
        v1_note: Some("Initial terms agreed at assessment"),
        v1_consent: Some(InPerson),
        extra: "",
        body: r#"objectives = ["Fewer and shorter panic attacks", "Travel to work by Tube again", "Return to work full time"]
sessions = 12
frequency = "Weekly"
review_every_sessions = 4
fee = "£70 per session"
scope = "Weekly CBT sessions; a letter to her employer's occupational health on request""#,
        revision: Some(Revision {
            after_step: 1,
            note: "Office hours changed after return to work: Thursday evening sessions",
            change: |t, _| {
                t.office_hours.thu = OfficeHours::parse_day("12:00-20:00")?;
                t.engagement.frequency = Some("Weekly, Thursday evenings".into());
                Ok(())
            },
            consent: Some(Written),
        }),
        steps: &[(
            T::Activate,
            "Assessment complete; terms agreed in person. Weekly sessions on Tuesday mornings to begin with.",
        )],
        final_session: None,
    },
    EngagementSpec {
        client: "gareth",
        title: "Anger and relationship difficulties",
        state: S::Active,
        start: -40,
        length: 112,
        review: Some(20),
        v1_note: Some("Initial terms"),
        v1_consent: Some(InPerson),
        extra: "",
        body: r#"objectives = ["Notice the early signs of anger and step away", "Have difficult conversations at home without shouting"]
sessions = 12
frequency = "Weekly, Monday afternoons"
review_every_sessions = 6
fee = "£70 per session"
scope = "Individual sessions only; couples work would be a referral""#,
        revision: Some(Revision {
            after_step: 1,
            note: "Fee updated from next month (£70 to £75); sent to Gareth for his agreement",
            change: |t, today| {
                let from = day(today, 30)?.strftime("%-d %B %Y");
                t.engagement.fee = Some(format!("£75 per session from {from}"));
                Ok(())
            },
            consent: None,
        }),
        steps: &[(
            T::Activate,
            "Terms agreed at assessment; risk assessed as low. Weekly sessions on Monday afternoons.",
        )],
        final_session: None,
    },
    EngagementSpec {
        client: "tom",
        title: "Bereavement counselling",
        state: S::Ending,
        start: -120,
        length: 140,
        review: None,
        v1_note: Some("Initial terms agreed at the first session"),
        v1_consent: Some(InPerson),
        extra: "",
        body: r#"objectives = ["Space to grieve his father", "Sleep through most nights", "Reconnect with friends and his running club"]
sessions = 14
frequency = "Fortnightly for two sessions, then weekly"
review_every_sessions = 5
fee = "£60 per session (reduced rate)"
scope = "Bereavement counselling; liaison with his GP with his consent""#,
        revision: None,
        steps: &[
            (
                T::Activate,
                "Terms agreed in person. Fortnightly sessions to begin with, weekly from session three.",
            ),
            (
                T::BeginEnding,
                "Review at session 10: Tom feels able to carry his grief with the support around him. Agreed three closing sessions; final session in two weeks.",
            ),
        ],
        final_session: Some(14),
    },
    EngagementSpec {
        client: "siobhan",
        title: "Counselling for work stress and burnout",
        state: S::Ended,
        start: -300,
        length: 56,
        review: None,
        v1_note: Some("Initial terms (employee assistance programme referral)"),
        v1_consent: Some(InPerson),
        extra: "",
        body: r#"objectives = ["Understand what led to burnout", "Agree a phased return to work", "Sleep at least six hours most nights"]
sessions = 8
frequency = "Weekly"
review_every_sessions = 4
fee = "Paid by the employee assistance programme"
scope = "Eight sessions funded by her employer's programme; no reports to the employer""#,
        revision: Some(Revision {
            after_step: 1,
            note: "Extended by four sessions after the mid-point review; Siobhán is paying for these herself",
            change: |t, _| {
                t.engagement.sessions = Some(12);
                t.engagement.ends_on = t.engagement.ends_on.map(|d| d.checked_add(28.days())).transpose()?;
                t.engagement.fee =
                    Some("Sessions 1-8 paid by the employee assistance programme; sessions 9-12 £70 each".into());
                Ok(())
            },
            consent: Some(InPerson),
        }),
        steps: &[
            (
                T::Activate,
                "Terms agreed; eight weekly sessions funded by the employee assistance programme.",
            ),
            (
                T::BeginEnding,
                "Back at work full time and sleeping better; agreed a two-session ending.",
            ),
            (
                T::End,
                "Objectives met; final session held and ending letter sent with a relapse-prevention plan.",
            ),
        ],
        final_session: None,
    },
    EngagementSpec {
        client: "siobhan",
        title: "Follow-up sessions: sleep and stress",
        state: S::Proposed,
        start: 12,
        length: 42,
        review: None,
        v1_note: None,
        v1_consent: None,
        extra: "",
        body: "",
        revision: None,
        steps: &[],
        final_session: None,
    },
    EngagementSpec {
        client: "rahul",
        title: "Counselling for low mood after redundancy",
        state: S::Proposed,
        start: 7,
        length: 84,
        review: None,
        v1_note: Some("Terms sent after the assessment; awaiting Rahul's agreement"),
        v1_consent: None,
        extra: "",
        body: r#"objectives = ["Lift his mood enough to job-hunt", "Rebuild a daily routine"]
sessions = 10
frequency = "Weekly"
review_every_sessions = 5
fee = "£45 per session (reduced rate while out of work)"
scope = "Weekly counselling; signposting to debt advice""#,
        revision: None,
        steps: &[],
        final_session: None,
    },
    EngagementSpec {
        client: "leila",
        title: "Counselling for health anxiety",
        state: S::Transferred,
        start: -90,
        length: 168,
        review: None,
        v1_note: Some("Initial terms"),
        v1_consent: Some(InPerson),
        extra: "",
        body: r#"objectives = ["Cut down body-checking and searching symptoms online", "Attend appointments without cancelling"]
sessions = 16
frequency = "Weekly"
review_every_sessions = 4
fee = "£70 per session"
scope = "Weekly counselling""#,
        revision: None,
        steps: &[
            (T::Activate, "Terms agreed in person; weekly sessions on Wednesdays."),
            (
                T::Transfer,
                "Client moving to Leeds for work; with her agreement transferred to the local NHS Talking Therapies service. Handover letter sent and her first appointment there is confirmed.",
            ),
        ],
        final_session: None,
    },
    // ---- Dana Whitfield, clinical social worker, New York
    EngagementSpec {
        client: "majo",
        title: "DBT: individual therapy and phone coaching",
        state: S::Active,
        start: -150,
        length: 365,
        review: Some(5),
        v1_note: Some("DBT treatment agreement"),
        v1_consent: Some(InPerson),
        extra: r#"[[on_call]]
days = ["sat", "sun"]
hours = "10:00-16:00"
channels = ["voice"]"#,
        body: r#"objectives = ["Use skills instead of self-harm", "Fewer crisis visits", "Keep her place at community college"]
sessions = 48
frequency = "Weekly individual session plus Wednesday skills group"
review_every_sessions = 12
fee = "$25 copay per session (in-network)"
scope = "Individual DBT, skills group and phone coaching for skills use; phone coaching is not for therapy by phone""#,
        revision: Some(Revision {
            after_step: 1,
            note: "Phone coaching extended to weekday evenings after the three-month review",
            change: |t, _| {
                t.on_call.push(OnCall {
                    days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
                    hours: "18:00-20:00".parse()?,
                    channels: vec![Channel::Voice],
                });
                Ok(())
            },
            consent: Some(InPerson),
        }),
        steps: &[(
            T::Activate,
            "Commitment sessions complete; DBT agreement and safety plan signed. Individual sessions on Mondays, skills group on Wednesdays.",
        )],
        final_session: None,
    },
    EngagementSpec {
        client: "deshawn",
        title: "Grief and adjustment after caregiving",
        state: S::Ending,
        start: -200,
        length: 240,
        review: None,
        v1_note: Some("Initial terms"),
        v1_consent: Some(Written),
        extra: "",
        body: r#"objectives = ["Grieve his mother in his own way", "Sleep and eat regularly again", "Return to work"]
sessions = 24
frequency = "Weekly, Wednesday evenings"
review_every_sessions = 8
fee = "$130 per session; sliding scale agreed at $90"
scope = "Individual therapy; help finding a caregivers' bereavement group""#,
        revision: None,
        steps: &[
            (T::Activate, "Terms agreed; weekly sessions on Wednesday evenings."),
            (
                T::BeginEnding,
                "Six-month review: sleep and mood much improved and DeShawn is back at work. Agreed two closing sessions; final session booked.",
            ),
        ],
        final_session: Some(10),
    },
    EngagementSpec {
        client: "ana",
        title: "Trauma-focused therapy after a car accident",
        state: S::Ended,
        start: -260,
        length: 112,
        review: None,
        v1_note: Some("Initial terms"),
        v1_consent: Some(InPerson),
        extra: "",
        body: r#"objectives = ["Drive on the highway again", "Fewer nightmares and flashbacks"]
sessions = 16
frequency = "Weekly"
review_every_sessions = 4
fee = "$25 copay per session (in-network)"
scope = "Trauma-focused CBT; a summary to her primary care physician at the end, with her consent""#,
        revision: None,
        steps: &[
            (T::Activate, "Terms agreed; weekly trauma-focused CBT."),
            (
                T::BeginEnding,
                "PCL-5 below the clinical range at review and Ana Lúcia is driving again. Agreed a two-session ending.",
            ),
            (
                T::End,
                "Objectives met; closing summary sent to her primary care physician with her written consent.",
            ),
        ],
        final_session: None,
    },
    EngagementSpec {
        client: "yuki",
        title: "Adjustment after relocation",
        state: S::Ended,
        start: -14,
        length: 84,
        review: None,
        v1_note: Some("Terms sent after the phone consultation"),
        v1_consent: None,
        extra: "",
        body: r#"objectives = ["Settle into a new city and job", "Build a local support network"]
sessions = 10
frequency = "Weekly"
fee = "$130 per session (out of network; superbill provided)"
scope = "Individual therapy""#,
        revision: None,
        steps: &[(
            T::Withdraw,
            "Yuki chose an in-network provider near her new job; work did not start. Sent her three referral names.",
        )],
        final_session: None,
    },
    EngagementSpec {
        client: "kwame",
        title: "Recovery support: alcohol use",
        state: S::Transferred,
        start: -100,
        length: 180,
        review: None,
        v1_note: Some("Initial terms"),
        v1_consent: Some(InPerson),
        extra: "",
        body: r#"objectives = ["Stay sober one day at a time", "Build a relapse-prevention plan", "Repair things with his brother"]
sessions = 24
frequency = "Weekly"
review_every_sessions = 6
fee = "$25 copay per session (in-network)"
scope = "Individual therapy alongside his peer group; not medically supervised detox""#,
        revision: None,
        steps: &[
            (T::Activate, "Terms agreed; weekly sessions alongside his peer group."),
            (
                T::Transfer,
                "Kwame and I agreed he needs more support than weekly sessions; with his consent transferred to the intensive outpatient program at Riverside Recovery Center. Warm handover call held with his new counselor.",
            ),
        ],
        final_session: None,
    },
    EngagementSpec {
        client: "hannah",
        title: "Parenting support after divorce",
        state: S::Proposed,
        start: 14,
        length: 84,
        review: None,
        v1_note: None,
        v1_consent: None,
        extra: "",
        body: "",
        revision: None,
        steps: &[],
        final_session: None,
    },
    // ---- Priya Raman, life coach, Sydney
    EngagementSpec {
        client: "lachlan",
        title: "Career transition coaching",
        state: S::Active,
        start: -84,
        length: 140,
        review: Some(-2),
        v1_note: Some("Coaching agreement"),
        v1_consent: Some(ClientPage),
        extra: "",
        body: r#"objectives = ["Choose a direction outside banking", "Apply for three roles that fit"]
sessions = 6
frequency = "Weekly, video"
review_every_sessions = 3
fee = "A$220 per session"
scope = "Career coaching by video; CV feedback by email between sessions""#,
        revision: Some(Revision {
            after_step: 3,
            note: "Re-contracted after the job offer fell through: fortnightly sessions, four more sessions",
            change: |t, _| {
                t.engagement.sessions = Some(10);
                t.engagement.frequency = Some("Fortnightly, video".into());
                t.engagement
                    .objectives
                    .push("Prepare for interviews in the renewable energy sector".into());
                Ok(())
            },
            consent: Some(ClientPage),
        }),
        steps: &[
            (
                T::Activate,
                "Chemistry session done; coaching agreement signed on the client page.",
            ),
            (
                T::BeginEnding,
                "Lochie has accepted a new role; agreed to wrap up with two sessions.",
            ),
            (
                T::Resume,
                "Ending called off: the offer fell through. Lochie asked to continue and we re-contracted on new goals.",
            ),
        ],
        final_session: None,
    },
    EngagementSpec {
        client: "ngaio",
        title: "Leadership coaching for a new manager",
        state: S::Ending,
        start: -60,
        length: 70,
        review: None,
        v1_note: Some("Coaching agreement (three-way, with her employer as sponsor)"),
        v1_consent: Some(ClientPage),
        extra: "",
        body: r#"objectives = ["Lead her first team meetings with confidence", "Have a hard performance conversation well"]
sessions = 8
frequency = "Weekly"
review_every_sessions = 4
fee = "Paid by her employer: A$1,760 for eight sessions"
scope = "Coaching; her employer sees the goals and a closing summary she approves, never session content""#,
        revision: None,
        steps: &[
            (
                T::Activate,
                "Agreement signed; three-way goal-setting with her manager held.",
            ),
            (
                T::BeginEnding,
                "Six of eight sessions done and Ngaio is confident running her team meetings. Final session booked, then a three-way review with her sponsor.",
            ),
        ],
        final_session: Some(7),
    },
    EngagementSpec {
        client: "thanh",
        title: "Return-to-study coaching",
        state: S::Ended,
        start: -180,
        length: 84,
        review: None,
        v1_note: Some("Coaching agreement"),
        v1_consent: Some(ClientPage),
        extra: "",
        body: r#"objectives = ["Enrol in a part-time nursing degree", "A weekly study routine that fits around shift work"]
sessions = 6
frequency = "Fortnightly"
review_every_sessions = 3
fee = "A$180 per session"
scope = "Coaching; a written summary after each session""#,
        revision: None,
        steps: &[
            (T::Activate, "Agreement signed; fortnightly sessions by video."),
            (
                T::BeginEnding,
                "Enrolment confirmed and study routine in place; agreed to close after one more session.",
            ),
            (
                T::End,
                "Objectives met; closing session held and a summary of the tools we used sent in writing, as Thanh prefers.",
            ),
        ],
        final_session: None,
    },
    EngagementSpec {
        client: "isabella",
        title: "Confidence and public speaking",
        state: S::Proposed,
        start: 10,
        length: 90,
        review: None,
        v1_note: Some("Agreement sent through the client page after our chemistry call"),
        v1_consent: None,
        extra: "",
        body: r#"objectives = ["Give the best-man speech at her brother's wedding", "Speak up in team meetings"]
sessions = 6
frequency = "Weekly"
review_every_sessions = 3
fee = "A$180 per session"
scope = "Coaching by video; practice recordings reviewed in sessions only""#,
        revision: None,
        steps: &[],
        final_session: None,
    },
    EngagementSpec {
        client: "farid",
        title: "Coaching for a growing small business",
        state: S::Transferred,
        start: -120,
        length: 180,
        review: None,
        v1_note: Some("Coaching agreement"),
        v1_consent: Some(ClientPage),
        extra: "",
        body: r#"objectives = ["Hire and delegate to his first two staff", "Take one full day off a week"]
sessions = 12
frequency = "Fortnightly"
review_every_sessions = 4
fee = "A$250 per session, invoiced monthly"
scope = "Business and personal coaching; no financial or legal advice""#,
        revision: None,
        steps: &[
            (
                T::Activate,
                "Agreement signed; fortnightly sessions at his workshop or by video.",
            ),
            (
                T::Transfer,
                "I'm starting parental leave; with Farid's agreement his coaching moves to my colleague Ben Carter (ICF ACC) after a three-way handover session.",
            ),
        ],
        final_session: None,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use endwell_store::CaseloadQuery;
    use endwell_store::testing::TestDb;

    #[tokio::test]
    async fn demo_data_covers_every_state() {
        let db = TestDb::new("sqlite").await;
        let store = db.store().await;
        let logins = seed(&store, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
            .await
            .unwrap();
        assert_eq!(logins[0].email, "sam@clinic.example");
        assert_eq!(logins[0].role, "practitioner");
        assert_eq!(logins.len(), 4);

        let users = store.users().await.unwrap();
        let practitioners: Vec<&User> = users.iter().filter(|u| u.role == Role::Practitioner).collect();
        let supervisors: Vec<&User> = users.iter().filter(|u| u.role == Role::Supervisor).collect();
        assert_eq!(practitioners.len(), 3);
        assert_eq!(supervisors.len(), 1);
        let supervised = practitioners
            .iter()
            .filter(|u| u.supervisor_id == Some(supervisors[0].id))
            .count();
        assert_eq!(supervised, 2);
        let zones: std::collections::HashSet<&str> = practitioners.iter().map(|u| u.timezone.as_str()).collect();
        assert_eq!(zones.len(), 3);

        let mut clients = 0;
        let mut second_versions = 0;
        let mut awaiting_consent = 0;
        for state in EngagementState::ALL {
            let mut n = 0;
            for p in &practitioners {
                let v = viewer(p);
                let page = store
                    .caseload(
                        v,
                        CaseloadQuery {
                            state,
                            after: None,
                            per_page: 200,
                        },
                    )
                    .await
                    .unwrap();
                n += page.items.len();
                for item in &page.items {
                    let versions = store.agreements(v, item.engagement.id).await.unwrap();
                    if versions.iter().any(|a| a.version == 2) {
                        second_versions += 1;
                    }
                    if state != EngagementState::Proposed && versions.first().is_some_and(|a| a.consent.is_none()) {
                        awaiting_consent += 1;
                    }
                }
            }
            assert!(n >= 1, "no engagement is {state}");
        }
        for p in &practitioners {
            clients += store
                .clients(
                    viewer(p),
                    endwell_store::ClientQuery {
                        per_page: 500,
                        ..Default::default()
                    },
                )
                .await
                .unwrap()
                .items
                .len();
        }
        assert!(clients >= 15, "only {clients} clients");

        // Sam's inbox: the three messages, decided and triaged.
        let sam = viewer(practitioners.iter().find(|u| u.email == "sam@clinic.example").unwrap());
        let inbox = store
            .inbox(
                sam,
                endwell_store::contacts::InboxQuery {
                    per_page: 10,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(inbox.len(), 3);
        let labels =
            |c: &endwell_store::contacts::ContactEntry| c.labels.iter().map(|f| f.label.key()).collect::<Vec<_>>();
        assert_eq!(
            inbox[0].action,
            endwell_core::decision::Action::Crisis,
            "{:?}",
            labels(&inbox[0])
        );
        assert!(labels(&inbox[1]).contains(&"gift_or_money"), "{:?}", labels(&inbox[1]));
        assert!(labels(&inbox[2]).contains(&"payment"), "{:?}", labels(&inbox[2]));
        assert_eq!(store.crisis_alerts(sam).await.unwrap().len(), 1);
        assert!(
            second_versions >= 4,
            "only {second_versions} engagements have a version 2"
        );
        assert_eq!(awaiting_consent, 2, "Gareth's fee update and Yuki's withdrawn proposal");

        // The supervisor reads the caseloads of the two they supervise.
        let sup = viewer(supervisors[0]);
        assert!(
            store
                .clients(
                    sup,
                    endwell_store::ClientQuery {
                        per_page: 500,
                        ..Default::default()
                    }
                )
                .await
                .unwrap()
                .items
                .len()
                >= 10
        );

        assert!(store.verify_events().await.unwrap() > 0);
        db.cleanup().await;
    }
}
