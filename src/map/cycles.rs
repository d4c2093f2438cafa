//! Cycle and access model of the generated controller (`templates/top.v.tera`)
//! as it is today: layer by layer, one chunk at a time, output channels
//! tiled over the chunk's PEs, the global buffer a direct-mapped
//! write-through cache of external memory.
//!
//! Every state of the controller takes a fixed number of cycles except
//! where it waits for external memory, so a layer's cycles are a closed
//! form in its geometry, its chunk's PE count and the memory latency, plus
//! a fixed penalty per cache miss. Misses do not depend on the data, only
//! on the addresses, and [`MissProfile`] counts them once per network and
//! buffer by walking each layer's reads in the controller's order over a
//! line-level model of the cache. The PE count enters the misses only
//! through the number of output-channel tiles (passes over the input), so
//! the profile records the misses of a first and of a repeated pass, and
//! evaluating a design is O(layers): cheap enough for an exhaustive search.
//!
//! Exactness: the closed forms were derived from the RTL and checked
//! against Verilator layer by layer (`tests/map.rs`). The miss walk applies
//! a layer's output writes (which invalidate their cache index) after its
//! reads; where a layer's output aliases its input in the cache (a buffer
//! far smaller than the activations) the real controller loses more lines
//! and the prediction is low.

use serde::Serialize;

use crate::arch::Arch;
use crate::gen::{CacheGeometry, MEMORY_LATENCY};
use crate::net::{ConvOp, Network, Op, Shape};
use crate::quant::Kind;

/// Base address of every tensor (id 0 the input, `i + 1` layer `i`'s
/// output) in external memory: packed one after another, as `gen` lays them out.
pub fn tensor_bases(net: &Network) -> Vec<u64> {
    let mut base = Vec::with_capacity(net.layers.len() + 1);
    let mut next = 0u64;
    for id in 0..=net.layers.len() {
        base.push(next);
        next += net.tensor(id).shape.len() as u64;
    }
    base
}

/// The memory system a design has, as the cycle model needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Memory {
    /// Bytes per external-memory word and cache line.
    pub line_bytes: u64,
    /// Cache lines (a power of two).
    pub lines: u64,
    /// Cycles between a request's acceptance and its answer.
    pub latency: u64,
}

impl Memory {
    pub fn of(arch: &Arch) -> Memory {
        let g = CacheGeometry::new(arch, 0);
        Memory {
            line_bytes: g.line_bytes as u64,
            lines: g.lines,
            latency: MEMORY_LATENCY as u64,
        }
    }

    /// Cycles a state waiting for one external access takes: the request
    /// cycle, acceptance, `latency` cycles, the acknowledge cycle, and the
    /// cycle that uses the answer (see `templates/tb.v.tera`).
    pub fn access_cycles(&self) -> u64 {
        self.latency + 3
    }
}

/// Misses of one layer: in its first pass over the input, and in each
/// further pass (another output-channel tile of a plain convolution).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LayerMisses {
    pub first: u64,
    pub repeat: u64,
    /// Buffer reads (in-range taps) of one pass.
    pub reads: u64,
    /// Whether every tile reads the input again (a plain convolution).
    pub repeat_reads: bool,
}

impl LayerMisses {
    /// Traffic of the whole layer when it runs in `tiles` passes.
    pub fn at(&self, tiles: u64) -> Traffic {
        Traffic {
            misses: self.first + tiles.saturating_sub(1) * self.repeat,
            reads: if self.repeat_reads { tiles } else { 1 } * self.reads,
        }
    }
}

/// Buffer reads and misses of a whole layer on one design.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Traffic {
    pub misses: u64,
    pub reads: u64,
}

/// Cache misses of every layer of a network on one memory system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissProfile {
    pub memory: Memory,
    pub layers: Vec<LayerMisses>,
}

const INVALID: u64 = u64::MAX;

/// A direct-mapped cache of `lines` lines, by line number.
struct Cache {
    tags: Vec<u64>,
    last: u64,
    misses: u64,
    reads: u64,
}

impl Cache {
    fn access_line(&mut self, line: u64) {
        self.reads += 1;
        if line == self.last {
            return;
        }
        self.last = line;
        let n = self.tags.len() as u64;
        let slot = &mut self.tags[(line % n) as usize];
        if *slot != line {
            *slot = line;
            self.misses += 1;
        }
    }

    /// A write-through write: the RTL clears the index's tag whatever line it holds.
    fn invalidate_range(&mut self, first_byte: u64, bytes: u64, line_bytes: u64) {
        if bytes == 0 {
            return;
        }
        let n = self.tags.len() as u64;
        let (a, b) = (
            first_byte / line_bytes,
            (first_byte + bytes - 1) / line_bytes,
        );
        for line in a..=b.min(a + n - 1) {
            self.tags[(line % n) as usize] = INVALID;
        }
        self.last = INVALID;
    }

    /// Runs `walk` and returns (misses, reads) it caused.
    fn count(&mut self, walk: impl FnOnce(&mut Cache)) -> (u64, u64) {
        let (m, r) = (self.misses, self.reads);
        walk(self);
        (self.misses - m, self.reads - r)
    }
}

/// Reads of one pass of a plain (groups = 1) convolution, in the
/// controller's order: pixel, input channel, kernel row, kernel column.
fn conv_pass(cache: &mut Cache, c: &ConvOp, x: Shape, o: Shape, base: u64, lb: u64) {
    for oy in 0..o.h {
        for ox in 0..o.w {
            for ci in 0..c.in_ch {
                for ky in 0..c.kh {
                    let iy = (oy * c.stride + ky) as i64 - c.padding as i64;
                    if iy < 0 || iy >= x.h as i64 {
                        continue;
                    }
                    for kx in 0..c.kw {
                        let ix = (ox * c.stride + kx) as i64 - c.padding as i64;
                        if ix < 0 || ix >= x.w as i64 {
                            continue;
                        }
                        let a = base + ((ci * x.h + iy as usize) * x.w + ix as usize) as u64;
                        cache.access_line(a / lb);
                    }
                }
            }
        }
    }
}

/// Reads of a grouped convolution (one output channel per group), channel
/// by channel: each output-channel tile reads only its own groups, so
/// every line is read in one pass whatever the PE count.
fn grouped_pass(cache: &mut Cache, c: &ConvOp, x: Shape, o: Shape, base: u64, lb: u64) {
    let cin_g = c.in_ch / c.groups;
    for m in 0..c.out_ch {
        for oy in 0..o.h {
            for ox in 0..o.w {
                for ci in 0..cin_g {
                    let chan = m * cin_g + ci;
                    for ky in 0..c.kh {
                        let iy = (oy * c.stride + ky) as i64 - c.padding as i64;
                        if iy < 0 || iy >= x.h as i64 {
                            continue;
                        }
                        for kx in 0..c.kw {
                            let ix = (ox * c.stride + kx) as i64 - c.padding as i64;
                            if ix < 0 || ix >= x.w as i64 {
                                continue;
                            }
                            let a = base + ((chan * x.h + iy as usize) * x.w + ix as usize) as u64;
                            cache.access_line(a / lb);
                        }
                    }
                }
            }
        }
    }
}

/// Reads of a pooling layer (window `k`, stride, padding), channel by channel.
fn pool_pass(
    cache: &mut Cache,
    x: Shape,
    o: Shape,
    win: (usize, usize, usize),
    base: u64,
    lb: u64,
) {
    let (k, s, p) = win;
    for ch in 0..o.c {
        for oy in 0..o.h {
            for ox in 0..o.w {
                for ky in 0..k {
                    let iy = (oy * s + ky) as i64 - p as i64;
                    if iy < 0 || iy >= x.h as i64 {
                        continue;
                    }
                    for kx in 0..k {
                        let ix = (ox * s + kx) as i64 - p as i64;
                        if ix < 0 || ix >= x.w as i64 {
                            continue;
                        }
                        let a = base + ((ch * x.h + iy as usize) * x.w + ix as usize) as u64;
                        cache.access_line(a / lb);
                    }
                }
            }
        }
    }
}

/// Window (kernel, stride, padding) of a layer the post-processing unit runs.
fn window(op: &Op, x: Shape) -> (usize, usize, usize) {
    match op {
        Op::MaxPool(g) | Op::AvgPool { geom: g, .. } => (g.kernel, g.stride, g.padding),
        Op::GlobalAvgPool { .. } => (x.h, 1, 0),
        _ => (1, 1, 0),
    }
}

impl MissProfile {
    /// Walks every layer's reads over the cache of `memory`.
    pub fn new(net: &Network, memory: Memory) -> MissProfile {
        let lb = memory.line_bytes;
        let base = tensor_bases(net);
        let mut cache = Cache {
            tags: vec![INVALID; memory.lines as usize],
            last: INVALID,
            misses: 0,
            reads: 0,
        };
        let mut layers = Vec::with_capacity(net.layers.len());
        for (i, layer) in net.layers.iter().enumerate() {
            let x = net.tensor(layer.inputs[0]).shape;
            let o = layer.out.shape;
            let b = base[layer.inputs[0]];
            let entry = match &layer.op {
                Op::Conv(c) if c.groups > 1 => {
                    let (first, reads) = cache.count(|k| grouped_pass(k, c, x, o, b, lb));
                    LayerMisses {
                        first,
                        repeat: 0,
                        reads,
                        repeat_reads: false,
                    }
                }
                Op::Conv(c) => {
                    let (first, reads) = cache.count(|k| conv_pass(k, c, x, o, b, lb));
                    cache.last = INVALID;
                    let (repeat, _) = cache.count(|k| conv_pass(k, c, x, o, b, lb));
                    LayerMisses {
                        first,
                        repeat,
                        reads,
                        repeat_reads: true,
                    }
                }
                Op::Add { .. } => {
                    let b2 = base[layer.inputs[1]];
                    let (first, reads) = cache.count(|k| {
                        for e in 0..o.len() as u64 {
                            // Two streams: the one-line memory of `access_line`
                            // would hide alternating lines, so compare by line.
                            k.last = INVALID;
                            k.access_line((b + e) / lb);
                            k.last = INVALID;
                            k.access_line((b2 + e) / lb);
                        }
                    });
                    LayerMisses {
                        first,
                        repeat: 0,
                        reads,
                        repeat_reads: false,
                    }
                }
                op => {
                    let win = window(op, x);
                    let (first, reads) = cache.count(|k| pool_pass(k, x, o, win, b, lb));
                    LayerMisses {
                        first,
                        repeat: 0,
                        reads,
                        repeat_reads: false,
                    }
                }
            };
            cache.invalidate_range(base[i + 1], o.len() as u64, lb);
            layers.push(entry);
        }
        MissProfile { memory, layers }
    }
}

/// Buffer traffic of every layer of `net` on a design with `pes(kind)` PEs
/// per chunk, walked exactly as the controller runs: tile by tile, and the
/// write-through writes of each output pixel (which clear their cache
/// index) in their place between the reads. Costs one step per buffer
/// read, so it is for checking a chosen design, not for searching.
pub fn exact_traffic(net: &Network, memory: &Memory, pes: impl Fn(Kind) -> u64) -> Vec<Traffic> {
    let lb = memory.line_bytes;
    let base = tensor_bases(net);
    let mut k = Cache {
        tags: vec![INVALID; memory.lines as usize],
        last: INVALID,
        misses: 0,
        reads: 0,
    };
    let mut out = Vec::with_capacity(net.layers.len());
    for (i, layer) in net.layers.iter().enumerate() {
        let x = net.tensor(layer.inputs[0]).shape;
        let o = layer.out.shape;
        let (b, ob) = (base[layer.inputs[0]], base[i + 1]);
        let at = |ch: usize, iy: i64, ix: i64| -> Option<u64> {
            (iy >= 0 && ix >= 0 && iy < x.h as i64 && ix < x.w as i64)
                .then(|| b + ((ch * x.h + iy as usize) * x.w + ix as usize) as u64)
        };
        let (misses, reads) = k.count(|k| match &layer.op {
            Op::Conv(c) => {
                let p = pes(c.kind).max(1) as usize;
                let cin_g = c.in_ch / c.groups;
                let grouped = c.groups > 1;
                for m0 in (0..c.out_ch).step_by(p) {
                    let active = p.min(c.out_ch - m0);
                    for oy in 0..o.h {
                        for ox in 0..o.w {
                            let (y0, x0) = (
                                (oy * c.stride) as i64 - c.padding as i64,
                                (ox * c.stride) as i64 - c.padding as i64,
                            );
                            for ci in 0..cin_g {
                                for ky in 0..c.kh {
                                    for kx in 0..c.kw {
                                        let (iy, ix) = (y0 + ky as i64, x0 + kx as i64);
                                        if grouped {
                                            for q in 0..active {
                                                if let Some(a) = at((m0 + q) * cin_g + ci, iy, ix) {
                                                    k.access_line(a / lb);
                                                }
                                            }
                                        } else if let Some(a) = at(ci, iy, ix) {
                                            k.access_line(a / lb);
                                        }
                                    }
                                }
                            }
                            for q in 0..active {
                                let a = ob + (((m0 + q) * o.h + oy) * o.w + ox) as u64;
                                k.invalidate_range(a, 1, lb);
                            }
                        }
                    }
                }
            }
            Op::Add { .. } => {
                let b2 = base[layer.inputs[1]];
                for e in 0..o.len() as u64 {
                    k.last = INVALID;
                    k.access_line((b + e) / lb);
                    k.last = INVALID;
                    k.access_line((b2 + e) / lb);
                    k.invalidate_range(ob + e, 1, lb);
                }
            }
            op => {
                let (kk, st, pd) = window(op, x);
                for ch in 0..o.c {
                    for oy in 0..o.h {
                        for ox in 0..o.w {
                            for ky in 0..kk {
                                for kx in 0..kk {
                                    let iy = (oy * st + ky) as i64 - pd as i64;
                                    let ix = (ox * st + kx) as i64 - pd as i64;
                                    if let Some(a) = at(ch, iy, ix) {
                                        k.access_line(a / lb);
                                    }
                                }
                            }
                            k.invalidate_range(ob + ((ch * o.h + oy) * o.w + ox) as u64, 1, lb);
                        }
                    }
                }
            }
        });
        out.push(Traffic { misses, reads });
    }
    out
}

/// What one layer costs on one design: cycles and the accesses the energy
/// model prices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LayerCost {
    pub cycles: u64,
    /// Accumulation terms (conv layers) or window reads (the others).
    pub ops: u64,
    /// Bytes read from the global buffer.
    pub buffer_reads: u64,
    /// Lines read from external memory into the cache (misses).
    pub dram_line_reads: u64,
    /// Weight lines read from external memory into the chunk.
    pub dram_weight_lines: u64,
    /// Bytes written through to external memory.
    pub dram_writes: u64,
    /// Bytes moved from the buffer and the weight memory to the PEs.
    pub noc_bytes: u64,
    /// Output-channel tiles (passes over the input).
    pub tiles: u64,
    /// Of `cycles`, those spent on external-memory accesses (misses,
    /// weight loads, write-through writes), each `latency + 3` cycles.
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
            let grouped = c.groups > 1;
            let mut cycles = 0;
            for t in 0..tiles {
                let active = pes.min(m - t * pes);
                let weights = fan * (row_lines * acc + 1);
                let macs = if grouped {
                    taps * (2 * active + 1)
                } else {
                    3 * fan
                };
                cycles += weights + pixels * (1 + macs + active * (acc + 1));
                cost.noc_bytes += pixels * fan * 2 * active;
            }
            let missed = traffic.misses;
            cost.tiles = tiles;
            cost.ops = o.len() as u64 * fan;
            cost.buffer_reads = traffic.reads;
            cost.dram_line_reads = missed;
            cost.dram_weight_lines = tiles * fan * row_lines;
            cost.dram_writes = o.len() as u64;
            cycles + missed * acc
        }
        Op::Add { .. } => {
            cost.ops = o.len() as u64;
            cost.buffer_reads = traffic.reads;
            cost.dram_line_reads = traffic.misses;
            cost.dram_writes = o.len() as u64;
            o.len() as u64 * (4 + acc) + traffic.misses * acc
        }
        op => {
            let (k, _, _) = window(op, x);
            let taps = (k * k) as u64;
            cost.ops = o.len() as u64 * taps;
            cost.buffer_reads = traffic.reads;
            cost.dram_line_reads = traffic.misses;
            cost.dram_writes = o.len() as u64;
            o.len() as u64 * (1 + 2 * taps + acc) + traffic.misses * acc
        }
    };
    cost.cycles = LAYER_OVERHEAD + body;
    cost.memory_cycles = (cost.dram_line_reads + cost.dram_weight_lines + cost.dram_writes) * acc;
    cost
}

/// Cycles the controller spends before its first layer and after its last:
/// invalidating the input's cache lines, and the done state.
pub fn frame_overhead(net: &Network, memory: &Memory) -> (u64, u64) {
    let len = net.input.tensor.shape.len() as u64;
    let lines = (len - 1) / memory.line_bytes + 1;
    (lines, 1)
}

/// Predicted cycles of every layer of `net` on `arch` (the first layer
/// includes the start-up, the last the done state): what the testbench's
/// per-layer marks measure.
pub fn predict_layers(net: &Network, arch: &Arch) -> Vec<LayerCost> {
    let memory = Memory::of(arch);
    let traffic = exact_traffic(net, &memory, |k| arch.pes(k) as u64);
    let mut costs: Vec<LayerCost> = net
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let pes = match &l.op {
                Op::Conv(c) => arch.pes(c.kind) as u64,
                _ => 0,
            };
            layer_cost(net, i, pes, &memory, traffic[i])
        })
        .collect();
    let (head, tail) = frame_overhead(net, &memory);
    if let Some(first) = costs.first_mut() {
        first.cycles += head;
    }
    if let Some(last) = costs.last_mut() {
        last.cycles += tail;
    }
    costs
}

/// Kind of the chunk a layer runs on (`None`: the post-processing unit).
pub fn layer_kind(op: &Op) -> Option<Kind> {
    match op {
        Op::Conv(c) => Some(c.kind),
        _ => None,
    }
}
