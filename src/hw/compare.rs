//! The equal-area comparison, measured: `nasa map --compare --sim N`
//! generates the hybrid design the mapper chose and the all-multiply
//! design of the same budget, runs both in Verilator on the same N images
//! (every output checked against each network's golden model), and sets
//! the measured cycles beside each other. Energy is the mapper's model of
//! the same activity (the cycle model equals Verilator's, so the activity
//! it prices is the simulated one). Above `map`, `gen` and `sim`, which it
//! only calls.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::hw::map::{all_multiply, MapReport, NetworkMap};
use crate::hw::sim::{simulate, SimOptions, Simulator};
use crate::model::data::DatasetKind;
use crate::model::net::Network;

/// How to run the measured comparison.
#[derive(Debug, Clone)]
pub struct SimCompare {
    pub images: usize,
    /// Where the two designs are generated (`<dir>/hybrid-<net>`,
    /// `<dir>/all-multiply-<net>`).
    pub dir: PathBuf,
    /// Test images from this data set; random images without.
    pub dataset: Option<DatasetKind>,
    pub data_dir: Option<PathBuf>,
    /// Seed of the all-multiply twin's random weights and of random images.
    pub seed: u64,
}

/// One design's measured run.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub network: String,
    pub dir: String,
    pub images: usize,
    pub pass: bool,
    /// Cycles of the whole run over its images (a pipeline's filling and
    /// draining included).
    pub cycles_per_inference: f64,
    pub predicted_cycles: f64,
    pub inferences_per_s: f64,
    /// The model's energy per inference and energy x time per inference.
    pub energy_nj: f64,
    pub edp_nj_us: f64,
    /// Cycles per image in the steady state, measured: a pipeline's longest
    /// interval between consecutive images' outputs (a round with every
    /// engine busy; the steady state when the run has more images than the
    /// pipeline has stages, else a draining round; at least two images),
    /// else `cycles_per_inference` (one image at a time, every image
    /// alike)...
    pub steady_cycles: f64,
    /// ...and the model's figure for the same span.
    pub predicted_steady_cycles: f64,
    /// A continuous stream's cycles per image: the model's period (a
    /// pipeline's busiest engine's work per image, which a run reaches once
    /// the engines' slack is used up; a short run of nearly balanced
    /// engines may not show it), and never below `steady_cycles`.
    pub stream_cycles: f64,
}

/// A network measured on both designs (ratios: hybrid over all-multiply).
#[derive(Debug, Clone, Serialize)]
pub struct MeasuredComparison {
    pub hybrid: Measured,
    pub all_multiply: Measured,
    pub throughput_ratio: f64,
    pub energy_ratio: f64,
    pub edp_ratio: f64,
    /// The same for a continuous stream (`Measured::stream_cycles`).
    pub steady_throughput_ratio: f64,
    pub steady_edp_ratio: f64,
}

/// The networks `nasa map` mapped, with their weights (a description
/// without weights gets seeded random ones).
fn networks(paths: &[PathBuf], seed: u64) -> Result<Vec<Network>> {
    let load = |p: Option<&Path>| -> Result<Network> {
        match crate::model::models::load(p) {
            Ok(n) => Ok(n),
            Err(_) => {
                let path = p.unwrap_or(Path::new("default"));
                let mut n = crate::model::models::load_description(path)?;
                crate::model::randomize::randomize(&mut n, seed);
                Ok(n)
            }
        }
    };
    if paths.is_empty() {
        return Ok(vec![load(None)?]);
    }
    paths.iter().map(|p| load(Some(p))).collect()
}

fn run(
    net: &Network,
    design: &crate::hw::map::MappedDesign,
    model: &NetworkMap,
    dir: &Path,
    opts: &SimCompare,
) -> Result<Measured> {
    let arch = &design.architecture;
    crate::hw::gen::generate(net, arch, &arch.to_toml(), &net.name, dir)
        .with_context(|| format!("generating {}", dir.display()))?;
    let report = simulate(
        dir,
        &SimOptions {
            images: opts.images,
            dataset: opts.dataset,
            data_dir: opts.data_dir.clone(),
            seed: opts.seed,
            simulator: Simulator::Verilator,
            serial: false,
            build_dir: None,
            trace: None,
        },
    )
    .with_context(|| format!("simulating {}", dir.display()))?;
    let us = report.cycles_per_inference / arch.accelerator.clock_mhz;
    // The longest interval between consecutive outputs: a round in which
    // every engine has an image (the drain's last rounds are shorter, and
    // the filling comes before the first output).
    let span = |ends: &[u64]| {
        ends.windows(2)
            .map(|w| (w[1] - w[0]) as f64)
            .reduce(f64::max)
    };
    let (steady, predicted_steady) = match &report.pipeline {
        Some(p) => (
            span(&p.image_ends).unwrap_or(report.cycles_per_inference),
            span(&p.predicted_image_ends).unwrap_or(report.predicted_cycles),
        ),
        None => (report.cycles_per_inference, report.predicted_cycles),
    };
    Ok(Measured {
        network: net.name.clone(),
        dir: dir.display().to_string(),
        images: report.images,
        pass: report.pass,
        cycles_per_inference: report.cycles_per_inference,
        predicted_cycles: report.predicted_cycles,
        inferences_per_s: 1e6 / us,
        energy_nj: model.energy_nj,
        edp_nj_us: model.energy_nj * us,
        steady_cycles: steady,
        predicted_steady_cycles: predicted_steady,
        stream_cycles: report
            .pipeline
            .as_ref()
            .map_or(report.predicted_cycles, |p| p.predicted_period as f64)
            .max(steady),
    })
}

/// Generates and simulates both designs of `report` (which `map_report`
/// made with `compare`) for every network at `paths`.
pub fn measure(
    paths: &[PathBuf],
    report: &MapReport,
    opts: &SimCompare,
) -> Result<Vec<MeasuredComparison>> {
    let Some(base) = &report.all_multiply else {
        bail!("--sim needs --compare (it measures both designs of the comparison)");
    };
    if opts.images == 0 {
        bail!("--sim needs at least one image");
    }
    let nets = networks(paths, opts.seed)?;
    let mut out = Vec::new();
    for (k, net) in nets.iter().enumerate() {
        let mut twin = all_multiply(net);
        // The twin's own weights: seeded, with calibrated requantisation
        // (a hybrid layer's weights mean something else on a multiplier).
        crate::model::randomize::randomize(&mut twin, opts.seed);
        let hybrid = run(
            net,
            &report.design,
            &report.design.mapping.networks[k],
            &opts.dir.join(format!("hybrid-{}", net.name)),
            opts,
        )?;
        let all = run(
            &twin,
            base,
            &base.mapping.networks[k],
            &opts.dir.join(format!("all-multiply-{}", net.name)),
            opts,
        )?;
        // Images per microsecond, hybrid over all-multiply.
        let rate = |m: &Measured, d: &crate::hw::map::MappedDesign| {
            d.architecture.accelerator.clock_mhz / m.stream_cycles
        };
        let steady = rate(&hybrid, &report.design) / rate(&all, base);
        out.push(MeasuredComparison {
            steady_throughput_ratio: steady,
            steady_edp_ratio: hybrid.energy_nj / all.energy_nj / steady,
            throughput_ratio: hybrid.inferences_per_s / all.inferences_per_s,
            energy_ratio: hybrid.energy_nj / all.energy_nj,
            edp_ratio: hybrid.edp_nj_us / all.edp_nj_us,
            hybrid,
            all_multiply: all,
        });
    }
    Ok(out)
}
