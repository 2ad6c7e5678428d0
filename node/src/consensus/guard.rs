//! The double-sign guard: a validator never signs two different votes (or two different
//! proposals) for one height, round and kind, across any number of crashes.
//!
//! The engine's write-ahead log already replays a validator's own messages after a restart,
//! but only while it replays; anything it derives afterwards is signed afresh. The guard sits
//! in the signer, below the engine: before a vote or proposal is signed, its content is
//! recorded under (height, round, kind) in the node's storage and **flushed to disk**; a later
//! request for the same key with another content gets the recorded message signed instead
//! (logged as an error: it means the engine re-derived a different message after a crash). The
//! first message ever signed for a key is therefore the only one that can leave the node.
//!
//! Records below the last committed height are pruned at each commit.

use malachitebft_app_channel::app::types::core::{NilOrVal, Round, VoteType};

use super::context::{BlockId, Height, Proposal, Vote};

/// The storage tree of the guard.
pub const GUARD_TREE: &[u8] = b"consensus-signed";

const KIND_PREVOTE: u8 = 1;
const KIND_PRECOMMIT: u8 = 2;
const KIND_PROPOSAL: u8 = 3;

/// What the guard says about a message about to be signed.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict<T> {
    /// Nothing was signed for this key before (now recorded), or the same message was: sign it.
    Sign(T),
    /// A different message was signed for this key before: sign that one, never this one.
    Conflict {
        /// The message asked for.
        asked: T,
        /// The message recorded first, to sign in its place.
        recorded: T,
    },
}

/// The double-sign guard over one sled tree.
#[derive(Clone)]
pub struct SignGuard {
    tree: sled::Tree,
}

fn key(height: Height, round: Round, kind: u8) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.extend_from_slice(&height.0.to_be_bytes());
    k.extend_from_slice(&round.as_i64().to_be_bytes());
    k.push(kind);
    k
}

fn vote_kind(t: VoteType) -> u8 {
    match t {
        VoteType::Prevote => KIND_PREVOTE,
        VoteType::Precommit => KIND_PRECOMMIT,
    }
}

fn vote_content(v: &Vote) -> Vec<u8> {
    match &v.value {
        NilOrVal::Nil => vec![0],
        NilOrVal::Val(id) => {
            let mut c = vec![1];
            c.extend_from_slice(&id.0 .0);
            c
        }
    }
}

fn vote_from_content(asked: &Vote, content: &[u8]) -> Option<Vote> {
    let value = match content {
        [0] => NilOrVal::Nil,
        [1, id @ ..] => NilOrVal::Val(BlockId(bct_ledger::Hash(<[u8; 32]>::try_from(id).ok()?))),
        _ => return None,
    };
    Some(Vote { value, ..asked.clone() })
}

fn proposal_content(p: &Proposal) -> Vec<u8> {
    let mut c = Vec::with_capacity(40);
    c.extend_from_slice(&p.value.0 .0);
    c.extend_from_slice(&p.pol_round.as_i64().to_be_bytes());
    c
}

fn proposal_from_content(asked: &Proposal, content: &[u8]) -> Option<Proposal> {
    if content.len() != 40 {
        return None;
    }
    let id = <[u8; 32]>::try_from(&content[..32]).ok()?;
    let pol = i64::from_be_bytes(<[u8; 8]>::try_from(&content[32..]).ok()?);
    Some(Proposal { value: BlockId(bct_ledger::Hash(id)), pol_round: Round::from(pol), ..asked.clone() })
}

impl SignGuard {
    /// The guard kept in `db`.
    pub fn open(db: &sled::Db) -> Result<SignGuard, sled::Error> {
        Ok(SignGuard { tree: db.open_tree(GUARD_TREE)? })
    }

    /// Records `content` under `key` (durably) unless something is recorded there already;
    /// returns what was recorded before, if anything.
    async fn record(&self, key: Vec<u8>, content: Vec<u8>) -> Result<Option<Vec<u8>>, String> {
        let previous = self
            .tree
            .compare_and_swap(key, None as Option<&[u8]>, Some(content))
            .map_err(|e| format!("double-sign guard: {e}"))?;
        match previous {
            Ok(()) => {
                self.tree.flush_async().await.map_err(|e| format!("double-sign guard: flushing: {e}"))?;
                Ok(None)
            }
            Err(cas) => Ok(cas.current.map(|v| v.to_vec())),
        }
    }

    /// The vote to sign in place of `vote`.
    pub async fn vote(&self, vote: Vote) -> Result<Verdict<Vote>, String> {
        let content = vote_content(&vote);
        match self.record(key(vote.height, vote.round, vote_kind(vote.vote_type)), content.clone()).await? {
            None => Ok(Verdict::Sign(vote)),
            Some(c) if c == content => Ok(Verdict::Sign(vote)),
            Some(c) => match vote_from_content(&vote, &c) {
                Some(recorded) => Ok(Verdict::Conflict { asked: vote, recorded }),
                None => Err(format!("double-sign guard: unreadable record for {} {}", vote.height, vote.round)),
            },
        }
    }

    /// The proposal to sign in place of `proposal`.
    pub async fn proposal(&self, proposal: Proposal) -> Result<Verdict<Proposal>, String> {
        let content = proposal_content(&proposal);
        match self.record(key(proposal.height, proposal.round, KIND_PROPOSAL), content.clone()).await? {
            None => Ok(Verdict::Sign(proposal)),
            Some(c) if c == content => Ok(Verdict::Sign(proposal)),
            Some(c) => match proposal_from_content(&proposal, &c) {
                Some(recorded) => Ok(Verdict::Conflict { asked: proposal, recorded }),
                None => Err(format!("double-sign guard: unreadable record for {} {}", proposal.height, proposal.round)),
            },
        }
    }

    /// Forgets the records of heights below `height` (decided: nothing more is signed there).
    pub fn prune_below(&self, height: u64) {
        let end = height.to_be_bytes();
        for key in self.tree.range(..end.as_slice()).keys().flatten() {
            let _ = self.tree.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::context::ValidatorAddress;

    fn guard() -> (tempfile::TempDir, sled::Db, SignGuard) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sled::Config::new().path(dir.path()).open().expect("sled");
        let g = SignGuard::open(&db).expect("guard");
        (dir, db, g)
    }

    fn vote(t: VoteType, h: u64, r: i64, value: Option<u8>) -> Vote {
        Vote {
            vote_type: t,
            height: Height(h),
            round: Round::from(r),
            value: value.map_or(NilOrVal::Nil, |b| NilOrVal::Val(BlockId(bct_ledger::Hash([b; 32])))),
            validator: ValidatorAddress(bct_ledger::Address([7; 20])),
            extension: None,
        }
    }

    fn proposal(h: u64, r: i64, value: u8, pol: i64) -> Proposal {
        Proposal {
            height: Height(h),
            round: Round::from(r),
            value: BlockId(bct_ledger::Hash([value; 32])),
            pol_round: Round::from(pol),
            proposer: ValidatorAddress(bct_ledger::Address([7; 20])),
        }
    }

    #[tokio::test]
    async fn the_first_vote_for_a_key_is_the_only_one_signed() {
        let (_dir, _db, g) = guard();
        let first = vote(VoteType::Prevote, 5, 0, Some(1));
        assert_eq!(g.vote(first.clone()).await, Ok(Verdict::Sign(first.clone())));
        // The same vote again (a restart re-deriving it): signed again, the same bytes.
        assert_eq!(g.vote(first.clone()).await, Ok(Verdict::Sign(first.clone())));
        // A different vote for the same height, round and type: refused, the first in its place.
        let nil = vote(VoteType::Prevote, 5, 0, None);
        assert_eq!(g.vote(nil.clone()).await, Ok(Verdict::Conflict { asked: nil, recorded: first.clone() }));
        // Another type, round or height is another key.
        for other in [
            vote(VoteType::Precommit, 5, 0, None),
            vote(VoteType::Prevote, 5, 1, None),
            vote(VoteType::Prevote, 6, 0, None),
        ] {
            assert_eq!(g.vote(other.clone()).await, Ok(Verdict::Sign(other)));
        }
        // A nil vote recorded first wins over a later value.
        let later = vote(VoteType::Precommit, 5, 0, Some(2));
        let recorded = vote(VoteType::Precommit, 5, 0, None);
        assert_eq!(g.vote(later.clone()).await, Ok(Verdict::Conflict { asked: later, recorded }));
    }

    #[tokio::test]
    async fn records_survive_reopening_and_are_pruned_below_a_height() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = vote(VoteType::Precommit, 9, 2, Some(3));
        {
            let db = sled::Config::new().path(dir.path()).open().expect("sled");
            let g = SignGuard::open(&db).expect("guard");
            assert_eq!(g.vote(first.clone()).await, Ok(Verdict::Sign(first.clone())));
            let p = proposal(9, 2, 4, -1);
            assert_eq!(g.proposal(p.clone()).await, Ok(Verdict::Sign(p)));
        }
        // A dropped sled database releases its file lock from a background thread, a moment
        // later: retry until it is free.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let db = loop {
            match sled::Config::new().path(dir.path()).open() {
                Ok(db) => break db,
                Err(e) if std::time::Instant::now() < deadline && e.to_string().contains("lock") => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                Err(e) => panic!("sled reopens: {e}"),
            }
        };
        let g = SignGuard::open(&db).expect("guard");
        let other = vote(VoteType::Precommit, 9, 2, None);
        assert_eq!(g.vote(other.clone()).await, Ok(Verdict::Conflict { asked: other.clone(), recorded: first }));
        let p2 = proposal(9, 2, 5, -1);
        assert_eq!(g.proposal(p2.clone()).await, Ok(Verdict::Conflict { asked: p2, recorded: proposal(9, 2, 4, -1) }));
        g.prune_below(10);
        assert_eq!(g.vote(other.clone()).await, Ok(Verdict::Sign(other)));
    }
}
