//! `bct keys ...`, passphrases (file, `BCT_PASSPHRASE`, or a prompt) and unlocking the signer.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context};
use bct_wallet::keystore::{KeyInfo, Keystore};
use bct_wallet::parse;
use clap::Subcommand;
use ed25519_dalek::SigningKey;
use serde_json::json;
use zeroize::Zeroizing;

use super::output::{fields, Out, Table};
use super::Cli;

/// Environment variable holding the key passphrase, for scripts.
pub(crate) const PASSPHRASE_ENV: &str = "BCT_PASSPHRASE";

#[derive(Subcommand, Debug)]
pub(crate) enum KeysCmd {
    /// Create a new random key, sealed under a passphrase.
    New {
        /// Name of the key (letters, digits, -, _ and .).
        name: String,
    },
    /// Store an existing 32-byte ed25519 secret as a key.
    Import {
        /// Name of the key.
        name: String,
        /// File with the secret as 64 hex digits, or a node key file (JSON with "secret_key");
        /// `-` reads standard input. Without it, the secret is asked for.
        #[arg(long, value_name = "FILE")]
        secret_file: Option<PathBuf>,
    },
    /// Print a key's raw secret in hex (handle with care: it is the key).
    Export {
        /// Name of the key.
        name: String,
    },
    /// List the keys in the keystore.
    List,
    /// Show a key's address and public key.
    Show {
        /// Name of the key.
        name: String,
    },
}

/// The keystore the options point at.
pub(crate) fn keystore(cli: &Cli) -> anyhow::Result<Keystore> {
    let dir = match &cli.keystore {
        Some(d) => d.clone(),
        None => Keystore::default_dir()?,
    };
    Ok(Keystore::open(dir))
}

/// The passphrase of key `name`: from `--passphrase-file`, else `BCT_PASSPHRASE`, else asked
/// for on the terminal (twice when `confirm`, for a new key).
pub(crate) fn passphrase(cli: &Cli, name: &str, confirm: bool) -> anyhow::Result<Zeroizing<String>> {
    if let Some(path) = &cli.passphrase_file {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the passphrase file {}", path.display()))?,
        );
        let first = text.lines().next().unwrap_or("");
        return Ok(Zeroizing::new(first.to_string()));
    }
    if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
        return Ok(Zeroizing::new(p));
    }
    let ask = |prompt: String| match super::prompt::hidden(&prompt) {
        Ok(answer) => Ok(Zeroizing::new(answer)),
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Err(anyhow::anyhow!("{e}")),
        Err(e) => Err(anyhow::Error::new(e).context(format!(
            "cannot ask for the passphrase of key {name} (no terminal?); set {PASSPHRASE_ENV} or pass \
                 --passphrase-file FILE"
        ))),
    };
    let first = ask(format!("passphrase for key {name}: "))?;
    if confirm {
        let second = ask(format!("repeat the passphrase for key {name}: "))?;
        if *first != *second {
            bail!("the two passphrases differ; nothing was written");
        }
    }
    Ok(first)
}

/// Opens the key that signs.
pub(crate) fn signer(cli: &Cli, name: &str) -> anyhow::Result<SigningKey> {
    let store = keystore(cli)?;
    // Look the key up before asking for a passphrase, so a typo is reported at once.
    store.info(name)?;
    let pass = passphrase(cli, name, false)?;
    Ok(store.unlock(name, &pass)?)
}

fn info_json(k: &KeyInfo) -> serde_json::Value {
    json!({
        "name": k.name,
        "address": k.address.to_string(),
        "public_key": hex::encode(k.public_key),
        "file": k.path.display().to_string(),
    })
}

fn info_text(k: &KeyInfo) -> String {
    fields(&[
        ("name", k.name.clone()),
        ("address", k.address.to_string()),
        ("public key", hex::encode(k.public_key)),
        ("file", k.path.display().to_string()),
    ])
}

/// Reads a secret: 64 hex digits, or a node key file's `secret_key`.
fn read_secret(name: &str, file: Option<&PathBuf>) -> anyhow::Result<Zeroizing<[u8; 32]>> {
    let text = match file {
        Some(p) if p.as_os_str() == "-" => {
            let mut s = String::new();
            std::io::stdin()
                .take(64 * 1024)
                .read_to_string(&mut s)
                .context("cannot read the secret from standard input")?;
            Zeroizing::new(s)
        }
        Some(p) => Zeroizing::new(
            std::fs::read_to_string(p).with_context(|| format!("cannot read the secret file {}", p.display()))?,
        ),
        None => {
            Zeroizing::new(super::prompt::hidden(&format!("secret of key {name} (64 hex digits): ")).map_err(|e| {
                if e.kind() == std::io::ErrorKind::Interrupted {
                    anyhow::anyhow!("{e}")
                } else {
                    anyhow::Error::new(e)
                        .context("cannot ask for the secret (no terminal?); give it with --secret-file FILE")
                }
            })?)
        }
    };
    let trimmed = text.trim();
    let hex_text: Zeroizing<String> = if trimmed.starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(trimmed).context("the secret file is JSON but not a key file")?;
        let Some(s) = v.get("secret_key").and_then(|s| s.as_str()) else {
            bail!("the JSON key file has no \"secret_key\" field");
        };
        Zeroizing::new(s.to_string())
    } else {
        Zeroizing::new(trimmed.to_string())
    };
    let secret = parse::secret(&hex_text).map_err(anyhow::Error::msg)?;
    Ok(Zeroizing::new(secret))
}

pub(crate) fn run(cli: &Cli, cmd: &KeysCmd, out: Out) -> anyhow::Result<()> {
    let store = keystore(cli)?;
    match cmd {
        KeysCmd::New { name } => {
            bct_wallet::keystore::check_name(name)?;
            let path = store.path_of(name)?;
            if path.exists() {
                bail!("a key named {name:?} already exists ({}); choose another name", path.display());
            }
            let pass = passphrase(cli, name, true)?;
            let k = store.create(name, &pass)?;
            out.show(&info_json(&k), || {
                format!(
                    "{}\nGive the address to the authority or your exchange to be admitted. Keep the passphrase: \
                     without it the key cannot be opened.",
                    info_text(&k)
                )
            });
        }
        KeysCmd::Import { name, secret_file } => {
            bct_wallet::keystore::check_name(name)?;
            let path = store.path_of(name)?;
            if path.exists() {
                bail!("a key named {name:?} already exists ({}); choose another name", path.display());
            }
            let secret = read_secret(name, secret_file.as_ref())?;
            let pass = passphrase(cli, name, true)?;
            let k = store.import(name, &secret, &pass)?;
            out.show(&info_json(&k), || info_text(&k));
        }
        KeysCmd::Export { name } => {
            let key = signer(cli, name)?;
            let k = store.info(name)?;
            let secret = Zeroizing::new(hex::encode(key.to_bytes()));
            eprintln!("warning: this is the secret of key {name}; anyone who sees it can sign as {}", k.address);
            let mut v = info_json(&k);
            v["secret_key"] = json!(secret.as_str());
            out.show(&v, || secret.to_string());
        }
        KeysCmd::List => {
            let keys = store.list()?;
            let v = json!(keys.iter().map(info_json).collect::<Vec<_>>());
            out.show(&v, || {
                if keys.is_empty() {
                    return format!("no keys in {} (create one with `bct keys new NAME`)", store.dir().display());
                }
                let mut t = Table::new(&["NAME", "ADDRESS"]);
                for k in &keys {
                    t.row(vec![k.name.clone(), k.address.to_string()]);
                }
                t.render()
            });
        }
        KeysCmd::Show { name } => {
            let k = store.info(name)?;
            out.show(&info_json(&k), || info_text(&k));
        }
    }
    Ok(())
}
