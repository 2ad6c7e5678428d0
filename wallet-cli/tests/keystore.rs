//! The encrypted keystore: round trips, refusals, and what is on disk.

use bct_ledger::Address;
use bct_wallet::keystore::{KdfParams, Keystore, KeystoreError};

fn store(dir: &tempfile::TempDir) -> Keystore {
    Keystore::open(dir.path().join("keys")).with_kdf(KdfParams::INSECURE_FOR_TESTS)
}

#[test]
fn created_key_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ks = store(&dir);
    let info = ks.create("alice", "correct horse").expect("created");
    assert_eq!(info.address, Address::from_public_key(&info.public_key));
    assert_eq!(info.path, dir.path().join("keys").join("alice.json"));
    let key = ks.unlock("alice", "correct horse").expect("unlocked");
    assert_eq!(key.verifying_key().to_bytes(), info.public_key);
    assert_eq!(ks.info("alice").expect("info"), info);
    // The secret is not in the file in clear.
    let text = std::fs::read_to_string(&info.path).expect("read");
    assert!(!text.contains(&hex::encode(key.to_bytes())));
}

#[test]
fn imported_secret_gives_the_protocol_vector_address_and_exports_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ks = store(&dir);
    // The signing key of docs/PROTOCOL.md's test vectors.
    let info = ks.import("vector", &[1u8; 32], "pass").expect("imported");
    assert_eq!(info.address.to_string(), "bct1sdtp4kee3lv8lrn7mqe3hle0ew29wv7vvlqanz");
    assert_eq!(hex::encode(info.public_key), "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c");
    assert_eq!(ks.unlock("vector", "pass").expect("unlocked").to_bytes(), [1u8; 32]);
}

#[test]
fn wrong_passphrase_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ks = store(&dir);
    ks.create("bank", "right").expect("created");
    let e = ks.unlock("bank", "wrong").expect_err("refused");
    assert!(matches!(e, KeystoreError::WrongPassphrase { .. }));
    assert_eq!(e.to_string(), "wrong passphrase for key bank");
    assert!(ks.unlock("bank", "").is_err());
}

#[cfg(unix)]
#[test]
fn key_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let ks = store(&dir);
    let info = ks.create("alice", "pw").expect("created");
    let mode = std::fs::metadata(&info.path).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "key file mode is {mode:o}");
    let dir_mode = std::fs::metadata(ks.dir()).expect("meta").permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700, "keystore directory mode is {dir_mode:o}");
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(ks.dir())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into())
        .collect();
    assert_eq!(names, vec!["alice.json".to_string()]);
}

#[test]
fn existing_names_bad_names_and_empty_passphrases_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ks = store(&dir);
    let first = ks.create("alice", "pw").expect("created");
    assert!(matches!(ks.create("alice", "pw"), Err(KeystoreError::Exists { .. })));
    // The first key is untouched.
    assert_eq!(ks.unlock("alice", "pw").expect("still opens").verifying_key().to_bytes(), first.public_key);
    assert!(matches!(ks.create("../evil", "pw"), Err(KeystoreError::BadName(_))));
    assert!(matches!(ks.create("bob", ""), Err(KeystoreError::EmptyPassphrase)));
    let e = ks.unlock("carol", "pw").expect_err("missing");
    assert!(e.to_string().contains("bct keys new carol"), "{e}");
}

#[test]
fn list_is_sorted_and_skips_other_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ks = store(&dir);
    assert!(ks.list().expect("empty list").is_empty());
    for name in ["zed", "alice", "mid"] {
        ks.create(name, "pw").expect("created");
    }
    std::fs::write(ks.dir().join("notes.txt"), "not a key").expect("write");
    let names: Vec<String> = ks.list().expect("list").into_iter().map(|k| k.name).collect();
    assert_eq!(names, ["alice", "mid", "zed"]);
}

#[test]
fn doctored_files_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ks = store(&dir);
    let info = ks.create("alice", "pw").expect("created");
    let original = std::fs::read_to_string(&info.path).expect("read");
    let mut v: serde_json::Value = serde_json::from_str(&original).expect("json");

    // Another public key and its address: the sealed secret is bound to the original key.
    let other = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]).verifying_key().to_bytes();
    v["public_key"] = hex::encode(other).into();
    v["address"] = Address::from_public_key(&other).to_string().into();
    std::fs::write(&info.path, v.to_string()).expect("write");
    assert!(ks.unlock("alice", "pw").is_err());

    // An address that is not the key's.
    let mut v: serde_json::Value = serde_json::from_str(&original).expect("json");
    v["address"] = Address::from_public_key(&other).to_string().into();
    std::fs::write(&info.path, v.to_string()).expect("write");
    assert!(matches!(ks.info("alice"), Err(KeystoreError::Corrupt { .. })));

    // Absurd key derivation costs are refused before any work.
    let mut v: serde_json::Value = serde_json::from_str(&original).expect("json");
    v["kdf"]["memory_kib"] = (u32::MAX).into();
    std::fs::write(&info.path, v.to_string()).expect("write");
    let e = ks.unlock("alice", "pw").expect_err("refused");
    assert!(e.to_string().contains("exceed the limits"), "{e}");

    // Not JSON at all.
    std::fs::write(&info.path, "garbage").expect("write");
    assert!(matches!(ks.info("alice"), Err(KeystoreError::Corrupt { .. })));
}
