//! Quantities of CO2e as integer kilograms, shown to people in tonnes.
//!
//! There are no floats anywhere in the ledger: `38745.44t` is 38,745,440 kg.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A quantity of CO2-equivalent in kilograms (1 t = 1,000 kg).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Amount(u64);

/// Why a text could not be read as an amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountParseError {
    /// Neither `t` nor `kg` ends the text.
    #[error("amount {0:?} needs a unit: write tonnes as `12.5t` or kilograms as `12500kg`")]
    MissingUnit(String),
    /// The number part is not a plain decimal.
    #[error("amount {0:?} is not a decimal number (digits with at most one `.`)")]
    NotANumber(String),
    /// Tonnes with more than three decimals cannot be expressed in kilograms.
    #[error("amount {0:?} has more than 3 decimals of a tonne; the smallest unit is 1 kg (0.001t)")]
    TooPrecise(String),
    /// Kilograms with decimals.
    #[error("amount {0:?}: kilograms must be a whole number")]
    FractionalKg(String),
    /// More than `u64::MAX` kilograms.
    #[error("amount {0:?} is too large")]
    Overflow(String),
}

impl Amount {
    /// Zero kilograms.
    pub const ZERO: Amount = Amount(0);

    /// An amount of `kg` kilograms.
    pub const fn from_kg(kg: u64) -> Amount {
        Amount(kg)
    }

    /// An amount of whole tonnes, `None` on overflow.
    pub const fn from_tonnes(t: u64) -> Option<Amount> {
        match t.checked_mul(1000) {
            Some(kg) => Some(Amount(kg)),
            None => None,
        }
    }

    /// The amount in kilograms.
    pub const fn kg(self) -> u64 {
        self.0
    }

    /// Whether this is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Sum, `None` on overflow.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    /// Difference, `None` if `other` is larger.
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }
}

impl fmt::Display for Amount {
    /// Tonnes with up to three decimals and no trailing zeros: `38745.44t`, `12t`, `0.001t`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / 1000;
        let frac = self.0 % 1000;
        if frac == 0 {
            write!(f, "{whole}t")
        } else {
            let digits = format!("{frac:03}");
            write!(f, "{whole}.{}t", digits.trim_end_matches('0'))
        }
    }
}

impl FromStr for Amount {
    type Err = AmountParseError;

    /// Reads `12.5t`, `12.5 t`, `12500kg`, `12500 kg` (units are case-insensitive).
    fn from_str(s: &str) -> Result<Amount, AmountParseError> {
        let text = s.trim();
        let lower = text.to_ascii_lowercase();
        let (number, is_kg) = if let Some(n) = lower.strip_suffix("kg") {
            (n.trim_end(), true)
        } else if let Some(n) = lower.strip_suffix('t') {
            (n.trim_end(), false)
        } else {
            return Err(AmountParseError::MissingUnit(s.to_string()));
        };
        let (int_part, frac_part) = match number.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (number, None),
        };
        let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int_part) || frac_part.is_some_and(|f| !all_digits(f)) {
            return Err(AmountParseError::NotANumber(s.to_string()));
        }
        let overflow = || AmountParseError::Overflow(s.to_string());
        let int: u64 = int_part.parse().map_err(|_| overflow())?;
        if is_kg {
            if frac_part.is_some_and(|f| f.bytes().any(|b| b != b'0')) {
                return Err(AmountParseError::FractionalKg(s.to_string()));
            }
            return Ok(Amount(int));
        }
        let mut frac_kg = 0u64;
        if let Some(f) = frac_part {
            let trimmed = f.trim_end_matches('0');
            if trimmed.len() > 3 {
                return Err(AmountParseError::TooPrecise(s.to_string()));
            }
            let padded = format!("{trimmed:0<3}");
            frac_kg = padded.parse().map_err(|_| AmountParseError::NotANumber(s.to_string()))?;
        }
        int.checked_mul(1000).and_then(|kg| kg.checked_add(frac_kg)).map(Amount).ok_or_else(overflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_tonnes_with_up_to_three_decimals() {
        let cases = [(38_745_440, "38745.44t"), (27_456_000, "27456t"), (1, "0.001t"), (0, "0t"), (12_500, "12.5t")];
        for (kg, text) in cases {
            assert_eq!(Amount::from_kg(kg).to_string(), text);
        }
    }

    #[test]
    fn parses_tonnes_and_kilograms() {
        let cases = [
            ("38745.44t", 38_745_440),
            ("12.5t", 12_500),
            ("12500kg", 12_500),
            ("12500 KG", 12_500),
            ("0.001t", 1),
            ("7 t", 7_000),
            ("1.000t", 1_000),
            ("5.0kg", 5),
        ];
        for (text, kg) in cases {
            assert_eq!(text.parse::<Amount>(), Ok(Amount::from_kg(kg)), "{text}");
        }
    }

    #[test]
    fn refuses_bad_amounts() {
        assert!(matches!("12.5".parse::<Amount>(), Err(AmountParseError::MissingUnit(_))));
        assert!(matches!("-3t".parse::<Amount>(), Err(AmountParseError::NotANumber(_))));
        assert!(matches!("1.2.3t".parse::<Amount>(), Err(AmountParseError::NotANumber(_))));
        assert!(matches!(".5t".parse::<Amount>(), Err(AmountParseError::NotANumber(_))));
        assert!(matches!("0.0001t".parse::<Amount>(), Err(AmountParseError::TooPrecise(_))));
        assert!(matches!("1.5kg".parse::<Amount>(), Err(AmountParseError::FractionalKg(_))));
        assert!(matches!("18446744073709552t".parse::<Amount>(), Err(AmountParseError::Overflow(_))));
        assert!(matches!("99999999999999999999kg".parse::<Amount>(), Err(AmountParseError::Overflow(_))));
    }

    #[test]
    fn display_round_trips() {
        for kg in [0, 1, 10, 999, 1000, 1001, 38_745_440, u64::MAX] {
            let a = Amount::from_kg(kg);
            assert_eq!(a.to_string().parse::<Amount>(), Ok(a));
        }
    }
}
