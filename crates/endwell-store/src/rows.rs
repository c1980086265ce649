//! Reading rows into domain types, and the text forms of times and dates.

use endwell_core::event::Event;
use endwell_core::model::{Agreement, Client, Consent, Engagement, User};
use jiff::Timestamp;
use jiff::civil::Date;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{DataKey, Result, StoreError};

/// Fixed-width RFC 3339 UTC with microseconds, so text order is time order.
pub fn fmt_ts(t: Timestamp) -> String {
    format!("{}.{:06}Z", t.strftime("%Y-%m-%dT%H:%M:%S"), t.subsec_microsecond())
}

pub fn parse_ts(s: &str) -> Result<Timestamp> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("{s:?} is not a time")))
}

pub fn fmt_date(d: Date) -> String {
    d.to_string()
}

pub fn date_opt(s: Option<String>) -> Result<Option<Date>> {
    s.map(|s| {
        s.parse()
            .map_err(|_| StoreError::Corrupt(format!("{s:?} is not a date")))
    })
    .transpose()
}

fn corrupt<E: std::fmt::Display>(col: &str) -> impl FnOnce(E) -> StoreError + '_ {
    move |e| StoreError::Corrupt(format!("{col}: {e}"))
}

pub fn id_col<T: std::str::FromStr>(r: &AnyRow, col: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    let s: String = r.try_get(col)?;
    s.parse().map_err(corrupt(col))
}

fn id_opt<T: std::str::FromStr>(r: &AnyRow, col: &str) -> Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    let s: Option<String> = r.try_get(col)?;
    s.map(|s| s.parse().map_err(corrupt(col))).transpose()
}

fn ts_col(r: &AnyRow, col: &str) -> Result<Timestamp> {
    parse_ts(&r.try_get::<String, _>(col)?)
}

fn parsed<T: std::str::FromStr>(r: &AnyRow, col: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    id_col(r, col)
}

pub fn row_user(r: &AnyRow) -> Result<User> {
    Ok(User {
        id: id_col(r, "id")?,
        email: r.try_get("email")?,
        display_name: r.try_get("display_name")?,
        role: parsed(r, "role")?,
        profession: r.try_get("profession")?,
        timezone: r.try_get("timezone")?,
        supervisor_id: id_opt(r, "supervisor_id")?,
        created_at: ts_col(r, "created_at")?,
    })
}

/// A client without addresses (they come from their own table).
pub fn row_client_base(r: &AnyRow, key: &DataKey) -> Result<Client> {
    Ok(Client {
        id: id_col(r, "id")?,
        practitioner_id: id_col(r, "practitioner_id")?,
        given_name: r.try_get("given_name")?,
        family_name: r.try_get("family_name")?,
        preferred_name: r.try_get("preferred_name")?,
        emails: Vec::new(),
        phones: Vec::new(),
        vulnerability_notes: key.open(&r.try_get::<String, _>("vulnerability_notes")?)?,
        created_at: ts_col(r, "created_at")?,
        updated_at: ts_col(r, "updated_at")?,
    })
}

pub fn row_engagement(r: &AnyRow) -> Result<Engagement> {
    Ok(Engagement {
        id: id_col(r, "id")?,
        client_id: id_col(r, "client_id")?,
        practitioner_id: id_col(r, "practitioner_id")?,
        state: parsed(r, "state")?,
        title: r.try_get("title")?,
        started_on: date_opt(r.try_get("started_on")?)?,
        planned_end: date_opt(r.try_get("planned_end")?)?,
        next_review: date_opt(r.try_get("next_review")?)?,
        created_at: ts_col(r, "created_at")?,
        updated_at: ts_col(r, "updated_at")?,
    })
}

pub fn row_agreement(r: &AnyRow) -> Result<Agreement> {
    let terms: String = r.try_get("terms")?;
    let terms = serde_json::from_str(&terms).map_err(corrupt("terms"))?;
    let consent = match r.try_get::<Option<String>, _>("consent_at")? {
        Some(at) => Some(Consent {
            given_by: r.try_get::<Option<String>, _>("consent_given_by")?.unwrap_or_default(),
            at: parse_ts(&at)?,
            method: id_opt(r, "consent_method")?.ok_or_else(|| StoreError::Corrupt("consent_method missing".into()))?,
            recorded_by: id_opt(r, "consent_recorded_by")?
                .ok_or_else(|| StoreError::Corrupt("consent_recorded_by missing".into()))?,
        }),
        None => None,
    };
    Ok(Agreement {
        id: id_col(r, "id")?,
        engagement_id: id_col(r, "engagement_id")?,
        version: r.try_get("version")?,
        terms,
        note: r.try_get("note")?,
        created_by: id_col(r, "created_by")?,
        created_at: ts_col(r, "created_at")?,
        consent,
    })
}

pub fn row_event(r: &AnyRow) -> Result<Event> {
    let data: String = r.try_get("data")?;
    Ok(Event {
        id: id_col(r, "id")?,
        seq: r.try_get("seq")?,
        at: ts_col(r, "at")?,
        actor: parsed(r, "actor")?,
        kind: parsed(r, "kind")?,
        client_id: id_opt(r, "client_id")?,
        engagement_id: id_opt(r, "engagement_id")?,
        data: serde_json::from_str(&data).map_err(corrupt("data"))?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_fixed_width_and_round_trip() {
        let t = Timestamp::from_microsecond(1_795_000_000_000_001).unwrap();
        let s = fmt_ts(t);
        assert_eq!(s.len(), "2026-11-18T08:26:40.000001Z".len(), "{s}");
        assert_eq!(parse_ts(&s).unwrap(), t);
        assert_eq!(fmt_ts(Timestamp::UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
    }
}
