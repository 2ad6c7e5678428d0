//! Transaction commands: build the transaction from the arguments, sign it with the chosen
//! key, submit it (waiting for the commit by default) and print the result.

use std::path::Path;

use anyhow::{bail, Context};
use bct_ledger::genesis::GenesisValidator;
use bct_ledger::tx::{
    AdmitAccount, Attest, Cancel, Freeze, FreezeTarget, Issue, Pledge, ProjectStatusChange, ReinstateAccount, Release,
    Retire, Seize, SuspendAccount, Trade, Transfer, Unfreeze, UpdateAccount, UpdateProject, UpdateValidators,
};
use bct_ledger::types::{Location, Methodology, Validator};
use bct_ledger::{Hash, TxKind};
use bct_wallet::client::certificate::CertificateFile;
use bct_wallet::client::{Client, Receipt, TxOptions, TxStatus};
use bct_wallet::{parse, view};
use ed25519_dalek::Signer;
use serde_json::{json, Value};

use super::output::{fields, Out};
use super::{
    keys, AccountCmd, Cli, Command, ProjectCmd, ReportArgs, TargetArgs, TxOpts, ValidatorSetArgs, ValidatorsCmd,
};

/// A transaction that was submitted and is not committed yet, after the wait.
#[derive(Debug, thiserror::Error)]
#[error(
    "transaction {tx_id} was admitted but not committed within the wait; it is {state}. Check it with \
     `bct tx {tx_id}` (or wait longer with --wait-ms)"
)]
pub(crate) struct NotCommitted {
    tx_id: Hash,
    state: &'static str,
}

/// Ctrl-C while waiting for the commit: the transaction was submitted and may still commit.
#[derive(Debug, thiserror::Error)]
#[error(
    "stopped waiting (Ctrl-C); transaction {tx_id} was submitted and may still be committed: follow it with \
     `bct tx {tx_id}`, and do not sign the same transfer again before it is settled"
)]
pub(crate) struct StoppedWaiting {
    tx_id: Hash,
}

fn report_hash(r: &ReportArgs) -> anyhow::Result<Hash> {
    match (&r.report, &r.report_hash) {
        (Some(path), _) => {
            let bytes = std::fs::read(path).with_context(|| format!("cannot read the report {}", path.display()))?;
            Ok(Hash::of(&bytes))
        }
        (None, Some(h)) => Ok(*h),
        (None, None) => bail!("give the report with --report FILE or its hash with --report-hash HEX"),
    }
}

fn target(t: &TargetArgs) -> anyhow::Result<FreezeTarget> {
    match (&t.account, &t.ticket) {
        (Some(a), None) => Ok(FreezeTarget::Account(*a)),
        (None, Some(id)) => Ok(FreezeTarget::Ticket(id.clone())),
        _ => bail!("give exactly one of --account ADDRESS or --ticket ID"),
    }
}

/// The new validator set from `--validator` and `--validators-file`, sorted by address (the
/// order the ledger hashes and approvals cover).
fn validator_set(args: &ValidatorSetArgs) -> anyhow::Result<Vec<Validator>> {
    let mut set = args.validators.clone();
    if let Some(path) = &args.validators_file {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let value: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
        // A genesis.json works too: its `validators` list has the same shape.
        let list = value.get("validators").cloned().unwrap_or(value);
        let parsed: Vec<GenesisValidator> = serde_json::from_value(list).with_context(|| {
            format!("{}: expected a list of {{\"public_key\": HEX, \"power\": N, \"name\": TEXT}}", path.display())
        })?;
        set.extend(parsed.into_iter().map(|g| Validator { public_key: g.public_key, power: g.power, name: g.name }));
    }
    if set.is_empty() {
        bail!("give the new validator set with --validator KEY:POWER:NAME (repeated) or --validators-file FILE");
    }
    set.sort_by_key(Validator::address);
    Ok(set)
}

/// What a transaction command asks for: its options, the transaction kind, and where to
/// write the retirement certificate (retire only).
struct Request<'a> {
    opts: &'a TxOpts,
    kind: TxKind,
    certificate: Option<&'a Path>,
}

async fn request<'a>(command: &'a Command, client: &Client) -> anyhow::Result<Request<'a>> {
    let plain = |opts: &'a TxOpts, kind: TxKind| Ok(Request { opts, kind, certificate: None });
    match command {
        Command::Account(AccountCmd::Admit { address, role, name, jurisdiction, tx }) => plain(
            tx,
            TxKind::AdmitAccount(AdmitAccount {
                address: *address,
                role: *role,
                name: name.clone(),
                jurisdiction: jurisdiction.clone(),
            }),
        ),
        Command::Account(AccountCmd::Update { address, name, jurisdiction, role, tx }) => {
            if name.is_none() && jurisdiction.is_none() && role.is_none() {
                bail!("nothing to change: give --name, --jurisdiction or --role");
            }
            plain(
                tx,
                TxKind::UpdateAccount(UpdateAccount {
                    address: *address,
                    name: name.clone(),
                    jurisdiction: jurisdiction.clone(),
                    role: *role,
                }),
            )
        }
        Command::Account(AccountCmd::Suspend { address, reason, tx }) => {
            plain(tx, TxKind::SuspendAccount(SuspendAccount { address: *address, reason: reason.clone() }))
        }
        Command::Account(AccountCmd::Reinstate { address, tx }) => {
            plain(tx, TxKind::ReinstateAccount(ReinstateAccount { address: *address }))
        }
        Command::Project(ProjectCmd::Register(a)) => {
            let coordinates = match (&a.latitude, &a.longitude) {
                (Some(lat), Some(lon)) => Some((
                    parse::degrees(lat, 90, "latitude").map_err(anyhow::Error::msg)?,
                    parse::degrees(lon, 180, "longitude").map_err(anyhow::Error::msg)?,
                )),
                _ => None,
            };
            plain(
                &a.tx,
                TxKind::RegisterProject(bct_ledger::tx::RegisterProject {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    owner: a.owner,
                    ecosystem: a.ecosystem,
                    location: Location { region: a.region.clone(), coordinates },
                    area_centiha: a.area,
                    methodology: Methodology { id: a.methodology.clone(), version: a.methodology_version.clone() },
                }),
            )
        }
        Command::Project(ProjectCmd::Update(a)) => {
            let status = match (a.activate, &a.suspend, a.close) {
                (true, _, _) => Some(ProjectStatusChange::Activate),
                (_, Some(reason), _) => Some(ProjectStatusChange::Suspend { reason: reason.clone() }),
                (_, _, true) => Some(ProjectStatusChange::Close),
                _ => None,
            };
            if a.name.is_none() && a.owner.is_none() && a.area.is_none() && status.is_none() {
                bail!("nothing to change: give --name, --owner, --area, --activate, --suspend REASON or --close");
            }
            plain(
                &a.tx,
                TxKind::UpdateProject(UpdateProject {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    owner: a.owner,
                    area_centiha: a.area,
                    status,
                }),
            )
        }
        Command::Attest(a) => {
            let methodology = match (&a.methodology, &a.methodology_version) {
                (Some(id), Some(version)) => Methodology { id: id.clone(), version: version.clone() },
                // The ledger requires the project's methodology: take it from the node.
                _ => {
                    client
                        .project(&a.project)
                        .await
                        .with_context(|| format!("cannot look up the methodology of project {}", a.project))?
                        .methodology
                }
            };
            plain(
                &a.tx,
                TxKind::Attest(Attest {
                    project: a.project.clone(),
                    period: a.period,
                    quantity: a.quantity,
                    methodology,
                    report_hash: report_hash(&a.report)?,
                    statement: a.statement.clone(),
                }),
            )
        }
        Command::Issue(a) => plain(
            &a.tx,
            TxKind::Issue(Issue {
                project: a.project.clone(),
                period: a.period,
                report_hash: report_hash(&a.report)?,
                quantity: a.quantity,
                recipient: a.recipient,
            }),
        ),
        Command::Transfer(a) => {
            let trade = match &a.price_per_tonne {
                Some(price) => Some(Trade {
                    price_per_tonne_minor: parse::price_minor(price, &a.currency)
                        .map_err(|m| super::Usage(format!("--price: {m}")))?,
                    currency: a.currency.clone(),
                    reference: a.trade_ref.clone().unwrap_or_default(),
                }),
                None => None,
            };
            plain(&a.tx, TxKind::Transfer(Transfer { ticket: a.ticket.clone(), to: a.to, quantity: a.quantity, trade }))
        }
        Command::Retire(a) => Ok(Request {
            opts: &a.tx,
            kind: TxKind::Retire(Retire {
                ticket: a.ticket.clone(),
                quantity: a.quantity,
                beneficiary: a.beneficiary.clone(),
                purpose: a.purpose,
                jurisdiction: a.jurisdiction.clone(),
                note: a.note.clone(),
            }),
            certificate: a.certificate.as_deref(),
        }),
        Command::Pledge(a) => {
            plain(&a.tx, TxKind::Pledge(Pledge { ticket: a.ticket.clone(), quantity: a.quantity, pledgee: a.pledgee }))
        }
        Command::Release(a) => {
            plain(&a.tx, TxKind::Release(Release { ticket: a.ticket.clone(), holder: a.holder, quantity: a.quantity }))
        }
        Command::Seize(a) => {
            plain(&a.tx, TxKind::Seize(Seize { ticket: a.ticket.clone(), holder: a.holder, quantity: a.quantity }))
        }
        Command::Freeze(a) => {
            plain(&a.tx, TxKind::Freeze(Freeze { target: target(&a.target)?, reason: a.reason.clone() }))
        }
        Command::Unfreeze(a) => plain(&a.tx, TxKind::Unfreeze(Unfreeze { target: target(&a.target)? })),
        Command::Cancel(a) => plain(
            &a.tx,
            TxKind::Cancel(Cancel {
                ticket: a.ticket.clone(),
                holder: a.holder,
                quantity: a.quantity,
                reason: a.reason.clone(),
            }),
        ),
        Command::Validators(ValidatorsCmd::Update { set, approvals, tx }) => plain(
            tx,
            TxKind::UpdateValidators(UpdateValidators {
                validators: validator_set(set)?,
                approvals: approvals.clone(),
            }),
        ),
        other => bail!("internal: {other:?} is not a transaction command"),
    }
}

fn receipt_json(r: &Receipt) -> Value {
    let mut v = json!({ "tx_id": r.tx_id.to_hex(), "nonce": r.nonce });
    let status = view::tx_status(&r.status);
    if let (Value::Object(m), Value::Object(s)) = (&mut v, status) {
        m.extend(s);
    }
    v
}

fn receipt_text(r: &Receipt) -> String {
    match &r.status {
        TxStatus::Committed(c) => fields(&[
            ("result", view::tx_result_text(&c.result)),
            ("height", format!("{} ({})", c.height, view::utc(c.time_ms))),
            ("tx", r.tx_id.to_hex()),
        ]),
        TxStatus::Pending => fields(&[
            ("result", "pending: admitted, not committed yet".into()),
            ("tx", r.tx_id.to_hex()),
            ("follow", format!("bct tx {}", r.tx_id)),
        ]),
        TxStatus::Unknown => fields(&[("result", "unknown to the node".into()), ("tx", r.tx_id.to_hex())]),
    }
}

/// Signs, submits and reports one transaction command.
pub(crate) async fn run(cli: &Cli, out: Out) -> anyhow::Result<()> {
    let client = cli.client().await?;
    let req = request(&cli.command, &client).await?;
    let key = keys::signer(cli, &req.opts.key)?;
    let options = TxOptions {
        nonce: req.opts.nonce,
        expiry_height: req.opts.expiry_height,
        chain_id: None,
        wait_for_commit: !req.opts.no_wait,
        wait_timeout_ms: req.opts.wait_ms.unwrap_or(0),
    };
    let tx = client.sign(&key, req.kind, &options).await?;
    let tx_id = tx.id();
    if options.wait_for_commit {
        // Said before the wait, on stderr: whatever happens next, the id is known.
        eprintln!("submitted transaction {tx_id}; waiting for its commit (Ctrl-C stops the wait, not the transaction)");
    }
    let receipt = tokio::select! {
        r = client.submit(&tx, options.wait_for_commit, options.wait_timeout_ms) => r?,
        _ = tokio::signal::ctrl_c() => return Err(StoppedWaiting { tx_id }.into()),
    };
    let mut json = receipt_json(&receipt);
    let mut text = receipt_text(&receipt);
    match (&receipt.status, req.opts.no_wait) {
        (TxStatus::Committed(_), _) | (TxStatus::Pending, true) => {}
        (status, _) => {
            out.show(&json, || text);
            let state = if matches!(status, TxStatus::Pending) { "still pending" } else { "unknown to the node" };
            return Err(NotCommitted { tx_id: receipt.tx_id, state }.into());
        }
    }
    if let Some(path) = req.certificate {
        let Some(id) = receipt.accepted().and_then(|(_, a)| a.retirement) else {
            out.show(&json, || text);
            bail!("the retirement committed but the node named no retirement id; get the certificate later with `bct certificate get`");
        };
        let bytes = client.retirement_certificate_bytes(id).await.with_context(|| {
            format!(
                "retired, but the certificate could not be fetched; retry with `bct certificate get {id} -o {}`",
                path.display()
            )
        })?;
        let file = CertificateFile::from_certificate_bytes(&bytes)?;
        std::fs::write(path, file.to_json()).with_context(|| format!("cannot write {}", path.display()))?;
        json["certificate_file"] = json!(path.display().to_string());
        text.push_str(&fields(&[("certificate", path.display().to_string())]));
    }
    out.show(&json, || text);
    Ok(())
}

/// `bct validators approve`: signs the approval message of a new set with a validator key.
pub(crate) async fn approve(
    cli: &Cli,
    set: &ValidatorSetArgs,
    version: u64,
    chain_id: Option<&str>,
    key_name: &str,
    out: Out,
) -> anyhow::Result<()> {
    let new_set = validator_set(set)?;
    if version == 0 {
        bail!("--version starts at 1 (the first validator set change)");
    }
    let key = keys::signer(cli, key_name)?;
    let public_key = key.verifying_key().to_bytes();
    let chain_id = match chain_id {
        Some(c) => c.to_string(),
        None => {
            let status = cli.client().await?.network_status().await?;
            if !status.validators.iter().any(|v| v.public_key == public_key) {
                bail!(
                    "key {key_name} ({}) is not a validator of chain {}: its approval would be refused",
                    hex::encode(public_key),
                    status.chain_id
                );
            }
            status.chain_id
        }
    };
    let message = bct_ledger::tx::valset_approval_message(&chain_id, version, &new_set);
    let signature = key.sign(&message).to_bytes();
    let approval = format!("{}:{}", hex::encode(public_key), hex::encode(signature));
    let v = json!({
        "approval": approval,
        "public_key": hex::encode(public_key),
        "signature": hex::encode(signature),
        "chain_id": chain_id,
        "version": version,
        "validator_set_hash": bct_ledger::block::validator_set_hash(&new_set).to_hex(),
        "validators": new_set.iter().map(view::validator).collect::<Vec<_>>(),
    });
    out.show(&v, || {
        format!(
            "{approval}\n\nPass it to the authority's `bct validators update ... --approval {approval}`.\n\
             It approves change {version} on {chain_id} to the set with hash {}.",
            bct_ledger::block::validator_set_hash(&new_set)
        )
    });
    Ok(())
}
