//! The layer pipeline (`[schedule] pipeline = true`): which engine runs
//! each layer, in which round, and where each image's tensors live, plus
//! the model of its throughput.
//!
//! One engine per chunk kind the network uses. A conv layer runs on its
//! kind's engine; any other layer (pooling, residual add) on the engine of
//! the layer that produces its first input. Every engine walks rounds
//! `r = 0, 1, ...`, and in round `r` runs each of its layers, in network
//! order, for image `r - stage(layer)`. A layer's stage is its producers'
//! stage plus one for each producer on another engine, so every
//! dependency between engines points to an earlier round and the engines
//! overlap: in steady state each engine works on a different image. The
//! hardware still checks every dependency (per-layer counters of finished
//! images), so the schedule can only be slow, never wrong.
//!
//! Each tensor has `slots` copies in external memory (image `j` uses slot
//! `j mod slots`): enough that a producer never waits for a reader of an
//! older image in a later round, which would deadlock. The network input
//! and output have one slot per image of a run.
//!
//! Between engines, data goes through external memory: an engine writes
//! back its output lines when another engine (or the host) reads them, and
//! drops its cached lines of a tensor another engine wrote before reading
//! it. With `serial`, the same hardware runs one layer at a time in network
//! order (each layer waits for the previous one): the layer-by-layer
//! baseline of the same design.

use serde::Serialize;

use super::cycles::{layer_cost, layer_kind, MissProfile};
use crate::hw::arch::Arch;
use crate::hw::layout::Memory;
use crate::hw::rounds::{Rounds, Timing};
use crate::model::net::{Network, Op};
use crate::model::quant::Kind;

/// Images one run of a pipelined design can take (input and output slots).
pub const MAX_IMAGES: u64 = 64;

pub use crate::hw::rounds::MAX_READERS;

/// The schedule and memory layout of a network on a pipelined design.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Chunk kind of each engine, in engine order.
    pub engines: Vec<Kind>,
    /// Per layer: its engine.
    pub engine: Vec<usize>,
    /// Per layer: its round offset.
    pub stage: Vec<u32>,
    pub max_stage: u32,
    /// Per tensor id (0: the input; `i + 1`: layer `i`'s output): the layers
    /// that read it.
    pub readers: Vec<Vec<usize>>,
    /// Per tensor: copies in external memory (a power of two).
    pub slots: Vec<u64>,
    /// Per tensor: address of slot 0, and bytes between slots (whole lines).
    pub base: Vec<u64>,
    pub stride: Vec<u64>,
    /// End of the activations (a line boundary).
    pub end: u64,
}

impl Plan {
    /// Where image `image`'s copy of tensor `id` starts.
    pub fn addr(&self, id: usize, image: usize) -> u64 {
        self.base[id] + (image as u64 & (self.slots[id] - 1)) * self.stride[id]
    }

    /// Whether layer `i`'s input tensor `id` comes from another engine or
    /// the host (the engine must drop its cached copy before reading).
    pub fn foreign_input(&self, i: usize, id: usize) -> bool {
        id == 0 || self.engine[id - 1] != self.engine[i]
    }

    /// Whether layer `i`'s output is read by another engine or the host
    /// (the engine writes its lines back when the layer ends).
    pub fn shared_output(&self, net: &Network, i: usize) -> bool {
        i + 1 == net.output
            || self.readers[i + 1]
                .iter()
                .any(|&r| self.engine[r] != self.engine[i])
    }
}

/// The pipeline of `net` on `arch` (whose chunks must cover its kinds).
pub fn plan(net: &Network, line_bytes: u64) -> Result<Plan, String> {
    let n = net.layers.len();
    let Rounds {
        engines,
        engine,
        stage,
        max_stage,
        readers,
    } = Rounds::of(net)?;
    let mut slots = vec![1u64; n + 1];
    for id in 1..=n {
        let lag = readers[id]
            .iter()
            .map(|&r| stage[r] - stage[id - 1])
            .max()
            .unwrap_or(0);
        slots[id] = (lag as u64 + 1).next_power_of_two();
    }
    slots[0] = MAX_IMAGES;
    slots[net.output] = slots[net.output].max(MAX_IMAGES);
    let mut base = Vec::with_capacity(n + 1);
    let mut stride = Vec::with_capacity(n + 1);
    let mut next = 0u64;
    for (id, &s) in slots.iter().enumerate() {
        let size = (net.tensor(id).shape.len() as u64).div_ceil(line_bytes) * line_bytes;
        base.push(next);
        stride.push(size);
        next += size * s;
    }
    Ok(Plan {
        engines,
        max_stage,
        engine,
        stage,
        readers,
        slots,
        base,
        stride,
        end: next,
    })
}

/// Buffer lines of each engine out of the design's `total` (a power of
/// two): all of it for one engine, halves for two; for three, a half for
/// the engine writing the most activation bytes and a quarter for each of
/// the others.
pub fn engine_lines(net: &Network, plan: &Plan, total: u64) -> Vec<u64> {
    let n = plan.engines.len();
    let written: Vec<u64> = (0..n)
        .map(|e| {
            (0..net.layers.len())
                .filter(|&i| plan.engine[i] == e)
                .map(|i| plan.stride[i + 1] * plan.slots[i + 1])
                .sum()
        })
        .collect();
    let biggest = (0..n)
        .max_by_key(|&e| (written[e], usize::MAX - e))
        .unwrap_or(0);
    (0..n)
        .map(|e| {
            let shift = match n {
                1 => 0,
                2 => 1,
                _ if e == biggest => 1,
                _ => 2,
            };
            (total >> shift).max(2)
        })
        .collect()
}

/// The model's view of a pipelined run.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineEstimate {
    /// Per engine: its chunk and the cycles of its layers for one image.
    pub engines: Vec<EngineWork>,
    /// Per layer: its estimated cycles, sweeps included.
    pub layers: Vec<u64>,
    /// Steady-state cycles between images: the busiest engine.
    pub period: u64,
    /// One image alone, every layer after the previous (the `serial` mode).
    pub serial: u64,
}

pub use crate::hw::rounds::EngineWork;

/// Control cycles an engine spends per layer on top of the layer itself
/// (descriptor, round and dependency checks, the end-of-layer handshake).
pub const ENTRY_OVERHEAD: u64 = 9;

/// Estimates the engines' work per image on `arch`: each layer's cycles by
/// the layer-by-layer model with the steady-state miss profile of one
/// shared buffer, plus the sweeps that move tensors between engines (two
/// cycles per line, and a memory access per line written back). An
/// estimate, not the exact model: the engines' buffers are smaller than
/// the shared one and they contend for the memory port.
pub fn estimate(net: &Network, arch: &Arch, plan: &Plan) -> PipelineEstimate {
    let mem = Memory::of(arch);
    let profile = MissProfile::new(net, mem);
    let costs: Vec<u64> = (0..net.layers.len())
        .map(|i| {
            let pes = layer_kind(&net.layers[i].op).map_or(0, |k| arch.pes(k) as u64);
            layer_total(net, plan, &mem, &profile, i, pes)
        })
        .collect();
    let engines: Vec<EngineWork> = plan
        .engines
        .iter()
        .enumerate()
        .map(|(e, &k)| EngineWork {
            chunk: k,
            pes: arch.pes(k) as u64,
            layers: (0..net.layers.len())
                .filter(|&i| plan.engine[i] == e)
                .map(|i| net.layers[i].name.clone())
                .collect(),
            cycles: (0..net.layers.len())
                .filter(|&i| plan.engine[i] == e)
                .map(|i| costs[i])
                .sum(),
        })
        .collect();
    PipelineEstimate {
        period: engines.iter().map(|e| e.cycles).max().unwrap_or(0),
        serial: costs.iter().sum(),
        engines,
        layers: costs,
    }
}

/// Control cycles of an entry the engine skips (no image this round).
pub const SKIP_CYCLES: u64 = 4;
/// Cycles from a layer's end to the counter update a waiting engine sees.
pub const HANDOFF_CYCLES: u64 = 2;
/// Cycles of an entry's control before its dependency check (they overlap
/// the wait when it waits).
pub const BEFORE_CHECK: u64 = 5;

/// When each layer of each image ends (cycles from the start of a run of
/// `images` images), if layer `i` of image `j` keeps its engine busy for
/// `cycles(j, i)` (`rounds::schedule` with the cache controller's
/// constants; without the memory port's contention).
pub fn schedule(
    net: &Network,
    plan: &Plan,
    cycles: &dyn Fn(usize, usize) -> u64,
    images: usize,
    serial: bool,
) -> Vec<Vec<u64>> {
    let rounds = Rounds {
        engines: plan.engines.clone(),
        engine: plan.engine.clone(),
        stage: plan.stage.clone(),
        max_stage: plan.max_stage,
        readers: plan.readers.clone(),
    };
    let timing = Timing {
        skip: SKIP_CYCLES,
        handoff: HANDOFF_CYCLES,
        before_check: BEFORE_CHECK,
        loads_input: false,
    };
    crate::hw::rounds::schedule(net, &rounds, &plan.slots, timing, cycles, images, serial)
}

/// Extra control cycles of a pipelined layer over a layer-by-layer one
/// (round, wait, two sweep decisions, end, finish).
pub const ENTRY_EXTRA: u64 = 6;

/// Predicted end of every layer of every image of a pipelined run of
/// `images` images on `arch` (`serial`: one layer at a time): the exact
/// per-engine buffer walk (`cycles::pipeline_traffic`), the layer-by-layer
/// cycle model per layer plus the sweeps, and the engines' schedule.
pub fn predict_run(
    net: &Network,
    arch: &Arch,
    plan: &Plan,
    images: usize,
    serial: bool,
) -> Vec<Vec<u64>> {
    let mem = Memory::of(arch);
    let lines = engine_lines(net, plan, mem.lines);
    let pes = |k: Kind| arch.pes(k) as u64;
    let traffic = super::cycles::pipeline_traffic(net, plan, &mem, &lines, &pes, images, serial);
    let cycles = |j: usize, i: usize| {
        let t = &traffic[j][i];
        let p = layer_kind(&net.layers[i].op).map_or(0, pes);
        layer_cost(net, i, p, &mem, t.traffic).cycles
            + ENTRY_EXTRA
            + 2 * t.dropped_lines
            + 2 * t.flushed_lines
            + t.writebacks * (mem.latency + 2)
    };
    schedule(net, plan, &cycles, images, serial)
}

/// Layer `i`'s estimated cycles in the pipeline on a chunk of `pes` PEs,
/// sweeps included.
pub fn layer_total(
    net: &Network,
    plan: &Plan,
    mem: &Memory,
    profile: &MissProfile,
    i: usize,
    pes: u64,
) -> u64 {
    let layer = &net.layers[i];
    let tiles = match &layer.op {
        Op::Conv(c) => (c.out_ch as u64).div_ceil(pes.max(1)),
        _ => 1,
    };
    let cost = layer_cost(net, i, pes, mem, profile.layers[i].at(tiles));
    let lines = |id: usize| (net.tensor(id).shape.len() as u64).div_ceil(mem.line_bytes);
    let mut sweep = 0;
    for id in plan.inputs_of(net, i) {
        if plan.foreign_input(i, id) {
            sweep += 2 * lines(id);
        }
    }
    if plan.shared_output(net, i) {
        sweep += lines(i + 1) * (2 + mem.access_cycles());
    }
    cost.cycles + sweep + ENTRY_OVERHEAD
}

/// Lines that move between engines through external memory per image:
/// (read after another engine or the host wrote them, written back for
/// another engine or the host).
pub fn crossing_lines(net: &Network, plan: &Plan, line_bytes: u64) -> (u64, u64) {
    let lines = |id: usize| (net.tensor(id).shape.len() as u64).div_ceil(line_bytes);
    let (mut reads, mut writes) = (0, 0);
    for i in 0..net.layers.len() {
        for id in plan.inputs_of(net, i) {
            if plan.foreign_input(i, id) {
                reads += lines(id);
            }
        }
        if plan.shared_output(net, i) {
            writes += lines(i + 1);
        }
    }
    (reads, writes)
}

impl Plan {
    /// Layer `i`'s distinct input tensors.
    fn inputs_of(&self, net: &Network, i: usize) -> Vec<usize> {
        let mut ids = net.layers[i].inputs.clone();
        ids.dedup();
        ids
    }
}
