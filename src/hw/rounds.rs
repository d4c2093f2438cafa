//! Rounds: how a layer pipeline across images shares a network among one
//! engine per chunk kind, and in which round each layer runs. Below the
//! tile pipeline (`tile::pipe`), which cuts layers into entries, says what
//! each costs and when each ends, and the mapper, which prices it.
//!
//! A conv layer runs on its kind's engine; any other layer (pooling,
//! residual add) on the engine of the layer that produces its first input
//! (a layer reading the network input: the engine of the first conv
//! layer). Every engine walks rounds `r = 0, 1, ...`, and in round `r` runs
//! each of its layers, in network order, for image `r - stage(layer)`. A
//! layer's stage is its producers' stage plus one for each producer on
//! another engine, so every dependency between engines points to an
//! earlier round and the engines overlap: in steady state each engine
//! works on a different image (within a round, older images first). A *fused* layer runs in the round of its
//! producers on other engines instead, band by band as their rows are
//! written (`tile::pipe`): the engines then work on the same image
//! together. The hardware checks every dependency (per-layer counters of
//! finished images and bands), so the schedule can only be slow, never
//! wrong.

use serde::Serialize;

use crate::model::net::{Network, Op};
use crate::model::quant::Kind;

/// The most layers reading one tensor that a descriptor can name.
pub const MAX_READERS: usize = 2;

/// Which engine runs each layer, and in which round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rounds {
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
}

impl Rounds {
    /// Engines and stages of `net`'s layers, or why it cannot be pipelined;
    /// `fused[i]` (missing: false): layer `i` shares its producers' round.
    pub fn of(net: &Network, fused: &[bool]) -> Result<Rounds, String> {
        let n = net.layers.len();
        let mut engines: Vec<Kind> = Vec::new();
        for k in Kind::ALL {
            if net.conv_layers().any(|(_, c)| c.kind == k) {
                engines.push(k);
            }
        }
        if engines.is_empty() {
            return Err("a pipelined design needs at least one conv or linear layer".into());
        }
        let mut readers = vec![Vec::new(); n + 1];
        let mut engine = vec![0usize; n];
        let mut stage = vec![0u32; n];
        // The engine of the first conv layer takes layers that read the input directly.
        let first = net
            .layers
            .iter()
            .find_map(|l| match &l.op {
                Op::Conv(c) => Some(c.kind),
                _ => None,
            })
            .and_then(|k| engines.iter().position(|&e| e == k))
            .unwrap_or(0);
        for (i, layer) in net.layers.iter().enumerate() {
            engine[i] = match &layer.op {
                Op::Conv(c) => engines.iter().position(|&e| e == c.kind).unwrap_or(0),
                _ => match layer.inputs[0] {
                    0 => first,
                    id => engine[id - 1],
                },
            };
            let mut s = 0;
            for &id in &layer.inputs {
                if !readers[id].contains(&i) {
                    readers[id].push(i);
                }
                if id > 0 {
                    let cross =
                        engine[id - 1] != engine[i] && !fused.get(i).copied().unwrap_or(false);
                    s = s.max(stage[id - 1] + u32::from(cross));
                }
            }
            stage[i] = s;
        }
        for (id, r) in readers.iter().enumerate() {
            if r.len() > MAX_READERS {
                return Err(format!(
                    "tensor `{}` is read by {} layers; a pipelined design supports at most {MAX_READERS}",
                    net.tensor(id).name,
                    r.len()
                ));
            }
        }
        Ok(Rounds {
            engines,
            max_stage: stage.iter().copied().max().unwrap_or(0),
            engine,
            stage,
            readers,
        })
    }

    /// Rounds between writing tensor `id` and its last reader's round: its
    /// copies must number more than this, or a producer would overwrite a
    /// copy a later round still reads. The input counts as written in
    /// round 0 (`input_stage`).
    pub fn lag(&self, id: usize) -> u32 {
        let born = if id == 0 { 0 } else { self.stage[id - 1] };
        self.readers[id]
            .iter()
            .map(|&r| self.stage[r] - born)
            .max()
            .unwrap_or(0)
    }
}

/// An engine's chunk and the cycles of its layers for one image.
#[derive(Debug, Clone, Serialize)]
pub struct EngineWork {
    pub chunk: Kind,
    pub pes: u64,
    pub layers: Vec<String>,
    pub cycles: u64,
}

/// The model's view of a pipelined design.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineEstimate {
    /// Per engine: its chunk and the cycles of its layers for one image.
    pub engines: Vec<EngineWork>,
    /// Per layer: its cycles as a pipeline entry.
    pub layers: Vec<u64>,
    /// Steady-state cycles between images: the busiest engine.
    pub period: u64,
    /// One image alone, every layer after the previous (the `serial` mode).
    pub serial: u64,
    /// Images of the run `run_cycles` is for ([`RUN_IMAGES`]).
    pub run_images: u64,
    /// A run of `run_images` images from the start to the last output,
    /// the pipeline's filling and draining included.
    pub run_cycles: u64,
}

/// The run a pipeline's estimate includes: the comparison's 16 images.
pub const RUN_IMAGES: usize = 16;

/// An engine's control, in the cycles the schedule needs.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Cycles of an entry the engine skips (no image this round).
    pub skip: u64,
    /// Cycles from a layer's end to the counter update a waiting engine sees.
    pub handoff: u64,
    /// Cycles of an entry's control before its dependency check (they
    /// overlap the wait when it waits).
    pub before_check: u64,
}
