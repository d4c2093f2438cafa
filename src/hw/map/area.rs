//! Area of a generated design: PE areas (a multiply-accumulate PE is 1, a
//! shift or adder PE 1/1.88, the reference's figures) and FPGA look-up
//! tables, `base + sum over kinds of PEs x LUTs per PE`, the linear model
//! `scripts/area_calibration.sh` fits to Yosys 0.23 `synth_xilinx` results
//! of generated designs (fit, and its error on designs left out of it, in
//! docs/benchmarks.md).

use serde::Serialize;

use crate::hw::arch::CHEAP_PE_AREA;
use crate::model::quant::Kind;

/// Area of one PE of `kind`, in multiply-accumulate PEs.
pub fn pe_area(kind: Kind) -> f64 {
    match kind {
        Kind::Conv => 1.0,
        Kind::Shift | Kind::Adder => CHEAP_PE_AREA,
    }
}

/// The fitted LUT model (Yosys 0.23 synth_xilinx, 64-bit memory port, the
/// default 128 KiB buffer in block RAM).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LutModel {
    /// Controller, requantiser, post-processing and cache logic.
    pub base: f64,
    /// Per PE of each kind (conv, shift, adder): the PE cell, its
    /// accumulator and its share of the operand and result multiplexers.
    pub per_pe: [f64; 3],
}

/// Fitted on five designs of `models/features` (2 to 8 PEs per kind) on
/// 2026-11-27, within 1.4% of Yosys on two designs left out of the fit
/// then; stale since the tile engine and the DSP multiply PEs (a linear
/// refit on 2026-12-03 misses by up to 35%: docs/benchmarks.md).
pub const LUTS: LutModel = LutModel {
    base: 4053.1,
    per_pe: [656.9, 357.7, 147.4],
};

/// LUTs of each engine beyond the first in a pipelined design (each is a
/// whole controller with its own buffer logic): from two pipelined designs
/// of three engines synthesised with `nasa synth`, 9,976 and 10,813 LUTs
/// above the model for one controller (docs/benchmarks.md). Rough: two
/// points, no fit.
pub const ENGINE_LUTS: f64 = 5_200.0;

impl LutModel {
    /// LUTs of a design with `engines` controllers (1: layer by layer).
    pub fn luts_with(&self, pes: [u64; 3], engines: usize) -> f64 {
        self.luts(pes) + engines.saturating_sub(1) as f64 * ENGINE_LUTS
    }

    pub fn luts(&self, pes: [u64; 3]) -> f64 {
        self.base
            + pes
                .iter()
                .zip(self.per_pe)
                .map(|(&p, l)| p as f64 * l)
                .sum::<f64>()
    }
}

/// What a design may spend.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Budget {
    /// Multiply-accumulate PE areas.
    PeArea(f64),
    /// FPGA LUTs by [`LUTS`].
    Luts(f64),
}

impl Budget {
    /// Cost of one PE of each kind and the capacity left for PEs in a
    /// design of `engines` controllers (PE areas leave controllers out).
    pub fn linear(&self, engines: usize) -> ([f64; 3], f64) {
        match *self {
            Budget::PeArea(a) => (Kind::ALL.map(pe_area), a),
            Budget::Luts(l) => (LUTS.per_pe, l - LUTS.luts_with([0; 3], engines)),
        }
    }
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Budget::PeArea(a) => write!(f, "{a} MAC-PE areas"),
            Budget::Luts(l) => write!(f, "{l} LUTs"),
        }
    }
}
