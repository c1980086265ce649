//! Configuration in layers: compiled-in defaults, then a TOML file
//! (`--config`, `ENDWELL_CONFIG`, or `endwell.toml` if present), then
//! `ENDWELL_*` environment variables, then command-line flags (clap reads
//! the flag-or-variable pairs; the file fills in what neither gave).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

/// The annotated example printed by `endwell config`.
pub const EXAMPLE: &str = include_str!("../endwell.example.toml");

/// What a config file may say. Unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub database: Option<String>,
    pub listen: Option<String>,
    pub data_key_file: Option<PathBuf>,
    pub secure_cookies: Option<bool>,
    pub session_hours: Option<i64>,
    pub log: Option<String>,
    pub public_url: Option<String>,
    pub calendar_refresh_minutes: Option<u64>,
    /// A folder of triage packs (*.toml) instead of the built-in English pack.
    pub triage_packs: Option<PathBuf>,
}

impl FileConfig {
    /// Read the file named, or `endwell.toml` in the current folder if there is one.
    pub fn load(path: Option<&Path>) -> anyhow::Result<FileConfig> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from("endwell.toml"), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                toml::from_str(&text).with_context(|| format!("the config file {} is not valid", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Ok(FileConfig::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read the config file {}", path.display())),
        }
    }
}

/// Where the data key comes from: `ENDWELL_DATA_KEY`, else the key file
/// (configured, or beside a SQLite database, or `endwell.key`).
pub fn data_key(database: &str, configured: Option<&Path>) -> anyhow::Result<endwell_store::DataKey> {
    if let Ok(k) = std::env::var("ENDWELL_DATA_KEY")
        && !k.trim().is_empty()
    {
        return endwell_store::DataKey::from_base64(&k).context("ENDWELL_DATA_KEY");
    }
    let path = match configured {
        Some(p) => p.to_path_buf(),
        None => default_key_file(database)?,
    };
    Ok(endwell_store::DataKey::load_or_create(&path)?)
}

pub fn default_key_file(database: &str) -> anyhow::Result<PathBuf> {
    let (url, backend) = endwell_store::normalize_url(database)?;
    Ok(match backend {
        endwell_store::Backend::Sqlite => {
            let path = url.trim_start_matches("sqlite://");
            let path = path.split('?').next().unwrap_or(path);
            if path.is_empty() {
                bail!("no database path given");
            }
            PathBuf::from(format!("{path}.key"))
        }
        endwell_store::Backend::Postgres => PathBuf::from("endwell.key"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_is_valid() {
        let c: FileConfig = toml::from_str(EXAMPLE).unwrap();
        assert!(c.database.is_some());
        let err = toml::from_str::<FileConfig>("databse = \"x\"").unwrap_err().to_string();
        assert!(err.contains("databse"), "{err}");
    }

    #[test]
    fn key_file_sits_beside_sqlite() {
        assert_eq!(
            default_key_file("data/endwell.db").unwrap(),
            PathBuf::from("data/endwell.db.key")
        );
        assert_eq!(
            default_key_file("postgres://h/db").unwrap(),
            PathBuf::from("endwell.key")
        );
    }
}
