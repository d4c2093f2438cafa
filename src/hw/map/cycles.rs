//! Cycle and access model of the generated controller (`templates/top.v.tera`)
//! as it is today: layer by layer, one chunk at a time, output channels
//! tiled over the chunk's PEs, the global buffer a direct-mapped
//! write-back, write-allocate cache of external memory.
//!
//! Every state of the controller takes a fixed number of cycles except
//! where it waits for external memory, so a layer's cycles are a closed
//! form in its geometry, its chunk's PE count and the memory latency, plus
//! `latency + 3` per line moved (a fetch, a dirty victim's write-back, a
//! weight line). Which lines move depends on the addresses only, never on
//! the data: a line-level model of the cache walked in the controller's
//! order counts them. `exact_traffic` walks every access of a given design
//! (and of consecutive images: the first starts from an empty buffer, later
//! ones find the activations of the one before); [`MissProfile`] walks each
//! layer once for all PE counts (one tile, then a second read pass), so a
//! design's cost in the search is O(layers).
//!
//! Exactness: the closed forms were derived from the RTL and are checked
//! against Verilator layer by layer and image by image (`tests/all/gen_sim.rs`,
//! `tests/all/map.rs`), including a buffer that the activations overflow.
//! The profile differs from the exact walk only where a tile's outputs and
//! inputs evict each other (a buffer much smaller than the activations).

use serde::Serialize;

use crate::hw::arch::Arch;
use crate::hw::layout::{tensor_bases, Memory};
use crate::model::net::{Network, Op, Shape};
use crate::model::quant::Kind;

/// External-memory and buffer traffic of one layer (one image).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Traffic {
    /// Lines fetched into the cache (read and write misses).
    pub misses: u64,
    /// Dirty victims written back before a fetch.
    pub writebacks: u64,
    /// Bytes read from the buffer (in-range taps, pooling windows, operands).
    pub reads: u64,
    /// Bytes written into the buffer (outputs).
    pub writes: u64,
}

impl Traffic {
    fn plus(self, o: Traffic, times: u64) -> Traffic {
        Traffic {
            misses: self.misses + times * o.misses,
            writebacks: self.writebacks + times * o.writebacks,
            reads: self.reads + times * o.reads,
            writes: self.writes + times * o.writes,
        }
    }
}

/// One layer's traffic without its PE count: a first pass (reads and all
/// writes) and each repeated read pass (another output-channel tile of a
/// plain convolution).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LayerMisses {
    pub first: Traffic,
    pub repeat: Traffic,
}

impl LayerMisses {
    /// Traffic of the whole layer when it runs in `tiles` passes.
    pub fn at(&self, tiles: u64) -> Traffic {
        self.first.plus(self.repeat, tiles.saturating_sub(1))
    }
}

/// Per-layer traffic of a network in the steady state (an image after
/// another), for any PE count, and the write-backs of the output at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissProfile {
    pub memory: Memory,
    pub layers: Vec<LayerMisses>,
    pub flush_writebacks: u64,
}

const INVALID: u64 = u64::MAX;

/// The global buffer: direct-mapped, write-back, write-allocate, by line.
struct Cache {
    tags: Vec<u64>,
    dirty: Vec<bool>,
    /// The line of the previous read, if nothing happened since (a hit).
    last: u64,
    t: Traffic,
}

impl Cache {
    fn new(lines: u64) -> Cache {
        Cache {
            tags: vec![INVALID; lines as usize],
            dirty: vec![false; lines as usize],
            last: INVALID,
            t: Traffic::default(),
        }
    }

    fn slot(&self, line: u64) -> usize {
        (line % self.tags.len() as u64) as usize
    }

    /// Brings `line` in (write-back of a dirty victim, then a fetch).
    fn allocate(&mut self, line: u64) -> usize {
        let i = self.slot(line);
        if self.tags[i] != line {
            if self.tags[i] != INVALID && self.dirty[i] {
                self.t.writebacks += 1;
            }
            self.tags[i] = line;
            self.dirty[i] = false;
            self.t.misses += 1;
        }
        i
    }

    fn read(&mut self, line: u64) {
        self.t.reads += 1;
        if line != self.last {
            self.allocate(line);
            self.last = line;
        }
    }

    fn write(&mut self, line: u64) {
        self.t.writes += 1;
        let i = self.allocate(line);
        self.dirty[i] = true;
        self.last = INVALID;
    }

    /// The start of a run: the host rewrote the input, so its lines go.
    fn drop_line(&mut self, line: u64) {
        let i = self.slot(line);
        if self.tags[i] == line {
            self.tags[i] = INVALID;
            self.dirty[i] = false;
        }
        self.last = INVALID;
    }

    /// The end of a run: writes `line` back if it is cached and dirty.
    fn flush(&mut self, line: u64) -> bool {
        let i = self.slot(line);
        let wb = self.tags[i] == line && self.dirty[i];
        self.dirty[i] &= !wb;
        wb
    }

    /// Runs `walk` and returns the traffic it caused.
    fn count(&mut self, walk: impl FnOnce(&mut Cache)) -> Traffic {
        let before = std::mem::take(&mut self.t);
        walk(self);
        let t = self.t;
        self.t = before.plus(t, 1);
        t
    }
}

/// Window (kernel height, kernel width, stride, padding) of a layer the
/// post-processing unit runs; global average pooling covers the whole
/// `H x W` map, which need not be square.
fn window(op: &Op, x: Shape) -> (usize, usize, usize, usize) {
    match op {
        Op::MaxPool(g) | Op::AvgPool { geom: g, .. } => (g.kernel, g.kernel, g.stride, g.padding),
        Op::GlobalAvgPool { .. } => (x.h, x.w, 1, 0),
        _ => (1, 1, 1, 0),
    }
}

/// How a walk treats a convolution's output-channel tiles.
#[derive(Clone, Copy)]
enum Tiles<'a> {
    /// The design's PE count per kind, tile by tile.
    Exact(&'a dyn Fn(Kind) -> u64),
    /// One tile, then a second pass of reads alone (the miss profile).
    Profile,
}

/// One layer's accesses in the controller's order: conv tiles, pixels, taps
/// (per PE for grouped layers), then each output channel's write; pooling
/// channel by channel; residual adds element by element.
fn walk_layer(
    k: &mut Cache,
    net: &Network,
    i: usize,
    bases: &[u64],
    lb: u64,
    tiles: Tiles,
) -> LayerMisses {
    let layer = &net.layers[i];
    let x = net.tensor(layer.inputs[0]).shape;
    let o = layer.out.shape;
    let (b, ob) = (bases[layer.inputs[0]], bases[i + 1]);
    let at = |ch: usize, iy: i64, ix: i64| -> Option<u64> {
        (iy >= 0 && ix >= 0 && iy < x.h as i64 && ix < x.w as i64)
            .then(|| (b + ((ch * x.h + iy as usize) * x.w + ix as usize) as u64) / lb)
    };
    let out_line = |m: usize, oy: usize, ox: usize| (ob + ((m * o.h + oy) * o.w + ox) as u64) / lb;
    match &layer.op {
        Op::Conv(c) => {
            let cin_g = c.in_ch / c.groups;
            let grouped = c.groups > 1;
            let pass = |k: &mut Cache, m0: usize, active: usize, writes: bool| {
                for oy in 0..o.h {
                    for ox in 0..o.w {
                        let y0 = (oy * c.stride) as i64 - c.padding as i64;
                        let x0 = (ox * c.stride) as i64 - c.padding as i64;
                        for ci in 0..cin_g {
                            for ky in 0..c.kh {
                                for kx in 0..c.kw {
                                    let (iy, ix) = (y0 + ky as i64, x0 + kx as i64);
                                    if grouped {
                                        for q in 0..active {
                                            if let Some(l) = at((m0 + q) * cin_g + ci, iy, ix) {
                                                k.read(l);
                                            }
                                        }
                                    } else if let Some(l) = at(ci, iy, ix) {
                                        k.read(l);
                                    }
                                }
                            }
                        }
                        if writes {
                            for q in 0..active {
                                k.write(out_line(m0 + q, oy, ox));
                            }
                        }
                    }
                }
            };
            match tiles {
                Tiles::Exact(pes) => {
                    let p = pes(c.kind).max(1) as usize;
                    let first = k.count(|k| {
                        for m0 in (0..c.out_ch).step_by(p) {
                            pass(k, m0, p.min(c.out_ch - m0), true);
                        }
                    });
                    LayerMisses {
                        first,
                        repeat: Traffic::default(),
                    }
                }
                Tiles::Profile => {
                    let first = k.count(|k| pass(k, 0, c.out_ch, true));
                    // Grouped tiles read only their own channels: no repeat.
                    let repeat = if grouped {
                        Traffic::default()
                    } else {
                        k.count(|k| pass(k, 0, c.out_ch, false))
                    };
                    LayerMisses { first, repeat }
                }
            }
        }
        Op::Add { .. } => {
            let b2 = bases[layer.inputs[1]];
            let first = k.count(|k| {
                for e in 0..o.len() as u64 {
                    k.read((b + e) / lb);
                    k.read((b2 + e) / lb);
                    k.write((ob + e) / lb);
                }
            });
            LayerMisses {
                first,
                repeat: Traffic::default(),
            }
        }
        op => {
            let (kh, kw, st, pd) = window(op, x);
            let first = k.count(|k| {
                for ch in 0..o.c {
                    for oy in 0..o.h {
                        for ox in 0..o.w {
                            for ky in 0..kh {
                                for kx in 0..kw {
                                    let iy = (oy * st + ky) as i64 - pd as i64;
                                    let ix = (ox * st + kx) as i64 - pd as i64;
                                    if let Some(l) = at(ch, iy, ix) {
                                        k.read(l);
                                    }
                                }
                            }
                            k.write(out_line(ch, oy, ox));
                        }
                    }
                }
            });
            LayerMisses {
                first,
                repeat: Traffic::default(),
            }
        }
    }
}

/// Lines `[first, last]` of tensor `id`.
fn tensor_lines(net: &Network, bases: &[u64], id: usize, lb: u64) -> std::ops::RangeInclusive<u64> {
    let len = net.tensor(id).shape.len() as u64;
    bases[id] / lb..=(bases[id] + len.max(1) - 1) / lb
}

/// One run of the network over the cache: the input's lines dropped, every
/// layer, then the output written back. Returns per-layer traffic and the
/// write-backs of the flush.
fn walk_image(k: &mut Cache, net: &Network, mem: &Memory, tiles: Tiles) -> (Vec<LayerMisses>, u64) {
    let lb = mem.line_bytes;
    let bases = tensor_bases(net, lb);
    for line in tensor_lines(net, &bases, 0, lb) {
        k.drop_line(line);
    }
    let layers = (0..net.layers.len())
        .map(|i| walk_layer(k, net, i, &bases, lb, tiles))
        .collect();
    let flushed = tensor_lines(net, &bases, net.output, lb)
        .filter(|&l| k.flush(l))
        .count() as u64;
    (layers, flushed)
}

impl MissProfile {
    /// The traffic of every layer in the steady state: the second of two
    /// runs from reset (the first leaves the activations in the cache).
    pub fn new(net: &Network, memory: Memory) -> MissProfile {
        let mut k = Cache::new(memory.lines);
        walk_image(&mut k, net, &memory, Tiles::Profile);
        let (layers, flush_writebacks) = walk_image(&mut k, net, &memory, Tiles::Profile);
        MissProfile {
            memory,
            layers,
            flush_writebacks,
        }
    }
}

/// Per-layer traffic of `images` consecutive runs from reset on a design
/// with `pes(kind)` PEs per chunk, access by access as the controller
/// makes them. Costs one step per buffer access: for checking a design,
/// not for searching. Each image also gives its flush's write-backs.
pub fn exact_traffic(
    net: &Network,
    memory: &Memory,
    pes: &dyn Fn(Kind) -> u64,
    images: usize,
) -> Vec<(Vec<Traffic>, u64)> {
    let mut k = Cache::new(memory.lines);
    (0..images)
        .map(|_| {
            let (layers, flushed) = walk_image(&mut k, net, memory, Tiles::Exact(pes));
            (layers.into_iter().map(|l| l.first).collect(), flushed)
        })
        .collect()
}

/// What one layer costs on one design: cycles and the accesses the energy
/// model prices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LayerCost {
    pub cycles: u64,
    /// Accumulation terms (conv layers) or window reads (the others).
    pub ops: u64,
    /// Bytes read from and written into the global buffer by the datapath.
    pub buffer_reads: u64,
    pub buffer_writes: u64,
    /// Lines fetched from external memory into the cache.
    pub dram_line_reads: u64,
    /// Dirty lines written back to external memory.
    pub dram_line_writes: u64,
    /// Weight lines read from external memory into the chunk.
    pub dram_weight_lines: u64,
    /// Bytes moved from the buffer and the weight memory to the PEs.
    pub noc_bytes: u64,
    /// Output-channel tiles (passes over the input).
    pub tiles: u64,
    /// Of `cycles`, those spent on external-memory accesses (fetches,
    /// write-backs, weight loads).
    pub memory_cycles: u64,
}

/// Cycles of the descriptor fetch, dispatch and hand-over around every layer.
const LAYER_OVERHEAD: u64 = 4;

/// Cost of layer `i` of `net` on a chunk of `pes` PEs (conv layers; other
/// layers run in the post-processing unit and ignore it).
pub fn layer_cost(
    net: &Network,
    i: usize,
    pes: u64,
    memory: &Memory,
    traffic: Traffic,
) -> LayerCost {
    let layer = &net.layers[i];
    let x = net.tensor(layer.inputs[0]).shape;
    let o = layer.out.shape;
    let acc = memory.access_cycles();
    let pixels = (o.h * o.w) as u64;
    let mut cost = LayerCost {
        tiles: 1,
        ops: o.len() as u64,
        buffer_reads: traffic.reads,
        buffer_writes: traffic.writes,
        dram_line_reads: traffic.misses,
        dram_line_writes: traffic.writebacks,
        ..LayerCost::default()
    };
    let body = match &layer.op {
        Op::Conv(c) => {
            let pes = pes.max(1);
            let m = c.out_ch as u64;
            let fan = c.fan_in() as u64;
            let taps = (c.kh * c.kw) as u64;
            let row_lines = pes.div_ceil(memory.line_bytes);
            let tiles = m.div_ceil(pes);
            let mut cycles = 0;
            for t in 0..tiles {
                let active = pes.min(m - t * pes);
                let weights = fan * (row_lines * acc + 1);
                let macs = if c.groups > 1 {
                    taps * (2 * active + 1)
                } else {
                    3 * fan
                };
                // Per output value: the lookup (with the parameters) and the write.
                cycles += weights + pixels * (1 + macs + active * 2);
                cost.noc_bytes += pixels * fan * 2 * active;
            }
            cost.tiles = tiles;
            cost.ops = o.len() as u64 * fan;
            cost.dram_weight_lines = tiles * fan * row_lines;
            cycles
        }
        // Two operand reads, a lookup and a write, each two states.
        Op::Add { .. } => o.len() as u64 * 6,
        op => {
            let (kh, kw, _, _) = window(op, x);
            let taps = (kh * kw) as u64;
            cost.ops = o.len() as u64 * taps;
            o.len() as u64 * (1 + 2 * taps + 2)
        }
    };
    cost.memory_cycles =
        traffic.misses * acc + traffic.writebacks * acc + cost.dram_weight_lines * acc;
    cost.cycles = LAYER_OVERHEAD + body + traffic.misses * acc + traffic.writebacks * acc;
    cost
}

/// Cycles before the first layer (two per input line: look up, drop) and
/// after the last (two per output line, `latency + 2` more for each line
/// written back, and the done state).
pub fn frame_overhead(net: &Network, memory: &Memory, flush_writebacks: u64) -> (u64, u64) {
    let lines = |len: u64| (len.max(1) - 1) / memory.line_bytes + 1;
    let input = lines(net.input.tensor.shape.len() as u64);
    let output = lines(net.output_info().shape.len() as u64);
    (
        2 * input,
        2 * output + flush_writebacks * (memory.latency + 2) + 1,
    )
}

/// Predicted cost of every layer of `net` on `arch` for `images`
/// consecutive runs from reset (the first layer includes the start-up,
/// the last the flush and the done state): what the testbench's
/// per-layer marks measure, image by image.
pub fn predict_images(net: &Network, arch: &Arch, images: usize) -> Vec<Vec<LayerCost>> {
    let memory = Memory::of(arch);
    if let Ok(Some(plan)) = crate::hw::tile::choose(net, arch) {
        return vec![tile_costs(net, &plan, &memory); images];
    }
    if let Ok(Some(pipe)) = crate::hw::tile::choose_pipe(net, arch) {
        return vec![tile_costs(net, &pipe.tile, &memory); images];
    }
    let pes = |k: Kind| arch.pes(k) as u64;
    exact_traffic(net, &memory, &pes, images)
        .into_iter()
        .map(|(traffic, flushed)| {
            let mut costs: Vec<LayerCost> = net
                .layers
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let p = layer_kind(&l.op).map_or(0, pes);
                    layer_cost(net, i, p, &memory, traffic[i])
                })
                .collect();
            let (head, tail) = frame_overhead(net, &memory, flushed);
            if let Some(first) = costs.first_mut() {
                first.cycles += head;
            }
            if let Some(last) = costs.last_mut() {
                last.cycles += tail;
                last.dram_line_writes += flushed;
                last.memory_cycles += flushed * (memory.latency + 2);
            }
            costs
        })
        .collect()
}

/// The cost of every layer of a tile-engine design (the same for every
/// image: nothing is cached between runs), the input load counted in the
/// first layer and the output store and done state in the last.
pub fn tile_costs(net: &Network, plan: &crate::hw::tile::Plan, memory: &Memory) -> Vec<LayerCost> {
    use crate::hw::tile;
    let mut costs: Vec<LayerCost> = plan
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if !plan.streamed.iter().any(|&s| s) {
                return tile_layer_cost(net, i, l.mode, &l.desc, &plan.geometry);
            }
            let bands: Vec<Band> = plan
                .entries
                .iter()
                .filter(|e| e.layer == i)
                .map(|e| {
                    (
                        e.desc.clone(),
                        e.dma,
                        tile::stream::dma_lines(&e.desc, memory),
                    )
                })
                .collect();
            tile_bands_cost(net, i, l.mode, &l.desc, &bands, &plan.geometry)
        })
        .collect();
    let (head, tail) = tile::frame_cycles(net, plan, memory);
    let (reads, writes) = tile::frame_lines(net, plan, memory);
    if let Some(first) = costs.first_mut() {
        first.cycles += head;
        first.dram_line_reads += reads;
        first.memory_cycles += reads * memory.access_cycles();
    }
    if let Some(last) = costs.last_mut() {
        last.cycles += tail;
        last.dram_line_writes += writes;
        last.memory_cycles += writes * memory.access_cycles();
    }
    costs
}

/// One band of a layer cut into bands: its descriptor, the cycles of its
/// transfers, and the lines they read and write.
pub type Band = (crate::hw::tile::Desc, u64, (u64, u64));

/// The cost of layer `i` (its whole descriptor `whole`, walked as `mode`)
/// run as `bands`: the bands' walks (halo rows read again) and transfers
/// (their cycles counted as waiting on memory).
pub fn tile_bands_cost(
    net: &Network,
    i: usize,
    mode: crate::hw::tile::Mode,
    whole: &crate::hw::tile::Desc,
    bands: &[Band],
    geom: &crate::hw::tile::Geometry,
) -> LayerCost {
    let mut c = tile_layer_cost(net, i, mode, whole, geom);
    (c.cycles, c.buffer_reads, c.noc_bytes, c.tiles) = (0, 0, 0, 0);
    for (d, dma, (r, w)) in bands {
        let b = tile_layer_cost(net, i, mode, d, geom);
        c.cycles += b.cycles + dma;
        c.buffer_reads += b.buffer_reads;
        c.noc_bytes += b.noc_bytes;
        c.tiles += b.tiles;
        c.dram_line_reads += r;
        c.dram_line_writes += w;
        c.memory_cycles += dma;
    }
    c
}

/// The cost of layer `i` walked as `mode` with descriptor `d` on a tile
/// engine of geometry `geom`.
pub fn tile_layer_cost(
    net: &Network,
    i: usize,
    mode: crate::hw::tile::Mode,
    d: &crate::hw::tile::Desc,
    geom: &crate::hw::tile::Geometry,
) -> LayerCost {
    use crate::hw::tile::{self, Mode};
    let rows = geom.rows_at(d.kind) as u64;
    let o = net.layers[i].out.shape.len() as u64;
    let mut c = LayerCost {
        cycles: tile::walk_cycles(mode, d, geom),
        buffer_writes: o,
        tiles: 1,
        ..LayerCost::default()
    };
    match mode {
        Mode::PostVec => {
            let reads = if d.op == tile::Opcode::Add as u32 {
                2
            } else {
                1
            };
            let words = (d.c * d.h * d.w) as u64;
            c.ops = words * reads;
            c.buffer_reads = words * reads;
        }
        Mode::Post => {
            let reads = (d.kh * d.kw) as u64;
            c.ops = o * reads;
            c.buffer_reads = o * reads;
        }
        _ => {
            let tiles = tile::tiles(d);
            let segments = tiles * (d.cin_g * d.kh) as u64;
            let banks = if d.dw != 0 { rows } else { 1 };
            c.ops = tile::layer_terms(net, i);
            c.tiles = tiles;
            c.buffer_reads = segments * d.nch as u64 * geom.word as u64 * banks;
            // Per tap: a weight per row, and a byte per column of the
            // broadcast segment (of every row's own, depthwise).
            c.noc_bytes = segments * d.kw as u64 * (rows + d.cols as u64 * banks);
        }
    }
    c
}

/// The steady state: every layer of an image that follows another (the
/// throughput a stream of images sees).
pub fn predict_layers(net: &Network, arch: &Arch) -> Vec<LayerCost> {
    predict_images(net, arch, 2).pop().unwrap_or_default()
}

/// Kind of the chunk a layer runs on (`None`: the post-processing unit).
pub fn layer_kind(op: &Op) -> Option<Kind> {
    match op {
        Op::Conv(c) => Some(c.kind),
        _ => None,
    }
}
