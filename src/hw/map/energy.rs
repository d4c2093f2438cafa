//! Energy of a mapped layer: compute from the unit-energy table of
//! `cost.rs` (each kind its own operation) plus memory traffic at four
//! levels priced per 16 bits, with the 45 nm defaults of NASA-F (section 7
//! of the reference). Read from TOML with `deny_unknown_fields`; every
//! field has a named default.
//!
//! What each level means in the generated design:
//! - `dram`: external memory: cache fills and write-backs and weight-tile
//!   loads, all whole lines;
//! - `buffer`: the global buffer (the cache): one byte per tap read and per
//!   output written, plus the lines filled into it or written back from it;
//! - `noc`: the broadcast of each tap's activation byte and the weight row
//!   byte to every active PE;
//! - `rf`: each PE's 32-bit accumulator, read and written once per term.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::cycles::LayerCost;
use crate::model::cost::UnitEnergy;
use crate::model::error::{InputError, InputResult};
use crate::model::quant::Kind;

fn dram() -> f64 {
    200.0
}
fn buffer() -> f64 {
    6.0
}
fn noc() -> f64 {
    2.0
}
fn rf() -> f64 {
    1.0
}

/// Picojoules per 16 bits moved at each memory level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryEnergy {
    #[serde(default = "dram")]
    pub dram: f64,
    #[serde(default = "buffer")]
    pub buffer: f64,
    #[serde(default = "noc")]
    pub noc: f64,
    #[serde(default = "rf")]
    pub rf: f64,
}

impl Default for MemoryEnergy {
    fn default() -> Self {
        MemoryEnergy {
            dram: dram(),
            buffer: buffer(),
            noc: noc(),
            rf: rf(),
        }
    }
}

/// The whole table: `[compute]` and `[memory]` sections.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnergyTable {
    #[serde(default)]
    pub compute: UnitEnergy,
    #[serde(default)]
    pub memory: MemoryEnergy,
}

impl EnergyTable {
    pub fn load(path: &Path) -> InputResult<EnergyTable> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError::new(path, format!("cannot read energy table: {e}")))?;
        let table: EnergyTable = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let mut err = InputError::new(path, e.message().trim_end().to_string());
            if let Some(line) = line {
                err.message = format!("{} (line {line})", err.message);
            }
            err
        })?;
        let fields = [
            ("memory.dram", table.memory.dram),
            ("memory.buffer", table.memory.buffer),
            ("memory.noc", table.memory.noc),
            ("memory.rf", table.memory.rf),
            ("compute.mult_8", table.compute.mult_8),
            ("compute.add_8", table.compute.add_8),
            ("compute.shift_8", table.compute.shift_8),
            ("compute.mult_6", table.compute.mult_6),
            ("compute.add_6", table.compute.add_6),
            ("compute.shift_6", table.compute.shift_6),
        ];
        for (name, v) in fields {
            if !(v.is_finite() && v >= 0.0) {
                return Err(InputError::new(
                    path,
                    format!("must be a finite, non-negative energy in pJ, not {v}"),
                )
                .field(name));
            }
        }
        Ok(table)
    }
}

/// Energy of one layer (pJ), by where it is spent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Energy {
    pub compute: f64,
    pub dram: f64,
    pub buffer: f64,
    pub noc: f64,
    pub rf: f64,
}

impl Energy {
    pub fn total(&self) -> f64 {
        self.compute + self.dram + self.buffer + self.noc + self.rf
    }

    pub fn add(&mut self, o: &Energy) {
        self.compute += o.compute;
        self.dram += o.dram;
        self.buffer += o.buffer;
        self.noc += o.noc;
        self.rf += o.rf;
    }
}

/// Prices one layer's operations and accesses. `kind` is the chunk of a
/// conv layer (`None`: the post-processing unit, one 8-bit add per op);
/// `bits` its input width.
pub fn layer_energy(
    t: &EnergyTable,
    kind: Option<Kind>,
    bits: u32,
    cost: &LayerCost,
    line_bytes: u64,
) -> Energy {
    let per16 = |bytes: u64, pj: f64| bytes as f64 * 8.0 / 16.0 * pj;
    let m = &t.memory;
    let lines = (cost.dram_line_reads + cost.dram_line_writes) * line_bytes;
    Energy {
        compute: match kind {
            Some(k) => t.compute.term(k, bits) * cost.ops as f64,
            None => t.compute.add_8 * cost.ops as f64,
        },
        dram: per16(lines + cost.dram_weight_lines * line_bytes, m.dram),
        buffer: per16(cost.buffer_reads + cost.buffer_writes + lines, m.buffer),
        noc: per16(cost.noc_bytes, m.noc),
        rf: match kind {
            Some(_) => per16(cost.ops * 8, m.rf),
            None => 0.0,
        },
    }
}
