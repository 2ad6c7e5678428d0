//! Hand-written conversions between the generated protobuf messages and the ledger's types.
//!
//! Ledger → protobuf is infallible (`From<&T> for pb::T`). Protobuf → ledger checks every
//! field, because the input comes from the network: lengths of addresses, hashes, keys and
//! signatures, calendar dates, enums (`UNSPECIFIED` and unknown numbers are refused), and
//! presence of required messages and one-ofs. Semantic rules (empty names, periods that end
//! before they start, zero quantities) are the ledger's: it rejects them deterministically,
//! inside a block, with a rejection code.

mod block;
mod state;
mod tx;

use bct_ledger::types::{Date, Ecosystem, Location, Methodology, Period, Purpose, Role};
use bct_ledger::{Address, Hash};

use crate::error::{At, ProtoError};
use crate::pb;

/// A protobuf message that becomes a ledger value once every field is checked.
pub trait IntoLedger {
    /// The ledger type.
    type Ledger;

    /// Checks and converts; errors name the field at fault.
    fn into_ledger(self) -> Result<Self::Ledger, ProtoError>;
}

/// Implements [`IntoLedger`] through a path-aware converter, rooted at `$root`.
macro_rules! into_ledger {
    ($pb:ty => $ledger:ty, $root:literal, $f:path) => {
        impl $crate::convert::IntoLedger for $pb {
            type Ledger = $ledger;

            fn into_ledger(self) -> Result<$ledger, $crate::ProtoError> {
                $f(self, $crate::error::At::root($root))
            }
        }
    };
}
pub(crate) use into_ledger;

pub(crate) use tx::tx_body_from_pb;
pub use tx::{tx_kind_from_pb, tx_kind_to_pb};

// ---- scalars ---------------------------------------------------------------------------------

pub(crate) fn address(bytes: &[u8], at: At<'_>) -> Result<Address, ProtoError> {
    let arr: [u8; 20] = bytes.try_into().map_err(|_| ProtoError::Length {
        field: at.to_string(),
        expected: "a 20-byte address",
        got: bytes.len(),
    })?;
    Ok(Address(arr))
}

pub(crate) fn opt_address(bytes: Option<Vec<u8>>, at: At<'_>) -> Result<Option<Address>, ProtoError> {
    bytes.map(|b| address(&b, at)).transpose()
}

pub(crate) fn addresses(list: &[Vec<u8>], at: At<'_>) -> Result<Vec<Address>, ProtoError> {
    list.iter().enumerate().map(|(i, b)| address(b, at.index(i))).collect()
}

pub(crate) fn hash(bytes: &[u8], at: At<'_>) -> Result<Hash, ProtoError> {
    let arr: [u8; 32] = bytes.try_into().map_err(|_| ProtoError::Length {
        field: at.to_string(),
        expected: "a 32-byte hash",
        got: bytes.len(),
    })?;
    Ok(Hash(arr))
}

pub(crate) fn public_key(bytes: &[u8], at: At<'_>) -> Result<[u8; 32], ProtoError> {
    bytes.try_into().map_err(|_| ProtoError::Length {
        field: at.to_string(),
        expected: "a 32-byte ed25519 public key",
        got: bytes.len(),
    })
}

pub(crate) fn signature(bytes: &[u8], at: At<'_>) -> Result<[u8; 64], ProtoError> {
    bytes.try_into().map_err(|_| ProtoError::Length {
        field: at.to_string(),
        expected: "a 64-byte ed25519 signature",
        got: bytes.len(),
    })
}

pub(crate) fn date(v: u32, at: At<'_>) -> Result<Date, ProtoError> {
    Date::from_yyyymmdd(v).ok_or(ProtoError::BadDate { field: at.to_string(), value: v })
}

/// A message field that must be present.
pub(crate) fn required<T>(v: Option<T>, at: At<'_>) -> Result<T, ProtoError> {
    v.ok_or_else(|| at.missing())
}

// ---- small shared messages -------------------------------------------------------------------

impl From<&Period> for pb::Period {
    fn from(p: &Period) -> pb::Period {
        pb::Period { start: p.start.yyyymmdd(), end: p.end.yyyymmdd() }
    }
}

pub(crate) fn period(p: Option<pb::Period>, at: At<'_>) -> Result<Period, ProtoError> {
    let p = required(p, at)?;
    Ok(Period { start: date(p.start, at.field("start"))?, end: date(p.end, at.field("end"))? })
}

impl From<&Methodology> for pb::Methodology {
    fn from(m: &Methodology) -> pb::Methodology {
        pb::Methodology { id: m.id.clone(), version: m.version.clone() }
    }
}

pub(crate) fn methodology(m: Option<pb::Methodology>, at: At<'_>) -> Result<Methodology, ProtoError> {
    let m = required(m, at)?;
    Ok(Methodology { id: m.id, version: m.version })
}

impl From<&Location> for pb::Location {
    fn from(l: &Location) -> pb::Location {
        pb::Location {
            region: l.region.clone(),
            coordinates: l
                .coordinates
                .map(|(lat, lon)| pb::Coordinates { latitude_microdeg: lat, longitude_microdeg: lon }),
        }
    }
}

pub(crate) fn location(l: Option<pb::Location>, at: At<'_>) -> Result<Location, ProtoError> {
    let l = required(l, at)?;
    Ok(Location { region: l.region, coordinates: l.coordinates.map(|c| (c.latitude_microdeg, c.longitude_microdeg)) })
}

// ---- enums -----------------------------------------------------------------------------------

/// Maps a protobuf enum number to a ledger enum, refusing 0 (`UNSPECIFIED`) and unknown numbers.
fn enumeration<P, L>(v: i32, at: At<'_>, map: impl FnOnce(P) -> Option<L>) -> Result<L, ProtoError>
where
    P: TryFrom<i32>,
{
    let p = P::try_from(v).map_err(|_| ProtoError::UnknownEnum { field: at.to_string(), value: v })?;
    map(p).ok_or_else(|| ProtoError::Unspecified { field: at.to_string() })
}

/// The protobuf form of a ledger enum.
pub fn role_to_pb(r: Role) -> pb::Role {
    match r {
        Role::Authority => pb::Role::Authority,
        Role::Verifier => pb::Role::Verifier,
        Role::Exchange => pb::Role::Exchange,
        Role::Holder => pb::Role::Holder,
    }
}

pub(crate) fn role(v: i32, at: At<'_>) -> Result<Role, ProtoError> {
    enumeration(v, at, |p: pb::Role| match p {
        pb::Role::Unspecified => None,
        pb::Role::Authority => Some(Role::Authority),
        pb::Role::Verifier => Some(Role::Verifier),
        pb::Role::Exchange => Some(Role::Exchange),
        pb::Role::Holder => Some(Role::Holder),
    })
}

/// The protobuf form of a ledger enum.
pub fn ecosystem_to_pb(e: Ecosystem) -> pb::Ecosystem {
    match e {
        Ecosystem::Mangrove => pb::Ecosystem::Mangrove,
        Ecosystem::SaltMarsh => pb::Ecosystem::SaltMarsh,
        Ecosystem::Seagrass => pb::Ecosystem::Seagrass,
        Ecosystem::SeaweedFarm => pb::Ecosystem::SeaweedFarm,
        Ecosystem::ShellfishFarm => pb::Ecosystem::ShellfishFarm,
        Ecosystem::Mudflat => pb::Ecosystem::Mudflat,
        Ecosystem::WaterColumn => pb::Ecosystem::WaterColumn,
        Ecosystem::Other => pb::Ecosystem::Other,
    }
}

pub(crate) fn ecosystem(v: i32, at: At<'_>) -> Result<Ecosystem, ProtoError> {
    enumeration(v, at, |p: pb::Ecosystem| match p {
        pb::Ecosystem::Unspecified => None,
        pb::Ecosystem::Mangrove => Some(Ecosystem::Mangrove),
        pb::Ecosystem::SaltMarsh => Some(Ecosystem::SaltMarsh),
        pb::Ecosystem::Seagrass => Some(Ecosystem::Seagrass),
        pb::Ecosystem::SeaweedFarm => Some(Ecosystem::SeaweedFarm),
        pb::Ecosystem::ShellfishFarm => Some(Ecosystem::ShellfishFarm),
        pb::Ecosystem::Mudflat => Some(Ecosystem::Mudflat),
        pb::Ecosystem::WaterColumn => Some(Ecosystem::WaterColumn),
        pb::Ecosystem::Other => Some(Ecosystem::Other),
    })
}

/// The protobuf form of a ledger enum.
pub fn purpose_to_pb(p: Purpose) -> pb::Purpose {
    match p {
        Purpose::Voluntary => pb::Purpose::Voluntary,
        Purpose::Event => pb::Purpose::Event,
        Purpose::Compliance => pb::Purpose::Compliance,
        Purpose::JudicialRestoration => pb::Purpose::JudicialRestoration,
        Purpose::Other => pb::Purpose::Other,
    }
}

pub(crate) fn purpose(v: i32, at: At<'_>) -> Result<Purpose, ProtoError> {
    enumeration(v, at, |p: pb::Purpose| match p {
        pb::Purpose::Unspecified => None,
        pb::Purpose::Voluntary => Some(Purpose::Voluntary),
        pb::Purpose::Event => Some(Purpose::Event),
        pb::Purpose::Compliance => Some(Purpose::Compliance),
        pb::Purpose::JudicialRestoration => Some(Purpose::JudicialRestoration),
        pb::Purpose::Other => Some(Purpose::Other),
    })
}

/// A filter on a role in a query: 0 (`UNSPECIFIED`) means no filter; an unknown number is
/// an error naming `field`.
pub fn role_filter(v: i32, field: &str) -> Result<Option<Role>, ProtoError> {
    if v == 0 {
        Ok(None)
    } else {
        role(v, At::root(field)).map(Some)
    }
}

/// A filter on an ecosystem in a query, as [`role_filter`].
pub fn ecosystem_filter(v: i32, field: &str) -> Result<Option<Ecosystem>, ProtoError> {
    if v == 0 {
        Ok(None)
    } else {
        ecosystem(v, At::root(field)).map(Some)
    }
}

/// A filter on a retirement purpose in a query, as [`role_filter`].
pub fn purpose_filter(v: i32, field: &str) -> Result<Option<Purpose>, ProtoError> {
    if v == 0 {
        Ok(None)
    } else {
        purpose(v, At::root(field)).map(Some)
    }
}
