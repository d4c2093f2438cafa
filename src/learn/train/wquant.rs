//! Weight quantisers of the three kinds, shared by training (the forward
//! pass uses the rounded weights; the gradient goes straight through) and by
//! export (the integer codes of docs/arithmetic.md, W1-W3). Using one
//! function for both is what makes the trained float network and the
//! exported integer network compute the same terms.

/// Rounded weights: the float values the forward pass uses, the stored
/// integer codes, and the real value of one integer step per output channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantized {
    pub values: Vec<f32>,
    pub codes: Vec<i8>,
    pub scales: Vec<f32>,
}

fn per_channel(w: &[f32], out_ch: usize) -> impl Iterator<Item = &[f32]> {
    w.chunks(w.len() / out_ch.max(1))
}

/// Rule W1: symmetric per-output-channel integers of `bits` bits,
/// `[-(2^(b-1) - 1), 2^(b-1) - 1]`, scale `max |w| / (2^(b-1) - 1)`.
pub fn conv(w: &[f32], out_ch: usize, bits: u32) -> Quantized {
    let qmax = ((1i32 << (bits - 1)) - 1) as f32;
    let mut q = Quantized {
        values: Vec::with_capacity(w.len()),
        codes: Vec::with_capacity(w.len()),
        scales: Vec::with_capacity(out_ch),
    };
    for wc in per_channel(w, out_ch) {
        let max = wc.iter().fold(0f32, |m, v| m.max(v.abs()));
        let s = if max > 0.0 { max / qmax } else { 1.0 };
        q.scales.push(s);
        for &v in wc {
            let c = (v / s).round().clamp(-qmax, qmax);
            q.codes.push(c as i8);
            q.values.push(c * s);
        }
    }
    q
}

/// Rule W2 (DeepShift-Q): `sign(w) * 2^p` with `p = round(log2 |w|)`, per
/// output channel limited to the `2^exp_bits` exponents below the rounded
/// exponent of the channel's largest weight; smaller weights become zero.
/// The channel scale is `2^p_min`, so code `±(p - p_min + 1)`.
pub fn shift(w: &[f32], out_ch: usize, exp_bits: u32) -> Quantized {
    let levels = 1i32 << exp_bits;
    let mut q = Quantized {
        values: Vec::with_capacity(w.len()),
        codes: Vec::with_capacity(w.len()),
        scales: Vec::with_capacity(out_ch),
    };
    for wc in per_channel(w, out_ch) {
        let max = wc.iter().fold(0f32, |m, v| m.max(v.abs()));
        if max == 0.0 || !max.is_finite() {
            q.scales.push(1.0);
            q.codes.extend(std::iter::repeat_n(0, wc.len()));
            q.values.extend(std::iter::repeat_n(0.0, wc.len()));
            continue;
        }
        let pmax = max.log2().round() as i32;
        let pmin = pmax - (levels - 1);
        q.scales.push(2f32.powi(pmin));
        for &v in wc {
            let p = if v == 0.0 {
                i32::MIN
            } else {
                (v.abs().log2().round() as i32).min(pmax)
            };
            if p < pmin {
                q.codes.push(0);
                q.values.push(0.0);
            } else {
                let code = (p - pmin + 1) as i8;
                let mag = 2f32.powi(p);
                if v < 0.0 {
                    q.codes.push(-code);
                    q.values.push(-mag);
                } else {
                    q.codes.push(code);
                    q.values.push(mag);
                }
            }
        }
    }
    q
}

/// Rule W3: integers of the input's width on the input's scale, so that
/// `x - w` is exact: `clamp(round(w / s_x), -2^(b-1), 2^(b-1) - 1)`.
pub fn adder(w: &[f32], out_ch: usize, in_scale: f32, bits: u32) -> Quantized {
    let hi = ((1i32 << (bits - 1)) - 1) as f32;
    let lo = -hi - 1.0;
    let codes: Vec<i8> = w
        .iter()
        .map(|&v| (v / in_scale).round().clamp(lo, hi) as i8)
        .collect();
    Quantized {
        values: codes.iter().map(|&c| c as f32 * in_scale).collect(),
        codes,
        scales: vec![in_scale; out_ch],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_codes_are_powers_of_two_in_range() {
        let w = [0.5, -0.24, 0.0, 0.001, 0.7, -0.0039];
        let q = shift(&w, 1, 3);
        // max 0.7 -> p_max = round(log2 0.7) = -1, p_min = -8, scale 2^-8.
        assert_eq!(q.scales, vec![2f32.powi(-8)]);
        assert_eq!(q.values, vec![0.5, -0.25, 0.0, 0.0, 0.5, -2f32.powi(-8)]);
        assert_eq!(q.codes, vec![8, -7, 0, 0, 8, -1]);
        for (c, v) in q.codes.iter().zip(&q.values) {
            let int = crate::model::quant::shift_value(*c as i64) as f32;
            assert_eq!(int * q.scales[0], *v);
        }
    }

    #[test]
    fn conv_and_adder_codes_times_scale_are_the_values() {
        let w = [0.3, -0.1, 0.05, 0.0];
        let q = conv(&w, 2, 8);
        for (i, (c, v)) in q.codes.iter().zip(&q.values).enumerate() {
            assert_eq!(*c as f32 * q.scales[i / 2], *v);
        }
        assert_eq!(q.codes[0], 127);
        let a = adder(&[1.0, -5.0, 0.26], 1, 0.02, 8);
        assert_eq!(a.codes, vec![50, -128, 13]);
    }
}
