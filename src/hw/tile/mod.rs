//! The tile engine: an output-stationary 2-D array per chunk (rows are
//! output channels, columns output pixels) fed from an explicitly managed
//! on-chip scratchpad, and the plan that runs a network on it. This module
//! is below both the generator (which renders the plan as RTL, descriptor
//! and memory images) and the mapper (which prices it): the descriptor
//! format, the scratchpad layout and the cycle model live here, once.
//!
//! The hardware (`templates/tile.v.tera`, docs/accelerator.md):
//! - every chunk has `R` rows (a power of two: the same `R` for all chunks
//!   of a layer-by-layer engine, each engine its own in a tile pipeline)
//!   and its own number of columns `C`; PE `(r, c)` accumulates output
//!   channel `m0 + r` at output pixel `ox0 + c` of the current output row;
//! - the scratchpad has `B` banks, the most rows of any chunk; channel `c`
//!   of every tensor lives in bank `c mod B`, as a plane of `ceil(H*W / CW)`
//!   words of `CW` bytes (raster order, each plane from a word boundary),
//!   so the `R` channels of an output-channel tile are written in `R`
//!   different banks (`(m0 mod B) + r`) and a depthwise tile reads its `R`
//!   input channels in parallel;
//! - a layer is a sequence of *segments*, one per (tile, input channel,
//!   kernel row): a segment is the input row segment the tile's `C` pixels
//!   need for that kernel row, `(C - 1) * stride + KW` bytes read in
//!   `NCH` words, and feeds `KW` taps (a shift register moves it one byte
//!   per tap). Each segment takes a period of `P = max(KW, NCH)` cycles
//!   while the next one loads, so the array does one tap per cycle whenever
//!   `KW >= NCH`;
//! - a pointwise convolution (1x1, stride 1, no padding) is run as a
//!   convolution of a `1 x H*W` map ("flat"), so its tiles are `C`
//!   consecutive pixels of the whole map and every period is one cycle;
//!   a fully connected layer is a convolution whose kernel covers its input;
//! - the accumulators of a finished tile move to shadow registers and drain
//!   through `C` requantisers, one row (channel) per cycle, while the next
//!   tile computes; a tile shorter than `R` cycles waits for the drain;
//! - pooling, clamps and residual adds run in a post-processing unit, one
//!   scratchpad read per cycle;
//! - weights stay resident in each chunk's weight memory (loaded from
//!   external memory once after reset); external memory holds the input and
//!   the output (and, for a debugging run, every activation).

use serde::Serialize;

use crate::hw::arch::Arch;
use crate::hw::layout::Memory;
use crate::hw::pe;
use crate::model::net::{Network, Op, Shape};
use crate::model::quant::Kind;

/// Defines a descriptor: a struct of named 32-bit fields that packs into
/// one memory word and renders its own Verilog decoding, so the field
/// order is written once.
macro_rules! descriptor {
    ($(#[$m:meta])* pub struct $name:ident { $( $(#[doc = $doc:literal])* $field:ident ),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
        pub struct $name { $( $(#[doc = $doc])* pub $field: u32, )* }
        impl $name {
            /// Field names in packing order (field 0 in the low bits).
            pub const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];
            /// The fields in packing order.
            pub fn words(&self) -> Vec<u32> {
                vec![$(self.$field),*]
            }
        }
    };
}

descriptor! {
    /// One layer of a tile-engine design.
    pub struct Desc {
        /// [`Opcode`].
        op,
        /// Chunk code ([`kind_code`]) of a convolution.
        kind,
        /// 1: depthwise (every row reads its own channel).
        dw,
        /// Scratchpad byte address (in every bank) of the input, second input and output tensors.
        in_base, in2_base, out_base,
        /// Bytes per channel plane of the input and output tensors.
        in_pw, out_pw,
        /// Input geometry as the engine walks it (a flat layer: `1 x H*W`).
        c, h, w,
        /// Output geometry.
        m, oh, ow,
        kh, kw, stride, pad,
        /// Input channels per segment loop (1 for depthwise), output channels per group.
        cin_g, gm,
        /// First word of the layer's weights in its chunk's weight memory, and words per output-channel tile.
        wbase, fan,
        /// First per-channel parameter.
        pbase,
        /// Columns of the chunk.
        cols,
        /// 1: transposed (rows are pixels, columns output channels).
        tr,
        /// Output channels and output pixels (of a row) per tile.
        mstep, pstep,
        /// Scratchpad reads per segment, cycles per segment, idle cycles before each tile.
        nch, per, tpad,
        /// 1: a word-wide post-processing walk (adds, clamps, global pooling).
        vec,
        /// Residual add and pooling multipliers (signed) and shift.
        ma, mb, shift,
        /// Clamp (signed).
        lo, hi,
        /// The output's store to external memory (a streamed output, or any
        /// output in a debugging run): the address of channel 0's first
        /// byte, and bytes between channels there; the output's length.
        st_ext, st_cst, out_len,
        /// Rows of padding above the entry's first input row (`pad` for an
        /// entry that starts at the top of the map).
        padt,
        /// 1: the layer's last entry.
        last,
        /// 1: store the output band (a streamed output).
        st,
        /// 1: load the input band (the second input's) from external memory first.
        ld0, ld1,
        /// External-memory address of the input's (second input's) band in
        /// channel 0, and bytes between channels there.
        l0_ext, l1_ext, l_cst,
        /// 1: a shift layer on the multiply chunk: its weights are shift
        /// codes, which the chunk decodes (docs/arithmetic.md, K4).
        codes,
    }
}

pub mod pipe;
pub mod stream;

/// Operations of the tile engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Opcode {
    Conv = 0,
    Add = 1,
    MaxPool = 2,
    AvgPool = 3,
}

impl Opcode {
    pub const ALL: [Opcode; 4] = [Opcode::Conv, Opcode::Add, Opcode::MaxPool, Opcode::AvgPool];
    pub fn verilog_name(self) -> &'static str {
        match self {
            Opcode::Conv => "OP_CONV",
            Opcode::Add => "OP_ADD",
            Opcode::MaxPool => "OP_MAXPOOL",
            Opcode::AvgPool => "OP_AVGPOOL",
        }
    }
}

/// Code of a chunk kind in descriptors.
pub fn kind_code(k: Kind) -> u32 {
    match k {
        Kind::Conv => 0,
        Kind::Shift => 1,
        Kind::Adder => 2,
    }
}

/// How a layer is walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Mode {
    /// Convolution over output rows (standard, stem, strided pointwise, fully connected).
    Row,
    /// Pointwise convolution over the flattened map.
    Flat,
    /// The same, transposed: rows are pixels, columns output channels (for
    /// maps with few pixels).
    FlatT,
    /// Depthwise convolution: every row its own channel.
    Depthwise,
    /// Post-processing unit, a value per cycle (pooling windows).
    Post,
    /// Post-processing unit, a word of a channel per cycle (residual adds,
    /// clamps, global pooling).
    PostVec,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Row => "row",
            Mode::Flat => "flat",
            Mode::FlatT => "flat-t",
            Mode::Depthwise => "depthwise",
            Mode::Post => "post",
            Mode::PostVec => "post-vec",
        }
    }
}

/// The arrays' shapes and the scratchpad they share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Geometry {
    /// Scratchpad banks: the most rows of any chunk (a power of two).
    /// Channel `c` of every tensor lives in bank `c mod banks`.
    pub banks: u32,
    /// Rows per chunk (by [`kind_code`]; 0 where the chunk is absent): the
    /// output channels of a tile, a power of two dividing `banks`. A
    /// layer-by-layer engine has one count for every chunk (they share its
    /// sequencer); each engine of a tile pipeline has its own.
    pub rows: [u32; 3],
    /// Bytes per scratchpad word (a power of two, at least every chunk's columns).
    pub word: u32,
    /// Columns per chunk (by [`kind_code`]); 0 where the chunk is absent.
    pub cols: [u32; 3],
}

impl Geometry {
    /// Every chunk `rows` rows, the scratchpad as many banks.
    pub fn uniform(rows: u32, word: u32, cols: [u32; 3]) -> Geometry {
        Geometry {
            banks: rows,
            rows: [rows; 3],
            word,
            cols,
        }
    }

    /// Rows of the chunk of kind code `k` (at least 1).
    pub fn rows_at(&self, k: u32) -> u32 {
        self.rows[k as usize].max(1)
    }

    pub fn rows_of(&self, k: Kind) -> u32 {
        self.rows_at(kind_code(k))
    }

    /// Rows the drain of the chunk of kind code `k` requantises and
    /// writes per cycle: enough that a tile of 8 or more cycles never
    /// waits for the previous one's drain.
    pub fn drain_rows(&self, k: u32) -> u32 {
        (self.rows_at(k) / 8).max(1)
    }

    /// Cycles a tile's drain takes on the chunk of kind code `k`.
    pub fn drain_cycles(&self, k: u32) -> u32 {
        self.rows_at(k) / self.drain_rows(k)
    }

    /// Bytes of a weight word in external memory (every chunk's words are
    /// padded to it): a weight per row, or (transposed walks) per column,
    /// of the widest chunk.
    pub fn weight_bytes(&self) -> u32 {
        let most = |a: [u32; 3]| a.iter().copied().max().unwrap_or(1);
        most(self.rows).max(most(self.cols)).max(1)
    }

    /// Bytes of a weight word of the chunk of kind code `k` (its resident
    /// weight memory's width).
    pub fn chunk_weight_bytes(&self, k: u32) -> u32 {
        self.rows_at(k).max(self.cols[k as usize]).max(1)
    }
}

impl Geometry {
    /// The tile engine's geometry for `arch`, or why it cannot have one.
    pub fn of(arch: &Arch) -> Result<Geometry, String> {
        let chunks: Vec<_> = Kind::ALL
            .iter()
            .filter_map(|&k| arch.chunk(k).map(|c| (k, *c)))
            .collect();
        let first = chunks.first().map_or(1, |(_, c)| c.rows);
        if let Some((k, c)) = chunks.iter().find(|(_, c)| !c.rows.is_power_of_two()) {
            return Err(format!(
                "the tile engine needs a power-of-two number of rows (output channels per tile); the {k} chunk has {}",
                c.rows
            ));
        }
        if !arch.schedule.pipeline {
            if let Some((k, c)) = chunks.iter().find(|(_, c)| c.rows != first) {
                return Err(format!(
                    "a layer-by-layer tile engine needs the same rows in every chunk (they share its sequencer; a tile pipeline's engines may differ): the {k} chunk has {} rows, another {first}",
                    c.rows
                ));
            }
        }
        let mut cols = [0; 3];
        let mut rows = [0; 3];
        for (k, c) in &chunks {
            cols[kind_code(*k) as usize] = c.cols;
            rows[kind_code(*k) as usize] = c.rows;
        }
        let cmax = cols.iter().copied().max().unwrap_or(1).max(1);
        Ok(Geometry {
            banks: rows.iter().copied().max().unwrap_or(1).max(1),
            rows,
            word: cmax.next_power_of_two().max(2),
            cols,
        })
    }

    pub fn cols_of(&self, k: Kind) -> u32 {
        self.cols[kind_code(k) as usize]
    }
}

/// Where a tensor lives in the scratchpad.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Place {
    /// Byte address of its first plane, in every bank (word-aligned).
    pub base: u64,
    /// Bytes per channel plane (whole words).
    pub plane: u64,
    /// Planes per bank (`ceil(channels / banks)`).
    pub planes: u64,
}

impl Place {
    fn bytes(&self) -> u64 {
        self.plane * self.planes
    }
}

/// A layer as the tile engine runs it.
#[derive(Debug, Clone, Serialize)]
pub struct LayerPlan {
    pub mode: Mode,
    pub desc: Desc,
}

/// One descriptor the engine runs: a whole layer, or one band of a layer's
/// output rows with the input rows it needs.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub layer: usize,
    pub desc: Desc,
    /// Cycles of its band loads and store (external memory), beyond the walk.
    pub dma: u64,
    /// Output rows `[y0, y1)` and the input rows `[r0, r1)` they read (the
    /// whole map for a layer that is not cut).
    pub band: [u32; 4],
}

/// A network planned onto the tile engine.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub geometry: Geometry,
    /// Per tensor id.
    pub places: Vec<Place>,
    /// Scratchpad words per bank.
    pub depth: u64,
    /// Per layer: its walk, and its descriptor as one entry with every
    /// tensor on chip (a streamed plan's addresses are its entries').
    pub layers: Vec<LayerPlan>,
    /// What the engine runs, in order: one entry per layer, or (a layer
    /// reading or writing a streamed tensor) one per band of output rows.
    pub entries: Vec<Entry>,
    /// Per tensor id: `true` where it lives in external memory and moves
    /// through the scratchpad a band at a time ([`stream`]).
    pub streamed: Vec<bool>,
    /// Weight memory words (of `weight_bytes` bytes) per chunk, by [`kind_code`].
    #[serde(skip)]
    pub weights: [Vec<Vec<u8>>; 3],
    /// Per output channel of every convolution: (bias, multiplier, shift).
    #[serde(skip)]
    pub par: Vec<(i32, i32, u32)>,
    /// Most scratchpad reads of one segment, and the largest stride.
    pub nseg: u32,
    pub smax: u32,
}

/// Bytes of a channel plane of `s`: whole words.
fn plane_bytes(s: Shape, word: u64) -> u64 {
    ((s.h * s.w) as u64).div_ceil(word).max(1) * word
}

/// Scratchpad reads of one segment: `(cols - 1) * stride + kw` bytes from
/// any byte address, a word per read.
fn chunk_reads(cols: u32, stride: u32, kw: u32, word: u32) -> u32 {
    ((cols - 1) * stride + kw).div_ceil(word)
}

/// Last layer index that reads each tensor (the network output: past the end).
fn last_use(net: &Network) -> Vec<usize> {
    let n = net.layers.len();
    let mut last: Vec<usize> = (0..=n).map(|id| id.saturating_sub(1)).collect();
    for (i, l) in net.layers.iter().enumerate() {
        for &id in &l.inputs {
            last[id] = last[id].max(i);
        }
    }
    last[net.output] = n;
    last
}

/// The lowest address from `floor` on where `size` bytes overlap none of
/// the `busy` regions (`[lo, hi)`, in any order).
pub(crate) fn first_fit(mut busy: Vec<(u64, u64)>, size: u64, floor: u64) -> u64 {
    busy.sort_unstable();
    let mut at = floor;
    for (lo, hi) in busy {
        if at + size <= lo {
            break;
        }
        at = at.max(hi);
    }
    at
}

/// Allocates every tensor a scratchpad region that no tensor alive at the
/// same time overlaps (first fit, in order of production). Tensor `id` is
/// alive from the layer that writes it (the input: from the start) to the
/// last layer that reads it.
fn allocate(net: &Network, geom: &Geometry) -> (Vec<Place>, u64) {
    let word = geom.word as u64;
    let last = last_use(net);
    let mut places: Vec<Place> = Vec::new();
    let mut depth = 0u64;
    for id in 0..=net.layers.len() {
        let s = net.tensor(id).shape;
        let plane = plane_bytes(s, word);
        let planes = (s.c as u64).div_ceil(geom.banks as u64);
        let size = plane * planes;
        let born = id.saturating_sub(1);
        // Regions of tensors alive at the same time.
        let busy: Vec<(u64, u64)> = (0..id)
            .filter(|&j| last[j] >= born)
            .map(|j| (places[j].base, places[j].base + places[j].bytes()))
            .collect();
        let base = first_fit(busy, size, 0);
        places.push(Place {
            base,
            plane,
            planes,
        });
        depth = depth.max((base + size) / word);
    }
    (places, depth)
}

/// Fills the walk of convolution layer `i` (mode, geometry as the engine
/// walks it, segment reads and period, tile pad) into `d` for an engine of
/// geometry `geom`; an error says why the engine cannot run the layer.
/// The mapper calls this for every array shape it prices.
pub fn conv_walk(d: &mut Desc, net: &Network, i: usize, geom: &Geometry) -> Result<Mode, String> {
    let layer = &net.layers[i];
    let Op::Conv(c) = &layer.op else {
        return Ok(Mode::Post);
    };
    let x = net.tensor(layer.inputs[0]).shape;
    let o = layer.out.shape;
    if c.acc_bits > pe::ACC_BITS as u32 {
        return Err(format!(
            "layer `{}` needs a {}-bit accumulator; the PEs have {}",
            layer.name,
            c.acc_bits,
            pe::ACC_BITS
        ));
    }
    let depthwise = c.is_depthwise();
    // A grouped convolution runs as a plain one whose tiles each lie in one
    // group (reading that group's input channels): the rows must divide
    // the group's output channels.
    let per_group = c.out_ch / c.groups;
    let k = kind_code(c.kind);
    let rows = geom.rows_at(k);
    if c.groups > 1 && !depthwise && per_group % rows as usize != 0 {
        return Err(format!(
            "layer `{}`: a grouped convolution with {} output channels per group needs arrays whose rows ({}) divide them",
            layer.name, per_group, rows
        ));
    }
    let cols = geom.cols[k as usize].max(1);
    let flat = !depthwise && c.kh == 1 && c.kw == 1 && c.stride == 1 && c.padding == 0;
    d.gm = per_group as u32;
    (d.c, d.h, d.w, d.m, d.oh, d.ow) = (
        x.c as u32, x.h as u32, x.w as u32, o.c as u32, o.h as u32, o.w as u32,
    );
    if flat {
        (d.h, d.w, d.oh, d.ow) = (1, (x.h * x.w) as u32, 1, (o.h * o.w) as u32);
    }
    d.op = Opcode::Conv as u32;
    d.kind = k;
    d.dw = depthwise as u32;
    d.kh = c.kh as u32;
    d.kw = c.kw as u32;
    d.stride = c.stride as u32;
    d.pad = c.padding as u32;
    d.cin_g = (c.in_ch / c.groups) as u32;
    d.cols = cols;
    let mode = if depthwise {
        Mode::Depthwise
    } else if flat {
        Mode::Flat
    } else {
        Mode::Row
    };
    walk_as(d, mode, geom);
    // A flat layer may also run transposed where a word holds a row of
    // pixels: the walk of fewer cycles (the plain one on a tie).
    if flat && c.groups == 1 && rows <= geom.word && rows > 1 {
        let mut t = d.clone();
        walk_as(&mut t, Mode::FlatT, geom);
        if walk_cycles(Mode::FlatT, &t, geom) < walk_cycles(mode, d, geom) {
            *d = t;
            return Ok(Mode::FlatT);
        }
    }
    Ok(mode)
}

/// Fills the tile steps, segment reads, period and tile pad of a
/// convolution walked as `mode`.
fn walk_as(d: &mut Desc, mode: Mode, geom: &Geometry) {
    let transposed = mode == Mode::FlatT;
    let rows = geom.rows_at(d.kind);
    d.tr = transposed as u32;
    (d.mstep, d.pstep) = if transposed {
        (d.cols, rows)
    } else {
        (rows, d.cols)
    };
    // A transposed segment is one aligned read of `rows` pixels.
    d.nch = if transposed {
        1
    } else {
        chunk_reads(d.cols, d.stride, d.kw, geom.word)
    };
    d.per = d.nch.max(d.kw);
    let drain = if transposed {
        d.cols
    } else {
        geom.drain_cycles(d.kind)
    };
    d.tpad = drain.saturating_sub(d.cin_g * d.kh * d.per);
}

/// A pooling layer's window fields (square kernel, stride, padding).
fn set_window(d: &mut Desc, g: &crate::model::net::PoolGeom) {
    (d.kh, d.kw, d.stride, d.pad) = (
        g.kernel as u32,
        g.kernel as u32,
        g.stride as u32,
        g.padding as u32,
    );
}

/// Scratchpad bytes (all banks) a network needs on an engine of `geom`.
pub fn scratchpad_bytes(net: &Network, geom: &Geometry) -> u64 {
    allocate(net, geom).1 * geom.word as u64 * geom.banks as u64
}

/// The tile engine's plan for `net` on `arch` (tensors at `ext_base` in
/// external memory), or why the engine cannot run it: every live
/// activation on chip where they fit `buffer.words`, else the largest
/// tensors streamed through the scratchpad in bands ([`stream`]).
pub fn plan(net: &Network, arch: &Arch, ext_base: &[u64]) -> Result<Plan, String> {
    let geom = Geometry::of(arch)?;
    let bytes = scratchpad_bytes(net, &geom);
    if bytes <= arch.buffer.words as u64 {
        return plan_geometry(net, &geom, ext_base);
    }
    let cap = arch.buffer.words as u64 / geom.banks as u64;
    let whole = plan_geometry(net, &geom, ext_base)?;
    stream::plan(net, whole, ext_base, &Memory::of(arch), cap).map_err(|m| {
        format!(
            "the activations need {bytes} bytes of scratchpad with every tensor on chip, the buffer has {} (buffer.words), and streaming does not fit either: {m}",
            arch.buffer.words
        )
    })
}

/// The plan on an engine of `geom`, whatever its scratchpad holds.
pub fn plan_geometry(net: &Network, geom: &Geometry, ext_base: &[u64]) -> Result<Plan, String> {
    plan_with(net, geom, ext_base, true)
}

/// The same plan without the weight memory images (empty `weights`): what
/// pricing a shape needs, at a fraction of the cost.
pub fn plan_shape(net: &Network, geom: &Geometry, ext_base: &[u64]) -> Result<Plan, String> {
    plan_with(net, geom, ext_base, false)
}

fn plan_with(
    net: &Network,
    geom: &Geometry,
    ext_base: &[u64],
    with_weights: bool,
) -> Result<Plan, String> {
    let geom = *geom;
    let (places, depth) = allocate(net, &geom);
    let mut weights: [Vec<Vec<u8>>; 3] = Default::default();
    let mut words = [0usize; 3];
    let mut par = Vec::new();
    let mut layers = Vec::new();
    let (mut nseg, mut smax) = (1u32, 1u32);
    for (i, layer) in net.layers.iter().enumerate() {
        let x = net.tensor(layer.inputs[0]).shape;
        let o = layer.out.shape;
        let pin = places[layer.inputs[0]];
        let pout = places[i + 1];
        let mut d = Desc {
            in_base: pin.base as u32,
            out_base: pout.base as u32,
            in_pw: pin.plane as u32,
            out_pw: pout.plane as u32,
            c: x.c as u32,
            h: x.h as u32,
            w: x.w as u32,
            m: o.c as u32,
            oh: o.h as u32,
            ow: o.w as u32,
            kh: 1,
            kw: 1,
            stride: 1,
            lo: layer.clamp.0 as i32 as u32,
            hi: layer.clamp.1 as i32 as u32,
            st_ext: ext_base[i + 1] as u32,
            st_cst: (o.h * o.w) as u32,
            out_len: o.len() as u32,
            last: 1,
            ..Desc::default()
        };
        let mode = match &layer.op {
            Op::Conv(c) => {
                let mode = conv_walk(&mut d, net, i, &geom)?;
                let k = d.kind as usize;
                nseg = nseg.max(d.nch);
                smax = smax.max(d.stride);
                let fan = c.fan_in();
                d.fan = fan as u32;
                d.wbase = words[k] as u32;
                // Every layer's channels start on a par_mem word.
                par.resize(
                    par.len().next_multiple_of(geom.rows_at(d.kind) as usize),
                    (0, 0, 0),
                );
                d.pbase = par.len() as u32;
                // Per tile of `mstep` output channels and per tap, a word
                // with channel m0 + i's weight in byte i.
                let step = d.mstep as usize;
                let wb = geom.weight_bytes() as usize;
                words[k] += c.out_ch.div_ceil(step) * fan;
                for t in (0..c.out_ch.div_ceil(step)).filter(|_| with_weights) {
                    for tap in 0..fan {
                        weights[k].push(
                            (0..wb)
                                .map(|i| {
                                    let m = t * step + i;
                                    if i < step && m < c.out_ch {
                                        c.weights[m * fan + tap] as u8
                                    } else {
                                        0
                                    }
                                })
                                .collect(),
                        );
                    }
                }
                for m in 0..c.out_ch {
                    par.push((c.bias[m], c.multiplier[m], c.shift[m]));
                }
                mode
            }
            Op::Add { multipliers, shift } => {
                let p2 = places[layer.inputs[1]];
                d.op = Opcode::Add as u32;
                d.in2_base = p2.base as u32;
                d.ma = multipliers[0] as u32;
                d.mb = multipliers[1] as u32;
                d.shift = *shift;
                d.vec = 1;
                Mode::PostVec
            }
            Op::MaxPool(g) => {
                d.op = Opcode::MaxPool as u32;
                set_window(&mut d, g);
                Mode::Post
            }
            Op::AvgPool {
                geom: g,
                multiplier,
                shift,
            } => {
                d.op = Opcode::AvgPool as u32;
                set_window(&mut d, g);
                d.ma = *multiplier as u32;
                d.shift = *shift;
                Mode::Post
            }
            Op::GlobalAvgPool { multiplier, shift } => {
                d.op = Opcode::AvgPool as u32;
                (d.kh, d.kw) = (x.h as u32, x.w as u32);
                d.ma = *multiplier as u32;
                d.shift = *shift;
                d.vec = 1;
                Mode::PostVec
            }
            // A 1x1 max pool: the value itself, then the clamp.
            Op::Clamp => {
                d.op = Opcode::MaxPool as u32;
                d.vec = 1;
                Mode::PostVec
            }
        };
        d.padt = d.pad;
        layers.push(LayerPlan { mode, desc: d });
    }
    let entries = layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let x = net.tensor(net.layers[i].inputs[0]).shape;
            let o = net.layers[i].out.shape;
            Entry {
                layer: i,
                desc: l.desc.clone(),
                dma: 0,
                band: [0, o.h as u32, 0, x.h as u32],
            }
        })
        .collect();
    Ok(Plan {
        geometry: geom,
        places,
        depth,
        layers,
        entries,
        streamed: vec![false; net.layers.len() + 1],
        weights,
        par,
        nseg,
        smax,
    })
}

/// Cycles from a requantiser's or scaler's operands to its result's
/// write (`templates/arith/`: the sum or operands registered, then the
/// product, then the rounding and clamp into the write).
pub const WRITE_LATENCY: u64 = 2;

/// Cycles from a tap's operands (the weight word and the segment's byte,
/// in the tap stage) to the multiply-accumulate that takes them: the PEs'
/// operands are registered (`templates/tile.v.tera`, the MAC stage).
pub const MAC_LATENCY: u64 = 1;

/// Cycles of the states around every layer: descriptor fetch (2),
/// dispatch (1), end (1) and hand-over (1).
pub const LAYER_OVERHEAD: u64 = 5;

/// Exact cycles of layer `i` of a planned network: its entries' walks and
/// band transfers (without the input load and output store of the run;
/// see [`frame_cycles`]).
pub fn layer_cycles(plan: &Plan, i: usize) -> u64 {
    let mode = plan.layers[i].mode;
    plan.entries
        .iter()
        .filter(|e| e.layer == i)
        .map(|e| walk_cycles(mode, &e.desc, &plan.geometry) + e.dma)
        .sum()
}

/// Exact cycles of a layer walked as `mode` with descriptor `d` on an
/// engine of geometry `geom`.
pub fn walk_cycles(mode: Mode, d: &Desc, geom: &Geometry) -> u64 {
    let drain = geom.drain_cycles(d.kind) as u64;
    let body = match mode {
        Mode::PostVec => {
            // A word of a channel's plane per cycle (two for an add: both
            // operands), then the last word through the scaler and written.
            let words = ((d.h * d.w) as u64).div_ceil(geom.word as u64);
            let reads = if d.op == Opcode::Add as u32 { 2 } else { 1 };
            d.c as u64 * words * reads + 1 + WRITE_LATENCY
        }
        Mode::Post => {
            // A read per window tap and cycle, then the last value through
            // the scaler and written.
            (d.m * d.oh * d.ow) as u64 * (d.kh * d.kw) as u64 + 1 + WRITE_LATENCY
        }
        _ => {
            let (per, kw) = (d.per as u64, d.kw as u64);
            let tile = (d.cin_g * d.kh) as u64 * per + d.tpad as u64;
            // A loading period before the first segment; after the last
            // period, the last tap (in the tap stage), its
            // multiply-accumulate MAC_LATENCY cycles later, the drain of
            // the last tile's rows and its last write WRITE_LATENCY cycles
            // later, less what the period's idle end overlaps.
            let drain = if d.tr != 0 { d.cols as u64 } else { drain };
            let end = drain + 1 + MAC_LATENCY + WRITE_LATENCY;
            per + tiles(d) * tile + end.saturating_sub(per - kw).max(1)
        }
    };
    LAYER_OVERHEAD + body
}

/// Output tiles of a convolution: output-channel tiles x output rows x
/// column tiles per row.
pub fn tiles(d: &Desc) -> u64 {
    (d.m as u64).div_ceil(d.mstep as u64) * d.oh as u64 * (d.ow as u64).div_ceil(d.pstep as u64)
}

/// Cycles before the first layer (the input read from external memory a
/// line at a time, each line then written into the scratchpad a byte per
/// cycle) and after the last (the output stored, then the done state). A
/// streamed input or output moves a band at a time inside its layers'
/// entries instead.
pub fn frame_cycles(net: &Network, plan: &Plan, memory: &Memory) -> (u64, u64) {
    let inp = net.input.tensor.shape.len() as u64;
    let out = net.output_info().shape.len() as u64;
    let head = match plan.streamed[0] {
        true => 0,
        false => inp.div_ceil(memory.line_bytes) * memory.access_cycles() + inp,
    };
    let store = match plan.streamed[net.output] {
        true => 0,
        false => store_cycles(out, memory),
    };
    (head, store + 1)
}

/// Lines of external memory the run's input load reads and its output
/// store writes (none for a streamed input or output: its bands move inside
/// its layers' entries).
pub fn frame_lines(net: &Network, plan: &Plan, memory: &Memory) -> (u64, u64) {
    let lines = |streamed: bool, len: usize| match streamed {
        true => 0,
        false => (len as u64).div_ceil(memory.line_bytes),
    };
    (
        lines(plan.streamed[0], net.input.tensor.shape.len()),
        lines(plan.streamed[net.output], net.output_info().shape.len()),
    )
}

/// Cycles to store a tensor of `len` bytes in external memory: per line,
/// a byte read per cycle, one more for the last byte, and the write.
pub fn store_cycles(len: u64, memory: &Memory) -> u64 {
    len.div_ceil(memory.line_bytes) * (memory.line_bytes + 1 + memory.access_cycles())
}

/// Terms (accumulations) of layer `i`'s convolution; 0 for other layers.
pub fn layer_terms(net: &Network, i: usize) -> u64 {
    match &net.layers[i].op {
        Op::Conv(c) => net.layers[i].out.shape.len() as u64 * c.fan_in() as u64,
        _ => 0,
    }
}

/// The tile plan a design of `net` on `arch` runs, or `None` where it runs
/// on the cache controller: `engine = "cache"`, a layer pipeline, or
/// (`engine = "auto"`) a network the tile engine cannot run. An explicit
/// `engine = "tiles"` it cannot honour is an error naming the reason.
pub fn choose(net: &Network, arch: &Arch) -> Result<Option<Plan>, crate::model::error::InputError> {
    use crate::hw::arch::Engine;
    let engine = arch.schedule.engine;
    if engine == Engine::Cache || (engine == Engine::Auto && arch.schedule.pipeline) {
        return Ok(None);
    }
    let err =
        |m: String| crate::model::error::InputError::new(&arch.path, m).field("schedule.engine");
    if arch.schedule.pipeline {
        return Ok(None);
    }
    if !arch.missing_kinds(net).is_empty() {
        return Ok(None);
    }
    let memory = Memory::of(arch);
    let bases = crate::hw::layout::tensor_bases(net, memory.line_bytes);
    match plan(net, arch, &bases) {
        Ok(p) => Ok(Some(p)),
        Err(m) if engine == Engine::Tiles => Err(err(m)),
        Err(_) => Ok(None),
    }
}

/// The tile pipeline a pipelined design (`[schedule] pipeline = true`) of
/// `net` on `arch` runs, or `None` for a layer-by-layer design. A pipeline
/// runs on tile engines only, so one they cannot run is an error naming
/// the reason and the field: `engine = "cache"`, a kind without a chunk,
/// a network the engines cannot run, or copies that do not fit in
/// `buffer.words`.
pub fn choose_pipe(
    net: &Network,
    arch: &Arch,
) -> Result<Option<pipe::Pipe>, crate::model::error::InputError> {
    use crate::hw::arch::Engine;
    use crate::model::error::InputError;
    if !arch.schedule.pipeline {
        return Ok(None);
    }
    if arch.schedule.engine == Engine::Cache {
        return Err(InputError::new(
            &arch.path,
            "a layer pipeline runs on tile engines; engine = \"cache\" cannot be pipelined (use \"auto\" or \"tiles\", or pipeline = false)",
        )
        .field("schedule.engine"));
    }
    arch.check_kinds(net)?;
    let memory = Memory::of(arch);
    let bases = crate::hw::layout::tensor_bases(net, memory.line_bytes);
    let geom = Geometry::of(arch)
        .map_err(|m| InputError::new(&arch.path, m).field("schedule.pipeline"))?;
    let fusion = arch.fusion(net)?;
    let p = plan_geometry(net, &geom, &bases)
        .and_then(|t| pipe::plan(net, &geom, t, &fusion))
        .map_err(|m| InputError::new(&arch.path, m).field("schedule.pipeline"))?;
    let bytes = p.bytes() * geom.banks as u64;
    if bytes > arch.buffer.words as u64 {
        return Err(InputError::new(
            &arch.path,
            format!(
                "a tile pipeline keeps every image's activations on chip: this network needs {bytes} bytes of scratchpad, the buffer has {} (raise buffer.words, or set schedule.pipeline = false)",
                arch.buffer.words
            ),
        )
        .field("buffer.words"));
    }
    Ok(Some(p))
}
