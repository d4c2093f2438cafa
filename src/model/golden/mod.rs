//! The golden model: bit-exact integer inference of a [`Network`], the
//! reference every generated circuit is checked against, plus a float
//! reference that runs the same network without rounding so quantisation
//! error can be reported.
//!
//! Two implementations of the same integer semantics live here:
//! - the reference loops of this file, one term at a time and generic over a
//!   [`Domain`] (`Int`, the bit-exact model, and `Float`, the float
//!   reference): the direct transcription of docs/arithmetic.md;
//! - [`Engine`] (`fast.rs`), which accumulates convolutions through exact
//!   floating-point GEMMs and is what [`infer`], [`infer_batch`] and every
//!   caller that evaluates many images use. Tests hold it equal to the
//!   reference loops.
//!
//! Batches run in parallel with rayon and are returned in input order, so
//! results do not depend on the thread count.

use crate::model::net::{ConvOp, Layer, Network, Op, PoolGeom, Shape};
use crate::model::quant::{self, Kind};

mod fast;
pub use fast::Engine;

/// The number system a network is evaluated in.
pub trait Domain {
    type V: Copy + Send + Sync + PartialOrd + std::fmt::Debug;
    fn from_int(v: i64) -> Self::V;
    /// One accumulation term (rules K1-K3); `w` is the stored weight or shift code.
    fn term(kind: Kind, x: Self::V, w: i64) -> Self::V;
    fn add(a: Self::V, b: Self::V) -> Self::V;
    fn mul_int(a: Self::V, m: i64) -> Self::V;
    /// `v / 2^s` rounded (integers) or exact (floats).
    fn rshift(v: Self::V, s: u32) -> Self::V;
    /// Saturation and activation of a layer's output.
    fn clamp(v: Self::V, layer: &Layer) -> Self::V;
}

/// Exact integer semantics of docs/arithmetic.md.
pub struct Int;

impl Domain for Int {
    type V = i64;
    fn from_int(v: i64) -> i64 {
        v
    }
    fn term(kind: Kind, x: i64, w: i64) -> i64 {
        quant::term(kind, x, w)
    }
    fn add(a: i64, b: i64) -> i64 {
        a + b
    }
    fn mul_int(a: i64, m: i64) -> i64 {
        a * m
    }
    fn rshift(v: i64, s: u32) -> i64 {
        quant::rshift_round(v, s)
    }
    fn clamp(v: i64, layer: &Layer) -> i64 {
        v.clamp(layer.clamp.0, layer.clamp.1)
    }
}

/// Float reference: the same network in f64 with exact rescaling and no
/// rounding, but with every layer's clamp (R5: activation and saturation to
/// the output range), as in the quantisation-aware training that produced
/// the weights (docs/arithmetic.md, section 8).
pub struct Float;

impl Domain for Float {
    type V = f64;
    fn from_int(v: i64) -> f64 {
        v as f64
    }
    fn term(kind: Kind, x: f64, w: i64) -> f64 {
        match kind {
            Kind::Conv => x * w as f64,
            Kind::Shift => x * quant::shift_value(w) as f64,
            Kind::Adder => -(x - w as f64).abs(),
        }
    }
    fn add(a: f64, b: f64) -> f64 {
        a + b
    }
    fn mul_int(a: f64, m: i64) -> f64 {
        a * m as f64
    }
    fn rshift(v: f64, s: u32) -> f64 {
        v / 2f64.powi(s as i32)
    }
    fn clamp(v: f64, layer: &Layer) -> f64 {
        v.clamp(layer.clamp.0 as f64, layer.clamp.1 as f64)
    }
}

/// Raw accumulators (bias included) of a conv or linear layer, CHW order.
pub fn accumulate<D: Domain>(
    op: &ConvOp,
    in_shape: Shape,
    x: &[D::V],
    out_shape: Shape,
) -> Vec<D::V> {
    let mut out = Vec::with_capacity(out_shape.len());
    let cin_g = op.in_ch / op.groups;
    let cout_g = op.out_ch / op.groups;
    let zero = D::from_int(0);
    for m in 0..op.out_ch {
        let g = m / cout_g;
        let wbase = m * cin_g * op.kh * op.kw;
        for oy in 0..out_shape.h {
            for ox in 0..out_shape.w {
                let mut acc = D::from_int(op.bias[m] as i64);
                for ci in 0..cin_g {
                    let c = g * cin_g + ci;
                    for ky in 0..op.kh {
                        let iy = (oy * op.stride + ky) as isize - op.padding as isize;
                        for kx in 0..op.kw {
                            let ix = (ox * op.stride + kx) as isize - op.padding as isize;
                            let inside = iy >= 0
                                && ix >= 0
                                && (iy as usize) < in_shape.h
                                && (ix as usize) < in_shape.w;
                            // Padded positions hold x = 0 (rule C2): they add
                            // nothing to conv and shift, and -|w| to adder.
                            let xv = if inside {
                                x[(c * in_shape.h + iy as usize) * in_shape.w + ix as usize]
                            } else {
                                zero
                            };
                            let w = op.weights[wbase + (ci * op.kh + ky) * op.kw + kx] as i64;
                            acc = D::add(acc, D::term(op.kind, xv, w));
                        }
                    }
                }
                out.push(acc);
            }
        }
    }
    out
}

fn pool<D: Domain>(g: &PoolGeom, s: Shape, x: &[D::V], o: Shape, max: bool) -> Vec<D::V> {
    let mut out = Vec::with_capacity(o.len());
    for c in 0..s.c {
        for oy in 0..o.h {
            for ox in 0..o.w {
                let mut acc: Option<D::V> = None;
                for ky in 0..g.kernel {
                    let iy = (oy * g.stride + ky) as isize - g.padding as isize;
                    for kx in 0..g.kernel {
                        let ix = (ox * g.stride + kx) as isize - g.padding as isize;
                        if iy < 0 || ix < 0 || iy as usize >= s.h || ix as usize >= s.w {
                            continue; // max: ignored; average: a zero (rule P1, P2)
                        }
                        let v = x[(c * s.h + iy as usize) * s.w + ix as usize];
                        acc = Some(match acc {
                            None => v,
                            Some(a) if max => {
                                if v > a {
                                    v
                                } else {
                                    a
                                }
                            }
                            Some(a) => D::add(a, v),
                        });
                    }
                }
                out.push(acc.unwrap_or(D::from_int(0)));
            }
        }
    }
    out
}

/// Evaluates one layer given all tensors computed so far (indexed by tensor id).
pub fn eval_layer<D: Domain>(net: &Network, layer: &Layer, tensors: &[Vec<D::V>]) -> Vec<D::V> {
    eval_layer_planes::<D>(net, layer, tensors, 1)
}

/// [`eval_layer`] on tensors holding `batch` images channel-major
/// (`[C][batch][H][W]`, that is `C * batch` planes of `H x W`), for every
/// layer except convolutions, which need `batch == 1`: pooling works plane
/// by plane and the other layers value by value, so the batch changes only
/// the number of planes.
pub(crate) fn eval_layer_planes<D: Domain>(
    net: &Network,
    layer: &Layer,
    tensors: &[Vec<D::V>],
    batch: usize,
) -> Vec<D::V> {
    let x = &tensors[layer.inputs[0]];
    let planes = |s: Shape| Shape {
        c: s.c * batch,
        ..s
    };
    let in_shape = planes(net.tensor(layer.inputs[0]).shape);
    let o = planes(layer.out.shape);
    match &layer.op {
        Op::Conv(op) => {
            assert_eq!(
                batch, 1,
                "the reference convolution runs one image at a time"
            );
            let acc = accumulate::<D>(op, in_shape, x, o);
            let per = o.h * o.w;
            acc.into_iter()
                .enumerate()
                .map(|(i, a)| {
                    let m = i / per;
                    let v = D::rshift(D::mul_int(a, op.multiplier[m] as i64), op.shift[m]);
                    D::clamp(v, layer)
                })
                .collect()
        }
        Op::Add { multipliers, shift } => {
            let y = &tensors[layer.inputs[1]];
            x.iter()
                .zip(y)
                .map(|(&a, &b)| {
                    let s = D::add(
                        D::mul_int(a, multipliers[0] as i64),
                        D::mul_int(b, multipliers[1] as i64),
                    );
                    D::clamp(D::rshift(s, *shift), layer)
                })
                .collect()
        }
        Op::MaxPool(g) => pool::<D>(g, in_shape, x, o, true)
            .into_iter()
            .map(|v| D::clamp(v, layer))
            .collect(),
        Op::AvgPool {
            geom,
            multiplier,
            shift,
        } => pool::<D>(geom, in_shape, x, o, false)
            .into_iter()
            .map(|v| D::clamp(D::rshift(D::mul_int(v, *multiplier as i64), *shift), layer))
            .collect(),
        Op::GlobalAvgPool { multiplier, shift } => {
            let per = in_shape.h * in_shape.w;
            x.chunks(per)
                .map(|ch| {
                    let sum = ch.iter().skip(1).fold(ch[0], |a, &v| D::add(a, v));
                    D::clamp(
                        D::rshift(D::mul_int(sum, *multiplier as i64), *shift),
                        layer,
                    )
                })
                .collect()
        }
        Op::Clamp => x.iter().map(|&v| D::clamp(v, layer)).collect(),
    }
}

/// Runs the whole network on one image; returns every tensor by id (0 = input).
pub fn run<D: Domain>(net: &Network, input: Vec<D::V>) -> Vec<Vec<D::V>> {
    debug_assert_eq!(input.len(), net.input.tensor.shape.len());
    let mut tensors = Vec::with_capacity(net.layers.len() + 1);
    tensors.push(input);
    for layer in &net.layers {
        let out = eval_layer::<D>(net, layer, &tensors);
        tensors.push(out);
    }
    tensors
}

/// Integer inference of one image: the output tensor (fast engine).
pub fn infer(net: &Network, input: &[i64]) -> Vec<i64> {
    Engine::new(net).infer(input)
}

/// Float-reference inference of one image.
pub fn infer_float(net: &Network, input: &[f64]) -> Vec<f64> {
    run::<Float>(net, input.to_vec()).swap_remove(net.output)
}

/// Integer inference of many images in parallel, in input order (fast engine).
pub fn infer_batch(net: &Network, inputs: &[Vec<i64>]) -> Vec<Vec<i64>> {
    Engine::new(net).infer_batch(inputs)
}

/// Index of the largest value; ties go to the lowest index.
pub fn argmax<T: PartialOrd + Copy>(v: &[T]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Quantises 8-bit pixels (CHW) to the network's integer input (rule I1).
pub fn quantize_image(net: &Network, pixels: &[u8]) -> Vec<i64> {
    pixels
        .iter()
        .map(|&p| net.input.quantize_pixel(p))
        .collect()
}

/// The float reference's input for the same pixels.
pub fn real_image(net: &Network, pixels: &[u8]) -> Vec<f64> {
    pixels.iter().map(|&p| net.input.pixel_real(p)).collect()
}
