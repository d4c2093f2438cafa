//! The weight-sharing supernet: a stem, searchable MBConv blocks, global
//! pooling and a linear classifier. In a block, the MBConv candidates of one
//! weight family share one set of weights: smaller expansions use the first
//! `C * e` channels (each expansion is its own path, unlike the reference
//! code's chained-if bug), a 3x3 kernel is the centre of the 5x5 one, and
//! multiplier and shift candidates are one family (a shift weight is the
//! power-of-two rounding of the same float weight); adder candidates are
//! their own family (`Sharing::Wide`, the default). `Sharing::Reference`
//! keeps the reference's separate set per (kind, kernel). With that, a
//! single-path supernet of six blocks barely learned (loss 2.05 after 120
//! steps of batch 64, against 0.54 for one fixed path; see docs/results.md).
//! Forward and backward run the sampled paths of each block and mix them
//! with the given weights.

use crate::learn::train::kernels::{self, ConvGeom};
use crate::learn::train::model::{self as tm, BatchNorm, Mode, Param};
use crate::learn::train::wquant;
use crate::model::net::Activation;
use crate::model::quant::Kind;
use crate::model::rng::SplitMix64;

use super::space::{Candidate, Space};

/// A convolution with BatchNorm (or a bias) and an optional ReLU.
#[derive(Debug, Clone)]
pub struct ConvUnit {
    pub kind: Kind,
    pub geom: ConvGeom,
    pub w: Param,
    pub bn: Option<BatchNorm>,
    pub bias: Option<Param>,
    pub relu: bool,
}

/// What a unit's backward needs from its forward.
#[derive(Debug, Clone, Default)]
pub struct UnitCache {
    wq: Vec<f32>,
    bn: Option<BatchNorm>,
    mask: Vec<u8>,
}

fn weights_for(kind: Kind, w: &[f32], out_ch: usize) -> Vec<f32> {
    match kind {
        Kind::Shift => wquant::shift(w, out_ch, 3).values,
        _ => w.to_vec(),
    }
}

/// Forward of one convolution + BN + ReLU on explicit (possibly sliced)
/// parameters; the BatchNorm is a slice copy whose running statistics and
/// gradients the caller merges back.
#[allow(clippy::too_many_arguments)]
fn unit_forward(
    kind: Kind,
    g: &ConvGeom,
    w: &[f32],
    mut bn: Option<BatchNorm>,
    bias: Option<&[f32]>,
    relu: bool,
    x: &[f32],
    mode: Mode,
) -> (Vec<f32>, UnitCache) {
    let n = x.len() / g.in_len();
    let wq = weights_for(kind, w, g.c_out);
    let mut z = kernels::conv_forward(kind, g, x, &wq);
    let per = g.oh() * g.ow();
    if let Some(bn) = bn.as_mut() {
        tm::bn_forward(bn, &mut z, n, g.c_out, per, mode);
    }
    if let Some(b) = bias {
        for (j, v) in z.iter_mut().enumerate() {
            *v += b[(j / per) % g.c_out];
        }
    }
    let mut mask = Vec::new();
    let act = if relu {
        Activation::Relu
    } else {
        Activation::None
    };
    tm::activate(&mut z, &mut mask, act, 8, 1.0, false);
    (z, UnitCache { wq, bn, mask })
}

/// Backward of [`unit_forward`]: returns `(dx, dw)`; BN gradients land in
/// the cache's BatchNorm, bias gradients in `dbias`.
#[allow(clippy::too_many_arguments)]
fn unit_backward(
    kind: Kind,
    g: &ConvGeom,
    cache: &mut UnitCache,
    x: &[f32],
    mut d: Vec<f32>,
    dbias: Option<&mut [f32]>,
    mode: Mode,
    need_dx: bool,
) -> (Vec<f32>, Vec<f32>) {
    let n = x.len() / g.in_len();
    let per = g.oh() * g.ow();
    for (v, &m) in d.iter_mut().zip(&cache.mask) {
        if m == 0 {
            *v = 0.0;
        }
    }
    if let Some(bn) = cache.bn.as_mut() {
        tm::bn_backward(bn, &mut d, n, g.c_out, per, mode);
    }
    if let Some(db) = dbias {
        for (j, v) in d.iter().enumerate() {
            db[(j / per) % g.c_out] += v;
        }
    }
    let (dx, mut dw) = kernels::conv_backward(kind, g, x, &cache.wq, &d);
    if kind == Kind::Adder {
        tm::adder_scale(&mut dw);
    }
    (if need_dx { dx } else { Vec::new() }, dw)
}

fn slice_bn(bn: &BatchNorm, ch: usize) -> BatchNorm {
    let mut s = BatchNorm::new(ch);
    s.gamma.v.copy_from_slice(&bn.gamma.v[..ch]);
    s.beta.v.copy_from_slice(&bn.beta.v[..ch]);
    s.mean.copy_from_slice(&bn.mean[..ch]);
    s.var.copy_from_slice(&bn.var[..ch]);
    s
}

/// Merges a slice copy's running statistics back (after forward).
fn merge_stats(bn: &mut BatchNorm, s: &BatchNorm) {
    let ch = s.mean.len();
    bn.mean[..ch].copy_from_slice(&s.mean);
    bn.var[..ch].copy_from_slice(&s.var);
}

/// Adds a slice copy's gradients back (after backward).
fn merge_grads(bn: &mut BatchNorm, s: &BatchNorm) {
    for (a, b) in bn.gamma.g.iter_mut().zip(&s.gamma.g) {
        *a += b;
    }
    for (a, b) in bn.beta.g.iter_mut().zip(&s.beta.g) {
        *a += b;
    }
}

impl ConvUnit {
    fn new(kind: Kind, geom: ConvGeom, bn: bool, relu: bool, rng: &mut SplitMix64) -> ConvUnit {
        let gain = if bn { 2.0 } else { 1.0 };
        ConvUnit {
            kind,
            geom,
            w: Param::new(
                tm::he_init(geom.weight_len(), geom.fan_in(), gain, rng),
                true,
            ),
            bn: bn.then(|| BatchNorm::new(geom.c_out)),
            bias: (!bn).then(|| Param::new(vec![0.0; geom.c_out], false)),
            relu,
        }
    }

    fn forward(&mut self, x: &[f32], mode: Mode) -> (Vec<f32>, UnitCache) {
        let bn = self.bn.as_ref().map(|b| slice_bn(b, self.geom.c_out));
        let (y, c) = unit_forward(
            self.kind,
            &self.geom,
            &self.w.v,
            bn,
            self.bias.as_ref().map(|b| b.v.as_slice()),
            self.relu,
            x,
            mode,
        );
        if let (Some(full), Some(s)) = (self.bn.as_mut(), c.bn.as_ref()) {
            merge_stats(full, s);
        }
        (y, c)
    }

    fn backward(
        &mut self,
        cache: &mut UnitCache,
        x: &[f32],
        d: Vec<f32>,
        mode: Mode,
        need_dx: bool,
    ) -> Vec<f32> {
        let (dx, dw) = unit_backward(
            self.kind,
            &self.geom,
            cache,
            x,
            d,
            self.bias.as_mut().map(|b| b.g.as_mut_slice()),
            mode,
            need_dx,
        );
        for (a, b) in self.w.g.iter_mut().zip(dw) {
            *a += b;
        }
        if let (Some(full), Some(s)) = (self.bn.as_mut(), cache.bn.as_ref()) {
            merge_grads(full, s);
        }
        dx
    }
}

/// How widely a block's MBConv candidates share weights.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Sharing {
    /// One set per (kind, kernel), shared across expansions (the reference).
    Reference,
    /// One set for multiplier and shift candidates and one for adders,
    /// shared across kernels and expansions.
    Wide,
}

impl Sharing {
    /// The (kind, kernel) whose stored weights a candidate reads.
    fn key(self, kind: Kind, kernel: usize, max_k: usize) -> (Kind, usize) {
        match self {
            Sharing::Reference => (kind, kernel),
            Sharing::Wide => (
                if kind == Kind::Adder {
                    Kind::Adder
                } else {
                    Kind::Conv
                },
                max_k,
            ),
        }
    }
}

/// The shared weights of the candidates of one key in a block.
#[derive(Debug, Clone)]
pub struct SharedMb {
    /// The kind whose quantiser trains these weights: the candidates' own
    /// kind, or `Conv` for the shared multiplier and shift set.
    pub family: Kind,
    /// Kernel of the stored depthwise weights (smaller kernels use the centre).
    pub max_k: usize,
    pub max_e: usize,
    pub w_exp: Param,
    pub bn1: BatchNorm,
    pub w_dw: Param,
    pub bn2: BatchNorm,
    pub w_proj: Param,
    pub bn3: BatchNorm,
}

/// Caches of one sampled MBConv path.
#[derive(Debug, Clone)]
struct MbCache {
    kind: Kind,
    kernel: usize,
    e: usize,
    a1: Vec<f32>,
    a2: Vec<f32>,
    c1: UnitCache,
    c2: UnitCache,
    c3: UnitCache,
}

/// One searchable block.
#[derive(Debug, Clone)]
pub struct Block {
    pub c_in: usize,
    pub c_out: usize,
    pub stride: usize,
    pub h: usize,
    pub w: usize,
    pub candidates: Vec<Candidate>,
    pub shared: Vec<SharedMb>,
    pub sharing: Sharing,
    /// Largest kernel of the space.
    pub max_k: usize,
    /// 1x1 conv for a skip candidate that changes shape.
    pub skip_conv: Option<ConvUnit>,
    pub alpha: Vec<f32>,
    pub adam_m: Vec<f32>,
    pub adam_v: Vec<f32>,
}

impl Block {
    fn geoms(&self, e: usize, kernel: usize) -> (ConvGeom, ConvGeom, ConvGeom) {
        let ce = self.c_in * e;
        let g1 = ConvGeom {
            c_in: self.c_in,
            h: self.h,
            w: self.w,
            c_out: ce,
            kh: 1,
            kw: 1,
            stride: 1,
            pad: 0,
            depthwise: false,
        };
        let g2 = ConvGeom {
            c_in: ce,
            h: self.h,
            w: self.w,
            c_out: ce,
            kh: kernel,
            kw: kernel,
            stride: self.stride,
            pad: kernel / 2,
            depthwise: true,
        };
        let g3 = ConvGeom {
            c_in: ce,
            h: g2.oh(),
            w: g2.ow(),
            c_out: self.c_out,
            kh: 1,
            kw: 1,
            stride: 1,
            pad: 0,
            depthwise: false,
        };
        (g1, g2, g3)
    }

    pub fn out_hw(&self) -> (usize, usize) {
        (
            (self.h - 1) / self.stride + 1,
            (self.w - 1) / self.stride + 1,
        )
    }

    fn residual(&self) -> bool {
        self.c_in == self.c_out && self.stride == 1
    }

    fn shared_index(&self, kind: Kind, kernel: usize) -> usize {
        let key = self.sharing.key(kind, kernel, self.max_k);
        self.shared
            .iter()
            .position(|s| (s.family, s.max_k) == key)
            .expect("every MBConv candidate has shared weights")
    }

    fn mb_forward(
        &mut self,
        si: usize,
        kind: Kind,
        kernel: usize,
        e: usize,
        x: &[f32],
        mode: Mode,
    ) -> (Vec<f32>, MbCache) {
        let (g1, g2, g3) = self.geoms(e, kernel);
        let residual = self.residual();
        let (c_in, c_out) = (self.c_in, self.c_out);
        let s = &mut self.shared[si];
        let ce = c_in * e;
        let w_dw = centre(&s.w_dw.v[..ce * s.max_k * s.max_k], s.max_k, kernel);
        let (a1, c1) = unit_forward(
            kind,
            &g1,
            &s.w_exp.v[..ce * c_in],
            Some(slice_bn(&s.bn1, ce)),
            None,
            true,
            x,
            mode,
        );
        merge_stats(&mut s.bn1, c1.bn.as_ref().expect("bn"));
        let (a2, c2) = unit_forward(
            kind,
            &g2,
            &w_dw,
            Some(slice_bn(&s.bn2, ce)),
            None,
            true,
            &a1,
            mode,
        );
        merge_stats(&mut s.bn2, c2.bn.as_ref().expect("bn"));
        let full = c_in * s.max_e;
        let w_proj: Vec<f32> = (0..c_out)
            .flat_map(|o| s.w_proj.v[o * full..o * full + ce].iter().copied())
            .collect();
        let (mut y, c3) = unit_forward(
            kind,
            &g3,
            &w_proj,
            Some(slice_bn(&s.bn3, c_out)),
            None,
            false,
            &a2,
            mode,
        );
        merge_stats(&mut s.bn3, c3.bn.as_ref().expect("bn"));
        if residual {
            for (a, b) in y.iter_mut().zip(x) {
                *a += b;
            }
        }
        (
            y,
            MbCache {
                kind,
                kernel,
                e,
                a1,
                a2,
                c1,
                c2,
                c3,
            },
        )
    }

    fn mb_backward(
        &mut self,
        si: usize,
        cache: &mut MbCache,
        x: &[f32],
        d: Vec<f32>,
        mode: Mode,
    ) -> Vec<f32> {
        let (kind, kernel, e) = (cache.kind, cache.kernel, cache.e);
        let (g1, g2, g3) = self.geoms(e, kernel);
        let residual = self.residual();
        let (c_in, c_out) = (self.c_in, self.c_out);
        let s = &mut self.shared[si];
        let ce = c_in * e;
        let full = c_in * s.max_e;
        let dres = residual.then(|| d.clone());
        let (da2, dw3) = unit_backward(kind, &g3, &mut cache.c3, &cache.a2, d, None, mode, true);
        merge_grads(&mut s.bn3, cache.c3.bn.as_ref().expect("bn"));
        for o in 0..c_out {
            for i in 0..ce {
                s.w_proj.g[o * full + i] += dw3[o * ce + i];
            }
        }
        let (da1, dw2) = unit_backward(kind, &g2, &mut cache.c2, &cache.a1, da2, None, mode, true);
        merge_grads(&mut s.bn2, cache.c2.bn.as_ref().expect("bn"));
        let (mk, off) = (s.max_k, (s.max_k - kernel) / 2);
        for (c, g) in dw2.chunks(kernel * kernel).enumerate() {
            for (i, &v) in g.iter().enumerate() {
                s.w_dw.g[c * mk * mk + (off + i / kernel) * mk + off + i % kernel] += v;
            }
        }
        let (mut dx, dw1) = unit_backward(kind, &g1, &mut cache.c1, x, da1, None, mode, true);
        merge_grads(&mut s.bn1, cache.c1.bn.as_ref().expect("bn"));
        for (a, b) in s.w_exp.g[..ce * c_in].iter_mut().zip(dw1) {
            *a += b;
        }
        if let Some(r) = dres {
            for (a, b) in dx.iter_mut().zip(r) {
                *a += b;
            }
        }
        dx
    }
}

/// The centre `k x k` taps of every channel's `max_k x max_k` kernel.
fn centre(w: &[f32], max_k: usize, k: usize) -> Vec<f32> {
    let off = (max_k - k) / 2;
    w.chunks(max_k * max_k)
        .flat_map(|c| (0..k * k).map(move |i| c[(off + i / k) * max_k + off + i % k]))
        .collect()
}

/// Cache of one sampled path of a block.
#[derive(Debug, Clone)]
enum PathCache {
    Mb { shared: usize, cache: Box<MbCache> },
    Identity,
    SkipConv(Box<UnitCache>),
}

/// One sampled path of a block and its mixing weight.
#[derive(Debug, Clone)]
struct Sampled {
    candidate: usize,
    weight: f32,
    out: Vec<f32>,
    cache: PathCache,
}

#[derive(Debug, Clone)]
pub struct Supernet {
    pub stem: ConvUnit,
    pub blocks: Vec<Block>,
    pub fc: ConvUnit,
    pub classes: usize,
    acts: Vec<Vec<f32>>,
    stem_cache: Option<UnitCache>,
    fc_cache: Option<UnitCache>,
    fc_in: Vec<f32>,
    sampled: Vec<Vec<Sampled>>,
}

impl Supernet {
    pub fn new(space: &Space, seed: u64, sharing: Sharing) -> Supernet {
        let mut rng = SplitMix64::new(seed ^ 0x7375_7065_726e_6574);
        let (c, h, w) = space.input;
        let stem = ConvUnit::new(
            Kind::Conv,
            ConvGeom {
                c_in: c,
                h,
                w,
                c_out: space.stem_channels,
                kh: 3,
                kw: 3,
                stride: 1,
                pad: 1,
                depthwise: false,
            },
            true,
            true,
            &mut rng,
        );
        let mut blocks = Vec::new();
        let (mut ch, mut hh, mut ww) = (space.stem_channels, h, w);
        for (bi, spec) in space.blocks().iter().enumerate() {
            let candidates = space.candidates(bi);
            let mut shared: Vec<SharedMb> = Vec::new();
            let max_k = space.kernels.iter().copied().max().unwrap_or(3);
            for cand in &candidates {
                if let Candidate::Mb { kind, kernel, .. } = *cand {
                    let (kind, max_k) = sharing.key(kind, kernel, max_k);
                    if shared.iter().any(|s| (s.family, s.max_k) == (kind, max_k)) {
                        continue;
                    }
                    let max_e = space.max_expansion();
                    let ce = ch * max_e;
                    let gain = 2.0;
                    shared.push(SharedMb {
                        family: kind,
                        max_k,
                        max_e,
                        w_exp: Param::weights(tm::he_init(ce * ch, ch, gain, &mut rng), kind),
                        bn1: BatchNorm::new(ce),
                        w_dw: Param::weights(
                            tm::he_init(ce * max_k * max_k, max_k * max_k, gain, &mut rng),
                            kind,
                        ),
                        bn2: BatchNorm::new(ce),
                        w_proj: Param::weights(
                            tm::he_init(spec.channels * ce, ce, 1.0, &mut rng),
                            kind,
                        ),
                        bn3: BatchNorm::new(spec.channels),
                    });
                }
            }
            let needs_conv = ch != spec.channels || spec.stride != 1;
            let skip_conv = (needs_conv && candidates.contains(&Candidate::Skip)).then(|| {
                ConvUnit::new(
                    Kind::Conv,
                    ConvGeom {
                        c_in: ch,
                        h: hh,
                        w: ww,
                        c_out: spec.channels,
                        kh: 1,
                        kw: 1,
                        stride: spec.stride,
                        pad: 0,
                        depthwise: false,
                    },
                    true,
                    true,
                    &mut rng,
                )
            });
            let n = candidates.len();
            let block = Block {
                c_in: ch,
                c_out: spec.channels,
                stride: spec.stride,
                h: hh,
                w: ww,
                candidates,
                shared,
                sharing,
                max_k,
                skip_conv,
                alpha: vec![1e-3; n],
                adam_m: vec![0.0; n],
                adam_v: vec![0.0; n],
            };
            (hh, ww) = block.out_hw();
            ch = spec.channels;
            blocks.push(block);
        }
        let fc = ConvUnit::new(
            Kind::Conv,
            ConvGeom {
                c_in: ch,
                h: 1,
                w: 1,
                c_out: space.classes,
                kh: 1,
                kw: 1,
                stride: 1,
                pad: 0,
                depthwise: false,
            },
            false,
            false,
            &mut rng,
        );
        Supernet {
            stem,
            blocks,
            fc,
            classes: space.classes,
            acts: Vec::new(),
            stem_cache: None,
            fc_cache: None,
            fc_in: Vec::new(),
            sampled: Vec::new(),
        }
    }

    /// Forward with, per block, the sampled candidates and their mixing weights.
    pub fn forward(&mut self, x: Vec<f32>, paths: &[Vec<(usize, f32)>], mode: Mode) -> Vec<f32> {
        let (y, c) = self.stem.forward(&x, mode);
        self.stem_cache = Some(c);
        self.acts = vec![x, y];
        self.sampled.clear();
        for (bi, block_paths) in paths.iter().enumerate() {
            let xin = self.acts.last().expect("input").clone();
            let mut mixed: Option<Vec<f32>> = None;
            let mut samples = Vec::new();
            for &(ci, weight) in block_paths {
                let block = &mut self.blocks[bi];
                let (out, cache) = match block.candidates[ci] {
                    Candidate::Mb {
                        kind,
                        kernel,
                        expand,
                    } => {
                        let si = block.shared_index(kind, kernel);
                        let (o, c) = block.mb_forward(si, kind, kernel, expand, &xin, mode);
                        (
                            o,
                            PathCache::Mb {
                                shared: si,
                                cache: Box::new(c),
                            },
                        )
                    }
                    Candidate::Skip => match block.skip_conv.as_mut() {
                        Some(u) => {
                            let (o, c) = u.forward(&xin, mode);
                            (o, PathCache::SkipConv(Box::new(c)))
                        }
                        None => (xin.clone(), PathCache::Identity),
                    },
                };
                match &mut mixed {
                    None => mixed = Some(out.iter().map(|v| v * weight).collect()),
                    Some(m) => m.iter_mut().zip(&out).for_each(|(a, b)| *a += weight * b),
                }
                samples.push(Sampled {
                    candidate: ci,
                    weight,
                    out,
                    cache,
                });
            }
            self.sampled.push(samples);
            self.acts.push(mixed.expect("at least one path per block"));
        }
        // Global average pooling, then the classifier.
        let last = self.acts.last().expect("features");
        let b = self
            .blocks
            .last()
            .map(|b| (b.c_out, b.out_hw()))
            .unwrap_or((
                self.stem.geom.c_out,
                (self.stem.geom.oh(), self.stem.geom.ow()),
            ));
        let (ch, (hh, ww)) = b;
        let hw = hh * ww;
        let n = last.len() / (ch * hw);
        let pooled: Vec<f32> = last
            .chunks(hw)
            .map(|c| c.iter().sum::<f32>() / hw as f32)
            .collect();
        debug_assert_eq!(pooled.len(), n * ch);
        let (logits, c) = self.fc.forward(&pooled, mode);
        self.fc_cache = Some(c);
        self.fc_in = pooled;
        logits
    }

    /// Backward of the last forward: accumulates weight gradients and
    /// returns, per block and sampled path, `<dL/dy_block, path output>`
    /// (the gradient with respect to the path's mixing weight).
    pub fn backward(&mut self, dlogits: Vec<f32>, mode: Mode) -> Vec<Vec<f64>> {
        let mut fc_cache = self.fc_cache.take().expect("forward before backward");
        let fc_in = std::mem::take(&mut self.fc_in);
        let dpooled = self.fc.backward(&mut fc_cache, &fc_in, dlogits, mode, true);
        let (ch, (hh, ww)) = self
            .blocks
            .last()
            .map(|b| (b.c_out, b.out_hw()))
            .unwrap_or((
                self.stem.geom.c_out,
                (self.stem.geom.oh(), self.stem.geom.ow()),
            ));
        let hw = hh * ww;
        let _ = ch;
        let mut d: Vec<f32> = dpooled
            .iter()
            .flat_map(|&v| std::iter::repeat_n(v / hw as f32, hw))
            .collect();
        let mut dweights = vec![Vec::new(); self.blocks.len()];
        for bi in (0..self.blocks.len()).rev() {
            let xin = self.acts[bi + 1].clone();
            let mut samples = std::mem::take(&mut self.sampled[bi]);
            let mut dx = vec![0f32; xin.len()];
            let mut dws = Vec::new();
            for s in samples.iter_mut() {
                dws.push(
                    d.iter()
                        .zip(&s.out)
                        .map(|(a, b)| *a as f64 * *b as f64)
                        .sum::<f64>(),
                );
                let dpath: Vec<f32> = d.iter().map(|v| v * s.weight).collect();
                let block = &mut self.blocks[bi];
                let g = match &mut s.cache {
                    PathCache::Mb { shared, cache } => {
                        block.mb_backward(*shared, cache, &xin, dpath, mode)
                    }
                    PathCache::Identity => dpath,
                    PathCache::SkipConv(c) => block
                        .skip_conv
                        .as_mut()
                        .expect("skip conv")
                        .backward(c, &xin, dpath, mode, true),
                };
                dx.iter_mut().zip(g).for_each(|(a, b)| *a += b);
                let _ = s.candidate;
            }
            dweights[bi] = dws;
            d = dx;
        }
        let mut stem_cache = self.stem_cache.take().expect("stem cache");
        let x0 = self.acts[0].clone();
        self.stem.backward(&mut stem_cache, &x0, d, mode, false);
        dweights
    }

    /// Every weight parameter with the kind of the candidate it belongs to
    /// (`None`: stem, skip convolutions, classifier), in a fixed order.
    pub fn params_mut(&mut self) -> Vec<(String, Option<Kind>, &mut Param)> {
        let mut out: Vec<(String, Option<Kind>, &mut Param)> = Vec::new();
        let unit = |name: String, u: &mut ConvUnit| -> Vec<(String, Option<Kind>, *mut Param)> {
            let mut v: Vec<(String, Option<Kind>, *mut Param)> =
                vec![(format!("{name}.w"), None, &mut u.w)];
            if let Some(bn) = u.bn.as_mut() {
                v.push((format!("{name}.gamma"), None, &mut bn.gamma));
                v.push((format!("{name}.beta"), None, &mut bn.beta));
            }
            if let Some(b) = u.bias.as_mut() {
                v.push((format!("{name}.bias"), None, b));
            }
            v
        };
        let mut raw: Vec<(String, Option<Kind>, *mut Param)> = unit("stem".into(), &mut self.stem);
        for (bi, b) in self.blocks.iter_mut().enumerate() {
            for s in b.shared.iter_mut() {
                let p = format!("b{bi}.{}{}", s.family, s.max_k);
                let k = Some(s.family);
                raw.push((format!("{p}.exp"), k, &mut s.w_exp));
                raw.push((format!("{p}.bn1.gamma"), k, &mut s.bn1.gamma));
                raw.push((format!("{p}.bn1.beta"), k, &mut s.bn1.beta));
                raw.push((format!("{p}.dw"), k, &mut s.w_dw));
                raw.push((format!("{p}.bn2.gamma"), k, &mut s.bn2.gamma));
                raw.push((format!("{p}.bn2.beta"), k, &mut s.bn2.beta));
                raw.push((format!("{p}.proj"), k, &mut s.w_proj));
                raw.push((format!("{p}.bn3.gamma"), k, &mut s.bn3.gamma));
                raw.push((format!("{p}.bn3.beta"), k, &mut s.bn3.beta));
            }
            if let Some(u) = b.skip_conv.as_mut() {
                raw.extend(unit(format!("b{bi}.skip"), u));
            }
        }
        raw.extend(unit("fc".into(), &mut self.fc));
        for (name, kind, p) in raw {
            // SAFETY: every pointer above comes from a distinct field of
            // `self`, which stays mutably borrowed for the result's lifetime.
            out.push((name, kind, unsafe { &mut *p }));
        }
        out
    }

    /// Running BatchNorm statistics, by name (for checkpoints).
    pub fn bn_stats_mut(&mut self) -> Vec<(String, &mut Vec<f32>)> {
        let mut out = Vec::new();
        if let Some(bn) = self.stem.bn.as_mut() {
            out.push(("stem.mean".to_string(), &mut bn.mean));
            out.push(("stem.var".to_string(), &mut bn.var));
        }
        for (bi, b) in self.blocks.iter_mut().enumerate() {
            for s in b.shared.iter_mut() {
                let p = format!("b{bi}.{}{}", s.family, s.max_k);
                for (i, bn) in [&mut s.bn1, &mut s.bn2, &mut s.bn3].into_iter().enumerate() {
                    out.push((format!("{p}.bn{}.mean", i + 1), &mut bn.mean));
                    out.push((format!("{p}.bn{}.var", i + 1), &mut bn.var));
                }
            }
            if let Some(bn) = b.skip_conv.as_mut().and_then(|u| u.bn.as_mut()) {
                out.push((format!("b{bi}.skip.mean"), &mut bn.mean));
                out.push((format!("b{bi}.skip.var"), &mut bn.var));
            }
        }
        out
    }
}
