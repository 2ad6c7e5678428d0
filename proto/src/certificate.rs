//! Retirement certificate files, and their verification offline with only the genesis file.
//!
//! A certificate file is JSON: a `format` tag, a readable summary of the retirement, and
//! `certificate_base64`, the protobuf bytes of a `bct.v1.RetirementCertificate` exactly as the
//! node encoded them. Only those bytes are trusted, and only once [`verify_file`] has checked
//! them: the transaction's signature, its id and Merkle path to the header's transaction root,
//! its accepted result (retirement id and serials) and Merkle path to the results root, the
//! validator set against the header and against the genesis set followed through the
//! certificate's validator set history (each change proven into a block signed by more than
//! 2/3 of the set before it), and the precommit signatures of more than 2/3 of the voting power
//! over the header hash. The readable summary must then say exactly
//! what the verified bytes say, so no byte of the file can change without a refusal.

use base64::Engine;
use bct_ledger::block::validator_set_hash;
use bct_ledger::crypto::{merkle_leaf, merkle_root_from_path};
use bct_ledger::tx::Retire;
use bct_ledger::types::{Retirement, Validator};
use bct_ledger::{Accepted, Address, Amount, BlockHeader, Genesis, Hash, SignedTx, TxKind, TxResult};
use prost::Message;
use serde::{Deserialize, Serialize};

use crate::commit::{CommitCertificate, CommitError};
use crate::{pb, IntoLedger};

/// The `format` of the certificate files this version writes and reads.
pub const CERTIFICATE_FORMAT: &str = "bct-retirement-certificate/v1";
/// Most bytes of an embedded `bct.v1.RetirementCertificate` (a 16 KiB transaction, two Merkle
/// paths and a validator set fit many times over).
pub const CERTIFICATE_BYTES_MAX: usize = 1 << 20;
/// Most bytes of a certificate file.
pub const CERTIFICATE_FILE_BYTES_MAX: usize = 4 << 20;

/// A certificate file, as written by `bct certificate get`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateFile {
    /// Always [`CERTIFICATE_FORMAT`].
    pub format: String,
    /// What the certificate proves, for people; checked against the certified bytes.
    pub retirement: RetirementSummary,
    /// The protobuf encoding of the `bct.v1.RetirementCertificate`, standard base64 with padding.
    pub certificate_base64: String,
}

/// Who retired what, for whom, why, which serials, when: what a certificate proves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetirementSummary {
    /// The chain.
    pub chain_id: String,
    /// The retirement's id.
    pub retirement_id: u64,
    /// The account that retired (the transaction's signer), bech32.
    pub retiree: String,
    /// On whose behalf.
    pub beneficiary: String,
    /// Why: `voluntary`, `event`, `compliance`, `judicial_restoration` or `other`.
    pub purpose: String,
    /// Jurisdiction of the claim.
    pub jurisdiction: String,
    /// Free text.
    pub note: String,
    /// The ticket.
    pub ticket: String,
    /// Quantity retired, in tonnes (`12.5t`).
    pub quantity: String,
    /// Quantity retired, in kilograms.
    pub quantity_kg: u64,
    /// The exact serials retired, lowest first.
    pub serials: Vec<SerialsSummary>,
    /// The retire transaction's id, hex.
    pub tx_id: String,
    /// Height of the block that holds it.
    pub height: u64,
    /// That block's header hash, hex.
    pub block_hash: String,
    /// Block time, ms since the Unix epoch.
    pub time_ms: u64,
    /// Block time, UTC.
    pub time_utc: String,
}

/// A contiguous range of retired serials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SerialsSummary {
    /// Ticket.
    pub ticket: String,
    /// First serial.
    pub first: u64,
    /// Last serial, inclusive.
    pub last: u64,
}

/// The stable identifier of the certificate of retirement `retirement_id` on the chain whose
/// genesis has `genesis_fingerprint`: `BCT-` and the first 12 hex digits of the fingerprint,
/// then the retirement id, e.g. `BCT-3f9a1c2e4b7d-42`. Every certificate of that retirement,
/// fetched from any node at any time, has this identifier; no other retirement has it.
pub fn certificate_id(genesis_fingerprint: &Hash, retirement_id: u64) -> String {
    format!("BCT-{}-{retirement_id}", &genesis_fingerprint.to_hex()[..12])
}

/// A certificate that verified: what it proves, and who signed the block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Its stable identifier ([`certificate_id`] of the genesis it verified against).
    pub certificate_id: String,
    /// What it proves.
    pub summary: RetirementSummary,
    /// Voting power that signed the block.
    pub signed_power: u64,
    /// Total voting power of the set.
    pub total_power: u64,
    /// The validators that signed, in signature order.
    pub signers: Vec<Validator>,
    /// Validator set changes between the genesis and the block, each proven by the set before it.
    pub set_changes: usize,
}

/// Why a certificate is refused. Every variant names what was checked and found wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// Larger than allowed; nothing was read.
    #[error("{what} is {size} bytes; at most {max} are accepted")]
    TooLarge {
        /// What.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Not a certificate file.
    #[error("not a bct retirement certificate file: {0}")]
    NotACertificateFile(String),
    /// A format this version does not read.
    #[error("the file's format is {got:?}; this wallet reads {CERTIFICATE_FORMAT:?}")]
    Format {
        /// The format found.
        got: String,
    },
    /// `certificate_base64` is not base64.
    #[error("certificate_base64 is not standard base64: {0}")]
    Base64(String),
    /// The embedded bytes are not a `bct.v1.RetirementCertificate`.
    #[error("the embedded certificate is not a bct.v1.RetirementCertificate: {0}")]
    Protobuf(String),
    /// The embedded bytes decode but are not the encoding a node writes.
    #[error("the embedded certificate is not in canonical protobuf encoding (a node never writes it so): the bytes were altered")]
    NotCanonical,
    /// A required part is absent.
    #[error("the certificate has no {0}")]
    Missing(&'static str),
    /// A part cannot be read.
    #[error("{field} is malformed: {reason}")]
    Malformed {
        /// Which part.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A chain id is not the genesis chain's.
    #[error("{field} is {got:?}, but the genesis file is for chain {expected:?}")]
    WrongChain {
        /// Which field.
        field: &'static str,
        /// The genesis chain id.
        expected: String,
        /// What the certificate says.
        got: String,
    },
    /// The transaction is not a retirement.
    #[error("the certified transaction is a {0}, not a retire transaction")]
    NotRetire(&'static str),
    /// The transaction's signature is not valid.
    #[error("the retire transaction's signature does not verify against its body and signer key")]
    BadTxSignature,
    /// The transaction's signer field is not the address of its key.
    #[error("the retire transaction names signer {signer}, but its key's address is {key_address}")]
    SignerMismatch {
        /// The body's signer.
        signer: Address,
        /// The address of the key.
        key_address: Address,
    },
    /// The result is not the transaction's.
    #[error("the result is for transaction {got}, not for the certified transaction {expected}")]
    ResultForOtherTx {
        /// The transaction's id.
        expected: Hash,
        /// The result's.
        got: Hash,
    },
    /// The transaction was rejected: nothing was retired.
    #[error("the certified transaction was rejected by the ledger ({0}): nothing was retired")]
    RejectedTx(String),
    /// The accepted result does not describe this retirement.
    #[error("the result does not match the transaction: {0}")]
    ResultMismatch(String),
    /// A Merkle proof's shape does not fit the header.
    #[error("{proof}: {reason}")]
    ProofShape {
        /// `tx_proof` or `result_proof`.
        proof: &'static str,
        /// What does not fit.
        reason: String,
    },
    /// A Merkle proof does not lead to the header's root.
    #[error("the {what} is not in the block: its Merkle path does not lead to header.{root}")]
    NotInBlock {
        /// `transaction` or `result`.
        what: &'static str,
        /// `tx_root` or `results_root`.
        root: &'static str,
    },
    /// The certificate's validator set is not the one the header names.
    #[error("the certificate's validator set does not hash to header.validator_set_hash")]
    ValidatorSetHash,
    /// The set that decided the block is not the one the set history leads to from the genesis.
    #[error(
        "the validator set that decided block {height} is not the set the certificate's validator set \
         history leads to from the genesis ({reason}); the certificate is from a chain with another genesis, \
         or its set history is incomplete"
    )]
    NotGenesisSet {
        /// The block.
        height: u64,
        /// How it differs.
        reason: String,
    },
    /// A change in the validator set history does not hold.
    #[error("validator set change {index} of the certificate's history (block {height}) does not hold: {reason}")]
    SetHistory {
        /// Its position in the history (0 is the oldest).
        index: usize,
        /// The height of its block, as the change says.
        height: u64,
        /// What is wrong.
        reason: String,
    },
    /// The commit certificate is for another block.
    #[error("the commit certificate is not for this block: {0}")]
    CommitForOtherBlock(String),
    /// The commit certificate does not prove the block.
    #[error("the block's commit certificate does not prove it: {0}")]
    Commit(CommitError),
    /// The informative retirement record disagrees with the certified transaction and result.
    #[error("the retirement record's {field} says {record}, but the certified transaction and result say {certified}")]
    RecordMismatch {
        /// Which field of `retirement`.
        field: &'static str,
        /// What the record says.
        record: String,
        /// What the certified data says.
        certified: String,
    },
    /// The readable summary disagrees with the certified bytes.
    #[error("the readable field retirement.{field} is {file}, but the certified content says {certified}: the file was edited")]
    SummaryMismatch {
        /// Which field of `retirement`.
        field: String,
        /// What the file says.
        file: String,
        /// What the verified bytes say.
        certified: String,
    },
}

/// Most validator set changes a certificate's history may hold.
pub const SET_HISTORY_MAX: usize = 256;

/// `tx_id` and `result` are at the same position of the block of `header`: their Merkle paths
/// lead to its transaction and results roots, and the paths' shape matches the block.
fn prove_in_block(
    header: &BlockHeader,
    tx_id: Hash,
    tx_proof: &Proof,
    result: &TxResult,
    result_proof: &Proof,
) -> Result<(), CertificateError> {
    let count = header.tx_count;
    for (name, p) in [("tx_proof", tx_proof), ("result_proof", result_proof)] {
        if p.count != count {
            return Err(CertificateError::ProofShape {
                proof: name,
                reason: format!("count is {}, but the header says the block holds {count} transactions", p.count),
            });
        }
        if p.index >= count {
            return Err(CertificateError::ProofShape {
                proof: name,
                reason: format!("index {} is outside a block of {count} transactions", p.index),
            });
        }
    }
    if tx_proof.index != result_proof.index {
        return Err(CertificateError::ProofShape {
            proof: "result_proof",
            reason: format!("index {} is not the transaction's position {}", result_proof.index, tx_proof.index),
        });
    }
    let root = |leaf: Hash, p: &Proof| merkle_root_from_path(leaf, p.index as usize, p.count as usize, &p.path);
    if root(merkle_leaf(&tx_id.0), tx_proof) != Some(header.tx_root) {
        return Err(CertificateError::NotInBlock { what: "transaction", root: "tx_root" });
    }
    if root(merkle_leaf(&result.leaf_bytes()), result_proof) != Some(header.results_root) {
        return Err(CertificateError::NotInBlock { what: "result", root: "results_root" });
    }
    Ok(())
}

/// A Merkle inclusion proof with its path read.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Proof {
    index: u32,
    count: u32,
    path: Vec<Hash>,
}

/// A certificate whose bytes decoded into ledger types; nothing checked cryptographically yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedCertificate {
    chain_id: String,
    tx: SignedTx,
    retire: Retire,
    result: TxResult,
    accepted: Accepted,
    retirement_id: u64,
    header: BlockHeader,
    tx_proof: Proof,
    result_proof: Proof,
    commit: CommitCertificate,
    validators: Vec<Validator>,
    record: Option<Retirement>,
    history: Vec<SetChange>,
}

/// One proven change of the validator set (`bct.v1.ValidatorSetChange`), decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
struct SetChange {
    tx: SignedTx,
    new_set: Vec<Validator>,
    result: TxResult,
    header: BlockHeader,
    tx_proof: Proof,
    result_proof: Proof,
    commit: CommitCertificate,
}

impl SetChange {
    fn decode(i: usize, c: pb::ValidatorSetChange) -> Result<SetChange, CertificateError> {
        let field = |name: &str| format!("validator_set_history[{i}].{name}");
        let missing = |name: &str| malformed(&field(name), "missing");
        let tx =
            crate::signed_tx_from_pb(c.tx.ok_or_else(|| missing("tx"))?).map_err(|e| malformed(&field("tx"), e))?;
        let mut new_set = match &tx.body().kind {
            TxKind::UpdateValidators(u) => u.validators.clone(),
            other => {
                return Err(malformed(
                    &field("tx"),
                    format!("is a {} transaction, not update_validators", other.name()),
                ))
            }
        };
        // As the ledger applies it: ordered by address.
        new_set.sort_by_key(Validator::address);
        let result =
            c.result.ok_or_else(|| missing("result"))?.into_ledger().map_err(|e| malformed(&field("result"), e))?;
        let header =
            c.header.ok_or_else(|| missing("header"))?.into_ledger().map_err(|e| malformed(&field("header"), e))?;
        let tx_proof = proof_from_pb_named(c.tx_proof, &field("tx_proof"))?;
        let result_proof = proof_from_pb_named(c.result_proof, &field("result_proof"))?;
        let commit = CommitCertificate::from_pb(&c.commit.ok_or_else(|| missing("commit"))?)
            .map_err(|e| malformed(&field("commit"), e))?;
        Ok(SetChange { tx, new_set, result, header, tx_proof, result_proof, commit })
    }
}

fn malformed(field: &str, reason: impl ToString) -> CertificateError {
    CertificateError::Malformed { field: field.to_string(), reason: reason.to_string() }
}

fn proof_from_pb(p: Option<pb::MerkleProof>, field: &'static str) -> Result<Proof, CertificateError> {
    proof_from_pb_named(Some(p.ok_or(CertificateError::Missing(field))?), field)
}

fn proof_from_pb_named(p: Option<pb::MerkleProof>, field: &str) -> Result<Proof, CertificateError> {
    let p = p.ok_or_else(|| malformed(field, "missing"))?;
    let path =
        p.path
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let arr: [u8; 32] = h.as_slice().try_into().map_err(|_| {
                    malformed(&format!("{field}.path[{i}]"), format!("expected 32 bytes, got {}", h.len()))
                })?;
                Ok(Hash(arr))
            })
            .collect::<Result<_, CertificateError>>()?;
    Ok(Proof { index: p.index, count: p.count, path })
}

impl DecodedCertificate {
    /// Decodes the protobuf bytes of a `bct.v1.RetirementCertificate`, refusing anything but
    /// the canonical encoding and any part that is missing or malformed.
    pub fn decode(bytes: &[u8]) -> Result<DecodedCertificate, CertificateError> {
        if bytes.len() > CERTIFICATE_BYTES_MAX {
            return Err(CertificateError::TooLarge {
                what: "the embedded certificate",
                size: bytes.len(),
                max: CERTIFICATE_BYTES_MAX,
            });
        }
        let msg = pb::RetirementCertificate::decode(bytes).map_err(|e| CertificateError::Protobuf(e.to_string()))?;
        // Re-encoding gives back the same bytes only if nothing was added, dropped or
        // re-ordered: unknown fields, repeats and non-minimal varints all fail here.
        if msg.encoded_len() != bytes.len() || msg.encode_to_vec() != bytes {
            return Err(CertificateError::NotCanonical);
        }
        let tx =
            crate::signed_tx_from_pb(msg.tx.ok_or(CertificateError::Missing("tx"))?).map_err(|e| malformed("tx", e))?;
        let retire = match &tx.body().kind {
            TxKind::Retire(r) => r.clone(),
            other => return Err(CertificateError::NotRetire(other.name())),
        };
        let result =
            msg.result.ok_or(CertificateError::Missing("result"))?.into_ledger().map_err(|e| malformed("result", e))?;
        let accepted = match &result.outcome {
            Ok(a) => a.clone(),
            Err(r) => return Err(CertificateError::RejectedTx(r.to_string())),
        };
        let retirement_id = accepted
            .retirement
            .ok_or_else(|| CertificateError::ResultMismatch("the accepted result names no retirement id".into()))?;
        let header =
            msg.header.ok_or(CertificateError::Missing("header"))?.into_ledger().map_err(|e| malformed("header", e))?;
        let tx_proof = proof_from_pb(msg.tx_proof, "tx_proof")?;
        let result_proof = proof_from_pb(msg.result_proof, "result_proof")?;
        let commit = CommitCertificate::from_pb(&msg.commit.ok_or(CertificateError::Missing("commit"))?)
            .map_err(|e| malformed("commit", e))?;
        let validators = msg
            .validators
            .into_iter()
            .enumerate()
            .map(|(i, v)| v.into_ledger().map_err(|e| malformed(&format!("validators[{i}]"), e)))
            .collect::<Result<Vec<_>, _>>()?;
        if validators.is_empty() {
            return Err(CertificateError::Missing("validators"));
        }
        let record = msg.retirement.map(|r| r.into_ledger().map_err(|e| malformed("retirement", e))).transpose()?;
        if msg.validator_set_history.len() > SET_HISTORY_MAX {
            return Err(malformed(
                "validator_set_history",
                format!("{} changes; at most {SET_HISTORY_MAX} are accepted", msg.validator_set_history.len()),
            ));
        }
        let history = msg
            .validator_set_history
            .into_iter()
            .enumerate()
            .map(|(i, c)| SetChange::decode(i, c))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DecodedCertificate {
            chain_id: msg.chain_id,
            tx,
            retire,
            result,
            accepted,
            retirement_id,
            header,
            tx_proof,
            result_proof,
            commit,
            validators,
            record,
            history,
        })
    }

    /// What the certificate claims, read from the transaction, its result and the header.
    pub fn summary(&self) -> RetirementSummary {
        RetirementSummary {
            chain_id: self.header.chain_id.clone(),
            retirement_id: self.retirement_id,
            retiree: self.tx.body().signer.to_string(),
            beneficiary: self.retire.beneficiary.clone(),
            purpose: self.retire.purpose.as_str().to_string(),
            jurisdiction: self.retire.jurisdiction.clone(),
            note: self.retire.note.clone(),
            ticket: self.retire.ticket.clone(),
            quantity: self.retire.quantity.to_string(),
            quantity_kg: self.retire.quantity.kg(),
            serials: self
                .accepted
                .serials
                .iter()
                .map(|r| SerialsSummary { ticket: r.ticket.clone(), first: r.first, last: r.last })
                .collect(),
            tx_id: self.tx.id().to_hex(),
            height: self.header.height,
            block_hash: self.header.hash().to_hex(),
            time_ms: self.header.time_ms,
            time_utc: utc(self.header.time_ms),
        }
    }

    /// Checks everything the certificate claims against `genesis`, with no other input,
    /// stopping at the first check that fails.
    pub fn verify(&self, genesis: &Genesis) -> Result<Verified, CertificateError> {
        self.run_checks(genesis, true).1
    }

    /// Runs every check, in [`Check::ALL`] order, and reports each verdict; a check that
    /// fails does not stop the others. With `stop_at_first`, the checks after a failure are
    /// not run (reported as `None`). The outcome is the first failure, or what it proves.
    fn run_checks(&self, genesis: &Genesis, stop_at_first: bool) -> (Vec<Verdict>, Result<Verified, CertificateError>) {
        // Cheap checks first, signatures last: every check must pass, so the order changes
        // only which reason a doctored certificate is refused with, and how fast.
        let mut verdicts = Vec::with_capacity(Check::ALL.len());
        let mut first_error: Option<CertificateError> = None;
        let mut commit_check = None;
        for check in Check::ALL.into_iter().skip_while(|c| *c != Check::Chain) {
            if stop_at_first && first_error.is_some() {
                verdicts.push(Verdict { check, outcome: None });
                continue;
            }
            let outcome = match check {
                Check::Chain => self.check_chain(genesis),
                Check::Signer => self.check_signer(),
                Check::Result => self.check_result(),
                Check::Proofs => self.check_proofs(),
                Check::ValidatorSet => self.check_validator_set(genesis),
                Check::CommitTarget => self.check_commit_target(),
                Check::Record => self.check_record(),
                Check::TxSignature => {
                    if self.tx.verify_signature() {
                        Ok(())
                    } else {
                        Err(CertificateError::BadTxSignature)
                    }
                }
                Check::CommitSignatures => match self.commit.verify(&genesis.chain_id, &self.validators) {
                    Ok(c) => {
                        commit_check = Some(c);
                        Ok(())
                    }
                    Err(e) => Err(CertificateError::Commit(e)),
                },
                Check::File | Check::Summary => Ok(()),
            };
            if let Err(e) = &outcome {
                first_error.get_or_insert_with(|| e.clone());
            }
            verdicts.push(Verdict { check, outcome: Some(outcome) });
        }
        let verified = match (first_error, commit_check) {
            (Some(e), _) => Err(e),
            (None, Some(check)) => Ok(Verified {
                certificate_id: certificate_id(&genesis.fingerprint(), self.retirement_id),
                summary: self.summary(),
                signed_power: check.signed_power,
                total_power: check.total_power,
                signers: check.signers,
                set_changes: self.history.len(),
            }),
            (None, None) => Err(CertificateError::Missing("commit signatures")),
        };
        (verdicts, verified)
    }

    /// The certificate, its block header and its transaction are for the genesis chain.
    fn check_chain(&self, genesis: &Genesis) -> Result<(), CertificateError> {
        let chain = &genesis.chain_id;
        let same_chain = |field: &'static str, got: &str| {
            if got == chain {
                Ok(())
            } else {
                Err(CertificateError::WrongChain { field, expected: chain.clone(), got: got.to_string() })
            }
        };
        same_chain("chain_id", &self.chain_id)?;
        same_chain("header.chain_id", &self.header.chain_id)?;
        same_chain("the transaction's chain_id", &self.tx.body().chain_id)
    }

    /// The transaction names the key that signed it.
    fn check_signer(&self) -> Result<(), CertificateError> {
        let key_address = Address::from_public_key(self.tx.public_key());
        if self.tx.body().signer != key_address {
            return Err(CertificateError::SignerMismatch { signer: self.tx.body().signer, key_address });
        }
        Ok(())
    }

    /// Its result: accepted, for this transaction, retiring exactly its quantity of its ticket.
    fn check_result(&self) -> Result<(), CertificateError> {
        let tx_id = self.tx.id();
        if self.result.tx != tx_id {
            return Err(CertificateError::ResultForOtherTx { expected: tx_id, got: self.result.tx });
        }
        self.check_serials()
    }

    /// The validator set: the header's, and the set the history leads to from the genesis.
    fn check_validator_set(&self, genesis: &Genesis) -> Result<(), CertificateError> {
        if validator_set_hash(&self.validators) != self.header.validator_set_hash {
            return Err(CertificateError::ValidatorSetHash);
        }
        let set = self.walk_history(genesis)?;
        self.check_set_is(&set)
    }

    /// Follows the validator set history from the genesis set: each change must be in a block
    /// decided by the set before it (the header names that set, and more than 2/3 of its power
    /// signed the block), be an accepted update_validators transaction proven into that block,
    /// and come after the one before. Returns the set after the last change.
    fn walk_history(&self, genesis: &Genesis) -> Result<Vec<Validator>, CertificateError> {
        let mut set = genesis.validator_set();
        let mut after = 0u64;
        for (index, c) in self.history.iter().enumerate() {
            let height = c.header.height;
            let broken = |reason: String| CertificateError::SetHistory { index, height, reason };
            if c.header.chain_id != genesis.chain_id || c.tx.body().chain_id != genesis.chain_id {
                return Err(broken(format!("it is not for chain {:?}", genesis.chain_id)));
            }
            if height <= after || height >= self.header.height {
                return Err(broken(format!(
                    "its height is not between the previous change ({after}) and the retirement's block ({})",
                    self.header.height
                )));
            }
            if c.header.validator_set_hash != validator_set_hash(&set) {
                return Err(broken(
                    "its block was not decided by the set before it (header.validator_set_hash differs): a change is \
                     missing from the history, or the history is for another chain"
                        .into(),
                ));
            }
            if c.commit.height != height || c.commit.block_hash != c.header.hash() {
                return Err(broken("its commit certificate is for another block".into()));
            }
            if c.result.tx != c.tx.id() || c.result.outcome.is_err() {
                return Err(broken("its result is not the accepted result of its transaction".into()));
            }
            prove_in_block(&c.header, c.tx.id(), &c.tx_proof, &c.result, &c.result_proof)
                .map_err(|e| broken(e.to_string()))?;
            if !c.tx.verify_signature() {
                return Err(broken("its transaction's signature does not verify".into()));
            }
            c.commit
                .verify(&genesis.chain_id, &set)
                .map_err(|e| broken(format!("its block is not signed by more than 2/3 of the set before it: {e}")))?;
            set = c.new_set.clone();
            after = height;
        }
        Ok(set)
    }

    /// The commit is for this header.
    fn check_commit_target(&self) -> Result<(), CertificateError> {
        if self.commit.height != self.header.height {
            return Err(CertificateError::CommitForOtherBlock(format!(
                "commit.height is {}, the header's height is {}",
                self.commit.height, self.header.height
            )));
        }
        let block_hash = self.header.hash();
        if self.commit.block_hash != block_hash {
            return Err(CertificateError::CommitForOtherBlock(format!(
                "commit.block_hash is {}, the header hashes to {block_hash}",
                self.commit.block_hash
            )));
        }
        Ok(())
    }

    fn check_serials(&self) -> Result<(), CertificateError> {
        let mut total: u64 = 0;
        if self.accepted.serials.is_empty() {
            return Err(CertificateError::ResultMismatch("the accepted result lists no retired serials".into()));
        }
        for r in &self.accepted.serials {
            if r.ticket != self.retire.ticket {
                return Err(CertificateError::ResultMismatch(format!(
                    "serials of ticket {} retired, but the transaction retires ticket {}",
                    r.ticket, self.retire.ticket
                )));
            }
            if r.first > r.last {
                return Err(CertificateError::ResultMismatch(format!("serial range {}..{} is empty", r.first, r.last)));
            }
            // `last - first + 1` overflows for the range 0..=u64::MAX: checked, as the sum is.
            total = (r.last - r.first)
                .checked_add(1)
                .and_then(|n| total.checked_add(n))
                .ok_or_else(|| CertificateError::ResultMismatch("the serial ranges overflow".into()))?;
        }
        if total != self.retire.quantity.kg() {
            return Err(CertificateError::ResultMismatch(format!(
                "the serials cover {}, the transaction retires {}",
                Amount::from_kg(total),
                self.retire.quantity
            )));
        }
        Ok(())
    }

    fn check_proofs(&self) -> Result<(), CertificateError> {
        prove_in_block(&self.header, self.tx.id(), &self.tx_proof, &self.result, &self.result_proof)
    }

    /// The certificate's set is `expected` (the genesis set, or the set after the history).
    fn check_set_is(&self, expected: &[Validator]) -> Result<(), CertificateError> {
        let whose = if self.history.is_empty() { "the genesis" } else { "the history's last change" };
        let differs = |reason: String| CertificateError::NotGenesisSet { height: self.header.height, reason };
        if expected.len() != self.validators.len() {
            return Err(differs(format!(
                "it has {} validators, {whose} has {}",
                self.validators.len(),
                expected.len()
            )));
        }
        for (i, (got, want)) in self.validators.iter().zip(expected).enumerate() {
            if got.public_key != want.public_key {
                return Err(differs(format!(
                    "validator {i} has key {}, {whose} has {} ({})",
                    hex::encode(got.public_key),
                    hex::encode(want.public_key),
                    want.name
                )));
            }
            if got.power != want.power {
                return Err(differs(format!(
                    "validator {} has power {}, {} in {whose}",
                    want.name, got.power, want.power
                )));
            }
            if got.name != want.name {
                return Err(differs(format!("validator {i} is named {:?}, {:?} in {whose}", got.name, want.name)));
            }
        }
        Ok(())
    }

    fn check_record(&self) -> Result<(), CertificateError> {
        let Some(r) = &self.record else { return Ok(()) };
        let mismatch = |field: &'static str, record: String, certified: String| {
            Err(CertificateError::RecordMismatch { field, record, certified })
        };
        let t = &self.retire;
        if r.id != self.retirement_id {
            return mismatch("id", r.id.to_string(), self.retirement_id.to_string());
        }
        if r.retiree != self.tx.body().signer {
            return mismatch("retiree", r.retiree.to_string(), self.tx.body().signer.to_string());
        }
        if r.beneficiary != t.beneficiary {
            return mismatch("beneficiary", format!("{:?}", r.beneficiary), format!("{:?}", t.beneficiary));
        }
        if r.purpose != t.purpose {
            return mismatch("purpose", r.purpose.as_str().into(), t.purpose.as_str().into());
        }
        if r.jurisdiction != t.jurisdiction {
            return mismatch("jurisdiction", format!("{:?}", r.jurisdiction), format!("{:?}", t.jurisdiction));
        }
        if r.note != t.note {
            return mismatch("note", format!("{:?}", r.note), format!("{:?}", t.note));
        }
        if r.ticket != t.ticket {
            return mismatch("ticket", r.ticket.clone(), t.ticket.clone());
        }
        if r.quantity != t.quantity {
            return mismatch("quantity", r.quantity.to_string(), t.quantity.to_string());
        }
        if r.serials != self.accepted.serials {
            return mismatch("serials", format!("{:?}", r.serials), format!("{:?}", self.accepted.serials));
        }
        if r.tx != self.tx.id() {
            return mismatch("tx_id", r.tx.to_hex(), self.tx.id().to_hex());
        }
        if r.height != self.header.height {
            return mismatch("height", r.height.to_string(), self.header.height.to_string());
        }
        if r.time_ms != self.header.time_ms {
            return mismatch("time_ms", r.time_ms.to_string(), self.header.time_ms.to_string());
        }
        Ok(())
    }
}

impl CertificateFile {
    /// The file for the certificate bytes a node gave: the bytes as they are, and the summary
    /// read from them. The bytes must decode (see [`DecodedCertificate::decode`]); they are not
    /// verified here, as that needs the genesis ([`verify_file`]).
    pub fn from_certificate_bytes(bytes: &[u8]) -> Result<CertificateFile, CertificateError> {
        let decoded = DecodedCertificate::decode(bytes)?;
        Ok(CertificateFile {
            format: CERTIFICATE_FORMAT.to_string(),
            retirement: decoded.summary(),
            certificate_base64: base64::engine::general_purpose::STANDARD.encode(bytes),
        })
    }

    /// Pretty JSON with a final newline: the file's content.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// Checks a certificate file offline against `genesis`: see the module documentation. On
/// success, returns what it proves; otherwise, why it is refused (the first check that fails).
pub fn verify_file(content: &[u8], genesis: &Genesis) -> Result<Verified, CertificateError> {
    run_file_checks(content, genesis, true).1
}

/// Checks a certificate file like [`verify_file`] and reports every check's verdict: each
/// check of the embedded certificate runs even when another failed, so the report shows
/// everything that is wrong. The outcome is the same as [`verify_file`]'s.
pub fn check_file(content: &[u8], genesis: &Genesis) -> (Vec<Verdict>, Result<Verified, CertificateError>) {
    run_file_checks(content, genesis, false)
}

fn run_file_checks(
    content: &[u8],
    genesis: &Genesis,
    stop_at_first: bool,
) -> (Vec<Verdict>, Result<Verified, CertificateError>) {
    let not_run = |from: usize| Check::ALL[from..].iter().map(|&check| Verdict { check, outcome: None });
    let decoded = (|| {
        if content.len() > CERTIFICATE_FILE_BYTES_MAX {
            return Err(CertificateError::TooLarge {
                what: "the certificate file",
                size: content.len(),
                max: CERTIFICATE_FILE_BYTES_MAX,
            });
        }
        let file: CertificateFile =
            serde_json::from_slice(content).map_err(|e| CertificateError::NotACertificateFile(e.to_string()))?;
        if file.format != CERTIFICATE_FORMAT {
            return Err(CertificateError::Format { got: file.format });
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(file.certificate_base64.as_bytes())
            .map_err(|e| CertificateError::Base64(e.to_string()))?;
        Ok((file, DecodedCertificate::decode(&bytes)?))
    })();
    let (file, decoded) = match decoded {
        Ok(d) => d,
        Err(e) => {
            let mut verdicts = vec![Verdict { check: Check::File, outcome: Some(Err(e.clone())) }];
            verdicts.extend(not_run(1));
            return (verdicts, Err(e));
        }
    };
    let mut verdicts = vec![Verdict { check: Check::File, outcome: Some(Ok(())) }];
    // The summary is what people read: it must say what the bytes say (checked first, as it
    // costs nothing), and the bytes must then verify.
    let summary = compare_summaries(&file.retirement, &decoded.summary());
    verdicts.push(Verdict { check: Check::Summary, outcome: Some(summary.clone()) });
    if let (Err(e), true) = (&summary, stop_at_first) {
        verdicts.extend(not_run(2));
        return (verdicts, Err(e.clone()));
    }
    let (rest, verified) = decoded.run_checks(genesis, stop_at_first);
    verdicts.extend(rest);
    (verdicts, summary.and(verified))
}

/// One check of a certificate, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The file is a certificate file of this format whose embedded bytes decode canonically.
    File,
    /// The readable summary says exactly what the embedded bytes say.
    Summary,
    /// The certificate, its block and its transaction are for the genesis chain.
    Chain,
    /// The transaction names the key that signed it.
    Signer,
    /// Its result is accepted, for this transaction, and retires exactly its quantity.
    Result,
    /// The transaction and its result are in the block (Merkle paths to the header's roots).
    Proofs,
    /// The validator set is the header's and the genesis set.
    ValidatorSet,
    /// The commit is for this block.
    CommitTarget,
    /// The readable retirement record says what the transaction says.
    Record,
    /// The retirement transaction's signature verifies.
    TxSignature,
    /// More than 2/3 of the voting power signed the block.
    CommitSignatures,
}

impl Check {
    /// Every check, in the order they run.
    pub const ALL: [Check; 11] = [
        Check::File,
        Check::Summary,
        Check::Chain,
        Check::Signer,
        Check::Result,
        Check::Proofs,
        Check::ValidatorSet,
        Check::CommitTarget,
        Check::Record,
        Check::TxSignature,
        Check::CommitSignatures,
    ];

    /// A stable code (`file`, `summary`, `chain`, ...).
    pub fn code(self) -> &'static str {
        match self {
            Check::File => "file",
            Check::Summary => "summary",
            Check::Chain => "chain",
            Check::Signer => "signer",
            Check::Result => "result",
            Check::Proofs => "proofs",
            Check::ValidatorSet => "validator_set",
            Check::CommitTarget => "commit_target",
            Check::Record => "record",
            Check::TxSignature => "tx_signature",
            Check::CommitSignatures => "commit_signatures",
        }
    }

    /// What it checks, in English.
    pub fn describe(self) -> &'static str {
        match self {
            Check::File => "The file is a bct certificate file whose embedded certificate decodes",
            Check::Summary => "The readable summary says exactly what the certificate proves",
            Check::Chain => "The certificate, its block and its transaction are for the genesis chain",
            Check::Signer => "The retirement names the key that signed it",
            Check::Result => "The ledger accepted the retirement and retired exactly its quantity",
            Check::Proofs => "The retirement and its result are in the block (Merkle proofs)",
            Check::ValidatorSet => "The block's validator set is the genesis set",
            Check::CommitTarget => "The validators' commit is for this block",
            Check::Record => "The retirement record says what the transaction says",
            Check::TxSignature => "The retiree's signature is valid",
            Check::CommitSignatures => "Validators with more than 2/3 of the voting power signed the block",
        }
    }
}

/// A check and its verdict: `None` when it did not run (an earlier check it needs failed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The check.
    pub check: Check,
    /// Passed, failed with the reason, or not run.
    pub outcome: Option<Result<(), CertificateError>>,
}

/// Refuses a readable summary that differs from the verified one, naming the first field.
fn compare_summaries(file: &RetirementSummary, certified: &RetirementSummary) -> Result<(), CertificateError> {
    if file == certified {
        return Ok(());
    }
    let as_map = |s: &RetirementSummary| match serde_json::to_value(s) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let (f, c) = (as_map(file), as_map(certified));
    for (field, certified_value) in &c {
        let file_value = f.get(field).cloned().unwrap_or(serde_json::Value::Null);
        if &file_value != certified_value {
            return Err(CertificateError::SummaryMismatch {
                field: field.clone(),
                file: file_value.to_string(),
                certified: certified_value.to_string(),
            });
        }
    }
    Err(CertificateError::SummaryMismatch {
        field: "(whole summary)".into(),
        file: format!("{file:?}"),
        certified: format!("{certified:?}"),
    })
}

/// A Unix time in ms as UTC, e.g. `2023-09-26T08:00:00Z` (milliseconds shown when not zero).
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let millis = ms % 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm), in unsigned arithmetic:
    // the epoch is shifted to 0000-03-01 so that leap days fall at the end of a year.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    if millis == 0 {
        format!("{year:04}-{month:02}-{d:02}T{h:02}:{m:02}:{s:02}Z")
    } else {
        format!("{year:04}-{month:02}-{d:02}T{h:02}:{m:02}:{s:02}.{millis:03}Z")
    }
}
