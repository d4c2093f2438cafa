//! Integer arithmetic primitives shared by the golden model, the weight
//! generator and (later) the RTL generator. `docs/arithmetic.md` is the
//! normative description; each function here cites the rule it implements.

/// The three arithmetic kinds of the hybrid network.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Multiply-accumulate: `acc += x * w`.
    Conv,
    /// Shift-accumulate: `acc += ±(x << e)`, weights are signed powers of two.
    Shift,
    /// Adder (AdderNet): `acc -= |x - w|`.
    Adder,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Conv, Kind::Shift, Kind::Adder];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Conv => "conv",
            Kind::Shift => "shift",
            Kind::Adder => "adder",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Smallest and largest value of a signed two's-complement integer of `bits` bits.
pub fn signed_range(bits: u32) -> (i64, i64) {
    debug_assert!((1..=64).contains(&bits));
    let hi = (1i128 << (bits - 1)) - 1;
    (-(hi as i64) - 1, hi as i64)
}

/// Saturate `v` to the signed range of `bits` bits (rule R3 of docs/arithmetic.md).
pub fn saturate(v: i64, bits: u32) -> i64 {
    let (lo, hi) = signed_range(bits);
    v.clamp(lo, hi)
}

/// Rounding arithmetic right shift: `floor((v + 2^(s-1)) / 2^s)` for `s > 0`,
/// `v` for `s == 0`. Ties round towards +infinity (rule R2).
/// The caller guarantees `v + 2^(s-1)` does not overflow (validated widths).
pub fn rshift_round(v: i64, s: u32) -> i64 {
    if s == 0 {
        v
    } else {
        (v + (1i64 << (s - 1))) >> s
    }
}

/// Requantise an accumulator (rule R4): `rshift_round(acc * m, s)`, then the
/// activation clamp `[lo, hi]` (which already lies inside the output range).
pub fn requantize(acc: i64, m: i32, s: u32, lo: i64, hi: i64) -> i64 {
    rshift_round(acc * m as i64, s).clamp(lo, hi)
}

/// Number of bits of a signed integer able to hold every value in `[-v, v]`.
pub fn signed_bits_for(v: u64) -> u32 {
    // v = 0 still needs one (sign) bit; v needs bit_length(v) + 1.
    (64 - v.leading_zeros()) + 1
}

/// Decode a shift-weight code (rule W2): 0 is the zero weight, `c != 0` is
/// `sign(c) * 2^(|c| - 1)`. Returns `(negative, exponent)` or `None` for zero.
pub fn decode_shift(code: i64) -> Option<(bool, u32)> {
    if code == 0 {
        None
    } else {
        Some((code < 0, (code.unsigned_abs() - 1) as u32))
    }
}

/// The integer value a shift-weight code stands for.
pub fn shift_value(code: i64) -> i64 {
    match decode_shift(code) {
        None => 0,
        Some((neg, e)) => {
            if neg {
                -(1i64 << e)
            } else {
                1i64 << e
            }
        }
    }
}

/// One accumulation term of a kind (rules K1-K3). `w` is the stored weight:
/// the integer weight for conv and adder, the code for shift.
pub fn term(kind: Kind, x: i64, w: i64) -> i64 {
    match kind {
        Kind::Conv => x * w,
        Kind::Shift => match decode_shift(w) {
            None => 0,
            Some((neg, e)) => {
                let shifted = x << e;
                if neg {
                    -shifted
                } else {
                    shifted
                }
            }
        },
        Kind::Adder => -(x - w).abs(),
    }
}

/// Largest magnitude of one accumulation term for inputs of `x_bits` and
/// weights described by `w_bits` (weight width, or exponent-code width for shift).
pub fn max_term(kind: Kind, x_bits: u32, w_bits: u32) -> u64 {
    let x = 1u64 << (x_bits - 1);
    match kind {
        Kind::Conv => x * (1u64 << (w_bits - 1)),
        Kind::Shift => x << max_shift_exponent(w_bits),
        Kind::Adder => x + (1u64 << (w_bits - 1)),
    }
}

/// Largest exponent a shift code of `exp_bits` bits can name: codes lie in
/// `[-2^exp_bits, 2^exp_bits]`, so exponents in `[0, 2^exp_bits - 1]`.
pub fn max_shift_exponent(exp_bits: u32) -> u32 {
    (1u32 << exp_bits) - 1
}

/// The default fixed-point reciprocal of an averaging window of `n` elements
/// (rule P2): multiplier `floor((2^16 + floor(n/2)) / n)`, shift 16.
pub fn default_average(n: u64) -> (i32, u32) {
    ((((1u64 << 16) + n / 2) / n) as i32, 16)
}

/// Fixed-point factor for rescaling between two tensor scales (rule A2):
/// `round_half_away(ratio * 2^14)` with shift 14.
pub const RESCALE_SHIFT: u32 = 14;

pub fn rescale_multiplier(from_scale: f64, to_scale: f64) -> f64 {
    (from_scale / to_scale * (1u64 << RESCALE_SHIFT) as f64).round()
}

/// The ReLU6 upper clamp in integer units of a tensor of scale `scale`
/// (rule R5): `round_half_away(6 / scale)`, at most the largest value of `bits`.
pub fn relu6_max(scale: f64, bits: u32) -> i64 {
    let q = (6.0 / scale).round();
    let (_, hi) = signed_range(bits);
    if q >= hi as f64 {
        hi
    } else {
        q as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_ties_go_up() {
        assert_eq!(rshift_round(5, 1), 3); // 2.5 -> 3
        assert_eq!(rshift_round(-5, 1), -2); // -2.5 -> -2
        assert_eq!(rshift_round(-6, 2), -1); // -1.5 -> -1
        assert_eq!(rshift_round(-7, 2), -2); // -1.75 -> -2
        assert_eq!(rshift_round(7, 0), 7);
    }

    #[test]
    fn saturation_hits_int8_minimum() {
        assert_eq!(saturate(-129, 8), -128);
        assert_eq!(saturate(200, 8), 127);
        assert_eq!(requantize(-1000, 1, 0, -128, 127), -128);
    }

    #[test]
    fn shift_codes() {
        assert_eq!(shift_value(0), 0);
        assert_eq!(shift_value(1), 1);
        assert_eq!(shift_value(-1), -1);
        assert_eq!(shift_value(4), 8);
        assert_eq!(shift_value(-8), -128);
        assert_eq!(term(Kind::Shift, -128, -8), 16384);
        assert_eq!(term(Kind::Shift, -3, 3), -12);
        assert_eq!(term(Kind::Shift, 100, 0), 0);
    }

    #[test]
    fn adder_terms_are_never_positive() {
        assert_eq!(term(Kind::Adder, -128, 127), -255);
        assert_eq!(term(Kind::Adder, 5, 5), 0);
        assert_eq!(term(Kind::Adder, 0, -7), -7); // a padded input
    }

    #[test]
    fn widths() {
        assert_eq!(signed_bits_for(0), 1);
        assert_eq!(signed_bits_for(127), 8);
        assert_eq!(signed_bits_for(128), 9);
        assert_eq!(max_term(Kind::Conv, 8, 8), 16384);
        assert_eq!(max_term(Kind::Shift, 8, 3), 128 << 7);
        assert_eq!(max_term(Kind::Adder, 8, 8), 256);
    }

    #[test]
    fn averages_and_clamps() {
        assert_eq!(default_average(4), (16384, 16));
        assert_eq!(default_average(49), (1337, 16));
        assert_eq!(relu6_max(6.0 / 100.0, 8), 100);
        assert_eq!(relu6_max(0.001, 8), 127);
        assert_eq!(rescale_multiplier(0.5, 0.25), 32768.0);
    }
}
