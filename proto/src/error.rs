//! Why bytes or messages from the wire were refused, naming the field at fault.

use std::fmt;

/// Why a protobuf input could not become a ledger value.
///
/// Every message starts with what was wrong where, e.g.
/// `transfer.to: expected a 20-byte address, got 3 bytes`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// The input is larger than its limit; nothing was decoded.
    #[error("{what} is {size} bytes; at most {max} bytes are accepted")]
    TooLarge {
        /// What was being decoded.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not a protobuf encoding of the expected message.
    #[error("{what} is not a valid protobuf encoding: {source}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// What prost found.
        source: prost::DecodeError,
    },
    /// A transaction body that decodes but is not in the one canonical encoding.
    #[error(
        "{what} is not canonically encoded (fields out of field-number order, repeated, set to \
         their default without `optional`, or unknown to this version): encode it as \
         docs/PROTOCOL.md describes"
    )]
    NotCanonical {
        /// What was being decoded.
        what: &'static str,
    },
    /// A bytes field of the wrong length.
    #[error("{field}: expected {expected}, got {got} bytes")]
    Length {
        /// Path of the field.
        field: String,
        /// What it should be, e.g. `a 20-byte address`.
        expected: &'static str,
        /// Its length.
        got: usize,
    },
    /// A required message field is absent.
    #[error("{field}: missing")]
    Missing {
        /// Path of the field.
        field: String,
    },
    /// A one-of with no member set.
    #[error("{field}: no {what} set")]
    NoneSet {
        /// Path of the one-of's message.
        field: String,
        /// What one of the members stands for, e.g. `transaction kind`.
        what: &'static str,
    },
    /// An enum left at its `UNSPECIFIED` (0) value.
    #[error("{field}: unspecified")]
    Unspecified {
        /// Path of the field.
        field: String,
    },
    /// An enum number this version does not know.
    #[error("{field}: unknown value {value}")]
    UnknownEnum {
        /// Path of the field.
        field: String,
        /// The number received.
        value: i32,
    },
    /// A `YYYYMMDD` number that is not a real date.
    #[error("{field}: {value} is not a calendar date (YYYYMMDD, years 1900 to 2999)")]
    BadDate {
        /// Path of the field.
        field: String,
        /// The number received.
        value: u32,
    },
    /// Any other inconsistency.
    #[error("{field}: {reason}")]
    Invalid {
        /// Path of the field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A transaction of a block is at fault.
    #[error("block transaction {index}: {source}")]
    InBlockTx {
        /// Position of the transaction in the block.
        index: usize,
        /// What is wrong with it.
        source: Box<ProtoError>,
    },
}

/// The path of a field being decoded, e.g. `update_validators.validators[2].public_key`,
/// built on the stack and only turned into text when an error is reported.
#[derive(Clone, Copy)]
pub(crate) struct At<'a> {
    parent: Option<&'a At<'a>>,
    seg: Seg<'a>,
}

#[derive(Clone, Copy)]
enum Seg<'a> {
    Name(&'a str),
    Index(usize),
}

impl<'a> At<'a> {
    /// A path that starts at `name`.
    pub(crate) const fn root(name: &'a str) -> At<'a> {
        At { parent: None, seg: Seg::Name(name) }
    }

    /// The field `name` of this one.
    pub(crate) fn field(&'a self, name: &'a str) -> At<'a> {
        At { parent: Some(self), seg: Seg::Name(name) }
    }

    /// Element `i` of this repeated field.
    pub(crate) fn index(&'a self, i: usize) -> At<'a> {
        At { parent: Some(self), seg: Seg::Index(i) }
    }

    pub(crate) fn missing(&self) -> ProtoError {
        ProtoError::Missing { field: self.to_string() }
    }

    pub(crate) fn none_set(&self, what: &'static str) -> ProtoError {
        ProtoError::NoneSet { field: self.to_string(), what }
    }

    pub(crate) fn invalid(&self, reason: impl Into<String>) -> ProtoError {
        ProtoError::Invalid { field: self.to_string(), reason: reason.into() }
    }
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.parent {
            p.fmt(f)?;
        }
        match self.seg {
            Seg::Name(n) if self.parent.is_some() => write!(f, ".{n}"),
            Seg::Name(n) => f.write_str(n),
            Seg::Index(i) => write!(f, "[{i}]"),
        }
    }
}

impl From<ProtoError> for tonic::Status {
    /// Input that cannot be decoded is the caller's mistake: `INVALID_ARGUMENT`, with the message.
    fn from(e: ProtoError) -> tonic::Status {
        tonic::Status::invalid_argument(e.to_string())
    }
}
