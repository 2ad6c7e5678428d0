//! Bytes in and out: encoding, decoding with limits, and signing of transactions and blocks.
//!
//! The one place where a transaction body becomes bytes, is signed, and where bytes from the
//! network become a [`SignedTx`]: the node, the wallet, the testnet and the tests all call it.

use bct_ledger::crypto::tx_signing_message;
use bct_ledger::{Block, SignedTx, TxBody};
use ed25519_dalek::{Signer, SigningKey};
use prost::Message;

use crate::convert::{self, IntoLedger};
use crate::error::{At, ProtoError};
use crate::pb;

/// Most bytes in an encoded `bct.v1.SignedTx`; larger input is refused before decoding.
pub const SIGNED_TX_BYTES_MAX: usize = 16 * 1024;

/// Bytes a `SignedTx` encoding adds around its body when the body is 128 to 16,383 bytes:
/// body tag and 2-byte length (3), key tag, length and key (34), signature tag, length and
/// signature (66).
const SIGNED_TX_FRAMING_BYTES: usize = 3 + 34 + 66;

/// Most bytes in a transaction body: the largest body whose `SignedTx` still fits in
/// [`SIGNED_TX_BYTES_MAX`], so the two limits never disagree.
pub const TX_BODY_BYTES_MAX: usize = SIGNED_TX_BYTES_MAX - SIGNED_TX_FRAMING_BYTES;

/// The protobuf encoding of `body` (`bct.v1.TxBody`): the bytes that are signed and hashed.
pub fn encode_body(body: &TxBody) -> Vec<u8> {
    pb::TxBody::from(body).encode_to_vec()
}

/// Decodes a transaction body, refusing input above [`TX_BODY_BYTES_MAX`], malformed fields,
/// and any encoding other than the canonical one [`encode_body`] gives (so one body has one
/// byte string, hence one id, and a field this version does not know is never silently
/// dropped from what the signer meant).
pub fn decode_body(bytes: &[u8]) -> Result<TxBody, ProtoError> {
    if bytes.len() > TX_BODY_BYTES_MAX {
        return Err(ProtoError::TooLarge { what: "tx body", size: bytes.len(), max: TX_BODY_BYTES_MAX });
    }
    let msg = pb::TxBody::decode(bytes).map_err(|source| ProtoError::Malformed { what: "tx body", source })?;
    // Compared, never substituted: the body bytes stay exactly as received.
    let canonical = msg.encoded_len() == bytes.len() && msg.encode_to_vec() == bytes;
    let body = convert::tx_body_from_pb(msg, At::root("tx body"))?;
    if !canonical {
        return Err(ProtoError::NotCanonical { what: "tx body" });
    }
    Ok(body)
}

/// Encodes `body`, signs [`tx_signing_message`] of those bytes with `key` (ed25519), and
/// assembles the signed transaction.
pub fn sign(key: &SigningKey, body: &TxBody) -> SignedTx {
    let bytes = encode_body(body);
    let signature = key.sign(&tx_signing_message(&bytes)).to_bytes();
    SignedTx::from_parts(bytes, body.clone(), key.verifying_key().to_bytes(), signature)
}

/// The protobuf form of a signed transaction, with the body bytes as signed.
pub fn signed_tx_to_pb(tx: &SignedTx) -> pb::SignedTx {
    pb::SignedTx {
        body: tx.body_bytes().to_vec(),
        signer_public_key: tx.public_key().to_vec(),
        signature: tx.signature().to_vec(),
    }
}

/// Checks a received signed transaction: a 32-byte key, a 64-byte signature, a body within
/// [`TX_BODY_BYTES_MAX`] that decodes (see [`decode_body`]). The body is decoded from exactly
/// the received bytes, which are kept for the signature and the id. The signature itself is
/// not verified here: [`SignedTx::verify_signature`] does that.
pub fn signed_tx_from_pb(tx: pb::SignedTx) -> Result<SignedTx, ProtoError> {
    let at = At::root("signed_tx");
    let public_key = convert::public_key(&tx.signer_public_key, at.field("signer_public_key"))?;
    let signature = convert::signature(&tx.signature, at.field("signature"))?;
    let body = decode_body(&tx.body)?;
    Ok(SignedTx::from_parts(tx.body, body, public_key, signature))
}

/// The protobuf encoding of a signed transaction (`bct.v1.SignedTx`).
pub fn encode_signed_tx(tx: &SignedTx) -> Vec<u8> {
    signed_tx_to_pb(tx).encode_to_vec()
}

/// Decodes a signed transaction from the network, refusing more than [`SIGNED_TX_BYTES_MAX`]
/// bytes before decoding; then as [`signed_tx_from_pb`].
pub fn decode_signed_tx(bytes: &[u8]) -> Result<SignedTx, ProtoError> {
    if bytes.len() > SIGNED_TX_BYTES_MAX {
        return Err(ProtoError::TooLarge { what: "signed transaction", size: bytes.len(), max: SIGNED_TX_BYTES_MAX });
    }
    let msg =
        pb::SignedTx::decode(bytes).map_err(|source| ProtoError::Malformed { what: "signed transaction", source })?;
    signed_tx_from_pb(msg)
}

/// The protobuf encoding of a block (`bct.v1.Block`); transaction bodies are carried as signed.
pub fn encode_block(block: &Block) -> Vec<u8> {
    pb::Block::from(block).encode_to_vec()
}

/// Decodes a block from the network, refusing more than `max_bytes` before decoding. Every
/// transaction is checked as by [`signed_tx_from_pb`] and keeps its body bytes as received;
/// whether the block is valid (roots, signatures, limits) is the ledger's to say.
pub fn decode_block(bytes: &[u8], max_bytes: usize) -> Result<Block, ProtoError> {
    if bytes.len() > max_bytes {
        return Err(ProtoError::TooLarge { what: "block", size: bytes.len(), max: max_bytes });
    }
    let msg = pb::Block::decode(bytes).map_err(|source| ProtoError::Malformed { what: "block", source })?;
    msg.into_ledger()
}

impl IntoLedger for pb::SignedTx {
    type Ledger = SignedTx;

    /// As [`signed_tx_from_pb`].
    fn into_ledger(self) -> Result<SignedTx, ProtoError> {
        signed_tx_from_pb(self)
    }
}
