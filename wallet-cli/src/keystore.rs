//! An encrypted keystore: one JSON file per named ed25519 key, the secret sealed under a
//! passphrase (argon2id key derivation, XChaCha20-Poly1305), files readable only by their owner.
//!
//! A key named `alice` lives in `<dir>/alice.json`. The file keeps the public key and address
//! in clear (so `bct keys list` needs no passphrase) and binds them to the sealed secret: the
//! public key is the AEAD's associated data, and the decrypted secret must derive it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use bct_ledger::Address;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ed25519_dalek::SigningKey;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Where keys are kept when neither `--keystore` nor `BCT_KEYSTORE` says otherwise, under the
/// home directory.
pub const KEYSTORE_DIR_DEFAULT: &str = ".bct/keys";
/// The key file version this code writes and reads.
pub const KEY_FILE_VERSION: u32 = 1;
/// Most bytes in a key name.
pub const KEY_NAME_BYTES_MAX: usize = 64;
/// Most bytes of a key file read.
pub const KEY_FILE_BYTES_MAX: u64 = 64 * 1024;
/// Largest argon2 memory cost accepted from a file, KiB (1 GiB), so a doctored file cannot
/// make the wallet allocate without bound.
pub const KDF_MEMORY_KIB_MAX: u32 = 1 << 20;
/// Largest argon2 iteration count accepted from a file.
pub const KDF_ITERATIONS_MAX: u32 = 64;
/// Largest argon2 parallelism accepted from a file.
pub const KDF_PARALLELISM_MAX: u32 = 16;

/// Domain tag of the associated data that binds a sealed secret to its public key.
const AAD_DOMAIN: &[u8] = b"bct/keystore/v1\0";
const SALT_BYTES: usize = 16;
const NONCE_BYTES: usize = 24;

/// argon2id costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory, KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl KdfParams {
    /// RFC 9106's second recommended option: 64 MiB, 3 iterations, 1 lane.
    pub const RECOMMENDED: KdfParams = KdfParams { memory_kib: 64 * 1024, iterations: 3, parallelism: 1 };
    /// The cheapest costs argon2 allows: for tests only, never for real keys.
    pub const INSECURE_FOR_TESTS: KdfParams = KdfParams { memory_kib: 8, iterations: 1, parallelism: 1 };
}

/// Why the keystore could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    /// The name cannot be a file name.
    #[error("{0:?} is not a valid key name: use 1 to 64 letters, digits, `-`, `_` or `.`, not starting with `.`")]
    BadName(String),
    /// No such key.
    #[error("there is no key named {name:?} in {dir} (see `bct keys list`, or create it with `bct keys new {name}`)")]
    NotFound {
        /// The name.
        name: String,
        /// The keystore directory.
        dir: PathBuf,
    },
    /// A key of that name exists.
    #[error("a key named {name:?} already exists ({path}); choose another name, or remove that file first")]
    Exists {
        /// The name.
        name: String,
        /// Its file.
        path: PathBuf,
    },
    /// The passphrase does not open the key.
    #[error("wrong passphrase for key {name}")]
    WrongPassphrase {
        /// The name.
        name: String,
    },
    /// An empty passphrase was given for a new key.
    #[error("a key needs a passphrase that is not empty")]
    EmptyPassphrase,
    /// The key file cannot be read as a key.
    #[error("key file {path} is damaged or not a bct key file: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No home directory to put the default keystore in.
    #[error("cannot find the home directory (HOME is not set); give the keystore with --keystore or BCT_KEYSTORE")]
    NoHome,
    /// A file system error.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The key derivation failed.
    #[error("key derivation failed: {0}")]
    Kdf(String),
}

/// A key's public facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// Its name in the keystore.
    pub name: String,
    /// Its ledger address.
    pub address: Address,
    /// Its ed25519 public key.
    pub public_key: [u8; 32],
    /// Its file.
    pub path: PathBuf,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KdfSection {
    algorithm: String,
    version: u32,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CipherSection {
    algorithm: String,
    nonce: String,
}

/// The JSON form of a key file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    version: u32,
    address: String,
    public_key: String,
    kdf: KdfSection,
    cipher: CipherSection,
    /// The sealed 32-byte secret and the 16-byte tag, hex.
    ciphertext: String,
}

const KDF_ALGORITHM: &str = "argon2id";
const CIPHER_ALGORITHM: &str = "xchacha20-poly1305";

/// A directory of encrypted keys.
#[derive(Clone, Debug)]
pub struct Keystore {
    dir: PathBuf,
    kdf: KdfParams,
}

/// Checks that `name` can be a file name in the keystore.
pub fn check_name(name: &str) -> Result<(), KeystoreError> {
    let ok = !name.is_empty()
        && name.len() <= KEY_NAME_BYTES_MAX
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(KeystoreError::BadName(name.to_string()))
    }
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> KeystoreError + 'a {
    move |source| KeystoreError::Io { action, path: path.to_path_buf(), source }
}

fn derive_key(passphrase: &[u8], salt: &[u8], p: KdfParams) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
    let params = Params::new(p.memory_kib, p.iterations, p.parallelism, Some(32))
        .map_err(|e| KeystoreError::Kdf(e.to_string()))?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase, salt, key.as_mut())
        .map_err(|e| KeystoreError::Kdf(e.to_string()))?;
    Ok(key)
}

fn aad(public_key: &[u8; 32]) -> Vec<u8> {
    let mut a = AAD_DOMAIN.to_vec();
    a.extend_from_slice(public_key);
    a
}

impl Keystore {
    /// The keystore in `dir` (created when the first key is written), with the recommended
    /// key derivation costs for new keys.
    pub fn open(dir: impl Into<PathBuf>) -> Keystore {
        Keystore { dir: dir.into(), kdf: KdfParams::RECOMMENDED }
    }

    /// `~/.bct/keys`.
    pub fn default_dir() -> Result<PathBuf, KeystoreError> {
        let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).ok_or(KeystoreError::NoHome)?;
        Ok(PathBuf::from(home).join(KEYSTORE_DIR_DEFAULT))
    }

    /// The same keystore, sealing new keys with `kdf` (existing keys keep the costs they
    /// were sealed with).
    pub fn with_kdf(mut self, kdf: KdfParams) -> Keystore {
        self.kdf = kdf;
        self
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of key `name`.
    pub fn path_of(&self, name: &str) -> Result<PathBuf, KeystoreError> {
        check_name(name)?;
        Ok(self.dir.join(format!("{name}.json")))
    }

    /// Creates a new random key `name` sealed under `passphrase`.
    pub fn create(&self, name: &str, passphrase: &str) -> Result<KeyInfo, KeystoreError> {
        let mut secret = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(secret.as_mut());
        self.import(name, &secret, passphrase)
    }

    /// Stores the 32-byte ed25519 `secret` as key `name`, sealed under `passphrase`. Never
    /// replaces an existing key.
    pub fn import(&self, name: &str, secret: &[u8; 32], passphrase: &str) -> Result<KeyInfo, KeystoreError> {
        let path = self.path_of(name)?;
        if passphrase.is_empty() {
            return Err(KeystoreError::EmptyPassphrase);
        }
        if path.exists() {
            return Err(KeystoreError::Exists { name: name.to_string(), path });
        }
        let signing = SigningKey::from_bytes(secret);
        let public_key = signing.verifying_key().to_bytes();
        let address = Address::from_public_key(&public_key);
        let mut salt = [0u8; SALT_BYTES];
        OsRng.fill_bytes(&mut salt);
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        let key = derive_key(passphrase.as_bytes(), &salt, self.kdf)?;
        let cipher = XChaCha20Poly1305::new(key.as_ref().into());
        let ciphertext = cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: secret, aad: &aad(&public_key) })
            .map_err(|_| KeystoreError::Kdf("encryption failed".into()))?;
        let file = KeyFile {
            version: KEY_FILE_VERSION,
            address: address.to_string(),
            public_key: hex::encode(public_key),
            kdf: KdfSection {
                algorithm: KDF_ALGORITHM.into(),
                version: 0x13,
                memory_kib: self.kdf.memory_kib,
                iterations: self.kdf.iterations,
                parallelism: self.kdf.parallelism,
                salt: hex::encode(salt),
            },
            cipher: CipherSection { algorithm: CIPHER_ALGORITHM.into(), nonce: hex::encode(nonce) },
            ciphertext: hex::encode(ciphertext),
        };
        let mut text = serde_json::to_string_pretty(&file)
            .map_err(|e| KeystoreError::Corrupt { path: path.clone(), reason: e.to_string() })?;
        text.push('\n');
        self.write_new(&path, text.as_bytes())?;
        Ok(KeyInfo { name: name.to_string(), address, public_key, path })
    }

    /// Creates the directory (mode 0700) and writes `path` (mode 0600) without ever replacing
    /// an existing file: written to a temporary file, synced, then linked into place.
    fn write_new(&self, path: &Path, bytes: &[u8]) -> Result<(), KeystoreError> {
        create_private_dir(&self.dir)?;
        let tmp = path.with_extension(format!("json.tmp-{}", std::process::id()));
        let result = (|| {
            let mut f = private_file(&tmp)?;
            f.write_all(bytes).map_err(io("cannot write", &tmp))?;
            f.sync_all().map_err(io("cannot sync", &tmp))?;
            fs::hard_link(&tmp, path).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    KeystoreError::Exists {
                        name: path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
                        path: path.to_path_buf(),
                    }
                } else {
                    KeystoreError::Io { action: "cannot create", path: path.to_path_buf(), source: e }
                }
            })
        })();
        let _ = fs::remove_file(&tmp);
        result
    }

    fn read(&self, name: &str) -> Result<(PathBuf, KeyFile), KeystoreError> {
        let path = self.path_of(name)?;
        let f = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeystoreError::NotFound { name: name.to_string(), dir: self.dir.clone() })
            }
            Err(e) => return Err(KeystoreError::Io { action: "cannot open", path, source: e }),
        };
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::Read::take(f, KEY_FILE_BYTES_MAX), &mut text)
            .map_err(io("cannot read", &path))?;
        let file: KeyFile = serde_json::from_str(&text)
            .map_err(|e| KeystoreError::Corrupt { path: path.clone(), reason: e.to_string() })?;
        if file.version != KEY_FILE_VERSION {
            return Err(KeystoreError::Corrupt {
                path,
                reason: format!("version {} is not {KEY_FILE_VERSION}, the version this wallet reads", file.version),
            });
        }
        Ok((path, file))
    }

    fn info_of(name: &str, path: PathBuf, file: &KeyFile) -> Result<KeyInfo, KeystoreError> {
        let corrupt = |reason: String| KeystoreError::Corrupt { path: path.clone(), reason };
        let public_key: [u8; 32] = hex::decode(&file.public_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| corrupt("public_key is not 32 bytes of hex".into()))?;
        let address = Address::from_public_key(&public_key);
        if file.address != address.to_string() {
            return Err(corrupt(format!("address {} is not the address of its public key ({address})", file.address)));
        }
        Ok(KeyInfo { name: name.to_string(), address, public_key, path })
    }

    /// The public facts of key `name` (no passphrase needed).
    pub fn info(&self, name: &str) -> Result<KeyInfo, KeystoreError> {
        let (path, file) = self.read(name)?;
        Keystore::info_of(name, path, &file)
    }

    /// Every key, by name. A directory that does not exist holds no keys.
    pub fn list(&self) -> Result<Vec<KeyInfo>, KeystoreError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(KeystoreError::Io { action: "cannot list", path: self.dir.clone(), source: e }),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io("cannot list", &self.dir))?;
            let file_name = entry.file_name();
            let Some(name) = file_name.to_str().and_then(|n| n.strip_suffix(".json")) else { continue };
            if check_name(name).is_ok() {
                names.push(name.to_string());
            }
        }
        names.sort();
        names.iter().map(|n| self.info(n)).collect()
    }

    /// Opens key `name` with `passphrase`.
    pub fn unlock(&self, name: &str, passphrase: &str) -> Result<SigningKey, KeystoreError> {
        let (path, file) = self.read(name)?;
        let info = Keystore::info_of(name, path.clone(), &file)?;
        let corrupt = |reason: String| KeystoreError::Corrupt { path: path.clone(), reason };
        if file.kdf.algorithm != KDF_ALGORITHM || file.kdf.version != 0x13 {
            return Err(corrupt(format!("unknown key derivation {} version {}", file.kdf.algorithm, file.kdf.version)));
        }
        if file.cipher.algorithm != CIPHER_ALGORITHM {
            return Err(corrupt(format!("unknown cipher {}", file.cipher.algorithm)));
        }
        let p = KdfParams {
            memory_kib: file.kdf.memory_kib,
            iterations: file.kdf.iterations,
            parallelism: file.kdf.parallelism,
        };
        if p.memory_kib > KDF_MEMORY_KIB_MAX || p.iterations > KDF_ITERATIONS_MAX || p.parallelism > KDF_PARALLELISM_MAX
        {
            return Err(corrupt(format!(
                "key derivation costs {p:?} exceed the limits ({KDF_MEMORY_KIB_MAX} KiB, {KDF_ITERATIONS_MAX} iterations, \
                 {KDF_PARALLELISM_MAX} lanes)"
            )));
        }
        let salt = hex::decode(&file.kdf.salt).map_err(|_| corrupt("kdf.salt is not hex".into()))?;
        let nonce: [u8; NONCE_BYTES] = hex::decode(&file.cipher.nonce)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| corrupt(format!("cipher.nonce is not {NONCE_BYTES} bytes of hex")))?;
        let ciphertext = hex::decode(&file.ciphertext).map_err(|_| corrupt("ciphertext is not hex".into()))?;
        let key = derive_key(passphrase.as_bytes(), &salt, p)?;
        let cipher = XChaCha20Poly1305::new(key.as_ref().into());
        // A wrong passphrase and a doctored file look the same to the AEAD: the tag fails.
        let plain = Zeroizing::new(
            cipher
                .decrypt(XNonce::from_slice(&nonce), Payload { msg: &ciphertext, aad: &aad(&info.public_key) })
                .map_err(|_| KeystoreError::WrongPassphrase { name: name.to_string() })?,
        );
        let secret: Zeroizing<[u8; 32]> = Zeroizing::new(
            plain.as_slice().try_into().map_err(|_| corrupt("the sealed secret is not 32 bytes".into()))?,
        );
        let signing = SigningKey::from_bytes(&secret);
        if signing.verifying_key().to_bytes() != info.public_key {
            return Err(corrupt("the sealed secret does not match the public key".into()));
        }
        Ok(signing)
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> Result<(), KeystoreError> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io("cannot create", dir))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> Result<(), KeystoreError> {
    fs::create_dir_all(dir).map_err(io("cannot create", dir))
}

#[cfg(unix)]
fn private_file(path: &Path) -> Result<fs::File, KeystoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io("cannot create", path))
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> Result<fs::File, KeystoreError> {
    fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(io("cannot create", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_file_names() {
        for good in ["alice", "bank-1", "v.0", "A_b"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".hidden", "a/b", "../x", "with space", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
