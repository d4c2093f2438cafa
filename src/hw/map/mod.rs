//! The mapper: sizes the accelerator's chunks for one or more networks
//! under an area budget, and predicts what every layer costs on the result.
//!
//! - `cycles`: the cycle and access model of the generated controller,
//!   exact against Verilator layer by layer;
//! - `energy`: the unit-energy table (compute per kind, memory per level);
//! - here: the design search and the reports.
//!
//! The generated RTL runs one layer at a time, each conv layer on its
//! kind's chunk with its output channels tiled over the chunk's PEs (the
//! only dataflow it has today), so a design's latency and energy are sums
//! over layers, and each layer depends on one chunk's PE count only. The
//! search therefore prices every layer once per PE count of its chunk
//! (tables per kind) and then enumerates every split of the budget:
//! exhaustive, O(1) per design, deterministic (ties keep the first design
//! in enumeration order). The winning design is then re-predicted with the
//! exact cache walk of `cycles::exact_traffic`; the search itself uses the
//! per-layer miss profile, which differs from the walk only where outputs
//! evict inputs (a buffer much smaller than the activations).

pub mod area;
pub mod cycles;
pub mod energy;
pub mod fpga;
pub mod price;

use serde::Serialize;

pub use area::{pe_area, Budget};

use crate::hw::arch::{array_shape, AccelInfo, Arch, Buffer, Chunk, Engine, Memory};
use crate::model::net::{Network, Op};
use crate::model::quant::Kind;
use cycles::{layer_cost, LayerCost, MissProfile};
use energy::{layer_energy, Energy, EnergyTable};

/// What the search minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// Cycles per inference (summed over the networks).
    Latency,
    /// Energy per inference.
    Energy,
    /// Energy-delay product.
    Edp,
}

impl Objective {
    /// The value minimised for a design of `cycles` and `energy` (any unit).
    pub fn of(self, cycles: f64, energy: f64) -> f64 {
        match self {
            Objective::Latency => cycles,
            Objective::Energy => energy,
            Objective::Edp => cycles * energy,
        }
    }
}

#[derive(Debug, Clone)]
pub struct MapOptions {
    pub budget: Budget,
    pub objective: Objective,
    pub buffer: Buffer,
    pub memory: Memory,
    pub clock_mhz: f64,
    pub energy: EnergyTable,
    pub name: String,
    /// Design a layer pipeline (`[schedule] pipeline = true`): the latency
    /// objective becomes the steady-state cycles per image.
    pub pipeline: bool,
    /// The controller to design for: `Auto` searches tile-engine designs
    /// where the tile engine can run every network, else cache designs.
    pub engine: Engine,
    /// A pipeline may move whole shift layers onto the multiply engine
    /// (`schedule.shift_on_multiply`): while the shift engine sets the
    /// period, the search adds, one at a time, the move that most improves
    /// the objective among the three that look best on the current design
    /// (layers of exponent width up to 3: docs/arithmetic.md, K4).
    pub share: bool,
    /// A pipeline may fuse layers with their producers on other engines
    /// (`schedule.fuse`, `schedule.bands`) where that shortens a run of
    /// this many images, filling included: on the chosen design, the
    /// search adds, one at a time, the fused layer that most shortens the
    /// run, for each band count it tries, and keeps the best.
    pub fuse: Option<usize>,
}

/// Band counts the fusion search tries.
const FUSE_BANDS: [u32; 3] = [2, 4, 8];

/// The largest chunk the generator accepts (a 64 x 64 array).
const MAX_PES: u64 = 64 * 64;

/// Whether the generator can build a chunk of `pes` PEs (0: no chunk): its
/// most square array must fit 64 x 64.
pub fn buildable(pes: u64) -> bool {
    pes == 0 || (pes <= MAX_PES && array_shape(pes as u32).cols <= 64)
}

/// One layer of a mapped network.
#[derive(Debug, Clone, Serialize)]
pub struct LayerMap {
    pub layer: String,
    pub op: &'static str,
    /// The chunk it runs on (`null`: the post-processing unit).
    pub chunk: Option<Kind>,
    pub pes: u64,
    /// How the tile engine walks it (`row`, `flat`, `depthwise`, `post`);
    /// absent on the cache controller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub walk: Option<&'static str>,
    /// Output tiles (tile engine: channel tiles x rows x column tiles;
    /// cache controller: output-channel tiles); 1 for other layers.
    pub tiles: u64,
    /// Accumulation terms (convolution and linear layers).
    pub terms: u64,
    /// Of `cycles`, the run's input load (first layer) or output store
    /// (last layer) on a tile-engine design.
    pub frame_cycles: u64,
    /// Of the chunk's PEs, the share busy over the layer's own cycles:
    /// terms / ((cycles - frame_cycles) x PEs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utilization: Option<f64>,
    pub cycles: u64,
    /// Of `cycles`, those waiting on external memory.
    pub memory_cycles: u64,
    pub energy_pj: f64,
    pub dram_bytes: u64,
}

/// One network on the chosen design.
#[derive(Debug, Clone, Serialize)]
pub struct NetworkMap {
    pub network: String,
    pub cycles: u64,
    /// Of `cycles`, those waiting on external memory.
    pub memory_cycles: u64,
    pub latency_us: f64,
    /// Inferences per second, layer by layer (one image at a time).
    pub throughput: f64,
    pub energy_nj: f64,
    /// Energy per inference by where it is spent (nJ).
    pub energy_breakdown_nj: Energy,
    /// Energy-delay product (nJ x us).
    pub edp: f64,
    /// The convolution and linear layers together: their terms over their
    /// own cycles times their chunk's PEs.
    pub conv_utilization: f64,
    pub layers: Vec<LayerMap>,
    /// Pipelined designs: the engines' work per image, the steady-state
    /// period (which sets `throughput`) and `cycles` as one image alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<crate::hw::rounds::PipelineEstimate>,
}

/// The mapper's answer.
#[derive(Debug, Clone, Serialize)]
pub struct Mapping {
    pub objective: Objective,
    pub budget: Budget,
    /// PEs per kind of the chosen design (0: no chunk).
    pub pes: [u64; 3],
    /// Its area in multiply-accumulate PEs...
    pub area: f64,
    /// ...and its FPGA resources per target by the resource model
    /// (layer-by-layer tile designs; `None` for others).
    pub fpga: Option<fpga::Estimate>,
    pub designs_evaluated: u64,
    pub search_seconds: f64,
    /// The controller the design has: `tiles` or `cache`.
    pub engine: &'static str,
    pub networks: Vec<NetworkMap>,
    #[serde(skip)]
    pub arch: Arch,
}

/// Per kind and PE count: the summed cycles and energy of that kind's
/// layers over all networks (index 0 unused).
struct KindTable {
    cycles: Vec<u64>,
    energy: Vec<f64>,
}

fn kind_index(k: Kind) -> usize {
    match k {
        Kind::Conv => 0,
        Kind::Shift => 1,
        Kind::Adder => 2,
    }
}

/// The architecture with `pes` (conv, shift, adder; 0: no chunk) PEs and
/// the memory system of `opts`: what the search writes for its answer.
pub fn design(opts: &MapOptions, pes: [u64; 3]) -> Arch {
    let chunk = |p: u64| (p > 0).then(|| array_shape(p as u32));
    Arch {
        accelerator: AccelInfo {
            name: opts.name.clone(),
            clock_mhz: opts.clock_mhz,
        },
        clp: chunk(pes[0]),
        slp: chunk(pes[1]),
        alp: chunk(pes[2]),
        buffer: opts.buffer,
        memory: opts.memory,
        schedule: crate::hw::arch::Schedule {
            pipeline: opts.pipeline,
            engine: Engine::Cache,
            shift_on_multiply: Vec::new(),
            fuse: Vec::new(),
            bands: 0,
        },
        path: std::path::PathBuf::from(format!("<nasa map, budget {}>", opts.budget)),
    }
}

/// The tile-engine architecture with `rows` rows and `cols` columns per
/// chunk (conv, shift, adder; 0 columns: no chunk). A layer-by-layer
/// engine needs the same rows in every chunk; a pipeline's engines may
/// differ.
pub fn tile_design(opts: &MapOptions, rows: [u32; 3], cols: [u32; 3]) -> Arch {
    let chunk = |k: usize| {
        (cols[k] > 0).then_some(Chunk {
            rows: rows[k],
            cols: cols[k],
        })
    };
    Arch {
        clp: chunk(0),
        slp: chunk(1),
        alp: chunk(2),
        schedule: crate::hw::arch::Schedule {
            pipeline: opts.pipeline,
            engine: Engine::Tiles,
            shift_on_multiply: Vec::new(),
            fuse: Vec::new(),
            bands: 0,
        },
        ..design(opts, [0, 0, 0])
    }
}

/// Array rows the tile search tries (output channels per tile, banks).
const TILE_ROWS: [u32; 7] = [1, 2, 4, 8, 16, 32, 64];
/// Scratchpad word widths (bytes) the tile search tries.
const TILE_WORDS: [u32; 6] = [2, 4, 8, 16, 32, 64];
/// The most columns of a chunk.
const MAX_COLS: u32 = 64;

/// A tile design's word: the widest chunk's columns, rounded up to a power of two.
fn tile_word(cols: [u32; 3]) -> u32 {
    cols.iter()
        .copied()
        .max()
        .unwrap_or(1)
        .next_power_of_two()
        .max(2)
}

/// The tile search's answer: the array shapes and how many designs it priced.
struct TileChoice {
    rows: [u32; 3],
    cols: [u32; 3],
    /// Under an FPGA budget: the inventory's shape the search priced.
    shape: Option<fpga::Shape>,
    evaluated: u64,
}

/// The exhaustive search over tile-engine designs: every rows count (one
/// for all chunks layer by layer, one per engine in a pipeline), every
/// chunk's columns within the budget, priced by the exact tile model
/// (tables per kind, rows, word and columns: a conv layer's cost depends
/// on its chunk's rows and columns and the word only). `Ok(None)`: the
/// tile engine cannot run some network.
fn search_tiles(
    nets: &[Network],
    opts: &MapOptions,
    used: [bool; 3],
    cost: [f64; 3],
    capacity: f64,
) -> Result<Option<TileChoice>, String> {
    use crate::hw::tile::{self, Desc, Geometry};
    let mem = crate::hw::layout::Memory::of(&design(opts, [1, 1, 1]));
    let probe = Geometry::uniform(1, 2, [1; 3]);
    let mut fixed_cycles = 0u64;
    let mut fixed_energy = 0f64;
    // Per network: the frame's and the post-processing layers' part of the
    // fixed cost (a streamed design replaces them by its own).
    let mut frame_part = vec![(0u64, 0f64); nets.len()];
    let mut post_part: Vec<Vec<(usize, u64, f64)>> = vec![Vec::new(); nets.len()];
    // A pipeline: per network and kind, the cycles of its engine that no
    // column count changes (other layers, load, store, entry control).
    let mut engine_fixed = vec![[0u64; 3]; nets.len()];
    for (ni, net) in nets.iter().enumerate() {
        let bases = crate::hw::layout::tensor_bases(net, mem.line_bytes);
        let Ok(plan) = tile::plan_shape(net, &probe, &bases) else {
            return Ok(None);
        };
        let (head, tail) = tile::frame_cycles(net, &plan, &mem);
        fixed_cycles += head + tail;
        if opts.pipeline {
            let Ok(rounds) = crate::hw::rounds::Rounds::of(net, &[]) else {
                return Ok(None);
            };
            let kind = |i: usize| kind_index(rounds.engines[rounds.engine[i]]);
            let store = tile::store_cycles(net.output_info().shape.len() as u64, &mem);
            engine_fixed[ni][kind(0)] += head;
            engine_fixed[ni][kind(net.output - 1)] += store;
            for (i, l) in plan.layers.iter().enumerate() {
                engine_fixed[ni][kind(i)] += tile::pipe::ENTRY_EXTRA;
                if matches!(l.mode, tile::Mode::Post | tile::Mode::PostVec) {
                    let c = cycles::tile_layer_cost(net, i, l.mode, &l.desc, &probe);
                    engine_fixed[ni][kind(i)] += c.cycles;
                }
            }
        }
        let (reads, writes) = tile::frame_lines(net, &plan, &mem);
        let frame = LayerCost {
            dram_line_reads: reads,
            dram_line_writes: writes,
            ..LayerCost::default()
        };
        let frame_energy = layer_energy(&opts.energy, None, 8, &frame, mem.line_bytes).total();
        fixed_energy += frame_energy;
        frame_part[ni] = (head + tail, frame_energy);
        for (i, l) in plan.layers.iter().enumerate() {
            if matches!(l.mode, tile::Mode::Post | tile::Mode::PostVec) {
                let c = cycles::tile_layer_cost(net, i, l.mode, &l.desc, &probe);
                let bits = net.tensor(net.layers[i].inputs[0]).bits;
                let e = layer_energy(&opts.energy, None, bits, &c, mem.line_bytes).total();
                fixed_cycles += c.cycles;
                fixed_energy += e;
                post_part[ni].push((i, c.cycles, e));
            }
        }
    }
    // tables[kind][rows][word][cols]: (cycles, energy) of the kind's layers
    // (a pipeline: net_tables[net][kind]... the cycles per network).
    let nc = MAX_COLS as usize + 1;
    let mut tables = vec![vec![vec![vec![(0u64, 0f64); nc]; TILE_WORDS.len()]; TILE_ROWS.len()]; 3];
    let mut net_cycles =
        vec![vec![vec![vec![vec![0u64; nc]; TILE_WORDS.len()]; TILE_ROWS.len()]; 3]; nets.len()];
    // An FPGA budget prices every design's inventory: per network, its
    // shape's parts (weight words and transposed walks per kind, rows,
    // word and columns; scratchpad depth and entries per rows and word).
    let fpga = opts.budget.is_fpga();
    let priced = if fpga { nets.len() } else { 0 };
    let mut shape_at =
        vec![vec![vec![vec![(0u64, false); nc]; TILE_WORDS.len()]; TILE_ROWS.len()]; 3 * priced];
    let mut depth_at = vec![[[(0u64, 0u64); TILE_WORDS.len()]; TILE_ROWS.len()]; priced];
    // Per rows count and word: every network's activations fit the buffer
    // (with that many banks); per rows count: arrays of that many rows
    // can run every layer (grouped convolutions).
    let mut fits = [[true; TILE_WORDS.len()]; TILE_ROWS.len()];
    let mut runs = [true; TILE_ROWS.len()];
    // Per shape: what streaming changes in the fixed cost (frames and
    // post-processing layers cut into bands), over all networks.
    let mut stream_fixed = [[(0i64, 0f64); TILE_WORDS.len()]; TILE_ROWS.len()];
    let words = opts.buffer.words as u64;
    for (ri, &rows) in TILE_ROWS.iter().enumerate() {
        for (wi, &word) in TILE_WORDS.iter().enumerate() {
            let geom = |c: u32| Geometry::uniform(rows, word, [c; 3]);
            // Layer by layer, a network whose activations do not fit
            // streams its largest tensors (`tile::stream`).
            let mut streamed: Vec<Option<tile::Plan>> = vec![None; nets.len()];
            fits[ri][wi] = nets.iter().enumerate().all(|(ni, n)| {
                let g = geom(1);
                let bases = crate::hw::layout::tensor_bases(n, mem.line_bytes);
                if opts.pipeline {
                    tile::plan_geometry(n, &g, &bases)
                        .and_then(|p| tile::pipe::plan(n, &g, p, &Default::default()))
                        .is_ok_and(|p| p.bytes() * rows as u64 <= words)
                } else if tile::scratchpad_bytes(n, &g) <= words {
                    true
                } else {
                    streamed[ni] = tile::plan_shape(n, &g, &bases)
                        .and_then(|whole| {
                            tile::stream::plan(n, whole, &bases, &mem, words / rows as u64)
                        })
                        .ok();
                    streamed[ni].is_some()
                }
            });
            if !fits[ri][wi] {
                continue;
            }
            if fpga {
                for (ni, n) in nets.iter().enumerate() {
                    let g = geom(1);
                    depth_at[ni][ri][wi] = match &streamed[ni] {
                        Some(sp) => (sp.depth, sp.entries.len() as u64),
                        None => (
                            tile::scratchpad_bytes(n, &g) / (word as u64 * rows as u64),
                            n.layers.len() as u64,
                        ),
                    };
                }
            }
            for (ni, sp) in streamed.iter().enumerate() {
                let Some(sp) = sp else { continue };
                let net = &nets[ni];
                let g = geom(1);
                let (head, tail) = tile::frame_cycles(net, sp, &mem);
                let (reads, writes) = tile::frame_lines(net, sp, &mem);
                let frame = LayerCost {
                    dram_line_reads: reads,
                    dram_line_writes: writes,
                    ..LayerCost::default()
                };
                let fe = layer_energy(&opts.energy, None, 8, &frame, mem.line_bytes).total();
                let d = &mut stream_fixed[ri][wi];
                d.0 += (head + tail) as i64 - frame_part[ni].0 as i64;
                d.1 += fe - frame_part[ni].1;
                for &(i, c0, e0) in &post_part[ni] {
                    let l = &sp.layers[i];
                    let bands = stream_bands(net, sp, i, l.mode, &l.desc, &mem);
                    let c = cycles::tile_bands_cost(net, i, l.mode, &l.desc, &bands, &g);
                    let bits = net.tensor(net.layers[i].inputs[0]).bits;
                    d.0 += c.cycles as i64 - c0 as i64;
                    d.1 += layer_energy(&opts.energy, None, bits, &c, mem.line_bytes).total() - e0;
                }
            }
            for (ni, net) in nets.iter().enumerate() {
                for (i, layer) in net.layers.iter().enumerate() {
                    let Op::Conv(c) = &layer.op else { continue };
                    let k = kind_index(c.kind);
                    let bits = net.tensor(layer.inputs[0]).bits;
                    for cols in 1..=word.min(MAX_COLS) {
                        let g = geom(cols);
                        let mut d = Desc::default();
                        // A layer this shape cannot run (a grouping the
                        // rows do not divide) rules the rows count out.
                        let Ok(mode) = tile::conv_walk(&mut d, net, i, &g) else {
                            runs[ri] = false;
                            break;
                        };
                        let lc = match &streamed[ni] {
                            None => cycles::tile_layer_cost(net, i, mode, &d, &g),
                            Some(sp) => {
                                let bands = stream_bands(net, sp, i, mode, &d, &mem);
                                cycles::tile_bands_cost(net, i, mode, &d, &bands, &g)
                            }
                        };
                        if fpga {
                            let w = &mut shape_at[3 * ni + k][ri][wi][cols as usize];
                            w.0 += c.out_ch.div_ceil(d.mstep as usize) as u64 * c.fan_in() as u64;
                            w.1 |= mode == tile::Mode::FlatT;
                        }
                        let e = layer_energy(&opts.energy, Some(c.kind), bits, &lc, mem.line_bytes);
                        let t = &mut tables[k][ri][wi][cols as usize];
                        t.0 += lc.cycles;
                        t.1 += e.total();
                        net_cycles[ni][k][ri][wi][cols as usize] += lc.cycles;
                    }
                }
            }
        }
    }
    let value = |c: u64, e: f64| opts.objective.of(c as f64, e);
    let mut best: Option<(f64, TileChoice)> = None;
    let mut evaluated = 0u64;
    // One design: rows (indices into TILE_ROWS) and columns per kind.
    let mut consider = |ri: [usize; 3], cols: [u32; 3]| {
        let word = tile_word(cols);
        let wi = word.trailing_zeros() as usize - 1;
        // The scratchpad's banks: the most rows.
        let bi = (0..3)
            .filter(|&k| used[k])
            .map(|k| ri[k])
            .max()
            .unwrap_or(0);
        if !fits[bi][wi] || (0..3).any(|k| used[k] && !runs[ri[k]]) {
            return;
        }
        evaluated += 1;
        let (dc, de) = stream_fixed[bi][wi];
        let (mut c, mut e) = ((fixed_cycles as i64 + dc) as u64, fixed_energy + de);
        for k in (0..3).filter(|&k| used[k]) {
            let t = tables[k][ri[k]][wi][cols[k] as usize];
            c += t.0;
            e += t.1;
        }
        if opts.pipeline {
            // The period: per network, its busiest engine.
            c = (0..nets.len())
                .map(|ni| {
                    (0..3)
                        .filter(|&k| used[k])
                        .map(|k| {
                            engine_fixed[ni][k] + net_cycles[ni][k][ri[k]][wi][cols[k] as usize]
                        })
                        .max()
                        .unwrap_or(0)
                })
                .sum();
        }
        let v = value(c, e);
        if best.as_ref().is_none_or(|(b, _)| v < *b) {
            let rows = ri.map(|r| TILE_ROWS[r]);
            // An FPGA budget: the design's inventory must fit (layer by
            // layer: every chunk has the engine's rows).
            let shape = if fpga {
                let r = rows[0] as u64;
                let shape = (0..nets.len())
                    .map(|ni| {
                        let at = |k: usize| shape_at[3 * ni + k][ri[k]][wi][cols[k] as usize];
                        let (depth, entries) = depth_at[ni][bi][wi];
                        fpga::Shape {
                            rows: r,
                            banks: r,
                            word: word as u64,
                            cols: cols.map(u64::from),
                            has_t: (0..3).any(|k| used[k] && at(k).1),
                            entries,
                            depth,
                            weight_words: [0, 1, 2].map(|k| if used[k] { at(k).0 } else { 0 }),
                            par_len: fpga::par_len(&nets[ni], r),
                        }
                    })
                    .reduce(|a, b| a.union(&b));
                let fits = shape
                    .is_some_and(|s| opts.budget.admits(&fpga::Inventory::of_shape(&s)).is_ok());
                if !fits {
                    return;
                }
                shape
            } else {
                None
            };
            best = Some((
                v,
                TileChoice {
                    rows,
                    cols,
                    shape,
                    evaluated: 0,
                },
            ));
        }
    };
    if opts.pipeline {
        // Each engine its own shape: every (rows, columns) of each kind
        // within the budget, then every combination.
        let shapes: Vec<Vec<(usize, u32, f64)>> = (0..3)
            .map(|k| {
                if !used[k] {
                    return vec![(0, 0, 0.0)];
                }
                let rest: f64 = (0..3).filter(|&j| j != k && used[j]).map(|j| cost[j]).sum();
                let mut v = Vec::new();
                for (ri, &rows) in TILE_ROWS.iter().enumerate() {
                    for cols in 1..=MAX_COLS {
                        let spent = (rows * cols) as f64 * cost[k];
                        if spent + rest > capacity + 1e-9 {
                            break;
                        }
                        v.push((ri, cols, spent));
                    }
                }
                v
            })
            .collect();
        for &(r0, c0, s0) in &shapes[0] {
            for &(r1, c1, s1) in &shapes[1] {
                if s0 + s1 > capacity + 1e-9 {
                    continue;
                }
                for &(r2, c2, s2) in &shapes[2] {
                    if s0 + s1 + s2 <= capacity + 1e-9 {
                        consider([r0, r1, r2], [c0, c1, c2]);
                    }
                }
            }
        }
    } else {
        for (ri, &rows) in TILE_ROWS.iter().enumerate() {
            let r = rows as f64;
            let min_cost: f64 = (0..3).filter(|&i| used[i]).map(|i| r * cost[i]).sum();
            if min_cost > capacity + 1e-9 {
                break;
            }
            let max = |i: usize| -> u32 {
                if !used[i] {
                    return 0;
                }
                let rest = capacity - (min_cost - r * cost[i]);
                ((rest / (r * cost[i]) + 1e-9).floor() as u32).clamp(1, MAX_COLS)
            };
            let range = |i: usize| if used[i] { 1..=max(i) } else { 0..=0 };
            for cc in range(0) {
                for cs in range(1) {
                    let spent2 = r * (cc as f64 * cost[0] + cs as f64 * cost[1]);
                    if spent2 > capacity + 1e-9 {
                        break;
                    }
                    for ca in range(2) {
                        if spent2 + r * ca as f64 * cost[2] > capacity + 1e-9 {
                            break;
                        }
                        consider([ri; 3], [cc, cs, ca]);
                    }
                }
            }
        }
    }
    Ok(best.map(|(_, choice)| TileChoice {
        evaluated,
        ..choice
    }))
}

/// Layer `i` of a streamed plan `sp` as bands of the walk `d` (walked as
/// `mode`, for any column count): each band's descriptor, transfer cycles
/// and lines.
fn stream_bands(
    net: &Network,
    sp: &crate::hw::tile::Plan,
    i: usize,
    mode: crate::hw::tile::Mode,
    d: &crate::hw::tile::Desc,
    mem: &crate::hw::layout::Memory,
) -> Vec<cycles::Band> {
    use crate::hw::tile::stream;
    let x = net.tensor(net.layers[i].inputs[0]).shape;
    let o = net.layers[i].out.shape;
    sp.entries
        .iter()
        .filter(|e| e.layer == i)
        .map(|e| {
            let mut b = d.clone();
            stream::shape_band(&mut b, mode, x, o, e.band.map(|v| v as usize));
            (b, e.dma, stream::dma_lines(&e.desc, mem))
        })
        .collect()
}

/// Sizes the chunks for `nets` under `opts` and reports every network on
/// the chosen design.
pub fn map(nets: &[Network], opts: &MapOptions) -> Result<Mapping, String> {
    let started = std::time::Instant::now();
    let best = map_shared(nets, opts)?;
    let Some(images) = opts.fuse.filter(|_| opts.pipeline && nets.len() == 1) else {
        return Ok(best);
    };
    let net = &nets[0];
    let Some(fused) = fuse_search(net, &best.arch, images.max(1)) else {
        return Ok(best);
    };
    Ok(answer(
        nets,
        opts,
        fused,
        best.pes,
        best.designs_evaluated,
        started,
    ))
}

/// Cycles of a run of `images` images of `net` on the pipelined `arch`
/// (from the start to the last output), or `None` where its pipeline does
/// not fit.
pub fn run_cycles(net: &Network, arch: &Arch, images: usize) -> Option<u64> {
    let ran = arch.runs_shapes(net);
    let pipe = crate::hw::tile::choose_pipe(&ran, arch).ok()??;
    let mem = crate::hw::layout::Memory::of(arch);
    Some(crate::hw::tile::pipe::predict_total(
        &ran, &pipe, &mem, images, false,
    ))
}

/// The fused layers (greedy, per band count in [`FUSE_BANDS`]) that most
/// shorten a run of `images` images of `net` on `arch`, as the
/// architecture with them, or `None` where none shortens it. The work and
/// its energy stay the same, so the run's cycles decide.
fn fuse_search(net: &Network, arch: &Arch, images: usize) -> Option<Arch> {
    use rayon::prelude::*;
    let base = run_cycles(net, arch, images)?;
    let mut best: Option<(u64, Arch)> = None;
    for bands in FUSE_BANDS {
        let mut current = arch.clone();
        current.schedule.bands = bands;
        current.schedule.fuse.clear();
        let mut cycles = base;
        loop {
            // Every layer not yet fused, tried in parallel; ties go to the
            // first in network order.
            let trials: Vec<(u64, usize)> = net
                .layers
                .par_iter()
                .enumerate()
                .filter(|(_, l)| !current.schedule.fuse.contains(&l.name))
                .filter_map(|(i, l)| {
                    let mut a = current.clone();
                    a.schedule.fuse.push(l.name.clone());
                    Some((run_cycles(net, &a, images)?, i))
                })
                .collect();
            let Some(&(c, i)) = trials.iter().min() else {
                break;
            };
            if c >= cycles {
                break;
            }
            cycles = c;
            current.schedule.fuse.push(net.layers[i].name.clone());
        }
        if cycles < best.as_ref().map_or(base, |b| b.0) {
            best = Some((cycles, current));
        }
    }
    best.map(|(_, mut a)| {
        // The file lists the fused layers in network order.
        a.schedule
            .fuse
            .sort_by_key(|n| net.layers.iter().position(|l| &l.name == n));
        a
    })
}

/// [`map`] without fusing layers.
fn map_shared(nets: &[Network], opts: &MapOptions) -> Result<Mapping, String> {
    let started = std::time::Instant::now();
    let mut best = map_placed(nets, opts)?;
    if !(opts.share && opts.pipeline && nets.len() == 1) {
        return Ok(best);
    }
    // Greedy, while the shift engine sets the period: each round prices
    // every shift layer not yet moved on the current design, sizes a design
    // for the network with each of the `TRIED` most promising moved, and
    // keeps the best if it improves the objective.
    const TRIED: usize = 3;
    let score_of = |n: &NetworkMap| {
        let cycles = n.pipeline.as_ref().map_or(n.cycles, |p| p.period) as f64;
        opts.objective.of(cycles, n.energy_nj)
    };
    let score = |m: &Mapping| score_of(&m.networks[0]);
    let shift_bound = |m: &Mapping| {
        m.networks[0].pipeline.as_ref().is_some_and(|p| {
            p.engines
                .iter()
                .max_by_key(|e| e.cycles)
                .is_some_and(|e| e.chunk == Kind::Shift)
        })
    };
    let net = &nets[0];
    // The shift layers a multiply PE can run.
    let shift: Vec<String> = net
        .conv_layers()
        .filter(|(_, c)| c.kind == Kind::Shift)
        .map(|(l, _)| l.name.clone())
        .filter(|n| {
            crate::model::net::as_multiply::check_movable(net, std::slice::from_ref(n)).is_ok()
        })
        .collect();
    let mut moved: Vec<String> = Vec::new();
    let mut evaluated = best.designs_evaluated;
    while shift_bound(&best) {
        use rayon::prelude::*;
        // Every move priced on the current design, the best first (ties in
        // network order).
        let mut quick: Vec<(f64, String)> = shift
            .par_iter()
            .filter(|n| !moved.contains(n))
            .filter_map(|name| {
                let mut trial = moved.clone();
                trial.push(name.clone());
                let placed = crate::model::net::as_multiply::kinds_as_multiply(net, &trial);
                let n = report_network(&placed, &best.arch, &opts.energy);
                n.pipeline.as_ref()?;
                Some((score_of(&n), name.clone()))
            })
            .collect();
        quick.sort_by(|a, b| a.0.total_cmp(&b.0));
        quick.truncate(TRIED);
        // The trials in parallel, kept in order: the first best wins a tie.
        let trials: Vec<(String, Mapping)> = quick
            .par_iter()
            .filter_map(|(_, name)| {
                let mut trial = moved.clone();
                trial.push(name.clone());
                let placed = crate::model::net::as_multiply::kinds_as_multiply(net, &trial);
                let m = map_placed(std::slice::from_ref(&placed), opts).ok()?;
                Some((name.clone(), m))
            })
            .collect();
        let mut round: Option<(f64, String, Mapping)> = None;
        for (name, m) in trials {
            evaluated += m.designs_evaluated;
            let s = score(&m);
            if s < round.as_ref().map_or(score(&best), |r| r.0) {
                round = Some((s, name, m));
            }
        }
        let Some((_, name, m)) = round else { break };
        moved.push(name);
        best = m;
    }
    if moved.is_empty() {
        best.designs_evaluated = evaluated;
        return Ok(best);
    }
    // The answer for the network as described, on the design with the moves.
    let mut arch = best.arch.clone();
    arch.schedule.shift_on_multiply = moved;
    Ok(answer(nets, opts, arch, best.pes, evaluated, started))
}

/// [`map`] without moving work between kinds.
fn map_placed(nets: &[Network], opts: &MapOptions) -> Result<Mapping, String> {
    let started = std::time::Instant::now();
    if nets.is_empty() {
        return Err("no network to map".into());
    }
    let probe = design(opts, [1, 1, 1]);
    if let Err(e) = probe.validate(std::path::Path::new("<nasa map>")) {
        let flag = match e.field.as_deref() {
            Some("buffer.words") | Some("buffer.banks") => "--buffer-words",
            Some("memory.data_bits") => "--data-bits",
            Some("accelerator.clock_mhz") => "--clock-mhz",
            _ => "option",
        };
        return Err(format!("{flag}: {}", e.message));
    }
    // The memory system does not depend on the PE split.
    let mem = crate::hw::layout::Memory::of(&probe);
    let mut used = [false; 3];
    for net in nets {
        for (_, c) in net.conv_layers() {
            used[kind_index(c.kind)] = true;
        }
    }
    // The budget as a linear constraint: sum of PEs x cost per PE <= capacity.
    if opts.budget.is_fpga() && (opts.pipeline || opts.engine == Engine::Cache) {
        return Err(format!(
            "a budget of {} is priced by the FPGA resource model, which covers layer-by-layer tile-engine designs: drop --pipeline and --engine cache, or give --budget in MAC-PE areas",
            opts.budget
        ));
    }
    let (cost, capacity) = opts.budget.linear();
    let min_cost: f64 = (0..3).filter(|&i| used[i]).map(|i| cost[i]).sum();
    if !(capacity.is_finite() && capacity >= min_cost - 1e-9) {
        return Err(format!(
            "a budget of {} cannot give each of the kinds the networks use one PE",
            opts.budget
        ));
    }
    // Largest PE count of each kind: the budget left after one PE of every other used kind.
    let mut max = [0u64; 3];
    for i in 0..3 {
        if used[i] {
            let rest = capacity - (min_cost - cost[i]);
            max[i] = ((rest / cost[i] + 1e-9).floor() as u64).clamp(1, MAX_PES);
        }
    }
    if opts.engine != Engine::Cache {
        match search_tiles(nets, opts, used, cost, capacity) {
            Ok(Some(TileChoice {
                rows,
                cols,
                shape,
                evaluated,
            })) => {
                let arch = tile_design(opts, rows, cols);
                // The search prices inventories from its tables; they must
                // be the generator's own.
                if let Some(searched) = shape {
                    let planned = fpga::Shape::of(nets, &arch)?;
                    if planned != searched {
                        return Err(format!("internal error: the search priced the FPGA inventory of {rows:?} x {cols:?} as {searched:?}, its plan has {planned:?}"));
                    }
                }
                let pes = [0, 1, 2].map(|k| (cols[k] * rows[k]) as u64);
                return Ok(answer(nets, opts, arch, pes, evaluated, started));
            }
            Ok(None) if opts.pipeline => {
                return Err("--pipeline: no tile pipeline of this budget fits the buffer (every image's activations stay on chip); raise --buffer-words or map without --pipeline".into())
            }
            Ok(None) if opts.budget.is_fpga() => {
                return Err(format!(
                    "no tile-engine design fits a budget of {}{}",
                    opts.budget,
                    smallest_note(nets, opts, used)
                ))
            }
            Ok(None) if opts.engine == Engine::Auto => {}
            Ok(None) => {
                return Err("--engine tiles: no tile-engine design of this budget can run the networks (grouped convolutions other than depthwise, or activations larger than the buffer)".into())
            }
            Err(e) => return Err(e),
        }
    }
    if opts.pipeline {
        return Err("--pipeline runs on tile engines; --engine cache has none".into());
    }
    // Per-kind tables and the part that no chunk size changes.
    let profiles: Vec<MissProfile> = nets.iter().map(|n| MissProfile::new(n, mem)).collect();
    let mut fixed_cycles = 0u64;
    let mut fixed_energy = 0f64;
    let mut tables: Vec<KindTable> = (0..3)
        .map(|i| KindTable {
            cycles: vec![0; max[i] as usize + 1],
            energy: vec![0.0; max[i] as usize + 1],
        })
        .collect();
    for (net, profile) in nets.iter().zip(&profiles) {
        let (head, tail) = cycles::frame_overhead(net, &mem, profile.flush_writebacks);
        fixed_cycles += head + tail;
        let flush = LayerCost {
            dram_line_writes: profile.flush_writebacks,
            ..LayerCost::default()
        };
        fixed_energy += layer_energy(&opts.energy, None, 8, &flush, mem.line_bytes).total();
        for (i, layer) in net.layers.iter().enumerate() {
            let bits = net.tensor(layer.inputs[0]).bits;
            let misses = &profile.layers[i];
            match cycles::layer_kind(&layer.op) {
                None => {
                    let cost = layer_cost(net, i, 0, &mem, misses.at(1));
                    fixed_cycles += cost.cycles;
                    fixed_energy +=
                        layer_energy(&opts.energy, None, bits, &cost, mem.line_bytes).total();
                }
                Some(k) => {
                    let t = &mut tables[kind_index(k)];
                    for p in 1..t.cycles.len() {
                        let tiles = match &layer.op {
                            Op::Conv(c) => (c.out_ch as u64).div_ceil(p as u64),
                            _ => 1,
                        };
                        let cost = layer_cost(net, i, p as u64, &mem, misses.at(tiles));
                        t.cycles[p] += cost.cycles;
                        t.energy[p] +=
                            layer_energy(&opts.energy, Some(k), bits, &cost, mem.line_bytes)
                                .total();
                    }
                }
            }
        }
    }
    // Every split of the budget.
    let range = |i: usize| if used[i] { 1..=max[i] } else { 0..=0 };
    let mut best: Option<(f64, [u64; 3])> = None;
    let mut evaluated = 0u64;
    let value = |c: u64, e: f64| opts.objective.of(c as f64, e);
    for pc in range(0) {
        for ps in range(1) {
            let spent2 = pc as f64 * cost[0] + ps as f64 * cost[1];
            if spent2 > capacity + 1e-9 {
                break;
            }
            for pa in range(2) {
                if spent2 + pa as f64 * cost[2] > capacity + 1e-9 {
                    break;
                }
                let pes = [pc, ps, pa];
                if !pes.iter().all(|&p| buildable(p)) {
                    continue;
                }
                evaluated += 1;
                let (mut c, mut e) = (fixed_cycles, fixed_energy);
                for i in 0..3 {
                    if used[i] {
                        c += tables[i].cycles[pes[i] as usize];
                        e += tables[i].energy[pes[i] as usize];
                    }
                }
                let v = value(c, e);
                if best.is_none_or(|(b, _)| v < b) {
                    best = Some((v, pes));
                }
            }
        }
    }
    let Some((_, pes)) = best else {
        return Err("no design fits the budget".into());
    };
    let arch = design(opts, pes);
    Ok(answer(nets, opts, arch, pes, evaluated, started))
}

/// Why the smallest tile design misses an FPGA budget: `: the smallest
/// design (one PE of each kind used) needs ..., over ...` (empty where it
/// cannot be priced).
fn smallest_note(nets: &[Network], opts: &MapOptions, used: [bool; 3]) -> String {
    let cols = used.map(|u| u as u32);
    let arch = tile_design(opts, [1; 3], cols);
    let Ok(inv) = fpga::Inventory::of(nets, &arch) else {
        return String::new();
    };
    let Some(model) = opts.budget.model() else {
        return String::new();
    };
    let u = model.estimate(&inv);
    match opts.budget.admits(&inv) {
        Err(over) => format!(
            ": the smallest design (one PE of each kind the networks use) needs {} LUTs, {} {} and {} {} by the model, over the budget in {over}",
            u.luts,
            u.dsps,
            model.target.dsp_cell(),
            u.block_rams,
            model.target.block_ram_cell()
        ),
        Ok(()) => String::new(),
    }
}

/// The search's answer: the chosen design with every network reported on it.
fn answer(
    nets: &[Network],
    opts: &MapOptions,
    arch: Arch,
    pes: [u64; 3],
    evaluated: u64,
    started: std::time::Instant,
) -> Mapping {
    let networks = nets
        .iter()
        .map(|n| report_network(n, &arch, &opts.energy))
        .collect();
    Mapping {
        objective: opts.objective,
        budget: opts.budget,
        pes,
        area: arch.pe_area(),
        fpga: fpga::Estimate::of(nets, &arch).ok(),
        designs_evaluated: evaluated,
        search_seconds: started.elapsed().as_secs_f64(),
        engine: match arch.schedule.engine {
            Engine::Tiles => "tiles",
            _ => "cache",
        },
        networks,
        arch,
    }
}

/// Cycles, energy and traffic of `net` on `arch`, layer by layer, with the
/// exact cache walk.
pub fn report_network(net: &Network, arch: &Arch, table: &EnergyTable) -> NetworkMap {
    let ran = arch.runs_shapes(net);
    let net: &Network = &ran;
    let mem = crate::hw::layout::Memory::of(arch);
    let costs: Vec<LayerCost> = cycles::predict_layers(net, arch);
    let mut total = Energy::default();
    // A tile pipeline keeps every activation on chip.
    let tile_pipe = crate::hw::tile::choose_pipe(net, arch).ok().flatten();
    let estimate = tile_pipe.as_ref().map(|tp| {
        let layers: Vec<u64> = (0..net.layers.len())
            .map(|i| crate::hw::tile::pipe::layer_cycles(net, tp, &mem, i))
            .collect();
        let engines = crate::hw::tile::pipe::engine_work(net, arch, tp, &mem);
        let run = crate::hw::rounds::RUN_IMAGES;
        crate::hw::rounds::PipelineEstimate {
            period: engines.iter().map(|e| e.cycles).max().unwrap_or(0),
            serial: layers.iter().sum(),
            run_images: run as u64,
            run_cycles: crate::hw::tile::pipe::predict_total(net, tp, &mem, run, false),
            engines,
            layers,
        }
    });
    let tiles = crate::hw::tile::choose(net, arch)
        .ok()
        .flatten()
        .or_else(|| tile_pipe.map(|p| p.tile));
    let (head, tail) = match &tiles {
        Some(p) => crate::hw::tile::frame_cycles(net, p, &mem),
        None => (0, 0),
    };
    let last = net.layers.len().saturating_sub(1);
    let mut layers = Vec::with_capacity(costs.len());
    for (i, (layer, cost)) in net.layers.iter().zip(&costs).enumerate() {
        let kind = cycles::layer_kind(&layer.op);
        let bits = net.tensor(layer.inputs[0]).bits;
        let e = layer_energy(table, kind, bits, cost, mem.line_bytes);
        let terms = crate::hw::tile::layer_terms(net, i);
        // The input load (first layer) and output store (last) in its cycles.
        let frame = if i == 0 { head } else { 0 } + if i == last { tail } else { 0 };
        total.add(&e);
        layers.push(LayerMap {
            layer: layer.name.clone(),
            op: layer.op.type_name(),
            chunk: kind,
            pes: kind.map_or(0, |k| arch.pes(k) as u64),
            walk: tiles.as_ref().map(|p| p.layers[i].mode.name()),
            tiles: cost.tiles,
            terms,
            frame_cycles: frame,
            utilization: kind.map(|k| {
                terms as f64 / ((cost.cycles - frame).max(1) * arch.pes(k).max(1) as u64) as f64
            }),
            cycles: estimate
                .as_ref()
                .map_or(cost.cycles, |e| e.layers[layers.len()]),
            memory_cycles: cost.memory_cycles,
            energy_pj: e.total(),
            dram_bytes: (cost.dram_line_reads + cost.dram_line_writes + cost.dram_weight_lines)
                * mem.line_bytes,
        });
    }
    let cycles: u64 = match &estimate {
        Some(e) => e.serial,
        None => costs.iter().map(|c| c.cycles).sum(),
    };
    let latency_us = cycles as f64 / arch.accelerator.clock_mhz;
    let period = estimate.as_ref().map_or(cycles, |e| e.period);
    let nj = |pj: f64| pj / 1000.0;
    let energy_nj = nj(total.total());
    NetworkMap {
        network: net.name.clone(),
        cycles,
        memory_cycles: costs.iter().map(|c| c.memory_cycles).sum(),
        latency_us,
        throughput: arch.accelerator.clock_mhz * 1e6 / period as f64,
        energy_nj,
        energy_breakdown_nj: Energy {
            compute: nj(total.compute),
            dram: nj(total.dram),
            buffer: nj(total.buffer),
            noc: nj(total.noc),
            rf: nj(total.rf),
        },
        edp: energy_nj * period as f64 / arch.accelerator.clock_mhz,
        conv_utilization: {
            let (terms, slots) = layers
                .iter()
                .filter(|l| l.chunk.is_some())
                .fold((0u64, 0u64), |(t, s), l| {
                    (t + l.terms, s + (l.cycles - l.frame_cycles) * l.pes)
                });
            terms as f64 / slots.max(1) as f64
        },
        layers,
        pipeline: estimate,
    }
}

/// The same network with every conv layer a multiplier: what an
/// all-multiply accelerator would run.
pub fn all_multiply(net: &Network) -> Network {
    let mut twin = net.clone();
    for layer in &mut twin.layers {
        if let Op::Conv(c) = &mut layer.op {
            c.kind = Kind::Conv;
        }
    }
    twin.name = format!("{}-all-multiply", net.name);
    // Its description says the same (a generated design carries it, and
    // `nasa sim` reads the network back from there).
    if let Ok(mut doc) = net.source.parse::<toml::Table>() {
        if let Some(toml::Value::Table(n)) = doc.get_mut("network") {
            n.insert("name".into(), toml::Value::String(twin.name.clone()));
        }
        if let Some(toml::Value::Array(layers)) = doc.get_mut("layer") {
            for l in layers.iter_mut() {
                if let toml::Value::Table(t) = l {
                    if t.contains_key("kind") {
                        t.insert("kind".into(), toml::Value::String("conv".into()));
                    }
                }
            }
        }
        if let Ok(text) = toml::to_string(&doc) {
            twin.provenance.description_sha256 = crate::model::net::sha256_hex(text.as_bytes());
            twin.source = text;
        }
    }
    twin
}

/// Maps each network's all-multiply twin on an all-multiply accelerator of
/// the same budget (named `<name>-all-multiply`): the baseline a hybrid
/// design is compared with.
pub fn baseline(nets: &[Network], opts: &MapOptions) -> Result<Mapping, String> {
    let twins: Vec<Network> = nets.iter().map(all_multiply).collect();
    let mut o = opts.clone();
    o.name = format!("{}-all-multiply", opts.name);
    // One chunk: nothing to overlap.
    o.pipeline = false;
    map(&twins, &o)
}

/// One network on the hybrid design against its all-multiply twin on the
/// baseline (ratio < 1: the hybrid is lower).
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub network: String,
    pub latency_ratio: f64,
    pub throughput_ratio: f64,
    pub energy_ratio: f64,
    pub edp_ratio: f64,
    /// Where the hybrid is pipelined: throughput and EDP over a run of
    /// `RUN_IMAGES` images, its filling and draining included (a
    /// layer-by-layer design takes every image alike).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_throughput_ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_edp_ratio: Option<f64>,
}

/// A network's cycles per image over a run of images: a pipeline's run
/// estimate, else its one image's cycles.
fn run_cycles_per_image(n: &NetworkMap) -> f64 {
    match &n.pipeline {
        Some(p) => p.run_cycles as f64 / p.run_images.max(1) as f64,
        None => n.cycles as f64,
    }
}

/// Compares every network of `hybrid` with the same network of `baseline`.
pub fn compare(hybrid: &Mapping, baseline: &Mapping) -> Vec<Comparison> {
    hybrid
        .networks
        .iter()
        .zip(&baseline.networks)
        .map(|(x, y)| Comparison {
            network: x.network.clone(),
            latency_ratio: x.latency_us / y.latency_us,
            throughput_ratio: x.throughput / y.throughput,
            energy_ratio: x.energy_nj / y.energy_nj,
            edp_ratio: x.edp / y.edp,
            run_throughput_ratio: x
                .pipeline
                .as_ref()
                .map(|_| run_cycles_per_image(y) / run_cycles_per_image(x)),
            run_edp_ratio: x.pipeline.as_ref().map(|_| {
                (x.energy_nj * run_cycles_per_image(x)) / (y.energy_nj * run_cycles_per_image(y))
            }),
        })
        .collect()
}

/// A mapping with its architecture.
#[derive(Debug, Clone, Serialize)]
pub struct MappedDesign {
    pub mapping: Mapping,
    pub architecture: Arch,
}

impl MappedDesign {
    fn new(mapping: Mapping) -> MappedDesign {
        let architecture = mapping.arch.clone();
        MappedDesign {
            mapping,
            architecture,
        }
    }
}

/// What `nasa map` reports.
#[derive(Debug, Clone, Serialize)]
pub struct MapReport {
    #[serde(flatten)]
    pub design: MappedDesign,
    /// Where the architecture file was written.
    pub output: Option<String>,
    /// With `compare`: the all-multiply baseline...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub all_multiply: Option<MappedDesign>,
    /// ...and every network against it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Vec<Comparison>>,
}

/// Maps the network descriptions at `paths` (none: the embedded default
/// network) under `opts`; with `compare`, also maps the all-multiply
/// baseline and compares; writes the chosen architecture to `output`.
pub fn map_report(
    paths: &[std::path::PathBuf],
    opts: &MapOptions,
    compare: bool,
    output: Option<&std::path::Path>,
) -> anyhow::Result<MapReport> {
    if !(opts.clock_mhz.is_finite() && opts.clock_mhz > 0.0) {
        anyhow::bail!(
            "--clock-mhz must be a positive number of MHz, not {}",
            opts.clock_mhz
        );
    }
    let nets: Vec<Network> = if paths.is_empty() {
        vec![crate::model::models::load_description(
            std::path::Path::new("default"),
        )?]
    } else {
        paths
            .iter()
            .map(|p| crate::model::models::load_description(p))
            .collect::<Result<_, _>>()?
    };
    let mapping = map(&nets, opts).map_err(|m| anyhow::anyhow!(m))?;
    let base = if compare {
        Some(baseline(&nets, opts).map_err(|m| anyhow::anyhow!(m))?)
    } else {
        None
    };
    if let Some(path) = output {
        let names: Vec<&str> = nets.iter().map(|n| n.name.as_str()).collect();
        let text = format!(
            "# Accelerator for {}, chosen by `nasa map` for a budget of {}, objective {:?}\n# ({} designs evaluated{}).\n{}",
            names.join(", "),
            opts.budget,
            opts.objective,
            mapping.designs_evaluated,
            mapping.fpga.as_ref().map_or(String::new(), |e| format!("; FPGA resources by the model: {}", e.summary())),
            mapping.arch.to_toml()
        );
        crate::model::fsutil::write_atomic(path, text.as_bytes())?;
    }
    Ok(MapReport {
        comparison: base.as_ref().map(|b| self::compare(&mapping, b)),
        all_multiply: base.map(MappedDesign::new),
        design: MappedDesign::new(mapping),
        output: output.map(|p| p.display().to_string()),
    })
}
