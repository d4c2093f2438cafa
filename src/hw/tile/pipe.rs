//! The tile pipeline: one tile engine per chunk kind, each running its
//! layers ([`Rounds`]) of consecutive images concurrently with the others,
//! with every activation on chip.
//!
//! Memories: a tensor made on engine `p` and read on engine `c` has a copy
//! in the channel memory `p -> c` (`p == c`: the engine's own memory). A
//! channel memory has one writer (`p`'s write port, which writes every copy
//! of a tensor in the same cycle) and one reader (`c`'s read port), so the
//! engines never contend for a scratchpad port. A tensor has `slots`
//! copies in each of its memories (image `j` uses copy `j mod slots`),
//! enough that no engine overwrites a copy a later round still reads.
//! Every tensor also has a copy in its producer's own memory (a shared
//! scratch region where nobody else reads it), so a debugging run can
//! store every activation.
//!
//! External memory: the first layer's entry loads its image into the
//! input's copies, and the output's entry stores the output, on separate
//! read and write channels: in a run, one engine reads and one writes, so
//! nothing contends for the memory port either, and the cycles of every
//! entry are those of the layer-by-layer engine plus its control. Weights
//! load after reset (the engines take turns on the read channel).

use serde::Serialize;

use super::{Desc, Geometry, Plan};
use crate::hw::layout::Memory;
use crate::hw::rounds::{self, Rounds, Timing};
use crate::model::net::Network;
use crate::model::quant::Kind;

descriptor! {
    /// A pipelined entry's fields beyond its layer's [`Desc`]: where it
    /// sits in the schedule, what it waits for, and its tensors' copies.
    /// Layer indices name per-layer counters of finished images; the layer
    /// count names a counter that is always full ("nothing to wait for").
    pub struct Sync {
        /// The layer, and its round offset.
        layer, stage,
        /// Layers whose outputs it reads (each: the image written first).
        dep0, dep1,
        /// Layers reading its output's copies, and (the first layer) the input's.
        war0, war1, lwar0, lwar1,
        /// Serial runs: the layer before it, and 1 if that is the previous image's.
        sdep, soff,
        /// Copies - 1 (a power of two less one) and bytes between copies: input, second input, output, network input.
        in_mask, in_str, in2_mask, in2_str, out_mask, out_str, l_mask, l_str,
        /// Output copies written: bit 0 the engine's own memory, bits 1 and 2 its channels to other engines; and their addresses (slot 0) less `out_base`'s.
        dst, dx1, dx2,
        /// Debugging runs: 1 or 2 if the entry first stores its first or second input (which no engine reads where it was made), at this external address, length, pixels per plane and plane bytes.
        fl_sel, fl_ext, fl_len, fl_hw, fl_pw,
        /// 1: the entry first loads the image into the input's copies (own memory at `l_base`), and these.
        load, l_base, l_dst, l_dx1, l_dx2,
        /// 1: the entry ends by storing the output in external memory.
        store,
    }
}

/// A channel memory: copies of tensors made on one engine and read on one.
#[derive(Debug, Clone, Serialize)]
pub struct Mem {
    pub from: usize,
    pub to: usize,
    /// Bytes per bank.
    pub bytes: u64,
    /// Where it starts in its reader's address space.
    pub base: u64,
}

/// Where a copy of a tensor lives: its memory (index into `Pipe::mems`)
/// and its first slot's byte offset there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Copy {
    pub mem: usize,
    pub offset: u64,
}

/// An engine of the pipeline.
#[derive(Debug, Clone, Serialize)]
pub struct EnginePlan {
    pub kind: Kind,
    /// Its layers, in network order.
    pub layers: Vec<usize>,
    /// Memories it reads, its own first (indices into `Pipe::mems`).
    pub reads: Vec<usize>,
    /// Memories it writes: its own, then its channels to other engines.
    pub writes: Vec<usize>,
}

/// A network planned onto a tile pipeline.
#[derive(Debug, Clone, Serialize)]
pub struct Pipe {
    /// The layer-by-layer plan the engines' walks come from.
    pub tile: Plan,
    pub rounds: Rounds,
    /// Per tensor: its copies in each memory holding it.
    pub slots: Vec<u64>,
    pub mems: Vec<Mem>,
    /// Per tensor: its copies, one per memory holding it.
    pub copies: Vec<Vec<Copy>>,
    pub engines: Vec<EnginePlan>,
    /// Per layer: the descriptor its engine runs.
    pub descs: Vec<Desc>,
    /// Per engine: the per-channel parameters of its layers (`pbase` of
    /// its descriptors counts from its own first).
    #[serde(skip)]
    pub par: Vec<Vec<(i32, i32, u32)>>,
    pub syncs: Vec<Sync>,
}

/// Engine-control cycles of a pipelined entry beyond the layer-by-layer
/// engine's (round check, dependency wait, end-of-entry handshake).
pub const ENTRY_EXTRA: u64 = 4;

/// Cycles from the last entry's end to the end of the run (the engine's
/// done state, then the top's).
pub const DONE_CYCLES: u64 = 2;

/// The tile pipeline's control constants (`rounds::schedule`).
pub const TIMING: Timing = Timing {
    skip: 4,
    handoff: 2,
    before_check: 5,
};

impl Pipe {
    /// Bytes per bank of all memories.
    pub fn bytes(&self) -> u64 {
        self.mems.iter().map(|m| m.bytes).sum()
    }
}

/// The pipeline of `net` on an engine geometry `geom`, from its
/// layer-by-layer plan `tile`.
pub fn plan(net: &Network, geom: &Geometry, tile: Plan) -> Result<Pipe, String> {
    let rounds = Rounds::of(net)?;
    let n = net.layers.len();
    let ne = rounds.engines.len();
    let producer = |id: usize| if id == 0 { 0 } else { id - 1 };
    let engine_of = |id: usize| rounds.engine[producer(id)];
    let slots: Vec<u64> = (0..=n)
        .map(|id| (rounds.lag(id) as u64 + 1).next_power_of_two())
        .collect();
    let size = |id: usize| tile.places[id].plane * tile.places[id].planes;
    // Memories that hold something, by (writer, reader).
    let mut consumers: Vec<Vec<usize>> = Vec::with_capacity(n + 1);
    for id in 0..=n {
        let mut c: Vec<usize> = rounds.readers[id]
            .iter()
            .map(|&r| rounds.engine[r])
            .collect();
        // The input (loaded by the first layer) and the output (stored by
        // its maker) also have a copy in their maker's own memory.
        if id == 0 || id == net.output {
            c.push(engine_of(id));
        }
        c.sort_unstable();
        c.dedup();
        consumers.push(c);
    }
    // A row segment's first read starts up to `pad` bytes before its
    // tensor (the padding bytes are masked): every memory starts with
    // enough spare words that such a read stays in the tensor's memory.
    let pad = net
        .conv_layers()
        .map(|(_, c)| c.padding as u64)
        .max()
        .unwrap_or(0);
    let word = geom.word as u64;
    let guard = pad.div_ceil(word).max(1) * word;
    let mut used = vec![vec![guard; ne]; ne];
    let own_copy = |id: usize| consumers[id].contains(&engine_of(id));
    let mut offset = vec![vec![u64::MAX; ne]; n + 1];
    // Channels between engines: every copy alive across rounds (its
    // readers are at later stages), so each has its own region.
    for (id, cons) in consumers.iter().enumerate() {
        let p = engine_of(id);
        for &c in cons.iter().filter(|&&c| c != p) {
            offset[id][c] = used[p][c];
            used[p][c] += size(id) * slots[id];
        }
    }
    // An engine's own memory: copies with several slots have their own
    // regions; a one-slot copy lives from the entry that writes it to the
    // engine's last entry that reads it (or stores it) within one round,
    // so copies whose lives do not overlap share space (first fit).
    for (e, used_e) in used.iter_mut().enumerate() {
        let own: Vec<usize> = (0..=n)
            .filter(|&id| engine_of(id) == e && own_copy(id))
            .collect();
        for &id in own.iter().filter(|&&id| slots[id] > 1) {
            offset[id][e] = used_e[e];
            used_e[e] += size(id) * slots[id];
        }
        let life = |id: usize| {
            let born = producer(id);
            let last = rounds.readers[id]
                .iter()
                .copied()
                .filter(|&r| rounds.engine[r] == e)
                .max()
                .unwrap_or(born);
            (born, last.max(born))
        };
        let floor = used_e[e];
        let mut placed: Vec<(usize, u64, u64)> = Vec::new();
        for &id in own.iter().filter(|&&id| slots[id] == 1) {
            let (born, last) = life(id);
            let busy: Vec<(u64, u64)> = placed
                .iter()
                .filter(|&&(j, _, _)| {
                    let (b, l) = life(j);
                    b <= last && born <= l
                })
                .map(|&(_, lo, hi)| (lo, hi))
                .collect();
            let at = super::first_fit(busy, size(id), floor);
            offset[id][e] = at;
            placed.push((id, at, at + size(id)));
            used_e[e] = used_e[e].max(at + size(id));
        }
    }
    let mut mems = Vec::new();
    let mut engines = Vec::new();
    let mut index = vec![vec![usize::MAX; ne]; ne];
    for e in 0..ne {
        let mut reads = Vec::new();
        let mut base = 0;
        // Its own memory first, then the channels into it.
        let order = std::iter::once(e).chain((0..ne).filter(|&p| p != e));
        for p in order {
            if used[p][e] == guard && p != e {
                continue;
            }
            // A word past the end: a read of `CW` bytes at any byte address
            // spans two words.
            let bytes = used[p][e].next_multiple_of(word) + word;
            index[p][e] = mems.len();
            reads.push(mems.len());
            mems.push(Mem {
                from: p,
                to: e,
                bytes,
                base,
            });
            base += bytes;
        }
        engines.push(EnginePlan {
            kind: rounds.engines[e],
            layers: (0..n).filter(|&i| rounds.engine[i] == e).collect(),
            reads,
            writes: Vec::new(),
        });
    }
    for e in 0..ne {
        let writes: Vec<usize> = std::iter::once(e)
            .chain((0..ne).filter(|&c| c != e))
            .filter(|&c| index[e][c] != usize::MAX)
            .map(|c| index[e][c])
            .collect();
        engines[e].writes = writes;
    }
    // Where a reader finds tensor `id`, in its own address space.
    let local = |id: usize, c: usize| mems[index[engine_of(id)][c]].base + offset[id][c];
    // The copies a write of tensor `id` reaches: the destination bits and
    // the addresses of the other-engine copies less the own copy's.
    let copies = |id: usize| {
        let p = engine_of(id);
        let (own, mut dst) = match own_copy(id) {
            true => (offset[id][p], 1u32),
            false => (0, 0),
        };
        let mut dx = [0u32; 2];
        for (port, &m) in engines[p].writes.iter().enumerate().skip(1) {
            let c = mems[m].to;
            if consumers[id].contains(&c) {
                dst |= 1 << port;
                dx[port - 1] = (offset[id][c] as u32).wrapping_sub(own as u32);
            }
        }
        (own as u32, dst, dx)
    };
    let nl = n as u32;
    let mut descs = Vec::with_capacity(n);
    let mut syncs = Vec::with_capacity(n);
    for (i, layer) in net.layers.iter().enumerate() {
        let e = rounds.engine[i];
        let mut d = tile.layers[i].desc.clone();
        d.in_base = local(layer.inputs[0], e) as u32;
        if let Some(&id) = layer.inputs.get(1) {
            d.in2_base = local(id, e) as u32;
        }
        let (own, dst, dx) = copies(i + 1);
        d.out_base = own;
        // The layer on another engine that must have finished image j for
        // this entry to read tensor `id` (the input: the first layer's
        // entry, which loads it), or none.
        let dep = |id: usize| match producer(id) {
            pl if rounds.engine[pl] != e => pl as u32,
            _ => nl,
        };
        let war = |id: usize, k: usize| {
            rounds.readers[id]
                .iter()
                .filter(|&&r| rounds.engine[r] != e)
                .nth(k)
                .map_or(nl, |&r| r as u32)
        };
        let slot = |id: usize| ((slots[id] - 1) as u32, size(id) as u32);
        let mut s = Sync {
            layer: i as u32,
            stage: rounds.stage[i],
            dep0: dep(layer.inputs[0]),
            dep1: layer.inputs.get(1).map_or(nl, |&id| dep(id)),
            war0: war(i + 1, 0),
            war1: war(i + 1, 1),
            lwar0: nl,
            lwar1: nl,
            dst,
            dx1: dx[0],
            dx2: dx[1],
            store: u32::from(i + 1 == net.output),
            ..Sync::default()
        };
        (s.sdep, s.soff) = if i == 0 {
            (nl - 1, 1)
        } else {
            (i as u32 - 1, 0)
        };
        if rounds.engine[s.sdep as usize] == e {
            s.sdep = nl;
        }
        (s.in_mask, s.in_str) = slot(layer.inputs[0]);
        (s.in2_mask, s.in2_str) = layer.inputs.get(1).map_or((0, 0), |&id| slot(id));
        (s.out_mask, s.out_str) = slot(i + 1);
        // A debugging run stores every tensor: from its maker's own copy
        // where it has one, else from the first reader's channel copy.
        for (k, &id) in layer.inputs.iter().enumerate().take(2) {
            let first = rounds.readers[id].first() == Some(&i);
            if !own_copy(id) && first && s.fl_sel == 0 {
                let t = net.tensor(id).shape;
                s.fl_sel = k as u32 + 1;
                s.fl_ext = tile.layers[id - 1].desc.st_ext;
                s.fl_len = t.len() as u32;
                s.fl_hw = (t.h * t.w) as u32;
                s.fl_pw = tile.places[id].plane as u32;
            }
        }
        if i == 0 {
            let (own, dst, dx) = copies(0);
            s.load = 1;
            (s.l_base, s.l_dst, s.l_dx1, s.l_dx2) = (own, dst, dx[0], dx[1]);
            (s.l_mask, s.l_str) = slot(0);
            (s.lwar0, s.lwar1) = (war(0, 0), war(0, 1));
        }
        descs.push(d);
        syncs.push(s);
    }
    // Each engine keeps only its layers' parameters, every layer's from a
    // par_mem word of its own (as the layer-by-layer plan lays them out).
    let rows = geom.rows as usize;
    let mut par: Vec<Vec<(i32, i32, u32)>> = vec![Vec::new(); ne];
    for (i, layer) in net.layers.iter().enumerate() {
        if let crate::model::net::Op::Conv(c) = &layer.op {
            let p = &mut par[rounds.engine[i]];
            p.resize(p.len().next_multiple_of(rows), (0, 0, 0));
            let from = descs[i].pbase as usize;
            descs[i].pbase = p.len() as u32;
            p.extend_from_slice(&tile.par[from..from + c.out_ch]);
        }
    }
    let copies = (0..=n)
        .map(|id| {
            consumers[id]
                .iter()
                .map(|&c| Copy {
                    mem: index[engine_of(id)][c],
                    offset: offset[id][c],
                })
                .collect()
        })
        .collect();
    Ok(Pipe {
        tile,
        rounds,
        slots,
        mems,
        copies,
        engines,
        descs,
        par,
        syncs,
    })
}

/// When each layer of each image ends in a run of `images` images, if
/// layer `i`'s entry keeps its engine busy for `entry(i)` cycles.
pub fn schedule(
    net: &Network,
    pipe: &Pipe,
    entry: &dyn Fn(usize) -> u64,
    images: usize,
    serial: bool,
) -> Vec<Vec<u64>> {
    rounds::schedule(
        net,
        &pipe.rounds,
        &pipe.slots,
        TIMING,
        &|_, i| entry(i),
        images,
        serial,
    )
}

/// Cycles layer `i`'s entry keeps its engine busy for one image: the
/// layer-by-layer engine's cycles of the layer, the entry's control, the
/// image's load (the first layer) and the output's store.
pub fn entry_cycles(net: &Network, pipe: &Pipe, memory: &Memory, i: usize) -> u64 {
    let mut c = super::walk_cycles(
        pipe.tile.layers[i].mode,
        &pipe.descs[i],
        &pipe.tile.geometry,
    ) + ENTRY_EXTRA;
    if i == 0 {
        c += super::frame_cycles(net, &pipe.tile, memory).0;
    }
    if i + 1 == net.output {
        c += super::store_cycles(net.output_info().shape.len() as u64, memory);
    }
    c
}

/// Predicted end of every layer of every image of a run of `images`
/// images (`serial`: one layer at a time), in cycles from the start.
pub fn predict_run(
    net: &Network,
    pipe: &Pipe,
    memory: &Memory,
    images: usize,
    serial: bool,
) -> Vec<Vec<u64>> {
    let cycles: Vec<u64> = (0..net.layers.len())
        .map(|i| entry_cycles(net, pipe, memory, i))
        .collect();
    schedule(net, pipe, &|i| cycles[i], images, serial)
}

/// Per engine: its chunk and the cycles of its entries for one image (the
/// busiest sets the steady-state period).
pub fn engine_work(
    net: &Network,
    arch: &crate::hw::arch::Arch,
    pipe: &Pipe,
    memory: &Memory,
) -> Vec<rounds::EngineWork> {
    pipe.engines
        .iter()
        .map(|e| rounds::EngineWork {
            chunk: e.kind,
            pes: arch.pes(e.kind) as u64,
            layers: e
                .layers
                .iter()
                .map(|&i| net.layers[i].name.clone())
                .collect(),
            cycles: e
                .layers
                .iter()
                .map(|&i| entry_cycles(net, pipe, memory, i))
                .sum(),
        })
        .collect()
}
