//! Batched f32 kernels of the trainer: convolution of the three kinds (full,
//! pointwise, depthwise, linear), forward and backward.
//!
//! Layout is NCHW, one image after another. Multiply (and shift, whose
//! weights arrive already rounded to powers of two) convolutions are im2col
//! plus `matrixmultiply::sgemm`; adder convolutions have their own kernel,
//! because the broadcast `|x - w|` tensor would not fit in memory.
//!
//! Determinism: images are processed in parallel, but every sum runs in a
//! fixed order, and weight gradients are reduced over fixed chunks of
//! [`CHUNK`] images in chunk order, so results do not depend on the number
//! of threads.

use rayon::prelude::*;

use crate::model::quant::Kind;

/// Images per weight-gradient partial sum (fixed for determinism).
pub const CHUNK: usize = 8;

/// Shape of one convolution (a linear layer is a convolution whose kernel
/// covers its whole input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad: usize,
    /// `groups == c_in == c_out`; other grouped convolutions are not trained.
    pub depthwise: bool,
}

impl ConvGeom {
    pub fn oh(&self) -> usize {
        (self.h + 2 * self.pad - self.kh) / self.stride + 1
    }
    pub fn ow(&self) -> usize {
        (self.w + 2 * self.pad - self.kw) / self.stride + 1
    }
    pub fn in_len(&self) -> usize {
        self.c_in * self.h * self.w
    }
    pub fn out_len(&self) -> usize {
        self.c_out * self.oh() * self.ow()
    }
    /// Weights per output channel.
    pub fn fan_in(&self) -> usize {
        if self.depthwise {
            self.kh * self.kw
        } else {
            self.c_in * self.kh * self.kw
        }
    }
    pub fn weight_len(&self) -> usize {
        self.c_out * self.fan_in()
    }
    fn is_plain_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == 1 && self.pad == 0
    }
    /// Input index of tap `(ky, kx)` of output `(oy, ox)`, or `None` in the padding.
    #[inline]
    fn tap(&self, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<usize> {
        let iy = (oy * self.stride + ky).wrapping_sub(self.pad);
        let ix = (ox * self.stride + kx).wrapping_sub(self.pad);
        (iy < self.h && ix < self.w).then(|| iy * self.w + ix)
    }
}

/// `C[m x n] (+)= A[m x k] * B[k x n]`, with arbitrary strides for A and B.
#[allow(clippy::too_many_arguments)]
fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    (rsa, csa): (usize, usize),
    b: &[f32],
    (rsb, csb): (usize, usize),
    c: &mut [f32],
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(k == 0 || (m - 1) * rsa + (k - 1) * csa < a.len());
    assert!(k == 0 || (k - 1) * rsb + (n - 1) * csb < b.len());
    assert!(m * n <= c.len());
    // SAFETY: the asserts above keep every index sgemm touches inside the
    // three slices; `c` is borrowed mutably, so it aliases neither input.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            if accumulate { 1.0 } else { 0.0 },
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// im2col of one image: `col[(c*kh + ky)*kw + kx][oy*ow + ox]`, zeros in the padding.
fn im2col(g: &ConvGeom, x: &[f32], col: &mut [f32]) {
    let (oh, ow) = (g.oh(), g.ow());
    let p = oh * ow;
    for c in 0..g.c_in {
        let xc = &x[c * g.h * g.w..(c + 1) * g.h * g.w];
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                let row = &mut col[((c * g.kh + ky) * g.kw + kx) * p..][..p];
                for oy in 0..oh {
                    for ox in 0..ow {
                        row[oy * ow + ox] = g.tap(oy, ox, ky, kx).map_or(0.0, |i| xc[i]);
                    }
                }
            }
        }
    }
}

/// Scatter-adds a column matrix back onto an image.
fn col2im(g: &ConvGeom, col: &[f32], dx: &mut [f32]) {
    let (oh, ow) = (g.oh(), g.ow());
    let p = oh * ow;
    dx.fill(0.0);
    for c in 0..g.c_in {
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                let r = (c * g.kh + ky) * g.kw + kx;
                for oy in 0..oh {
                    for ox in 0..ow {
                        if let Some(i) = g.tap(oy, ox, ky, kx) {
                            let q = oy * ow + ox;
                            dx[c * g.h * g.w + i] += col[r * p + q];
                        }
                    }
                }
            }
        }
    }
}

/// `sum a[i] * b[i]` over eight independent lanes, so that it vectorises.
#[inline]
fn dot8(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for l in 0..8 {
            lanes[l] += x[l] * y[l];
        }
    }
    let tail = a.len() - a.len() % 8;
    let mut s: f32 = lanes.iter().sum();
    for i in tail..a.len() {
        s += a[i] * b[i];
    }
    s
}

/// The AdderNet input gradient factor `HardTanh(w - x)`.
#[inline]
fn hardtanh(v: f32) -> f32 {
    v.clamp(-1.0, 1.0)
}

/// Outputs `[lo, hi)` along one axis whose tap `k` reads inside the input:
/// `0 <= o * stride + k - pad < n_in`.
fn valid_range(n_out: usize, n_in: usize, stride: usize, k: usize, pad: usize) -> (usize, usize) {
    let lo = if pad > k {
        (pad - k).div_ceil(stride)
    } else {
        0
    };
    let hi = if n_in + pad > k {
        ((n_in - 1 + pad - k) / stride + 1).min(n_out)
    } else {
        0
    };
    (lo.min(hi), hi)
}

/// One depthwise plane, forward: taps outermost, so the inner loop runs
/// along a row (contiguous for stride 1) and vectorises. Padded taps add
/// nothing (multiply) or `-|w|` (adder, rule C2).
fn dw_forward_plane(kind: Kind, g: &ConvGeom, xc: &[f32], wc: &[f32], yc: &mut [f32]) {
    let (oh, ow) = (g.oh(), g.ow());
    let adder = kind == Kind::Adder;
    yc.fill(0.0);
    for ky in 0..g.kh {
        let (ylo, yhi) = valid_range(oh, g.h, g.stride, ky, g.pad);
        for kx in 0..g.kw {
            let wv = wc[ky * g.kw + kx];
            let (xlo, xhi) = valid_range(ow, g.w, g.stride, kx, g.pad);
            for oy in 0..oh {
                let row = &mut yc[oy * ow..(oy + 1) * ow];
                if oy < ylo || oy >= yhi {
                    if adder {
                        row.iter_mut().for_each(|v| *v -= wv.abs());
                    }
                    continue;
                }
                if adder {
                    row[..xlo].iter_mut().for_each(|v| *v -= wv.abs());
                    row[xhi..].iter_mut().for_each(|v| *v -= wv.abs());
                }
                if xlo == xhi {
                    // This tap falls in the padding for the whole row.
                    continue;
                }
                let iy = oy * g.stride + ky - g.pad;
                let xrow = &xc[iy * g.w..(iy + 1) * g.w];
                let first = xlo * g.stride + kx - g.pad;
                let out = &mut row[xlo..xhi];
                if g.stride == 1 {
                    let xs = &xrow[first..first + out.len()];
                    if adder {
                        out.iter_mut()
                            .zip(xs)
                            .for_each(|(r, &xv)| *r -= (xv - wv).abs());
                    } else {
                        out.iter_mut().zip(xs).for_each(|(r, &xv)| *r += xv * wv);
                    }
                    continue;
                }
                let xs = xrow[first..].iter().step_by(g.stride);
                if adder {
                    out.iter_mut()
                        .zip(xs)
                        .for_each(|(r, &xv)| *r -= (xv - wv).abs());
                } else {
                    out.iter_mut().zip(xs).for_each(|(r, &xv)| *r += xv * wv);
                }
            }
        }
    }
}

/// One depthwise plane, backward: adds into `dxc` and `dwc`.
fn dw_backward_plane(
    kind: Kind,
    g: &ConvGeom,
    xc: &[f32],
    wc: &[f32],
    dyc: &[f32],
    dxc: &mut [f32],
    dwc: &mut [f32],
) {
    let (oh, ow) = (g.oh(), g.ow());
    let adder = kind == Kind::Adder;
    for ky in 0..g.kh {
        let (ylo, yhi) = valid_range(oh, g.h, g.stride, ky, g.pad);
        for kx in 0..g.kw {
            let t = ky * g.kw + kx;
            let wv = wc[t];
            let (xlo, xhi) = valid_range(ow, g.w, g.stride, kx, g.pad);
            let mut acc = 0f32;
            for oy in 0..oh {
                let drow = &dyc[oy * ow..(oy + 1) * ow];
                if oy < ylo || oy >= yhi {
                    if adder {
                        acc -= wv * drow.iter().sum::<f32>();
                    }
                    continue;
                }
                if adder {
                    acc -= wv * (drow[..xlo].iter().sum::<f32>() + drow[xhi..].iter().sum::<f32>());
                }
                if xlo == xhi {
                    continue;
                }
                let iy = oy * g.stride + ky - g.pad;
                let first = xlo * g.stride + kx - g.pad;
                let xrow = &xc[iy * g.w..(iy + 1) * g.w];
                let dxrow = &mut dxc[iy * g.w..(iy + 1) * g.w];
                let ds = &drow[xlo..xhi];
                if g.stride == 1 {
                    // Contiguous: the input gradient vectorises, the weight
                    // gradient is an eight-lane dot product.
                    let xs = &xrow[first..first + ds.len()];
                    let dxs = &mut dxrow[first..first + ds.len()];
                    if adder {
                        dxs.iter_mut()
                            .zip(ds)
                            .zip(xs)
                            .for_each(|((o, &d), &xv)| *o += d * hardtanh(wv - xv));
                        acc += dot8(ds, xs) - wv * ds.iter().sum::<f32>();
                    } else {
                        dxs.iter_mut().zip(ds).for_each(|(o, &d)| *o += d * wv);
                        acc += dot8(ds, xs);
                    }
                    continue;
                }
                for (j, &d) in ds.iter().enumerate() {
                    let ix = first + j * g.stride;
                    let xv = xrow[ix];
                    if adder {
                        acc += d * (xv - wv);
                        dxrow[ix] += d * hardtanh(wv - xv);
                    } else {
                        acc += d * xv;
                        dxrow[ix] += d * wv;
                    }
                }
            }
            dwc[t] += acc;
        }
    }
}

/// One image, forward.
fn forward_one(
    kind: Kind,
    g: &ConvGeom,
    x: &[f32],
    w: &[f32],
    y: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    let p = g.oh() * g.ow();
    if g.depthwise {
        let hw = g.h * g.w;
        let kk = g.kh * g.kw;
        for c in 0..g.c_in {
            dw_forward_plane(
                kind,
                g,
                &x[c * hw..(c + 1) * hw],
                &w[c * kk..(c + 1) * kk],
                &mut y[c * p..(c + 1) * p],
            );
        }
        return;
    }
    let k = g.c_in * g.kh * g.kw;
    match kind {
        Kind::Conv | Kind::Shift => {
            let col: &[f32] = if g.is_plain_pointwise() {
                x
            } else {
                scratch.resize(k * p, 0.0);
                im2col(g, x, scratch);
                scratch
            };
            gemm(g.c_out, k, p, w, (k, 1), col, (p, 1), y, false);
        }
        Kind::Adder => {
            let col: &[f32] = if g.is_plain_pointwise() {
                x
            } else {
                scratch.resize(k * p, 0.0);
                im2col(g, x, scratch);
                scratch
            };
            // Row-wise: for each (m, k) one pass along the output positions,
            // which vectorises without reassociating any sum.
            for m in 0..g.c_out {
                let yrow = &mut y[m * p..(m + 1) * p];
                yrow.fill(0.0);
                for (kk, &wv) in w[m * k..(m + 1) * k].iter().enumerate() {
                    let xr = &col[kk * p..(kk + 1) * p];
                    yrow.iter_mut()
                        .zip(xr)
                        .for_each(|(yv, &xv)| *yv -= (xv - wv).abs());
                }
            }
        }
    }
}

/// Forward pass of `n` images: returns `n * out_len` outputs.
pub fn conv_forward(kind: Kind, g: &ConvGeom, x: &[f32], w: &[f32]) -> Vec<f32> {
    let n = x.len() / g.in_len();
    debug_assert_eq!(x.len(), n * g.in_len());
    debug_assert_eq!(w.len(), g.weight_len());
    let mut y = vec![0f32; n * g.out_len()];
    y.par_chunks_mut(g.out_len())
        .zip(x.par_chunks(g.in_len()))
        .for_each_init(Vec::new, |scratch, (yi, xi)| {
            forward_one(kind, g, xi, w, yi, scratch)
        });
    y
}

/// Adder backward on column form `col[k][q]`: writes `dcol`, adds into `dw`.
#[allow(clippy::too_many_arguments)]
fn adder_backward_rows(
    m_out: usize,
    k: usize,
    p: usize,
    col: &[f32],
    w: &[f32],
    dy: &[f32],
    dcol: &mut [f32],
    dw: &mut [f32],
) {
    // dW[m][k] += sum_q dY[m][q] * (x[k][q] - W[m][k]) (full-precision gradient).
    gemm(m_out, p, k, dy, (p, 1), col, (1, p), dw, true);
    for m in 0..m_out {
        let s: f32 = dy[m * p..(m + 1) * p].iter().sum();
        for (dwv, wv) in dw[m * k..(m + 1) * k]
            .iter_mut()
            .zip(&w[m * k..(m + 1) * k])
        {
            *dwv -= s * wv;
        }
    }
    // dx[k][q] = sum_m dY[m][q] * HardTanh(W[m][k] - x[k][q]), row by row.
    for kk in 0..k {
        let xr = &col[kk * p..(kk + 1) * p];
        let dr = &mut dcol[kk * p..(kk + 1) * p];
        dr.fill(0.0);
        for m in 0..m_out {
            let wv = w[m * k + kk];
            let dyr = &dy[m * p..(m + 1) * p];
            dr.iter_mut()
                .zip(dyr)
                .zip(xr)
                .for_each(|((d, &dyv), &xv)| *d += dyv * hardtanh(wv - xv));
        }
    }
}

/// One image, backward: writes `dx`, adds into `dw`.
#[allow(clippy::too_many_arguments)]
fn backward_one(
    kind: Kind,
    g: &ConvGeom,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    dw: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    let p = g.oh() * g.ow();
    if g.depthwise {
        let hw = g.h * g.w;
        let kk = g.kh * g.kw;
        dx.fill(0.0);
        for c in 0..g.c_in {
            dw_backward_plane(
                kind,
                g,
                &x[c * hw..(c + 1) * hw],
                &w[c * kk..(c + 1) * kk],
                &dy[c * p..(c + 1) * p],
                &mut dx[c * hw..(c + 1) * hw],
                &mut dw[c * kk..(c + 1) * kk],
            );
        }
        return;
    }
    let k = g.c_in * g.kh * g.kw;
    match kind {
        Kind::Conv | Kind::Shift => {
            let plain = g.is_plain_pointwise();
            if !plain {
                scratch.resize(2 * k * p, 0.0);
                im2col(g, x, &mut scratch[..k * p]);
            }
            let (col, dcol) = if plain {
                (x, None)
            } else {
                let (a, b) = scratch.split_at_mut(k * p);
                (&*a, Some(b))
            };
            // dW += dY * col^T
            gemm(g.c_out, p, k, dy, (p, 1), col, (1, p), dw, true);
            // dcol = W^T * dY
            match dcol {
                None => gemm(k, g.c_out, p, w, (1, k), dy, (p, 1), dx, false),
                Some(dcol) => {
                    gemm(k, g.c_out, p, w, (1, k), dy, (p, 1), dcol, false);
                    col2im(g, dcol, dx);
                }
            }
        }
        Kind::Adder => {
            let plain = g.is_plain_pointwise();
            if plain {
                adder_backward_rows(g.c_out, k, p, x, w, dy, dx, dw);
            } else {
                scratch.resize(2 * k * p, 0.0);
                let (col, dcol) = scratch.split_at_mut(k * p);
                im2col(g, x, col);
                adder_backward_rows(g.c_out, k, p, col, w, dy, dcol, dw);
                col2im(g, dcol, dx);
            }
        }
    }
}

/// Backward pass of `n` images: returns `(dx, dw)`. For adder layers `dw` is
/// the AdderNet full-precision gradient before adaptive scaling.
pub fn conv_backward(
    kind: Kind,
    g: &ConvGeom,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let n = x.len() / g.in_len();
    debug_assert_eq!(dy.len(), n * g.out_len());
    let mut dx = vec![0f32; x.len()];
    let partials: Vec<Vec<f32>> = dx
        .par_chunks_mut(CHUNK * g.in_len())
        .zip(x.par_chunks(CHUNK * g.in_len()))
        .zip(dy.par_chunks(CHUNK * g.out_len()))
        .map(|((dxc, xc), dyc)| {
            let mut dw = vec![0f32; g.weight_len()];
            let mut scratch = Vec::new();
            for ((dxi, xi), dyi) in dxc
                .chunks_mut(g.in_len())
                .zip(xc.chunks(g.in_len()))
                .zip(dyc.chunks(g.out_len()))
            {
                backward_one(kind, g, xi, w, dyi, dxi, &mut dw, &mut scratch);
            }
            dw
        })
        .collect();
    let mut dw = vec![0f32; g.weight_len()];
    for p in partials {
        for (a, b) in dw.iter_mut().zip(p) {
            *a += b;
        }
    }
    (dx, dw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::rng::SplitMix64;

    fn geom(depthwise: bool, k: usize, stride: usize, pad: usize) -> ConvGeom {
        let c = 3;
        ConvGeom {
            c_in: c,
            h: 5,
            w: 4,
            c_out: if depthwise { c } else { 2 },
            kh: k,
            kw: k,
            stride,
            pad,
            depthwise,
        }
    }

    /// Direct definition of every kind, to check the fast paths against.
    fn naive(kind: Kind, g: &ConvGeom, x: &[f32], w: &[f32]) -> Vec<f32> {
        let mut y = vec![0f32; g.out_len()];
        for m in 0..g.c_out {
            for oy in 0..g.oh() {
                for ox in 0..g.ow() {
                    let mut acc = 0f32;
                    let chans: Vec<usize> = if g.depthwise {
                        vec![m]
                    } else {
                        (0..g.c_in).collect()
                    };
                    for (ci, &c) in chans.iter().enumerate() {
                        for ky in 0..g.kh {
                            for kx in 0..g.kw {
                                let xv =
                                    g.tap(oy, ox, ky, kx).map_or(0.0, |i| x[c * g.h * g.w + i]);
                                let wv = w[m * g.fan_in() + (ci * g.kh + ky) * g.kw + kx];
                                acc += match kind {
                                    Kind::Adder => -(xv - wv).abs(),
                                    _ => xv * wv,
                                };
                            }
                        }
                    }
                    y[(m * g.oh() + oy) * g.ow() + ox] = acc;
                }
            }
        }
        y
    }

    #[test]
    fn fast_paths_match_the_definition() {
        let mut rng = SplitMix64::new(3);
        for kind in Kind::ALL {
            for (dw, k, s, p) in [
                (false, 3, 2, 1),
                (false, 1, 1, 0),
                (true, 3, 1, 1),
                (true, 5, 2, 2),
            ] {
                let g = geom(dw, k, s, p);
                let x: Vec<f32> = (0..g.in_len()).map(|_| rng.normal() as f32).collect();
                let w: Vec<f32> = (0..g.weight_len()).map(|_| rng.normal() as f32).collect();
                let fast = conv_forward(kind, &g, &x, &w);
                let slow = naive(kind, &g, &x, &w);
                for (a, b) in fast.iter().zip(&slow) {
                    assert!((a - b).abs() < 1e-4, "{kind} {g:?}: {a} vs {b}");
                }
            }
        }
    }
}
