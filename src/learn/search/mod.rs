//! Hardware-aware architecture search (`nasa search`): progressive
//! pretraining of the supernet (PGP, section 5 of the reference), then the
//! Gumbel-softmax top-k search of section 4 with a hardware term priced by
//! this project's cost model, then the argmax architecture written as a
//! network description for `nasa train`.
//!
//! Determinism and resumption follow `train`: per-epoch seeded streams,
//! fixed-order reductions, a checkpoint after every epoch.

pub mod space;
pub mod supernet;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::learn::train::{self, model::Mode};
use crate::model::cost::{CostModel, Price, UnitEnergy};
use crate::model::data::Dataset;
use crate::model::fsutil;
use crate::model::quant::Kind;
use crate::model::rng::SplitMix64;

use space::{Candidate, Space, SpaceName};
use supernet::{Sharing, Supernet};

/// Hyper-parameters of a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchOptions {
    /// Progressive pretraining epochs (split 1:1:1:1:2 over the five PGP stages).
    pub pgp_epochs: usize,
    /// Search epochs (weights and architecture parameters alternate).
    pub search_epochs: usize,
    pub batch: usize,
    /// Weight learning rate (SGD, cosine to 1% over all epochs).
    pub lr: f32,
    /// Architecture learning rate (Adam, betas 0.5 / 0.999).
    pub arch_lr: f32,
    /// Paths sampled per block and step.
    pub top_k: usize,
    /// Initial Gumbel temperature, multiplied by `tau_decay` every epoch.
    pub tau: f32,
    pub tau_decay: f32,
    /// Initial weight of the hardware term (energy relative to the largest choice).
    pub lambda: f32,
    /// Compute-energy target per inference in nJ: lambda doubles while the
    /// derived network is above it and halves while it is below 90% of it.
    pub energy_target_nj: Option<f64>,
    /// The base space, scaled by `depth` (blocks per stage) and `width` (channels).
    pub space: SpaceName,
    /// How widely candidates share weights (`wide`, or the reference's).
    pub sharing: Sharing,
    pub depth: f64,
    pub width: f64,
    pub seed: u64,
    /// Use only the first N training images (0: all).
    pub train_limit: usize,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            pgp_epochs: 6,
            search_epochs: 3,
            batch: 128,
            lr: 0.05,
            arch_lr: 3e-4,
            top_k: 2,
            tau: 5.0,
            tau_decay: 0.975,
            lambda: 1.0,
            energy_target_nj: None,
            space: SpaceName::Compact,
            sharing: Sharing::Wide,
            depth: 1.0,
            width: 1.0,
            seed: 1,
            train_limit: 0,
        }
    }
}

/// The PGP stage of an epoch, or the search proper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Conv and shift candidates (largest expansion) and skip, uniform.
    EasyWide,
    /// Conv and shift candidates, every expansion, and skip, uniform.
    EasyAll,
    /// All kinds (largest expansion), only adder weights trained.
    AdderWide,
    /// All kinds and expansions, only adder weights trained.
    AdderAll,
    /// Gumbel top-k over every candidate, every weight trained.
    Mixed,
    /// Weights and architecture parameters, alternating.
    Search,
}

impl Stage {
    pub fn of(epoch: usize, pgp: usize) -> Stage {
        if epoch >= pgp {
            return Stage::Search;
        }
        match (6 * epoch) / pgp.max(1) {
            0 => Stage::EasyWide,
            1 => Stage::EasyAll,
            2 => Stage::AdderWide,
            3 => Stage::AdderAll,
            _ => Stage::Mixed,
        }
    }

    fn allows(self, c: Candidate, max_e: usize) -> bool {
        match (self, c) {
            (_, Candidate::Skip) => true,
            (Stage::EasyWide, Candidate::Mb { kind, expand, .. }) => {
                kind != Kind::Adder && expand == max_e
            }
            (Stage::EasyAll, Candidate::Mb { kind, .. }) => kind != Kind::Adder,
            (Stage::AdderWide, Candidate::Mb { expand, .. }) => expand == max_e,
            _ => true,
        }
    }

    fn trains(self, kind: Option<Kind>) -> bool {
        match self {
            Stage::AdderWide | Stage::AdderAll => kind == Some(Kind::Adder),
            _ => true,
        }
    }
}

/// One line of `search-log.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchLog {
    pub epoch: usize,
    pub stage: Stage,
    pub tau: f32,
    pub lambda: f32,
    pub loss: f64,
    pub accuracy: f64,
    /// Compute energy (nJ) of the argmax network after the epoch.
    pub derived_energy_nj: f64,
    pub derived: String,
    /// The argmax network's cycles and system energy (nJ) by the cost
    /// model that prices whole networks (`--cost mapper`); absent with the
    /// unit table.
    #[serde(default)]
    pub predicted_cycles: Option<u64>,
    #[serde(default)]
    pub predicted_energy_nj: Option<f64>,
    pub seconds: f64,
    pub images_per_second: f64,
}

/// What a finished search reports.
#[derive(Debug, Clone, Serialize)]
pub struct SearchSummary {
    pub blocks: Vec<BlockChoice>,
    pub derived_energy_nj: f64,
    pub all_conv_energy_nj: f64,
    /// What the hardware term charged (`CostModel::describe`).
    pub cost_model: String,
    /// The derived network's cycles and system energy (nJ) by that model,
    /// where it predicts them (`--cost mapper`).
    pub predicted_cycles: Option<u64>,
    pub predicted_energy_nj: Option<f64>,
    pub ops_per_kind: BTreeMap<String, u64>,
    pub arch: String,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BlockChoice {
    pub block: usize,
    pub chosen: String,
    pub probability: f64,
    pub candidates: BTreeMap<String, f64>,
}

pub trait Progress: Sync {
    fn epoch_start(&self, _epoch: usize, _stage: Stage, _batches: usize) {}
    fn batch_done(&self) {}
    fn epoch_done(&self, _log: &SearchLog) {}
}

pub struct Silent;
impl Progress for Silent {}

const CHECKPOINT: &str = "search-checkpoint.safetensors";
const CHECKPOINT_META: &str = "search-checkpoint.json";
const FORMAT: &str = "nasa-search-checkpoint-1";

#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    format: String,
    options: SearchOptions,
    epochs_done: usize,
    lambda: f32,
    log: Vec<SearchLog>,
    /// `CostModel::describe` of the hardware term.
    #[serde(default = "unit_cost_name")]
    cost: String,
}

fn unit_cost_name() -> String {
    UnitEnergy::default().describe()
}

/// Softmax probabilities of a block's alphas.
fn probabilities(alpha: &[f32]) -> Vec<f64> {
    let max = alpha.iter().fold(f32::NEG_INFINITY, |m, &a| m.max(a)) as f64;
    let e: Vec<f64> = alpha.iter().map(|&a| (a as f64 - max).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// Compute energy (pJ) of every candidate of every block.
fn candidate_energy(space: &Space, cost: &dyn CostModel) -> Vec<Vec<f64>> {
    (0..space.blocks().len())
        .map(|b| {
            space
                .candidates(b)
                .iter()
                .map(|&c| match space.candidate_ops(b, c) {
                    (Some(kind), ops) => cost.compute_energy(kind, 8, ops),
                    (None, _) => 0.0,
                })
                .collect()
        })
        .collect()
}

/// The argmax candidate of each block.
pub fn derive(net: &Supernet) -> Vec<Candidate> {
    net.blocks
        .iter()
        .map(|b| {
            let best = b
                .alpha
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |m, (i, &a)| if a > m.1 { (i, a) } else { m },
                );
            b.candidates[best.0]
        })
        .collect()
}

/// Per block: sampled candidate indices with mixing weights, and the
/// Gumbel-softmax weights needed for the architecture gradient.
fn sample(
    net: &Supernet,
    stage: Stage,
    max_e: usize,
    top_k: usize,
    tau: f32,
    rng: &mut SplitMix64,
) -> Vec<Vec<(usize, f32)>> {
    net.blocks
        .iter()
        .map(|b| {
            if matches!(stage, Stage::Mixed | Stage::Search) {
                let mut h: Vec<(usize, f32)> = b
                    .alpha
                    .iter()
                    .enumerate()
                    .map(|(i, &a)| {
                        let u = rng.unit_f64().clamp(1e-12, 1.0 - 1e-12);
                        let g = -(-u.ln()).ln() as f32;
                        (i, (a + g) / tau)
                    })
                    .collect();
                h.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
                h.truncate(top_k.max(1));
                let max = h[0].1;
                let s: f32 = h.iter().map(|(_, v)| (v - max).exp()).sum();
                h.iter().map(|&(i, v)| (i, (v - max).exp() / s)).collect()
            } else {
                let allowed: Vec<usize> = (0..b.candidates.len())
                    .filter(|&i| stage.allows(b.candidates[i], max_e))
                    .collect();
                let pick = allowed[rng.range_i64(0, allowed.len() as i64 - 1) as usize];
                vec![(pick, 1.0)]
            }
        })
        .collect()
}

fn checkpoint_tensors(net: &mut Supernet) -> Vec<(String, Vec<f32>)> {
    let mut out = Vec::new();
    for (name, _, p) in net.params_mut() {
        out.push((format!("{name}.v"), p.v.clone()));
        out.push((format!("{name}.mom"), p.mom.clone()));
    }
    for (name, v) in net.bn_stats_mut() {
        out.push((name, v.clone()));
    }
    for (bi, b) in net.blocks.iter().enumerate() {
        out.push((format!("b{bi}.alpha"), b.alpha.clone()));
        out.push((format!("b{bi}.adam_m"), b.adam_m.clone()));
        out.push((format!("b{bi}.adam_v"), b.adam_v.clone()));
    }
    out
}

fn restore(net: &mut Supernet, path: &Path) -> Result<()> {
    let mut map = train::read_tensors(path)?;
    for (name, _, p) in net.params_mut() {
        p.v = train::take_tensor(&mut map, path, &format!("{name}.v"), p.v.len())?;
        p.mom = train::take_tensor(&mut map, path, &format!("{name}.mom"), p.mom.len())?;
    }
    for (name, v) in net.bn_stats_mut() {
        *v = train::take_tensor(&mut map, path, &name, v.len())?;
    }
    for (bi, b) in net.blocks.iter_mut().enumerate() {
        let n = b.alpha.len();
        b.alpha = train::take_tensor(&mut map, path, &format!("b{bi}.alpha"), n)?;
        b.adam_m = train::take_tensor(&mut map, path, &format!("b{bi}.adam_m"), n)?;
        b.adam_v = train::take_tensor(&mut map, path, &format!("b{bi}.adam_v"), n)?;
    }
    Ok(())
}

/// A search run.
pub struct SearchRun<'a> {
    pub train: &'a Dataset,
    pub out: &'a Path,
    pub options: SearchOptions,
    pub resume: bool,
    pub stop_after: Option<usize>,
    /// Prices whole networks for the hardware term (`--cost mapper`):
    /// each candidate of a block is charged what the argmax network costs
    /// with that candidate in the block, less what the argmax costs.
    /// `None`: the unit table's compute energy of each candidate alone.
    pub hardware: Option<&'a dyn CostModel>,
}

/// The network of one candidate per block, parsed as `nasa train` would
/// read it, priced by `model`.
fn price_choice(space: &Space, choice: &[Candidate], model: &dyn CostModel) -> Result<Price> {
    let text = space.describe("priced", choice, "");
    let named = choice
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let net = crate::model::net::Network::parse(&text, Path::new("<searched network>"))
        .map_err(|e| anyhow!("the search space described an invalid network ({named}): {e}"))?;
    model.price(&net).map_err(|e| {
        anyhow!(
            "{}: cannot price the network {named}: {e}",
            model.describe()
        )
    })
}

/// The hardware term of every candidate of every block around the argmax
/// `choice`: the price of `choice` with that candidate in the block, less
/// the price of `choice` (so the argmax's own candidates cost 0), and the
/// argmax's price.
fn network_table(
    space: &Space,
    choice: &[Candidate],
    model: &dyn CostModel,
) -> Result<(Vec<Vec<f64>>, Price)> {
    use rayon::prelude::*;
    let derived = price_choice(space, choice, model)?;
    // Every (block, candidate) priced in parallel, collected in order.
    let jobs: Vec<(usize, Candidate)> = (0..choice.len())
        .flat_map(|b| space.candidates(b).into_iter().map(move |c| (b, c)))
        .collect();
    let costs = jobs
        .par_iter()
        .map(|&(b, c)| {
            if c == choice[b] {
                return Ok(0.0);
            }
            let mut other = choice.to_vec();
            other[b] = c;
            Ok(price_choice(space, &other, model)?.cost - derived.cost)
        })
        .collect::<Result<Vec<f64>>>()?;
    let mut table: Vec<Vec<f64>> = vec![Vec::new(); choice.len()];
    for (&(b, _), v) in jobs.iter().zip(costs) {
        table[b].push(v);
    }
    Ok((table, derived))
}

/// Runs PGP and the search, writes `arch.toml` (with its all-multiplier
/// twin `arch-conv.toml`), `search.json` and
/// `search-log.csv` into the output directory. `None` if stopped early.
pub fn search(run: &SearchRun<'_>, progress: &dyn Progress) -> Result<Option<SearchSummary>> {
    let start = std::time::Instant::now();
    let o = &run.options;
    if o.batch == 0 || o.top_k == 0 {
        bail!("--batch and --top-k must be at least 1");
    }
    if !(o.depth > 0.0 && o.width > 0.0) {
        bail!("--depth and --width must be positive");
    }
    let data = run.train;
    let space = Space::for_dataset(data.kind, o.space, o.depth, o.width);
    let max_e = space.max_expansion();
    let cost = UnitEnergy::default();
    let energy = candidate_energy(&space, &cost);
    let fixed = cost.compute_energy(Kind::Conv, 8, space.fixed_ops());
    let unit_ref: f64 = energy
        .iter()
        .map(|b| b.iter().cloned().fold(0.0, f64::max))
        .sum::<f64>()
        .max(1.0);
    let cost_name = run.hardware.map_or_else(unit_cost_name, |m| m.describe());
    // The hardware term's scale: what the largest choice costs (the most
    // compute-energy candidate of every block), by the unit table or by
    // the whole-network model.
    let e_ref = match run.hardware {
        None => unit_ref,
        Some(model) => {
            let largest: Vec<Candidate> = (0..space.blocks().len())
                .map(|b| {
                    let cands = space.candidates(b);
                    let i =
                        (0..cands.len())
                            .fold(0, |m, i| if energy[b][i] > energy[b][m] { i } else { m });
                    cands[i]
                })
                .collect();
            price_choice(&space, &largest, model)?.cost.max(1.0)
        }
    };
    // The whole-network model's table, kept while the argmax stays.
    let mut priced: Option<(Vec<Candidate>, Vec<Vec<f64>>, Price)> = None;
    let mut net = Supernet::new(&space, o.seed, o.sharing);
    std::fs::create_dir_all(run.out).with_context(|| format!("creating {}", run.out.display()))?;

    let mut lambda = o.lambda;
    let mut log: Vec<SearchLog> = Vec::new();
    let mut first = 0;
    let meta_path = run.out.join(CHECKPOINT_META);
    if run.resume && meta_path.exists() {
        let meta: Meta = serde_json::from_slice(&std::fs::read(&meta_path)?)
            .with_context(|| format!("{}: not a nasa search checkpoint", meta_path.display()))?;
        if meta.format != FORMAT {
            bail!(
                "{}: format `{}`, expected `{FORMAT}`",
                meta_path.display(),
                meta.format
            );
        }
        if meta.cost != cost_name {
            bail!(
                "{}: the checkpoint's hardware term was `{}`, this run's is `{cost_name}`; rerun with the same cost options",
                meta_path.display(),
                meta.cost
            );
        }
        if &meta.options != o {
            bail!(
                "{}: the checkpoint was made with other search options ({}); rerun with the same ones",
                meta_path.display(),
                serde_json::to_string(&meta.options)?
            );
        }
        restore(&mut net, &run.out.join(CHECKPOINT))?;
        first = meta.epochs_done;
        lambda = meta.lambda;
        log = meta.log;
    }

    // Weight half and architecture half of the training images.
    let n = if o.train_limit > 0 {
        o.train_limit.min(data.len())
    } else {
        data.len()
    };
    let split = permutation_split(n, o.seed);
    let (weight_half, arch_half) = split.split_at(n / 2);
    let table = train::default_input_table();
    let total = o.pgp_epochs + o.search_epochs;
    let batches = weight_half.len().div_ceil(o.batch);
    let classes = space.classes;
    for epoch in first..total {
        if run.stop_after.is_some_and(|s| epoch >= s) {
            return Ok(None);
        }
        let stage = Stage::of(epoch, o.pgp_epochs);
        let tau = o.tau * o.tau_decay.powi(epoch.saturating_sub(o.pgp_epochs) as i32);
        let t0 = std::time::Instant::now();
        progress.epoch_start(epoch, stage, batches);
        let order = train::permutation(weight_half.len(), o.seed ^ 0x5ea7c4, epoch);
        let arch_order = train::permutation(arch_half.len(), o.seed ^ 0xa4c4, epoch);
        let mut rng = SplitMix64::new(o.seed ^ 0x6761_6d62 ^ ((epoch as u64) << 24));
        if let (Some(model), Stage::Search) = (run.hardware, stage) {
            let choice = derive(&net);
            if priced.as_ref().map(|p| &p.0) != Some(&choice) {
                let (table, price) = network_table(&space, &choice, model)?;
                priced = Some((choice, table, price));
            }
        }
        let term = match (&priced, run.hardware) {
            (Some((_, table, _)), Some(_)) => table,
            _ => &energy,
        };
        let (mut loss_sum, mut correct, mut seen) = (0f64, 0usize, 0usize);
        let mode = Mode {
            train: true,
            quant: false,
        };
        for (b, chunk) in order.chunks(o.batch).enumerate() {
            let lr = train::cosine(b + epoch * batches, total * batches, o.lr, o.lr * 0.01);
            let idx: Vec<usize> = chunk.iter().map(|&i| weight_half[i]).collect();
            let (x, labels) = train::make_batch(
                data,
                &idx,
                &table,
                Some(o.seed ^ ((epoch as u64) << 40) ^ ((b as u64) << 8)),
            );
            let paths = sample(&net, stage, max_e, o.top_k, tau, &mut rng);
            let logits = net.forward(x, &paths, mode);
            let (loss, grad, ok) = train::model::cross_entropy(&logits, &labels, classes);
            loss_sum += loss * labels.len() as f64;
            correct += ok;
            seen += labels.len();
            for (_, _, p) in net.params_mut() {
                p.g.fill(0.0);
            }
            net.backward(grad, mode);
            let mut params: Vec<&mut train::model::Param> = net
                .params_mut()
                .into_iter()
                .filter(|(_, k, _)| stage.trains(*k))
                .map(|(_, _, p)| p)
                .collect();
            train::sgd(&mut params, lr, 0.9, 4e-4, 5.0);
            drop(params);

            if stage == Stage::Search && !arch_half.is_empty() {
                let a0 = (b * o.batch) % arch_half.len();
                let aidx: Vec<usize> = (0..o.batch.min(arch_half.len()))
                    .map(|j| arch_half[arch_order[(a0 + j) % arch_half.len()]])
                    .collect();
                let (x, labels) = train::make_batch(data, &aidx, &table, None);
                let paths = sample(&net, stage, max_e, o.top_k, tau, &mut rng);
                let logits = net.forward(x, &paths, mode);
                let (_, grad, _) = train::model::cross_entropy(&logits, &labels, classes);
                let dweights = net.backward(grad, mode);
                for (bi, block) in net.blocks.iter_mut().enumerate() {
                    arch_step(
                        block,
                        &paths[bi],
                        &dweights[bi],
                        &term[bi],
                        lambda as f64 / e_ref,
                        tau,
                        o.arch_lr,
                        epoch * batches + b + 1,
                    );
                }
            }
            progress.batch_done();
        }
        let choice = derive(&net);
        let derived_energy = fixed + choice_energy(&space, &choice, &energy);
        let predicted = match run.hardware {
            Some(model) => Some(match &priced {
                Some((c, _, p)) if *c == choice => *p,
                _ => price_choice(&space, &choice, model)?,
            }),
            None => None,
        };
        // The target is on the energy the hardware term prices: compute
        // energy by the unit table, the system's by the mapper.
        let targeted = predicted.map_or(derived_energy, |p| p.energy_pj);
        if stage == Stage::Search {
            if let Some(target) = o.energy_target_nj {
                if targeted / 1000.0 > target {
                    lambda *= 2.0;
                } else if targeted / 1000.0 < 0.9 * target {
                    lambda /= 2.0;
                }
            }
        }
        let seconds = t0.elapsed().as_secs_f64();
        let entry = SearchLog {
            epoch,
            stage,
            tau,
            lambda,
            loss: loss_sum / seen.max(1) as f64,
            accuracy: correct as f64 / seen.max(1) as f64,
            derived_energy_nj: derived_energy / 1000.0,
            derived: choice
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            predicted_cycles: predicted.and_then(|p| p.cycles),
            predicted_energy_nj: predicted.map(|p| p.energy_pj / 1000.0),
            seconds,
            images_per_second: seen as f64 / seconds.max(1e-9),
        };
        progress.epoch_done(&entry);
        log.push(entry);
        train::write_tensors(&run.out.join(CHECKPOINT), checkpoint_tensors(&mut net))?;
        let meta = Meta {
            format: FORMAT.into(),
            options: o.clone(),
            epochs_done: epoch + 1,
            lambda,
            log: log.clone(),
            cost: cost_name.clone(),
        };
        fsutil::write_atomic(&meta_path, serde_json::to_string_pretty(&meta)?.as_bytes())?;
        write_log(run.out, &log)?;
    }

    let choice = derive(&net);
    let derived_energy = fixed + choice_energy(&space, &choice, &energy);
    let predicted = match run.hardware {
        Some(model) => Some(price_choice(&space, &choice, model)?),
        None => None,
    };
    // The all-multiplier twin: the same blocks with every kind a multiplier.
    let twin: Vec<Candidate> = choice
        .iter()
        .map(|&c| match c {
            Candidate::Mb { kernel, expand, .. } => Candidate::Mb {
                kind: Kind::Conv,
                kernel,
                expand,
            },
            s => s,
        })
        .collect();
    let all_conv: f64 = fixed
        + (0..twin.len())
            .map(|b| match space.candidate_ops(b, twin[b]) {
                (Some(k), ops) => cost.compute_energy(k, 8, ops),
                _ => 0.0,
            })
            .sum::<f64>();
    let mut ops = BTreeMap::new();
    for k in Kind::ALL {
        ops.insert(k.name().to_string(), 0u64);
    }
    *ops.get_mut("conv").expect("conv") += space.fixed_ops();
    for (b, &c) in choice.iter().enumerate() {
        if let (Some(k), n) = space.candidate_ops(b, c) {
            *ops.get_mut(k.name()).expect("kind") += n;
        }
    }
    let comment = format!(
        "Derived by `nasa search` (seed {}, {} PGP + {} search epochs) on {}:\nthe argmax candidate of each block. Compute energy {:.1} nJ per inference\n(an all-multiplier network of the same shape: {:.1} nJ). Scales are\nplaceholders: `nasa train` calibrates them.",
        o.seed, o.pgp_epochs, o.search_epochs, data.kind, derived_energy / 1000.0, all_conv / 1000.0
    );
    let arch = space.describe(&format!("searched-{}", data.kind), &choice, &comment);
    fsutil::write_atomic(&run.out.join("arch.toml"), arch.as_bytes())?;
    let twin_comment = format!(
        "The all-multiplier twin of arch.toml (same blocks, every kind `conv`),\nthe baseline for the searched network. Compute energy {:.1} nJ per inference.",
        all_conv / 1000.0
    );
    let twin_arch = space.describe(
        &format!("searched-{}-conv", data.kind),
        &twin,
        &twin_comment,
    );
    fsutil::write_atomic(&run.out.join("arch-conv.toml"), twin_arch.as_bytes())?;
    let blocks = net
        .blocks
        .iter()
        .enumerate()
        .map(|(bi, b)| {
            let p = probabilities(&b.alpha);
            let chosen = choice[bi];
            let ci = b.candidates.iter().position(|&c| c == chosen).unwrap_or(0);
            BlockChoice {
                block: bi,
                chosen: chosen.to_string(),
                probability: p[ci],
                candidates: b
                    .candidates
                    .iter()
                    .zip(&p)
                    .map(|(c, &v)| (c.to_string(), v))
                    .collect(),
            }
        })
        .collect();
    let summary = SearchSummary {
        blocks,
        derived_energy_nj: derived_energy / 1000.0,
        all_conv_energy_nj: all_conv / 1000.0,
        cost_model: cost_name,
        predicted_cycles: predicted.and_then(|p| p.cycles),
        predicted_energy_nj: predicted.map(|p| p.energy_pj / 1000.0),
        ops_per_kind: ops,
        arch: run.out.join("arch.toml").display().to_string(),
        seconds: start.elapsed().as_secs_f64(),
    };
    fsutil::write_atomic(
        &run.out.join("search.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    Ok(Some(summary))
}

/// What `search_and_train` reports: the search, then the training of the
/// network it derived.
#[derive(Debug, Clone, Serialize)]
pub struct SearchAndTrain {
    pub search: SearchSummary,
    pub train: train::TrainSummary,
}

/// Runs the search, then trains the derived network (`arch.toml` in the
/// output directory) with `train_options` on the same training data,
/// reporting on `test`. `found` is called between the two. `None` if the
/// search stopped early.
pub fn search_and_train<P: Progress + train::Progress>(
    run: &SearchRun<'_>,
    test: &Dataset,
    train_options: train::TrainOptions,
    progress: &P,
    found: &dyn Fn(&SearchSummary),
) -> Result<Option<SearchAndTrain>> {
    let Some(summary) = search(run, progress)? else {
        return Ok(None);
    };
    found(&summary);
    let network = crate::model::models::load_description(&run.out.join("arch.toml"))?;
    let train_run = train::Run {
        net: &network,
        train: run.train,
        test,
        out: run.out,
        options: train_options,
        resume: run.resume,
        stop_after: None,
        teacher: None,
    };
    let trained = train::train(&train_run, progress)?.context("training stopped early")?;
    Ok(Some(SearchAndTrain {
        search: summary,
        train: trained,
    }))
}

fn choice_energy(space: &Space, choice: &[Candidate], energy: &[Vec<f64>]) -> f64 {
    choice
        .iter()
        .enumerate()
        .map(|(b, c)| {
            let i = space.candidates(b).iter().position(|x| x == c).unwrap_or(0);
            energy[b][i]
        })
        .sum()
}

/// A seeded permutation of `0..n` (the weight / architecture split).
fn permutation_split(n: usize, seed: u64) -> Vec<usize> {
    train::permutation(n, seed ^ 0x5917, usize::MAX / 2)
}

/// One Adam step on the sampled alphas of a block, then the offset that
/// keeps the probabilities of the unsampled candidates unchanged.
#[allow(clippy::too_many_arguments)]
fn arch_step(
    block: &mut supernet::Block,
    paths: &[(usize, f32)],
    dweights: &[f64],
    energy: &[f64],
    hw_scale: f64,
    tau: f32,
    lr: f32,
    t: usize,
) {
    // dL/dw_i: the data term from backward plus the hardware term.
    let dw: Vec<f64> = paths
        .iter()
        .zip(dweights)
        .map(|(&(i, _), &d)| d + hw_scale * energy[i])
        .collect();
    let mean: f64 = paths.iter().zip(&dw).map(|(&(_, w), d)| w as f64 * d).sum();
    let lse = |b: &supernet::Block| {
        let m = paths
            .iter()
            .map(|&(i, _)| b.alpha[i])
            .fold(f32::NEG_INFINITY, f32::max) as f64;
        m + paths
            .iter()
            .map(|&(i, _)| (b.alpha[i] as f64 - m).exp())
            .sum::<f64>()
            .ln()
    };
    let before = lse(block);
    let (b1, b2, eps) = (0.5f64, 0.999f64, 1e-8f64);
    for (&(i, w), d) in paths.iter().zip(&dw) {
        // Softmax Jacobian, then the 1/tau of the Gumbel-softmax logits.
        let g = w as f64 * (d - mean) / tau as f64;
        let m = b1 * block.adam_m[i] as f64 + (1.0 - b1) * g;
        let v = b2 * block.adam_v[i] as f64 + (1.0 - b2) * g * g;
        block.adam_m[i] = m as f32;
        block.adam_v[i] = v as f32;
        let mh = m / (1.0 - b1.powi(t as i32));
        let vh = v / (1.0 - b2.powi(t as i32));
        block.alpha[i] -= (lr as f64 * mh / (vh.sqrt() + eps)) as f32;
    }
    let shift = (lse(block) - before) as f32;
    for &(i, _) in paths {
        block.alpha[i] -= shift;
    }
}

fn write_log(dir: &Path, log: &[SearchLog]) -> Result<()> {
    let mut s = Vec::new();
    writeln!(
        s,
        "epoch,stage,tau,lambda,loss,accuracy,derived_energy_nj,derived,predicted_cycles,predicted_energy_nj,seconds,images_per_second"
    )?;
    for e in log {
        writeln!(
            s,
            "{},{},{:.4},{:.4},{:.6},{:.6},{:.3},{},{},{},{:.2},{:.1}",
            e.epoch,
            serde_json::to_value(e.stage)?.as_str().unwrap_or("?"),
            e.tau,
            e.lambda,
            e.loss,
            e.accuracy,
            e.derived_energy_nj,
            e.derived,
            e.predicted_cycles.map_or(String::new(), |c| c.to_string()),
            e.predicted_energy_nj
                .map_or(String::new(), |v| format!("{v:.3}")),
            e.seconds,
            e.images_per_second
        )?;
    }
    fsutil::write_atomic(&dir.join("search-log.csv"), &s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::data::DatasetKind;

    /// Priced as whole networks by the unit table, every candidate's
    /// hardware term is its own compute energy less the argmax's: the
    /// whole-network path (`--cost mapper`'s) and the per-candidate path
    /// agree wherever a model is additive, so the table is indexed right.
    #[test]
    fn whole_network_prices_agree_with_the_unit_table() {
        let space = Space::for_dataset(DatasetKind::FashionMnist, SpaceName::Compact, 1.0, 1.0);
        let unit = UnitEnergy::default();
        let energy = candidate_energy(&space, &unit);
        // An argmax of several kinds: each block's third candidate.
        let choice: Vec<Candidate> = (0..space.blocks().len())
            .map(|b| space.candidates(b)[2])
            .collect();
        let (table, derived) = network_table(&space, &choice, &unit).unwrap();
        let fixed = unit.compute_energy(Kind::Conv, 8, space.fixed_ops());
        let whole = fixed + choice_energy(&space, &choice, &energy);
        assert!(
            (derived.cost - whole).abs() < 1e-6 * whole,
            "{derived:?} {whole}"
        );
        assert_eq!(table.len(), choice.len());
        for (b, row) in table.iter().enumerate() {
            assert_eq!(row.len(), energy[b].len());
            for (i, &v) in row.iter().enumerate() {
                let expect = energy[b][i] - energy[b][2];
                assert!(
                    (v - expect).abs() < 1e-6 * whole,
                    "block {b} candidate {i}: {v} {expect}"
                );
            }
            assert_eq!(row[2], 0.0);
        }
    }
}
