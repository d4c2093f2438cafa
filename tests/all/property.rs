//! Property test: on random small networks with random weights and inputs,
//! the golden model equals a second, deliberately naive implementation
//! written here from docs/arithmetic.md alone (i128 arithmetic, Euclidean
//! division for rounding, default multipliers recomputed from the document).

use std::path::Path;

use nasa::model::golden::{run, Engine, Int};
use nasa::model::net::{Activation, Layer, Network, Op, Shape};
use nasa::model::randomize::randomize;
use nasa::model::rng::SplitMix64;
use proptest::prelude::*;

// ---- the independent reference -------------------------------------------

fn rshift_round(v: i128, s: u32) -> i128 {
    if s == 0 {
        v
    } else {
        (v + (1i128 << (s - 1))).div_euclid(1i128 << s)
    }
}

fn clamp_range(layer: &Layer) -> (i128, i128) {
    let b = layer.out.bits;
    let (lo, hi) = (-(1i128 << (b - 1)), (1i128 << (b - 1)) - 1);
    match layer.activation {
        Activation::None => (lo, hi),
        Activation::Relu => (0, hi),
        Activation::Relu6 => (0, hi.min((6.0 / layer.out.scale).round() as i128)),
    }
}

fn at(x: &[i128], s: Shape, c: usize, y: isize, xx: isize) -> Option<i128> {
    (y >= 0 && xx >= 0 && (y as usize) < s.h && (xx as usize) < s.w)
        .then(|| x[(c * s.h + y as usize) * s.w + xx as usize])
}

fn reference(net: &Network, input: &[i64]) -> Vec<Vec<i128>> {
    let mut t: Vec<Vec<i128>> = vec![input.iter().map(|&v| v as i128).collect()];
    for layer in &net.layers {
        let s = net.tensor(layer.inputs[0]).shape;
        let x = &t[layer.inputs[0]];
        let o = layer.out.shape;
        let (lo, hi) = clamp_range(layer);
        let mut y = Vec::new();
        match &layer.op {
            Op::Conv(c) => {
                let cin_g = c.in_ch / c.groups;
                for m in 0..c.out_ch {
                    let g = m / (c.out_ch / c.groups);
                    for oy in 0..o.h {
                        for ox in 0..o.w {
                            let mut acc = c.bias[m] as i128;
                            for ci in 0..cin_g {
                                for ky in 0..c.kh {
                                    for kx in 0..c.kw {
                                        let iy = (oy * c.stride + ky) as isize - c.padding as isize;
                                        let ix = (ox * c.stride + kx) as isize - c.padding as isize;
                                        let xv = at(x, s, g * cin_g + ci, iy, ix).unwrap_or(0);
                                        let w = c.weights
                                            [((m * cin_g + ci) * c.kh + ky) * c.kw + kx]
                                            as i128;
                                        acc += match c.kind {
                                            nasa::model::quant::Kind::Conv => xv * w,
                                            nasa::model::quant::Kind::Shift if w == 0 => 0,
                                            nasa::model::quant::Kind::Shift => {
                                                w.signum() * xv * (1i128 << (w.abs() - 1))
                                            }
                                            nasa::model::quant::Kind::Adder => -(xv - w).abs(),
                                        };
                                    }
                                }
                            }
                            y.push(
                                rshift_round(acc * c.multiplier[m] as i128, c.shift[m])
                                    .clamp(lo, hi),
                            );
                        }
                    }
                }
            }
            Op::Add { .. } => {
                let b = &t[layer.inputs[1]];
                let sa = net.tensor(layer.inputs[0]).scale;
                let sb = net.tensor(layer.inputs[1]).scale;
                let ma = (sa / layer.out.scale * 16384.0).round() as i128;
                let mb = (sb / layer.out.scale * 16384.0).round() as i128;
                y = x
                    .iter()
                    .zip(b)
                    .map(|(&a, &b)| rshift_round(a * ma + b * mb, 14).clamp(lo, hi))
                    .collect();
            }
            Op::MaxPool(g) | Op::AvgPool { geom: g, .. } => {
                let max = matches!(layer.op, Op::MaxPool(_));
                let n = (g.kernel * g.kernel) as i128;
                for c in 0..s.c {
                    for oy in 0..o.h {
                        for ox in 0..o.w {
                            let vals: Vec<i128> = (0..g.kernel * g.kernel)
                                .filter_map(|k| {
                                    let iy = (oy * g.stride + k / g.kernel) as isize
                                        - g.padding as isize;
                                    let ix = (ox * g.stride + k % g.kernel) as isize
                                        - g.padding as isize;
                                    at(x, s, c, iy, ix)
                                })
                                .collect();
                            y.push(if max {
                                *vals.iter().max().unwrap()
                            } else {
                                let m = (65536 + n / 2) / n;
                                rshift_round(vals.iter().sum::<i128>() * m, 16).clamp(lo, hi)
                            });
                        }
                    }
                }
            }
            Op::GlobalAvgPool { .. } => {
                let n = (s.h * s.w) as i128;
                let m = (65536 + n / 2) / n;
                for ch in x.chunks(s.h * s.w) {
                    y.push(rshift_round(ch.iter().sum::<i128>() * m, 16).clamp(lo, hi));
                }
            }
            Op::Clamp => y = x.iter().map(|&v| v.clamp(lo, hi)).collect(),
        }
        t.push(y);
    }
    t
}

// ---- random networks --------------------------------------------------------

/// Builds a valid description from raw random choices, tracking the shape.
pub(crate) fn description(c: u32, h: u32, w: u32, in_bits: u32, choices: &[[u8; 5]]) -> String {
    let mut s = format!("[network]\nname = \"p\"\n[input]\nchannels = {c}\nheight = {h}\nwidth = {w}\nbits = {in_bits}\nscale = 0.02\n");
    let (mut c, mut h, mut w, mut bits) = (c, h, w, in_bits);
    let kinds = ["conv", "shift", "adder"];
    let acts = ["none", "relu", "relu6"];
    for (i, ch) in choices.iter().enumerate() {
        let name = format!("l{i}");
        let kind = kinds[ch[1] as usize % 3];
        let wb = match kind {
            "shift" => format!("exp_bits = {}\n", 1 + ch[4] % 4),
            "conv" => format!("weight_bits = {}\n", 2 + ch[4] % 7),
            _ => String::new(),
        };
        let out_bits = 4 + ch[3] % 5;
        let scale = [0.02, 0.05, 0.1][ch[2] as usize % 3];
        match ch[0] % 8 {
            0 | 1 => {
                let k = [1u32, 3, 5][ch[2] as usize % 3].min(h.min(w) + 2 * (ch[3] as u32 % 2));
                let pad = (ch[3] as u32 % 2).min(k - 1);
                let k = k.min(h.min(w) + 2 * pad);
                let stride = 1 + ch[4] as u32 % 2;
                let depthwise = ch[0] % 8 == 1 && c > 1;
                let out = if depthwise { c } else { 1 + ch[2] as u32 % 5 };
                let groups = if depthwise { c } else { 1 };
                s += &format!("[[layer]]\nname = \"{name}\"\nop = \"conv2d\"\nkind = \"{kind}\"\nout_channels = {out}\nkernel = {k}\nstride = {stride}\npadding = {pad}\ngroups = {groups}\nactivation = \"{}\"\nout_bits = {out_bits}\nout_scale = {scale}\n{wb}", acts[ch[4] as usize % 3]);
                h = (h + 2 * pad - k) / stride + 1;
                w = (w + 2 * pad - k) / stride + 1;
                c = out;
                bits = out_bits as u32;
            }
            2 => {
                let k = (1 + ch[1] as u32 % 3).min(h.min(w));
                let pad = (ch[2] as u32 % 2).min(k - 1);
                let op = if ch[3] % 2 == 0 { "maxpool" } else { "avgpool" };
                s += &format!(
                    "[[layer]]\nname = \"{name}\"\nop = \"{op}\"\nkernel = {k}\npadding = {pad}\n"
                );
                h = (h + 2 * pad - k) / k + 1;
                w = (w + 2 * pad - k) / k + 1;
            }
            3 => {
                s += &format!("[[layer]]\nname = \"{name}\"\nop = \"global_avgpool\"\n");
                h = 1;
                w = 1;
            }
            4 => {
                s += &format!(
                    "[[layer]]\nname = \"{name}\"\nop = \"{}\"\n",
                    ["relu", "relu6"][ch[1] as usize % 2]
                )
            }
            5 => {
                // Residual add of the previous output with a 1x1 conv of it.
                let prev = if i == 0 {
                    "input".to_string()
                } else {
                    format!("l{}", i - 1)
                };
                s += &format!("[[layer]]\nname = \"{name}b\"\nop = \"conv2d\"\nkind = \"{kind}\"\nout_channels = {c}\nkernel = 1\nout_bits = {bits}\nout_scale = {scale}\n{wb}");
                s += &format!("[[layer]]\nname = \"{name}\"\nop = \"add\"\ninputs = [\"{prev}\", \"{name}b\"]\nactivation = \"{}\"\nout_bits = {out_bits}\nout_scale = 0.05\n", acts[ch[3] as usize % 3]);
                bits = out_bits as u32;
            }
            6 => {
                let k = [3u32, 5][ch[2] as usize % 2];
                s += &format!("[[layer]]\nname = \"{name}\"\nop = \"mbconv\"\nkind = \"{kind}\"\nout_channels = {}\nkernel = {k}\nexpand = {}\nout_bits = {bits}\nexpand_scale = 0.05\ndw_scale = 0.05\nout_scale = {scale}\n{}",
                    if ch[3] % 2 == 0 { c } else { 1 + ch[3] as u32 % 4 }, 1 + ch[4] % 3,
                    if kind == "conv" { format!("weight_bits = {}\n", 2 + ch[4] % 7) } else { wb.clone() });
                c = if ch[3] % 2 == 0 {
                    c
                } else {
                    1 + ch[3] as u32 % 4
                };
            }
            _ => {
                s += &format!("[[layer]]\nname = \"{name}\"\nop = \"linear\"\nkind = \"{kind}\"\nout_features = {}\nactivation = \"{}\"\nout_bits = {out_bits}\nout_scale = {scale}\n{wb}", 1 + ch[2] % 6, acts[ch[4] as usize % 3]);
                c = 1 + ch[2] as u32 % 6;
                h = 1;
                w = 1;
                bits = out_bits as u32;
            }
        }
    }
    let _ = bits;
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn golden_equals_naive_reference(
        c in 1u32..4, h in 1u32..8, w in 1u32..8, in_bits in 4u32..=8,
        choices in proptest::collection::vec(any::<[u8; 5]>(), 1..5),
        seed in any::<u64>(),
    ) {
        let text = description(c, h, w, in_bits, &choices);
        let mut net = Network::parse(&text, Path::new("p.toml"))
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        randomize(&mut net, seed);
        let bytes = nasa::model::net::weights::serialize(&net);
        net.attach_weights(&bytes, Path::new("p.safetensors"))
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        // Inputs over the whole signed range, the int8 minimum included.
        let mut rng = SplitMix64::new(seed ^ 0x5EED);
        let lo = -(1i64 << (in_bits - 1));
        let len = net.input.tensor.shape.len();
        let x: Vec<i64> = (0..len).map(|i| if i == 0 { lo } else { rng.range_i64(lo, -lo - 1) }).collect();
        let golden = run::<Int>(&net, x.clone());
        let naive = reference(&net, &x);
        // The fast engine (exact float GEMMs) equals the reference loops,
        // one image at a time and in a batch (channel-major across images).
        let engine = Engine::new(&net);
        let fast = engine.run(x.clone());
        prop_assert_eq!(&fast, &golden, "fast engine differs\n{}", text);
        let batch: Vec<Vec<i64>> = std::iter::once(x.clone())
            .chain((0..4).map(|_| (0..len).map(|_| rng.range_i64(lo, -lo - 1)).collect()))
            .collect();
        let batched = engine.infer_batch(&batch);
        for (i, xi) in batch.iter().enumerate() {
            let one = run::<Int>(&net, xi.clone()).swap_remove(net.output);
            prop_assert_eq!(&batched[i], &one, "batched engine differs on image {}\n{}", i, text);
        }
        for (id, (g, r)) in golden.iter().zip(&naive).enumerate() {
            let g128: Vec<i128> = g.iter().map(|&v| v as i128).collect();
            prop_assert_eq!(&g128, r, "tensor {} (`{}`) differs\n{}", id, net.tensor(id).name, text);
        }
    }
}
