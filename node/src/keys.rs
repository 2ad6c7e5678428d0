//! Key files: an ed25519 secret in hex JSON, readable only by its owner (mode 0600), and the
//! identities derived from a key (ledger address, libp2p peer id).

use std::path::Path;

use bct_ledger::Address;
use ed25519_dalek::SigningKey;
use malachitebft_app_channel::app::types::Keypair;
use serde::{Deserialize, Serialize};

use crate::error::NodeError;

/// The JSON form of a key file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    /// Public key, hex (informative; checked against the secret).
    public_key: String,
    /// The bech32 address (informative).
    address: String,
    /// 32-byte secret, hex.
    secret_key: String,
}

/// An ed25519 key pair.
#[derive(Clone)]
pub struct NodeKey {
    signing: SigningKey,
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKey").field("public_key", &hex::encode(self.public_key())).finish()
    }
}

impl NodeKey {
    /// A new random key.
    pub fn generate() -> NodeKey {
        NodeKey { signing: SigningKey::generate(&mut rand_core::OsRng) }
    }

    /// The key with this 32-byte secret.
    pub fn from_secret(secret: [u8; 32]) -> NodeKey {
        NodeKey { signing: SigningKey::from_bytes(&secret) }
    }

    /// The secret.
    pub fn secret(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The dalek signing key (for signing transactions).
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// The public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// The ledger address.
    pub fn address(&self) -> Address {
        Address::from_public_key(&self.public_key())
    }

    /// The libp2p identity: the same ed25519 secret, so the peer id follows from the public key.
    pub fn libp2p_keypair(&self) -> Result<Keypair, NodeError> {
        Keypair::ed25519_from_bytes(self.secret())
            .map_err(|e| NodeError::Config(format!("cannot make a network identity from the node key: {e}")))
    }

    /// Reads a key file; refuses one that others than its owner may read or write (the secret
    /// would be known to them), saying how to fix it.
    pub fn load(path: &Path) -> Result<NodeKey, NodeError> {
        let err = |reason: String| NodeError::Key { path: path.display().to_string(), reason };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).map_err(|e| err(e.to_string()))?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(err(format!(
                    "the secret key is open to other users (mode {mode:o}); make it readable by its owner only: \
                     chmod 600 {}",
                    path.display()
                )));
            }
        }
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let file: KeyFile = serde_json::from_str(&text).map_err(|e| err(format!("not a key file: {e}")))?;
        let secret: [u8; 32] = hex::decode(file.secret_key.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| err("secret_key must be 64 hex digits".into()))?;
        let key = NodeKey::from_secret(secret);
        if hex::encode(key.public_key()) != file.public_key.trim().to_lowercase() {
            return Err(err("public_key does not match secret_key; the file is damaged".into()));
        }
        Ok(key)
    }

    /// Writes a key file readable only by its owner; refuses to overwrite one.
    pub fn save(&self, path: &Path) -> Result<(), NodeError> {
        let err = |reason: String| NodeError::Key { path: path.display().to_string(), reason };
        let file = KeyFile {
            public_key: hex::encode(self.public_key()),
            address: self.address().to_string(),
            secret_key: hex::encode(self.secret()),
        };
        let text = serde_json::to_string_pretty(&file).map_err(|e| err(e.to_string()))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options
            .open(path)
            .map_err(|e| err(format!("cannot create: {e} (an existing key is never overwritten)")))?;
        std::io::Write::write_all(&mut f, text.as_bytes()).map_err(|e| err(e.to_string()))?;
        Ok(())
    }
}

/// The libp2p peer id of the node whose ed25519 public key is `public_key`.
pub fn peer_id_of(public_key: &[u8; 32]) -> Result<libp2p_identity::PeerId, NodeError> {
    let key = libp2p_identity::ed25519::PublicKey::try_from_bytes(public_key)
        .map_err(|e| NodeError::Config(format!("{} is not an ed25519 public key: {e}", hex::encode(public_key))))?;
    Ok(libp2p_identity::PublicKey::from(key).to_peer_id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_may_read_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("node_key.json");
        let k = NodeKey::generate();
        k.save(&path).expect("save");
        assert!(NodeKey::load(&path).is_ok(), "mode 600 is accepted");
        for mode in [0o644, 0o640, 0o604, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
            let e = NodeKey::load(&path).expect_err("refused").to_string();
            assert!(e.contains(&format!("mode {mode:o}")) && e.contains("chmod 600"), "{e}");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).expect("chmod");
        assert!(NodeKey::load(&path).is_ok(), "read-only for its owner is fine");
    }

    #[test]
    fn key_file_round_trips_and_peer_id_matches_libp2p() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.json");
        let k = NodeKey::generate();
        k.save(&path).expect("save");
        assert!(k.save(&path).is_err(), "never overwrites");
        let back = NodeKey::load(&path).expect("load");
        assert_eq!(back.public_key(), k.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let from_keypair = k.libp2p_keypair().expect("keypair").public().to_peer_id();
        assert_eq!(peer_id_of(&k.public_key()).expect("peer id"), from_keypair);
    }
}
