//! Tests of every rule (accepted and rejected), of blocks, storage and a reference model.

mod blocks;
mod kit;
mod model;
mod rules;
mod storage;
