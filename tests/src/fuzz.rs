//! Filled in by the fuzzing work.
