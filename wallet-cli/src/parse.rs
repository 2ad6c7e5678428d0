//! Reading what people type: quantities, periods, areas, coordinates, prices, addresses, keys,
//! validators and approvals, each with an error that shows the expected form. No floats.

use std::str::FromStr;

use bct_ledger::tx::Approval;
use bct_ledger::types::{Date, Ecosystem, Period, Purpose, Role, Validator};
use bct_ledger::{Address, Amount, Hash};

/// A quantity: `12.5t` or `12500kg`.
pub fn amount(s: &str) -> Result<Amount, String> {
    let a = Amount::from_str(s).map_err(|e| e.to_string())?;
    if a == Amount::ZERO {
        return Err(format!("{s} is zero: give a quantity of at least 1kg"));
    }
    Ok(a)
}

/// An address: bech32 `bct1...`.
pub fn address(s: &str) -> Result<Address, String> {
    Address::from_str(s)
        .map_err(|e| format!("{e}; check it for typos (copy it from `bct keys show` or `bct account show`)"))
}

/// A 32-byte hash as 64 hex digits.
pub fn hash(s: &str) -> Result<Hash, String> {
    Hash::from_hex(s).map_err(|_| format!("{s:?} is not a 32-byte hash (64 hex digits)"))
}

/// A 32-byte ed25519 public key as 64 hex digits.
pub fn public_key(s: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(s.trim()).map_err(|_| format!("{s:?} is not hexadecimal"))?;
    bytes.try_into().map_err(|_| format!("{s:?} is not a 32-byte public key (64 hex digits)"))
}

/// A date as `YYYY-MM-DD` or `YYYYMMDD`.
pub fn date(s: &str) -> Result<Date, String> {
    let digits: String = s.trim().chars().filter(|c| *c != '-').collect();
    let bad = || format!("{s:?} is not a calendar date: write YYYY-MM-DD (years 1900 to 2999)");
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let v: u32 = digits.parse().map_err(|_| bad())?;
    Date::from_yyyymmdd(v).ok_or_else(bad)
}

/// A monitoring period, both ends inclusive: `2021-01-01..2021-12-31`.
pub fn period(s: &str) -> Result<Period, String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("{s:?} is not a period: write START..END, e.g. 2021-01-01..2021-12-31"))?;
    let (start, end) = (date(a)?, date(b)?);
    if end < start {
        return Err(format!("period {s:?} ends before it starts"));
    }
    Ok(Period { start, end })
}

/// A non-negative decimal with at most `decimals` decimals, scaled to an integer: with 2
/// decimals, `171.8` is 17180.
pub fn scaled_decimal(s: &str, decimals: u32, what: &str) -> Result<u64, String> {
    let text = s.trim();
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, f),
        None => (text, ""),
    };
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || (text.contains('.') && frac.is_empty()) {
        return Err(format!("{what} {s:?} is not a decimal number (digits with at most one `.`)"));
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > decimals as usize {
        return Err(format!("{what} {s:?} has more than {decimals} decimals"));
    }
    let scale = 10u64.pow(decimals);
    let int: u64 = int.parse().map_err(|_| format!("{what} {s:?} is too large"))?;
    let frac_scaled: u64 = if frac.is_empty() {
        0
    } else {
        let padded = format!("{frac:0<width$}", width = decimals as usize);
        padded.parse().map_err(|_| format!("{what} {s:?} is not a decimal number"))?
    };
    int.checked_mul(scale).and_then(|v| v.checked_add(frac_scaled)).ok_or_else(|| format!("{what} {s:?} is too large"))
}

/// An area in hectares with at most 2 decimals (`171.8`), as hundredths of a hectare.
pub fn area_centiha(s: &str) -> Result<u64, String> {
    let text = s.trim().trim_end_matches("ha").trim_end();
    scaled_decimal(text, 2, "area")
}

/// A latitude or longitude in decimal degrees with at most 6 decimals (`-26.2`, `119.54`), as
/// microdegrees, within `±limit` degrees.
pub fn degrees(s: &str, limit: u32, what: &str) -> Result<i32, String> {
    let text = s.trim();
    let (negative, magnitude) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let micro = scaled_decimal(magnitude, 6, what)?;
    if micro > u64::from(limit) * 1_000_000 {
        return Err(format!("{what} {s:?} is outside -{limit}..{limit} degrees"));
    }
    let micro = i32::try_from(micro).map_err(|_| format!("{what} {s:?} is too large"))?;
    Ok(if negative { -micro } else { micro })
}

/// Digits after the decimal point of a currency's minor unit (ISO 4217): 0 for yen and won,
/// 3 for dinars, 2 otherwise (fen for CNY).
pub fn currency_decimals(currency: &str) -> u32 {
    const NO_MINOR_UNIT: &[&str] = &[
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF",
        "XPF",
    ];
    const THREE_DECIMALS: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
    if NO_MINOR_UNIT.contains(&currency) {
        0
    } else if THREE_DECIMALS.contains(&currency) {
        3
    } else {
        2
    }
}

/// A currency code: three upper-case letters (ISO 4217), e.g. `CNY`.
pub fn currency(s: &str) -> Result<String, String> {
    let c = s.trim().to_ascii_uppercase();
    if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!("{s:?} is not a currency code: write three letters, e.g. CNY"));
    }
    Ok(c)
}

/// A price per tonne in `currency`'s major unit (`20`, `183.50`), as minor units (fen for CNY).
pub fn price_minor(s: &str, currency: &str) -> Result<u64, String> {
    scaled_decimal(s, currency_decimals(currency), &format!("price per tonne in {currency}"))
}

/// A price in minor units as major units: 2000 fen is `20.00`.
pub fn price_text(minor: u64, currency: &str) -> String {
    match currency_decimals(currency) {
        0 => format!("{minor} {currency}"),
        d => {
            let scale = 10u64.pow(d);
            format!("{}.{:0width$} {currency}", minor / scale, minor % scale, width = d as usize)
        }
    }
}

/// A role: `authority`, `verifier`, `exchange` or `holder`.
pub fn role(s: &str) -> Result<Role, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "authority" => Ok(Role::Authority),
        "verifier" => Ok(Role::Verifier),
        "exchange" => Ok(Role::Exchange),
        "holder" => Ok(Role::Holder),
        _ => Err(format!("{s:?} is not a role: use authority, verifier, exchange or holder")),
    }
}

/// An ecosystem: `mangrove`, `salt_marsh`, `seagrass`, `seaweed_farm`, `shellfish_farm`,
/// `mudflat`, `water_column` or `other` (`-` may stand for `_`).
pub fn ecosystem(s: &str) -> Result<Ecosystem, String> {
    let name = s.trim().to_ascii_lowercase().replace('-', "_");
    Ecosystem::ALL.into_iter().find(|e| e.as_str() == name).ok_or_else(|| {
        let all: Vec<&str> = Ecosystem::ALL.iter().map(|e| e.as_str()).collect();
        format!("{s:?} is not an ecosystem: use one of {}", all.join(", "))
    })
}

/// A retirement purpose: `voluntary`, `event`, `compliance`, `judicial_restoration` or `other`.
pub fn purpose(s: &str) -> Result<Purpose, String> {
    let all = [Purpose::Voluntary, Purpose::Event, Purpose::Compliance, Purpose::JudicialRestoration, Purpose::Other];
    let name = s.trim().to_ascii_lowercase().replace('-', "_");
    all.into_iter().find(|p| p.as_str() == name).ok_or_else(|| {
        format!("{s:?} is not a purpose: use voluntary, event, compliance, judicial_restoration or other")
    })
}

/// A validator: `PUBLIC_KEY_HEX:POWER:NAME` (the name may contain `:`).
pub fn validator(s: &str) -> Result<Validator, String> {
    let form = "write PUBLIC_KEY_HEX:POWER:NAME, e.g. ca93...be7c:1:Straits exchange";
    let mut parts = s.splitn(3, ':');
    let (Some(key), Some(power), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("{s:?} is not a validator: {form}"));
    };
    let public_key = public_key(key).map_err(|e| format!("{e}: {form}"))?;
    let power: u64 =
        power.trim().parse().map_err(|_| format!("validator power {power:?} is not a whole number: {form}"))?;
    if name.trim().is_empty() {
        return Err(format!("validator {s:?} has no name: {form}"));
    }
    Ok(Validator { public_key, power, name: name.trim().to_string() })
}

/// A validator's approval: `PUBLIC_KEY_HEX:SIGNATURE_HEX`, as `bct validators approve` prints.
pub fn approval(s: &str) -> Result<Approval, String> {
    let form = "write PUBLIC_KEY_HEX:SIGNATURE_HEX, as printed by `bct validators approve`";
    let (key, sig) = s.split_once(':').ok_or_else(|| format!("{s:?} is not an approval: {form}"))?;
    let public_key = public_key(key).map_err(|e| format!("{e}: {form}"))?;
    let bytes = hex::decode(sig.trim()).map_err(|_| format!("signature {sig:?} is not hexadecimal: {form}"))?;
    let signature: [u8; 64] =
        bytes.try_into().map_err(|_| format!("signature {sig:?} is not 64 bytes (128 hex digits): {form}"))?;
    Ok(Approval { public_key, signature })
}

/// A 32-byte ed25519 secret as 64 hex digits (surrounding space ignored).
pub fn secret(s: &str) -> Result<[u8; 32], String> {
    let text = s.trim();
    let text = text.strip_prefix("0x").unwrap_or(text);
    let bytes = hex::decode(text).map_err(|_| "the secret is not hexadecimal".to_string())?;
    bytes.try_into().map_err(|_| "the secret is not 32 bytes (64 hex digits)".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_quantity_is_a_usage_error() {
        assert_eq!(amount("12.5t"), Ok(Amount::from_kg(12_500)));
        assert!(amount("0t").unwrap_err().contains("is zero"));
        assert!(amount("0kg").unwrap_err().contains("at least 1kg"));
    }

    #[test]
    fn periods_and_dates() {
        let p = period("2021-01-01..2021-12-31").expect("period");
        assert_eq!((p.start.yyyymmdd(), p.end.yyyymmdd()), (20210101, 20211231));
        assert_eq!(period("20100101..20200101").map(|p| p.end.yyyymmdd()), Ok(20200101));
        assert!(period("2021-12-31..2021-01-01").unwrap_err().contains("ends before"));
        assert!(period("2021-01-01").unwrap_err().contains("START..END"));
        assert!(date("2021-02-30").unwrap_err().contains("calendar date"));
    }

    #[test]
    fn decimals_without_floats() {
        assert_eq!(area_centiha("171.8"), Ok(17_180));
        assert_eq!(area_centiha("126 ha"), Ok(12_600));
        assert!(area_centiha("1.234").unwrap_err().contains("more than 2 decimals"));
        assert!(area_centiha("-1").is_err());
        assert!(area_centiha("1.").is_err());
        assert_eq!(degrees("26.2", 90, "latitude"), Ok(26_200_000));
        assert_eq!(degrees("-119.54", 180, "longitude"), Ok(-119_540_000));
        assert!(degrees("91", 90, "latitude").unwrap_err().contains("outside"));
        assert_eq!(price_minor("20", "CNY"), Ok(2000));
        assert_eq!(price_minor("183.5", "CNY"), Ok(18_350));
        assert_eq!(price_minor("1500", "JPY"), Ok(1500));
        assert!(price_minor("1.5", "JPY").is_err());
        assert_eq!(price_text(2000, "CNY"), "20.00 CNY");
        assert_eq!(price_text(1500, "JPY"), "1500 JPY");
    }

    #[test]
    fn names_and_specs() {
        assert_eq!(ecosystem("salt-marsh"), Ok(Ecosystem::SaltMarsh));
        assert!(ecosystem("forest").unwrap_err().contains("mangrove"));
        assert_eq!(purpose("judicial_restoration"), Ok(Purpose::JudicialRestoration));
        assert_eq!(role("Verifier"), Ok(Role::Verifier));
        let key = "ca93ac1705187071d67b83c7ff0efe8108e8ec4530575d7726879333dbdabe7c";
        let v = validator(&format!("{key}:2:Straits: exchange")).expect("validator");
        assert_eq!((v.power, v.name.as_str()), (2, "Straits: exchange"));
        assert!(validator(key).unwrap_err().contains("PUBLIC_KEY_HEX:POWER:NAME"));
        assert!(approval(&format!("{key}:00")).unwrap_err().contains("64 bytes"));
        assert_eq!(secret(&format!("0x{}\n", "01".repeat(32))), Ok([1u8; 32]));
        assert!(secret("abc").is_err());
    }
}
