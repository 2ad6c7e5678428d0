//! Fuzz harnesses: one function per decoder of untrusted bytes, shared by the cargo-fuzz
//! targets in `fuzz/` (nightly, libFuzzer) and by the corpus replay in
//! `tests/tests/fuzz_corpus.rs` (stable, part of the normal test run).
//!
//! Each harness decodes its input with the production decoder and, when that succeeds, does
//! what the node or the wallet does next with the value (re-encoding, signature checks, the
//! mempool's dry run, block execution, stream assembly, certificate verification), asserting
//! properties the protocol promises. No input may make a harness panic: a panic is a bug in
//! the production code.
//!
//! | target | untrusted input | decoder |
//! | --- | --- | --- |
//! | [`signed_tx`] | gRPC `Submit`, mempool forwarding, block transactions | `bct_proto::decode_signed_tx`, `decode_body` |
//! | [`block`] | proposed and synced blocks | `bct_proto::decode_block` |
//! | [`proposal_part`] | one gossiped proposal part | `BctCodec` (`StreamMessage<ProposalPart>`, `ProposalPart`) |
//! | [`proposal_stream`] | a sequence of gossiped parts from two peers | `BctCodec` and `parts::Assembler` |
//! | [`consensus_msg`] | votes, proposals, liveness messages, validator proofs; WAL entries | `BctCodec` |
//! | [`sync_msg`] | value sync status, requests and responses | `BctCodec` |
//! | [`certificate`] | the protobuf bytes of a retirement certificate | `DecodedCertificate::decode` |
//! | [`certificate_file`] | a retirement certificate file (JSON) | `certificate::verify_file` |
//! | [`structured`] | any of the protobuf inputs above, written without lengths | as above |
//!
//! The harnesses work against one fixed chain ([`world`]): a genesis with four validators, two
//! real blocks (admissions, a project, attestations, an issuance, a transfer; then a pledge and
//! a retirement), their commit certificates, the ledger after block 1, and the retirement
//! certificate of block 2. The seed inputs ([`seeds`]) are made from it by the real encoders.

use std::fmt::Debug;
use std::future::Future;
use std::pin::pin;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context as TaskContext, Poll, Waker};

use bct_ledger::block::result_leaves;
use bct_ledger::crypto::{merkle_leaf, merkle_path, precommit_sign_bytes, tx_id};
use bct_ledger::genesis::{GenesisAccount, GenesisValidator};
use bct_ledger::tx::{
    AdmitAccount, Approval, Attest, Cancel, Freeze, FreezeTarget, Issue, Pledge, ProjectStatusChange, RegisterProject,
    ReinstateAccount, Release, Retire, Seize, SuspendAccount, Trade, Transfer, Unfreeze, UpdateAccount, UpdateProject,
    UpdateValidators,
};
use bct_ledger::types::{Date, Ecosystem, Location, Methodology, Period, Purpose, Role, Validator};
use bct_ledger::{Address, Amount, Block, Genesis, Hash, Ledger, MemStore, Params, Rejection, SignedTx, TxKind};
use bct_node::consensus::codec::{commit_certificate_from_extended, BctCodec};
use bct_node::consensus::context::{
    BctContext, BlockId, Height, PartInit, Proposal, ProposalPart, ValidatorAddress, ValidatorSet, Vote,
};
use bct_node::consensus::host::block_wire_bytes_max;
use bct_node::consensus::parts::{self, Assembler, CompleteStream, STREAMS_OPEN_MAX};
use bct_node::consensus::signing::{parts_sign_bytes, proposal_sign_bytes, vote_sign_bytes, BctVerifier};
use bct_proto::{
    decode_block, decode_body, decode_signed_tx, encode_block, encode_body, encode_signed_tx, pb, ProtoError,
    SIGNED_TX_BYTES_MAX, TX_BODY_BYTES_MAX,
};
use bct_wallet::client::certificate::{
    verify_file, CertificateError, CertificateFile, DecodedCertificate, RetirementSummary, CERTIFICATE_BYTES_MAX,
    CERTIFICATE_FILE_BYTES_MAX,
};
use bct_wallet::client::CommitCertificate;
use bytes::Bytes;
use ed25519_dalek::{Signer as _, SigningKey};
use malachitebft_app_channel::app::consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg};
use malachitebft_app_channel::app::streaming::{StreamId, StreamMessage};
use malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use malachitebft_app_channel::app::types::core::{
    Context as _, ExtendedCommitCertificate, ExtendedCommitSignature, NilOrVal, PolkaCertificate, PolkaSignature,
    Round, RoundCertificate, RoundCertificateType, RoundSignature, SignedMessage, ValidatorProof, Validity, VoteType,
};
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_signing::Verifier as _;
use malachitebft_signing_ed25519::Signature;
use malachitebft_sync as sync;
use prost::Message;

/// A fuzz harness: takes any bytes, panics only on a bug.
pub type Harness = fn(&[u8]);

/// Every harness, by the name of its cargo-fuzz target and corpus directory.
pub const TARGETS: &[(&str, Harness)] = &[
    ("signed_tx", signed_tx),
    ("block", block),
    ("proposal_part", proposal_part),
    ("proposal_stream", proposal_stream),
    ("consensus_msg", consensus_msg),
    ("sync_msg", sync_msg),
    ("certificate", certificate),
    ("certificate_file", certificate_file),
    ("structured", structured),
];

/// The chain id of the fixed chain.
pub const CHAIN: &str = "bct-fuzz-1";

// ---- the harnesses -----------------------------------------------------------------------------

/// A signed transaction as the node receives it (gRPC `Submit`, mempool forwarding), and the
/// same bytes as a bare transaction body.
///
/// Checks: input above [`SIGNED_TX_BYTES_MAX`] is refused unread; a body that decodes is the
/// canonical encoding of its value (re-encoding gives the same bytes, so one body has one id);
/// a decoded transaction re-encodes to no more bytes than it came in and decodes back to the
/// same value; its id is `blake3(TX_DOMAIN || body)`. Then the mempool's admission: a dry run
/// (`Ledger::check_tx`) against the ledger after block 1 accepts only transactions whose
/// signature verifies and changes no state. The body is also re-signed with its signer's key
/// when the fixed chain knows it, so that the dry run reaches every transaction handler with
/// fuzzed fields; that transaction is never refused for its signature.
pub fn signed_tx(data: &[u8]) {
    let w = world();
    if let Ok(body) = decode_body(data) {
        assert_eq!(encode_body(&body), data, "a body that decodes is canonical");
    }
    let decoded = decode_signed_tx(data);
    if data.len() > SIGNED_TX_BYTES_MAX {
        assert!(matches!(decoded, Err(ProtoError::TooLarge { .. })), "oversized input must be refused unread");
        return;
    }
    let Ok(tx) = decoded else { return };
    check_decoded_tx(&tx);
    let again = encode_signed_tx(&tx);
    assert!(again.len() <= data.len(), "re-encoding grew from {} to {} bytes", data.len(), again.len());
    assert_eq!(decode_signed_tx(&again).as_ref(), Ok(&tx), "re-encoding must decode to the same transaction");

    let mut ledger = w.ledger();
    let dry_run = ledger.check_tx(&tx);
    if dry_run.is_ok() {
        assert!(tx.verify_signature(), "the dry run accepted a transaction whose signature does not verify");
    }
    if let Some(key) = w.key_of(&tx.body().signer) {
        let (public_key, signature) = (key.verifying_key().to_bytes(), key.sign(&tx.signing_message()).to_bytes());
        // (ed25519 signatures are deterministic: a transaction its signer signed is its own re-signing.)
        let resigned = SignedTx::from_parts(tx.body_bytes().to_vec(), tx.body().clone(), public_key, signature);
        let outcome = if resigned == tx { dry_run } else { ledger.check_tx(&resigned) };
        assert!(
            !matches!(outcome, Err(Rejection::BadSignature | Rejection::SignerMismatch { .. })),
            "a transaction signed by its signer was refused: {outcome:?}"
        );
    }
    w.assert_unchanged(&ledger);
}

/// A block as the node receives it in a proposal or through value sync.
///
/// Checks: the size limit is applied before decoding; every transaction of a decoded block
/// passes the checks of [`signed_tx`]; the block re-encodes to no more bytes and decodes back
/// to the same block. Then what the node does: hash the header, and execute the block against
/// the ledger after block 1 (`Ledger::execute`), which must change no state.
pub fn block(data: &[u8]) {
    let w = world();
    let max = block_wire_bytes_max(&w.genesis.params);
    if !data.is_empty() {
        assert!(matches!(decode_block(data, data.len() - 1), Err(ProtoError::TooLarge { .. })));
    }
    let Ok(block) = decode_block(data, max) else { return };
    let again = encode_block(&block);
    assert!(again.len() <= data.len(), "re-encoding grew from {} to {} bytes", data.len(), again.len());
    assert_eq!(decode_block(&again, max).as_ref(), Ok(&block), "re-encoding must decode to the same block");
    check_block(w, &block);
}

/// One proposal part as gossiped (`StreamMessage<ProposalPart>`), and the same bytes as a bare
/// `ProposalPart`. Checks: a decoded message encodes and decodes back to itself, and its
/// encoding is stable.
pub fn proposal_part(data: &[u8]) {
    let bytes = Bytes::copy_from_slice(data);
    if let Ok(m) = decode::<StreamMessage<ProposalPart>>(bytes.clone()) {
        round_trip(&m);
    }
    if let Ok(p) = decode::<ProposalPart>(bytes) {
        round_trip(&p);
    }
}

/// A sequence of gossiped proposal parts from two peers, put back together as the node does.
///
/// Input: one byte choosing the assembler's limit (even: the node's block limit; odd: 1 KiB),
/// then records of a publisher byte, a big-endian `u16` length and that many bytes of an
/// encoded `StreamMessage<ProposalPart>`. Each message that decodes is pushed into one
/// `parts::Assembler`. Checks: never more than `STREAMS_OPEN_MAX` streams open; a completed
/// stream is `Init, Data*, Fin`, its data is the concatenation of its `Data` parts and within
/// the limit. Then what the node does with a complete stream: decode the block, check the
/// proposer's signature over the stream (a verified stream is always the one genuine proposal
/// of block 2) and execute the block.
pub fn proposal_stream(data: &[u8]) {
    let Some((&mode, mut rest)) = data.split_first() else { return };
    let w = world();
    let node_max = block_wire_bytes_max(&w.genesis.params);
    let bytes_max = if mode & 1 == 0 { node_max } else { 1024 };
    let mut assembler = Assembler::new(bytes_max);
    while rest.len() >= 3 {
        let publisher = w.peers[usize::from(rest[0] & 1)];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        let end = (3 + len).min(rest.len());
        let msg = Bytes::copy_from_slice(&rest[3..end]);
        rest = &rest[end..];
        let Ok(msg) = decode::<StreamMessage<ProposalPart>>(msg) else { continue };
        if let Ok(Some(stream)) = assembler.push(publisher, msg) {
            check_stream(w, stream, bytes_max, node_max);
        }
        assert!(assembler.open_streams() <= STREAMS_OPEN_MAX, "{} streams open", assembler.open_streams());
    }
}

/// Consensus messages and WAL entries. The first byte chooses the type: 0 a signed vote or
/// proposal, 1 a liveness message, 2 a validator proof, 3 a proposed value (WAL), 4 a polka
/// certificate (WAL), 5 a block id; the rest is its encoding.
///
/// Checks: a decoded value encodes and decodes back to itself. Signatures are checked as the
/// engine does (`BctVerifier`) against the fixed validator set, and one that verifies must be
/// over a message a validator of the fixed chain really signed: no other encoding or field
/// value can carry a genuine signature.
pub fn consensus_msg(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else { return };
    let w = world();
    let bytes = Bytes::copy_from_slice(rest);
    match kind % 6 {
        0 => {
            let Ok(m) = decode::<SignedConsensusMsg<BctContext>>(bytes) else { return };
            round_trip(&m);
            match &m {
                SignedConsensusMsg::Vote(v) => w.check_vote(&v.message, &v.signature),
                SignedConsensusMsg::Proposal(p) => w.check_proposal(&p.message, &p.signature),
            }
        }
        1 => {
            let Ok(m) = decode::<LivenessMsg<BctContext>>(bytes) else { return };
            round_trip(&m);
            match &m {
                LivenessMsg::Vote(v) => w.check_vote(&v.message, &v.signature),
                LivenessMsg::PolkaCertificate(c) => w.check_polka(c),
                LivenessMsg::SkipRoundCertificate(c) => w.check_round_certificate(c),
            }
        }
        2 => {
            let Ok(m) = decode::<ValidatorProof<BctContext>>(bytes) else { return };
            round_trip(&m);
            let valid = ready(w.verifier.verify_validator_proof(&m)).is_ok_and(|r| r.is_valid());
            if valid {
                assert_eq!((&m.public_key, &m.peer_id), (&w.proof.public_key, &w.proof.peer_id), "forged proof");
            }
        }
        3 => {
            if let Ok(m) = decode::<ProposedValue<BctContext>>(bytes) {
                round_trip(&m);
            }
        }
        4 => {
            if let Ok(m) = decode::<PolkaCertificate<BctContext>>(bytes) {
                round_trip(&m);
                w.check_polka(&m);
            }
        }
        _ => {
            if let Ok(m) = decode::<BlockId>(bytes) {
                round_trip(&m);
            }
        }
    }
}

/// Value sync messages. The first byte chooses the type: 0 a status, 1 a request, 2 a
/// response; the rest is its encoding.
///
/// Checks: a decoded value encodes and decodes back to itself, and a response's
/// `encoded_len` is the length of its encoding; a request's range is not reversed. For each
/// value of a response, what the node does: check the commit certificate's precommits against
/// the fixed validator set and decode the block. A value whose certificate carries more than
/// 2/3 of the power in valid signatures, and whose block hashes to the certified id, is exactly
/// the genuine block of that height.
pub fn sync_msg(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else { return };
    let w = world();
    let bytes = Bytes::copy_from_slice(rest);
    match kind % 3 {
        0 => {
            if let Ok(m) = decode::<sync::Status<BctContext>>(bytes) {
                round_trip(&m);
            }
        }
        1 => {
            if let Ok(m) = decode::<sync::Request<BctContext>>(bytes) {
                round_trip(&m);
                let sync::Request::ValueRequest(r) = &m;
                assert!(r.range.start() <= r.range.end(), "a reversed range was accepted");
            }
        }
        _ => {
            let Ok(m) = decode::<sync::Response<BctContext>>(bytes) else { return };
            round_trip(&m);
            let encoded = BctCodec.encode(&m).expect("encoding never fails");
            assert_eq!(BctCodec.encoded_len(&m).expect("length"), encoded.len());
            let sync::Response::ValueResponse(r) = &m;
            let max = block_wire_bytes_max(&w.genesis.params);
            for v in &r.values {
                let quorum = w.check_commit(&v.certificate);
                let Ok(block) = decode_block(&v.value_bytes, max) else { continue };
                for tx in &block.txs {
                    check_decoded_tx(tx);
                }
                if quorum && BlockId(block.hash()) == v.certificate.value_id {
                    let genuine = w.block_at(v.certificate.height.0).expect("a certified height");
                    assert_eq!(block.header, genuine.header, "a forged block passed its certificate");
                }
            }
        }
    }
}

/// The protobuf bytes of a retirement certificate (`bct.v1.RetirementCertificate`), as the
/// wallet reads them from a node or a file.
///
/// Checks: input above `CERTIFICATE_BYTES_MAX` is refused unread; decoded bytes are canonical;
/// the summary read from them is the one the wallet's certificate file carries, and that file
/// verifies exactly as the bytes do; the node's and the wallet's commit certificate checks
/// agree over the genesis set (for any commit but the genuine one, which both accept); and a certificate that verifies against the genesis always
/// certifies the one genuine retirement, with more than 2/3 of the power.
pub fn certificate(data: &[u8]) {
    let w = world();
    let decoded = DecodedCertificate::decode(data);
    if data.len() > CERTIFICATE_BYTES_MAX {
        assert!(matches!(decoded, Err(CertificateError::TooLarge { .. })), "oversized input must be refused unread");
        return;
    }
    let Ok(c) = decoded else { return };
    let msg = pb::RetirementCertificate::decode(data).expect("the bytes decoded once");
    assert_eq!(msg.encode_to_vec(), data, "a decoded certificate is canonical");
    let verdict = c.verify(&w.genesis);
    let file = CertificateFile::from_certificate_bytes(data).expect("the bytes decode");
    assert_eq!(file.retirement, c.summary());
    assert_eq!(verify_file(file.to_json().as_bytes(), &w.genesis), verdict, "the file and its bytes disagree");
    if let Some(commit) = msg.commit.as_ref().filter(|c| **c != w.commit2) {
        let node = bct_node::consensus::certificate::verify(CHAIN, commit, &w.validators);
        let wallet = CommitCertificate::from_pb(commit).map(|c| c.verify(CHAIN, &w.validators));
        assert_eq!(node.is_ok(), matches!(wallet, Ok(Ok(_))), "node {node:?}, wallet {wallet:?}");
    }
    if let Ok(v) = verdict {
        assert_eq!(v.summary, w.summary, "a forged certificate verified");
        assert!(u128::from(v.signed_power) * 3 > u128::from(v.total_power) * 2);
    }
}

/// A retirement certificate file (JSON with the protobuf bytes in base64), as `bct verify`
/// reads it. Checks: input above `CERTIFICATE_FILE_BYTES_MAX` is refused unread, and a file
/// that verifies against the genesis always certifies the one genuine retirement.
pub fn certificate_file(data: &[u8]) {
    let w = world();
    let verdict = verify_file(data, &w.genesis);
    if data.len() > CERTIFICATE_FILE_BYTES_MAX {
        assert!(matches!(verdict, Err(CertificateError::TooLarge { .. })), "oversized input must be refused unread");
    }
    if let Ok(v) = verdict {
        assert_eq!(v.summary, w.summary, "a forged certificate file verified");
    }
}

/// The protobuf inputs of the other harnesses, written in a form without lengths so that
/// byte-level mutations keep the message structure: inserting or deleting bytes inside a
/// nested message, or growing a varint to ten bytes, still gives well-formed protobuf. (The
/// other targets see such mutations only as length errors, so they rarely reach the checks
/// behind the decoders with large or removed field values.)
///
/// Input: one byte choosing the harness (0 [`signed_tx`], 1 [`block`], 2 [`proposal_part`],
/// 3 [`consensus_msg`], 4 [`sync_msg`], 5 [`certificate`]); for 3 and 4, that harness's type
/// byte; then the message in the form [`protobuf_from_lenless`] reads.
pub fn structured(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else { return };
    match which % 6 {
        0 => signed_tx(&protobuf_from_lenless(rest)),
        1 => block(&protobuf_from_lenless(rest)),
        2 => proposal_part(&protobuf_from_lenless(rest)),
        3 | 4 => {
            let Some((&kind, rest)) = rest.split_first() else { return };
            let input = [&[kind][..], &protobuf_from_lenless(rest)].concat();
            if which % 6 == 3 {
                consensus_msg(&input);
            } else {
                sync_msg(&input);
            }
        }
        _ => certificate(&protobuf_from_lenless(rest)),
    }
}

// ---- protobuf without lengths ------------------------------------------------------------------

/// Deepest nesting [`protobuf_from_lenless`] and [`lenless_from_protobuf`] follow.
const LENLESS_DEPTH_MAX: usize = 32;

/// Reads a varint's bytes as they are (at most 10); `None` at the end of the input.
fn raw_varint<'a>(input: &mut &'a [u8]) -> Option<&'a [u8]> {
    if input.is_empty() {
        return None;
    }
    let n = input.iter().take(10).position(|b| b & 0x80 == 0).map_or(input.len().min(10), |i| i + 1);
    let (v, rest) = input.split_at(n);
    *input = rest;
    Some(v)
}

fn varint_value(raw: &[u8]) -> u64 {
    raw.iter().rev().fold(0u64, |acc, b| (acc << 7) | u64::from(b & 0x7f))
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Protobuf from its length-free form, for any input. The form is protobuf with one change:
/// after the key of a length-delimited field comes a marker byte, even for bytes (then a
/// varint length and the bytes, as in protobuf) or odd for a nested message (then its fields,
/// closed by a zero key or the end of the input); lengths of nested messages are computed.
/// Keys, varints and fixed-width values are copied as they are.
pub fn protobuf_from_lenless(input: &[u8]) -> Vec<u8> {
    let mut input = input;
    let mut out = Vec::with_capacity(input.len() + 16);
    lenless_fields(&mut input, &mut out, 0);
    out
}

fn lenless_fields(input: &mut &[u8], out: &mut Vec<u8>, depth: usize) {
    while let Some(key) = raw_varint(input) {
        let k = varint_value(key);
        if k == 0 {
            return;
        }
        out.extend_from_slice(key);
        match k & 7 {
            0 => out.extend_from_slice(raw_varint(input).unwrap_or_default()),
            1 | 5 => {
                let n = if k & 7 == 1 { 8 } else { 4 }.min(input.len());
                let (v, rest) = input.split_at(n);
                out.extend_from_slice(v);
                *input = rest;
            }
            2 => {
                let Some((&marker, rest)) = input.split_first() else {
                    out.push(0);
                    return;
                };
                *input = rest;
                if marker & 1 == 1 && depth < LENLESS_DEPTH_MAX {
                    let mut nested = Vec::new();
                    lenless_fields(input, &mut nested, depth + 1);
                    put_varint(out, nested.len() as u64);
                    out.extend_from_slice(&nested);
                } else {
                    let len = raw_varint(input).map_or(0, varint_value);
                    let n = usize::try_from(len).unwrap_or(usize::MAX).min(input.len());
                    let (v, rest) = input.split_at(n);
                    put_varint(out, n as u64);
                    out.extend_from_slice(v);
                    *input = rest;
                }
            }
            // Groups and invalid wire types: the key alone, for the decoder to refuse.
            _ => {}
        }
    }
}

/// The length-free form of a protobuf message (for seeds): a length-delimited field whose
/// content is itself a well-formed message with minimal lengths is written as a nested
/// message, any other as bytes. `protobuf_from_lenless` gives back `bytes` exactly when they
/// are well-formed protobuf with minimal lengths.
pub fn lenless_from_protobuf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 16);
    if !lenless_message(bytes, &mut out, 0) {
        // Not protobuf: the fields up to where it stops making sense.
        out.clear();
        out.extend_from_slice(bytes);
    }
    out
}

/// Writes the length-free form of `bytes` if it is a well-formed message; false otherwise.
fn lenless_message(bytes: &[u8], out: &mut Vec<u8>, depth: usize) -> bool {
    let mut input = bytes;
    while let Some(key) = raw_varint(&mut input) {
        let k = varint_value(key);
        if k >> 3 == 0 || key.last().is_some_and(|b| b & 0x80 != 0) {
            return false;
        }
        out.extend_from_slice(key);
        match k & 7 {
            0 => match raw_varint(&mut input) {
                Some(v) if v.last().is_some_and(|b| b & 0x80 == 0) => out.extend_from_slice(v),
                _ => return false,
            },
            1 | 5 => {
                let n = if k & 7 == 1 { 8 } else { 4 };
                if input.len() < n {
                    return false;
                }
                out.extend_from_slice(&input[..n]);
                input = &input[n..];
            }
            2 => {
                let Some(len) = raw_varint(&mut input) else { return false };
                let mut minimal = Vec::new();
                put_varint(&mut minimal, varint_value(len));
                let Ok(n) = usize::try_from(varint_value(len)) else { return false };
                if minimal != len || n > input.len() {
                    return false;
                }
                let (content, rest) = input.split_at(n);
                input = rest;
                let mut nested = vec![1u8];
                if !content.is_empty() && depth < LENLESS_DEPTH_MAX && lenless_message(content, &mut nested, depth + 1)
                {
                    nested.push(0);
                    out.extend_from_slice(&nested);
                } else {
                    out.push(0);
                    out.extend_from_slice(len);
                    out.extend_from_slice(content);
                }
            }
            _ => return false,
        }
    }
    true
}

// ---- shared checks -----------------------------------------------------------------------------

fn decode<T>(bytes: Bytes) -> Result<T, <BctCodec as Codec<T>>::Error>
where
    BctCodec: Codec<T>,
{
    BctCodec.decode(bytes)
}

/// A decoded value encodes, decodes back to itself, and encodes to the same bytes again.
fn round_trip<T: PartialEq + Debug>(m: &T)
where
    BctCodec: Codec<T>,
    <BctCodec as Codec<T>>::Error: Debug,
{
    let encoded = BctCodec.encode(m).expect("encoding never fails");
    let back: T = BctCodec.decode(encoded.clone()).expect("an encoding of a decoded value decodes");
    assert_eq!(&back, m, "decode(encode(m)) != m");
    assert_eq!(BctCodec.encode(&back).expect("encoding never fails"), encoded, "the encoding is not stable");
}

/// What holds of every transaction `bct-proto` decoded.
fn check_decoded_tx(tx: &SignedTx) {
    let body = tx.body_bytes();
    assert!(body.len() <= TX_BODY_BYTES_MAX, "a {}-byte body was accepted", body.len());
    assert_eq!(encode_body(tx.body()), body, "a decoded body is canonical");
    assert_eq!(decode_body(body).as_ref(), Ok(tx.body()));
    assert_eq!(tx.id(), tx_id(body));
    assert!(tx.wire_size() <= Params::default().tx_bytes_max as usize);
    let _ = tx.addresses();
}

/// What the node does with a decoded block: check its transactions, hash it, execute it.
fn check_block(w: &World, block: &Block) {
    for tx in &block.txs {
        check_decoded_tx(tx);
    }
    let _ = block.hash();
    let mut ledger = w.ledger();
    let executed = ledger.execute(block);
    w.assert_unchanged(&ledger);
    if let Ok(e) = executed {
        assert_eq!(&e.block, block);
        assert_eq!(e.results.len(), block.txs.len());
    }
}

fn check_stream(w: &World, stream: CompleteStream, bytes_max: usize, node_max: usize) {
    assert!(stream.data.len() <= bytes_max, "a {}-byte stream passed a {bytes_max}-byte limit", stream.data.len());
    assert_eq!(stream.parts.first(), Some(&ProposalPart::Init(stream.init.clone())));
    assert_eq!(stream.parts.last(), Some(&ProposalPart::Fin(stream.signature)));
    let mut data = Vec::new();
    for p in &stream.parts[1..stream.parts.len() - 1] {
        match p {
            ProposalPart::Data(d) => data.extend_from_slice(d),
            other => panic!("{other:?} inside a stream"),
        }
    }
    assert_eq!(data, stream.data.as_ref());

    // As `Host::accept_stream`: the block, then the round proposer's signature over the stream.
    let Ok(block) = decode_block(&stream.data, node_max) else { return };
    let init = &stream.init;
    let proposer = BctContext.select_proposer(&w.set, init.height, init.round);
    let id = BlockId(block.hash());
    let signed = parts_sign_bytes(CHAIN, init.height, init.round, init.pol_round, &id, &proposer.address);
    if init.proposer == proposer.address && proposer.public_key.verify(&signed, &stream.signature).is_ok() {
        assert_eq!((init.height.0, id), (2, BlockId(w.block2.hash())), "a forged proposal stream verified");
    }
    check_block(w, &block);
}

/// Runs a future that never waits (the signing and verifying futures of bct).
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut TaskContext::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => unreachable!("bct's signing futures never wait"),
    }
}

// ---- the fixed chain ---------------------------------------------------------------------------

/// The fixed chain the harnesses check against, built once per process.
pub struct World {
    /// The genesis: one authority, four validators of power 1.
    pub genesis: Genesis,
    /// The genesis validator set, sorted by address.
    pub validators: Vec<Validator>,
    /// The same set as consensus sees it.
    pub set: ValidatorSet,
    /// Block 1: admissions, a project, two attestations, an issuance and a sale.
    pub block1: Block,
    /// Block 2: an admission, a pledge and a retirement.
    pub block2: Block,
    /// The commit certificates of blocks 1 and 2 (precommits of three validators).
    pub commits: [ExtendedCommitCertificate<BctContext>; 2],
    /// The retirement certificate of block 2's retirement, as a node serves it.
    pub certificate: Vec<u8>,
    /// The same as a wallet's certificate file.
    pub certificate_file: Vec<u8>,
    /// What that certificate proves.
    pub summary: RetirementSummary,
    /// Two peers that publish proposal parts.
    pub peers: [PeerId; 2],
    /// Block 2's commit certificate as the retirement certificate carries it.
    commit2: pb::CommitCertificate,
    ledger: Mutex<Ledger<MemStore>>,
    state_before: String,
    verifier: BctVerifier,
    /// Keys of every account and validator of the chain.
    keys: Vec<SigningKey>,
    /// Validator keys, in the order of `validators`.
    validator_keys: Vec<SigningKey>,
    /// Every vote and proposal signed by a validator of the chain.
    votes: Vec<Vote>,
    proposals: Vec<Proposal>,
    proof: ValidatorProof<BctContext>,
    /// Transactions of several kinds, signed, beyond those in the blocks.
    extra_txs: Vec<SignedTx>,
}

/// The fixed chain, built on first use.
pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(build_world)
}

impl World {
    /// The ledger after block 1; [`World::assert_unchanged`] checks nothing changed it.
    fn ledger(&self) -> MutexGuard<'_, Ledger<MemStore>> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn assert_unchanged(&self, ledger: &Ledger<MemStore>) {
        assert_eq!(ledger.height(), 1);
        assert!(format!("{:?}", ledger.state()) == self.state_before, "a dry run or an execution changed the state");
    }

    fn key_of(&self, address: &Address) -> Option<&SigningKey> {
        self.keys.iter().find(|k| addr(k) == *address)
    }

    fn block_at(&self, height: u64) -> Option<&Block> {
        [&self.block1, &self.block2].into_iter().find(|b| b.header.height == height)
    }

    /// Whether `signature` is a valid signature of `vote` by a validator of the set, checked as
    /// the engine does; one that verifies must be over a vote that validator really cast.
    fn vote_verifies(&self, vote: &Vote, signature: &Signature) -> bool {
        let Some(v) = self.set.get(&vote.validator) else { return false };
        let valid = ready(self.verifier.verify_signed_vote(vote, signature, &v.public_key)).is_ok_and(|r| r.is_valid());
        if valid {
            let cast = Vote { extension: None, ..vote.clone() };
            assert!(self.votes.contains(&cast), "a forged vote verified: {vote:?}");
        }
        valid
    }

    fn check_vote(&self, vote: &Vote, signature: &Signature) {
        self.vote_verifies(vote, signature);
    }

    fn check_proposal(&self, proposal: &Proposal, signature: &Signature) {
        let Some(v) = self.set.get(&proposal.proposer) else { return };
        let valid =
            ready(self.verifier.verify_signed_proposal(proposal, signature, &v.public_key)).is_ok_and(|r| r.is_valid());
        if valid {
            assert!(self.proposals.contains(proposal), "a forged proposal verified: {proposal:?}");
        }
    }

    fn check_polka(&self, c: &PolkaCertificate<BctContext>) {
        for s in &c.polka_signatures {
            let vote = BctContext.new_prevote(c.height, c.round, NilOrVal::Val(c.value_id), s.address);
            self.vote_verifies(&vote, &s.signature);
        }
    }

    fn check_round_certificate(&self, c: &RoundCertificate<BctContext>) {
        for s in &c.round_signatures {
            let vote = Vote {
                vote_type: s.vote_type,
                height: c.height,
                round: c.round,
                value: s.value_id,
                validator: s.address,
                extension: None,
            };
            self.vote_verifies(&vote, &s.signature);
        }
    }

    /// Checks a synced value's commit certificate as precommits of distinct validators;
    /// whether they carry more than 2/3 of the power.
    fn check_commit(&self, c: &ExtendedCommitCertificate<BctContext>) -> bool {
        let plain = commit_certificate_from_extended(c.clone());
        let mut signers = Vec::new();
        for s in &plain.commit_signatures {
            let vote = BctContext.new_precommit(plain.height, plain.round, NilOrVal::Val(plain.value_id), s.address);
            if !self.vote_verifies(&vote, &s.signature) || signers.contains(&s.address) {
                return false;
            }
            signers.push(s.address);
        }
        3 * signers.len() > 2 * self.validators.len()
    }
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn addr(k: &SigningKey) -> Address {
    Address::from_public_key(&k.verifying_key().to_bytes())
}

fn date(v: u32) -> Date {
    Date::from_yyyymmdd(v).expect("a calendar date")
}

fn t(tonnes: u64) -> Amount {
    Amount::from_tonnes(tonnes).expect("small")
}

fn sign_tx(k: &SigningKey, nonce: u64, kind: TxKind) -> SignedTx {
    bct_wallet::client::sign_tx(k, CHAIN, nonce, 0, kind)
}

const PROJECT: &str = "FJ-LJ-KELP-001";
const TICKET: &str = "FJ-LJ-KELP-001-20210101-20211231-1";
const BENEFICIARY: &str = "Xiamen Airlines carbon-neutral flight campaign";

fn build_world() -> World {
    let (authority, verifier1, verifier2, owner, buyer, bank, exchange) =
        (key(1), key(2), key(3), key(5), key(6), key(7), key(8));
    let validator_seeds: Vec<SigningKey> = (200..=203u8).map(key).collect();
    let genesis = Genesis {
        chain_id: CHAIN.into(),
        genesis_time_ms: 1_640_995_200_000,
        params: Params::default(),
        authorities: vec![GenesisAccount {
            public_key: authority.verifying_key().to_bytes(),
            name: "Fujian Ocean and Fisheries Bureau".into(),
            jurisdiction: "CN-FJ".into(),
        }],
        validators: validator_seeds
            .iter()
            .enumerate()
            .map(|(i, k)| GenesisValidator {
                public_key: k.verifying_key().to_bytes(),
                power: 1,
                name: format!("exchange-{i}"),
            })
            .collect(),
    };
    let validators = genesis.validator_set();
    let validator_keys: Vec<SigningKey> = validators
        .iter()
        .map(|v| validator_seeds.iter().find(|k| k.verifying_key().to_bytes() == v.public_key).expect("a key").clone())
        .collect();
    let set = ValidatorSet::from_ledger(&validators).expect("valid keys");
    let proposer_of = |height: u64| {
        let p = BctContext.select_proposer(&set, Height(height), Round::new(0));
        validator_keys.iter().position(|k| addr(k) == p.address.0).expect("a validator")
    };

    let report = Hash::of(b"Lianjiang kelp farm monitoring report 2021");
    let period = Period { start: date(20210101), end: date(20211231) };
    let methodology = Methodology { id: "HY/T 0349-2022".into(), version: "2022".into() };
    let admit = |n: u64, who: &SigningKey, role: Role, name: &str| {
        sign_tx(
            &authority,
            n,
            TxKind::AdmitAccount(AdmitAccount {
                address: addr(who),
                role,
                name: name.into(),
                jurisdiction: "CN-FJ".into(),
            }),
        )
    };
    let attest = |k: &SigningKey, nonce: u64, period: Period, report_hash: Hash| {
        sign_tx(
            k,
            nonce,
            TxKind::Attest(Attest {
                project: PROJECT.into(),
                period,
                quantity: t(6000),
                methodology: methodology.clone(),
                report_hash,
                statement: "verified removal of the harvest".into(),
            }),
        )
    };
    let block1_txs = vec![
        admit(1, &verifier1, Role::Verifier, "Third Institute of Oceanography"),
        admit(2, &verifier2, Role::Verifier, "Fujian certification centre"),
        admit(3, &owner, Role::Holder, "Lianjiang kelp cooperative"),
        admit(4, &buyer, Role::Holder, "Xiamen Airlines"),
        admit(5, &bank, Role::Holder, "Industrial Bank Fuzhou"),
        sign_tx(
            &authority,
            6,
            TxKind::RegisterProject(RegisterProject {
                id: PROJECT.into(),
                name: "Lianjiang kelp farm".into(),
                owner: addr(&owner),
                ecosystem: Ecosystem::SeaweedFarm,
                location: Location { region: "CN-FJ-350122".into(), coordinates: Some((26_200_000, 119_540_000)) },
                area_centiha: 20_000,
                methodology: methodology.clone(),
            }),
        ),
        attest(&verifier1, 1, period, report),
        attest(&verifier2, 1, period, report),
        sign_tx(
            &authority,
            7,
            TxKind::Issue(Issue {
                project: PROJECT.into(),
                period,
                report_hash: report,
                quantity: t(6000),
                recipient: None,
            }),
        ),
        sign_tx(
            &owner,
            1,
            TxKind::Transfer(Transfer {
                ticket: TICKET.into(),
                to: addr(&buyer),
                quantity: t(6000),
                trade: Some(Trade {
                    price_per_tonne_minor: 2000,
                    currency: "CNY".into(),
                    reference: "HX-2022-0001".into(),
                }),
            }),
        ),
    ];
    let retire = sign_tx(
        &buyer,
        2,
        TxKind::Retire(Retire {
            ticket: TICKET.into(),
            quantity: t(1500),
            beneficiary: BENEFICIARY.into(),
            purpose: Purpose::Event,
            jurisdiction: "CN-FJ".into(),
            note: "carbon-neutral air tickets, 2022-01-01".into(),
        }),
    );
    let block2_txs = vec![
        admit(8, &exchange, Role::Exchange, "Haixia exchange"),
        sign_tx(&buyer, 1, TxKind::Pledge(Pledge { ticket: TICKET.into(), quantity: t(1000), pledgee: addr(&bank) })),
        retire.clone(),
    ];

    // The chain to height 2, and the ledger after block 1 that the harnesses share.
    let mut ledger = Ledger::open(MemStore::new(), genesis.clone()).expect("genesis opens");
    let proposer1 = addr(&validator_keys[proposer_of(1)]);
    let executed = ledger.build_block(1_641_013_200_000, proposer1, block1_txs).expect("block 1 builds");
    assert!(executed.results.iter().all(|r| r.is_accepted()), "block 1: {:?}", executed.results);
    let block1 = executed.block.clone();
    ledger.commit(executed, vec![]).expect("block 1 commits");
    let mut at_height_1 = Ledger::open(MemStore::new(), genesis.clone()).expect("genesis opens");
    at_height_1.apply_block(&block1, vec![]).expect("block 1 applies");
    let proposer2 = addr(&validator_keys[proposer_of(2)]);
    let executed = ledger.build_block(1_641_013_260_000, proposer2, block2_txs).expect("block 2 builds");
    assert!(executed.results.iter().all(|r| r.is_accepted()), "block 2: {:?}", executed.results);
    let block2 = executed.block.clone();
    let results = executed.results.clone();
    let header = ledger.commit(executed, vec![]).expect("block 2 commits");
    assert_eq!(header, block2.header);

    // Votes: prevotes and precommits of every validator for both blocks, nil votes in round 1.
    let mut votes = Vec::new();
    for b in [&block1, &block2] {
        let (h, id) = (Height(b.header.height), BlockId(b.hash()));
        for k in &validator_keys {
            let v = ValidatorAddress(addr(k));
            votes.push(BctContext.new_prevote(h, Round::new(0), NilOrVal::Val(id), v));
            votes.push(BctContext.new_precommit(h, Round::new(0), NilOrVal::Val(id), v));
        }
    }
    let (v0, v1) = (ValidatorAddress(addr(&validator_keys[0])), ValidatorAddress(addr(&validator_keys[1])));
    votes.push(BctContext.new_prevote(Height(2), Round::new(1), NilOrVal::Nil, v0));
    votes.push(BctContext.new_precommit(Height(2), Round::new(1), NilOrVal::Nil, v1));
    let proposals: Vec<Proposal> = [&block1, &block2]
        .into_iter()
        .map(|b| Proposal {
            height: Height(b.header.height),
            round: Round::new(0),
            value: BlockId(b.hash()),
            pol_round: Round::Nil,
            proposer: ValidatorAddress(b.header.proposer),
        })
        .collect();

    let sign_with = |a: &ValidatorAddress, bytes: &[u8]| {
        let k = validator_keys.iter().find(|k| addr(k) == a.0).expect("a validator");
        Signature::from_bytes(k.sign(bytes).to_bytes())
    };
    let commit_of = |b: &Block| {
        let id = BlockId(b.hash());
        ExtendedCommitCertificate {
            height: Height(b.header.height),
            round: Round::new(0),
            value_id: id,
            commit_signatures: validator_keys[..3]
                .iter()
                .map(|k| {
                    let a = ValidatorAddress(addr(k));
                    let bytes = precommit_sign_bytes(CHAIN, b.header.height, 0, &id.0, &a.0);
                    ExtendedCommitSignature::new(a, sign_with(&a, &bytes), None)
                })
                .collect(),
        }
    };
    let commits = [commit_of(&block1), commit_of(&block2)];

    // The retirement certificate of block 2's retirement.
    let index = 2usize;
    let retirement_id = results[index].outcome.as_ref().expect("accepted").retirement.expect("a retirement");
    let record = ledger.state().retirements.get(&retirement_id).expect("recorded").clone();
    let tx_leaves: Vec<Hash> = block2.txs.iter().map(|t| merkle_leaf(&t.id().0)).collect();
    let result_leaves = result_leaves(&results);
    let proof = |leaves: &[Hash]| pb::MerkleProof {
        index: index as u32,
        count: leaves.len() as u32,
        path: merkle_path(leaves, index).expect("in range").iter().map(|h| h.0.to_vec()).collect(),
    };
    let commit2 = CommitCertificate {
        height: 2,
        round: 0,
        block_hash: header.hash(),
        signatures: commits[1]
            .commit_signatures
            .iter()
            .map(|s: &ExtendedCommitSignature<BctContext>| bct_wallet::client::consensus::CommitSignature {
                public_key: validator_keys
                    .iter()
                    .find(|k| addr(k) == s.address.0)
                    .expect("key")
                    .verifying_key()
                    .to_bytes(),
                signature: s.signature.to_bytes(),
            })
            .collect(),
    };
    let certificate = pb::RetirementCertificate {
        chain_id: CHAIN.into(),
        tx: Some(bct_proto::signed_tx_to_pb(&retire)),
        result: Some((&results[index]).into()),
        header: Some((&header).into()),
        tx_proof: Some(proof(&tx_leaves)),
        result_proof: Some(proof(&result_leaves)),
        commit: Some(commit2.to_pb()),
        validators: validators.iter().map(pb::Validator::from).collect(),
        retirement: Some((&record).into()),
        validator_set_history: Vec::new(),
    }
    .encode_to_vec();
    let decoded = DecodedCertificate::decode(&certificate).expect("the certificate decodes");
    let summary = decoded.verify(&genesis).expect("the certificate verifies").summary;
    let certificate_file =
        CertificateFile::from_certificate_bytes(&certificate).expect("decodes").to_json().into_bytes();

    let peer = |seed: u8| {
        let public_key = key(seed).verifying_key().to_bytes();
        let id = bct_node::keys::peer_id_of(&public_key).expect("an ed25519 key");
        PeerId::from_bytes(&id.to_bytes()).expect("the same encoding")
    };
    let peers = [peer(210), peer(211)];
    let proof_key = &validator_keys[0];
    let proof_public_key = proof_key.verifying_key().to_bytes().to_vec();
    let proof_peer = peers[0].to_bytes();
    let proof_bytes = ValidatorProof::<BctContext>::signing_bytes(&proof_public_key, &proof_peer);
    let proof = ValidatorProof::new(
        proof_public_key,
        proof_peer,
        Signature::from_bytes(proof_key.sign(&proof_bytes).to_bytes()),
    );

    // More kinds, each the next transaction of its signer after block 1.
    let extra_txs = vec![
        sign_tx(
            &authority,
            8,
            TxKind::UpdateAccount(UpdateAccount {
                address: addr(&buyer),
                name: Some("Xiamen Airlines Co.".into()),
                jurisdiction: None,
                role: Some(Role::Holder),
            }),
        ),
        sign_tx(
            &authority,
            8,
            TxKind::SuspendAccount(SuspendAccount { address: addr(&bank), reason: "licence review".into() }),
        ),
        sign_tx(&authority, 8, TxKind::ReinstateAccount(ReinstateAccount { address: addr(&bank) })),
        sign_tx(
            &authority,
            8,
            TxKind::UpdateProject(UpdateProject {
                id: PROJECT.into(),
                name: Some("Lianjiang kelp farm, phase 1".into()),
                owner: None,
                area_centiha: Some(21_000),
                status: Some(ProjectStatusChange::Suspend { reason: "monitoring overdue".into() }),
            }),
        ),
        sign_tx(
            &authority,
            8,
            TxKind::Freeze(Freeze { target: FreezeTarget::Account(addr(&owner)), reason: "court order".into() }),
        ),
        sign_tx(
            &authority,
            8,
            TxKind::Freeze(Freeze { target: FreezeTarget::Ticket(TICKET.into()), reason: "audit".into() }),
        ),
        sign_tx(&authority, 8, TxKind::Unfreeze(Unfreeze { target: FreezeTarget::Ticket(TICKET.into()) })),
        sign_tx(
            &authority,
            8,
            TxKind::Cancel(Cancel {
                ticket: TICKET.into(),
                holder: addr(&buyer),
                quantity: t(10),
                reason: "double counting".into(),
            }),
        ),
        sign_tx(
            &authority,
            8,
            TxKind::Issue(Issue {
                project: PROJECT.into(),
                period: Period { start: date(20220101), end: date(20221231) },
                report_hash: Hash::of(b"report 2022"),
                quantity: t(100),
                recipient: Some(addr(&buyer)),
            }),
        ),
        update_validators(&authority, &validators, &validator_keys),
        sign_tx(
            &buyer,
            1,
            TxKind::Transfer(Transfer { ticket: TICKET.into(), to: addr(&bank), quantity: t(100), trade: None }),
        ),
        sign_tx(
            &buyer,
            1,
            TxKind::Retire(Retire {
                ticket: TICKET.into(),
                quantity: t(1),
                beneficiary: "a".into(),
                purpose: Purpose::Voluntary,
                jurisdiction: String::new(),
                note: String::new(),
            }),
        ),
        sign_tx(&bank, 1, TxKind::Release(Release { ticket: TICKET.into(), holder: addr(&buyer), quantity: t(10) })),
        sign_tx(&bank, 1, TxKind::Seize(Seize { ticket: TICKET.into(), holder: addr(&buyer), quantity: t(10) })),
        attest(&verifier1, 2, Period { start: date(20220101), end: date(20221231) }, Hash::of(b"report 2022")),
    ];

    let state_before = format!("{:?}", at_height_1.state());
    let mut keys = vec![authority, verifier1, verifier2, owner, buyer, bank, exchange];
    keys.extend(validator_keys.iter().cloned());
    World {
        genesis,
        validators,
        set,
        block1,
        block2,
        commits,
        certificate,
        certificate_file,
        summary,
        peers,
        commit2: commit2.to_pb(),
        ledger: Mutex::new(at_height_1),
        state_before,
        verifier: BctVerifier::new(CHAIN),
        keys,
        validator_keys,
        votes,
        proposals,
        proof,
        extra_txs,
    }
}

/// A validator set change (one validator's power doubled) approved by three of four validators.
fn update_validators(authority: &SigningKey, current: &[Validator], keys: &[SigningKey]) -> SignedTx {
    let mut new_set = current.to_vec();
    new_set[0].power = 2;
    let message = bct_ledger::tx::valset_approval_message(CHAIN, 1, &new_set);
    let approvals = keys[..3]
        .iter()
        .map(|k| Approval { public_key: k.verifying_key().to_bytes(), signature: k.sign(&message).to_bytes() })
        .collect();
    sign_tx(authority, 8, TxKind::UpdateValidators(UpdateValidators { validators: new_set, approvals }))
}

// ---- seeds -------------------------------------------------------------------------------------

/// Valid inputs for `target`, made by the real encoders from the fixed chain: the starting
/// corpus of each cargo-fuzz target (`fuzz/corpus/<target>/`).
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let w = world();
    match target {
        "signed_tx" => {
            let txs = w.block1.txs.iter().chain(&w.block2.txs).chain(&w.extra_txs);
            let mut out: Vec<Vec<u8>> = txs.clone().map(encode_signed_tx).collect();
            // Bare bodies, for the body decoder.
            out.extend(txs.take(3).map(|t| t.body_bytes().to_vec()));
            out
        }
        "block" => {
            let mut ledger = w.ledger();
            let proposer = w.block2.header.proposer;
            let empty = ledger.build_block(1_641_013_260_000, proposer, vec![]).expect("builds").block;
            let busy = ledger.build_block(1_641_013_260_000, proposer, w.extra_txs.clone()).expect("builds").block;
            w.assert_unchanged(&ledger);
            [&w.block1, &w.block2, &empty, &busy].into_iter().map(encode_block).collect()
        }
        "proposal_part" => {
            let (_, messages) = proposal_messages(w, 1 << 20);
            messages
                .iter()
                .map(|m| BctCodec.encode(m).expect("encodes").to_vec())
                .chain(proposal_parts(w, 1 << 20).iter().map(|p| BctCodec.encode(p).expect("encodes").to_vec()))
                .collect()
        }
        "proposal_stream" => {
            let frame = |mode: u8, publisher: u8, messages: &[StreamMessage<ProposalPart>]| {
                let mut out = vec![mode];
                for m in messages {
                    let bytes = BctCodec.encode(m).expect("encodes");
                    out.push(publisher);
                    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
                    out.extend_from_slice(&bytes);
                }
                out
            };
            let (_, whole) = proposal_messages(w, 1 << 20);
            let (_, chunked) = proposal_messages(w, 512);
            let mut reversed = chunked.clone();
            reversed.reverse();
            vec![frame(0, 0, &whole), frame(0, 1, &reversed), frame(1, 0, &chunked)]
        }
        "consensus_msg" => {
            let tagged = |tag: u8, bytes: Bytes| [&[tag][..], &bytes].concat();
            let sign_vote = |v: &Vote| {
                let value = match &v.value {
                    NilOrVal::Nil => None,
                    NilOrVal::Val(id) => Some(&id.0),
                };
                let bytes = vote_sign_bytes(CHAIN, v.vote_type, v.height.0, v.round.as_i64(), value, &v.validator);
                SignedMessage::new(v.clone(), w.sign_as(&v.validator, &bytes))
            };
            let mut out = Vec::new();
            for v in w.votes.iter().step_by(3) {
                let m = SignedConsensusMsg::Vote(sign_vote(v));
                out.push(tagged(0, BctCodec.encode(&m).expect("encodes")));
            }
            for p in &w.proposals {
                let signature = w.sign_as(&p.proposer, &proposal_sign_bytes(CHAIN, p));
                let m = SignedConsensusMsg::Proposal(SignedMessage::new(p.clone(), signature));
                out.push(tagged(0, BctCodec.encode(&m).expect("encodes")));
            }
            let b2 = &w.block2;
            let prevotes: Vec<&Vote> = w
                .votes
                .iter()
                .filter(|v| v.height.0 == 2 && v.vote_type == VoteType::Prevote && v.value != NilOrVal::Nil)
                .take(3)
                .collect();
            let polka = PolkaCertificate {
                height: Height(2),
                round: Round::new(0),
                value_id: BlockId(b2.hash()),
                polka_signatures: prevotes
                    .iter()
                    .map(|v| PolkaSignature::new(v.validator, sign_vote(v).signature))
                    .collect(),
            };
            let nil_votes: Vec<&Vote> = w.votes.iter().filter(|v| v.value == NilOrVal::Nil).collect();
            let skip = RoundCertificate {
                height: Height(2),
                round: Round::new(1),
                cert_type: RoundCertificateType::Skip,
                round_signatures: nil_votes
                    .iter()
                    .map(|v| RoundSignature::new(v.vote_type, v.value, v.validator, sign_vote(v).signature))
                    .collect(),
            };
            let liveness = [
                LivenessMsg::Vote(sign_vote(prevotes[0])),
                LivenessMsg::PolkaCertificate(polka.clone()),
                LivenessMsg::SkipRoundCertificate(skip),
            ];
            for m in &liveness {
                out.push(tagged(1, BctCodec.encode(m).expect("encodes")));
            }
            out.push(tagged(2, BctCodec.encode(&w.proof).expect("encodes")));
            let value = ProposedValue {
                height: Height(2),
                round: Round::new(0),
                valid_round: Round::Nil,
                proposer: ValidatorAddress(b2.header.proposer),
                value: BlockId(b2.hash()),
                validity: Validity::Valid,
            };
            out.push(tagged(3, BctCodec.encode(&value).expect("encodes")));
            out.push(tagged(4, BctCodec.encode(&polka).expect("encodes")));
            out.push(tagged(5, BctCodec.encode(&BlockId(b2.hash())).expect("encodes")));
            out
        }
        "sync_msg" => {
            let status = sync::Status::<BctContext> {
                peer_id: w.peers[0],
                tip_height: Height(2),
                history_min_height: Height(1),
            };
            let request = sync::Request::<BctContext>::ValueRequest(sync::ValueRequest::new(Height(1)..=Height(2)));
            let values = [&w.block1, &w.block2]
                .into_iter()
                .zip(&w.commits)
                .map(|(b, c)| sync::RawDecidedValue::new(Bytes::from(encode_block(b)), c.clone()))
                .collect();
            let response = sync::Response::<BctContext>::ValueResponse(sync::ValueResponse::new(Height(1), values));
            vec![
                [&[0u8][..], &BctCodec.encode(&status).expect("encodes")].concat(),
                [&[1u8][..], &BctCodec.encode(&request).expect("encodes")].concat(),
                [&[2u8][..], &BctCodec.encode(&response).expect("encodes")].concat(),
            ]
        }
        "certificate" => {
            // Found by `structured`: serials 0..=u64::MAX overflowed the wallet's count of them.
            let mut overflow = pb::RetirementCertificate::decode(w.certificate.as_slice()).expect("decodes");
            if let Some(pb::tx_result::Outcome::Accepted(a)) = overflow.result.as_mut().and_then(|r| r.outcome.as_mut())
            {
                a.serials[0].first = 0;
                a.serials[0].last = u64::MAX;
            }
            vec![w.certificate.clone(), overflow.encode_to_vec()]
        }
        "structured" => {
            let mut out = Vec::new();
            for (which, target) in [(0u8, "signed_tx"), (1, "block"), (2, "proposal_part"), (5, "certificate")] {
                out.extend(seeds(target).iter().map(|s| [&[which][..], &lenless_from_protobuf(s)].concat()));
            }
            for (which, target) in [(3u8, "consensus_msg"), (4, "sync_msg")] {
                out.extend(
                    seeds(target).iter().map(|s| [&[which, s[0]][..], &lenless_from_protobuf(&s[1..])].concat()),
                );
            }
            out
        }
        "certificate_file" => vec![w.certificate_file.clone()],
        other => panic!("no fuzz target {other:?}"),
    }
}

impl World {
    fn sign_as(&self, validator: &ValidatorAddress, bytes: &[u8]) -> Signature {
        let k = self.validator_keys.iter().find(|k| addr(k) == validator.0).expect("a validator");
        Signature::from_bytes(k.sign(bytes).to_bytes())
    }
}

/// Block 2 as its proposer streams it, cut in `Data` parts of at most `chunk` bytes.
fn proposal_parts(w: &World, chunk: usize) -> Vec<ProposalPart> {
    let b = &w.block2;
    let (height, round) = (Height(b.header.height), Round::new(0));
    let proposer = ValidatorAddress(b.header.proposer);
    let init = PartInit { height, round, pol_round: Round::Nil, proposer };
    let id = BlockId(b.hash());
    let signature = w.sign_as(&proposer, &parts_sign_bytes(CHAIN, height, round, Round::Nil, &id, &proposer));
    let data = encode_block(b);
    let mut out = vec![ProposalPart::Init(init)];
    out.extend(data.chunks(chunk).map(|c| ProposalPart::Data(Bytes::copy_from_slice(c))));
    out.push(ProposalPart::Fin(signature));
    out
}

fn proposal_messages(w: &World, chunk: usize) -> (Vec<ProposalPart>, Vec<StreamMessage<ProposalPart>>) {
    let parts = if chunk >= parts::PART_DATA_BYTES_MAX {
        let all = proposal_parts(w, chunk);
        let (ProposalPart::Init(init), Some(ProposalPart::Fin(signature))) = (&all[0], all.last()) else {
            unreachable!("Init first, Fin last")
        };
        parts::split(init.clone(), &encode_block(&w.block2), *signature)
    } else {
        proposal_parts(w, chunk)
    };
    let messages = parts::stream_messages(StreamId::new(Bytes::from_static(b"\0\0\0\0\0\0\0\x02\0\0\0\0")), &parts);
    (parts, messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeds reach past the decoders: the dry runs accept the extra transactions, block 2
    /// executes, the streamed proposal and the synced values verify, every seeded signature
    /// verifies, and the certificate verifies.
    #[test]
    fn seeds_reach_what_follows_decoding() {
        let w = world();
        {
            let mut ledger = w.ledger();
            let accepted = w.extra_txs.iter().filter(|t| ledger.check_tx(t).is_ok()).count();
            assert!(accepted >= 10, "only {accepted} of {} extra transactions pass the dry run", w.extra_txs.len());
            assert!(ledger.execute(&w.block2).is_ok());
            w.assert_unchanged(&ledger);
        }
        for c in &w.commits {
            assert!(w.check_commit(c));
        }
        let (_, messages) = proposal_messages(w, 512);
        let mut assembler = Assembler::new(1 << 20);
        let stream = messages
            .into_iter()
            .find_map(|m| assembler.push(w.peers[0], m).expect("valid"))
            .expect("a complete stream");
        let proposer = BctContext.select_proposer(&w.set, stream.init.height, stream.init.round);
        assert_eq!(stream.init.proposer, proposer.address);
        let id = BlockId(w.block2.hash());
        let signed = parts_sign_bytes(CHAIN, Height(2), Round::new(0), Round::Nil, &id, &proposer.address);
        assert!(proposer.public_key.verify(&signed, &stream.signature).is_ok());
        for bytes in seeds("consensus_msg").into_iter().filter(|s| s[0] == 0) {
            match decode::<SignedConsensusMsg<BctContext>>(Bytes::copy_from_slice(&bytes[1..])).expect("decodes") {
                SignedConsensusMsg::Vote(v) => assert!(w.vote_verifies(&v.message, &v.signature)),
                SignedConsensusMsg::Proposal(p) => {
                    let key = &w.set.get(&p.proposer).expect("a validator").public_key;
                    let valid = ready(w.verifier.verify_signed_proposal(&p.message, &p.signature, key));
                    assert!(valid.expect("checked").is_valid());
                }
            }
        }
        let proof = ready(w.verifier.verify_validator_proof(&w.proof)).expect("checked");
        assert!(proof.is_valid());
        let verified = verify_file(&w.certificate_file, &w.genesis).expect("the certificate file verifies");
        assert_eq!(verified.summary, w.summary);
    }

    /// The length-free form gives back every seed, and any input gives some bytes.
    #[test]
    fn lenless_form_round_trips() {
        for (target, _) in
            TARGETS.iter().filter(|(t, _)| !["proposal_stream", "certificate_file", "structured"].contains(t))
        {
            for seed in seeds(target) {
                let message = if ["consensus_msg", "sync_msg"].contains(target) { &seed[1..] } else { &seed[..] };
                if *target == "consensus_msg" && seed[0] == 5 {
                    continue; // a block id is 32 bytes, not protobuf
                }
                let lenless = lenless_from_protobuf(message);
                assert_eq!(protobuf_from_lenless(&lenless), message, "{target}");
            }
        }
        let nested = [0x0a, 0x01, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x10, 0x05];
        assert_eq!(
            protobuf_from_lenless(&nested),
            [0x0a, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x10, 0x05]
        );
        for junk in [&[][..], &[0x0a], &[0x0a, 0x01], &[0x0a, 0x00, 0xff], &[0x80; 12], &[0x0b, 0x0c, 0x0d]] {
            let _ = protobuf_from_lenless(junk);
            let _ = lenless_from_protobuf(junk);
        }
    }
}
