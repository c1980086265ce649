//! Sealing sensitive fields at rest (vulnerability notes and, later, other
//! free text about clients). XChaCha20-Poly1305 with a random nonce per value;
//! the key lives outside the database so a copied database file alone does
//! not reveal them.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::StoreError;

/// The 32-byte data key. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct DataKey([u8; 32]);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(***)")
    }
}

impl DataKey {
    pub fn random() -> DataKey {
        let mut k = [0u8; 32];
        rand::rng().fill_bytes(&mut k);
        DataKey(k)
    }

    /// From base64 text, as in `ENDWELL_DATA_KEY` or a key file.
    pub fn from_base64(text: &str) -> Result<DataKey, StoreError> {
        let bytes = B64
            .decode(text.trim())
            .map_err(|_| StoreError::Key("the data key is not valid base64".into()))?;
        let k: [u8; 32] = bytes
            .try_into()
            .map_err(|_| StoreError::Key("the data key must be 32 bytes (44 base64 characters)".into()))?;
        Ok(DataKey(k))
    }

    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    /// Read the key file, or create it (mode 0600) with a new random key.
    pub fn load_or_create(path: &Path) -> Result<DataKey, StoreError> {
        match std::fs::read_to_string(path) {
            Ok(text) => DataKey::from_base64(&text).map_err(|e| StoreError::Key(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = DataKey::random();
                write_private(path, &key.to_base64())
                    .map_err(|e| StoreError::Key(format!("cannot create the key file {}: {e}", path.display())))?;
                tracing::info!(path = %path.display(), "created a new data key file; back it up with the database");
                Ok(key)
            }
            Err(e) => Err(StoreError::Key(format!(
                "cannot read the key file {}: {e}",
                path.display()
            ))),
        }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.0).into())
    }

    /// A keyed fingerprint of a value, for finding sealed values by equality
    /// (e.g. "this sender's earlier contacts") without storing them in clear.
    /// The key is fixed-length and the result is only compared, so a keyed
    /// SHA-256 with a domain separator is enough here.
    pub fn fingerprint(&self, value: &str) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"endwell-fingerprint-v1\0");
        h.update(self.0);
        h.update(value.as_bytes());
        hex::encode(h.finalize())
    }

    /// Seal a value: `v1:` + base64(nonce ‖ ciphertext). Empty stays empty.
    pub fn seal(&self, plain: &str) -> String {
        if plain.is_empty() {
            return String::new();
        }
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), plain.as_bytes())
            .expect("XChaCha20-Poly1305 encryption does not fail for in-memory data");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!("v1:{}", B64.encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<String, StoreError> {
        if sealed.is_empty() {
            return Ok(String::new());
        }
        let wrong = || {
            StoreError::Key(
                "a sealed field cannot be opened with this data key (is it the key this database was created with?)"
                    .into(),
            )
        };
        let bytes = sealed
            .strip_prefix("v1:")
            .and_then(|b| B64.decode(b).ok())
            .ok_or_else(wrong)?;
        if bytes.len() < 24 {
            return Err(wrong());
        }
        let (nonce, ct) = bytes.split_at(24);
        let plain = self
            .cipher()
            .decrypt(XNonce::from_slice(nonce), ct)
            .map_err(|_| wrong())?;
        String::from_utf8(plain).map_err(|_| wrong())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, format!("{text}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open() {
        let k = DataKey::random();
        let s = k.seal("lives alone; recent bereavement");
        assert!(s.starts_with("v1:"));
        assert!(!s.contains("bereavement"));
        assert_eq!(k.open(&s).unwrap(), "lives alone; recent bereavement");
        assert_ne!(k.seal("x"), k.seal("x"), "fresh nonce each time");
        assert!(DataKey::random().open(&s).is_err());
        assert_eq!(k.seal(""), "");
        let again = DataKey::from_base64(&k.to_base64()).unwrap();
        assert_eq!(again.open(&s).unwrap(), "lives alone; recent bereavement");
        assert_eq!(format!("{k:?}"), "DataKey(***)");
    }

    #[test]
    fn key_file_is_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        let a = DataKey::load_or_create(&p).unwrap();
        let b = DataKey::load_or_create(&p).unwrap();
        assert_eq!(a.to_base64(), b.to_base64());
    }
}
