//! Transactions: what a participant signs, and the kinds of change it asks for.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::crypto::{self, Address, Hash, TxId};
use crate::types::{Ecosystem, Location, Methodology, Period, Purpose, Role, Validator};

/// The content of a transaction. Its protobuf encoding (`bct.v1.TxBody`) is what is signed;
/// the ledger never re-encodes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxBody {
    /// The network's chain id, e.g. `bct-testnet-1`.
    pub chain_id: String,
    /// The signer's address; must match the signing key.
    pub signer: Address,
    /// Exactly one more than the signer's last accepted nonce.
    pub nonce: u64,
    /// Last height at which the transaction may be included; 0 means no expiry.
    pub expiry_height: u64,
    /// What to do.
    pub kind: TxKind,
}

/// Every kind of transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxKind {
    /// Admit a participant (authority; or an exchange admitting a holder).
    AdmitAccount(AdmitAccount),
    /// Change an account's name, jurisdiction or role (authority; or the admitting exchange for its holders).
    UpdateAccount(UpdateAccount),
    /// Suspend an account (authority; or the admitting exchange for its holders).
    SuspendAccount(SuspendAccount),
    /// Lift a suspension (same signers as suspend).
    ReinstateAccount(ReinstateAccount),
    /// Register a project (authority).
    RegisterProject(RegisterProject),
    /// Change a project's name, owner, area or status (authority).
    UpdateProject(UpdateProject),
    /// Attest a monitoring report (accredited verifier).
    Attest(Attest),
    /// Issue a ticket backed by attestations (authority).
    Issue(Issue),
    /// Move active units to another account (holder).
    Transfer(Transfer),
    /// Retire active units for good (holder).
    Retire(Retire),
    /// Pledge active units to a creditor (holder).
    Pledge(Pledge),
    /// Return pledged units to the pledgor (pledgee).
    Release(Release),
    /// Take pledged units into the pledgee's holding (pledgee).
    Seize(Seize),
    /// Put a hold on an account or a ticket (authority).
    Freeze(Freeze),
    /// Lift a hold (authority).
    Unfreeze(Unfreeze),
    /// Cancel units for good, e.g. a reversal (authority).
    Cancel(Cancel),
    /// Replace the validator set (authority, with approvals of more than 2/3 of the voting power).
    UpdateValidators(UpdateValidators),
}

impl TxKind {
    /// The snake_case name of the kind.
    pub fn name(&self) -> &'static str {
        match self {
            TxKind::AdmitAccount(_) => "admit_account",
            TxKind::UpdateAccount(_) => "update_account",
            TxKind::SuspendAccount(_) => "suspend_account",
            TxKind::ReinstateAccount(_) => "reinstate_account",
            TxKind::RegisterProject(_) => "register_project",
            TxKind::UpdateProject(_) => "update_project",
            TxKind::Attest(_) => "attest",
            TxKind::Issue(_) => "issue",
            TxKind::Transfer(_) => "transfer",
            TxKind::Retire(_) => "retire",
            TxKind::Pledge(_) => "pledge",
            TxKind::Release(_) => "release",
            TxKind::Seize(_) => "seize",
            TxKind::Freeze(_) => "freeze",
            TxKind::Unfreeze(_) => "unfreeze",
            TxKind::Cancel(_) => "cancel",
            TxKind::UpdateValidators(_) => "update_validators",
        }
    }
}

/// Admit a participant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmitAccount {
    /// The new account's address.
    pub address: Address,
    /// Its role.
    pub role: Role,
    /// Display name.
    pub name: String,
    /// Jurisdiction code.
    pub jurisdiction: String,
}

/// Change an account's details; `None` leaves a field as it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateAccount {
    /// The account.
    pub address: Address,
    /// New name.
    pub name: Option<String>,
    /// New jurisdiction.
    pub jurisdiction: Option<String>,
    /// New role (authority only).
    pub role: Option<Role>,
}

/// Suspend an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspendAccount {
    /// The account.
    pub address: Address,
    /// Why (public).
    pub reason: String,
}

/// Lift an account's suspension.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReinstateAccount {
    /// The account.
    pub address: Address,
}

/// Register a project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterProject {
    /// Readable id: 1 to 64 characters of `A-Z a-z 0-9 - _`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Owner (an admitted account).
    pub owner: Address,
    /// Ecosystem type.
    pub ecosystem: Ecosystem,
    /// Location.
    pub location: Location,
    /// Area in hundredths of a hectare.
    pub area_centiha: u64,
    /// Methodology.
    pub methodology: Methodology,
}

/// A project status change requested by [`UpdateProject`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProjectStatusChange {
    /// Make the project issuable again.
    Activate,
    /// Suspend issuance.
    Suspend {
        /// Why.
        reason: String,
    },
    /// Close for good.
    Close,
}

/// Change a project; `None` leaves a field as it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateProject {
    /// The project.
    pub id: String,
    /// New name.
    pub name: Option<String>,
    /// New owner.
    pub owner: Option<Address>,
    /// New area.
    pub area_centiha: Option<u64>,
    /// New status.
    pub status: Option<ProjectStatusChange>,
}

/// A verifier's attestation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attest {
    /// Project.
    pub project: String,
    /// Monitoring period.
    pub period: Period,
    /// Verified quantity.
    pub quantity: Amount,
    /// Methodology applied (must be the project's).
    pub methodology: Methodology,
    /// blake3 of the verification report.
    pub report_hash: Hash,
    /// Statement.
    pub statement: String,
}

/// Issue a ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// Project.
    pub project: String,
    /// Monitoring period (must match the attestations and overlap no earlier issuance).
    pub period: Period,
    /// The attested report.
    pub report_hash: Hash,
    /// Quantity to issue (at most what the required attestations attested).
    pub quantity: Amount,
    /// First holder; `None` means the project owner.
    pub recipient: Option<Address>,
}

/// Optional trade data recorded with a transfer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trade {
    /// Price per tonne in the currency's minor unit (fen for CNY).
    pub price_per_tonne_minor: u64,
    /// ISO 4217 currency code, e.g. `CNY`.
    pub currency: String,
    /// The exchange's trade reference.
    pub reference: String,
}

/// Move active units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// Ticket.
    pub ticket: String,
    /// Recipient.
    pub to: Address,
    /// Quantity (lowest serials move first).
    pub quantity: Amount,
    /// Trade data, if this is a sale.
    pub trade: Option<Trade>,
}

/// Retire active units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retire {
    /// Ticket.
    pub ticket: String,
    /// Quantity (lowest serials first).
    pub quantity: Amount,
    /// On whose behalf.
    pub beneficiary: String,
    /// Why.
    pub purpose: Purpose,
    /// Jurisdiction of the claim.
    pub jurisdiction: String,
    /// Free text.
    pub note: String,
}

/// Pledge active units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pledge {
    /// Ticket.
    pub ticket: String,
    /// Quantity.
    pub quantity: Amount,
    /// Creditor.
    pub pledgee: Address,
}

/// Release pledged units back to their holder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// Ticket.
    pub ticket: String,
    /// The pledgor.
    pub holder: Address,
    /// Quantity.
    pub quantity: Amount,
}

/// Seize pledged units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seize {
    /// Ticket.
    pub ticket: String,
    /// The pledgor.
    pub holder: Address,
    /// Quantity.
    pub quantity: Amount,
}

/// What a hold applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FreezeTarget {
    /// An account: it may not move, pledge or retire.
    Account(Address),
    /// A ticket: all its active lots become frozen.
    Ticket(String),
}

/// Put a hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freeze {
    /// Target.
    pub target: FreezeTarget,
    /// Why (public).
    pub reason: String,
}

/// Lift a hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unfreeze {
    /// Target.
    pub target: FreezeTarget,
}

/// Cancel units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancel {
    /// Ticket.
    pub ticket: String,
    /// Holder whose active or frozen units are cancelled.
    pub holder: Address,
    /// Quantity (lowest serials first).
    pub quantity: Amount,
    /// Why (public).
    pub reason: String,
}

/// One validator's approval of a validator set change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The approving validator's key.
    pub public_key: [u8; 32],
    /// Its signature over [`valset_approval_message`].
    #[serde(with = "crate::crypto::sig64")]
    pub signature: [u8; 64],
}

/// Replace the validator set from the next block on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateValidators {
    /// The new set.
    pub validators: Vec<Validator>,
    /// Approvals by current validators holding more than 2/3 of the voting power.
    pub approvals: Vec<Approval>,
}

/// The bytes a validator signs to approve `new_set` as change number `version` on `chain_id`.
pub fn valset_approval_message(chain_id: &str, version: u64, new_set: &[Validator]) -> Vec<u8> {
    let set_hash = crate::block::validator_set_hash(new_set);
    let mut m = Vec::new();
    m.extend_from_slice(crypto::VALSET_APPROVAL_DOMAIN);
    m.extend_from_slice(&(chain_id.len() as u32).to_be_bytes());
    m.extend_from_slice(chain_id.as_bytes());
    m.extend_from_slice(&version.to_be_bytes());
    m.extend_from_slice(&set_hash.0);
    m
}

/// A signed transaction with its body decoded.
///
/// The body bytes are kept exactly as received: the signature and the id cover them,
/// never a re-encoding. Values of this type are made by `bct-proto`, which decodes the
/// body from those same bytes, or by [`SignedTx::from_parts`] given a matching pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTx {
    body_bytes: Vec<u8>,
    body: TxBody,
    public_key: [u8; 32],
    #[serde(with = "crate::crypto::sig64")]
    signature: [u8; 64],
    id: TxId,
}

impl SignedTx {
    /// Assembles a signed transaction. `body` must be the decoding of `body_bytes`.
    pub fn from_parts(body_bytes: Vec<u8>, body: TxBody, public_key: [u8; 32], signature: [u8; 64]) -> SignedTx {
        let id = crypto::tx_id(&body_bytes);
        SignedTx { body_bytes, body, public_key, signature, id }
    }

    /// The body bytes as signed.
    pub fn body_bytes(&self) -> &[u8] {
        &self.body_bytes
    }

    /// The decoded body.
    pub fn body(&self) -> &TxBody {
        &self.body
    }

    /// The signer's public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public_key
    }

    /// The signature.
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }

    /// The transaction id.
    pub fn id(&self) -> TxId {
        self.id
    }

    /// The message the signature covers.
    pub fn signing_message(&self) -> Vec<u8> {
        crypto::tx_signing_message(&self.body_bytes)
    }

    /// Whether the signature is valid for the body bytes (strict ed25519).
    pub fn verify_signature(&self) -> bool {
        crypto::verify_signature(&self.public_key, &self.signing_message(), &self.signature)
    }

    /// Encoded size in bytes on the wire (body + key + signature).
    pub fn wire_size(&self) -> usize {
        self.body_bytes.len() + 32 + 64
    }

    /// Every address the transaction concerns (signer and counterparties), sorted, without repeats.
    pub fn addresses(&self) -> Vec<Address> {
        let mut v = vec![self.body.signer];
        match &self.body.kind {
            TxKind::AdmitAccount(t) => v.push(t.address),
            TxKind::UpdateAccount(t) => v.push(t.address),
            TxKind::SuspendAccount(t) => v.push(t.address),
            TxKind::ReinstateAccount(t) => v.push(t.address),
            TxKind::RegisterProject(t) => v.push(t.owner),
            TxKind::UpdateProject(t) => v.extend(t.owner),
            TxKind::Issue(t) => v.extend(t.recipient),
            TxKind::Transfer(t) => v.push(t.to),
            TxKind::Pledge(t) => v.push(t.pledgee),
            TxKind::Release(t) => v.push(t.holder),
            TxKind::Seize(t) => v.push(t.holder),
            TxKind::Freeze(Freeze { target: FreezeTarget::Account(a), .. })
            | TxKind::Unfreeze(Unfreeze { target: FreezeTarget::Account(a) }) => v.push(*a),
            TxKind::Cancel(t) => v.push(t.holder),
            _ => {}
        }
        v.sort();
        v.dedup();
        v
    }
}
