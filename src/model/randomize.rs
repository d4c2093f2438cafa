//! Seeded random parameters for a network description, with the
//! requantisation calibrated (BatchNorm-style centring and scaling) on
//! seeded synthetic inputs, so that activations neither vanish nor
//! saturate. Used for the untrained default network, for hardware tests on
//! random weights, and by property tests.

use crate::model::golden::{self, Int};
use crate::model::net::{ConvOp, Network, Op};
use crate::model::quant::{self, Kind};
use crate::model::rng::SplitMix64;

/// How many synthetic images the calibration looks at.
pub const CALIBRATION_IMAGES: usize = 8;

fn random_weights(op: &ConvOp, rng: &mut SplitMix64) -> Vec<i8> {
    let n = op.weights.len();
    match op.kind {
        Kind::Conv | Kind::Adder => {
            let (lo, hi) = quant::signed_range(op.weight_bits);
            let sd = (hi as f64) / 2.5;
            (0..n)
                .map(|_| ((rng.normal() * sd).round() as i64).clamp(lo, hi) as i8)
                .collect()
        }
        Kind::Shift => {
            let emax = quant::max_shift_exponent(op.weight_bits) as i64;
            (0..n)
                .map(|_| {
                    // About 1 in 8 weights is zero, the rest ±2^e, small e more likely.
                    if rng.range_i64(0, 7) == 0 {
                        0
                    } else {
                        let e = rng.range_i64(0, emax).min(rng.range_i64(0, emax));
                        let code = e + 1;
                        (if rng.range_i64(0, 1) == 0 {
                            code
                        } else {
                            -code
                        }) as i8
                    }
                })
                .collect()
        }
    }
}

/// Seeded synthetic input images (integers in the input's range).
pub fn random_inputs(net: &Network, count: usize, rng: &mut SplitMix64) -> Vec<Vec<i64>> {
    let len = net.input.tensor.shape.len();
    (0..count)
        .map(|_| {
            (0..len)
                .map(|_| net.input.quantize_pixel(rng.range_i64(0, 255) as u8))
                .collect()
        })
        .collect()
}

/// Fills every conv and linear layer with seeded random weights and a
/// calibrated bias, multiplier and shift. Deterministic for a given seed.
pub fn randomize(net: &mut Network, seed: u64) {
    let mut rng = SplitMix64::new(seed);
    let images = random_inputs(net, CALIBRATION_IMAGES, &mut rng);
    let mut tensors: Vec<Vec<Vec<i64>>> = images.into_iter().map(|x| vec![x]).collect();
    for li in 0..net.layers.len() {
        if let Op::Conv(op) = &net.layers[li].op {
            let mut op = op.clone();
            op.weights = random_weights(&op, &mut rng);
            op.bias = vec![0; op.out_ch];
            let in_id = net.layers[li].inputs[0];
            let in_shape = net.tensor(in_id).shape;
            let out_shape = net.layers[li].out.shape;
            let per = out_shape.h * out_shape.w;
            let mut sum = vec![0f64; op.out_ch];
            let mut sq = vec![0f64; op.out_ch];
            for t in &tensors {
                let acc = golden::accumulate::<Int>(&op, in_shape, &t[in_id], out_shape);
                for (i, a) in acc.into_iter().enumerate() {
                    sum[i / per] += a as f64;
                    sq[i / per] += (a as f64) * (a as f64);
                }
            }
            let count = (tensors.len() * per) as f64;
            let out_bits = net.layers[li].out.bits;
            let target = (1i64 << (out_bits - 1)) as f64 / 4.0;
            for m in 0..op.out_ch {
                let mean = sum[m] / count;
                let sd = (sq[m] / count - mean * mean).max(1.0).sqrt();
                op.bias[m] = (-mean).round().clamp(-(1 << 30) as f64, (1 << 30) as f64) as i32;
                let r = target / sd;
                // Largest shift keeping the multiplier within 16 signed bits.
                let mut s = 0u32;
                while s < 40 && (r * 2f64.powi(s as i32 + 1)).round() < 32767.0 {
                    s += 1;
                }
                op.multiplier[m] = ((r * 2f64.powi(s as i32)).round() as i32).max(1);
                op.shift[m] = s;
            }
            net.layers[li].op = Op::Conv(op);
        }
        let layer = &net.layers[li];
        for t in tensors.iter_mut() {
            let out = golden::eval_layer::<Int>(net, layer, t);
            t.push(out);
        }
    }
}

/// Random weights written to a file (what `nasa random-weights` reports).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RandomWeights {
    pub weights: String,
    pub seed: u64,
    pub sha256: String,
    pub parameters: usize,
}

/// Reads the description at `path`, draws seeded random weights for it,
/// checks them exactly as a reader will, and writes them to `output`
/// atomically.
pub fn write_random_weights(
    path: &std::path::Path,
    seed: u64,
    output: &std::path::Path,
) -> anyhow::Result<RandomWeights> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        crate::model::error::InputError::new(path, format!("cannot read network description: {e}"))
    })?;
    let mut net = Network::parse(&text, path)?;
    randomize(&mut net, seed);
    let bytes = crate::model::net::weights::serialize(&net);
    net.attach_weights(&bytes, output)
        .map_err(|e| anyhow::anyhow!("internal error: generated weights do not validate: {e}"))?;
    crate::model::fsutil::write_atomic(output, &bytes)?;
    Ok(RandomWeights {
        weights: output.display().to_string(),
        seed,
        sha256: crate::model::net::sha256_hex(&bytes),
        parameters: net.parameter_count(),
    })
}
