//! Fresh databases for tests: a temporary SQLite file always, and a uniquely
//! named PostgreSQL database when `ENDWELL_TEST_POSTGRES` holds a server URL.
//! The same test code runs on both (see `tests/storage.rs`).

use crate::{DataKey, Store};

/// A database that exists for one test and is removed afterwards.
pub struct TestDb {
    pub url: String,
    pub key: DataKey,
    _dir: Option<tempfile::TempDir>,
    drop_pg: Option<(String, String)>,
}

/// The backends to test on: always SQLite; PostgreSQL when configured.
pub fn backends() -> Vec<&'static str> {
    let mut v = vec!["sqlite"];
    if postgres_url().is_some() {
        v.push("postgres");
    } else {
        warn_once();
    }
    v
}

fn warn_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        eprintln!("\n!!! ENDWELL_TEST_POSTGRES is not set: PostgreSQL tests are SKIPPED. CI sets it (.ci/run). !!!\n")
    });
}

pub fn postgres_url() -> Option<String> {
    std::env::var("ENDWELL_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.trim().is_empty())
}

impl TestDb {
    pub async fn new(backend: &str) -> TestDb {
        let key = DataKey::random();
        match backend {
            "sqlite" => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = dir.path().join("test.db").display().to_string();
                TestDb {
                    url,
                    key,
                    _dir: Some(dir),
                    drop_pg: None,
                }
            }
            "postgres" => {
                let server = postgres_url().expect("ENDWELL_TEST_POSTGRES is set");
                let name = format!("endwell_test_{}", uuid::Uuid::now_v7().simple());
                let admin = Store::connect(&server, key.clone())
                    .await
                    .expect("connect to ENDWELL_TEST_POSTGRES");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&admin.pool)
                    .await
                    .expect("create test database");
                admin.close().await;
                let url = replace_db_name(&server, &name);
                TestDb {
                    url,
                    key,
                    _dir: None,
                    drop_pg: Some((server, name)),
                }
            }
            other => panic!("unknown backend {other}"),
        }
    }

    pub async fn store(&self) -> Store {
        Store::open(&self.url, self.key.clone())
            .await
            .expect("open test database")
    }

    /// Drop the PostgreSQL database (call at the end of a test).
    pub async fn cleanup(self) {
        if let Some((server, name)) = &self.drop_pg
            && let Ok(admin) = Store::connect(server, self.key.clone()).await
        {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&admin.pool)
                .await;
            admin.close().await;
        }
    }
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map(|(b, q)| (b, Some(q))).unwrap_or((url, None));
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn db_name_is_replaced() {
        assert_eq!(
            super::replace_db_name("postgres://u@h:5432/test", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(super::replace_db_name("postgres://h", "x"), "postgres://h/x");
        assert_eq!(
            super::replace_db_name("postgres://h/t?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
    }
}
