//! Rounds: how a layer pipeline across images shares a network among one
//! engine per chunk kind, and when each layer of each image ends. Below
//! the tile pipeline (`tile::pipe`), which says what an entry costs and
//! gives its control's constants, and the mapper, which prices it.
//!
//! A conv layer runs on its kind's engine; any other layer (pooling,
//! residual add) on the engine of the layer that produces its first input
//! (a layer reading the network input: the engine of the first conv
//! layer). Every engine walks rounds `r = 0, 1, ...`, and in round `r` runs
//! each of its layers, in network order, for image `r - stage(layer)`. A
//! layer's stage is its producers' stage plus one for each producer on
//! another engine, so every dependency between engines points to an
//! earlier round and the engines overlap: in steady state each engine
//! works on a different image. The hardware checks every dependency
//! (per-layer counters of finished images), so the schedule can only be
//! slow, never wrong.

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
    /// Engines and stages of `net`'s layers, or why it cannot be pipelined.
    pub fn of(net: &Network) -> Result<Rounds, String> {
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
                    s = s.max(stage[id - 1] + u32::from(engine[id - 1] != engine[i]));
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
}

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

/// When each layer of each image ends (cycles from the start of a run of
/// `images` images), if layer `i` of image `j` keeps its engine busy for
/// `cycles(j, i)` and tensor `id` has `slots[id]` copies: every engine
/// takes its entries round by round, each as soon as the engine is free,
/// the layers it reads have ended and its output's oldest copy is free
/// (the hardware's rule). The first layer's entry loads its image into
/// the input's copies, so it also waits for the input's oldest copy to be
/// free. With `serial`, one layer at a time in network order.
pub fn schedule(
    net: &Network,
    rounds: &Rounds,
    slots: &[u64],
    timing: Timing,
    cycles: &dyn Fn(usize, usize) -> u64,
    images: usize,
    serial: bool,
) -> Vec<Vec<u64>> {
    let n = net.layers.len();
    let mut end = vec![vec![0u64; n]; images];
    let mut free = vec![0u64; rounds.engines.len()];
    let stage = |i: usize| if serial { 0 } else { rounds.stage[i] as usize };
    let nrounds = images + if serial { 0 } else { rounds.max_stage as usize };
    // The earliest an entry can count as starting, given a dependency's end.
    let ready = |t: u64| (t + timing.handoff).saturating_sub(timing.before_check);
    // Every dependency points to an earlier round or an earlier layer of
    // the same round, so rounds in order, layers in network order, is a
    // valid order to settle them in.
    for r in 0..nrounds {
        for i in 0..n {
            let e = rounds.engine[i];
            let Some(j) = r.checked_sub(stage(i)).filter(|&j| j < images) else {
                free[e] += timing.skip;
                continue;
            };
            let mut start = free[e];
            for &id in &net.layers[i].inputs {
                // The layer that writes tensor `id` (the input: the first
                // layer's entry, which loads it).
                let writer = id.saturating_sub(1);
                if rounds.engine[writer] != e {
                    start = start.max(ready(end[j][writer]));
                }
            }
            let mut written = vec![i + 1];
            if i == 0 {
                written.push(0);
            }
            for id in written {
                let Some(old) = j.checked_sub(slots[id] as usize) else {
                    continue;
                };
                for &reader in &rounds.readers[id] {
                    if rounds.engine[reader] != e {
                        start = start.max(ready(end[old][reader]));
                    }
                }
            }
            if serial {
                let prev = match (i, j) {
                    (0, 0) => None,
                    (0, _) => Some((j - 1, n - 1)),
                    _ => Some((j, i - 1)),
                };
                if let Some((pj, pi)) = prev.filter(|&(_, pi)| rounds.engine[pi] != e) {
                    start = start.max(ready(end[pj][pi]));
                }
            }
            end[j][i] = start + cycles(j, i);
            free[e] = end[j][i];
        }
    }
    end
}
