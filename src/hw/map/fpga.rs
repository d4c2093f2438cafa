//! FPGA resources of a layer-by-layer tile-engine design, per synthesis
//! target: LUTs, DSP blocks and block RAMs, as `nasa synth` counts them.
//!
//! The model is structural. [`Inventory::of`] counts what the generator
//! instantiates for a design (PE cells per kind; requantisers,
//! post-processing lanes and scalers, the *units*; descriptor entries;
//! every memory with its depth and width), from the same tile plan the
//! generator renders; the mapper's search builds the same [`Shape`] from
//! its tables, and `map` checks that the two agree on the design it
//! chooses. [`TargetModel::estimate`] prices the inventory:
//! - LUTs: the PE cells at their cost synthesised alone (as `nasa synth`
//!   counts chunks), plus a line fitted to whole designs: base + per unit
//!   + per scratchpad byte lane (banks x word) + per descriptor entry;
//! - DSPs: one per multiply PE, four per unit (its 32 x 32-bit multiply),
//!   and a constant for the controller's address arithmetic;
//! - block RAMs: each memory in the fewest blocks of one of the target's
//!   configurations (depth x width).
//!
//! `scripts/area_calibration.sh` synthesises the calibration designs,
//! fits the lines and reports every design's error, in the fit and left
//! out of it (docs/benchmarks.md, "FPGA resource model").

use serde::Serialize;

use crate::hw::arch::Arch;
use crate::hw::synth::target::Target;
use crate::hw::tile;
use crate::model::net::Network;

/// A memory the design holds: `depth` words of `width` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Mem {
    pub name: &'static str,
    pub depth: u64,
    pub width: u64,
}

/// What a layer-by-layer tile engine's inventory follows from: its
/// geometry and, from its plan, the walks, entries and memory depths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shape {
    /// Array rows (every chunk's), scratchpad banks and bytes per word.
    pub rows: u64,
    pub banks: u64,
    pub word: u64,
    /// Columns per chunk (0: no chunk).
    pub cols: [u64; 3],
    /// Whether a layer walks transposed (`tile::Mode::FlatT`).
    pub has_t: bool,
    /// Descriptor entries.
    pub entries: u64,
    /// Scratchpad words per bank.
    pub depth: u64,
    /// Weight memory words per chunk.
    pub weight_words: [u64; 3],
    /// Per-channel parameter triples.
    pub par_len: u64,
}

impl Shape {
    /// The shape of `arch` generated for each of `nets` (memories as deep
    /// as the deepest network's): the generator's own tile plans.
    /// Layer-by-layer tile designs only.
    pub fn of(nets: &[Network], arch: &Arch) -> Result<Shape, String> {
        const NOT_COVERED: &str =
            "the FPGA resource model covers layer-by-layer tile-engine designs";
        let mut shape: Option<Shape> = None;
        for net in nets {
            let plan = match tile::choose(net, arch) {
                Ok(Some(plan)) => plan,
                Ok(None) => return Err(NOT_COVERED.into()),
                Err(e) => return Err(e.to_string()),
            };
            let one = Shape::of_plan(&plan);
            shape = Some(match shape {
                None => one,
                Some(a) => a.union(&one),
            });
        }
        shape.ok_or_else(|| "no network".into())
    }

    /// The shape of one plan (what `gen::tile` renders).
    pub fn of_plan(plan: &tile::Plan) -> Shape {
        let g = plan.geometry;
        let first = (0..3u32).find(|&k| g.cols[k as usize] > 0);
        Shape {
            rows: first.map_or(g.banks, |k| g.rows_at(k)) as u64,
            banks: g.banks as u64,
            word: g.word as u64,
            cols: g.cols.map(u64::from),
            has_t: plan.layers.iter().any(|l| l.mode == tile::Mode::FlatT),
            entries: plan.entries.len() as u64,
            depth: plan.depth,
            weight_words: [0, 1, 2].map(|k| plan.weights[k].len() as u64),
            par_len: plan.par.len() as u64,
        }
    }

    /// The larger of two shapes of one geometry (two networks on one design).
    pub fn union(&self, o: &Shape) -> Shape {
        Shape {
            has_t: self.has_t || o.has_t,
            entries: self.entries.max(o.entries),
            depth: self.depth.max(o.depth),
            weight_words: [0, 1, 2].map(|k| self.weight_words[k].max(o.weight_words[k])),
            par_len: self.par_len.max(o.par_len),
            ..*self
        }
    }
}

/// What a design instantiates, counted from its tile plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inventory {
    /// PE cells per kind (conv, shift, adder).
    pub pes: [u64; 3],
    /// `nasa_requant` instances: the drain's lanes times the widest
    /// chunk's columns, plus one per array row where a transposed walk
    /// drains a column at a time.
    pub requantisers: u64,
    /// `nasa_addq` instances: one per scratchpad word byte.
    pub post_lanes: u64,
    /// `nasa_scale` instances (pooling and global pooling).
    pub scalers: u64,
    /// Descriptor entries (`desc_mem` words, folded into logic).
    pub entries: u64,
    /// Scratchpad banks and bytes per word.
    pub banks: u64,
    pub word: u64,
    pub memories: Vec<Mem>,
}

impl Inventory {
    /// Requantisers, post-processing lanes and scalers: the units of
    /// [`TargetModel::unit`].
    pub fn units(&self) -> u64 {
        self.requantisers + self.post_lanes + self.scalers
    }

    /// The inventory of `arch` generated for each of `nets` (memories as
    /// deep as the deepest network's): the generator's own tile plan.
    /// Layer-by-layer tile designs only.
    pub fn of(nets: &[Network], arch: &Arch) -> Result<Inventory, String> {
        Ok(Inventory::of_shape(&Shape::of(nets, arch)?))
    }

    /// The inventory of one plan (`gen::tile`'s rendering of it).
    pub fn of_plan(plan: &tile::Plan) -> Inventory {
        Inventory::of_shape(&Shape::of_plan(plan))
    }

    /// The inventory of a layer-by-layer engine of `s`.
    pub fn of_shape(s: &Shape) -> Inventory {
        // Rows drained per cycle (`tile::Geometry::drain_rows`).
        let drain = (s.rows / 8).max(1);
        let cmax = s.cols.iter().copied().max().unwrap_or(1).max(1);
        let mut memories = Vec::new();
        // The scratchpad: two sub-banks per bank, each of a power of two
        // words holding half the bank's words (`gen::tile::sub_banks`).
        let half = 1u64 << clog2((s.depth + 2).div_ceil(2));
        for _ in 0..2 * s.banks {
            memories.push(Mem {
                name: "scratchpad",
                depth: half,
                width: s.word * 8,
            });
        }
        for k in (0..3).filter(|&k| s.cols[k] > 0) {
            memories.push(Mem {
                name: ["weights (conv)", "weights (shift)", "weights (adder)"][k],
                depth: s.weight_words[k].max(2),
                // `tile::Geometry::chunk_weight_bytes`.
                width: s.rows.max(s.cols[k]) * 8,
            });
        }
        memories.push(Mem {
            name: "parameters",
            depth: s.par_len.div_ceil(drain).max(2),
            width: 72 * drain,
        });
        Inventory {
            pes: s.cols.map(|c| c * s.rows),
            // Lane 0's first requantisers also drain transposed columns;
            // rows beyond the lanes' columns have their own.
            requantisers: drain * cmax
                + if s.has_t {
                    s.rows.min(s.word).saturating_sub(cmax)
                } else {
                    0
                },
            post_lanes: s.word,
            scalers: 2,
            entries: s.entries,
            banks: s.banks,
            word: s.word,
            memories,
        }
    }
}

/// Per-channel parameter triples of `net` on arrays of `rows` rows: every
/// convolution's channels start on a multiple of the rows (`tile::plan`).
pub fn par_len(net: &Network, rows: u64) -> u64 {
    net.conv_layers()
        .fold(0, |n, (_, c)| n.next_multiple_of(rows) + c.out_ch as u64)
}

fn clog2(v: u64) -> u32 {
    if v <= 1 {
        0
    } else {
        64 - (v - 1).leading_zeros()
    }
}

/// LUTs and DSPs of one component on one target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cost {
    pub luts: f64,
    pub dsps: u64,
}

const fn cost(luts: f64, dsps: u64) -> Cost {
    Cost { luts, dsps }
}

/// A target's prices.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TargetModel {
    pub target: Target,
    /// Whether the multiplies sit in DSP blocks (not on an iCE40 HX).
    pub dsp: bool,
    /// One PE cell per kind, synthesised alone (as `nasa synth` counts
    /// the chunks).
    pub pe: [Cost; 3],
    /// A requantiser, post-processing lane or scaler (each a 32 x 32-bit
    /// multiply on four DSPs and a rounding shift with a clamp, in three
    /// register stages): LUTs
    /// fitted in place (flattened, they lose what constant parameters
    /// make dead), DSPs as synthesised.
    pub unit: Cost,
    /// The controller: LUTs = base + per entry x entries + per lane x
    /// banks x word bytes; DSPs (address arithmetic) a constant.
    pub base_luts: f64,
    pub luts_per_entry: f64,
    pub luts_per_lane: f64,
    pub base_dsps: u64,
    /// Block RAM configurations (depth, width); a memory takes the fewest
    /// blocks of one of them (Yosys mostly takes fewer: it drops the lanes
    /// no read uses and keeps small memories in logic).
    pub bram: &'static [(u64, u64)],
}

/// 18 Kb blocks: Xilinx 7-series RAMB18E1 (counted in RAMB18; a RAMB36 is
/// two) and ECP5 DP16KD have the same configurations.
const BRAM_18K: [(u64, u64); 6] = [
    (16384, 1),
    (8192, 2),
    (4096, 4),
    (2048, 9),
    (1024, 18),
    (512, 36),
];
/// iCE40 SB_RAM40_4K.
const ICE40_BRAM: [(u64, u64); 4] = [(2048, 2), (1024, 4), (512, 8), (256, 16)];

/// The iCE40 controller line fitted with DSPs (session 18), which the
/// no-DSP model of the HX parts extends: LUTs per unit, base, per entry,
/// per byte lane; DSPs of the controller.
const ICE40_UNIT_LUTS: f64 = 664.0;
const ICE40_BASE_LUTS: f64 = -2132.8;
const ICE40_LUTS_PER_ENTRY: f64 = 396.1;
const ICE40_LUTS_PER_LANE: f64 = 15.9;
const ICE40_BASE_DSPS: u64 = 14;

/// The models, components measured on 2026-12-03 (Yosys 0.23 for Xilinx
/// and iCE40, YoWASP Yosys 0.70 for ECP5), controller lines fitted by
/// `scripts/area_calibration.sh` (docs/benchmarks.md), refitted the same
/// day for three-stage requantisers (session 17; iCE40 in session 18,
/// with the MAC stage).
pub const MODELS: [TargetModel; 4] = [
    TargetModel {
        target: Target::Xilinx,
        dsp: true,
        pe: [cost(128.0, 1), cost(302.0, 0), cost(64.0, 0)],
        unit: cost(618.9, 4),
        base_luts: 3453.8,
        luts_per_entry: 63.7,
        luts_per_lane: 164.5,
        base_dsps: 39,
        bram: &BRAM_18K,
    },
    TargetModel {
        target: Target::Ecp5,
        dsp: true,
        pe: [cost(189.0, 1), cost(500.0, 0), cost(159.0, 0)],
        unit: cost(416.2, 4),
        base_luts: 2351.6,
        luts_per_entry: 152.7,
        luts_per_lane: 0.0,
        base_dsps: 15,
        bram: &BRAM_18K,
    },
    TargetModel {
        target: Target::Ice40,
        dsp: true,
        pe: [cost(215.0, 1), cost(352.0, 0), cost(186.0, 0)],
        unit: cost(ICE40_UNIT_LUTS, 4),
        base_luts: ICE40_BASE_LUTS,
        luts_per_entry: ICE40_LUTS_PER_ENTRY,
        luts_per_lane: ICE40_LUTS_PER_LANE,
        base_dsps: ICE40_BASE_DSPS,
        bram: &ICE40_BRAM,
    },
    // Without DSP blocks (`synth_ice40` without `-dsp`): a unit's four
    // multiplies take 2,927 more LUTs and the multiply PE 880 in all (each
    // synthesised alone), and the controller's 14 multiplier blocks about
    // 732 LUTs each (a quarter of a unit's); derived, not fitted: no
    // design of these networks fits an iCE40.
    TargetModel {
        target: Target::Ice40,
        dsp: false,
        pe: [cost(880.0, 0), cost(352.0, 0), cost(186.0, 0)],
        unit: cost(ICE40_UNIT_LUTS + 2927.0, 0),
        base_luts: ICE40_BASE_LUTS + ICE40_BASE_DSPS as f64 * 732.0,
        luts_per_entry: ICE40_LUTS_PER_ENTRY,
        luts_per_lane: ICE40_LUTS_PER_LANE,
        base_dsps: 0,
        bram: &ICE40_BRAM,
    },
];

/// Resources of a design on one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Use {
    pub luts: u64,
    pub dsps: u64,
    pub block_rams: u64,
}

impl TargetModel {
    /// The model of `target` (iCE40: with DSPs, as on the UP5K, or
    /// without, as on the HX parts).
    pub fn of(target: Target, dsp: bool) -> Option<&'static TargetModel> {
        MODELS.iter().find(|m| m.target == target && m.dsp == dsp)
    }

    /// Blocks of one memory.
    pub fn blocks(&self, m: &Mem) -> u64 {
        self.bram
            .iter()
            .map(|&(d, w)| m.depth.div_ceil(d) * m.width.div_ceil(w))
            .min()
            .unwrap_or(0)
    }

    /// The LUTs of the PE cells alone: what each more PE of a kind adds.
    pub fn pe_luts(&self) -> [f64; 3] {
        self.pe.map(|c| c.luts)
    }

    /// The PE cells' LUTs.
    pub fn pe_cell_luts(&self, inv: &Inventory) -> f64 {
        (0..3).map(|k| self.pe[k].luts * inv.pes[k] as f64).sum()
    }

    /// The controller's own LUTs: the fitted line.
    pub fn controller_luts(&self, inv: &Inventory) -> f64 {
        self.base_luts
            + self.luts_per_entry * inv.entries as f64
            + self.luts_per_lane * (inv.banks * inv.word) as f64
    }

    pub fn estimate(&self, inv: &Inventory) -> Use {
        let units = [
            (self.unit, inv.units()),
            (self.pe[0], inv.pes[0]),
            (self.pe[1], inv.pes[1]),
            (self.pe[2], inv.pes[2]),
        ];
        let luts =
            self.controller_luts(inv) + units.iter().map(|(c, n)| c.luts * *n as f64).sum::<f64>();
        let dsps = self.base_dsps + units.iter().map(|(c, n)| c.dsps * n).sum::<u64>();
        Use {
            luts: luts.max(0.0).round() as u64,
            dsps,
            block_rams: inv.memories.iter().map(|m| self.blocks(m)).sum(),
        }
    }
}

/// A part a design may be sized for: its target and what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
pub enum Part {
    /// Xilinx Artix-7 XC7A35T: 20,800 LUTs, 90 DSP48E1, 100 RAMB18.
    #[value(name = "xc7a35t")]
    #[serde(rename = "xc7a35t")]
    Xc7a35t,
    /// Xilinx Artix-7 XC7A100T: 63,400 LUTs, 240 DSP48E1, 270 RAMB18.
    #[value(name = "xc7a100t")]
    #[serde(rename = "xc7a100t")]
    Xc7a100t,
    /// Xilinx Artix-7 XC7A200T: 133,800 LUTs, 740 DSP48E1, 730 RAMB18.
    #[value(name = "xc7a200t")]
    #[serde(rename = "xc7a200t")]
    Xc7a200t,
    /// Lattice ECP5 LFE5U-25F: 24,288 LUT4, 28 MULT18X18D, 56 DP16KD.
    #[value(name = "ecp5-25k")]
    #[serde(rename = "ecp5-25k")]
    Ecp5_25k,
    /// Lattice ECP5 LFE5U-45F: 43,848 LUT4, 72 MULT18X18D, 108 DP16KD.
    #[value(name = "ecp5-45k")]
    #[serde(rename = "ecp5-45k")]
    Ecp5_45k,
    /// Lattice ECP5 LFE5U-85F: 83,640 LUT4, 156 MULT18X18D, 208 DP16KD.
    #[value(name = "ecp5-85k")]
    #[serde(rename = "ecp5-85k")]
    Ecp5_85k,
    /// Lattice iCE40 UP5K: 5,280 LUT4, 8 SB_MAC16, 30 SB_RAM40_4K.
    #[value(name = "up5k")]
    #[serde(rename = "up5k")]
    Up5k,
    /// Lattice iCE40 HX8K: 7,680 LUT4, no DSP, 32 SB_RAM40_4K.
    #[value(name = "hx8k")]
    #[serde(rename = "hx8k")]
    Hx8k,
}

impl Part {
    pub fn name(self) -> &'static str {
        match self {
            Part::Xc7a35t => "XC7A35T",
            Part::Xc7a100t => "XC7A100T",
            Part::Xc7a200t => "XC7A200T",
            Part::Ecp5_25k => "LFE5U-25F",
            Part::Ecp5_45k => "LFE5U-45F",
            Part::Ecp5_85k => "LFE5U-85F",
            Part::Up5k => "iCE40UP5K",
            Part::Hx8k => "iCE40HX8K",
        }
    }

    /// What the part holds: LUTs, DSPs, block RAMs (in the target's
    /// smallest block).
    pub fn capacity(self) -> Use {
        let (luts, dsps, block_rams) = match self {
            Part::Xc7a35t => (20_800, 90, 100),
            Part::Xc7a100t => (63_400, 240, 270),
            Part::Xc7a200t => (133_800, 740, 730),
            Part::Ecp5_25k => (24_288, 28, 56),
            Part::Ecp5_45k => (43_848, 72, 108),
            Part::Ecp5_85k => (83_640, 156, 208),
            Part::Up5k => (5_280, 8, 30),
            Part::Hx8k => (7_680, 0, 32),
        };
        Use {
            luts,
            dsps,
            block_rams,
        }
    }

    pub fn model(self) -> &'static TargetModel {
        let (t, dsp) = match self {
            Part::Xc7a35t | Part::Xc7a100t | Part::Xc7a200t => (Target::Xilinx, true),
            Part::Ecp5_25k | Part::Ecp5_45k | Part::Ecp5_85k => (Target::Ecp5, true),
            Part::Up5k => (Target::Ice40, true),
            Part::Hx8k => (Target::Ice40, false),
        };
        TargetModel::of(t, dsp).unwrap_or(&MODELS[0])
    }
}

/// A part's budget: every DSP and block RAM, and `lut_fill` of its LUTs
/// (placement and routing need room).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PartBudget {
    pub part: Part,
    pub lut_fill: f64,
}

impl PartBudget {
    pub fn limits(&self) -> (f64, u64, u64) {
        let c = self.part.capacity();
        (c.luts as f64 * self.lut_fill, c.dsps, c.block_rams)
    }

    /// Whether `u` fits; else what does not, in words.
    pub fn check(&self, u: &Use) -> Result<(), String> {
        let (luts, dsps, brams) = self.limits();
        let m = self.part.model();
        let mut over = Vec::new();
        if u.luts as f64 > luts {
            over.push(format!("{} LUTs (of {:.0})", u.luts, luts));
        }
        if u.dsps > dsps {
            over.push(format!("{} {} (of {dsps})", u.dsps, m.target.dsp_cell()));
        }
        if u.block_rams > brams {
            over.push(format!(
                "{} {} (of {brams})",
                u.block_rams,
                m.target.block_ram_cell()
            ));
        }
        if over.is_empty() {
            Ok(())
        } else {
            Err(over.join(", "))
        }
    }
}

/// A design's inventory and its estimate on every modelled target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    pub inventory: Inventory,
    pub targets: Vec<TargetUse>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TargetUse {
    pub target: Target,
    /// Multiplies in DSP blocks (iCE40: the UP5K has them, the HX parts not).
    pub dsp_blocks: bool,
    pub luts: u64,
    /// Of which the PE cells.
    pub pe_luts: u64,
    pub dsps: u64,
    pub block_rams: u64,
}

impl Estimate {
    /// One line: each target's LUTs, DSPs and block RAMs.
    pub fn summary(&self) -> String {
        let per: Vec<String> = self
            .targets
            .iter()
            .filter(|t| t.dsp_blocks)
            .map(|t| {
                format!(
                    "{} {} LUTs, {} {}, {} {}",
                    t.target,
                    t.luts,
                    t.dsps,
                    t.target.dsp_cell(),
                    t.block_rams,
                    t.target.block_ram_cell()
                )
            })
            .collect();
        per.join("; ")
    }

    pub fn of(nets: &[Network], arch: &Arch) -> Result<Estimate, String> {
        let inventory = Inventory::of(nets, arch)?;
        let targets = MODELS
            .iter()
            .map(|m| {
                let u = m.estimate(&inventory);
                TargetUse {
                    target: m.target,
                    dsp_blocks: m.dsp,
                    luts: u.luts,
                    pe_luts: m.pe_cell_luts(&inventory).round() as u64,
                    dsps: u.dsps,
                    block_rams: u.block_rams,
                }
            })
            .collect();
        Ok(Estimate { inventory, targets })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memory_takes_the_fewest_blocks_of_one_configuration() {
        let x = TargetModel::of(Target::Xilinx, true).unwrap();
        // 1,024 x 64: four 1K x 18 blocks (or two 512 x 36, twice).
        let m = |depth, width| Mem {
            name: "m",
            depth,
            width,
        };
        assert_eq!(x.blocks(&m(1024, 64)), 4);
        // 20,748 x 56: eleven 2K x 9 deep, seven wide.
        assert_eq!(x.blocks(&m(20_748, 56)), 77);
        let i = TargetModel::of(Target::Ice40, true).unwrap();
        // 256 x 16 per SB_RAM40_4K: 512 x 8 fills one block twice.
        assert_eq!(i.blocks(&m(512, 16)), 2);
        assert_eq!(i.blocks(&m(2048, 8)), 4);
    }

    #[test]
    fn every_part_has_a_model_of_its_target() {
        for p in <Part as clap::ValueEnum>::value_variants() {
            let m = p.model();
            assert_eq!(m.dsp, p.capacity().dsps > 0, "{}", p.name());
            assert!(p.name().len() > 4);
        }
    }
}
