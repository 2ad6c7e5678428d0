//! Bytes of everything Malachite sends or writes for bct: consensus and liveness messages,
//! proposal-part streams, validator proofs, value sync, and the write-ahead log.
//!
//! Messages are protobuf (prost 0.14 derive, the same prost as the gRPC API), in package-less
//! structs versioned by [`CONSENSUS_WIRE_VERSION`]: changing a field here changes what nodes
//! exchange and what the WAL holds. Every decoder treats its input as adversarial: lengths of
//! addresses, hashes and signatures are checked, enums must be known, one-ofs must be set.

use bytes::Bytes;
use malachitebft_app_channel::app::consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg};
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, CommitSignature, ExtendedCommitCertificate, ExtendedCommitSignature, NilOrVal, PolkaCertificate,
    PolkaSignature, Round, RoundCertificate, RoundCertificateType, RoundSignature, SignedMessage, ValidatorProof,
    Validity, VoteType,
};
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_signing_ed25519::Signature;
use malachitebft_sync as sync;
use prost::Message;

use super::context::{BctContext, BlockId, Height, PartInit, Proposal, ProposalPart, ValidatorAddress, Vote};
use bct_ledger::{Address, Hash};

/// Version of the consensus wire and WAL formats defined here.
pub const CONSENSUS_WIRE_VERSION: u32 = 1;

/// Why consensus bytes could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Not protobuf of the expected message.
    #[error("consensus message is not valid protobuf: {0}")]
    Decode(#[from] prost::DecodeError),
    /// A field is missing or malformed.
    #[error("consensus message field {0} is missing or malformed")]
    Invalid(&'static str),
}

type Result<T> = std::result::Result<T, CodecError>;

// ---- wire messages ---------------------------------------------------------------------------

#[derive(Clone, PartialEq, Message)]
struct PbSignedExtension {
    #[prost(bytes = "bytes", tag = "1")]
    data: Bytes,
    #[prost(bytes = "bytes", tag = "2")]
    signature: Bytes,
}

#[derive(Clone, PartialEq, Message)]
struct PbVote {
    /// 1 prevote, 2 precommit.
    #[prost(uint32, tag = "1")]
    vote_type: u32,
    #[prost(uint64, tag = "2")]
    height: u64,
    #[prost(int64, tag = "3")]
    round: i64,
    /// Absent for nil.
    #[prost(bytes = "bytes", optional, tag = "4")]
    block_id: Option<Bytes>,
    #[prost(bytes = "bytes", tag = "5")]
    validator: Bytes,
    #[prost(message, optional, tag = "6")]
    extension: Option<PbSignedExtension>,
}

#[derive(Clone, PartialEq, Message)]
struct PbProposal {
    #[prost(uint64, tag = "1")]
    height: u64,
    #[prost(int64, tag = "2")]
    round: i64,
    #[prost(bytes = "bytes", tag = "3")]
    block_id: Bytes,
    #[prost(int64, tag = "4")]
    pol_round: i64,
    #[prost(bytes = "bytes", tag = "5")]
    proposer: Bytes,
}

#[derive(Clone, PartialEq, Message)]
struct PbSignedConsensus {
    #[prost(uint32, tag = "15")]
    version: u32,
    #[prost(message, optional, tag = "1")]
    vote: Option<PbVote>,
    #[prost(message, optional, tag = "2")]
    proposal: Option<PbProposal>,
    #[prost(bytes = "bytes", tag = "3")]
    signature: Bytes,
}

#[derive(Clone, PartialEq, Message)]
struct PbCertSignature {
    #[prost(bytes = "bytes", tag = "1")]
    validator: Bytes,
    #[prost(bytes = "bytes", tag = "2")]
    signature: Bytes,
    #[prost(message, optional, tag = "3")]
    extension: Option<PbSignedExtension>,
    /// Round certificates only: 1 prevote, 2 precommit.
    #[prost(uint32, tag = "4")]
    vote_type: u32,
    /// Round certificates only: absent for nil.
    #[prost(bytes = "bytes", optional, tag = "5")]
    block_id: Option<Bytes>,
}

#[derive(Clone, PartialEq, Message)]
struct PbCertificate {
    #[prost(uint64, tag = "1")]
    height: u64,
    #[prost(int64, tag = "2")]
    round: i64,
    #[prost(bytes = "bytes", tag = "3")]
    block_id: Bytes,
    #[prost(message, repeated, tag = "4")]
    signatures: Vec<PbCertSignature>,
    /// Round certificates only: 1 skip, 2 precommit.
    #[prost(uint32, tag = "5")]
    round_type: u32,
}

#[derive(Clone, PartialEq, Message)]
struct PbLiveness {
    #[prost(uint32, tag = "15")]
    version: u32,
    #[prost(message, optional, tag = "1")]
    vote: Option<PbSignedConsensus>,
    #[prost(message, optional, tag = "2")]
    polka: Option<PbCertificate>,
    #[prost(message, optional, tag = "3")]
    round_certificate: Option<PbCertificate>,
}

#[derive(Clone, PartialEq, Message)]
struct PbPart {
    /// 1 init, 2 data, 3 fin.
    #[prost(uint32, tag = "1")]
    kind: u32,
    #[prost(uint64, tag = "2")]
    height: u64,
    #[prost(int64, tag = "3")]
    round: i64,
    #[prost(int64, tag = "4")]
    pol_round: i64,
    #[prost(bytes = "bytes", tag = "5")]
    proposer: Bytes,
    /// Data: a chunk of the block; fin: the signature.
    #[prost(bytes = "bytes", tag = "6")]
    data: Bytes,
}

#[derive(Clone, PartialEq, Message)]
struct PbStreamMessage {
    #[prost(uint32, tag = "15")]
    version: u32,
    #[prost(bytes = "bytes", tag = "1")]
    stream_id: Bytes,
    #[prost(uint64, tag = "2")]
    sequence: u64,
    /// Absent for the end-of-stream marker.
    #[prost(message, optional, tag = "3")]
    part: Option<PbPart>,
}

#[derive(Clone, PartialEq, Message)]
struct PbValidatorProof {
    #[prost(bytes = "bytes", tag = "1")]
    public_key: Bytes,
    #[prost(bytes = "bytes", tag = "2")]
    peer_id: Bytes,
    #[prost(bytes = "bytes", tag = "3")]
    signature: Bytes,
}

#[derive(Clone, PartialEq, Message)]
struct PbSyncStatus {
    #[prost(bytes = "bytes", tag = "1")]
    peer_id: Bytes,
    #[prost(uint64, tag = "2")]
    tip_height: u64,
    #[prost(uint64, tag = "3")]
    history_min_height: u64,
}

#[derive(Clone, PartialEq, Message)]
struct PbSyncRequest {
    #[prost(uint64, tag = "1")]
    from: u64,
    #[prost(uint64, tag = "2")]
    to: u64,
}

#[derive(Clone, PartialEq, Message)]
struct PbDecidedValue {
    /// The `bct.v1.Block` encoding of the decided block.
    #[prost(bytes = "bytes", tag = "1")]
    value_bytes: Bytes,
    #[prost(message, optional, tag = "2")]
    certificate: Option<PbCertificate>,
}

#[derive(Clone, PartialEq, Message)]
struct PbSyncResponse {
    #[prost(uint64, tag = "1")]
    start_height: u64,
    #[prost(message, repeated, tag = "2")]
    values: Vec<PbDecidedValue>,
}

#[derive(Clone, PartialEq, Message)]
struct PbProposedValue {
    #[prost(uint64, tag = "1")]
    height: u64,
    #[prost(int64, tag = "2")]
    round: i64,
    #[prost(int64, tag = "3")]
    valid_round: i64,
    #[prost(bytes = "bytes", tag = "4")]
    proposer: Bytes,
    #[prost(bytes = "bytes", tag = "5")]
    block_id: Bytes,
    #[prost(bool, tag = "6")]
    valid: bool,
}

// ---- field helpers ---------------------------------------------------------------------------

fn address(b: &[u8]) -> Result<ValidatorAddress> {
    let a: [u8; 20] = b.try_into().map_err(|_| CodecError::Invalid("validator address (20 bytes)"))?;
    Ok(ValidatorAddress(Address(a)))
}

fn address_bytes(a: &ValidatorAddress) -> Bytes {
    Bytes::copy_from_slice(&a.0 .0)
}

fn block_id(b: &[u8]) -> Result<BlockId> {
    let h: [u8; 32] = b.try_into().map_err(|_| CodecError::Invalid("block id (32 bytes)"))?;
    Ok(BlockId(Hash(h)))
}

fn block_id_bytes(id: &BlockId) -> Bytes {
    Bytes::copy_from_slice(&id.0 .0)
}

fn signature(b: &[u8]) -> Result<Signature> {
    let s: [u8; 64] = b.try_into().map_err(|_| CodecError::Invalid("signature (64 bytes)"))?;
    Ok(Signature::from_bytes(s))
}

fn signature_bytes(s: &Signature) -> Bytes {
    Bytes::copy_from_slice(&s.to_bytes())
}

fn round(r: i64) -> Result<Round> {
    // Nil is -1; rounds are small. Anything else is garbage from the wire.
    if (-1..=i64::from(u32::MAX)).contains(&r) {
        Ok(Round::from(r))
    } else {
        Err(CodecError::Invalid("round"))
    }
}

fn vote_type(t: VoteType) -> u32 {
    match t {
        VoteType::Prevote => 1,
        VoteType::Precommit => 2,
    }
}

fn vote_type_from(t: u32) -> Result<VoteType> {
    match t {
        1 => Ok(VoteType::Prevote),
        2 => Ok(VoteType::Precommit),
        _ => Err(CodecError::Invalid("vote type")),
    }
}

fn nil_or_val(v: &NilOrVal<BlockId>) -> Option<Bytes> {
    match v {
        NilOrVal::Nil => None,
        NilOrVal::Val(id) => Some(block_id_bytes(id)),
    }
}

fn nil_or_val_from(v: Option<Bytes>) -> Result<NilOrVal<BlockId>> {
    match v {
        None => Ok(NilOrVal::Nil),
        Some(b) => Ok(NilOrVal::Val(block_id(&b)?)),
    }
}

fn extension_to(e: &Option<SignedMessage<BctContext, Bytes>>) -> Option<PbSignedExtension> {
    e.as_ref().map(|e| PbSignedExtension { data: e.message.clone(), signature: signature_bytes(&e.signature) })
}

fn extension_from(e: Option<PbSignedExtension>) -> Result<Option<SignedMessage<BctContext, Bytes>>> {
    e.map(|e| Ok(SignedMessage::new(e.data, signature(&e.signature)?))).transpose()
}

fn check_version(v: u32) -> Result<()> {
    if v == CONSENSUS_WIRE_VERSION {
        Ok(())
    } else {
        Err(CodecError::Invalid("version (this node speaks consensus wire version 1)"))
    }
}

// ---- message conversions ---------------------------------------------------------------------

fn vote_to(v: &Vote) -> PbVote {
    PbVote {
        vote_type: vote_type(v.vote_type),
        height: v.height.0,
        round: v.round.as_i64(),
        block_id: nil_or_val(&v.value),
        validator: address_bytes(&v.validator),
        extension: extension_to(&v.extension),
    }
}

fn vote_from(p: PbVote) -> Result<Vote> {
    Ok(Vote {
        vote_type: vote_type_from(p.vote_type)?,
        height: Height(p.height),
        round: round(p.round)?,
        value: nil_or_val_from(p.block_id)?,
        validator: address(&p.validator)?,
        extension: extension_from(p.extension)?,
    })
}

fn signed_to(m: &SignedConsensusMsg<BctContext>) -> PbSignedConsensus {
    match m {
        SignedConsensusMsg::Vote(v) => PbSignedConsensus {
            version: CONSENSUS_WIRE_VERSION,
            vote: Some(vote_to(&v.message)),
            proposal: None,
            signature: signature_bytes(&v.signature),
        },
        SignedConsensusMsg::Proposal(p) => PbSignedConsensus {
            version: CONSENSUS_WIRE_VERSION,
            vote: None,
            proposal: Some(PbProposal {
                height: p.height.0,
                round: p.round.as_i64(),
                block_id: block_id_bytes(&p.value),
                pol_round: p.pol_round.as_i64(),
                proposer: address_bytes(&p.proposer),
            }),
            signature: signature_bytes(&p.signature),
        },
    }
}

fn signed_from(p: PbSignedConsensus) -> Result<SignedConsensusMsg<BctContext>> {
    check_version(p.version)?;
    let sig = signature(&p.signature)?;
    match (p.vote, p.proposal) {
        (Some(v), None) => Ok(SignedConsensusMsg::Vote(SignedMessage::new(vote_from(v)?, sig))),
        (None, Some(p)) => Ok(SignedConsensusMsg::Proposal(SignedMessage::new(
            Proposal {
                height: Height(p.height),
                round: round(p.round)?,
                value: block_id(&p.block_id)?,
                pol_round: round(p.pol_round)?,
                proposer: address(&p.proposer)?,
            },
            sig,
        ))),
        _ => Err(CodecError::Invalid("signed message (exactly one of vote, proposal)")),
    }
}

fn part_to(p: &ProposalPart) -> PbPart {
    match p {
        ProposalPart::Init(i) => PbPart {
            kind: 1,
            height: i.height.0,
            round: i.round.as_i64(),
            pol_round: i.pol_round.as_i64(),
            proposer: address_bytes(&i.proposer),
            data: Bytes::new(),
        },
        ProposalPart::Data(d) => PbPart { kind: 2, data: d.clone(), ..Default::default() },
        ProposalPart::Fin(s) => PbPart { kind: 3, data: signature_bytes(s), ..Default::default() },
    }
}

fn part_from(p: PbPart) -> Result<ProposalPart> {
    match p.kind {
        1 => Ok(ProposalPart::Init(PartInit {
            height: Height(p.height),
            round: round(p.round)?,
            pol_round: round(p.pol_round)?,
            proposer: address(&p.proposer)?,
        })),
        2 => Ok(ProposalPart::Data(p.data)),
        3 => Ok(ProposalPart::Fin(signature(&p.data)?)),
        _ => Err(CodecError::Invalid("proposal part kind")),
    }
}

fn polka_to(c: &PolkaCertificate<BctContext>) -> PbCertificate {
    PbCertificate {
        height: c.height.0,
        round: c.round.as_i64(),
        block_id: block_id_bytes(&c.value_id),
        signatures: c
            .polka_signatures
            .iter()
            .map(|s| PbCertSignature {
                validator: address_bytes(&s.address),
                signature: signature_bytes(&s.signature),
                ..Default::default()
            })
            .collect(),
        round_type: 0,
    }
}

fn polka_from(c: PbCertificate) -> Result<PolkaCertificate<BctContext>> {
    Ok(PolkaCertificate {
        height: Height(c.height),
        round: round(c.round)?,
        value_id: block_id(&c.block_id)?,
        polka_signatures: c
            .signatures
            .into_iter()
            .map(|s| Ok(PolkaSignature::new(address(&s.validator)?, signature(&s.signature)?)))
            .collect::<Result<_>>()?,
    })
}

fn round_certificate_to(c: &RoundCertificate<BctContext>) -> PbCertificate {
    PbCertificate {
        height: c.height.0,
        round: c.round.as_i64(),
        block_id: Bytes::new(),
        round_type: match c.cert_type {
            RoundCertificateType::Skip => 1,
            RoundCertificateType::Precommit => 2,
        },
        signatures: c
            .round_signatures
            .iter()
            .map(|s| PbCertSignature {
                validator: address_bytes(&s.address),
                signature: signature_bytes(&s.signature),
                extension: None,
                vote_type: vote_type(s.vote_type),
                block_id: nil_or_val(&s.value_id),
            })
            .collect(),
    }
}

fn round_certificate_from(c: PbCertificate) -> Result<RoundCertificate<BctContext>> {
    Ok(RoundCertificate {
        height: Height(c.height),
        round: round(c.round)?,
        cert_type: match c.round_type {
            1 => RoundCertificateType::Skip,
            2 => RoundCertificateType::Precommit,
            _ => return Err(CodecError::Invalid("round certificate type")),
        },
        round_signatures: c
            .signatures
            .into_iter()
            .map(|s| {
                Ok(RoundSignature::new(
                    vote_type_from(s.vote_type)?,
                    nil_or_val_from(s.block_id)?,
                    address(&s.validator)?,
                    signature(&s.signature)?,
                ))
            })
            .collect::<Result<_>>()?,
    })
}

fn extended_certificate_to(c: &ExtendedCommitCertificate<BctContext>) -> PbCertificate {
    PbCertificate {
        height: c.height.0,
        round: c.round.as_i64(),
        block_id: block_id_bytes(&c.value_id),
        signatures: c
            .commit_signatures
            .iter()
            .map(|s| PbCertSignature {
                validator: address_bytes(&s.address),
                signature: signature_bytes(&s.signature),
                extension: extension_to(&s.extension),
                ..Default::default()
            })
            .collect(),
        round_type: 0,
    }
}

fn extended_certificate_from(c: PbCertificate) -> Result<ExtendedCommitCertificate<BctContext>> {
    Ok(ExtendedCommitCertificate {
        height: Height(c.height),
        round: round(c.round)?,
        value_id: block_id(&c.block_id)?,
        commit_signatures: c
            .signatures
            .into_iter()
            .map(|s| {
                Ok(ExtendedCommitSignature::new(
                    address(&s.validator)?,
                    signature(&s.signature)?,
                    extension_from(s.extension)?,
                ))
            })
            .collect::<Result<_>>()?,
    })
}

/// A plain commit certificate in the same wire form (used by tests and tools).
pub fn commit_certificate_from_extended(c: ExtendedCommitCertificate<BctContext>) -> CommitCertificate<BctContext> {
    CommitCertificate {
        height: c.height,
        round: c.round,
        value_id: c.value_id,
        commit_signatures: c
            .commit_signatures
            .into_iter()
            .map(|s| CommitSignature::new(s.address, s.signature))
            .collect(),
    }
}

fn sync_response_to(m: &sync::Response<BctContext>) -> PbSyncResponse {
    match m {
        sync::Response::ValueResponse(r) => PbSyncResponse {
            start_height: r.start_height.0,
            values: r
                .values
                .iter()
                .map(|v| PbDecidedValue {
                    value_bytes: v.value_bytes.clone(),
                    certificate: Some(extended_certificate_to(&v.certificate)),
                })
                .collect(),
        },
    }
}

// ---- the codec -------------------------------------------------------------------------------

/// The one codec of every consensus, sync and WAL type.
#[derive(Copy, Clone, Debug, Default)]
pub struct BctCodec;

macro_rules! codec {
    ($t:ty, |$m:ident| $enc:expr, |$b:ident| $dec:expr) => {
        impl Codec<$t> for BctCodec {
            type Error = CodecError;

            fn encode(&self, $m: &$t) -> Result<Bytes> {
                Ok(Bytes::from($enc))
            }

            fn decode(&self, $b: Bytes) -> Result<$t> {
                $dec
            }
        }
    };
}

codec!(BlockId, |m| block_id_bytes(m), |b| block_id(&b));

codec!(ProposalPart, |m| part_to(m).encode_to_vec(), |b| part_from(PbPart::decode(b)?));

codec!(SignedConsensusMsg<BctContext>, |m| signed_to(m).encode_to_vec(), |b| signed_from(PbSignedConsensus::decode(
    b
)?));

codec!(
    LivenessMsg<BctContext>,
    |m| match m {
        LivenessMsg::Vote(v) => PbLiveness {
            version: CONSENSUS_WIRE_VERSION,
            vote: Some(signed_to(&SignedConsensusMsg::Vote(v.clone()))),
            ..Default::default()
        },
        LivenessMsg::PolkaCertificate(c) => {
            PbLiveness { version: CONSENSUS_WIRE_VERSION, polka: Some(polka_to(c)), ..Default::default() }
        }
        LivenessMsg::SkipRoundCertificate(c) => PbLiveness {
            version: CONSENSUS_WIRE_VERSION,
            round_certificate: Some(round_certificate_to(c)),
            ..Default::default()
        },
    }
    .encode_to_vec(),
    |b| {
        let p = PbLiveness::decode(b)?;
        check_version(p.version)?;
        match (p.vote, p.polka, p.round_certificate) {
            (Some(v), None, None) => match signed_from(v)? {
                SignedConsensusMsg::Vote(v) => Ok(LivenessMsg::Vote(v)),
                SignedConsensusMsg::Proposal(_) => Err(CodecError::Invalid("liveness vote")),
            },
            (None, Some(c), None) => Ok(LivenessMsg::PolkaCertificate(polka_from(c)?)),
            (None, None, Some(c)) => Ok(LivenessMsg::SkipRoundCertificate(round_certificate_from(c)?)),
            _ => Err(CodecError::Invalid("liveness message (exactly one of vote, polka, round certificate)")),
        }
    }
);

codec!(
    StreamMessage<ProposalPart>,
    |m| PbStreamMessage {
        version: CONSENSUS_WIRE_VERSION,
        stream_id: m.stream_id.to_bytes(),
        sequence: m.sequence,
        part: match &m.content {
            StreamContent::Data(p) => Some(part_to(p)),
            StreamContent::Fin => None,
        },
    }
    .encode_to_vec(),
    |b| {
        let p = PbStreamMessage::decode(b)?;
        check_version(p.version)?;
        let content = match p.part {
            Some(part) => StreamContent::Data(part_from(part)?),
            None => StreamContent::Fin,
        };
        Ok(StreamMessage::new(StreamId::new(p.stream_id), p.sequence, content))
    }
);

codec!(
    ValidatorProof<BctContext>,
    |m| PbValidatorProof {
        public_key: m.public_key.clone().into(),
        peer_id: m.peer_id.clone().into(),
        signature: signature_bytes(&m.signature),
    }
    .encode_to_vec(),
    |b| {
        let p = PbValidatorProof::decode(b)?;
        Ok(ValidatorProof::new(p.public_key.to_vec(), p.peer_id.to_vec(), signature(&p.signature)?))
    }
);

codec!(
    sync::Status<BctContext>,
    |m| PbSyncStatus {
        peer_id: m.peer_id.to_bytes().into(),
        tip_height: m.tip_height.0,
        history_min_height: m.history_min_height.0,
    }
    .encode_to_vec(),
    |b| {
        let p = PbSyncStatus::decode(b)?;
        Ok(sync::Status {
            peer_id: PeerId::from_bytes(&p.peer_id).map_err(|_| CodecError::Invalid("peer id"))?,
            tip_height: Height(p.tip_height),
            history_min_height: Height(p.history_min_height),
        })
    }
);

codec!(
    sync::Request<BctContext>,
    |m| match m {
        sync::Request::ValueRequest(r) => PbSyncRequest { from: r.range.start().0, to: r.range.end().0 },
    }
    .encode_to_vec(),
    |b| {
        let p = PbSyncRequest::decode(b)?;
        if p.from > p.to {
            return Err(CodecError::Invalid("sync request range"));
        }
        Ok(sync::Request::ValueRequest(sync::ValueRequest::new(Height(p.from)..=Height(p.to))))
    }
);

codec!(sync::Response<BctContext>, |m| sync_response_to(m).encode_to_vec(), |b| {
    let p = PbSyncResponse::decode(b)?;
    let values = p
        .values
        .into_iter()
        .map(|v| {
            let cert = v.certificate.ok_or(CodecError::Invalid("decided value certificate"))?;
            Ok(sync::RawDecidedValue::new(v.value_bytes, extended_certificate_from(cert)?))
        })
        .collect::<Result<_>>()?;
    Ok(sync::Response::ValueResponse(sync::ValueResponse::new(Height(p.start_height), values)))
});

impl HasEncodedLen<sync::Response<BctContext>> for BctCodec {
    fn encoded_len(&self, m: &sync::Response<BctContext>) -> Result<usize> {
        Ok(sync_response_to(m).encoded_len())
    }
}

codec!(
    ProposedValue<BctContext>,
    |m| PbProposedValue {
        height: m.height.0,
        round: m.round.as_i64(),
        valid_round: m.valid_round.as_i64(),
        proposer: address_bytes(&m.proposer),
        block_id: block_id_bytes(&m.value),
        valid: m.validity.is_valid(),
    }
    .encode_to_vec(),
    |b| {
        let p = PbProposedValue::decode(b)?;
        Ok(ProposedValue {
            height: Height(p.height),
            round: round(p.round)?,
            valid_round: round(p.valid_round)?,
            proposer: address(&p.proposer)?,
            value: block_id(&p.block_id)?,
            validity: Validity::from_bool(p.valid),
        })
    }
);

codec!(PolkaCertificate<BctContext>, |m| polka_to(m).encode_to_vec(), |b| polka_from(PbCertificate::decode(b)?));

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T>(v: &T) -> T
    where
        BctCodec: Codec<T>,
        <BctCodec as Codec<T>>::Error: std::fmt::Debug,
    {
        BctCodec.decode(BctCodec.encode(v).expect("encode")).expect("decode")
    }

    #[test]
    fn votes_parts_and_streams_round_trip() {
        let v = Vote {
            vote_type: VoteType::Precommit,
            height: Height(7),
            round: Round::new(2),
            value: NilOrVal::Val(BlockId(Hash([3; 32]))),
            validator: ValidatorAddress(Address([4; 20])),
            extension: None,
        };
        let signed = SignedConsensusMsg::Vote(SignedMessage::new(v, Signature::from_bytes([5; 64])));
        assert_eq!(round_trip(&signed), signed);

        let init = ProposalPart::Init(PartInit {
            height: Height(1),
            round: Round::new(0),
            pol_round: Round::Nil,
            proposer: ValidatorAddress(Address([1; 20])),
        });
        for part in
            [init, ProposalPart::Data(Bytes::from_static(b"abc")), ProposalPart::Fin(Signature::from_bytes([9; 64]))]
        {
            let msg = StreamMessage::new(StreamId::new(Bytes::from_static(b"s")), 3, StreamContent::Data(part));
            let back: StreamMessage<ProposalPart> = round_trip(&msg);
            assert_eq!((back.sequence, back.content), (msg.sequence, msg.content));
        }
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        let r: Result<SignedConsensusMsg<BctContext>> = BctCodec.decode(Bytes::from_static(&[0xff, 0xff, 0xff]));
        assert!(r.is_err());
        let short = PbPart { kind: 3, data: Bytes::from_static(&[1, 2]), ..Default::default() }.encode_to_vec();
        let r: Result<ProposalPart> = BctCodec.decode(Bytes::from(short));
        assert!(matches!(r, Err(CodecError::Invalid(_))));
        let r: Result<BlockId> = BctCodec.decode(Bytes::from_static(&[1; 31]));
        assert!(r.is_err());
    }
}
