//! Synthesis of a generated design with Yosys, for each asked [`Target`]:
//! resources in total and per chunk (the chunk's PE cells; its accumulator
//! registers belong to the engine), and, where an open tool exists (ECP5,
//! iCE40), place-and-route with nextpnr: Fmax against the architecture's
//! clock, the device's use and the critical path ([`pnr`]).

pub mod pnr;
pub mod target;
mod tools;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::hw::arch::Arch;
use crate::model::quant::Kind;
pub use pnr::PnrReport;
use target::Class;
pub use target::{Device, Target};
use tools::Tool;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Resources {
    /// Every cell of the netlist (the only figure of the generic target).
    pub cells: u64,
    /// In the target's LUTs (LUT6 on Xilinx, LUT4 on Lattice; an ECP5 carry
    /// cell counts as two).
    pub luts: u64,
    pub flip_flops: u64,
    pub dsps: u64,
    /// In the target's smallest block RAM (RAMB18, DP16KD, SB_RAM40_4K).
    pub block_rams: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChunkResources {
    pub pes: u64,
    pub resources: Resources,
}

/// One target's synthesis, and its place-and-route where asked and possible.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    pub target: Target,
    /// The Yosys command run.
    pub synthesis: String,
    pub total: Resources,
    pub chunks: BTreeMap<&'static str, ChunkResources>,
    pub place_and_route: Option<PnrReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SynthReport {
    pub targets: Vec<TargetReport>,
}

impl SynthReport {
    pub fn target(&self, t: Target) -> Option<&TargetReport> {
        self.targets.iter().find(|r| r.target == t)
    }
}

/// What `nasa synth` runs.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// In the order given; each at most once.
    pub targets: Vec<Target>,
    /// The device of the ECP5 or iCE40 target (its family's default
    /// otherwise).
    pub device: Option<Device>,
    /// Place and route the ECP5 and iCE40 targets.
    pub place_and_route: bool,
    /// nextpnr's router.
    pub router: pnr::Router,
}

impl Default for SynthOptions {
    /// Today's main-job report: Xilinx resources and generic cells.
    fn default() -> Self {
        SynthOptions {
            targets: vec![Target::Xilinx, Target::Generic],
            device: None,
            place_and_route: true,
            router: pnr::Router::Router1,
        }
    }
}

type Modules = serde_json::Map<String, serde_json::Value>;

/// The design's Verilog files, in order.
fn design_files(dir: &Path) -> Result<Vec<String>> {
    let files = std::fs::read_to_string(dir.join("files.f"))
        .with_context(|| format!("{}: not a generated design (no files.f)", dir.display()))?;
    Ok(files.lines().map(str::to_string).collect())
}

/// Runs one Yosys script on `files` and returns `stat -json`'s modules
/// (kept in `yosys_<label>.json`).
fn yosys(dir: &Path, tool: Tool, label: &str, files: &[String], pass: &str) -> Result<Modules> {
    let reads: String = files
        .iter()
        .map(|f| format!("read_verilog {f}; "))
        .collect();
    let out_file = format!("yosys_{label}.json");
    let _ = std::fs::remove_file(dir.join(&out_file));
    let script = format!("{reads}{pass}; tee -q -o {out_file} stat -json");
    let program = tool.locate()?;
    let out = Command::new(&program)
        .current_dir(dir)
        .args(["-q", "-p", &script])
        .output()
        .with_context(|| format!("cannot run {}", program.display()))?;
    if !out.status.success() {
        bail!(
            "{} ({label}) failed on {}:\n{}{}",
            tool.name(),
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Yosys 0.23's `stat -json` of a design with submodules two levels deep
    // prints the design's submodule counts as bare text lines ("  nasa_pe_x
    // 6") inside the JSON; drop those lines (JSON lines all hold a quote or
    // a bracket).
    let text: String = std::fs::read_to_string(dir.join(&out_file))
        .with_context(|| format!("{}: no Yosys statistics", dir.join(&out_file).display()))?
        .lines()
        .filter(|l| l.trim().is_empty() || l.contains(['"', '{', '}', '[', ']']))
        .map(|l| format!("{l}\n"))
        .collect();
    let v: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: unreadable Yosys statistics",
            dir.join(&out_file).display()
        )
    })?;
    Ok(v["modules"].as_object().cloned().unwrap_or_default())
}

/// A module's statistics: Yosys 0.23 names a module `\name` and a cell of
/// that type `name`; a parameterised module is `$paramod$<hash>\name` in
/// both.
fn module<'a>(modules: &'a Modules, name: &str) -> Option<&'a serde_json::Value> {
    modules
        .get(&format!("\\{name}"))
        .or_else(|| modules.get(name))
}

fn resources(target: Target, modules: &Modules, by_type: &Modules) -> Resources {
    let mut r = Resources::default();
    for (t, n) in by_type {
        let n = n.as_u64().unwrap_or(0);
        // Submodules are counted through their own cells.
        if module(modules, t).is_some() {
            continue;
        }
        r.cells += n;
        match target.class(t) {
            Some(Class::Lut(k)) => r.luts += k * n,
            Some(Class::FlipFlop) => r.flip_flops += n,
            Some(Class::Dsp) => r.dsps += n,
            Some(Class::BlockRam(k)) => r.block_rams += k * n,
            None => {}
        }
    }
    r
}

fn scaled(r: &Resources, k: u64) -> Resources {
    Resources {
        cells: r.cells * k,
        luts: r.luts * k,
        flip_flops: r.flip_flops * k,
        dsps: r.dsps * k,
        block_rams: r.block_rams * k,
    }
}

fn add(a: &mut Resources, b: &Resources) {
    a.cells += b.cells;
    a.luts += b.luts;
    a.flip_flops += b.flip_flops;
    a.dsps += b.dsps;
    a.block_rams += b.block_rams;
}

/// The resources of `copies` instances of `name` and everything under it;
/// adds the PE cells met on the way to `pes` (per kind).
fn tree(
    target: Target,
    modules: &Modules,
    name: &str,
    copies: u64,
    pes: &mut [u64; 3],
) -> Resources {
    let own = module(modules, name)
        .and_then(|v| v["num_cells_by_type"].as_object().cloned())
        .unwrap_or_default();
    let mut res = resources(target, modules, &own);
    for (child, n) in own.iter().filter(|(t, _)| module(modules, t).is_some()) {
        let n = n.as_u64().unwrap_or(0);
        if let Some(kind) = Kind::ALL
            .into_iter()
            .find(|&k| crate::hw::pe::module_name(k) == *child)
        {
            pes[kind as usize] += n * copies;
        }
        add(&mut res, &tree(target, modules, child, n, pes));
    }
    scaled(&res, copies)
}

fn synthesize_target(
    dir: &Path,
    target: Target,
    device: Option<Device>,
    clock_mhz: f64,
    // Place and route with this router (`None`: synthesis only).
    place: Option<pnr::Router>,
) -> Result<TargetReport> {
    let tool = match target {
        Target::Ecp5 => Tool::YowaspYosys,
        _ => Tool::Yosys,
    };
    let pass = target.script(device);
    let modules = yosys(dir, tool, target.name(), &design_files(dir)?, &pass)?;
    let mut pes = [0u64; 3];
    let total = tree(target, &modules, "nasa_top", 1, &mut pes);
    let mut chunks = BTreeMap::new();
    if target.flattens() {
        // The netlist for place-and-route is flattened (kept hierarchical,
        // the default design grew by a third and routed for over an hour):
        // each chunk is its PE cell synthesised alone, times its PEs.
        let manifest: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("manifest.json"))
                .with_context(|| format!("{}: no manifest.json", dir.display()))?,
        )?;
        for kind in Kind::ALL {
            let n = manifest["chunks"][kind.name()].as_u64().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let module = crate::hw::pe::module_name(kind);
            let cell = yosys(
                dir,
                tool,
                &format!("{target}_{module}"),
                &[format!("{module}.v")],
                &target.cell_script(&module, device),
            )?;
            let resources = tree(target, &cell, &module, n, &mut [0u64; 3]);
            chunks.insert(kind.name(), ChunkResources { pes: n, resources });
        }
    } else {
        for kind in Kind::ALL {
            let n = pes[kind as usize];
            if n == 0 {
                continue;
            }
            let module = crate::hw::pe::module_name(kind);
            let resources = tree(target, &modules, &module, n, &mut [0u64; 3]);
            chunks.insert(kind.name(), ChunkResources { pes: n, resources });
        }
    }
    let place_and_route = match device {
        Some(d) if let Some(router) = place => {
            let netlist = format!("netlist_{target}.json");
            Some(pnr::place_and_route(dir, &netlist, d, clock_mhz, router)?)
        }
        _ => None,
    };
    Ok(TargetReport {
        target,
        synthesis: format!("{} -p '{pass}'", tool.name()),
        total,
        chunks,
        place_and_route,
    })
}

/// Synthesises `dir` for every target of `opts`, the Yosys runs side by
/// side (one thread each), then places and routes where asked.
pub fn synthesize(dir: &Path, opts: &SynthOptions) -> Result<SynthReport> {
    if opts.targets.is_empty() {
        bail!("no synthesis target");
    }
    if let Some(d) = opts.device {
        if !opts.targets.contains(&d.target()) {
            bail!(
                "--device {} is an {} device, and {} is not among the targets",
                d.name(),
                d.target(),
                d.target()
            );
        }
    }
    let arch_path = dir.join("arch.toml");
    let clock_mhz = Arch::load(&arch_path)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("{}: not a generated design", dir.display()))?
        .accelerator
        .clock_mhz;
    let results: Vec<Result<TargetReport>> = std::thread::scope(|s| {
        let handles: Vec<_> = opts
            .targets
            .iter()
            .map(|&t| {
                let device = opts
                    .device
                    .filter(|d| d.target() == t)
                    .or(t.default_device());
                s.spawn(move || {
                    let router = opts.place_and_route.then_some(opts.router);
                    synthesize_target(dir, t, device, clock_mhz, router)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    Ok(SynthReport {
        targets: results.into_iter().collect::<Result<_>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `stat -json` modules as Yosys 0.70 writes them for ECP5: a
    /// parameterised submodule is `$paramod$<hash>\name` both as a module
    /// and as a cell type; others are `\name` and `name`.
    #[test]
    fn every_submodule_is_counted_once_per_instance() {
        let stats = serde_json::json!({
            "\\nasa_top": {"num_cells_by_type": {
                "LUT4": 10, "CCU2C": 2, "TRELLIS_FF": 5, "DP16KD": 1,
                "$paramod$abc\\nasa_spad": 2, "nasa_pe_conv": 3}},
            "$paramod$abc\\nasa_spad": {"num_cells_by_type": {"DP16KD": 4, "LUT4": 7}},
            "\\nasa_pe_conv": {"num_cells_by_type": {"MULT18X18D": 1, "LUT4": 20}}
        });
        let modules = stats.as_object().unwrap().clone();
        let mut pes = [0u64; 3];
        let total = tree(Target::Ecp5, &modules, "nasa_top", 1, &mut pes);
        assert_eq!(pes, [3, 0, 0]);
        assert_eq!(total.luts, 10 + 2 * 2 + 2 * 7 + 3 * 20);
        assert_eq!(total.block_rams, 1 + 2 * 4);
        assert_eq!(total.dsps, 3);
        assert_eq!(total.flip_flops, 5);
        assert_eq!(total.cells, 10 + 2 + 5 + 1 + 2 * 11 + 3 * 21);
    }
}
