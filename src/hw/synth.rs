//! Synthesis of a generated design with Yosys: generic `synth` (gate count)
//! and `synth_xilinx` (LUTs, flip-flops, DSPs, block RAMs), in total and per
//! chunk (the chunk's PE cells; its accumulator registers belong to the top
//! level).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::model::quant::Kind;

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
        // Submodules are counted through their own cells.
        if t.starts_with("nasa_") {
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
    // Yosys 0.23's `stat -json` of a design with submodules two levels deep
    // prints the design's submodule counts as bare text lines ("  nasa_pe_x
    // 6") inside the JSON; drop those lines (JSON lines all hold a quote or
    // a bracket).
    let text: String = std::fs::read_to_string(dir.join(&out_file))?
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

type Modules = serde_json::Map<String, serde_json::Value>;

/// Generic cells and Xilinx resources of `copies` instances of `name` and
/// everything under it; adds the PE cells met on the way to `pes` (per kind).
fn tree(
    generic: &Modules,
    xilinx: &Modules,
    name: &str,
    copies: u64,
    pes: &mut [u64; 3],
) -> (u64, Resources) {
    let cells_by_type = |m: &Modules| {
        m.get(&format!("\\{name}"))
            .and_then(|v| v["num_cells_by_type"].as_object().cloned())
            .unwrap_or_default()
    };
    let own_generic = cells_by_type(generic);
    let own_xilinx = cells_by_type(xilinx);
    let mut cells: u64 = own_generic
        .iter()
        .filter(|(t, _)| !t.starts_with("nasa_"))
        .map(|(_, n)| n.as_u64().unwrap_or(0))
        .sum();
    let mut res = resources(&own_xilinx);
    for (child, n) in own_xilinx.iter().filter(|(t, _)| t.starts_with("nasa_")) {
        let n = n.as_u64().unwrap_or(0);
        if let Some(kind) = Kind::ALL
            .into_iter()
            .find(|&k| crate::hw::pe::module_name(k) == *child)
        {
            pes[kind as usize] += n * copies;
        }
        let (c, r) = tree(generic, xilinx, child, n, pes);
        cells += c;
        add(&mut res, &r);
    }
    (cells * copies, scaled(&res, copies))
}

/// Synthesises `dir` for a generic target and for Xilinx 7-series.
pub fn synthesize(dir: &Path) -> Result<SynthReport> {
    // The two runs are independent: one Yosys each, side by side.
    let (generic, xilinx) = std::thread::scope(|s| {
        let generic = s.spawn(|| yosys(dir, "generic", GENERIC));
        let xilinx = yosys(dir, "xilinx", XILINX);
        let generic = generic
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (generic, xilinx)
    });
    let (generic, xilinx) = (generic?, xilinx?);
    let mut report = SynthReport {
        generic_cells: 0,
        xilinx: Resources::default(),
        chunks: BTreeMap::new(),
    };
    let mut pes = [0u64; 3];
    let (cells, total) = tree(&generic, &xilinx, "nasa_top", 1, &mut pes);
    report.generic_cells = cells;
    report.xilinx = total;
    for kind in Kind::ALL {
        let n = pes[kind as usize];
        if n == 0 {
            continue;
        }
        let module = crate::hw::pe::module_name(kind);
        let mut none = [0u64; 3];
        let (g, x) = tree(&generic, &xilinx, &module, n, &mut none);
        report.chunks.insert(
            kind.name(),
            ChunkResources {
                pes: n,
                generic_cells: g,
                xilinx: x,
            },
        );
    }
    Ok(report)
}
