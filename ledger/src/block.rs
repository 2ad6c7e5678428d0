//! Blocks, their headers and hashes, and per-transaction results.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::crypto::{self, Address, Hash, TxId};
use crate::tx::SignedTx;
use crate::types::{Role, SerialRange, Validator};

/// A block header. Its hash ([`BlockHeader::hash`]) is over [`BlockHeader::canonical_bytes`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeader {
    /// Chain id.
    pub chain_id: String,
    /// Height (the genesis header is height 0, the first block height 1).
    pub height: u64,
    /// Hash of the previous header (zero for genesis).
    pub prev_hash: Hash,
    /// Proposer's time in ms since the Unix epoch; strictly increasing.
    pub time_ms: u64,
    /// Proposer's address (zero for genesis).
    pub proposer: Address,
    /// Merkle root over the transaction ids.
    pub tx_root: Hash,
    /// Merkle root over the transaction results.
    pub results_root: Hash,
    /// State root after the block.
    pub state_root: Hash,
    /// Hash of the validator set that decides this block.
    pub validator_set_hash: Hash,
    /// Number of transactions.
    pub tx_count: u32,
}

impl BlockHeader {
    /// The bytes that are hashed: fields in order, integers big-endian, the chain id
    /// length-prefixed (u32). See `docs/PROTOCOL.md`.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(256);
        b.extend_from_slice(&(self.chain_id.len() as u32).to_be_bytes());
        b.extend_from_slice(self.chain_id.as_bytes());
        b.extend_from_slice(&self.height.to_be_bytes());
        b.extend_from_slice(&self.prev_hash.0);
        b.extend_from_slice(&self.time_ms.to_be_bytes());
        b.extend_from_slice(&self.proposer.0);
        b.extend_from_slice(&self.tx_root.0);
        b.extend_from_slice(&self.results_root.0);
        b.extend_from_slice(&self.state_root.0);
        b.extend_from_slice(&self.validator_set_hash.0);
        b.extend_from_slice(&self.tx_count.to_be_bytes());
        b
    }

    /// blake3(`bct/header/v1\0` || canonical bytes).
    pub fn hash(&self) -> Hash {
        Hash::of_parts(&[crypto::HEADER_DOMAIN, &self.canonical_bytes()])
    }
}

/// A block: header and transactions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// Header.
    pub header: BlockHeader,
    /// Transactions in execution order.
    pub txs: Vec<SignedTx>,
}

impl Block {
    /// The header hash, which identifies the block.
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }
}

/// Hash of a validator set: blake3(`bct/valset/v1\0` || count u32 || (public key || power u64)*),
/// validators in the order given (the ledger keeps them sorted by address).
pub fn validator_set_hash(validators: &[Validator]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(crypto::VALSET_DOMAIN);
    h.update(&(validators.len() as u32).to_be_bytes());
    for v in validators {
        h.update(&v.public_key);
        h.update(&v.power.to_be_bytes());
    }
    Hash(*h.finalize().as_bytes())
}

/// Merkle root over the ids of `txs`.
pub fn tx_root(txs: &[SignedTx]) -> Hash {
    let leaves: Vec<Hash> = txs.iter().map(|t| crypto::merkle_leaf(&t.id().0)).collect();
    crypto::merkle_root(&leaves)
}

/// Merkle leaves of a block's results: each leaf covers the transaction id and its result.
pub fn result_leaves(results: &[TxResult]) -> Vec<Hash> {
    results.iter().map(|r| crypto::merkle_leaf(&r.leaf_bytes())).collect()
}

/// The outcome of one transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxResult {
    /// The transaction.
    pub tx: TxId,
    /// Accepted, or why not.
    pub outcome: Result<Accepted, Rejection>,
}

impl TxResult {
    /// Bytes of the result's Merkle leaf: tx id (32), then for an accepted transaction 0x00
    /// and [`Accepted::canonical_bytes`], or for a rejected one 0x01 and the rejection code
    /// (u16, big-endian). A certificate thus proves the retirement id and exact serials.
    pub fn leaf_bytes(&self) -> Vec<u8> {
        let mut b = self.tx.0.to_vec();
        match &self.outcome {
            Ok(a) => {
                b.push(0);
                b.extend_from_slice(&a.canonical_bytes());
            }
            Err(r) => {
                b.push(1);
                b.extend_from_slice(&r.code().to_be_bytes());
            }
        }
        b
    }

    /// Whether the transaction took effect.
    pub fn is_accepted(&self) -> bool {
        self.outcome.is_ok()
    }
}

/// What an accepted transaction created, for clients to find it.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Accepted {
    /// A ticket id (issue).
    pub ticket: Option<String>,
    /// A retirement id (retire).
    pub retirement: Option<u64>,
    /// The exact serials retired (retire), lowest first.
    pub serials: Vec<SerialRange>,
}

impl Accepted {
    /// u32 length + ticket id (empty if none), u64 retirement id (0 if none), u32 count, then
    /// per serial range: u32 length + ticket id, u64 first, u64 last. Integers big-endian.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        fn text(b: &mut Vec<u8>, s: &str) {
            b.extend_from_slice(&(s.len() as u32).to_be_bytes());
            b.extend_from_slice(s.as_bytes());
        }
        let mut b = Vec::new();
        text(&mut b, self.ticket.as_deref().unwrap_or(""));
        b.extend_from_slice(&self.retirement.unwrap_or(0).to_be_bytes());
        b.extend_from_slice(&(self.serials.len() as u32).to_be_bytes());
        for r in &self.serials {
            text(&mut b, &r.ticket);
            b.extend_from_slice(&r.first.to_be_bytes());
            b.extend_from_slice(&r.last.to_be_bytes());
        }
        b
    }
}

/// Why a transaction was rejected. A rejected transaction changes nothing, not even the nonce.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Rejection {
    /// The signature does not verify.
    #[error("the signature does not verify against the body bytes and the public key")]
    BadSignature,
    /// The signer address is not derived from the signing key.
    #[error("the signer address {signer} is not the address of the signing key ({key_address})")]
    SignerMismatch {
        /// Claimed.
        signer: Address,
        /// Derived from the key.
        key_address: Address,
    },
    /// Wrong network.
    #[error("chain id \"{}\" is not this network's (\"{}\")", crate::text::short(.got), crate::text::short(.expected))]
    WrongChainId {
        /// This network.
        expected: String,
        /// In the transaction.
        got: String,
    },
    /// The nonce was already used.
    #[error("nonce {got} was already used; the next nonce of this account is {expected}")]
    StaleNonce {
        /// Next valid nonce.
        expected: u64,
        /// In the transaction.
        got: u64,
    },
    /// The nonce skips ahead.
    #[error("nonce {got} is ahead; the next nonce of this account is {expected}")]
    FutureNonce {
        /// Next valid nonce.
        expected: u64,
        /// In the transaction.
        got: u64,
    },
    /// Past its expiry height.
    #[error("the transaction expired at height {expiry_height}; this block is {height}")]
    Expired {
        /// Expiry.
        expiry_height: u64,
        /// This block.
        height: u64,
    },
    /// Not an admitted account.
    #[error("account {0} is not admitted")]
    UnknownAccount(Address),
    /// Suspended.
    #[error("account {0} is suspended")]
    AccountSuspended(Address),
    /// Under a hold.
    #[error("account {address} is frozen: {reason}")]
    AccountFrozen {
        /// Account.
        address: Address,
        /// Why.
        reason: String,
    },
    /// The signer's role may not do this.
    #[error("{} {role} account may not {action}", .role.article())]
    WrongRole {
        /// Signer's role.
        role: Role,
        /// What it tried.
        action: String,
    },
    /// The signer may act only on accounts it admitted (exchanges).
    #[error("{signer} may not change {target}: an exchange may only manage the holders it admitted")]
    NotYourCustomer {
        /// Signer.
        signer: Address,
        /// Account.
        target: Address,
    },
    /// Already admitted.
    #[error("account {0} is already admitted")]
    AccountExists(Address),
    /// Not suspended.
    #[error("account {0} is not suspended")]
    NotSuspended(Address),
    /// A field is empty, too long or malformed.
    #[error("invalid {field}: {reason}")]
    InvalidField {
        /// Field name.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// Already registered.
    #[error("project {} is already registered", crate::text::short(.0))]
    ProjectExists(String),
    /// Not registered.
    #[error("project {} is not registered", crate::text::short(.0))]
    UnknownProject(String),
    /// Suspended or closed.
    #[error("project {} is not active", crate::text::short(.0))]
    ProjectNotActive(String),
    /// The attestation's methodology is not the project's.
    #[error("methodology {got} is not the project's methodology {expected}")]
    MethodologyMismatch {
        /// The project's.
        expected: String,
        /// In the transaction.
        got: String,
    },
    /// This verifier already attested this report.
    #[error("this verifier already attested report {report_hash} of project {project}")]
    DuplicateAttestation {
        /// Project.
        project: String,
        /// Report.
        report_hash: Hash,
    },
    /// Too few accredited verifiers attested this report with this period and at least this quantity.
    #[error("issuance needs {required} distinct accredited verifiers attesting this report, period and at least this quantity; found {found}")]
    NotEnoughAttestations {
        /// Genesis parameter.
        required: u32,
        /// Qualifying attestations.
        found: u32,
    },
    /// Issuance above what was attested.
    #[error("quantity {requested} is above the attested {attested}")]
    QuantityAboveAttested {
        /// Asked.
        requested: Amount,
        /// The most that enough verifiers attested.
        attested: Amount,
    },
    /// The monitoring period overlaps an earlier issuance of the project.
    #[error("the monitoring period overlaps ticket {}, issued earlier for this project", crate::text::short(.0))]
    PeriodOverlap(String),
    /// Zero quantity.
    #[error("the quantity must be more than zero")]
    ZeroAmount,
    /// A sum would overflow.
    #[error("the quantity is too large: serial numbers or totals would overflow")]
    AmountOverflow,
    /// Not issued.
    #[error("ticket {} does not exist", crate::text::short(.0))]
    UnknownTicket(String),
    /// Under a hold.
    #[error("ticket {} is frozen: {}", crate::text::short(.ticket), .reason)]
    TicketFrozen {
        /// Ticket.
        ticket: String,
        /// Why.
        reason: String,
    },
    /// Not enough units in the required state.
    #[error("{holder} holds {available} {state} of ticket {ticket}; {requested} requested")]
    InsufficientUnits {
        /// Holder.
        holder: Address,
        /// Ticket.
        ticket: String,
        /// State required (`active`, `pledged to ...`).
        state: String,
        /// Available.
        available: Amount,
        /// Asked.
        requested: Amount,
    },
    /// Sending to oneself.
    #[error("sender and recipient are the same account")]
    SelfTransfer,
    /// Already under a hold.
    #[error("{0} is already frozen")]
    AlreadyFrozen(String),
    /// No hold to lift.
    #[error("{0} is not frozen")]
    NotFrozen(String),
    /// A proposed validator set is malformed.
    #[error("invalid validator set: {0}")]
    InvalidValidatorSet(String),
    /// Approvals below the threshold.
    #[error("validator approvals carry {approved} of {total} voting power; more than 2/3 is needed")]
    NotEnoughApprovals {
        /// Approving power.
        approved: u64,
        /// Total power.
        total: u64,
    },
    /// An approval is not by a current validator or does not verify.
    #[error("approval {index} is not a valid signature by a current validator")]
    BadApproval {
        /// Position in the list.
        index: u32,
    },
}

impl Rejection {
    /// A stable numeric code, part of the results Merkle leaf and of the API.
    pub fn code(&self) -> u16 {
        match self {
            Rejection::BadSignature => 1,
            Rejection::SignerMismatch { .. } => 2,
            Rejection::WrongChainId { .. } => 3,
            Rejection::StaleNonce { .. } => 4,
            Rejection::FutureNonce { .. } => 5,
            Rejection::Expired { .. } => 6,
            Rejection::UnknownAccount(_) => 10,
            Rejection::AccountSuspended(_) => 11,
            Rejection::AccountFrozen { .. } => 12,
            Rejection::WrongRole { .. } => 13,
            Rejection::NotYourCustomer { .. } => 14,
            Rejection::AccountExists(_) => 15,
            Rejection::NotSuspended(_) => 16,
            Rejection::InvalidField { .. } => 20,
            Rejection::ProjectExists(_) => 30,
            Rejection::UnknownProject(_) => 31,
            Rejection::ProjectNotActive(_) => 32,
            Rejection::MethodologyMismatch { .. } => 33,
            Rejection::DuplicateAttestation { .. } => 40,
            Rejection::NotEnoughAttestations { .. } => 41,
            Rejection::QuantityAboveAttested { .. } => 42,
            Rejection::PeriodOverlap(_) => 43,
            Rejection::ZeroAmount => 50,
            Rejection::AmountOverflow => 51,
            Rejection::UnknownTicket(_) => 52,
            Rejection::TicketFrozen { .. } => 53,
            Rejection::InsufficientUnits { .. } => 54,
            Rejection::SelfTransfer => 55,
            Rejection::AlreadyFrozen(_) => 56,
            Rejection::NotFrozen(_) => 57,
            Rejection::InvalidValidatorSet(_) => 60,
            Rejection::NotEnoughApprovals { .. } => 61,
            Rejection::BadApproval { .. } => 62,
        }
    }
}
