//! The accelerator generator: from a validated [`Network`] and [`Arch`],
//! the memory layout, per-layer descriptors and memory images, and the RTL
//! (structural top level and testbench from the tera templates in
//! `templates/`, PE cells from `hw::pe`), written atomically into one
//! directory with a manifest of hashes.
//!
//! What the generated design supports (checked here, with reasons): every
//! kind used has a chunk; accumulators fit the PEs' 32 bits; grouped
//! convolutions are plain (groups = 1) or one output channel per group
//! (depthwise and channel-multiplier 1). All tensors and weights stay on
//! chip; there is no external-memory tiling yet.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::hw::arch::Arch;
use crate::hw::layout::{clog2, CacheGeometry, MEMORY_LATENCY};
use crate::hw::pe;
use crate::model::error::{InputError, InputResult};
use crate::model::fsutil::AtomicDir;
use crate::model::net::{sha256_hex, weights, Network, Op};
use crate::model::quant::Kind;

pub mod axi;
pub mod core;
pub mod tile;

/// A design's files: name and contents.
pub type Files = Vec<(String, Vec<u8>)>;

pub const MANIFEST: &str = "manifest.json";
/// The cache controller's descriptor fields (32 bits each), in the order
/// of `templates/top.v.tera`.
pub const DESC_FIELDS: usize = 27;

const TOP_TEMPLATE: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/top.v.tera"));
/// The testbench's external memory model, hand-written and independent of
/// the network (`sim/nasa_ext_mem.v`); copied into every design beside `tb.v`.
pub const EXT_MEM_MODEL: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/sim/nasa_ext_mem.v"));
/// Its file name in a design directory.
pub const EXT_MEM_FILE: &str = "nasa_ext_mem.v";
const TB_TEMPLATE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/tb.v.tera"));

/// Where each tensor lives in the activation buffer.
#[derive(Debug, Clone, Serialize)]
pub struct Layout {
    /// Base address of tensor `id` (0 is the input; of its slot 0 when
    /// pipelined).
    pub base: Vec<u64>,
    pub depth: u64,
    pub in_base: u64,
    pub in_len: u64,
    pub out_base: u64,
    pub out_len: u64,
    /// Pipelined designs: bytes between the input's (output's) per-image
    /// slots; 0 otherwise.
    pub in_stride: u64,
    pub out_stride: u64,
}

/// The memory images and parameters of one generated design.
#[derive(Debug, Clone)]
pub struct Program {
    pub layout: Layout,
    pub desc: Vec<[u32; DESC_FIELDS]>,
    /// External-memory address of the weights, after the activations.
    pub wext_base: u64,
    /// The weights as they sit in external memory: per conv layer, per tile
    /// of `P` output channels, one row per tap of `P` bytes (PE 0 first)
    /// padded to whole memory lines.
    pub wext: Vec<u8>,
    /// Per kind: rows of the chunk's weight memory (the largest fan-in).
    pub wdepth: BTreeMap<Kind, usize>,
    /// Per output channel of every conv layer: (bias, multiplier, shift).
    pub par: Vec<(i32, i32, u32)>,
}

/// A chunk's name in the paper and in the generated files' comments.
fn chunk_label(k: Kind) -> &'static str {
    match k {
        Kind::Conv => "CLP",
        Kind::Shift => "SLP",
        Kind::Adder => "ALP",
    }
}

fn kind_code(k: Kind) -> u32 {
    match k {
        Kind::Conv => 0,
        Kind::Shift => 1,
        Kind::Adder => 2,
    }
}

/// Checks that the generated design can run `net` on `arch`.
pub fn check_supported(net: &Network, arch: &Arch) -> InputResult<()> {
    arch.check_kinds(net)?;
    if arch.memory.data_bits < 16 {
        return Err(InputError::new(
            &arch.path,
            format!(
                "the generated cache needs lines of at least 2 bytes; data_bits = {} is too narrow",
                arch.memory.data_bits
            ),
        )
        .field("memory.data_bits"));
    }
    let file = &net.provenance.description;
    for (layer, c) in net.conv_layers() {
        if c.acc_bits > pe::ACC_BITS as u32 {
            return Err(InputError::new(
                file,
                format!("needs a {}-bit accumulator; the generated PEs have {} bits (use smaller biases or fewer input channels)", c.acc_bits, pe::ACC_BITS),
            )
            .layer(&layer.name));
        }
        if c.groups > 1 && c.out_ch != c.groups {
            return Err(InputError::new(
                file,
                format!("grouped convolution with {} output channels per group is not supported by the generated controller (only groups = 1 or one output channel per group)", c.out_ch / c.groups),
            )
            .layer(&layer.name)
            .field("groups"));
        }
    }
    Ok(())
}

/// The descriptor's window fields (kernel rows and columns, stride, padding).
fn set_window(d: &mut [u32; DESC_FIELDS], g: &crate::model::net::PoolGeom) {
    (d[11], d[12], d[13], d[14]) = (
        g.kernel as u32,
        g.kernel as u32,
        g.stride as u32,
        g.padding as u32,
    );
}

/// Lays out the tensors and builds descriptors and memory images.
pub fn program(net: &Network, arch: &Arch) -> Result<Program> {
    check_supported(net, arch)?;
    let lb = (arch.memory.data_bits / 8) as u64;
    let base = crate::hw::layout::tensor_bases(net, lb);
    let last = net.layers.len();
    let next = base[last] + net.tensor(last).shape.len() as u64;
    let layout = Layout {
        depth: next.max(2),
        in_base: base[0],
        in_len: net.input.tensor.shape.len() as u64,
        out_base: base[net.output],
        out_len: net.output_info().shape.len() as u64,
        in_stride: 0,
        out_stride: 0,
        base,
    };
    let mut desc = Vec::new();
    let lb = lb as usize;
    let wext_base = layout.depth.div_ceil(lb as u64) * lb as u64;
    let mut wext: Vec<u8> = Vec::new();
    let mut wdepth: BTreeMap<Kind, usize> = BTreeMap::new();
    let mut par = Vec::new();
    for (i, layer) in net.layers.iter().enumerate() {
        let x = net.tensor(layer.inputs[0]).shape;
        let o = layer.out.shape;
        let mut d = [0u32; DESC_FIELDS];
        d[2] = layout.base[layer.inputs[0]] as u32;
        d[4] = layout.base[i + 1] as u32;
        d[5] = x.c as u32;
        d[6] = x.h as u32;
        d[7] = x.w as u32;
        d[8] = o.c as u32;
        d[9] = o.h as u32;
        d[10] = o.w as u32;
        d[13] = 1;
        d[23] = layer.clamp.0 as i32 as u32;
        d[24] = layer.clamp.1 as i32 as u32;
        match &layer.op {
            Op::Conv(c) => {
                let pes = arch.pes(c.kind) as usize;
                let cin_g = c.in_ch / c.groups;
                let fan = c.fan_in();
                let row_lines = pes.div_ceil(lb);
                let depth = wdepth.entry(c.kind).or_insert(1);
                *depth = (*depth).max(fan);
                d[0] = 0;
                d[1] = kind_code(c.kind);
                d[11] = c.kh as u32;
                d[12] = c.kw as u32;
                d[13] = c.stride as u32;
                d[14] = c.padding as u32;
                d[15] = cin_g as u32;
                d[16] = (c.groups > 1) as u32;
                d[17] = (wext_base + wext.len() as u64) as u32;
                d[18] = par.len() as u32;
                d[19] = pes as u32;
                d[25] = fan as u32;
                d[26] = row_lines as u32;
                for t in 0..c.out_ch.div_ceil(pes) {
                    for r in 0..fan {
                        for p in 0..row_lines * lb {
                            let m = t * pes + p;
                            let w = if p < pes && m < c.out_ch {
                                c.weights[m * fan + r] as u8
                            } else {
                                0
                            };
                            wext.push(w);
                        }
                    }
                }
                for m in 0..c.out_ch {
                    par.push((c.bias[m], c.multiplier[m], c.shift[m]));
                }
            }
            Op::Add { multipliers, shift } => {
                d[0] = 1;
                d[3] = layout.base[layer.inputs[1]] as u32;
                d[20] = multipliers[0] as u32;
                d[21] = multipliers[1] as u32;
                d[22] = *shift;
            }
            Op::MaxPool(g) => {
                d[0] = 2;
                set_window(&mut d, g);
            }
            Op::AvgPool {
                geom: g,
                multiplier,
                shift,
            } => {
                d[0] = 3;
                set_window(&mut d, g);
                d[20] = *multiplier as u32;
                d[22] = *shift;
            }
            Op::GlobalAvgPool { multiplier, shift } => {
                d[0] = 3;
                (d[11], d[12]) = (x.h as u32, x.w as u32);
                d[20] = *multiplier as u32;
                d[22] = *shift;
            }
            Op::Clamp => {
                d[0] = 2; // a 1x1 max pool: the value itself, then the clamp
                (d[11], d[12]) = (1, 1);
            }
        }
        desc.push(d);
    }
    Ok(Program {
        layout,
        desc,
        wext_base,
        wext,
        wdepth,
        par,
    })
}

/// A chunk as the templates see it.
#[derive(Serialize)]
struct ChunkCtx {
    kind: &'static str,
    label: &'static str,
    code: u32,
    pes: u32,
    rows: u32,
    cols: u32,
    depth: u64,
    dbits: u32,
    pbits: u32,
}

/// Hashes and names stamped into every generated file.
#[derive(Debug, Clone, Serialize)]
pub struct Stamp {
    pub name: String,
    pub tool_version: String,
    pub network: String,
    pub description_sha256: String,
    pub weights_sha256: String,
    pub arch_sha256: String,
}

impl Stamp {
    /// What produced a file, in one line without comment marks: `nasa
    /// VERSION `NAME`: WHAT; network N description sha256 D [weights sha256
    /// W] architecture sha256 A`. A file that does not depend on the
    /// weights (a primitive, a PE cell) leaves their hash out, so that it is
    /// the same for every set of weights.
    pub fn provenance(&self, what: &str, weights: bool) -> String {
        let weights = if weights {
            format!(" weights sha256 {}", self.weights_sha256)
        } else {
            String::new()
        };
        format!(
            "nasa {} `{}`: {what}; network {} description sha256 {}{weights} architecture sha256 {}",
            self.tool_version, self.name, self.network, self.description_sha256, self.arch_sha256
        )
    }

    /// The first line of a generated Verilog or hex file.
    fn hex_header(&self) -> String {
        format!("// {}\n", self.provenance("generated; do not edit", true))
    }
}

#[derive(Serialize)]
struct Manifest<'a> {
    format: &'static str,
    stamp: &'a Stamp,
    source_description: String,
    source_weights: Option<String>,
    layout: &'a Layout,
    chunks: BTreeMap<&'static str, u32>,
    ops: BTreeMap<&'static str, u64>,
    ideal_cycles: u64,
    /// `cache` (the serial controller) or `tiles` (`hw::tile`).
    engine: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache: Option<CacheGeometry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tiles: Option<&'a crate::hw::tile::Plan>,
    /// A tile pipeline's engines, memories and descriptors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pipe: Option<&'a crate::hw::tile::pipe::Pipe>,
    max_images: u64,
    files: BTreeMap<String, String>,
}

impl<'a> Manifest<'a> {
    /// A manifest without an engine: the stamp, sources, layout, chunks,
    /// operations, ideal cycles and the hash of every file.
    fn new(
        stamp: &'a Stamp,
        net: &Network,
        arch: &Arch,
        layout: &'a Layout,
        max_images: u64,
        files: &Files,
    ) -> Manifest<'a> {
        Manifest {
            format: "nasa-gen-1",
            stamp,
            source_description: net.provenance.description.display().to_string(),
            source_weights: net
                .provenance
                .weights
                .as_ref()
                .map(|p| p.display().to_string()),
            layout,
            chunks: Kind::ALL
                .iter()
                .filter(|&&k| arch.pes(k) > 0)
                .map(|&k| (k.name(), arch.pes(k)))
                .collect(),
            ops: Kind::ALL
                .iter()
                .map(|k| k.name())
                .zip(net.ops_per_kind())
                .collect(),
            ideal_cycles: ideal_cycles(net, arch),
            engine: "",
            cache: None,
            tiles: None,
            pipe: None,
            max_images,
            files: files
                .iter()
                .filter(|(n, _)| !STIMULI.contains(&n.as_str()))
                .map(|(n, b)| (n.clone(), sha256_hex(b)))
                .collect(),
        }
    }
}

/// Ideal cycles per inference: each kind's operations over its chunk's PEs
/// (rounded up per kind), chunks running one after another, or for a
/// pipelined design concurrently (the busiest chunk's).
pub fn ideal_cycles(net: &Network, arch: &Arch) -> u64 {
    let per_kind = arch
        .ideal_cycles_per_kind(net.ops_per_kind())
        .into_iter()
        .map(|(_, c)| c);
    if arch.schedule.pipeline {
        per_kind.max().unwrap_or(0)
    } else {
        per_kind.sum()
    }
}

/// A generous bound on the controller's cycles for one image (testbench watchdog).
fn cycle_bound(net: &Network, arch: &Arch) -> u64 {
    // Every read and write may miss and write a dirty victim back first.
    let mem = 2 * (MEMORY_LATENCY as u64 + 4);
    // The reset sweep, and a flush of every line (`flush_all`).
    let mut total = 1000u64 + CacheGeometry::new(arch, 0).lines * (mem + 2);
    for layer in &net.layers {
        let o = layer.out.shape.len() as u64;
        total += match &layer.op {
            Op::Conv(c) => {
                let pes = arch.pes(c.kind) as u64;
                let per_tap = if c.groups > 1 {
                    (2 + mem) * pes + 1
                } else {
                    3 + mem
                };
                c.out_ch.div_ceil(pes as usize) as u64
                    * c.fan_in() as u64
                    * (pes + 2)
                    * (MEMORY_LATENCY as u64 + 3)
                    + c.out_ch.div_ceil(pes as usize) as u64
                        * (o / c.out_ch as u64)
                        * (c.fan_in() as u64 * per_tap + (2 + mem) * pes + 2)
            }
            Op::MaxPool(g) | Op::AvgPool { geom: g, .. } => {
                o * (mem * (g.kernel * g.kernel) as u64 + mem)
            }
            Op::GlobalAvgPool { .. } => mem * (net.tensor(layer.inputs[0]).shape.len() as u64 + o),
            _ => 3 * mem * o,
        } + 8;
    }
    total * 4
}

/// The descriptors, one per line, field 0 in the low bits.
fn desc_hex(header: &str, prog: &Program) -> String {
    let mut text = header.to_string();
    for d in &prog.desc {
        for f in d.iter().rev() {
            let _ = write!(text, "{f:08x}");
        }
        text.push('\n');
    }
    text
}

/// Generates the design into `dir` (atomically). Returns the manifest's stamp.
pub fn generate(
    net: &Network,
    arch: &Arch,
    arch_text: &str,
    name: &str,
    dir: &Path,
) -> Result<Stamp> {
    let weights_bytes = weights::serialize(net);
    let stamp = Stamp {
        name: name.to_string(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        network: net.name.clone(),
        description_sha256: net.provenance.description_sha256.clone(),
        weights_sha256: sha256_hex(&weights_bytes),
        arch_sha256: sha256_hex(arch_text.as_bytes()),
    };
    let stimuli = stimuli(net, &stamp);
    // The description and weights written beside the design are the
    // network's own; the hardware runs it as the architecture places it.
    let ran = arch.runs(net)?;
    let net: &Network = &ran;
    let moved = &arch.schedule.shift_on_multiply;
    // A moved layer's descriptor tells the multiply chunk its weights are codes.
    let codes = |i: usize| moved.contains(&net.layers[i].name) as u32;
    if let Some(mut plan) = crate::hw::tile::choose(net, arch)? {
        for e in &mut plan.entries {
            e.desc.codes = codes(e.layer);
        }
        return generate_tiles(
            net,
            arch,
            arch_text,
            &plan,
            stamp,
            Written {
                weights: weights_bytes,
                stimuli,
            },
            dir,
        );
    }
    if let Some(mut pipe) = crate::hw::tile::choose_pipe(net, arch)? {
        for e in &mut pipe.tile.entries {
            e.desc.codes = codes(e.layer);
        }
        for e in &mut pipe.entries {
            e.desc.codes = codes(e.layer);
        }
        return generate_pipe(
            net,
            arch,
            arch_text,
            &pipe,
            stamp,
            Written {
                weights: weights_bytes,
                stimuli,
            },
            dir,
        );
    }
    if !moved.is_empty() {
        return Err(crate::model::error::InputError::new(
            &arch.path,
            "shift layers run on the multiply chunk only in tile-engine designs; this design uses the cache controller".to_string(),
        )
        .field("schedule.shift_on_multiply")
        .into());
    }
    let prog = program(net, arch)?;
    let chunks: Vec<ChunkCtx> = Kind::ALL
        .iter()
        .filter_map(|&k| {
            let c = arch.chunk(k)?;
            let depth = prog.wdepth.get(&k).copied().unwrap_or(1).max(2) as u64;
            Some(ChunkCtx {
                kind: k.name(),
                label: chunk_label(k),
                code: kind_code(k),
                pes: c.pes(),
                rows: c.rows,
                cols: c.cols,
                depth,
                dbits: clog2(depth),
                pbits: clog2(c.pes() as u64),
            })
        })
        .collect();
    let pmax = chunks.iter().map(|c| c.pes).max().unwrap_or(1);
    let par_depth = prog.par.len().max(2) as u64;
    let max_images = ((1u64 << 24) / prog.layout.in_len.max(prog.layout.out_len).max(1)).min(1024);

    let mut ctx = tera::Context::from_serialize(&stamp).context("template context")?;
    ctx.insert("chunks", &chunks);
    ctx.insert("layers", &net.layers.len());
    let cache = CacheGeometry::new(arch, prog.wext_base + prog.wext.len() as u64);
    let rl_max = chunks
        .iter()
        .map(|c| c.pes.div_ceil(cache.line_bytes))
        .max()
        .unwrap_or(1);
    ctx.insert("rl_max", &rl_max);
    ctx.insert("wext_base", &prog.wext_base);
    ctx.insert("dw", &arch.memory.data_bits);
    ctx.insert("lb", &cache.line_bytes);
    ctx.insert("ob", &cache.offset_bits);
    ctx.insert("lines", &cache.lines);
    ctx.insert("ib", &cache.index_bits);
    // Banks interleave lines; at least 2 lines per bank.
    let banks = (arch.buffer.banks as u64).min(cache.lines / 2).max(1);
    ctx.insert("banks", &banks);
    ctx.insert("bb", &banks.trailing_zeros());
    ctx.insert("lines_per_bank", &(cache.lines / banks));
    ctx.insert(
        "tb",
        &(cache.addr_bits - cache.offset_bits - cache.index_bits),
    );
    ctx.insert("aw", &cache.addr_bits);
    ctx.insert("ext_bytes", &cache.ext_bytes);
    ctx.insert("latency", &MEMORY_LATENCY);
    let lb = cache.line_bytes as u64;
    ctx.insert("in_first_line", &(prog.layout.in_base / lb));
    ctx.insert(
        "in_last_line",
        &((prog.layout.in_base + prog.layout.in_len - 1) / lb),
    );
    ctx.insert("out_first_line", &(prog.layout.out_base / lb));
    ctx.insert(
        "out_last_line",
        &((prog.layout.out_base + prog.layout.out_len - 1) / lb),
    );
    ctx.insert("desc_bits", &(DESC_FIELDS * 32));
    ctx.insert("par_depth", &par_depth);
    ctx.insert("pdbits", &clog2(par_depth));
    ctx.insert("pmax", &pmax);
    ctx.insert("pmbits", &clog2(pmax as u64));
    ctx.insert("lbits", &clog2(net.layers.len() as u64));
    ctx.insert("in_base", &prog.layout.in_base);
    ctx.insert("in_len", &prog.layout.in_len);
    ctx.insert("out_base", &prog.layout.out_base);
    ctx.insert("out_len", &prog.layout.out_len);
    ctx.insert("max_images", &max_images);
    ctx.insert("timeout", &cycle_bound(net, arch));
    // The testbench's switches: not pipelined, no tile engine, one channel.
    ctx.insert("multi", &false);
    ctx.insert("tiles", &false);
    ctx.insert("dual", &false);
    ctx.insert("burst", &false);
    ctx.insert("in_stride", &0);
    ctx.insert("out_stride", &0);
    let mut tera = tera::Tera::default();
    tera.add_raw_templates([("top.v", TOP_TEMPLATE), ("tb.v", TB_TEMPLATE)])
        .context("parsing templates")?;
    let tb = tera.render("tb.v", &ctx).context("rendering tb.v")?;
    let header = stamp.hex_header();
    let top = tera.render("top.v", &ctx).context("rendering top.v")?;
    let mut files: Vec<(String, Vec<u8>)> = vec![("nasa_top.v".into(), top.into_bytes())];
    files.extend(pe_files(
        &stamp,
        chunks.iter().map(|c| Kind::ALL[c.code as usize]),
    ));
    let design: Vec<String> = files
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| n.ends_with(".v"))
        .collect();
    files.push(("tb.v".into(), tb.into_bytes()));
    files.push((EXT_MEM_FILE.into(), EXT_MEM_MODEL.as_bytes().to_vec()));

    files.push(("desc.hex".into(), desc_hex(&header, &prog).into_bytes()));
    files.push(("par.hex".into(), par_hex(&header, &prog.par).into_bytes()));
    files.push((
        "wgt_ext.hex".into(),
        bytes_hex(&header, &prog.wext).into_bytes(),
    ));
    files.push(("files.f".into(), (design.join("\n") + "\n").into_bytes()));
    push_sources(&mut files, net, weights_bytes, arch_text);
    push_core(&mut files, &stamp, stimuli);

    let manifest = Manifest {
        engine: "cache",
        cache: Some(cache),
        ..Manifest::new(&stamp, net, arch, &prog.layout, max_images, &files)
    };
    write_design(dir, &files, &manifest)?;
    Ok(stamp)
}

/// Writes a design's files and manifest into `dir`, atomically.
fn write_design(dir: &Path, files: &[(String, Vec<u8>)], manifest: &Manifest) -> Result<()> {
    let out = AtomicDir::new(dir, MANIFEST)?;
    for (n, b) in files {
        std::fs::write(out.path().join(n), b).with_context(|| format!("writing {n}"))?;
    }
    std::fs::write(
        out.path().join(MANIFEST),
        serde_json::to_string_pretty(manifest)? + "\n",
    )?;
    out.commit()?;
    Ok(())
}

/// Adds the inputs a design was generated from: description, weights and
/// architecture.
fn push_sources(files: &mut Files, net: &Network, weights: Vec<u8>, arch_text: &str) {
    files.push(("network.toml".into(), net.source.clone().into_bytes()));
    files.push(("weights.safetensors".into(), weights));
    files.push(("arch.toml".into(), arch_text.as_bytes().to_vec()));
}

/// The testbench's stimuli written with every design, so that its
/// simulation (`tb.v` alone, or the core's `sim` target) runs as generated:
/// one image of seeded random inputs (seed 1) and the golden model's output
/// for it. `nasa sim` replaces both with the images it is asked for; they
/// are data of a run, not of the design, so the manifest does not hash
/// them.
fn stimuli(net: &Network, stamp: &Stamp) -> Files {
    let inputs =
        crate::model::randomize::random_inputs(net, 1, &mut crate::model::rng::SplitMix64::new(1));
    let expected = crate::model::golden::infer_batch(net, &inputs);
    let text = |what: &str, values: &[Vec<i64>]| {
        let mut t = stamp.hex_header();
        let _ = writeln!(
            t,
            "// {what}: one image of seeded random inputs (seed 1); `nasa sim` rewrites this file"
        );
        for v in values.iter().flatten() {
            let _ = writeln!(t, "{}", crate::model::dump::hex(*v, 8));
        }
        t.into_bytes()
    };
    vec![
        (STIMULI[0].into(), text("inputs", &inputs)),
        (STIMULI[1].into(), text("expected outputs", &expected)),
    ]
}

/// What a design is written with besides what its engine renders: the
/// weights' bytes and the testbench's stimuli.
struct Written {
    weights: Vec<u8>,
    stimuli: Files,
}

/// The stimuli files' names ([`stimuli`]).
pub const STIMULI: [&str; 2] = ["input.hex", "expected.hex"];

/// Adds the design's FuseSoC core file ([`core`]), made from its files so
/// far, and the testbench's stimuli.
fn push_core(files: &mut Files, stamp: &Stamp, stimuli: Files) {
    let text = core::core_file(stamp, files);
    files.push((core::CORE_FILE.into(), text));
    files.extend(stimuli);
}

/// A tile-engine design (`hw::tile`, rendered by [`tile::files`]).
fn generate_tiles(
    net: &Network,
    arch: &Arch,
    arch_text: &str,
    plan: &crate::hw::tile::Plan,
    stamp: Stamp,
    written: Written,
    dir: &Path,
) -> Result<Stamp> {
    let memory = crate::hw::layout::Memory::of(arch);
    let header = stamp.hex_header();
    let (mut files, ext) = tile::files(net, plan, &memory, &stamp, &header)?;
    push_sources(&mut files, net, written.weights, arch_text);
    push_core(&mut files, &stamp, written.stimuli);
    let last = net.layers.len();
    let layout = Layout {
        depth: ext.bases[last] + net.tensor(last).shape.len() as u64,
        in_base: ext.bases[0],
        in_len: net.input.tensor.shape.len() as u64,
        out_base: ext.bases[net.output],
        out_len: net.output_info().shape.len() as u64,
        in_stride: 0,
        out_stride: 0,
        base: ext.bases.clone(),
    };
    let input = net
        .input
        .tensor
        .shape
        .len()
        .max(net.output_info().shape.len()) as u64;
    let max_images = ((1u64 << 24) / input.max(1)).min(1024);
    let manifest = Manifest {
        engine: "tiles",
        tiles: Some(plan),
        ..Manifest::new(&stamp, net, arch, &layout, max_images, &files)
    };
    write_design(dir, &files, &manifest)?;
    Ok(stamp)
}

/// A tile pipeline (`hw::tile::pipe`, rendered by [`tile::pipe_files`]).
fn generate_pipe(
    net: &Network,
    arch: &Arch,
    arch_text: &str,
    pipe: &crate::hw::tile::pipe::Pipe,
    stamp: Stamp,
    written: Written,
    dir: &Path,
) -> Result<Stamp> {
    let memory = crate::hw::layout::Memory::of(arch);
    let header = stamp.hex_header();
    let (mut files, ext) = tile::pipe_files(net, pipe, &memory, &stamp, &header)?;
    push_sources(&mut files, net, written.weights, arch_text);
    push_core(&mut files, &stamp, written.stimuli);
    // A debugging run stores every tensor at its own place; the input and
    // output have a slot per image (slot 0 here).
    let mut base = ext.bases.clone();
    base[0] = ext.in_ext;
    base[net.output] = ext.out_ext;
    let layout = Layout {
        depth: ext.wext_base,
        in_base: ext.in_ext,
        in_len: net.input.tensor.shape.len() as u64,
        out_base: ext.out_ext,
        out_len: net.output_info().shape.len() as u64,
        in_stride: ext.in_stride,
        out_stride: ext.out_stride,
        base,
    };
    let manifest = Manifest {
        engine: "tiles",
        tiles: Some(&pipe.tile),
        pipe: Some(pipe),
        ..Manifest::new(&stamp, net, arch, &layout, tile::PIPE_IMAGES, &files)
    };
    write_design(dir, &files, &manifest)?;
    Ok(stamp)
}

/// The PE cells of `kinds`, from rust_hdl, each stamped.
fn pe_files(stamp: &Stamp, kinds: impl Iterator<Item = Kind>) -> Vec<(String, Vec<u8>)> {
    let vheader = format!(
        "// {}\n",
        stamp.provenance("PE cell from rust_hdl (src/hw/pe.rs)", false)
    );
    kinds
        .map(|kind| {
            (
                format!("{}.v", pe::module_name(kind)),
                format!("{vheader}{}", pe::verilog(kind)).into_bytes(),
            )
        })
        .collect()
}

/// Per-channel parameters, one `{bias, multiplier, shift}` word per line.
fn par_hex(header: &str, par: &[(i32, i32, u32)]) -> String {
    let mut text = header.to_string();
    for (b, m, s) in par {
        let _ = writeln!(text, "{:08x}{:08x}{:02x}", *b as u32, *m as u32, s);
    }
    if par.is_empty() {
        text.push_str("000000000000000000\n");
    }
    text
}

/// Bytes, one per line (`$readmemh` into a byte memory).
fn bytes_hex(header: &str, bytes: &[u8]) -> String {
    let mut text = header.to_string();
    for b in bytes {
        let _ = writeln!(text, "{b:02x}");
    }
    if bytes.is_empty() {
        text.push_str("00\n");
    }
    text
}
