//! The golden model's fast engine: the integer semantics of
//! docs/arithmetic.md, bit for bit, at the speed of a floating-point GEMM.
//!
//! Convolution and linear layers accumulate in `f32` (or `f64`) through
//! im2col and `matrixmultiply`'s GEMM, on batches of images held
//! channel-major; every other layer runs the reference loops of `mod.rs`.
//! Tensors between layers are integer-valued `f32` (activations have at
//! most 8 bits, so the values are exact).
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
//! `A <= 54`, and the reference loops any wider layer. Bias, requantisation
//! (R4) and clamp (R5) then run in `f64` where every step of them is exact
//! (see `requantize_int`), in `i64` otherwise. The property test and
//! `tests/all/golden_fast.rs` compare this engine with the reference loops.

use matrixmultiply::{dgemm, sgemm};

use rayon::prelude::*;

use super::{eval_layer_planes, Domain, Float, Int};
use crate::model::net::{ConvOp, Layer, Network, Op, Shape};
use crate::model::quant::{self, Kind};

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
    /// An integer-valued float to its integer.
    fn to_i64(self) -> i64;
    fn to_f64(self) -> f64;
    fn abs(self) -> Self;
    /// `c[m x n] = a[m x k] * b[k x n]`, all three row-major and contiguous.
    fn gemm(m: usize, k: usize, n: usize, a: &[Self], b: &[Self], c: &mut [Self]);
}

macro_rules! real {
    ($t:ty, $bits:expr, $gemm:ident) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const EXACT_ACC_BITS: u32 = $bits;
            fn to_i64(self) -> i64 {
                self as i64
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
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
struct ConvPlan<'a> {
    op: &'a ConvOp,
    in_shape: Shape,
    oh: usize,
    ow: usize,
    cin_g: usize,
    cout_g: usize,
    /// `[out_ch][cin_g * kh * kw]`; shift codes decoded to `±2^e` (rule W2).
    w64: Vec<f64>,
    /// The same in `f32` when the layer's accumulator allows it (exactly).
    w32: Option<Vec<f32>>,
}

impl<'a> ConvPlan<'a> {
    fn new(op: &'a ConvOp, in_shape: Shape, out_shape: Shape) -> ConvPlan<'a> {
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
            op,
            in_shape,
            oh: out_shape.h,
            ow: out_shape.w,
            cin_g: op.in_ch / op.groups,
            cout_g: op.out_ch / op.groups,
            w64,
            w32,
        }
    }

    /// A 1x1 kernel that reads every input pixel once: the input is its own im2col.
    fn plain_pointwise(&self) -> bool {
        self.op.kh == 1
            && self.op.kw == 1
            && self.op.stride == 1
            && self.op.padding == 0
            && (self.oh, self.ow) == (self.in_shape.h, self.in_shape.w)
    }

    /// im2col of group `g` of a batch (tensors `[C][batch][H][W]`):
    /// `col[(ci*kh + ky)*kw + kx][b][oy*ow + ox]`, zeros in the padding.
    fn im2col<R: Real>(&self, x: &[R], batch: usize, g: usize, col: &mut [R]) {
        let (h, w, st) = (self.in_shape.h, self.in_shape.w, self.op.stride);
        let n = self.oh * self.ow;
        for kx in 0..self.op.kw {
            // ix = ox * stride + kx - padding lies in 0..w exactly for ox in
            // lo..hi, the same for every row: found once per kernel column.
            let lo = self.op.padding.saturating_sub(kx).div_ceil(st).min(self.ow);
            let hi = (w + self.op.padding)
                .saturating_sub(kx)
                .div_ceil(st)
                .clamp(lo, self.ow);
            let first = (lo * st + kx).saturating_sub(self.op.padding);
            for ci in 0..self.cin_g {
                let xc = &x[(g * self.cin_g + ci) * batch * h * w..][..batch * h * w];
                for ky in 0..self.op.kh {
                    let k = (ci * self.op.kh + ky) * self.op.kw + kx;
                    let row = &mut col[k * batch * n..][..batch * n];
                    for (xb, rb) in xc.chunks_exact(h * w).zip(row.chunks_exact_mut(n)) {
                        for (oy, out) in rb.chunks_exact_mut(self.ow).enumerate() {
                            let iy = (oy * st + ky).wrapping_sub(self.op.padding);
                            if iy >= h || lo == hi {
                                out.fill(R::ZERO);
                                continue;
                            }
                            let xr = &xb[iy * w + first..(iy + 1) * w];
                            out[..lo].fill(R::ZERO);
                            out[hi..].fill(R::ZERO);
                            if st == 1 {
                                out[lo..hi].copy_from_slice(&xr[..hi - lo]);
                            } else {
                                for (o, &v) in out[lo..hi].iter_mut().zip(xr.iter().step_by(st)) {
                                    *o = v;
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Accumulators without bias of a batch, `[out_ch][batch][oh * ow]`,
    /// with `weights` (`w32` or `w64`) in `R`.
    /// `col` is scratch space for im2col, kept between layers (it grows to
    /// the largest layer's and is overwritten, never cleared).
    fn accumulate<R: Real>(
        &self,
        x: &[R],
        batch: usize,
        weights: &[R],
        col: &mut Vec<R>,
    ) -> Vec<R> {
        let n = batch * self.oh * self.ow;
        let k = self.cin_g * self.op.kh * self.op.kw;
        let mut acc = vec![R::ZERO; self.op.groups * self.cout_g * n];
        let plain = self.plain_pointwise();
        if !plain && col.len() < k * n {
            col.resize(k * n, R::ZERO);
        }
        for g in 0..self.op.groups {
            let b: &[R] = if plain {
                &x[g * k * n..][..k * n]
            } else {
                self.im2col(x, batch, g, &mut col[..k * n]);
                &col[..k * n]
            };
            let w = &weights[g * self.cout_g * k..][..self.cout_g * k];
            let out = &mut acc[g * self.cout_g * n..][..self.cout_g * n];
            match self.op.kind {
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

    /// The layer's integer output (bias, R4, R5) for a batch of inputs held
    /// as integer-valued `f32` (activations have at most 8 bits), accumulated
    /// exactly (module header); `None` where the accumulator is wider than
    /// `f64` holds.
    fn output(
        &self,
        layer: &Layer,
        x: &[f32],
        batch: usize,
        scratch: &mut Scratch,
    ) -> Option<Vec<f32>> {
        let (op, n) = (self.op, batch * self.oh * self.ow);
        if let Some(w32) = &self.w32 {
            let acc = self.accumulate(x, batch, w32, &mut scratch.col32);
            Some(requantize_int(op, layer, n, &acc))
        } else if op.acc_bits <= f64::EXACT_ACC_BITS {
            let xr: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            let acc = self.accumulate(&xr, batch, &self.w64, &mut scratch.col64);
            Some(requantize_int(op, layer, n, &acc))
        } else {
            None
        }
    }
}

/// im2col space of one batch's run, reused from layer to layer.
#[derive(Default)]
struct Scratch {
    col32: Vec<f32>,
    col64: Vec<f64>,
}

/// Bias, requantisation (R4) and clamp (R5) of integer-valued accumulators
/// `[out_ch][n]`, as the reference loops do them, to `f32` (exact: the
/// clamp lies in an activation's range of at most 8 bits).
fn requantize_int<R: Real>(op: &ConvOp, layer: &Layer, n: usize, acc: &[R]) -> Vec<f32> {
    let (lo, hi) = layer.clamp;
    let mut out = Vec::with_capacity(acc.len());
    // In f64 when every step is exact: |(acc + bias) * M| < 2^(A-1+bits(M)-1)
    // and the rounding term 2^(S-1) both below 2^52, so their sum, its
    // scaling by 2^-S and the floor are exact; otherwise in i64.
    let m_bits = op
        .multiplier
        .iter()
        .map(|&m| quant::signed_bits_for(m.unsigned_abs() as u64))
        .max()
        .unwrap_or(1);
    let exact_f64 = op.acc_bits + m_bits <= 53 && op.shift.iter().all(|&s| s <= 52);
    for (m, row) in acc.chunks_exact(n).enumerate() {
        let (bias, mult, shift) = (op.bias[m] as i64, op.multiplier[m], op.shift[m]);
        if exact_f64 {
            let r = Rescale {
                bias: bias as f64,
                mult: mult as f64,
                half: if shift == 0 {
                    0.0
                } else {
                    2f64.powi(shift as i32 - 1)
                },
                scale: 2f64.powi(-(shift as i32)),
                lo: lo as f64,
                hi: hi as f64,
            };
            r.apply(row, &mut out);
        } else {
            out.extend(
                row.iter()
                    .map(|&a| quant::requantize(a.to_i64() + bias, mult, shift, lo, hi) as f32),
            );
        }
    }
    out
}

/// R4 and R5 of one output channel in f64 (exact where `requantize_int`
/// chooses it): `clamp(floor(((a + bias) * M + 2^(S-1)) * 2^-S), lo, hi)`.
struct Rescale {
    bias: f64,
    mult: f64,
    half: f64,
    scale: f64,
    lo: f64,
    hi: f64,
}

impl Rescale {
    /// Appends the rescaled `row` to `out`.
    fn apply<R: Real>(&self, row: &[R], out: &mut Vec<f32>) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { self.apply_avx2(row, out) };
        }
        self.apply_portable(row, out)
    }

    /// The same loop compiled for AVX2, where it vectorises (floor included).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn apply_avx2<R: Real>(&self, row: &[R], out: &mut Vec<f32>) {
        self.apply_portable(row, out)
    }

    #[inline(always)]
    fn apply_portable<R: Real>(&self, row: &[R], out: &mut Vec<f32>) {
        out.extend(row.iter().map(|&a| {
            let v = ((a.to_f64() + self.bias) * self.mult + self.half) * self.scale;
            v.floor().max(self.lo).min(self.hi) as f32
        }));
    }
}

/// Images per batch in [`Engine::infer_batch`]: enough to give the GEMMs of
/// the late, small feature maps a useful width, few enough to stay in cache.
const BATCH: usize = 32;

/// A network prepared for fast inference: weights converted once, then
/// any number of images.
pub struct Engine<'a> {
    net: &'a Network,
    /// A plan for every conv and linear layer; `None` for other layers,
    /// which run the reference loops.
    plans: Vec<Option<ConvPlan<'a>>>,
    /// Whether every convolution has an exact float plan, so that images
    /// can run in batches (the reference convolution runs one at a time).
    batchable: bool,
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
        let batchable = net.layers.iter().all(|l| match &l.op {
            Op::Conv(op) => op.acc_bits <= f64::EXACT_ACC_BITS,
            _ => true,
        });
        Engine {
            net,
            plans,
            batchable,
        }
    }

    /// Every tensor of a batch of `batch` images held channel-major
    /// (`[C][batch][H][W]`; for one image, CHW), as integer-valued `f32`.
    fn run_planes(&self, input: Vec<f32>, batch: usize) -> Vec<Vec<f32>> {
        let mut tensors: Vec<Vec<f32>> = Vec::with_capacity(self.net.layers.len() + 1);
        tensors.push(input);
        let mut scratch = Scratch::default();
        for (layer, plan) in self.net.layers.iter().zip(&self.plans) {
            let fast = plan
                .as_ref()
                .and_then(|p| p.output(layer, &tensors[layer.inputs[0]], batch, &mut scratch));
            let out = fast.unwrap_or_else(|| {
                // The reference loops on integer copies of the inputs.
                let mut ints = vec![Vec::new(); tensors.len()];
                for &t in &layer.inputs {
                    ints[t] = tensors[t].iter().map(|&v| v as i64).collect();
                }
                eval_layer_planes::<Int>(self.net, layer, &ints, batch)
                    .into_iter()
                    .map(|v| v as f32)
                    .collect()
            });
            tensors.push(out);
        }
        tensors
    }

    /// Integer inference of one image: every tensor by id (0 = input),
    /// equal to [`super::run`]`::<Int>`.
    pub fn run(&self, input: Vec<i64>) -> Vec<Vec<i64>> {
        assert_eq!(input.len(), self.net.input.tensor.shape.len());
        let x = input.iter().map(|&v| v as f32).collect();
        self.run_planes(x, 1)
            .into_iter()
            .map(|t| t.into_iter().map(|v| v as i64).collect())
            .collect()
    }

    /// The output tensor of one image.
    pub fn infer(&self, input: &[i64]) -> Vec<i64> {
        self.infer_chunk(std::slice::from_ref(&input.to_vec()))
            .swap_remove(0)
    }

    /// The output tensors of many images, in order; batches of [`BATCH`]
    /// images run in parallel with rayon, so the result does not depend on
    /// the thread count.
    pub fn infer_batch(&self, inputs: &[Vec<i64>]) -> Vec<Vec<i64>> {
        let batch = if self.batchable { BATCH } else { 1 };
        inputs
            .par_chunks(batch)
            .flat_map_iter(|chunk| self.infer_chunk(chunk))
            .collect()
    }

    /// One batch: interleave the inputs channel-major, run, split the output.
    fn infer_chunk(&self, chunk: &[Vec<i64>]) -> Vec<Vec<i64>> {
        let batch = chunk.len();
        let s = self.net.input.tensor.shape;
        let plane = s.h * s.w;
        let mut x = Vec::with_capacity(batch * s.len());
        for c in 0..s.c {
            for img in chunk {
                assert_eq!(img.len(), s.len());
                x.extend(img[c * plane..][..plane].iter().map(|&v| v as f32));
            }
        }
        let out = self.run_planes(x, batch).swap_remove(self.net.output);
        let o = self.net.tensor(self.net.output).shape;
        let plane = o.h * o.w;
        (0..batch)
            .map(|b| {
                (0..o.c)
                    .flat_map(|c| &out[(c * batch + b) * plane..][..plane])
                    .map(|&v| v as i64)
                    .collect()
            })
            .collect()
    }

    /// The float reference (the [`Float`] domain) of one image: every tensor,
    /// with convolutions accumulated by `f64` GEMMs.
    pub fn run_float(&self, input: Vec<f64>) -> Vec<Vec<f64>> {
        assert_eq!(input.len(), self.net.input.tensor.shape.len());
        let mut tensors = Vec::with_capacity(self.net.layers.len() + 1);
        tensors.push(input);
        let mut col = Vec::new();
        for (layer, plan) in self.net.layers.iter().zip(&self.plans) {
            let out = match plan {
                Some(plan) => {
                    let acc = plan.accumulate(&tensors[layer.inputs[0]], 1, &plan.w64, &mut col);
                    requantize_float(plan.op, layer, acc)
                }
                None => eval_layer_planes::<Float>(self.net, layer, &tensors, 1),
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

/// Bias, exact rescaling and clamp of a layer's accumulators for the float
/// reference (docs/arithmetic.md, section 8).
fn requantize_float(op: &ConvOp, layer: &Layer, mut acc: Vec<f64>) -> Vec<f64> {
    let n = layer.out.shape.h * layer.out.shape.w;
    for (m, row) in acc.chunks_exact_mut(n).enumerate() {
        let bias = op.bias[m] as f64;
        let (mult, shift) = (op.multiplier[m] as i64, op.shift[m]);
        for a in row {
            *a = Float::clamp(Float::rshift(Float::mul_int(*a + bias, mult), shift), layer);
        }
    }
    acc
}
