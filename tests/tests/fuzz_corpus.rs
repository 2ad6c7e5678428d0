//! The CI smoke of the fuzz targets, on stable: every file of `fuzz/corpus/<target>/` goes
//! through its harness (`bct_tests::fuzz`), then a fixed number of mutations of those files
//! (bit flips, byte changes, truncations, insertions, duplications, splices) chosen by a
//! fixed-seed generator, so every run tries the same inputs. A panic in a harness fails the
//! test and names the input to reproduce it.
//!
//! `BCT_WRITE_SEEDS=1 cargo nextest run -p bct-tests --test fuzz_corpus` (re)writes the seed
//! inputs made by `bct_tests::fuzz::seeds` into the corpus directories.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bct_tests::fuzz::{seeds, Harness, TARGETS};

/// Most mutated inputs tried per target.
const MUTATIONS_MAX: usize = 20_000;
/// Time given to the mutations of each target: the bound that keeps the smoke short on a slow
/// machine or build (with the curve arithmetic unoptimized, a signature check takes 7 ms).
const MUTATIONS_TIME: Duration = Duration::from_millis(300);
/// Longest mutated input (libFuzzer's default `-max_len` is 4096).
const INPUT_BYTES_MAX: usize = 8192;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target)
}

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("a directory entry").path();
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path.file_name().expect("a file name").to_string_lossy().into_owned(), bytes)
        })
        .collect();
    files.sort();
    files
}

/// Runs `input` through `harness`; on a panic, fails naming the target, the input and how it
/// was made, with its bytes in hex to save as a reproducer.
fn run(target: &str, harness: Harness, input: &[u8], what: &dyn Fn() -> String) {
    if catch_unwind(AssertUnwindSafe(|| harness(input))).is_err() {
        panic!(
            "fuzz target {target} panicked on {}; input ({} bytes, hex): {}",
            what(),
            input.len(),
            hex::encode(input)
        );
    }
}

/// xorshift64*: a small fixed-seed generator, enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

/// One to four mutations of `input`, `other` being another corpus file to splice from.
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let len = out.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                // Values protobuf cares about: zero, one, varint continuation, field tags.
                out[i] = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x08, 0x0a, 0x12, rng.byte()][rng.below(9)];
            }
            2 if len > 0 => out.truncate(rng.below(len)),
            3 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
                out.splice(i..i, bytes);
            }
            4 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(64)).min(len);
                let copy = out[start..end].to_vec();
                let at = rng.below(len + 1);
                out.splice(at..at, copy);
            }
            5 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(64)).min(len);
                out.drain(start..end);
            }
            6 if !other.is_empty() => {
                let cut = rng.below(len + 1);
                let from = rng.below(other.len());
                out.truncate(cut);
                out.extend_from_slice(&other[from..]);
            }
            _ if len > 0 => {
                // A length or varint byte nudged up or down by one.
                let i = rng.below(len);
                out[i] = if rng.below(2) == 0 { out[i].wrapping_add(1) } else { out[i].wrapping_sub(1) };
            }
            _ => out.push(rng.byte()),
        }
    }
    out.truncate(INPUT_BYTES_MAX);
    out
}

#[test]
fn every_corpus_is_present_and_not_empty() {
    for (target, _) in TARGETS {
        let files = corpus(target);
        assert!(!files.is_empty(), "fuzz/corpus/{target}/ is empty: run with BCT_WRITE_SEEDS=1 to write the seeds");
    }
}

#[test]
fn seeds_pass_their_harness() {
    let write = std::env::var_os("BCT_WRITE_SEEDS").is_some_and(|v| v == "1");
    for (target, harness) in TARGETS {
        let seeds = seeds(target);
        assert!(!seeds.is_empty(), "no seeds for {target}");
        for (i, seed) in seeds.iter().enumerate() {
            run(target, *harness, seed, &|| format!("seed {i}"));
            if write {
                let dir = corpus_dir(target);
                std::fs::create_dir_all(&dir).expect("corpus directory");
                let name = format!("seed-{}", &blake3_hex(seed)[..16]);
                std::fs::write(dir.join(name), seed).expect("seed written");
            }
        }
    }
}

fn blake3_hex(bytes: &[u8]) -> String {
    bct_ledger::Hash::of(bytes).to_hex()
}

/// Replays the corpus of `target`, then tries up to [`MUTATIONS_MAX`] mutations of it, or
/// fewer if [`MUTATIONS_TIME`] runs out first (the same sequence every run; only how far it
/// gets depends on the machine).
fn smoke(target: &str) {
    let (index, (_, harness)) =
        TARGETS.iter().enumerate().find(|(_, (t, _))| *t == target).expect("a target of bct_tests::fuzz");
    let started = Instant::now();
    let files = corpus(target);
    for (name, bytes) in &files {
        run(target, *harness, bytes, &|| format!("corpus file {name}"));
    }
    let replayed = started.elapsed();
    let mut rng = Rng(0x6263_745f_6675_7a7a ^ (index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mutated = Instant::now();
    let mut tried = 0;
    while tried < MUTATIONS_MAX && mutated.elapsed() < MUTATIONS_TIME {
        let (name, base) = &files[rng.below(files.len())];
        let (_, other) = &files[rng.below(files.len())];
        let input = mutate(&mut rng, base, other);
        run(target, *harness, &input, &|| format!("mutation {tried} of corpus file {name}"));
        tried += 1;
    }
    eprintln!(
        "{target}: {} corpus files in {:.2} s, {tried} mutations in {:.2} s",
        files.len(),
        replayed.as_secs_f64(),
        mutated.elapsed().as_secs_f64()
    );
}

macro_rules! smoke_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                smoke(stringify!($name));
            }
        )*

        #[test]
        fn every_target_has_a_smoke_test() {
            let tested = [$(stringify!($name)),*];
            for (target, _) in TARGETS {
                assert!(tested.contains(target), "no smoke test for fuzz target {target}");
            }
        }
    };
}

mod smoke {
    use super::{smoke, TARGETS};

    smoke_tests!(
        signed_tx,
        block,
        proposal_part,
        proposal_stream,
        consensus_msg,
        sync_msg,
        certificate,
        certificate_file,
        structured
    );
}
