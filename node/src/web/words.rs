//! The ledger's words for domain values and transactions (`bct_ledger::words`, shared with the
//! wallet and the demo), in the web view's language.

use bct_ledger::tx::TxKind;
use bct_ledger::words::{self as w};
use bct_ledger::Address;

use super::i18n::Lang;

pub use bct_ledger::words::price;

fn lang(l: Lang) -> w::Lang {
    match l {
        Lang::En => w::Lang::En,
        Lang::Zh => w::Lang::Zh,
    }
}

/// An ecosystem code (`salt_marsh`) in words.
pub fn ecosystem(code: &str, l: Lang) -> String {
    w::ecosystem(code, lang(l))
}

/// A retirement purpose code in words.
pub fn purpose(code: &str, l: Lang) -> String {
    w::purpose(code, lang(l))
}

/// A lot state code in words.
pub fn lot_state(code: &str, l: Lang) -> String {
    w::lot_state(code, lang(l))
}

/// A role code in words.
pub fn role(code: &str, l: Lang) -> String {
    w::role(code, lang(l))
}

/// A project or account status code in words.
pub fn status(code: &str, l: Lang) -> String {
    w::status(code, lang(l))
}

/// What a transaction does, in one sentence, with account names from `name`.
pub fn describe(kind: &TxKind, name: &dyn Fn(&Address) -> String, l: Lang) -> String {
    w::describe(kind, name, lang(l))
}
