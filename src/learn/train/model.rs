//! A trainable float model built from a network description (the IR of
//! `net`): the same layers, in the same order, with BatchNorm after every
//! convolution and a bias after every linear layer, fake quantisation of
//! weights and activations in the quantisation-aware phase, and hand-written
//! backward passes.
//!
//! Guarantee to `export`: in quantised mode the forward pass computes, per
//! tensor, `scale * q` with `q` the integer the golden model computes, up to
//! the rounding of the requantisation multipliers (M / 2^S) and biases.

use rayon::prelude::*;

use crate::model::net::{Activation, Network, Op, PoolGeom};
use crate::model::quant::{self, Kind};
use crate::model::rng::SplitMix64;

use super::kernels::{self, ConvGeom};
use super::wquant;

pub const BN_EPS: f32 = 1e-5;
pub const BN_MOMENTUM: f32 = 0.1;
/// AdderNet adaptive gradient scaling factor.
pub const ADDER_ETA: f32 = 0.2;

/// A learnable tensor with its gradient and momentum buffer.
#[derive(Debug, Clone)]
pub struct Param {
    pub v: Vec<f32>,
    pub g: Vec<f32>,
    pub mom: Vec<f32>,
    /// Weight decay applies (convolution weights, not BatchNorm or biases).
    pub decay: bool,
    /// The gradient counts in (and is scaled by) the global norm clip. Not
    /// for adder weights: AdderNet's adaptive scaling already sets their
    /// gradient norm to `eta * sqrt(k)`, which would dominate the global
    /// norm and shrink every other gradient.
    pub clipped: bool,
}

impl Param {
    pub fn new(v: Vec<f32>, decay: bool) -> Param {
        let n = v.len();
        Param {
            v,
            g: vec![0.0; n],
            mom: vec![0.0; n],
            decay,
            clipped: true,
        }
    }

    /// A weight tensor of a layer of `kind` (decayed; clipped unless adder).
    pub fn weights(v: Vec<f32>, kind: Kind) -> Param {
        Param {
            clipped: kind != Kind::Adder,
            ..Param::new(v, true)
        }
    }
}

/// BatchNorm over (N, H, W) per channel.
#[derive(Debug, Clone)]
pub struct BatchNorm {
    pub gamma: Param,
    pub beta: Param,
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
    pub(crate) xhat: Vec<f32>,
    pub(crate) inv: Vec<f32>,
}

impl BatchNorm {
    /// Identity-initialised BatchNorm over `ch` channels.
    pub fn new(ch: usize) -> BatchNorm {
        BatchNorm {
            gamma: Param::new(vec![1.0; ch], false),
            beta: Param::new(vec![0.0; ch], false),
            mean: vec![0.0; ch],
            var: vec![1.0; ch],
            xhat: Vec::new(),
            inv: Vec::new(),
        }
    }
}

/// What follows a convolution before its activation.
#[derive(Debug, Clone)]
pub enum Post {
    Bn(BatchNorm),
    Bias(Param),
}

#[derive(Debug, Clone)]
pub struct ConvNode {
    pub kind: Kind,
    pub geom: ConvGeom,
    pub linear: bool,
    /// Weight width (conv, adder) or exponent bits (shift).
    pub weight_bits: u32,
    pub w: Param,
    pub post: Post,
    wq: Vec<f32>,
}

#[derive(Debug, Clone)]
pub enum NodeOp {
    Conv(Box<ConvNode>),
    Add,
    MaxPool { geom: PoolGeom, argmax: Vec<u32> },
    AvgPool { geom: PoolGeom, factor: f32 },
    Gap { factor: f32 },
    Clamp,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub inputs: Vec<usize>,
    pub op: NodeOp,
    pub activation: Activation,
    pub bits: u32,
    /// 1 where the activation / fake quantisation passes the gradient.
    mask: Vec<u8>,
}

/// Training (batch statistics, gradients) or evaluation; float or
/// quantisation-aware (fake-quantised weights and activations, frozen BatchNorm).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode {
    pub train: bool,
    pub quant: bool,
}

#[derive(Debug, Clone)]
pub struct Model {
    pub nodes: Vec<Node>,
    /// Shape (C, H, W) of every tensor; 0 is the input.
    pub shapes: Vec<(usize, usize, usize)>,
    /// Real scale of every tensor (used in quantised mode).
    pub scales: Vec<f32>,
    /// Activations of the last forward pass, by tensor id.
    pub acts: Vec<Vec<f32>>,
    pub output: usize,
    pub batch: usize,
}

/// The trainer cannot train this layer.
#[derive(Debug, thiserror::Error)]
#[error("layer `{layer}`: {message}")]
pub struct Unsupported {
    pub layer: String,
    pub field: &'static str,
    pub message: String,
}

pub(crate) fn he_init(n: usize, fan_in: usize, gain: f64, rng: &mut SplitMix64) -> Vec<f32> {
    let sd = (gain / fan_in.max(1) as f64).sqrt();
    (0..n).map(|_| (rng.normal() * sd) as f32).collect()
}

impl Model {
    /// Builds the model of `net` with seeded initial weights.
    pub fn new(net: &Network, seed: u64) -> Result<Model, Unsupported> {
        let mut rng = SplitMix64::new(seed ^ 0x6e61_7361_5f69_6e69);
        let s0 = net.input.tensor.shape;
        let mut shapes = vec![(s0.c, s0.h, s0.w)];
        let mut scales = vec![net.input.tensor.scale as f32];
        let mut nodes = Vec::new();
        for layer in &net.layers {
            let inp = net.tensor(layer.inputs[0]).shape;
            let op = match &layer.op {
                Op::Conv(c) => {
                    if c.groups > 1 && !c.is_depthwise() {
                        return Err(Unsupported {
                            layer: layer.name.clone(),
                            field: "groups",
                            message: format!(
                                "grouped convolution ({} groups) other than depthwise is not trainable",
                                c.groups
                            ),
                        });
                    }
                    let geom = if c.linear {
                        ConvGeom {
                            c_in: inp.c,
                            h: inp.h,
                            w: inp.w,
                            c_out: c.out_ch,
                            kh: inp.h,
                            kw: inp.w,
                            stride: 1,
                            pad: 0,
                            depthwise: false,
                        }
                    } else {
                        ConvGeom {
                            c_in: inp.c,
                            h: inp.h,
                            w: inp.w,
                            c_out: c.out_ch,
                            kh: c.kh,
                            kw: c.kw,
                            stride: c.stride,
                            pad: c.padding,
                            depthwise: c.is_depthwise(),
                        }
                    };
                    let gain = if c.linear { 1.0 } else { 2.0 };
                    let w = he_init(geom.weight_len(), geom.fan_in(), gain, &mut rng);
                    let post = if c.linear {
                        Post::Bias(Param::new(vec![0.0; c.out_ch], false))
                    } else {
                        Post::Bn(BatchNorm::new(c.out_ch))
                    };
                    NodeOp::Conv(Box::new(ConvNode {
                        kind: c.kind,
                        geom,
                        linear: c.linear,
                        weight_bits: c.weight_bits,
                        w: Param::weights(w, c.kind),
                        post,
                        wq: Vec::new(),
                    }))
                }
                Op::Add { .. } => NodeOp::Add,
                Op::MaxPool(g) => NodeOp::MaxPool {
                    geom: *g,
                    argmax: Vec::new(),
                },
                Op::AvgPool {
                    geom,
                    multiplier,
                    shift,
                } => NodeOp::AvgPool {
                    geom: *geom,
                    factor: *multiplier as f32 / 2f32.powi(*shift as i32),
                },
                Op::GlobalAvgPool { multiplier, shift } => NodeOp::Gap {
                    factor: *multiplier as f32 / 2f32.powi(*shift as i32),
                },
                Op::Clamp => NodeOp::Clamp,
            };
            let o = layer.out.shape;
            shapes.push((o.c, o.h, o.w));
            scales.push(layer.out.scale as f32);
            nodes.push(Node {
                name: layer.name.clone(),
                inputs: layer.inputs.clone(),
                op,
                activation: layer.activation,
                bits: layer.out.bits,
                mask: Vec::new(),
            });
        }
        let output = net.output;
        Ok(Model {
            nodes,
            shapes,
            scales,
            acts: Vec::new(),
            output,
            batch: 0,
        })
    }

    /// Every learnable parameter, in a fixed order (checkpoints rely on it).
    pub fn params_mut(&mut self) -> Vec<(String, &mut Param)> {
        let mut out = Vec::new();
        for node in &mut self.nodes {
            if let NodeOp::Conv(c) = &mut node.op {
                out.push((format!("{}.weight", node.name), &mut c.w));
                match &mut c.post {
                    Post::Bn(bn) => {
                        out.push((format!("{}.bn.gamma", node.name), &mut bn.gamma));
                        out.push((format!("{}.bn.beta", node.name), &mut bn.beta));
                    }
                    Post::Bias(b) => out.push((format!("{}.bias", node.name), b)),
                }
            }
        }
        out
    }

    /// Whether a tensor's scale is a free parameter (set by calibration):
    /// outputs of convolutions and adds; pools and clamps keep their input's.
    pub fn owns_scale(&self, id: usize) -> bool {
        id > 0 && matches!(self.nodes[id - 1].op, NodeOp::Conv(_) | NodeOp::Add)
    }

    /// The tensor whose scale tensor `id` inherits (itself if it owns one;
    /// 0 for the network input).
    pub fn scale_owner(&self, mut id: usize) -> usize {
        while id > 0 && !self.owns_scale(id) {
            id = self.nodes[id - 1].inputs[0];
        }
        id
    }

    /// Propagates scales through the layers that inherit their input's.
    pub fn propagate_scales(&mut self) {
        for i in 0..self.nodes.len() {
            if !self.owns_scale(i + 1) {
                self.scales[i + 1] = self.scales[self.nodes[i].inputs[0]];
            }
        }
    }

    fn len(&self, id: usize) -> usize {
        let (c, h, w) = self.shapes[id];
        c * h * w
    }

    /// Runs a batch of inputs (`n * C*H*W` real values); returns the output tensor.
    pub fn forward(&mut self, input: Vec<f32>, mode: Mode) -> &[f32] {
        self.batch = input.len() / self.len(0);
        let n = self.batch;
        self.acts.clear();
        self.acts.push(input);
        for i in 0..self.nodes.len() {
            let out_id = i + 1;
            let (oc, oh, ow) = self.shapes[out_id];
            let in_id = self.nodes[i].inputs[0];
            let in_scale = self.scales[in_id];
            let out_scale = self.scales[out_id];
            let (ic, ih, iw) = self.shapes[in_id];
            let node = &mut self.nodes[i];
            let x = &self.acts[in_id];
            let mut v = match &mut node.op {
                NodeOp::Conv(c) => {
                    c.wq = match (c.kind, mode.quant) {
                        (Kind::Shift, _) => {
                            wquant::shift(&c.w.v, c.geom.c_out, c.weight_bits).values
                        }
                        (Kind::Conv, true) => {
                            wquant::conv(&c.w.v, c.geom.c_out, c.weight_bits).values
                        }
                        (Kind::Adder, true) => {
                            wquant::adder(&c.w.v, c.geom.c_out, in_scale, c.weight_bits).values
                        }
                        _ => c.w.v.clone(),
                    };
                    let mut z = kernels::conv_forward(c.kind, &c.geom, x, &c.wq);
                    let per = oh * ow;
                    match &mut c.post {
                        Post::Bias(b) => {
                            for (j, zv) in z.iter_mut().enumerate() {
                                *zv += b.v[(j / per) % oc];
                            }
                        }
                        Post::Bn(bn) => bn_forward(bn, &mut z, n, oc, per, mode),
                    }
                    z
                }
                NodeOp::Add => {
                    let b = &self.acts[node.inputs[1]];
                    x.iter().zip(b).map(|(a, b)| a + b).collect()
                }
                NodeOp::MaxPool { geom, argmax } => {
                    maxpool_forward(x, n, (ic, ih, iw), (oh, ow), *geom, argmax)
                }
                NodeOp::AvgPool { geom, factor } => {
                    avgpool_forward(x, n, (ic, ih, iw), (oh, ow), *geom, *factor)
                }
                NodeOp::Gap { factor } => {
                    let hw = ih * iw;
                    x.chunks(hw)
                        .map(|c| c.iter().sum::<f32>() * *factor)
                        .collect()
                }
                NodeOp::Clamp => x.clone(),
            };
            activate(
                &mut v,
                &mut node.mask,
                node.activation,
                node.bits,
                out_scale,
                mode.quant,
            );
            self.acts.push(v);
        }
        &self.acts[self.output]
    }

    /// Back-propagates `dout` (gradient of the loss with respect to the
    /// output tensor of the last forward pass), accumulating parameter gradients.
    pub fn backward(&mut self, dout: Vec<f32>, mode: Mode) {
        let n = self.batch;
        let mut grads: Vec<Option<Vec<f32>>> = vec![None; self.nodes.len() + 1];
        grads[self.output] = Some(dout);
        for i in (0..self.nodes.len()).rev() {
            let Some(mut d) = grads[i + 1].take() else {
                continue;
            };
            let out_id = i + 1;
            let (oc, oh, ow) = self.shapes[out_id];
            let node = &mut self.nodes[i];
            let in_id = node.inputs[0];
            let (ic, ih, iw) = self.shapes[in_id];
            d.par_chunks_mut(4096)
                .zip(node.mask.par_chunks(4096))
                .for_each(|(dc, mc)| {
                    for (dv, &m) in dc.iter_mut().zip(mc) {
                        if m == 0 {
                            *dv = 0.0;
                        }
                    }
                });
            let x = &self.acts[in_id];
            let push = |grads: &mut Vec<Option<Vec<f32>>>, id: usize, g: Vec<f32>| {
                if id == 0 {
                    return;
                }
                match &mut grads[id] {
                    Some(acc) => acc.iter_mut().zip(&g).for_each(|(a, b)| *a += b),
                    slot @ None => *slot = Some(g),
                }
            };
            match &mut node.op {
                NodeOp::Conv(c) => {
                    let per = oh * ow;
                    match &mut c.post {
                        Post::Bias(b) => {
                            for (j, dv) in d.iter().enumerate() {
                                b.g[(j / per) % oc] += dv;
                            }
                        }
                        Post::Bn(bn) => bn_backward(bn, &mut d, n, oc, per, mode),
                    }
                    if in_id == 0 && c.kind != Kind::Adder {
                        // The input needs no gradient: only the weights'.
                        let (_, dw) = kernels::conv_backward(c.kind, &c.geom, x, &c.wq, &d);
                        add_weight_grad(c, dw);
                    } else {
                        let (dx, dw) = kernels::conv_backward(c.kind, &c.geom, x, &c.wq, &d);
                        add_weight_grad(c, dw);
                        push(&mut grads, in_id, dx);
                    }
                }
                NodeOp::Add => {
                    let b_id = node.inputs[1];
                    push(&mut grads, in_id, d.clone());
                    push(&mut grads, b_id, d);
                }
                NodeOp::MaxPool { argmax, .. } => {
                    let mut dx = vec![0f32; n * ic * ih * iw];
                    for (dv, &a) in d.iter().zip(argmax.iter()) {
                        if a != u32::MAX {
                            dx[a as usize] += dv;
                        }
                    }
                    push(&mut grads, in_id, dx);
                }
                NodeOp::AvgPool { geom, factor } => {
                    let dx = avgpool_backward(&d, n, (ic, ih, iw), (oh, ow), *geom, *factor);
                    push(&mut grads, in_id, dx);
                }
                NodeOp::Gap { factor } => {
                    let hw = ih * iw;
                    let dx: Vec<f32> = d
                        .iter()
                        .flat_map(|&dv| std::iter::repeat_n(dv * *factor, hw))
                        .collect();
                    push(&mut grads, in_id, dx);
                }
                NodeOp::Clamp => push(&mut grads, in_id, d),
            }
        }
    }

    /// Resets every parameter gradient to zero.
    pub fn zero_grad(&mut self) {
        for (_, p) in self.params_mut() {
            p.g.fill(0.0);
        }
    }
}

/// Adds a weight gradient (straight through the weight rounding); adder
/// layers get the AdderNet adaptive scaling `eta * sqrt(k) / ||dW||`.
fn add_weight_grad(c: &mut ConvNode, mut dw: Vec<f32>) {
    if c.kind == Kind::Adder {
        adder_scale(&mut dw);
    }
    for (g, v) in c.w.g.iter_mut().zip(dw) {
        *g += v;
    }
}

/// AdderNet adaptive gradient scaling: `dW * eta * sqrt(k) / ||dW||`.
pub(crate) fn adder_scale(dw: &mut [f32]) {
    let norm = dw
        .iter()
        .map(|v| (*v as f64) * (*v as f64))
        .sum::<f64>()
        .sqrt();
    if norm > 0.0 {
        let f = (ADDER_ETA as f64 * (dw.len() as f64).sqrt() / norm) as f32;
        dw.iter_mut().for_each(|v| *v *= f);
    }
}

/// Per-channel sums of `f(j)` over a batch, reduced image by image in
/// order (deterministic whatever the number of threads).
fn channel_sums<F>(n: usize, ch: usize, per: usize, f: F) -> Vec<[f64; 2]>
where
    F: Fn(usize) -> [f64; 2] + Sync,
{
    let per_image: Vec<Vec<[f64; 2]>> = (0..n)
        .into_par_iter()
        .map(|i| {
            (0..ch)
                .map(|c| {
                    let base = (i * ch + c) * per;
                    let mut acc = [0f64; 2];
                    for j in base..base + per {
                        let [a, b] = f(j);
                        acc[0] += a;
                        acc[1] += b;
                    }
                    acc
                })
                .collect()
        })
        .collect();
    let mut total = vec![[0f64; 2]; ch];
    for img in per_image {
        for (t, v) in total.iter_mut().zip(img) {
            t[0] += v[0];
            t[1] += v[1];
        }
    }
    total
}

pub(crate) fn bn_forward(
    bn: &mut BatchNorm,
    z: &mut [f32],
    n: usize,
    ch: usize,
    per: usize,
    mode: Mode,
) {
    let batch_stats = mode.train && !mode.quant;
    let count = (n * per) as f64;
    let (mean, var): (Vec<f32>, Vec<f32>) = if batch_stats {
        let zr: &[f32] = z;
        let sums = channel_sums(n, ch, per, |j| {
            let v = zr[j] as f64;
            [v, v * v]
        });
        let mut mean = Vec::with_capacity(ch);
        let mut var = Vec::with_capacity(ch);
        for (c, [s, sq]) in sums.into_iter().enumerate() {
            let m = s / count;
            let v = (sq / count - m * m).max(0.0);
            let unbiased = v * count / (count - 1.0).max(1.0);
            bn.mean[c] = (1.0 - BN_MOMENTUM) * bn.mean[c] + BN_MOMENTUM * m as f32;
            bn.var[c] = (1.0 - BN_MOMENTUM) * bn.var[c] + BN_MOMENTUM * unbiased as f32;
            mean.push(m as f32);
            var.push(v as f32);
        }
        (mean, var)
    } else {
        (bn.mean.clone(), bn.var.clone())
    };
    bn.inv = var.iter().map(|v| 1.0 / (v + BN_EPS).sqrt()).collect();
    bn.xhat.resize(z.len(), 0.0);
    let (inv, gamma, beta) = (&bn.inv, &bn.gamma.v, &bn.beta.v);
    z.par_chunks_mut(ch * per)
        .zip(bn.xhat.par_chunks_mut(ch * per))
        .for_each(|(zi, xi)| {
            for c in 0..ch {
                let (m, s, g, b) = (mean[c], inv[c], gamma[c], beta[c]);
                for (zv, xv) in zi[c * per..(c + 1) * per]
                    .iter_mut()
                    .zip(&mut xi[c * per..(c + 1) * per])
                {
                    let xh = (*zv - m) * s;
                    *xv = xh;
                    *zv = g * xh + b;
                }
            }
        });
}

pub(crate) fn bn_backward(
    bn: &mut BatchNorm,
    d: &mut [f32],
    n: usize,
    ch: usize,
    per: usize,
    mode: Mode,
) {
    let batch_stats = mode.train && !mode.quant;
    let count = (n * per) as f32;
    let (dr, xr): (&[f32], &[f32]) = (d, &bn.xhat);
    let sums = channel_sums(n, ch, per, |j| [dr[j] as f64, (dr[j] * xr[j]) as f64]);
    for (c, [sd, sdx]) in sums.iter().enumerate() {
        bn.gamma.g[c] += *sdx as f32;
        bn.beta.g[c] += *sd as f32;
    }
    let (inv, gamma, xhat) = (&bn.inv, &bn.gamma.v, &bn.xhat);
    d.par_chunks_mut(ch * per)
        .zip(xhat.par_chunks(ch * per))
        .for_each(|(di, xi)| {
            for c in 0..ch {
                let k = gamma[c] * inv[c];
                let (sd, sdx) = (sums[c][0] as f32 / count, sums[c][1] as f32 / count);
                for (dv, xv) in di[c * per..(c + 1) * per]
                    .iter_mut()
                    .zip(&xi[c * per..(c + 1) * per])
                {
                    *dv = if batch_stats {
                        k * (*dv - sd - xv * sdx)
                    } else {
                        k * *dv
                    };
                }
            }
        });
}

/// Activation clamp (R5) and, in quantised mode, rounding to the tensor's
/// scale with ties up (R2); records where the gradient passes.
pub(crate) fn activate(
    v: &mut [f32],
    mask: &mut Vec<u8>,
    act: Activation,
    bits: u32,
    scale: f32,
    quant: bool,
) {
    let (qlo, qhi) = quant::signed_range(bits);
    let (lo, hi) = if quant {
        match act {
            Activation::None => (qlo as f32, qhi as f32),
            Activation::Relu => (0.0, qhi as f32),
            Activation::Relu6 => (0.0, quant::relu6_max(scale as f64, bits) as f32),
        }
    } else {
        match act {
            Activation::None => (f32::NEG_INFINITY, f32::INFINITY),
            Activation::Relu => (0.0, f32::INFINITY),
            Activation::Relu6 => (0.0, 6.0),
        }
    };
    mask.resize(v.len(), 0);
    v.par_chunks_mut(4096)
        .zip(mask.par_chunks_mut(4096))
        .for_each(|(vc, mc)| {
            for (x, m) in vc.iter_mut().zip(mc.iter_mut()) {
                if quant {
                    let q = *x / scale;
                    *m = (q >= lo && q <= hi) as u8;
                    *x = (q + 0.5).floor().clamp(lo, hi) * scale;
                } else {
                    *m = (*x >= lo && *x <= hi) as u8;
                    *x = x.clamp(lo, hi);
                }
            }
        });
}

fn maxpool_forward(
    x: &[f32],
    n: usize,
    (c, h, w): (usize, usize, usize),
    (oh, ow): (usize, usize),
    g: PoolGeom,
    argmax: &mut Vec<u32>,
) -> Vec<f32> {
    let mut y = vec![0f32; n * c * oh * ow];
    argmax.clear();
    argmax.resize(y.len(), u32::MAX);
    for plane in 0..n * c {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut best = f32::NEG_INFINITY;
                let mut at = u32::MAX;
                for ky in 0..g.kernel {
                    for kx in 0..g.kernel {
                        let iy = (oy * g.stride + ky).wrapping_sub(g.padding);
                        let ix = (ox * g.stride + kx).wrapping_sub(g.padding);
                        if iy < h && ix < w {
                            let j = (plane * h + iy) * w + ix;
                            if x[j] > best {
                                best = x[j];
                                at = j as u32;
                            }
                        }
                    }
                }
                let o = (plane * oh + oy) * ow + ox;
                y[o] = best;
                argmax[o] = at;
            }
        }
    }
    y
}

fn avgpool_forward(
    x: &[f32],
    n: usize,
    (c, h, w): (usize, usize, usize),
    (oh, ow): (usize, usize),
    g: PoolGeom,
    factor: f32,
) -> Vec<f32> {
    let mut y = vec![0f32; n * c * oh * ow];
    for plane in 0..n * c {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut s = 0f32;
                for ky in 0..g.kernel {
                    for kx in 0..g.kernel {
                        let iy = (oy * g.stride + ky).wrapping_sub(g.padding);
                        let ix = (ox * g.stride + kx).wrapping_sub(g.padding);
                        if iy < h && ix < w {
                            s += x[(plane * h + iy) * w + ix];
                        }
                    }
                }
                y[(plane * oh + oy) * ow + ox] = s * factor;
            }
        }
    }
    y
}

fn avgpool_backward(
    d: &[f32],
    n: usize,
    (c, h, w): (usize, usize, usize),
    (oh, ow): (usize, usize),
    g: PoolGeom,
    factor: f32,
) -> Vec<f32> {
    let mut dx = vec![0f32; n * c * h * w];
    for plane in 0..n * c {
        for oy in 0..oh {
            for ox in 0..ow {
                let dv = d[(plane * oh + oy) * ow + ox] * factor;
                for ky in 0..g.kernel {
                    for kx in 0..g.kernel {
                        let iy = (oy * g.stride + ky).wrapping_sub(g.padding);
                        let ix = (ox * g.stride + kx).wrapping_sub(g.padding);
                        if iy < h && ix < w {
                            dx[(plane * h + iy) * w + ix] += dv;
                        }
                    }
                }
            }
        }
    }
    dx
}

/// Mean softmax cross-entropy of `logits` (`n x classes`, row-major) and its
/// gradient; also the number of correct top-1 predictions.
/// Knowledge distillation (Hinton et al.): `(1 - alpha)` times the
/// cross-entropy with the labels plus `alpha * T^2` times the KL divergence
/// of the student's temperature-`T` softmax from the teacher's, averaged
/// over the batch. Returns the loss, its gradient in the logits and the
/// number of correct top-1 predictions.
pub fn distillation(
    logits: &[f32],
    labels: &[u8],
    teacher: &[f32],
    classes: usize,
    alpha: f32,
    t: f32,
) -> (f64, Vec<f32>, usize) {
    let (ce, mut grad, correct) = cross_entropy(logits, labels, classes);
    let n = labels.len();
    let (alpha, t) = (alpha as f64, t as f64);
    let softmax = |row: &[f32]| -> Vec<f64> {
        let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
        let e: Vec<f64> = row.iter().map(|&v| ((v as f64 - max) / t).exp()).collect();
        let sum: f64 = e.iter().sum();
        e.into_iter().map(|v| v / sum).collect()
    };
    let mut kl = 0f64;
    for i in 0..n {
        let r = i * classes..(i + 1) * classes;
        let p = softmax(&teacher[r.clone()]);
        let q = softmax(&logits[r.clone()]);
        for k in 0..classes {
            if p[k] > 0.0 {
                kl += p[k] * (p[k].ln() - q[k].max(1e-300).ln());
            }
            let g = &mut grad[r.start + k];
            *g = ((1.0 - alpha) * *g as f64 + alpha * t * (q[k] - p[k]) / n as f64) as f32;
        }
    }
    (
        (1.0 - alpha) * ce + alpha * t * t * kl / n as f64,
        grad,
        correct,
    )
}

pub fn cross_entropy(logits: &[f32], labels: &[u8], classes: usize) -> (f64, Vec<f32>, usize) {
    let n = labels.len();
    let mut grad = vec![0f32; logits.len()];
    let mut loss = 0f64;
    let mut correct = 0;
    for (i, &label) in labels.iter().enumerate() {
        let row = &logits[i * classes..(i + 1) * classes];
        let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let exps: Vec<f64> = row.iter().map(|&v| ((v - max) as f64).exp()).collect();
        let sum: f64 = exps.iter().sum();
        loss += sum.ln() - (row[label as usize] - max) as f64;
        if crate::model::golden::argmax(row) == label as usize {
            correct += 1;
        }
        for (k, e) in exps.iter().enumerate() {
            let p = e / sum - (k == label as usize) as u8 as f64;
            grad[i * classes + k] = (p / n as f64) as f32;
        }
    }
    (loss / n as f64, grad, correct)
}
