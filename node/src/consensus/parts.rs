//! Proposal streams: cutting an encoded block into signed parts, and putting received parts
//! back together with limits on how many streams, parts and bytes are held.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_signing_ed25519::Signature;

use super::context::{PartInit, ProposalPart};

/// Bytes of block data in one part: far below the 4 MiB gossip message limit, so a part
/// never comes near it whatever the framing.
pub const PART_DATA_BYTES_MAX: usize = 128 * 1024;

/// Incomplete streams held at once; the oldest is dropped to make room.
pub const STREAMS_OPEN_MAX: usize = 64;

/// Incomplete streams held at once from one publisher (a proposer streams one proposal per
/// round); its oldest is dropped to make room, so one peer cannot crowd out the others.
pub const STREAMS_PER_PUBLISHER_MAX: usize = 4;

/// A stream assembled: its first part, the block bytes, the closing signature, and the
/// parts themselves (kept to restream them unchanged).
#[derive(Clone, Debug)]
pub struct CompleteStream {
    /// Which proposal.
    pub init: PartInit,
    /// The encoded block.
    pub data: Bytes,
    /// The proposer's signature from the `Fin` part.
    pub signature: Signature,
    /// Every part, in order.
    pub parts: Vec<ProposalPart>,
}

/// Why a stream was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// More data than any valid block.
    #[error("proposal stream is larger than {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// One part carries more data than a proposer ever puts in one.
    #[error("a proposal part carries {size} bytes; parts carry at most {max}")]
    PartTooLarge {
        /// Its data.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A sequence number past any valid stream.
    #[error("proposal stream sequence number {seq} is above {max}")]
    SequenceTooHigh {
        /// Received.
        seq: u64,
        /// The limit.
        max: u64,
    },
    /// Complete but not `Init, Data*, Fin`.
    #[error("proposal stream is malformed: {0}")]
    Malformed(&'static str),
}

/// Cuts `block` into `Init`, `Data` chunks and `Fin`.
pub fn split(init: PartInit, block: &[u8], signature: Signature) -> Vec<ProposalPart> {
    let mut parts = Vec::with_capacity(2 + block.len() / PART_DATA_BYTES_MAX + 1);
    parts.push(ProposalPart::Init(init));
    for chunk in block.chunks(PART_DATA_BYTES_MAX) {
        parts.push(ProposalPart::Data(Bytes::copy_from_slice(chunk)));
    }
    parts.push(ProposalPart::Fin(signature));
    parts
}

/// The stream messages that publish `parts` under `stream_id`: one per part, then the end marker.
pub fn stream_messages(stream_id: StreamId, parts: &[ProposalPart]) -> Vec<StreamMessage<ProposalPart>> {
    let mut out: Vec<_> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| StreamMessage::new(stream_id.clone(), i as u64, StreamContent::Data(p.clone())))
        .collect();
    out.push(StreamMessage::new(stream_id, parts.len() as u64, StreamContent::Fin));
    out
}

#[derive(Default)]
struct Partial {
    parts: BTreeMap<u64, StreamContent<ProposalPart>>,
    bytes: usize,
    end: Option<u64>,
}

/// Puts streams back together, keyed by publisher and stream id.
pub struct Assembler {
    streams: BTreeMap<(PeerId, Bytes), Partial>,
    order: VecDeque<(PeerId, Bytes)>,
    bytes_max: usize,
    seq_max: u64,
}

impl Assembler {
    /// An assembler that accepts streams of at most `bytes_max` bytes of block data.
    pub fn new(bytes_max: usize) -> Assembler {
        // Init + data parts + Fin + end marker.
        let seq_max = (bytes_max / PART_DATA_BYTES_MAX + 4) as u64;
        Assembler { streams: BTreeMap::new(), order: VecDeque::new(), bytes_max, seq_max }
    }

    /// Number of incomplete streams held.
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// Bytes of block data held in incomplete streams: at most [`STREAMS_OPEN_MAX`] streams
    /// of at most `bytes_max` each, and [`STREAMS_PER_PUBLISHER_MAX`] of them per publisher.
    pub fn bytes_held(&self) -> usize {
        self.streams.values().map(|p| p.bytes).sum()
    }

    /// Adds a part; returns the stream once every part up to its end marker is in.
    pub fn push(
        &mut self,
        publisher: PeerId,
        msg: StreamMessage<ProposalPart>,
    ) -> Result<Option<CompleteStream>, StreamError> {
        let key = (publisher, msg.stream_id.to_bytes());
        if msg.sequence > self.seq_max {
            self.remove(&key);
            return Err(StreamError::SequenceTooHigh { seq: msg.sequence, max: self.seq_max });
        }
        let size = match &msg.content {
            StreamContent::Data(ProposalPart::Data(d)) => d.len(),
            _ => 0,
        };
        if size > PART_DATA_BYTES_MAX {
            self.remove(&key);
            return Err(StreamError::PartTooLarge { size, max: PART_DATA_BYTES_MAX });
        }
        if !self.streams.contains_key(&key) {
            // Room for it: first among its publisher's streams, then among all.
            while self.order.iter().filter(|(p, _)| *p == publisher).count() >= STREAMS_PER_PUBLISHER_MAX {
                match self.order.iter().position(|(p, _)| *p == publisher) {
                    Some(i) => {
                        if let Some(oldest) = self.order.remove(i) {
                            self.streams.remove(&oldest);
                        }
                    }
                    None => break,
                }
            }
            while self.streams.len() >= STREAMS_OPEN_MAX {
                match self.order.pop_front() {
                    Some(oldest) => {
                        self.streams.remove(&oldest);
                    }
                    None => break,
                }
            }
            self.order.push_back(key.clone());
        }
        let partial = self.streams.entry(key.clone()).or_default();
        // A sequence number already held keeps its first part: a resend, honest or not, can
        // neither replace it nor add bytes that are not counted.
        if partial.parts.contains_key(&msg.sequence) {
            return Ok(None);
        }
        if msg.content.is_fin() {
            partial.end = Some(msg.sequence);
        }
        partial.parts.insert(msg.sequence, msg.content);
        partial.bytes += size;
        if partial.bytes > self.bytes_max {
            self.remove(&key);
            return Err(StreamError::TooLarge { max: self.bytes_max });
        }
        let complete = match partial.end {
            Some(end) => partial.parts.len() as u64 == end + 1 && partial.parts.keys().next_back() == Some(&end),
            None => false,
        };
        if !complete {
            return Ok(None);
        }
        let Some(partial) = self.remove(&key) else { return Ok(None) };
        assemble(partial).map(Some)
    }

    fn remove(&mut self, key: &(PeerId, Bytes)) -> Option<Partial> {
        self.order.retain(|k| k != key);
        self.streams.remove(key)
    }
}

fn assemble(partial: Partial) -> Result<CompleteStream, StreamError> {
    let mut parts: Vec<ProposalPart> = partial.parts.into_values().filter_map(StreamContent::into_data).collect();
    let Some(ProposalPart::Init(init)) = parts.first().cloned() else {
        return Err(StreamError::Malformed("the first part is not Init"));
    };
    let Some(ProposalPart::Fin(signature)) = parts.last().cloned() else {
        return Err(StreamError::Malformed("the last part is not Fin"));
    };
    let mut data = Vec::with_capacity(partial.bytes);
    for p in &parts[1..parts.len() - 1] {
        match p {
            ProposalPart::Data(d) => data.extend_from_slice(d),
            _ => return Err(StreamError::Malformed("Init or Fin in the middle")),
        }
    }
    parts.shrink_to_fit();
    Ok(CompleteStream { init, data: Bytes::from(data), signature, parts })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::context::{Height, ValidatorAddress};
    use malachitebft_app_channel::app::types::core::Round;

    fn peer() -> PeerId {
        let id = crate::keys::peer_id_of(&crate::keys::NodeKey::from_secret([7; 32]).public_key()).expect("peer id");
        PeerId::from_bytes(&id.to_bytes()).expect("same encoding")
    }

    fn init() -> PartInit {
        PartInit {
            height: Height(3),
            round: Round::new(1),
            pol_round: Round::Nil,
            proposer: ValidatorAddress::default(),
        }
    }

    #[test]
    fn out_of_order_parts_reassemble() {
        let block: Vec<u8> = (0..(PART_DATA_BYTES_MAX * 2 + 10)).map(|i| i as u8).collect();
        let parts = split(init(), &block, Signature::from_bytes([1; 64]));
        assert_eq!(parts.len(), 5);
        let mut msgs = stream_messages(StreamId::new(Bytes::from_static(b"x")), &parts);
        msgs.reverse();
        let peer = peer();
        let mut a = Assembler::new(4 << 20);
        let mut done = None;
        for m in msgs {
            if let Some(c) = a.push(peer, m).expect("valid") {
                done = Some(c);
            }
        }
        let done = done.expect("complete");
        assert_eq!(done.data.as_ref(), block.as_slice());
        assert_eq!(done.init, init());
        assert_eq!(a.open_streams(), 0);
    }

    fn data(id: &'static [u8], seq: u64, size: usize) -> StreamMessage<ProposalPart> {
        let part = ProposalPart::Data(Bytes::from(vec![0u8; size]));
        StreamMessage::new(StreamId::new(Bytes::from_static(id)), seq, StreamContent::Data(part))
    }

    fn other_peer(seed: u8) -> PeerId {
        let id = crate::keys::peer_id_of(&crate::keys::NodeKey::from_secret([seed; 32]).public_key()).expect("peer id");
        PeerId::from_bytes(&id.to_bytes()).expect("same encoding")
    }

    /// The audit's bypass: resending a sequence number with a bigger payload was never
    /// counted. Now the first part of a sequence number stays, so the bytes held never pass
    /// the limit, and one part bigger than any proposer sends is refused.
    #[test]
    fn a_resent_sequence_number_cannot_grow_a_stream_and_parts_are_bounded() {
        let mut a = Assembler::new(2 * PART_DATA_BYTES_MAX);
        let peer = peer();
        assert!(a.push(peer, data(b"s", 1, 10)).expect("ok").is_none());
        for _ in 0..100 {
            assert!(a.push(peer, data(b"s", 1, PART_DATA_BYTES_MAX)).expect("ignored").is_none());
        }
        assert_eq!(a.streams.values().map(|p| p.bytes).sum::<usize>(), 10, "the resends added nothing");
        let held: usize = a
            .streams
            .values()
            .flat_map(|p| p.parts.values())
            .map(|c| match c {
                StreamContent::Data(ProposalPart::Data(d)) => d.len(),
                _ => 0,
            })
            .sum();
        assert_eq!(held, 10, "the first part stays");
        assert!(matches!(a.push(peer, data(b"t", 1, PART_DATA_BYTES_MAX + 1)), Err(StreamError::PartTooLarge { .. })));
    }

    /// One publisher holds at most STREAMS_PER_PUBLISHER_MAX streams: opening more drops its
    /// own oldest, never another publisher's.
    #[test]
    fn one_publisher_cannot_crowd_out_the_others() {
        let mut a = Assembler::new(4 << 20);
        let honest = other_peer(9);
        let m = StreamMessage::new(
            StreamId::new(Bytes::from_static(b"honest")),
            0,
            StreamContent::Data(ProposalPart::Init(init())),
        );
        assert!(a.push(honest, m).expect("ok").is_none());
        let attacker = peer();
        for i in 0..1000u32 {
            let id = StreamId::new(Bytes::from(i.to_be_bytes().to_vec()));
            let m = StreamMessage::new(id, 0, StreamContent::Data(ProposalPart::Init(init())));
            assert!(a.push(attacker, m).expect("ok").is_none());
        }
        assert_eq!(a.open_streams(), STREAMS_PER_PUBLISHER_MAX + 1);
        assert!(a.streams.contains_key(&(honest, Bytes::from_static(b"honest"))), "the honest stream stays");
    }

    #[test]
    fn limits_are_enforced() {
        let mut a = Assembler::new(PART_DATA_BYTES_MAX);
        let peer = peer();
        assert!(a.push(peer, data(b"y", 1, PART_DATA_BYTES_MAX)).expect("ok").is_none());
        assert!(matches!(a.push(peer, data(b"y", 2, 1)), Err(StreamError::TooLarge { .. })));
        let m = StreamMessage::new(StreamId::new(Bytes::from_static(b"z")), 1_000_000, StreamContent::Fin);
        assert!(matches!(a.push(peer, m), Err(StreamError::SequenceTooHigh { .. })));
        for i in 0..(STREAMS_OPEN_MAX + 10) {
            let id = StreamId::new(Bytes::from(i.to_be_bytes().to_vec()));
            let m = StreamMessage::new(id, 0, StreamContent::Data(ProposalPart::Init(init())));
            assert!(a.push(other_peer(i as u8 + 20), m).expect("ok").is_none());
        }
        assert_eq!(a.open_streams(), STREAMS_OPEN_MAX);
    }
}
