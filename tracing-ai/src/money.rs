//! Amounts of money that add up exactly: a finance team adds up the spans' costs and must find
//! the same total in a counter or a budget, not `0.0009892999999999998`.
//!
//! Each amount is rounded as spans write it (12 significant digits) and kept as an integer of
//! 10^-22 of its currency; sums are integer sums, turned back into the double nearest their
//! decimal value when read.

/// The finest unit a rounded amount needs: 10^-22 of the currency.
const PLACES: usize = 22;

/// Powers of ten that an f64 holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// `amount` to 12 significant digits (an f64 holds 15 to 17): what float arithmetic on
/// per-token prices adds past them is noise, not money. Amounts outside 1e-10..1e11 (no
/// call's cost) are left as they are.
pub(crate) fn round_money(amount: f64) -> f64 {
    match money_digits(amount) {
        // Both exact in an f64 (the mantissa is below 2^53, the scale an exact power of ten):
        // the division rounds to the double nearest the decimal.
        Some((mantissa, places)) => mantissa as f64 / POW10[places],
        None => amount,
    }
}

/// `amount` to 12 significant digits, as the exact decimal `mantissa * 10^-places`
/// (`places` <= 22); `None` outside 1e-10..1e11 and for NaN. On the close of every AI span,
/// so no `log10` or `powf`: the decimal magnitude comes from the binary exponent, and the
/// scale from a table.
pub(crate) fn money_digits(amount: f64) -> Option<(i64, usize)> {
    let abs = amount.abs();
    // Also false for NaN.
    if !(1e-10..1e11).contains(&abs) {
        return None;
    }
    let binary_exponent = ((abs.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    // floor(log10(abs)), or one less.
    let magnitude = (f64::from(binary_exponent) * std::f64::consts::LOG10_2).floor() as i32;
    let mut places = usize::try_from(11 - magnitude).unwrap_or(0).min(22);
    if places > 0 && abs * POW10[places] >= 1e12 {
        places -= 1;
    }
    // Below 1e12 in magnitude: the cast is exact.
    Some(((amount * POW10[places]).round() as i64, places))
}

/// `amount` as people read it: at least two decimals, up to 8, so that a fraction of a cent
/// stays visible, without trailing zeros (`25.00`, `0.0002`, `0.00003015`).
pub(crate) fn decimal(amount: f64) -> String {
    let text = format!("{amount:.8}");
    let trimmed = text.trim_end_matches('0');
    match trimmed.split_once('.') {
        Some((_, decimals)) if decimals.len() >= 2 => trimmed.to_owned(),
        _ => format!("{amount:.2}"),
    }
}

/// `usd`, rounded as spans write it, in units of 10^-22 of its currency.
pub(crate) fn to_units(usd: f64) -> Option<i128> {
    if usd.abs() < 1e-10 {
        // Below 10^12 units: whole units are exact enough. Also 0.
        return Some((usd * 1e22).round() as i128);
    }
    let (mantissa, places) = money_digits(usd)?;
    Some(i128::from(mantissa) * 10_i128.pow((PLACES - places) as u32))
}

/// The double nearest `units` * 10^-22: parsed from its decimal, which Rust rounds correctly.
pub(crate) fn to_f64(units: i128) -> f64 {
    let sign = if units < 0 { "-" } else { "" };
    let digits = units.unsigned_abs();
    let scale = 10_u128.pow(PLACES as u32);
    format!("{sign}{}.{:022}", digits / scale, digits % scale)
        .parse()
        .unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_are_the_decimal_sums_of_the_rounded_amounts() {
        let amounts = [0.00013, 0.00029, 0.0003653];
        let float: f64 = amounts.iter().sum();
        assert_ne!(float, 0.0007853, "float addition drifts: {float}");
        let units: i128 = amounts
            .iter()
            .map(|usd| to_units(*usd).expect("money"))
            .sum();
        assert_eq!(to_f64(units), 0.0007853);
        assert_eq!(to_f64(units).to_string(), "0.0007853");
    }

    #[test]
    fn tiny_and_large_amounts_keep_their_digits() {
        for usd in [1.23e-10, 4.5e-7, 0.123456789012, 12_345.678_901_2, 9.9e10] {
            assert_eq!(to_f64(to_units(usd).expect("money")), usd, "{usd}");
        }
        assert_eq!(to_units(f64::NAN), None);
        assert_eq!(to_units(1e11), None);
        assert_eq!(to_f64(to_units(1.5e-12).expect("money")), 1.5e-12);
        assert_eq!(to_units(0.0), Some(0));
    }
}
