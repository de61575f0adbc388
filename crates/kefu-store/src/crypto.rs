//! Field encryption for customer data, the data key and its file, and blind indexes.
//!
//! * The **data key** (32 random bytes) lives in `<data_dir>/kefu.key`, mode 0600, as a small
//!   text file. Its **key id** (8 bytes, shown as hex) is derived from the key, so the id is a
//!   fingerprint: a hand-edited file whose id and key disagree is rejected. The key itself is
//!   never printed: `Debug` redacts it and no error carries it.
//! * Subkeys are derived with HKDF-SHA256 under distinct labels: one for XChaCha20-Poly1305
//!   field encryption, one for the HMAC-SHA256 blind index. Using one key for two purposes
//!   would tie their security together.
//! * **Ciphertext layout** (stored as BLOB/BYTEA):
//!   `[format version u8 = 1][algorithm u8 = 1 (XChaCha20-Poly1305)][key id 8][nonce 24][ciphertext + 16-byte tag]`.
//!   The AAD binds the header and the table, column and row id (length-prefixed), so a value
//!   copied to another row or column, or with an edited header, fails to decrypt.
//! * **Blind index**: HMAC-SHA256 over (contract id, field, normalized value), so equal phone
//!   numbers can be found without decrypting every row, and the same number in two contracts
//!   does not link the two (each contract's data stays apart).

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::StoreError;

/// File name of the data key inside the data folder.
pub const KEY_FILE_NAME: &str = "kefu.key";

const FORMAT_VERSION: u8 = 1;
const ALG_XCHACHA20_POLY1305: u8 = 1;
const HEADER_LEN: usize = 1 + 1 + 8;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// The public fingerprint of a data key (8 bytes, shown as 16 hex digits).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; 8]);

impl KeyId {
    pub fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// The secret data key. Deliberately not `Clone`, and `Debug` shows only the id.
pub struct DataKey {
    id: KeyId,
    bytes: [u8; 32],
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("id", &self.id)
            .field("bytes", &"<redacted>")
            .finish()
    }
}

impl DataKey {
    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Result<DataKey, StoreError> {
        let bytes = <[u8; 32]>::try_generate().map_err(|e| StoreError::Random(e.to_string()))?;
        Ok(DataKey::from_bytes(bytes))
    }

    fn from_bytes(bytes: [u8; 32]) -> DataKey {
        let id = derive_key_id(&bytes);
        DataKey { id, bytes }
    }

    pub fn id(&self) -> KeyId {
        self.id
    }

    /// Reads the key file; `Ok(None)` when it does not exist.
    pub fn load(path: &Path) -> Result<Option<DataKey>, StoreError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StoreError::Io {
                    action: "cannot read the key file",
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        // An editor may have added a byte-order mark.
        DataKey::parse(text.strip_prefix('\u{feff}').unwrap_or(&text), path).map(Some)
    }

    /// Parses the key file format written by [`DataKey::write_new`].
    fn parse(text: &str, path: &Path) -> Result<DataKey, StoreError> {
        // Reasons never quote the file's content: a line might be the key.
        let bad = |reason: &str| StoreError::InvalidKeyFile {
            path: path.to_path_buf(),
            reason: reason.to_owned(),
        };
        let (mut version, mut key_id, mut key) = (None, None, None);
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((name, value)) = line.split_once('=') else {
                return Err(bad(&format!("line {} is not `name = value`", n + 1)));
            };
            let value = value.trim();
            match name.trim() {
                "version" => version = Some(value),
                "key_id" => key_id = Some(value),
                "key" => key = Some(value),
                _ => return Err(bad(&format!("line {}: unknown setting", n + 1))),
            }
        }
        if version != Some("1") {
            return Err(bad("missing or unsupported `version` (expected 1)"));
        }
        let key_id = key_id.ok_or_else(|| bad("missing `key_id`"))?;
        let key = key.ok_or_else(|| bad("missing `key`"))?;
        let decoded = BASE64
            .decode(key)
            .map_err(|_| bad("`key` is not valid base64"))?;
        let bytes: [u8; 32] = decoded
            .try_into()
            .map_err(|_| bad("`key` is not 32 bytes"))?;
        let data_key = DataKey::from_bytes(bytes);
        if data_key.id.to_string() != key_id.to_ascii_lowercase() {
            return Err(bad(
                "`key_id` does not belong to `key` (the file was edited or damaged)",
            ));
        }
        Ok(data_key)
    }

    /// Writes the key to a new file with mode 0600; fails if the file already exists, so an
    /// existing key is never overwritten.
    pub fn write_new(&self, path: &Path) -> Result<(), StoreError> {
        let io_err = |action: &'static str| {
            let path = path.to_path_buf();
            move |source| StoreError::Io {
                action,
                path,
                source,
            }
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(path)
            .map_err(io_err("cannot create the key file"))?;
        let text = format!(
            "# kefu data key. Keep it secret and back it up together with the database:\n\
             # without this file the encrypted customer data cannot be read.\n\
             version = 1\nkey_id = {}\nkey = {}\n",
            self.id,
            BASE64.encode(self.bytes)
        );
        file.write_all(text.as_bytes())
            .map_err(io_err("cannot write the key file"))?;
        file.sync_all()
            .map_err(io_err("cannot write the key file"))?;
        Ok(())
    }
}

fn hkdf_expand(key: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's output limit (255 × 32 bytes): expand cannot fail.
    match Hkdf::<Sha256>::new(Some(b"kefu data key v1"), key).expand(label, &mut out) {
        Ok(()) => out,
        Err(_) => unreachable!("HKDF-SHA256 can always expand 32 bytes"),
    }
}

fn derive_key_id(key: &[u8; 32]) -> KeyId {
    let full = hkdf_expand(key, b"key id");
    let mut id = [0u8; 8];
    id.copy_from_slice(&full[..8]);
    KeyId(id)
}

/// Which stored value a ciphertext belongs to; goes into the AAD.
#[derive(Debug, Clone, Copy)]
pub struct FieldRef<'a> {
    pub table: &'static str,
    pub column: &'static str,
    pub row: &'a str,
}

impl<'a> FieldRef<'a> {
    pub fn new(table: &'static str, column: &'static str, row: &'a str) -> Self {
        FieldRef { table, column, row }
    }

    fn decrypt_error(&self, reason: &'static str) -> StoreError {
        StoreError::Decrypt {
            table: self.table,
            column: self.column,
            row: self.row.to_owned(),
            reason,
        }
    }
}

/// Encrypts and decrypts individual fields, and computes blind indexes, with the subkeys of
/// one data key.
pub struct FieldCipher {
    key_id: KeyId,
    aead: XChaCha20Poly1305,
    blind_index_key: [u8; 32],
}

impl fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldCipher")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl FieldCipher {
    pub fn new(key: &DataKey) -> FieldCipher {
        let enc_key = hkdf_expand(&key.bytes, b"field encryption xchacha20poly1305");
        FieldCipher {
            key_id: key.id,
            aead: XChaCha20Poly1305::new(&enc_key.into()),
            blind_index_key: hkdf_expand(&key.bytes, b"blind index hmac-sha256"),
        }
    }

    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    fn header(&self) -> [u8; HEADER_LEN] {
        let mut header = [0u8; HEADER_LEN];
        header[0] = FORMAT_VERSION;
        header[1] = ALG_XCHACHA20_POLY1305;
        header[2..].copy_from_slice(&self.key_id.0);
        header
    }

    /// Encrypts one field value for the given table/column/row.
    pub fn encrypt(&self, field: FieldRef<'_>, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let header = self.header();
        // 24-byte random nonces: collisions are negligible even for billions of values. They
        // come from the thread's CSPRNG (ChaCha, seeded and reseeded from the OS), not from a
        // system call per value: importing millions of callers is otherwise syscall-bound.
        let mut nonce_bytes = [0u8; NONCE_LEN];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut nonce_bytes);
        let aad = aad(&header, field);
        let sealed = self
            .aead
            .encrypt(
                &XNonce::from(nonce_bytes),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::Encrypt)?;
        let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + sealed.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts a value written by [`FieldCipher::encrypt`] for the same table/column/row.
    pub fn decrypt(&self, field: FieldRef<'_>, stored: &[u8]) -> Result<Vec<u8>, StoreError> {
        if stored.len() < HEADER_LEN + NONCE_LEN + TAG_LEN {
            return Err(field.decrypt_error("value too short to be a ciphertext"));
        }
        let (header, rest) = stored.split_at(HEADER_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        if header[0] != FORMAT_VERSION {
            return Err(field.decrypt_error("unknown ciphertext format version"));
        }
        if header[1] != ALG_XCHACHA20_POLY1305 {
            return Err(field.decrypt_error("unknown encryption algorithm"));
        }
        if header[2..] != self.key_id.0 {
            return Err(field.decrypt_error("written with a different data key"));
        }
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| field.decrypt_error("bad nonce length"))?;
        let aad = aad(header, field);
        self.aead
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                field.decrypt_error(
                    "authentication failed (wrong key, or the value was moved or altered)",
                )
            })
    }

    /// Encrypts a UTF-8 string field.
    pub fn encrypt_str(&self, field: FieldRef<'_>, value: &str) -> Result<Vec<u8>, StoreError> {
        self.encrypt(field, value.as_bytes())
    }

    /// Decrypts a UTF-8 string field.
    pub fn decrypt_str(&self, field: FieldRef<'_>, stored: &[u8]) -> Result<String, StoreError> {
        let bytes = self.decrypt(field, stored)?;
        String::from_utf8(bytes).map_err(|_| field.decrypt_error("plaintext is not UTF-8"))
    }

    /// HMAC-SHA256 blind index of an already-normalized value of `field` in one contract.
    pub fn blind_index(&self, contract_id: &str, field: &str, normalized: &str) -> Vec<u8> {
        let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.blind_index_key) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        };
        for part in [contract_id, field, normalized] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().to_vec()
    }
}

fn aad(header: &[u8], field: FieldRef<'_>) -> Vec<u8> {
    let mut aad = Vec::with_capacity(64);
    aad.extend_from_slice(b"kefu-field-v1");
    aad.extend_from_slice(header);
    for part in [field.table, field.column, field.row] {
        aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

/// Phone numbers are compared on their digits; a mainland China mobile number with a `+86` /
/// `0086` prefix matches the same number without it.
pub fn normalize_phone(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    for prefix in ["0086", "86"] {
        if let Some(rest) = digits.strip_prefix(prefix)
            && rest.len() == 11
            && rest.starts_with('1')
        {
            return rest.to_owned();
        }
    }
    digits
}

/// Email addresses are compared trimmed and lower-cased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Path of the key file inside a data folder.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DataKey {
        DataKey::from_bytes([7u8; 32])
    }

    #[test]
    fn round_trip_and_binding() -> Result<(), StoreError> {
        let cipher = FieldCipher::new(&key());
        let here = FieldRef::new("customers", "phone_enc", "row-1");
        let ct = cipher.encrypt_str(here, "13800138000")?;
        assert_eq!(ct[0], FORMAT_VERSION);
        assert_eq!(ct[1], ALG_XCHACHA20_POLY1305);
        assert_eq!(&ct[2..10], key().id().as_bytes());
        assert_eq!(cipher.decrypt_str(here, &ct)?, "13800138000");

        let other_row = FieldRef::new("customers", "phone_enc", "row-2");
        assert!(cipher.decrypt(other_row, &ct).is_err());
        let other_column = FieldRef::new("customers", "email_enc", "row-1");
        assert!(cipher.decrypt(other_column, &ct).is_err());

        let other_key = FieldCipher::new(&DataKey::from_bytes([8u8; 32]));
        assert!(other_key.decrypt(here, &ct).is_err());
        Ok(())
    }

    #[test]
    fn key_file_round_trips_and_rejects_edits() -> Result<(), StoreError> {
        let dir = std::env::temp_dir().join(format!("kefu-key-test-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
            action: "mkdir",
            path: dir.clone(),
            source,
        })?;
        let path = key_path(&dir);
        let k = DataKey::generate()?;
        k.write_new(&path)?;
        assert!(k.write_new(&path).is_err(), "must not overwrite");
        let loaded = DataKey::load(&path)?;
        assert_eq!(loaded.map(|l| l.id()), Some(k.id()));

        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let edited = text.replace(&k.id().to_string(), "0000000000000000");
        assert!(matches!(
            DataKey::parse(&edited, &path),
            Err(StoreError::InvalidKeyFile { .. })
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
            assert_eq!(mode.ok(), Some(0o600));
        }
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }

    #[test]
    fn normalization() {
        assert_eq!(normalize_phone("+86 138-0013-8000"), "13800138000");
        assert_eq!(normalize_phone("0086 13800138000"), "13800138000");
        assert_eq!(normalize_phone("(010) 6512 3456"), "01065123456");
        assert_eq!(
            normalize_email("  Li.Wei@Example.COM "),
            "li.wei@example.com"
        );
    }
}
