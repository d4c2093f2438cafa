//! The golden model's fast engine: the integer semantics of
//! docs/arithmetic.md, bit for bit, at the speed of a floating-point GEMM.
//!
//! Convolution and linear layers accumulate in `f32` (or `f64`) through
//! im2col and `matrixmultiply`'s GEMM; every other layer, and the
//! requantisation of every accumulator, runs the integer code of the
//! reference model in `mod.rs`.
//!
//! **Why floating point is exact here.** Rule R1 gives each layer an
//! accumulator of `A` bits such that `F * T + max |bias| < 2^(A-1)`, where
//! `F` is the fan-in and `T` the largest term magnitude. Every product
//! `x * w`, every adder term `|x - w|` and every partial sum of any subset of
//! a layer's terms, in any order, is therefore an integer of magnitude below
//! `2^(A-1)`. An IEEE binary format with a `p`-bit significand holds every
//! integer of magnitude up to `2^p` exactly, so when `A - 1 <= p` each
//! operation of the GEMM (multiply, add or fused multiply-add) has an exact
//! result and rounds to itself: the float sum equals the integer sum. `f32`
//! (`p = 24`) serves layers with `A <= 25`, `f64` (`p = 53`) those with
//! `A <= 54`, and the reference loops any wider layer. Biases are added
//! after conversion back to integers. The property test and
//! `tests/golden_fast.rs` compare this engine with the reference loops.

use matrixmultiply::{dgemm, sgemm};

use super::{eval_layer, Domain, Float, Int};
use crate::net::{ConvOp, Layer, Network, Op, Shape};
use crate::quant::{self, Kind};

/// A floating-point type the engine accumulates in.
trait Real:
    Copy
    + Send
    + Sync
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
{
    const ZERO: Self;
    /// Widest accumulator (rule R1) whose partial sums this type holds exactly.
    const EXACT_ACC_BITS: u32;
    fn abs(self) -> Self;
    /// `c[m x n] = a[m x k] * b[k x n]`, all three row-major and contiguous.
    fn gemm(m: usize, k: usize, n: usize, a: &[Self], b: &[Self], c: &mut [Self]);
}

macro_rules! real {
    ($t:ty, $bits:expr, $gemm:ident) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const EXACT_ACC_BITS: u32 = $bits;
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            fn gemm(m: usize, k: usize, n: usize, a: &[Self], b: &[Self], c: &mut [Self]) {
                assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
                if m == 0 || n == 0 {
                    return;
                }
                // SAFETY: the assert keeps every element the GEMM reads or
                // writes inside the three slices (row-major, unit column
                // stride); `c` is borrowed mutably, so it aliases neither input.
                unsafe {
                    $gemm(
                        m,
                        k,
                        n,
                        1.0,
                        a.as_ptr(),
                        k as isize,
                        1,
                        b.as_ptr(),
                        n as isize,
                        1,
                        0.0,
                        c.as_mut_ptr(),
                        n as isize,
                        1,
                    );
                }
            }
        }
    };
}
// A <= p + 1 for a p-bit significand (module header).
real!(f32, 25, sgemm);
real!(f64, 54, dgemm);

/// Output channels per group from which the GEMM beats row-wise loops.
const GEMM_MIN_ROWS: usize = 4;

/// One convolution or linear layer, weights converted once.
struct ConvPlan {
    kind: Kind,
    in_shape: Shape,
    oh: usize,
    ow: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    padding: usize,
    groups: usize,
    cin_g: usize,
    cout_g: usize,
    /// `[out_ch][cin_g * kh * kw]`; shift codes decoded to `±2^e` (rule W2).
    w64: Vec<f64>,
    /// The same in `f32` when the layer's accumulator allows it (exactly).
    w32: Option<Vec<f32>>,
}

impl ConvPlan {
    fn new(op: &ConvOp, in_shape: Shape, out_shape: Shape) -> ConvPlan {
        let w64: Vec<f64> = op
            .weights
            .iter()
            .map(|&w| match op.kind {
                Kind::Shift => quant::shift_value(w as i64) as f64,
                Kind::Conv | Kind::Adder => w as f64,
            })
            .collect();
        let w32 =
            (op.acc_bits <= f32::EXACT_ACC_BITS).then(|| w64.iter().map(|&w| w as f32).collect());
        ConvPlan {
            kind: op.kind,
            in_shape,
            oh: out_shape.h,
            ow: out_shape.w,
            kh: op.kh,
            kw: op.kw,
            stride: op.stride,
            padding: op.padding,
            groups: op.groups,
            cin_g: op.in_ch / op.groups,
            cout_g: op.out_ch / op.groups,
            w64,
            w32,
        }
    }

    /// A 1x1 kernel that reads every input pixel once: the input is its own im2col.
    fn plain_pointwise(&self) -> bool {
        self.kh == 1
            && self.kw == 1
            && self.stride == 1
            && self.padding == 0
            && (self.oh, self.ow) == (self.in_shape.h, self.in_shape.w)
    }

    /// im2col of group `g`: `col[(ci*kh + ky)*kw + kx][oy*ow + ox]`, zeros in the padding.
    fn im2col<R: Real>(&self, x: &[R], g: usize, col: &mut [R]) {
        let (h, w) = (self.in_shape.h, self.in_shape.w);
        let n = self.oh * self.ow;
        for ci in 0..self.cin_g {
            let xc = &x[(g * self.cin_g + ci) * h * w..][..h * w];
            for ky in 0..self.kh {
                for kx in 0..self.kw {
                    let row = &mut col[((ci * self.kh + ky) * self.kw + kx) * n..][..n];
                    for oy in 0..self.oh {
                        let out = &mut row[oy * self.ow..][..self.ow];
                        let iy = (oy * self.stride + ky).wrapping_sub(self.padding);
                        if iy >= h {
                            out.fill(R::ZERO);
                            continue;
                        }
                        let xr = &xc[iy * w..][..w];
                        for (ox, o) in out.iter_mut().enumerate() {
                            let ix = (ox * self.stride + kx).wrapping_sub(self.padding);
                            *o = if ix < w { xr[ix] } else { R::ZERO };
                        }
                    }
                }
            }
        }
    }

    /// Accumulators without bias, `[out_ch][oh * ow]`, with `weights` (`w32`
    /// or `w64`) in `R`.
    fn accumulate<R: Real>(&self, x: &[R], weights: &[R]) -> Vec<R> {
        let n = self.oh * self.ow;
        let k = self.cin_g * self.kh * self.kw;
        let mut acc = vec![R::ZERO; self.groups * self.cout_g * n];
        let mut col = if self.plain_pointwise() {
            Vec::new()
        } else {
            vec![R::ZERO; k * n]
        };
        for g in 0..self.groups {
            let b: &[R] = if col.is_empty() {
                &x[g * k * n..][..k * n]
            } else {
                self.im2col(x, g, &mut col);
                &col
            };
            let w = &weights[g * self.cout_g * k..][..self.cout_g * k];
            let out = &mut acc[g * self.cout_g * n..][..self.cout_g * n];
            match self.kind {
                Kind::Conv | Kind::Shift if self.cout_g >= GEMM_MIN_ROWS => {
                    R::gemm(self.cout_g, k, n, w, b, out)
                }
                Kind::Conv | Kind::Shift => {
                    for (wm, om) in w.chunks_exact(k).zip(out.chunks_exact_mut(n)) {
                        for (&wk, row) in wm.iter().zip(b.chunks_exact(n)) {
                            for (o, &xv) in om.iter_mut().zip(row) {
                                *o = *o + xv * wk;
                            }
                        }
                    }
                }
                Kind::Adder => {
                    for (wm, om) in w.chunks_exact(k).zip(out.chunks_exact_mut(n)) {
                        for (&wk, row) in wm.iter().zip(b.chunks_exact(n)) {
                            for (o, &xv) in om.iter_mut().zip(row) {
                                *o = *o - (xv - wk).abs();
                            }
                        }
                    }
                }
            }
        }
        acc
    }

    /// Integer accumulators without bias, exactly (module header), or
    /// `None` where the layer's accumulator is wider than `f64` holds.
    fn accumulate_int(&self, acc_bits: u32, x: &[i64]) -> Option<Vec<i64>> {
        if let Some(w32) = &self.w32 {
            let xr: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            Some(
                self.accumulate(&xr, w32)
                    .into_iter()
                    .map(|a| a as i64)
                    .collect(),
            )
        } else if acc_bits <= f64::EXACT_ACC_BITS {
            let xr: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            Some(
                self.accumulate(&xr, &self.w64)
                    .into_iter()
                    .map(|a| a as i64)
                    .collect(),
            )
        } else {
            None
        }
    }
}

/// A network prepared for fast inference: weights converted once, then
/// any number of images.
pub struct Engine<'a> {
    net: &'a Network,
    /// A plan for every conv and linear layer; `None` for other layers,
    /// which run the reference loops.
    plans: Vec<Option<ConvPlan>>,
}

impl<'a> Engine<'a> {
    pub fn new(net: &'a Network) -> Engine<'a> {
        let plans = net
            .layers
            .iter()
            .map(|layer| match &layer.op {
                Op::Conv(op) => Some(ConvPlan::new(
                    op,
                    net.tensor(layer.inputs[0]).shape,
                    layer.out.shape,
                )),
                _ => None,
            })
            .collect();
        Engine { net, plans }
    }

    /// Integer inference of one image: every tensor by id (0 = input),
    /// equal to [`super::run`]`::<Int>`.
    pub fn run(&self, input: Vec<i64>) -> Vec<Vec<i64>> {
        assert_eq!(input.len(), self.net.input.tensor.shape.len());
        let mut tensors = Vec::with_capacity(self.net.layers.len() + 1);
        tensors.push(input);
        for (layer, plan) in self.net.layers.iter().zip(&self.plans) {
            let out = match (plan, &layer.op) {
                (Some(plan), Op::Conv(op)) => {
                    match plan.accumulate_int(op.acc_bits, &tensors[layer.inputs[0]]) {
                        Some(acc) => requantize::<Int>(op, layer, plan, acc),
                        None => eval_layer::<Int>(self.net, layer, &tensors),
                    }
                }
                _ => eval_layer::<Int>(self.net, layer, &tensors),
            };
            tensors.push(out);
        }
        tensors
    }

    /// The output tensor of one image.
    pub fn infer(&self, input: &[i64]) -> Vec<i64> {
        self.run(input.to_vec()).swap_remove(self.net.output)
    }

    /// The float reference (the [`Float`] domain) of one image: every tensor,
    /// with convolutions accumulated by `f64` GEMMs.
    pub fn run_float(&self, input: Vec<f64>) -> Vec<Vec<f64>> {
        assert_eq!(input.len(), self.net.input.tensor.shape.len());
        let mut tensors = Vec::with_capacity(self.net.layers.len() + 1);
        tensors.push(input);
        for (layer, plan) in self.net.layers.iter().zip(&self.plans) {
            let out = match (plan, &layer.op) {
                (Some(plan), Op::Conv(op)) => {
                    let acc = plan.accumulate(&tensors[layer.inputs[0]], &plan.w64);
                    requantize::<Float>(op, layer, plan, acc)
                }
                _ => eval_layer::<Float>(self.net, layer, &tensors),
            };
            tensors.push(out);
        }
        tensors
    }

    /// The float reference's output tensor of one image.
    pub fn infer_float(&self, input: &[f64]) -> Vec<f64> {
        self.run_float(input.to_vec()).swap_remove(self.net.output)
    }
}

/// Bias, requantisation (R4) and clamp (R5) of a layer's accumulators, as
/// the reference loops do them.
fn requantize<D: Domain>(op: &ConvOp, layer: &Layer, plan: &ConvPlan, acc: Vec<D::V>) -> Vec<D::V> {
    let n = plan.oh * plan.ow;
    acc.chunks_exact(n)
        .enumerate()
        .flat_map(|(m, row)| {
            let bias = D::from_int(op.bias[m] as i64);
            let (mult, shift) = (op.multiplier[m] as i64, op.shift[m]);
            row.iter().map(move |&a| {
                let v = D::rshift(D::mul_int(D::add(a, bias), mult), shift);
                D::clamp(v, layer)
            })
        })
        .collect()
}
