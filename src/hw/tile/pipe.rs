//! The tile pipeline: one tile engine per chunk kind, each running its
//! layers ([`Rounds`]) of consecutive images concurrently with the others,
//! with every activation on chip.
//!
//! Entries: an engine runs a list of entries ([`PipeEntry`]) every round,
//! older images first. An entry is a whole layer, or, where layers are
//! fused ([`Fusion`]: a fused layer shares its producers' round), one band
//! of a layer's output rows; the bands of a round run as a wavefront, so
//! one image's rows stream from engine to engine. An entry waits for the
//! bands of its inputs that write the rows it reads (per-layer counters of
//! finished images and bands); [`schedule`] settles every entry's end as
//! the hardware does.
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
        /// Bands of `dep0`'s, `dep1`'s and `sdep`'s image that must have ended (a
        /// layer's band count: all of it; its later bands count only once its
        /// earlier ones have).
        need0, need1, sneed,
        /// Copies - 1 (a power of two less one) and bytes between copies: input, second input, output, network input.
        in_mask, in_str, in2_mask, in2_str, out_mask, out_str, l_mask, l_str,
        /// Output copies written: bit 0 the engine's own memory, bits 1 and 2 its channels to other engines; and their addresses (slot 0) less `out_base`'s.
        dst, dx1, dx2,
        /// Debugging runs: 1 or 2 if the entry first stores its first or second input (which no engine reads where it was made), at this external address, length, pixels per plane and plane bytes; and how far past the tensor's start the entry's input base lies (a band's first row).
        fl_sel, fl_ext, fl_len, fl_hw, fl_pw, fl_off,
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
    /// Its entries (indices into `Pipe::entries`), in the order it runs them.
    pub entries: Vec<usize>,
    /// Positions in `entries` in the order a serial run takes them.
    pub serial: Vec<usize>,
}

/// Which layers fuse with their producers on other engines, and how
/// finely: the architecture's `[schedule] fuse` and `bands`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Fusion {
    /// Per layer (missing: false): it runs in the round of its producers on
    /// other engines, band by band as their rows are written, instead of a
    /// round later.
    pub fused: Vec<bool>,
    /// Bands of output rows of every layer a fused layer reads or that is
    /// fused (at most its rows; 0 or 1: whole layers).
    pub bands: u32,
}

impl Fusion {
    /// Whether layer `i` is fused.
    pub fn is_fused(&self, i: usize) -> bool {
        self.fused.get(i).copied().unwrap_or(false)
    }
}

/// One entry of a pipeline: a layer, or one band of its output rows.
#[derive(Debug, Clone, Serialize)]
pub struct PipeEntry {
    pub layer: usize,
    /// Its index among its layer's bands.
    pub band: usize,
    /// Output rows `[y0, y1)` and the input rows `[r0, r1)` they read.
    pub rows: [u32; 4],
    pub desc: Desc,
    pub sync: Sync,
}

/// A network planned onto a tile pipeline.
#[derive(Debug, Clone, Serialize)]
pub struct Pipe {
    /// The layer-by-layer plan the engines' walks come from.
    pub tile: Plan,
    pub rounds: Rounds,
    /// Per layer: its bands (1: the whole layer in one entry).
    pub bands: Vec<usize>,
    /// Per tensor: its copies in each memory holding it.
    pub slots: Vec<u64>,
    pub mems: Vec<Mem>,
    /// Per tensor: its copies, one per memory holding it.
    pub copies: Vec<Vec<Copy>>,
    pub engines: Vec<EnginePlan>,
    /// Every entry of one image, in an order that every dependency within
    /// a round follows (older images first); each engine runs its own
    /// entries in this order.
    pub entries: Vec<PipeEntry>,
    /// The entries (indices into `entries`) in the order a serial run takes
    /// them: every dependency of an image before it.
    pub serial: Vec<usize>,
    /// Per engine: the per-channel parameters of its layers (`pbase` of
    /// its descriptors counts from its own first).
    #[serde(skip)]
    pub par: Vec<Vec<(i32, i32, u32)>>,
}

/// Engine-control cycles of a pipelined entry beyond the layer-by-layer
/// engine's (round check, dependency wait, end-of-entry handshake).
pub const ENTRY_EXTRA: u64 = 4;

/// Cycles from the last engine's last round to the end of the run (the
/// engine's done state, then the top's).
pub const DONE_CYCLES: u64 = 2;

/// The tile pipeline's control constants ([`schedule`]).
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

/// Most cycles cutting a layer into bands may add to its walk, as a
/// fraction of the whole layer's (per-band control and a partly filled
/// array: a band narrower than a tile wastes the rest).
const BAND_SLACK: f64 = 0.05;

/// Per layer: the bands it runs in under `fusion`, as the bands' first
/// output rows (and the end). A layer that is fused or that a fused layer
/// reads, of at least two output rows, that is not the network's output,
/// runs in the most bands up to `fusion.bands` whose walks together cost
/// at most [`BAND_SLACK`] more than its whole walk; any other layer in one.
fn band_rows(net: &Network, rounds: &Rounds, tile: &Plan, fusion: &Fusion) -> Vec<Vec<usize>> {
    let n = net.layers.len();
    let even = |oh: usize, nb: usize| (0..=nb).map(|k| k * oh / nb).collect::<Vec<_>>();
    (0..n)
        .map(|i| {
            let layer = &net.layers[i];
            let oh = layer.out.shape.h;
            let wanted =
                fusion.is_fused(i) || rounds.readers[i + 1].iter().any(|&r| fusion.is_fused(r));
            if !wanted || oh < 2 || i + 1 == net.output {
                return even(oh, 1);
            }
            let lp = &tile.layers[i];
            let x = net.tensor(layer.inputs[0]).shape;
            let rows = super::stream::Rows::of(lp.mode, &lp.desc, x);
            let walk = |d: &Desc| super::walk_cycles(lp.mode, d, &tile.geometry) + ENTRY_EXTRA;
            let whole = walk(&lp.desc) as f64;
            let most = (fusion.bands.max(1) as usize).min(oh);
            (2..=most)
                .rev()
                .map(|nb| even(oh, nb))
                .find(|y| {
                    let cost: u64 = y
                        .windows(2)
                        .map(|w| {
                            let (r0, r1) = rows.input(w[0], w[1], x.h);
                            let mut d = lp.desc.clone();
                            super::stream::shape_band(
                                &mut d,
                                lp.mode,
                                x,
                                layer.out.shape,
                                [w[0], w[1], r0, r1],
                            );
                            walk(&d)
                        })
                        .sum();
                    cost as f64 <= whole * (1.0 + BAND_SLACK)
                })
                .unwrap_or_else(|| even(oh, 1))
        })
        .collect()
}

/// The pipeline of `net` on an engine geometry `geom`, from its
/// layer-by-layer plan `tile`, with the layers `fusion` names fused.
pub fn plan(net: &Network, geom: &Geometry, tile: Plan, fusion: &Fusion) -> Result<Pipe, String> {
    let rounds = Rounds::of(net, &fusion.fused)?;
    let n = net.layers.len();
    let ne = rounds.engines.len();
    let producer = |id: usize| if id == 0 { 0 } else { id - 1 };
    let engine_of = |id: usize| rounds.engine[producer(id)];
    let slots: Vec<u64> = (0..=n)
        .map(|id| (rounds.lag(id) as u64 + 1).next_power_of_two())
        .collect();
    let size = |id: usize| tile.places[id].plane * tile.places[id].planes;
    // The entries of one image: bands in a wavefront, each layer's next
    // band as soon as the rows it reads are written (whole layers: once
    // their inputs are).
    let ybound = band_rows(net, &rounds, &tile, fusion);
    let nb: Vec<usize> = ybound.iter().map(|y| y.len() - 1).collect();
    let rows_of = |i: usize| {
        let l = &tile.layers[i];
        super::stream::Rows::of(l.mode, &l.desc, net.tensor(net.layers[i].inputs[0]).shape)
    };
    // Input rows `[r0, r1)` band `k` of layer `i` reads.
    let input_rows = |i: usize, k: usize| {
        let h = net.tensor(net.layers[i].inputs[0]).shape.h;
        match nb[i] {
            1 => (0, h),
            _ => rows_of(i).input(ybound[i][k], ybound[i][k + 1], h),
        }
    };
    // Bands of tensor `id`'s producer that band `k` of layer `i` needs.
    let need_of = |i: usize, k: usize, id: usize| -> usize {
        if id == 0 {
            return 1;
        }
        let p = id - 1;
        if nb[i] == 1 {
            return nb[p];
        }
        let (_, r1) = input_rows(i, k);
        (0..nb[p])
            .find(|&b| ybound[p][b + 1] >= r1)
            .map_or(nb[p], |b| b + 1)
    };
    let mut order: Vec<(usize, usize)> = Vec::new();
    let mut next = vec![0usize; n];
    let total: usize = nb.iter().sum();
    while order.len() < total {
        let before = order.len();
        for i in 0..n {
            let k = next[i];
            if k == nb[i] {
                continue;
            }
            let ready = net.layers[i]
                .inputs
                .iter()
                .all(|&id| id == 0 || next[id - 1] >= need_of(i, k, id));
            if ready {
                order.push((i, k));
                next[i] += 1;
            }
        }
        if order.len() == before {
            return Err("no order of the fused bands follows every dependency".into());
        }
    }
    // A serial run takes one image at a time in this (topological) order.
    let topo = order.clone();
    // Within a round, older images first: an engine then takes the
    // entries whose inputs other engines wrote in earlier rounds before
    // the newest image's, whose producers may still be at work.
    order.sort_by_key(|&(i, _)| std::cmp::Reverse(rounds.stage[i]));
    let mut first_pos = vec![usize::MAX; n];
    let mut last_pos = vec![0usize; n];
    for (q, &(i, _)) in order.iter().enumerate() {
        first_pos[i] = first_pos[i].min(q);
        last_pos[i] = q;
    }
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
    // Channels between engines: every copy alive across rounds, or read
    // while it is written (fused), so each has its own region.
    for (id, cons) in consumers.iter().enumerate() {
        let p = engine_of(id);
        for &c in cons.iter().filter(|&&c| c != p) {
            offset[id][c] = used[p][c];
            used[p][c] += size(id) * slots[id];
        }
    }
    // An engine's own memory: copies with several slots have their own
    // regions; a one-slot copy lives from the entry that first writes it
    // to the engine's last entry that reads it (or stores it) within one
    // round, so copies whose lives do not overlap share space (first fit).
    for (e, used_e) in used.iter_mut().enumerate() {
        let own: Vec<usize> = (0..=n)
            .filter(|&id| engine_of(id) == e && own_copy(id))
            .collect();
        for &id in own.iter().filter(|&&id| slots[id] > 1) {
            offset[id][e] = used_e[e];
            used_e[e] += size(id) * slots[id];
        }
        let life = |id: usize| {
            let born = first_pos[producer(id)];
            let last = rounds.readers[id]
                .iter()
                .copied()
                .filter(|&r| rounds.engine[r] == e)
                .map(|r| last_pos[r])
                .max()
                .unwrap_or(born);
            (born, last.max(last_pos[producer(id)]))
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
            entries: Vec::new(),
            serial: Vec::new(),
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
    // Each engine keeps only its layers' parameters, every layer's from a
    // par_mem word of its own (as the layer-by-layer plan lays them out).
    let mut par: Vec<Vec<(i32, i32, u32)>> = vec![Vec::new(); ne];
    let mut pbase = vec![0u32; n];
    for (i, layer) in net.layers.iter().enumerate() {
        if let crate::model::net::Op::Conv(c) = &layer.op {
            let p = &mut par[rounds.engine[i]];
            let rows = geom.rows_of(rounds.engines[rounds.engine[i]]) as usize;
            p.resize(p.len().next_multiple_of(rows), (0, 0, 0));
            let from = tile.layers[i].desc.pbase as usize;
            pbase[i] = p.len() as u32;
            p.extend_from_slice(&tile.par[from..from + c.out_ch]);
        }
    }
    let nl = n as u32;
    let mut entries = Vec::with_capacity(order.len());
    let mut runs: Vec<Vec<usize>> = vec![Vec::new(); ne];
    for &(i, k) in &order {
        let layer = &net.layers[i];
        let e = rounds.engine[i];
        let lp = &tile.layers[i];
        let mut d = lp.desc.clone();
        if let crate::model::net::Op::Conv(_) = &layer.op {
            d.pbase = pbase[i];
        }
        let x = net.tensor(layer.inputs[0]).shape;
        let o = layer.out.shape;
        let (y0, y1) = (ybound[i][k], ybound[i][k + 1]);
        let (r0, r1) = input_rows(i, k);
        // A band's tensors start at its first rows (every memory lays a
        // tensor out alike: channel planes of row after row).
        let (in_off, out_off) = match nb[i] {
            1 => (0, 0),
            _ => ((r0 * x.w) as u32, (y0 * o.w) as u32),
        };
        d.in_base = local(layer.inputs[0], e) as u32 + in_off;
        if let Some(&id) = layer.inputs.get(1) {
            d.in2_base = local(id, e) as u32 + in_off;
        }
        let (own, dst, dx) = copies(i + 1);
        d.out_base = own + out_off;
        if nb[i] > 1 {
            d.st_ext += out_off;
            super::stream::shape_band(&mut d, lp.mode, x, o, [y0, y1, r0, r1]);
        }
        d.last = u32::from(k + 1 == nb[i]);
        // The layer on another engine that must have written (the bands
        // this entry reads of) tensor `id` of image j (the input: the first
        // layer's first entry, which loads it), or none.
        let dep = |id: usize| match producer(id) {
            pl if rounds.engine[pl] != e => (pl as u32, need_of(i, k, id) as u32),
            _ => (nl, 0),
        };
        let war = |id: usize, w: usize| {
            rounds.readers[id]
                .iter()
                .filter(|&&r| rounds.engine[r] != e)
                .nth(w)
                .map_or(nl, |&r| r as u32)
        };
        let slot = |id: usize| ((slots[id] - 1) as u32, size(id) as u32);
        let (dep0, need0) = dep(layer.inputs[0]);
        let (dep1, need1) = layer.inputs.get(1).map_or((nl, 0), |&id| dep(id));
        let mut s = Sync {
            layer: i as u32,
            stage: rounds.stage[i],
            dep0,
            dep1,
            need0,
            need1,
            war0: war(i + 1, 0),
            war1: war(i + 1, 1),
            lwar0: nl,
            lwar1: nl,
            dst,
            dx1: dx[0],
            dx2: dx[1],
            store: u32::from(i + 1 == net.output && k + 1 == nb[i]),
            ..Sync::default()
        };
        // Serial runs: the entry before it, of this image or the previous.
        let t = topo.iter().position(|&v| v == (i, k)).unwrap_or(0);
        let (pt, soff) = match t {
            0 => (topo.len() - 1, 1),
            _ => (t - 1, 0),
        };
        let (pl, pk) = topo[pt];
        (s.sdep, s.soff, s.sneed) = match rounds.engine[pl] != e {
            true => (pl as u32, soff, pk as u32 + 1),
            false => (nl, soff, 0),
        };
        (s.in_mask, s.in_str) = slot(layer.inputs[0]);
        (s.in2_mask, s.in2_str) = layer.inputs.get(1).map_or((0, 0), |&id| slot(id));
        (s.out_mask, s.out_str) = slot(i + 1);
        // A debugging run stores every tensor: from its maker's own copy
        // where it has one, else from the first reader's channel copy (its
        // last band: by then every band of the tensor is written).
        for (w, &id) in layer.inputs.iter().enumerate().take(2) {
            let first = rounds.readers[id].first() == Some(&i);
            if !own_copy(id) && first && s.fl_sel == 0 && k + 1 == nb[i] {
                let t = net.tensor(id).shape;
                s.fl_sel = w as u32 + 1;
                s.fl_ext = tile.layers[id - 1].desc.st_ext;
                s.fl_len = t.len() as u32;
                s.fl_hw = (t.h * t.w) as u32;
                s.fl_pw = tile.places[id].plane as u32;
                s.fl_off = in_off;
            }
        }
        if i == 0 && k == 0 {
            let (own, dst, dx) = copies(0);
            s.load = 1;
            (s.l_base, s.l_dst, s.l_dx1, s.l_dx2) = (own, dst, dx[0], dx[1]);
            (s.l_mask, s.l_str) = slot(0);
            (s.lwar0, s.lwar1) = (war(0, 0), war(0, 1));
        }
        runs[e].push(entries.len());
        entries.push(PipeEntry {
            layer: i,
            band: k,
            rows: [y0, y1, r0, r1].map(|v| v as u32),
            desc: d,
            sync: s,
        });
    }
    let serial: Vec<usize> = topo
        .iter()
        .map(|v| order.iter().position(|w| w == v).unwrap_or(0))
        .collect();
    for (ep, run) in engines.iter_mut().zip(runs) {
        ep.serial = serial
            .iter()
            .filter_map(|q| run.iter().position(|r| r == q))
            .collect();
        ep.entries = run;
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
        bands: nb,
        slots,
        mems,
        copies,
        engines,
        entries,
        serial,
        par,
    })
}

/// When each layer of each image ends (its last entry; cycles from the
/// start of a run of `images` images) if entry `q` keeps its engine busy
/// for `cycles(q)`: every engine takes its entries round by round (in
/// round `r`, each for image `r - stage`), each as soon as the engine is
/// free, the bands it reads on other engines have ended and its output's
/// oldest copy is free (the hardware's rule). The first layer's first
/// entry loads its image into the input's copies, so it also waits for
/// the input's oldest copy to be free. With `serial`, one entry at a time
/// in the pipeline's order.
pub fn schedule(
    net: &Network,
    pipe: &Pipe,
    cycles: &dyn Fn(usize) -> u64,
    images: usize,
    serial: bool,
) -> Vec<Vec<u64>> {
    let mut of_layer: Vec<Vec<usize>> = vec![Vec::new(); net.layers.len()];
    for (q, en) in pipe.entries.iter().enumerate() {
        of_layer[en.layer].push(q);
    }
    entry_ends(net, pipe, cycles, images, serial)
        .0
        .iter()
        .map(|e| {
            of_layer
                .iter()
                .map(|qs| qs.last().map_or(0, |&q| e[q]))
                .collect()
        })
        .collect()
}

/// [`schedule`]'s end of every entry of every image, and when the last
/// engine has walked its last round (its trailing entries skipped).
pub fn entry_ends(
    net: &Network,
    pipe: &Pipe,
    cycles: &dyn Fn(usize) -> u64,
    images: usize,
    serial: bool,
) -> (Vec<Vec<u64>>, u64) {
    let rounds = &pipe.rounds;
    let timing = TIMING;
    let n = net.layers.len();
    let ents = &pipe.entries;
    // Per layer: its entries' indices, by band.
    let mut of_layer: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (q, en) in ents.iter().enumerate() {
        of_layer[en.layer].push(q);
    }
    let mut end = vec![vec![0u64; ents.len()]; images];
    let mut free = vec![0u64; rounds.engines.len()];
    let stage = |i: usize| if serial { 0 } else { rounds.stage[i] as usize };
    let nrounds = images + if serial { 0 } else { rounds.max_stage as usize };
    // The earliest an entry can count as starting, given a dependency's end.
    let ready = |t: u64| (t + timing.handoff).saturating_sub(timing.before_check);
    // The end of layer `l`'s `need`-th band of image `j`.
    let band_end = |end: &Vec<Vec<u64>>, j: usize, l: usize, need: u32| -> u64 {
        end[j][of_layer[l][need as usize - 1]]
    };
    // Every dependency points to an earlier round or an earlier entry of
    // the same round, so rounds in order, entries in order, is a valid
    // order to settle them in (a serial run: one round per image, its
    // entries in topological order).
    let visit: Vec<usize> = match serial {
        true => pipe.serial.clone(),
        false => (0..ents.len()).collect(),
    };
    for r in 0..nrounds {
        for &q in &visit {
            let en = &ents[q];
            let i = en.layer;
            let e = rounds.engine[i];
            let Some(j) = r.checked_sub(stage(i)).filter(|&j| j < images) else {
                free[e] += timing.skip;
                continue;
            };
            let s = &en.sync;
            let mut start = free[e];
            for (dep, need) in [(s.dep0, s.need0), (s.dep1, s.need1)] {
                if (dep as usize) < n {
                    start = start.max(ready(band_end(&end, j, dep as usize, need)));
                }
            }
            let mut written = vec![(i + 1, s.war0, s.war1)];
            if s.load != 0 {
                written.push((0, s.lwar0, s.lwar1));
            }
            for (id, w0, w1) in written {
                let Some(old) = j.checked_sub(pipe.slots[id] as usize) else {
                    continue;
                };
                for w in [w0, w1] {
                    if (w as usize) < n {
                        let last = *of_layer[w as usize].last().unwrap_or(&0);
                        start = start.max(ready(end[old][last]));
                    }
                }
            }
            if serial && (s.sdep as usize) < n {
                let pj = j.checked_sub(s.soff as usize);
                if let Some(pj) = pj {
                    start = start.max(ready(band_end(&end, pj, s.sdep as usize, s.sneed)));
                }
            }
            end[j][q] = start + cycles(q);
            free[e] = end[j][q];
        }
    }
    (end, free.iter().copied().max().unwrap_or(0))
}

/// Cycles entry `q` keeps its engine busy for one image: the
/// layer-by-layer engine's cycles of its walk, the entry's control, the
/// image's load (the first layer's first entry) and the output's store.
pub fn entry_cycles(net: &Network, pipe: &Pipe, memory: &Memory, q: usize) -> u64 {
    let en = &pipe.entries[q];
    let mut c = super::walk_cycles(
        pipe.tile.layers[en.layer].mode,
        &en.desc,
        &pipe.tile.geometry,
    ) + ENTRY_EXTRA;
    if en.sync.load != 0 {
        c += super::frame_cycles(net, &pipe.tile, memory).0;
    }
    if en.sync.store != 0 {
        c += super::store_cycles(net.output_info().shape.len() as u64, memory);
    }
    c
}

/// Cycles layer `i`'s entries keep its engine busy for one image.
pub fn layer_cycles(net: &Network, pipe: &Pipe, memory: &Memory, i: usize) -> u64 {
    (0..pipe.entries.len())
        .filter(|&q| pipe.entries[q].layer == i)
        .map(|q| entry_cycles(net, pipe, memory, q))
        .sum()
}

/// Predicted end of every layer of every image of a run of `images`
/// images (`serial`: one entry at a time), in cycles from the start.
pub fn predict_run(
    net: &Network,
    pipe: &Pipe,
    memory: &Memory,
    images: usize,
    serial: bool,
) -> Vec<Vec<u64>> {
    let cycles: Vec<u64> = (0..pipe.entries.len())
        .map(|q| entry_cycles(net, pipe, memory, q))
        .collect();
    schedule(net, pipe, &|q| cycles[q], images, serial)
}

/// Predicted cycles of a whole run of `images` images (`serial`: one
/// entry at a time), from start to done: the engines' last rounds, then
/// the done handshake.
pub fn predict_total(
    net: &Network,
    pipe: &Pipe,
    memory: &Memory,
    images: usize,
    serial: bool,
) -> u64 {
    let cycles: Vec<u64> = (0..pipe.entries.len())
        .map(|q| entry_cycles(net, pipe, memory, q))
        .collect();
    entry_ends(net, pipe, &|q| cycles[q], images, serial).1 + DONE_CYCLES
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
                .entries
                .iter()
                .map(|&q| entry_cycles(net, pipe, memory, q))
                .sum(),
        })
        .collect()
}
