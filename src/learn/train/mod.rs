//! Training of a network description on a labelled data set: float
//! training, calibration of the activation scales, quantisation-aware
//! training, and export of the integer network (`nasa train`).
//!
//! The engine is this crate's own (see ARCHITECTURE.md for why): batched f32
//! kernels in `kernels`, a layer graph with hand-written backward passes in
//! `model`, weight quantisers in `wquant`, export in `export`.
//!
//! Determinism: every random choice (initial weights, order, augmentation)
//! comes from [`SplitMix64`] streams derived from the seed and the epoch, and
//! every reduction has a fixed order, so the same inputs and seed give
//! byte-identical outputs, and a run resumed from a checkpoint ends exactly
//! where the uninterrupted run does.

pub mod export;
pub mod kernels;
pub mod model;
pub mod wquant;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use rayon::prelude::*;
use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};

use crate::model::data::Dataset;
use crate::model::eval;
use crate::model::fsutil;
use crate::model::net::Network;
use crate::model::rng::SplitMix64;

use model::{Mode, Model, NodeOp, Post};

/// Hyper-parameters of one training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainOptions {
    /// Float epochs (batch statistics, float weights except shift).
    pub epochs: usize,
    /// Quantisation-aware epochs after calibration.
    pub qat_epochs: usize,
    pub batch: usize,
    /// Peak learning rate of the float phase (cosine to 1% of it).
    pub lr: f32,
    /// Learning rate at the start of the quantised phase (cosine to 0).
    pub qat_lr: f32,
    pub momentum: f32,
    pub weight_decay: f32,
    /// Global gradient-norm clip.
    pub clip: f32,
    pub seed: u64,
    /// Random 2-pixel shifts and horizontal flips.
    pub augment: bool,
    /// Use only the first N training / test images (0: all).
    pub train_limit: usize,
    pub test_limit: usize,
    /// Weight of the distillation term (0: none): the loss is
    /// `(1 - distill) * CE + distill * T^2 * KL(teacher_T || student_T)`.
    #[serde(default)]
    pub distill: f32,
    /// Temperature `T` of the distillation term.
    #[serde(default = "default_temperature")]
    pub temperature: f32,
    /// SHA-256 of the teacher's weights (`None`: no teacher).
    #[serde(default)]
    pub teacher: Option<String>,
    /// Before the quantised phase, set BatchNorm statistics from this many
    /// training images ([`precise_bn`]; 0: keep the running averages).
    #[serde(default)]
    pub precise_bn: usize,
}

fn default_temperature() -> f32 {
    4.0
}

impl TrainOptions {
    /// Completes options given on a command line and checks them: the
    /// quantised phase's learning rate defaults to a tenth of `lr`; the
    /// distillation weight must lie in (0, 1] and needs a teacher, whose
    /// weights' hash is recorded (default 0.5 with one, 0 without); the
    /// temperature must be positive.
    pub fn resolve(
        &mut self,
        qat_lr: Option<f32>,
        distill: Option<f32>,
        teacher: Option<&Network>,
    ) -> Result<()> {
        self.qat_lr = qat_lr.unwrap_or(self.lr / 10.0);
        self.distill = match (distill, teacher) {
            (Some(_), None) => bail!("--distill needs --teacher"),
            (Some(a), Some(_)) if !(a > 0.0 && a <= 1.0) => {
                bail!("--distill must lie in (0, 1], not {a}")
            }
            (Some(a), Some(_)) => a,
            (None, Some(_)) => 0.5,
            (None, None) => 0.0,
        };
        let t = self.temperature;
        if !(t.is_finite() && t > 0.0) {
            bail!("--temperature must be a positive number, not {t}");
        }
        self.teacher = teacher.and_then(|t| t.provenance.weights_sha256.clone());
        Ok(())
    }
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 12,
            qat_epochs: 2,
            batch: 128,
            lr: 0.1,
            qat_lr: 0.01,
            momentum: 0.9,
            weight_decay: 5e-4,
            clip: 5.0,
            seed: 1,
            augment: true,
            train_limit: 0,
            test_limit: 0,
            distill: 0.0,
            temperature: default_temperature(),
            teacher: None,
            precise_bn: 0,
        }
    }
}

/// One line of the epoch log (`log.csv`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EpochLog {
    pub epoch: usize,
    pub phase: String,
    pub lr: f32,
    pub train_loss: f64,
    pub train_accuracy: f64,
    /// Accuracy of the model (fake-quantised in the quantised phase) on the test images.
    pub test_accuracy: f64,
    pub seconds: f64,
    pub images_per_second: f64,
}

/// What a finished run reports (`summary.json`).
#[derive(Debug, Clone, Serialize)]
pub struct TrainSummary {
    pub network: String,
    pub out: PathBuf,
    pub epochs: usize,
    pub qat_epochs: usize,
    pub train_images: usize,
    pub test_images: usize,
    /// Golden-model (integer) top-1 accuracy of the exported files on the
    /// test images: what `nasa eval` reports for them.
    pub integer_accuracy: f64,
    /// Accuracy of the fake-quantised float model on the same images.
    pub model_accuracy: f64,
    pub ops_per_kind: BTreeMap<String, u64>,
    /// Compute energy of one inference by the 45 nm unit-energy table (nJ).
    pub compute_energy_nj: f64,
    pub parameters: usize,
    pub seconds: f64,
    pub resumed_from_epoch: Option<usize>,
}

/// Progress callbacks (the CLI draws bars; tests pass no-ops).
pub trait Progress: Sync {
    fn epoch_start(&self, _epoch: usize, _batches: usize) {}
    fn batch_done(&self) {}
    fn epoch_done(&self, _log: &EpochLog) {}
}

/// No progress output.
pub struct Silent;
impl Progress for Silent {}

/// Where a run keeps its state between epochs.
const CHECKPOINT: &str = "checkpoint.safetensors";
const CHECKPOINT_META: &str = "checkpoint.json";
const CHECKPOINT_FORMAT: &str = "nasa-train-checkpoint-1";

#[derive(Debug, Serialize, Deserialize)]
struct CheckpointMeta {
    format: String,
    description_sha256: String,
    options: TrainOptions,
    /// Epochs completed.
    epochs_done: usize,
    log: Vec<EpochLog>,
}

/// Converts pixels to the model's real input (rule I1, times the input scale).
pub(crate) fn input_table(net: &Network) -> [f32; 256] {
    let mut t = [0f32; 256];
    let s = net.input.tensor.scale;
    for (p, v) in t.iter_mut().enumerate() {
        *v = (net.input.quantize_pixel(p as u8) as f64 * s) as f32;
    }
    t
}

/// The input conversion of a description with the default `[input]` table
/// (rule I1 with shift 1, scale 1/127.5), as `nasa search` writes them.
pub(crate) fn default_input_table() -> [f32; 256] {
    let mut t = [0f32; 256];
    for (p, v) in t.iter_mut().enumerate() {
        *v = (((p as i64 + 1) >> 1).min(127) as f64 / 127.5) as f32;
    }
    t
}

/// Builds one batch: real inputs, optionally shifted by up to 2 pixels and
/// flipped horizontally (seeded per batch).
pub(crate) fn make_batch(
    data: &Dataset,
    idx: &[usize],
    table: &[f32; 256],
    augment: Option<u64>,
) -> (Vec<f32>, Vec<u8>) {
    let (c, h, w) = (data.channels, data.height, data.width);
    let size = c * h * w;
    let mut x = vec![0f32; idx.len() * size];
    x.par_chunks_mut(size)
        .zip(idx.par_iter())
        .enumerate()
        .for_each(|(b, (xi, &i))| {
            let img = data.image(i);
            match augment {
                None => {
                    for (o, &p) in xi.iter_mut().zip(img) {
                        *o = table[p as usize];
                    }
                }
                Some(seed) => {
                    let (dy, dx, flip) = augmentation(seed, b);
                    for ch in 0..c {
                        for y in 0..h {
                            for xx in 0..w {
                                let sx = if flip { w - 1 - xx } else { xx } as i64 + dx;
                                let sy = y as i64 + dy;
                                let p = if sy >= 0 && sy < h as i64 && sx >= 0 && sx < w as i64 {
                                    img[(ch * h + sy as usize) * w + sx as usize]
                                } else {
                                    0
                                };
                                xi[(ch * h + y) * w + xx] = table[p as usize];
                            }
                        }
                    }
                }
            }
        });
    let labels = idx.iter().map(|&i| data.labels[i]).collect();
    (x, labels)
}

/// A seeded permutation of `0..n` for `epoch`.
pub(crate) fn permutation(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed ^ 0x7065_726d ^ ((epoch as u64 + 1) << 32));
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.range_i64(0, i as i64) as usize;
        p.swap(i, j);
    }
    p
}

pub(crate) fn cosine(step: usize, total: usize, start: f32, end: f32) -> f32 {
    let t = step as f32 / total.max(1) as f32;
    end + 0.5 * (start - end) * (1.0 + (std::f32::consts::PI * t).cos())
}

/// Top-1 accuracy of the model (in `quant` mode or not) on `data`.
pub fn accuracy(model: &mut Model, data: &Dataset, table: &[f32; 256], quant: bool) -> f64 {
    let mode = Mode {
        train: false,
        quant,
    };
    let classes = model.shapes[model.output].0;
    let mut correct = 0usize;
    let idx: Vec<usize> = (0..data.len()).collect();
    for chunk in idx.chunks(256) {
        let (x, labels) = make_batch(data, chunk, table, None);
        let out = model.forward(x, mode);
        for (i, &l) in labels.iter().enumerate() {
            correct += (crate::model::golden::argmax(&out[i * classes..(i + 1) * classes])
                == l as usize) as usize;
        }
    }
    correct as f64 / data.len().max(1) as f64
}

/// Sets every scale a convolution or add owns to the 99.99th percentile of
/// its magnitudes over `images` training images, divided by 127 (8 bits).
/// Precise BatchNorm statistics: replaces every BatchNorm's running mean
/// and variance (an exponential average over the last few batches, which
/// made the test accuracy swing by up to 2 points between the last float
/// epochs) with the plain average of the batch statistics over the first
/// `images` training images, normalised with batch statistics as in
/// training, without augmentation. The quantised phase freezes these.
pub fn precise_bn(model: &mut Model, data: &Dataset, table: &[f32; 256], images: usize) {
    let idx: Vec<usize> = (0..images.min(data.len())).collect();
    let m = model::BN_MOMENTUM;
    let mut sums: Vec<(Vec<f64>, Vec<f64>)> = Vec::new();
    let mut batches = 0usize;
    for chunk in idx.chunks(128) {
        let before: Vec<(Vec<f32>, Vec<f32>)> = bns(model)
            .map(|bn| (bn.mean.clone(), bn.var.clone()))
            .collect();
        let (x, _) = make_batch(data, chunk, table, None);
        model.forward(
            x,
            Mode {
                train: true,
                quant: false,
            },
        );
        // The forward pass moved each running statistic by BN_MOMENTUM
        // towards the batch's: recover the batch's and restore the old.
        if sums.is_empty() {
            sums = before
                .iter()
                .map(|(mu, _)| (vec![0.0; mu.len()], vec![0.0; mu.len()]))
                .collect();
        }
        for ((bn, (old_m, old_v)), (sm, sv)) in bns(model).zip(&before).zip(&mut sums) {
            for c in 0..old_m.len() {
                sm[c] += ((bn.mean[c] - (1.0 - m) * old_m[c]) / m) as f64;
                sv[c] += ((bn.var[c] - (1.0 - m) * old_v[c]) / m) as f64;
            }
            bn.mean.clone_from(old_m);
            bn.var.clone_from(old_v);
        }
        batches += 1;
    }
    for (bn, (sm, sv)) in bns(model).zip(&sums) {
        for c in 0..bn.mean.len() {
            bn.mean[c] = (sm[c] / batches as f64) as f32;
            bn.var[c] = ((sv[c] / batches as f64) as f32).max(0.0);
        }
    }
}

/// Every BatchNorm of the model, in node order.
fn bns(model: &mut Model) -> impl Iterator<Item = &mut model::BatchNorm> {
    model
        .nodes
        .iter_mut()
        .filter_map(|node| match &mut node.op {
            NodeOp::Conv(c) => match &mut c.post {
                Post::Bn(bn) => Some(bn),
                Post::Bias(_) => None,
            },
            _ => None,
        })
}

pub fn calibrate(model: &mut Model, data: &Dataset, table: &[f32; 256], images: usize) {
    let idx: Vec<usize> = (0..images.min(data.len())).collect();
    let mut samples: Vec<Vec<f32>> = vec![Vec::new(); model.shapes.len()];
    for chunk in idx.chunks(128) {
        let (x, _) = make_batch(data, chunk, table, None);
        model.forward(
            x,
            Mode {
                train: false,
                quant: false,
            },
        );
        for (id, s) in samples.iter_mut().enumerate() {
            if model.owns_scale(id) {
                let a = &model.acts[id];
                // At most 4096 values per tensor and batch, evenly spaced.
                let step = (a.len() / 4096).max(1);
                s.extend(a.iter().step_by(step).map(|v| v.abs()));
            }
        }
    }
    for (id, mut s) in samples.into_iter().enumerate() {
        if s.is_empty() {
            continue;
        }
        s.sort_by(|a, b| a.total_cmp(b));
        let q = s[((s.len() - 1) as f64 * 0.9999) as usize];
        let hi = ((1i64 << (model.nodes[id - 1].bits - 1)) - 1) as f32;
        model.scales[id] = if q > 0.0 { q / hi } else { 1.0 / hi };
    }
    // Adder weights share their input's scale (rule W3): widen the scale of
    // the tensor an adder layer reads so that its weights fit too, instead
    // of saturating them.
    for i in 0..model.nodes.len() {
        let NodeOp::Conv(c) = &model.nodes[i].op else {
            continue;
        };
        if c.kind != crate::model::quant::Kind::Adder {
            continue;
        }
        let wmax = c.w.v.iter().fold(0f32, |m, v| m.max(v.abs()));
        let owner = model.scale_owner(model.nodes[i].inputs[0]);
        if owner > 0 {
            let hi = ((1i64 << (c.weight_bits - 1)) - 1) as f32;
            model.scales[owner] = model.scales[owner].max(wmax / hi);
        }
    }
    model.propagate_scales();
}

/// Every buffer of the trainer's state, by name.
fn state_tensors(model: &mut Model) -> Vec<(String, Vec<f32>)> {
    let mut out = Vec::new();
    for (name, p) in model.params_mut() {
        out.push((format!("{name}.v"), p.v.clone()));
        out.push((format!("{name}.mom"), p.mom.clone()));
    }
    for node in &model.nodes {
        if let NodeOp::Conv(c) = &node.op {
            if let Post::Bn(bn) = &c.post {
                out.push((format!("{}.bn.mean", node.name), bn.mean.clone()));
                out.push((format!("{}.bn.var", node.name), bn.var.clone()));
            }
        }
    }
    out.push(("scales".into(), model.scales.clone()));
    out
}

/// Writes named f32 tensors as a safetensors file, atomically.
pub(crate) fn write_tensors(path: &Path, tensors: Vec<(String, Vec<f32>)>) -> Result<()> {
    let bytes: Vec<(String, Vec<u8>, usize)> = tensors
        .into_iter()
        .map(|(n, v)| {
            let len = v.len();
            (
                n,
                v.into_iter().flat_map(|f| f.to_le_bytes()).collect(),
                len,
            )
        })
        .collect();
    let views: Vec<(String, TensorView<'_>)> = bytes
        .iter()
        .map(|(n, b, len)| Ok((n.clone(), TensorView::new(Dtype::F32, vec![*len], b)?)))
        .collect::<Result<_, safetensors::SafeTensorError>>()?;
    let data = safetensors::serialize(views, None)?;
    fsutil::write_atomic(path, &data)
}

/// Reads the named f32 tensors of a file written by [`write_tensors`].
pub(crate) fn read_tensors(path: &Path) -> Result<BTreeMap<String, Vec<f32>>> {
    let bytes = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .with_context(|| format!("{}: not a safetensors file", path.display()))?;
    let mut out = BTreeMap::new();
    for (name, t) in st.tensors() {
        if t.dtype() != Dtype::F32 {
            bail!("{}: tensor `{name}` is not F32", path.display());
        }
        let v = t
            .data()
            .chunks(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        out.insert(name, v);
    }
    Ok(out)
}

/// Takes tensor `name` of length `len` out of a checkpoint's tensors.
pub(crate) fn take_tensor(
    map: &mut BTreeMap<String, Vec<f32>>,
    path: &Path,
    name: &str,
    len: usize,
) -> Result<Vec<f32>> {
    match map.remove(name) {
        Some(v) if v.len() == len => Ok(v),
        Some(_) => bail!("{}: tensor `{name}` has the wrong length", path.display()),
        None => bail!("{}: tensor `{name}` is missing", path.display()),
    }
}

fn save_checkpoint(dir: &Path, model: &mut Model, meta: &CheckpointMeta) -> Result<()> {
    write_tensors(&dir.join(CHECKPOINT), state_tensors(model))?;
    fsutil::write_atomic(
        &dir.join(CHECKPOINT_META),
        serde_json::to_string_pretty(meta)?.as_bytes(),
    )?;
    Ok(())
}

fn load_checkpoint(dir: &Path, model: &mut Model) -> Result<CheckpointMeta> {
    let meta_path = dir.join(CHECKPOINT_META);
    let meta: CheckpointMeta = serde_json::from_slice(
        &std::fs::read(&meta_path).with_context(|| format!("{}", meta_path.display()))?,
    )
    .with_context(|| format!("{}: not a nasa training checkpoint", meta_path.display()))?;
    if meta.format != CHECKPOINT_FORMAT {
        bail!(
            "{}: format `{}`, expected `{CHECKPOINT_FORMAT}`",
            meta_path.display(),
            meta.format
        );
    }
    let path = dir.join(CHECKPOINT);
    let mut map = read_tensors(&path)?;
    for (name, p) in model.params_mut() {
        p.v = take_tensor(&mut map, &path, &format!("{name}.v"), p.v.len())?;
        p.mom = take_tensor(&mut map, &path, &format!("{name}.mom"), p.mom.len())?;
    }
    for node in &mut model.nodes {
        if let NodeOp::Conv(c) = &mut node.op {
            if let Post::Bn(bn) = &mut c.post {
                bn.mean = take_tensor(
                    &mut map,
                    &path,
                    &format!("{}.bn.mean", node.name),
                    bn.mean.len(),
                )?;
                bn.var = take_tensor(
                    &mut map,
                    &path,
                    &format!("{}.bn.var", node.name),
                    bn.var.len(),
                )?;
            }
        }
    }
    model.scales = take_tensor(&mut map, &path, "scales", model.scales.len())?;
    Ok(meta)
}

/// One SGD step with momentum and decoupled-from-BN weight decay, after
/// clipping the global gradient norm.
fn sgd_step(model: &mut Model, lr: f32, o: &TrainOptions) {
    let mut params: Vec<&mut model::Param> =
        model.params_mut().into_iter().map(|(_, p)| p).collect();
    sgd(&mut params, lr, o.momentum, o.weight_decay, o.clip);
}

/// SGD with momentum and weight decay (where the parameter takes it), after
/// clipping the global gradient norm of the `clipped` parameters to `clip`.
pub(crate) fn sgd(
    params: &mut [&mut model::Param],
    lr: f32,
    momentum: f32,
    weight_decay: f32,
    clip: f32,
) {
    let norm = params
        .iter()
        .filter(|p| p.clipped)
        .flat_map(|p| p.g.iter())
        .map(|g| (*g as f64) * (*g as f64))
        .sum::<f64>()
        .sqrt() as f32;
    let factor = if norm > clip { clip / norm } else { 1.0 };
    for p in params.iter_mut() {
        let wd = if p.decay { weight_decay } else { 0.0 };
        let clip = if p.clipped { factor } else { 1.0 };
        for ((v, g), m) in p.v.iter_mut().zip(&p.g).zip(p.mom.iter_mut()) {
            let grad = g * clip + wd * *v;
            *m = momentum * *m + grad;
            *v -= lr * *m;
        }
    }
}

/// A training run: the network, its data and where it writes.
pub struct Run<'a> {
    pub net: &'a Network,
    pub train: &'a Dataset,
    pub test: &'a Dataset,
    pub out: &'a Path,
    pub options: TrainOptions,
    /// Continue from `out`'s checkpoint if there is one.
    pub resume: bool,
    /// Stop (as if interrupted) after this many epochs in total.
    pub stop_after: Option<usize>,
    /// A trained network (integer, as exported) whose outputs the student
    /// learns to match (`options.distill`): in the reference, the
    /// all-multiplier version of the same architecture.
    pub teacher: Option<&'a Network>,
}

/// The shift and flip of one augmented training image (seeded per batch
/// position), shared by `make_batch` and the distillation targets.
fn augmentation(seed: u64, b: usize) -> (i64, i64, bool) {
    let mut rng = SplitMix64::new(seed ^ (b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let dy = rng.range_i64(-2, 2);
    let dx = rng.range_i64(-2, 2);
    let flip = rng.range_i64(0, 1) == 1;
    (dy, dx, flip)
}

/// The teacher's real-valued outputs for the first `n` training images,
/// as they are and flipped horizontally: `[image][flipped][class]`. The
/// integer golden model runs the teacher, so these are the outputs of the
/// network as exported. Shifted images reuse the unshifted image's targets.
fn teacher_targets(teacher: &Network, data: &Dataset, n: usize) -> Vec<f32> {
    let (c, h, w) = (data.channels, data.height, data.width);
    let scale = teacher.output_info().scale as f32;
    let mut out = Vec::new();
    // In chunks: the quantised inputs of all images at once would not fit.
    for first in (0..n).step_by(512) {
        let inputs: Vec<Vec<i64>> = (first..n.min(first + 512))
            .flat_map(|i| {
                let img = data.image(i);
                let mut flipped = vec![0u8; img.len()];
                for ch in 0..c {
                    for y in 0..h {
                        for x in 0..w {
                            flipped[(ch * h + y) * w + x] = img[(ch * h + y) * w + (w - 1 - x)];
                        }
                    }
                }
                [
                    crate::model::golden::quantize_image(teacher, img),
                    crate::model::golden::quantize_image(teacher, &flipped),
                ]
            })
            .collect();
        out.extend(
            crate::model::golden::infer_batch(teacher, &inputs)
                .into_iter()
                .flatten()
                .map(|v| v as f32 * scale),
        );
    }
    out
}

/// Trains, exports and evaluates. Returns `None` if stopped early by `stop_after`.
pub fn train(run: &Run<'_>, progress: &dyn Progress) -> Result<Option<TrainSummary>> {
    let start = Instant::now();
    let o = &run.options;
    if o.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let net = run.net;
    eval::check_compatible(net, run.train)?;
    let mut model = Model::new(net, o.seed).map_err(|e| {
        anyhow::Error::new(
            crate::model::error::InputError::new(&net.provenance.description, e.message)
                .layer(e.layer)
                .field(e.field),
        )
    })?;
    let table = input_table(net);
    std::fs::create_dir_all(run.out).with_context(|| format!("creating {}", run.out.display()))?;

    let mut log: Vec<EpochLog> = Vec::new();
    let mut first = 0;
    let mut resumed = None;
    if run.resume && run.out.join(CHECKPOINT_META).exists() {
        let meta = load_checkpoint(run.out, &mut model)?;
        if meta.description_sha256 != net.provenance.description_sha256 {
            bail!(
                "{}: the checkpoint was made from another network description",
                run.out.join(CHECKPOINT_META).display()
            );
        }
        if &meta.options != o {
            bail!(
                "{}: the checkpoint was made with other training options ({}); rerun with the same ones",
                run.out.join(CHECKPOINT_META).display(),
                serde_json::to_string(&meta.options)?
            );
        }
        first = meta.epochs_done;
        resumed = Some(first);
        log = meta.log;
    }

    let train_n = if o.train_limit > 0 {
        o.train_limit.min(run.train.len())
    } else {
        run.train.len()
    };
    let mut test = run.test.clone();
    if o.test_limit > 0 {
        test.truncate(o.test_limit);
    }
    let classes = model.shapes[model.output].0;
    let targets = match (run.teacher, o.distill > 0.0) {
        (Some(t), true) => {
            let tc = t.output_info().shape.len();
            if tc != classes {
                bail!(
                    "{}: the teacher has {tc} outputs, the network {classes}",
                    t.provenance.description.display()
                );
            }
            eval::check_compatible(t, run.train)?;
            Some(teacher_targets(t, run.train, train_n))
        }
        (None, true) => bail!("distillation needs a teacher network"),
        _ => None,
    };
    let total = o.epochs + o.qat_epochs;
    let batches = train_n.div_ceil(o.batch);
    for epoch in first..total {
        if run.stop_after.is_some_and(|s| epoch >= s) {
            return Ok(None);
        }
        let quant = epoch >= o.epochs;
        if quant && epoch == o.epochs {
            if o.precise_bn > 0 {
                precise_bn(&mut model, run.train, &table, o.precise_bn.min(train_n));
            }
            calibrate(&mut model, run.train, &table, 1024.min(train_n));
        }
        let t0 = Instant::now();
        progress.epoch_start(epoch, batches);
        let order = permutation(train_n, o.seed, epoch);
        let (mut loss_sum, mut correct) = (0f64, 0usize);
        let mode = Mode { train: true, quant };
        let mut lr = 0.0;
        for (b, idx) in order.chunks(o.batch).enumerate() {
            lr = if quant {
                cosine(
                    b + (epoch - o.epochs) * batches,
                    o.qat_epochs * batches,
                    o.qat_lr,
                    0.0,
                )
            } else {
                cosine(b + epoch * batches, o.epochs * batches, o.lr, o.lr * 0.01)
            };
            let aug = o
                .augment
                .then_some(o.seed ^ ((epoch as u64) << 40) ^ ((b as u64) << 8));
            let (x, labels) = make_batch(run.train, idx, &table, aug);
            model.zero_grad();
            let out = model.forward(x, mode);
            let (loss, grad, ok) = match &targets {
                Some(t) => {
                    let rows: Vec<f32> = idx
                        .iter()
                        .enumerate()
                        .flat_map(|(j, &i)| {
                            let flip = aug.is_some_and(|seed| augmentation(seed, j).2);
                            let at = (2 * i + flip as usize) * classes;
                            t[at..at + classes].iter().copied()
                        })
                        .collect();
                    model::distillation(out, &labels, &rows, classes, o.distill, o.temperature)
                }
                None => model::cross_entropy(out, &labels, classes),
            };
            loss_sum += loss * labels.len() as f64;
            correct += ok;
            model.backward(grad, mode);
            sgd_step(&mut model, lr, o);
            progress.batch_done();
        }
        let seconds = t0.elapsed().as_secs_f64();
        let entry = EpochLog {
            epoch,
            phase: if quant { "quantised" } else { "float" }.into(),
            lr,
            train_loss: loss_sum / train_n.max(1) as f64,
            train_accuracy: correct as f64 / train_n.max(1) as f64,
            test_accuracy: accuracy(&mut model, &test, &table, quant),
            seconds,
            images_per_second: train_n as f64 / seconds.max(1e-9),
        };
        progress.epoch_done(&entry);
        log.push(entry);
        let meta = CheckpointMeta {
            format: CHECKPOINT_FORMAT.into(),
            description_sha256: net.provenance.description_sha256.clone(),
            options: o.clone(),
            epochs_done: epoch + 1,
            log: log.clone(),
        };
        save_checkpoint(run.out, &mut model, &meta)?;
        write_log(run.out, &log)?;
    }
    if o.qat_epochs == 0 && first < total.max(1) {
        if o.precise_bn > 0 {
            precise_bn(&mut model, run.train, &table, o.precise_bn.min(train_n));
        }
        calibrate(&mut model, run.train, &table, 1024.min(train_n));
    }

    // Export, then measure the integer accuracy on the files as written.
    let header = format!(
        "# Trained by nasa {} (`nasa train`) from a description with SHA-256 {},\n# options {}.\n",
        env!("CARGO_PKG_VERSION"),
        net.provenance.description_sha256,
        serde_json::to_string(o)?
    );
    let desc_path = run.out.join("network.toml");
    let text = export::description(net, &model, &header)?;
    let (_, bytes) = export::integer_network(&text, &desc_path, &model)?;
    fsutil::write_atomic(&run.out.join("weights.safetensors"), &bytes)?;
    fsutil::write_atomic(&desc_path, text.as_bytes())?;
    let exported = Network::load(&desc_path).map_err(|e| anyhow!("{e}"))?;
    let report = eval::evaluate(&exported, &test, false, &|| {});
    let ops = exported.ops_per_kind();
    let summary = TrainSummary {
        network: exported.name.clone(),
        out: run.out.to_path_buf(),
        epochs: o.epochs,
        qat_epochs: o.qat_epochs,
        train_images: train_n,
        test_images: test.len(),
        integer_accuracy: report.accuracy,
        model_accuracy: accuracy(&mut model, &test, &table, true),
        ops_per_kind: crate::model::quant::Kind::ALL
            .iter()
            .zip(ops)
            .map(|(k, n)| (k.name().to_string(), n))
            .collect(),
        compute_energy_nj: crate::model::cost::network_energy(
            &exported,
            &crate::model::cost::UnitEnergy::default(),
        )
        .1 / 1000.0,
        parameters: exported.parameter_count(),
        seconds: start.elapsed().as_secs_f64(),
        resumed_from_epoch: resumed,
    };
    fsutil::write_atomic(
        &run.out.join("summary.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    Ok(Some(summary))
}

fn write_log(dir: &Path, log: &[EpochLog]) -> Result<()> {
    let mut s = Vec::new();
    writeln!(
        s,
        "epoch,phase,lr,train_loss,train_accuracy,test_accuracy,seconds,images_per_second"
    )?;
    for e in log {
        writeln!(
            s,
            "{},{},{:.6},{:.6},{:.6},{:.6},{:.2},{:.1}",
            e.epoch,
            e.phase,
            e.lr,
            e.train_loss,
            e.train_accuracy,
            e.test_accuracy,
            e.seconds,
            e.images_per_second
        )?;
    }
    fsutil::write_atomic(&dir.join("log.csv"), &s)
}
