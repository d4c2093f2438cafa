//! Synthesis of a generated design with Yosys: generic `synth` (gate count)
//! and `synth_xilinx` (LUTs, flip-flops, DSPs, block RAMs), in total and per
//! chunk (the chunk's PE cells; its accumulator registers belong to the top
//! level).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::quant::Kind;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Resources {
    pub cells: u64,
    pub luts: u64,
    pub flip_flops: u64,
    pub dsps: u64,
    /// In RAMB18 units (a RAMB36 counts as two).
    pub block_rams: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChunkResources {
    pub pes: u64,
    /// Generic `synth` cells of all the chunk's PE cells.
    pub generic_cells: u64,
    pub xilinx: Resources,
}

#[derive(Debug, Clone, Serialize)]
pub struct SynthReport {
    /// Generic `synth` cells of the whole design.
    pub generic_cells: u64,
    pub xilinx: Resources,
    pub chunks: BTreeMap<&'static str, ChunkResources>,
}

fn resources(by_type: &serde_json::Map<String, serde_json::Value>) -> Resources {
    let mut r = Resources::default();
    for (t, n) in by_type {
        let n = n.as_u64().unwrap_or(0);
        if t.starts_with("nasa_pe_") {
            continue;
        }
        r.cells += n;
        match t.as_str() {
            t if t.starts_with("LUT") => r.luts += n,
            t if t.starts_with("FD") => r.flip_flops += n,
            t if t.starts_with("DSP48") => r.dsps += n,
            "RAMB18E1" => r.block_rams += n,
            "RAMB36E1" => r.block_rams += 2 * n,
            _ => {}
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

/// Generic synthesis that keeps memories as memory cells (mapping them to
/// flip-flops would take minutes and count a block RAM as logic).
const GENERIC: &str =
    "synth -top nasa_top -run begin:fine; memory -nomap; techmap; opt -fast; abc -fast; opt_clean";
const XILINX: &str = "synth_xilinx -top nasa_top";

/// Runs one Yosys script on the design and returns `stat -json`'s modules.
fn yosys(
    dir: &Path,
    label: &str,
    pass: &str,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let files = std::fs::read_to_string(dir.join("files.f"))
        .with_context(|| format!("{}: not a generated design (no files.f)", dir.display()))?;
    let reads: String = files
        .lines()
        .map(|f| format!("read_verilog {f}; "))
        .collect();
    let out_file = format!("yosys_{label}.json");
    let script = format!("{reads}{pass}; tee -q -o {out_file} stat -json");
    let out = Command::new("yosys")
        .current_dir(dir)
        .args(["-q", "-p", &script])
        .output()
        .context("cannot run yosys; is it installed (apt-get install yosys)?")?;
    if !out.status.success() {
        bail!(
            "yosys ({label}) failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(&out_file))?)?;
    Ok(v["modules"].as_object().cloned().unwrap_or_default())
}

/// Synthesises `dir` for a generic target and for Xilinx 7-series.
pub fn synthesize(dir: &Path) -> Result<SynthReport> {
    let generic = yosys(dir, "generic", GENERIC)?;
    let xilinx = yosys(dir, "xilinx", XILINX)?;
    let by_type = |m: &serde_json::Map<String, serde_json::Value>, name: &str| {
        m.get(&format!("\\{name}"))
            .and_then(|v| v["num_cells_by_type"].as_object().cloned())
            .unwrap_or_default()
    };
    let count = |m: &serde_json::Map<String, serde_json::Value>, name: &str| {
        m.get(&format!("\\{name}"))
            .and_then(|v| v["num_cells"].as_u64())
            .unwrap_or(0)
    };
    let top_generic = by_type(&generic, "nasa_top");
    let top_xilinx = by_type(&xilinx, "nasa_top");
    let mut report = SynthReport {
        generic_cells: count(&generic, "nasa_top")
            - top_generic
                .iter()
                .filter(|(t, _)| t.starts_with("nasa_pe_"))
                .map(|(_, n)| n.as_u64().unwrap_or(0))
                .sum::<u64>(),
        xilinx: resources(&top_xilinx),
        chunks: BTreeMap::new(),
    };
    for kind in Kind::ALL {
        let module = crate::hw::pe::module_name(kind);
        let pes = top_xilinx
            .get(&module)
            .and_then(|n| n.as_u64())
            .unwrap_or(0);
        if pes == 0 {
            continue;
        }
        let per_pe = resources(&by_type(&xilinx, &module));
        let chunk = ChunkResources {
            pes,
            generic_cells: pes * count(&generic, &module),
            xilinx: scaled(&per_pe, pes),
        };
        report.generic_cells += chunk.generic_cells;
        add(&mut report.xilinx, &chunk.xilinx);
        report.chunks.insert(kind.name(), chunk);
    }
    Ok(report)
}
