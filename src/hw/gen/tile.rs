//! Renders a tile-engine design (`hw::tile`): the engine from
//! `templates/tile.v.tera`, its descriptors (packed from the typed
//! [`Desc`](crate::hw::tile::Desc), whose Verilog decoding is rendered from
//! the same field list), the resident weights as they sit in external
//! memory, the per-channel parameters, and the testbench.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use serde::Serialize;

use super::{Files, Stamp, EXT_MEM_FILE, EXT_MEM_MODEL, TB_TEMPLATE};
use crate::hw::layout::{clog2, tensor_bases, Memory, MEMORY_LATENCY};
use crate::hw::tile::{self, Desc, Opcode, Plan};
use crate::model::net::Network;
use crate::model::quant::Kind;

const TILE_TEMPLATE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/templates/tile.v.tera"
));

/// The hand-written arithmetic primitives every tile design instantiates
/// (`templates/arith/`), each its own module and file.
const ARITH: [(&str, &str); 4] = [
    (
        "nasa_round_clamp.v",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/templates/arith/nasa_round_clamp.v"
        )),
    ),
    (
        "nasa_requant.v",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/templates/arith/nasa_requant.v"
        )),
    ),
    (
        "nasa_scale.v",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/templates/arith/nasa_scale.v"
        )),
    ),
    (
        "nasa_addq.v",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/templates/arith/nasa_addq.v"
        )),
    ),
];

#[derive(Serialize)]
struct ChunkCtx {
    kind: &'static str,
    label: &'static str,
    code: u32,
    cols: u32,
    wdepth: u64,
    wbits: u32,
    woff: u64,
    wwords: u64,
    /// Bytes of its weight words: max(rows, columns).
    wb: u32,
}

#[derive(Serialize)]
struct OpCtx {
    name: &'static str,
    code: u32,
}

/// The external memory of a tile design: tensors (line-aligned, as
/// `layout::tensor_bases`), then the weights.
pub struct ExtLayout {
    pub bases: Vec<u64>,
    pub wext_base: u64,
    pub wext: Vec<u8>,
    /// Lines per weight word.
    pub rl: u64,
}

pub fn ext_layout(net: &Network, plan: &Plan, memory: &Memory) -> ExtLayout {
    let lb = memory.line_bytes;
    let bases = tensor_bases(net, lb);
    let last = net.layers.len();
    let end = bases[last] + net.tensor(last).shape.len() as u64;
    let wext_base = end.div_ceil(lb) * lb;
    let wb = plan.geometry.weight_bytes() as u64;
    let rl = wb.div_ceil(lb);
    let mut wext = Vec::new();
    for words in &plan.weights {
        for w in words {
            wext.extend_from_slice(w);
            wext.resize(wext.len() + (rl * lb - wb) as usize, 0);
        }
    }
    ExtLayout {
        bases,
        wext_base,
        wext,
        rl,
    }
}

/// A generous bound on one image's cycles (the testbench's watchdog): the
/// model's cycles, every tensor stored (a debugging run), four times over.
pub fn cycle_bound(net: &Network, plan: &Plan, memory: &Memory) -> u64 {
    let (head, tail) = tile::frame_cycles(net, memory);
    let layers: u64 = (0..net.layers.len())
        .map(|i| tile::layer_cycles(plan, i))
        .sum();
    let stores: u64 = net
        .layers
        .iter()
        .map(|l| tile::store_cycles(l.out.shape.len() as u64, memory))
        .sum();
    4 * (head + tail + layers + stores) + 10_000
}

/// Per-channel parameters, `drain` channels per `par_mem` word (the first
/// in the low bits), each `{bias, multiplier, shift}`.
fn par_hex(header: &str, par: &[(i32, i32, u32)], drain: usize) -> String {
    let mut text = header.to_string();
    for word in par.chunks(drain) {
        for i in (0..drain).rev() {
            let (b, m, s) = word.get(i).copied().unwrap_or((0, 0, 0));
            let _ = write!(text, "{:08x}{:08x}{s:02x}", b as u32, m as u32);
        }
        text.push('\n');
    }
    if par.is_empty() {
        text.push_str(&"0".repeat(18 * drain));
        text.push('\n');
    }
    text
}

/// Descriptor decoding, one wire per field, from `Desc::FIELDS`.
fn desc_decode() -> String {
    let mut text = String::new();
    for (i, f) in Desc::FIELDS.iter().enumerate() {
        let _ = writeln!(text, "    wire [31:0] f_{f} = d[{i}*32 +: 32];");
    }
    text
}

/// The design's files (RTL, testbench, memory images), by name.
pub fn files(
    net: &Network,
    plan: &Plan,
    memory: &Memory,
    stamp: &Stamp,
    header: &str,
) -> Result<(Files, ExtLayout)> {
    let ext = ext_layout(net, plan, memory);
    let geom = plan.geometry;
    let lb = memory.line_bytes;
    let mut woff = 0u64;
    let chunks: Vec<ChunkCtx> = Kind::ALL
        .iter()
        .filter(|&&k| geom.cols_of(k) > 0)
        .map(|&k| {
            let code = tile::kind_code(k);
            let wwords = plan.weights[code as usize].len() as u64;
            let wdepth = wwords.max(2);
            let c = ChunkCtx {
                kind: k.name(),
                label: match k {
                    Kind::Conv => "CLP",
                    Kind::Shift => "SLP",
                    Kind::Adder => "ALP",
                },
                code,
                cols: geom.cols_of(k),
                wdepth,
                wbits: clog2(wdepth),
                woff,
                wwords,
                wb: geom.rows.max(geom.cols_of(k)),
            };
            woff += wwords;
            c
        })
        .collect();
    let wtotal = woff;
    let cmax = chunks.iter().map(|c| c.cols).max().unwrap_or(1);
    let cw = geom.word;
    // The segment register holds a segment's reads, and every column's tap
    // at every stride the design has.
    let segb =
        ((plan.nseg * cw) as u64).max((((cmax - 1) * plan.smax + 1).div_ceil(cw) * cw) as u64);
    let half_words = (plan.depth + 2).div_ceil(2);
    let sab = clog2(half_words);
    let ext_bytes = ext.wext_base + ext.wext.len() as u64;
    let aw = clog2(ext_bytes.max(2)).max(clog2(lb) + 1);
    let input = net.tensor(0).shape;
    let out = net.output_info().shape;
    let pin = plan.places[0];
    let pout = plan.places[net.output];
    let drain = geom.drain_rows() as usize;
    let par_depth = plan.par.len().div_ceil(drain).max(2) as u64;

    let mut ctx = tera::Context::from_serialize(stamp).context("template context")?;
    ctx.insert("chunks", &chunks);
    ctx.insert("rows", &geom.rows);
    ctx.insert(
        "has_t",
        &plan.layers.iter().any(|l| l.mode == tile::Mode::FlatT),
    );
    ctx.insert("drain", &drain);
    ctx.insert("lgnb", &geom.rows.trailing_zeros());
    ctx.insert("cw", &cw);
    ctx.insert("lgw", &cw.trailing_zeros());
    ctx.insert("half", &(1u64 << sab));
    ctx.insert("sab", &sab);
    ctx.insert("nseg", &plan.nseg);
    ctx.insert("segb", &segb);
    ctx.insert("cmax", &cmax);
    ctx.insert("strides", &(2..=plan.smax).collect::<Vec<_>>());
    ctx.insert("lb", &lb);
    ctx.insert("dw", &(lb * 8));
    ctx.insert("aw", &aw);
    ctx.insert("layers", &net.layers.len());
    ctx.insert("lbits", &clog2(net.layers.len() as u64));
    ctx.insert("desc_bits", &(Desc::FIELDS.len() * 32));
    ctx.insert("desc_decode", &desc_decode());
    ctx.insert(
        "opcodes",
        &Opcode::ALL
            .iter()
            .map(|&o| OpCtx {
                name: o.verilog_name(),
                code: o as u32,
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert("par_depth", &par_depth);
    ctx.insert("pdbits", &clog2(par_depth));
    ctx.insert("wext_base", &ext.wext_base);
    ctx.insert("rl", &ext.rl);
    ctx.insert("wtotal", &wtotal);
    ctx.insert("in_ext", &ext.bases[0]);
    ctx.insert("in_len", &input.len());
    ctx.insert("in_sp", &pin.base);
    ctx.insert("in_pw", &pin.plane);
    ctx.insert("in_hw", &(input.h * input.w));
    ctx.insert("out_ext", &ext.bases[net.output]);
    ctx.insert("out_len", &out.len());
    ctx.insert("out_sp", &pout.base);
    ctx.insert("out_pw", &pout.plane);
    ctx.insert("out_hw", &(out.h * out.w));
    // The testbench's view.
    ctx.insert("in_base", &ext.bases[0]);
    ctx.insert("out_base", &ext.bases[net.output]);
    let max_images = ((1u64 << 24) / (input.len().max(out.len()).max(1) as u64)).min(1024);
    ctx.insert("max_images", &max_images);
    ctx.insert("timeout", &cycle_bound(net, plan, memory));
    ctx.insert("ext_bytes", &ext_bytes);
    ctx.insert("latency", &MEMORY_LATENCY);
    ctx.insert("multi", &false);
    ctx.insert("tiles", &true);

    let mut tera = tera::Tera::default();
    tera.add_raw_templates([("tile.v", TILE_TEMPLATE), ("tb.v", TB_TEMPLATE)])
        .context("parsing templates")?;
    let top = tera
        .render("tile.v", &ctx)
        .context("rendering nasa_top.v")?;
    let tb = tera.render("tb.v", &ctx).context("rendering tb.v")?;

    let mut files: Files = vec![("nasa_top.v".into(), top.into_bytes())];
    let vheader = format!(
        "// nasa {} `{}`: arithmetic primitive (templates/arith/); network {} description sha256 {} architecture sha256 {}\n",
        stamp.tool_version, stamp.name, stamp.network, stamp.description_sha256, stamp.arch_sha256
    );
    for (name, text) in ARITH {
        files.push((name.into(), format!("{vheader}{text}").into_bytes()));
    }
    files.extend(super::pe_files(
        stamp,
        chunks.iter().map(|c| Kind::ALL[c.code as usize]),
    ));
    let design: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    files.push(("tb.v".into(), tb.into_bytes()));
    files.push((EXT_MEM_FILE.into(), EXT_MEM_MODEL.as_bytes().to_vec()));
    let mut text = header.to_string();
    for l in &plan.layers {
        for f in l.desc.words().iter().rev() {
            let _ = write!(text, "{f:08x}");
        }
        text.push('\n');
    }
    files.push(("desc.hex".into(), text.into_bytes()));
    files.push((
        "par.hex".into(),
        par_hex(header, &plan.par, drain).into_bytes(),
    ));
    files.push((
        "wgt_ext.hex".into(),
        super::bytes_hex(header, &ext.wext).into_bytes(),
    ));
    files.push(("files.f".into(), (design.join("\n") + "\n").into_bytes()));
    Ok((files, ext))
}
