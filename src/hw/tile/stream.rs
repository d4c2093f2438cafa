//! Streaming: a network whose live activations do not fit the scratchpad
//! keeps its largest tensors in external memory and moves them through the
//! scratchpad a band of rows at a time.
//!
//! A *streamed* tensor lives in external memory at its own place (the
//! layout every tile design already has for its debugging dumps: channel
//! planes one after the other). Its writer runs in bands of output rows,
//! each band computed into a staging region and then stored; each reader
//! runs in bands too, each band first loading the input rows it needs (the
//! band's rows times the stride, plus the kernel's overlap) into its
//! staging region. Every other tensor stays *resident* as before. A band
//! is one descriptor entry ([`Entry`]): the walk is the layer's own, over
//! fewer output rows, with the input's first row and the padding above it
//! moved (`padt`), so no walk changes.
//!
//! The choice: tensors are streamed largest first (with the other input of
//! any add that reads one) until the resident ones
//! (first fit over their lives, as [`allocate`](super::allocate)) and, at
//! every layer, the staging of the largest band that fits the largest free
//! gap leave the buffer big enough. Bands are as tall as that gap allows.
//! Loads and stores are sequential with the walk (no overlap yet): an
//! entry costs its walk plus its transfers, counted exactly ([`Entry::dma`]).

use super::{last_use, plane_bytes, Desc, Entry, Geometry, Mode, Opcode, Place, Plan};
use crate::hw::layout::Memory;
use crate::model::net::{Network, Shape};

/// Bytes per bank of `channels` channel planes of `pixels` bytes each.
fn staged(channels: usize, pixels: usize, geom: &Geometry) -> u64 {
    let plane = plane_bytes(
        Shape {
            c: 1,
            h: 1,
            w: pixels,
        },
        geom.word as u64,
    );
    plane * (channels as u64).div_ceil(geom.banks as u64)
}

/// A layer's rows as bands see them: input rows the window of output row
/// `y` starts at (`y * stride - pad`) and spans (`kh`).
#[derive(Clone, Copy)]
pub(super) struct Rows {
    stride: usize,
    kh: usize,
    pad: usize,
}

impl Rows {
    pub(super) fn of(mode: Mode, d: &Desc, x: Shape) -> Rows {
        match mode {
            Mode::Row | Mode::Depthwise | Mode::Post => Rows {
                stride: d.stride as usize,
                kh: d.kh as usize,
                pad: d.pad as usize,
            },
            // A global pool reads every row for its one output row.
            Mode::PostVec if d.op == Opcode::AvgPool as u32 => Rows {
                stride: 1,
                kh: x.h,
                pad: 0,
            },
            _ => Rows {
                stride: 1,
                kh: 1,
                pad: 0,
            },
        }
    }

    /// Input rows `[r0, r1)` that output rows `[y0, y1)` read, of `h`.
    pub(super) fn input(&self, y0: usize, y1: usize, h: usize) -> (usize, usize) {
        let r0 = (y0 * self.stride).saturating_sub(self.pad).min(h - 1);
        let r1 = ((y1 - 1) * self.stride + self.kh)
            .saturating_sub(self.pad)
            .min(h)
            .max(r0 + 1);
        (r0, r1)
    }

    /// At most how many input rows a band of `b` output rows reads.
    fn most(&self, b: usize, h: usize) -> usize {
        ((b - 1) * self.stride + self.kh).min(h)
    }
}

/// Lines of external memory a run of `len` bytes from `a` touches.
fn lines(a: u64, len: u64, lb: u64) -> u64 {
    (a + len - 1) / lb - a / lb + 1
}

/// Lines of external memory an entry's band loads read and its store
/// writes.
pub fn dma_lines(d: &Desc, memory: &Memory) -> (u64, u64) {
    let lb = memory.line_bytes;
    let len = (d.h * d.w) as u64;
    let mut reads = 0;
    for (on, ext) in [(d.ld0, d.l0_ext), (d.ld1, d.l1_ext)] {
        if on != 0 {
            for ch in 0..d.c as u64 {
                reads += lines(ext as u64 + ch * d.l_cst as u64, len, lb);
            }
        }
    }
    let mut writes = 0;
    if d.st != 0 {
        let len = (d.oh * d.ow) as u64;
        for ch in 0..d.m as u64 {
            writes += lines(d.st_ext as u64 + ch * d.st_cst as u64, len, lb);
        }
    }
    (reads, writes)
}

/// Cycles to move a run of `len` bytes from external address `a`, `word`
/// bytes at most per cycle and never across a line: per line, its request
/// (`per_line` cycles) and its bytes' cycles.
fn run_cycles(a: u64, len: u64, lb: u64, word: u64, per_line: u64) -> u64 {
    let n = lines(a, len, lb);
    if n == 1 {
        return per_line + len.div_ceil(word);
    }
    // The first and last lines' parts, and whole lines between.
    let first = lb - a % lb;
    let last = (a + len - 1) % lb + 1;
    n * per_line + first.div_ceil(word) + last.div_ceil(word) + (n - 2) * lb.div_ceil(word)
}

/// Whether a plan's band transfers move each run in one burst: it streams,
/// and a scratchpad word holds a line (each line written as it arrives).
pub fn bursts(plan: &Plan, memory: &Memory) -> bool {
    plan.streamed.iter().any(|&s| s) && plan.geometry.word as u64 >= memory.line_bytes
}

/// Cycles of an entry's band transfers on an engine of `word`-byte
/// scratchpad words: per load, a dispatch cycle and per channel either one
/// burst (where a word holds a line: the request, a cycle per further
/// line, and a cycle to close the run) or, per line, its request and a
/// cycle per word of its bytes; the store per line a cycle per word, a
/// cycle, and its write (in a burst, 2 cycles for each line after the
/// first).
fn dma_cycles(d: &Desc, memory: &Memory, word: u64) -> u64 {
    let lb = memory.line_bytes;
    let acc = memory.access_cycles();
    let len = (d.h * d.w) as u64;
    let mut c = 0;
    for (on, ext) in [(d.ld0, d.l0_ext), (d.ld1, d.l1_ext)] {
        if on != 0 {
            c += 1;
            for ch in 0..d.c as u64 {
                let a = ext as u64 + ch * d.l_cst as u64;
                c += match word >= lb {
                    true => acc + lines(a, len, lb),
                    false => run_cycles(a, len, lb, word, acc),
                };
            }
        }
    }
    if d.st != 0 {
        let len = (d.oh * d.ow) as u64;
        for ch in 0..d.m as u64 {
            let a = d.st_ext as u64 + ch * d.st_cst as u64;
            c += match word >= lb {
                // A burst: the first line waits for the request, each
                // further one is offered and taken in 2 cycles.
                true => run_cycles(a, len, lb, word, 3) + acc - 2,
                false => run_cycles(a, len, lb, word, 1 + acc),
            };
        }
    }
    c
}

/// The streamed version of `whole` (the plan with every tensor on chip)
/// for an engine whose banks hold `cap` bytes each, or why none fits.
pub fn plan(
    net: &Network,
    whole: Plan,
    ext_base: &[u64],
    memory: &Memory,
    cap: u64,
) -> Result<Plan, String> {
    let geom = &whole.geometry;
    let n = net.layers.len();
    let size = |id: usize| {
        let s = net.tensor(id).shape;
        staged(s.c, s.h * s.w, geom)
    };
    let mut order: Vec<usize> = (0..=n).collect();
    order.sort_by_key(|&id| (std::cmp::Reverse(size(id)), id));
    let mut why = String::new();
    for k in 1..=order.len() {
        let mut streamed = vec![false; n + 1];
        for &id in &order[..k] {
            streamed[id] = true;
        }
        // The two inputs of an add share one plane size (`in_pw`): both
        // streamed, or both resident.
        for layer in &net.layers {
            if let [a, b] = layer.inputs[..] {
                if streamed[a] || streamed[b] {
                    (streamed[a], streamed[b]) = (true, true);
                }
            }
        }
        match bands(net, ext_base, cap, &whole, &streamed) {
            Ok((places, depth, mut entries)) => {
                for e in &mut entries {
                    e.dma = dma_cycles(&e.desc, memory, geom.word as u64);
                }
                return Ok(Plan {
                    places,
                    depth,
                    entries,
                    streamed,
                    ..whole
                });
            }
            Err(m) => why = m,
        }
    }
    Err(why)
}

/// What changes with the tensors `streamed` in external memory (places,
/// scratchpad words per bank, entries), or
/// why it does not fit.
fn bands(
    net: &Network,
    ext_base: &[u64],
    cap: u64,
    whole: &Plan,
    streamed: &[bool],
) -> Result<Bands, String> {
    let geom = &whole.geometry;
    let word = geom.word as u64;
    let cap = cap / word * word;
    let n = net.layers.len();
    let last = last_use(net);
    // Resident tensors: first fit over their lives.
    let mut places: Vec<Place> = Vec::with_capacity(n + 1);
    let mut depth = 0u64;
    for id in 0..=n {
        let s = net.tensor(id).shape;
        let plane = plane_bytes(s, word);
        let planes = (s.c as u64).div_ceil(geom.banks as u64);
        let mut base = 0;
        if !streamed[id] {
            let born = id.saturating_sub(1);
            let busy: Vec<(u64, u64)> = (0..id)
                .filter(|&j| !streamed[j] && last[j] >= born)
                .map(|j| (places[j].base, places[j].base + places[j].bytes()))
                .collect();
            base = super::first_fit(busy, plane * planes, 0);
            depth = depth.max(base + plane * planes);
        }
        places.push(Place {
            base,
            plane,
            planes,
        });
    }
    if depth > cap {
        return Err(format!(
            "the tensors kept on chip need {depth} bytes per bank, a bank holds {cap}"
        ));
    }
    let mut entries = Vec::new();
    for (i, layer) in net.layers.iter().enumerate() {
        let lp = &whole.layers[i];
        let x = net.tensor(layer.inputs[0]).shape;
        let o = layer.out.shape;
        let rows = Rows::of(lp.mode, &lp.desc, x);
        let ins: Vec<usize> = {
            let mut v = layer.inputs.clone();
            v.dedup();
            v
        };
        let staged_ins: Vec<usize> = ins.iter().copied().filter(|&id| streamed[id]).collect();
        let out_streamed = streamed[i + 1];
        // The largest free gap while the layer runs.
        let busy: Vec<(u64, u64)> = (0..=n)
            .filter(|&j| !streamed[j] && j.saturating_sub(1) <= i && last[j] >= i)
            .map(|j| (places[j].base, places[j].base + places[j].bytes()))
            .collect();
        let (gap_lo, gap) = largest_gap(busy, cap);
        let need = |b: usize| -> u64 {
            let r = rows.most(b, x.h);
            staged_ins.len() as u64 * staged(x.c, r * x.w, geom)
                + if out_streamed {
                    staged(o.c, b * o.w, geom)
                } else {
                    0
                }
        };
        let band = if staged_ins.is_empty() && !out_streamed {
            o.h
        } else {
            (1..=o.h).rev().find(|&b| need(b) <= gap).ok_or_else(|| {
                format!(
                    "layer `{}` needs {} bytes per bank for a band of one row, {gap} are free",
                    layer.name,
                    need(1)
                )
            })?
        };
        let r_most = rows.most(band, x.h);
        let stage_in = staged(x.c, r_most * x.w, geom);
        let stage_plane = |pixels: usize| {
            plane_bytes(
                Shape {
                    c: 1,
                    h: 1,
                    w: pixels,
                },
                word,
            )
        };
        let mut at = gap_lo;
        let mut stage = std::collections::BTreeMap::new();
        for &id in &staged_ins {
            stage.insert(id, at);
            at += stage_in;
        }
        let out_stage = at;
        if out_streamed {
            at += staged(o.c, band * o.w, geom);
        }
        depth = depth.max(at);
        let mut y0 = 0;
        while y0 < o.h {
            let y1 = (y0 + band).min(o.h);
            let (r0, r1) = rows.input(y0, y1, x.h);
            let mut d = lp.desc.clone();
            // Where an input's band starts: its staging region, or its
            // resident place from row r0 on.
            let input = |id: usize| -> (u32, u32) {
                match stage.get(&id) {
                    Some(&b) => (b as u32, stage_plane(r_most * x.w) as u32),
                    None => (
                        (places[id].base + (r0 * x.w) as u64) as u32,
                        places[id].plane as u32,
                    ),
                }
            };
            (d.in_base, d.in_pw) = input(layer.inputs[0]);
            if let Some(&id2) = layer.inputs.get(1) {
                d.in2_base = input(id2).0;
            }
            (d.out_base, d.out_pw) = match out_streamed {
                true => (out_stage as u32, stage_plane(band * o.w) as u32),
                false => (
                    (places[i + 1].base + (y0 * o.w) as u64) as u32,
                    places[i + 1].plane as u32,
                ),
            };
            let band = [y0, y1, r0, r1];
            shape_band(&mut d, lp.mode, x, o, band);
            d.ld0 = u32::from(streamed[layer.inputs[0]]);
            d.l0_ext = (ext_base[layer.inputs[0]] + (r0 * x.w) as u64) as u32;
            d.l_cst = (x.h * x.w) as u32;
            if let Some(&id2) = layer.inputs.get(1) {
                d.ld1 = u32::from(streamed[id2] && id2 != layer.inputs[0]);
                d.l1_ext = (ext_base[id2] + (r0 * x.w) as u64) as u32;
            }
            d.st = u32::from(out_streamed);
            d.st_ext = (ext_base[i + 1] + (y0 * o.w) as u64) as u32;
            d.last = u32::from(y1 == o.h);
            entries.push(Entry {
                layer: i,
                dma: 0,
                band: band.map(|v| v as u32),
                desc: d,
            });
            y0 = y1;
        }
    }
    Ok((places, depth / word, entries))
}

/// A streamed plan's places, depth and entries.
type Bands = (Vec<Place>, u64, Vec<Entry>);

/// Cuts a layer's walk (descriptor `d`, walked as `mode`, input `x`,
/// output `o`) down to output rows `[y0, y1)` reading input rows
/// `[r0, r1)` (`band`): fewer rows, or (a flat walk) fewer pixels, and the
/// padding above the first input row.
pub fn shape_band(d: &mut Desc, mode: Mode, x: Shape, o: Shape, band: [usize; 4]) {
    let [y0, y1, r0, r1] = band;
    match mode {
        Mode::Flat | Mode::FlatT => {
            (d.w, d.ow) = (((r1 - r0) * x.w) as u32, ((y1 - y0) * o.w) as u32);
        }
        _ => {
            (d.h, d.oh) = ((r1 - r0) as u32, (y1 - y0) as u32);
            d.padt = (d.pad as usize + r0 - y0 * d.stride as usize) as u32;
        }
    }
}

/// The largest free interval of `[0, cap)` outside `busy`: (start, bytes).
fn largest_gap(mut busy: Vec<(u64, u64)>, cap: u64) -> (u64, u64) {
    busy.sort_unstable();
    let (mut at, mut best) = (0u64, (0u64, 0u64));
    for (lo, hi) in busy {
        if lo > at && lo - at > best.1 {
            best = (at, lo - at);
        }
        at = at.max(hi);
    }
    if cap > at && cap - at > best.1 {
        best = (at, cap - at);
    }
    best
}
