//! Renders a tile-engine design (`hw::tile`): the engine from
//! `templates/tile.v.tera`, its descriptors (packed from the typed
//! [`Desc`](crate::hw::tile::Desc), whose Verilog decoding is rendered from
//! the same field list), the resident weights as they sit in external
//! memory, the per-channel parameters, and the testbench.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use serde::Serialize;

use super::{chunk_label, Files, Stamp, EXT_MEM_FILE, EXT_MEM_MODEL, TB_TEMPLATE};
use crate::hw::layout::{clog2, tensor_bases, Memory, MEMORY_LATENCY};
use crate::hw::tile::pipe::{Pipe, Sync};
use crate::hw::tile::{self, Desc, Opcode, Plan};
use crate::model::net::Network;
use crate::model::quant::Kind;

const TILE_TEMPLATE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/templates/tile.v.tera"
));

const PIPE_TEMPLATE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/templates/tile_pipe.v.tera"
));

/// The hand-written arithmetic primitives every tile design instantiates
/// (`templates/arith/`), each its own module and file.
const ARITH: [(&str, &str); 5] = [
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
    (
        "nasa_spad.v",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/templates/arith/nasa_spad.v"
        )),
    ),
];

/// The arithmetic primitives, each stamped (they do not depend on the
/// weights, so their stamp leaves the weights' hash out).
fn arith_files(stamp: &Stamp) -> Files {
    let vheader = format!(
        "// {}\n",
        stamp.provenance("hand-written primitive (templates/arith/)", false)
    );
    ARITH
        .iter()
        .map(|(name, text)| (name.to_string(), format!("{vheader}{text}").into_bytes()))
        .collect()
}

#[derive(Serialize, Clone, Copy)]
struct ChunkCtx {
    kind: &'static str,
    label: &'static str,
    code: u32,
    rows: u32,
    cols: u32,
    wdepth: u64,
    wbits: u32,
    woff: u64,
    wwords: u64,
    /// Bytes of its weight words: max(rows, columns).
    wb: u32,
    /// The multiply chunk runs shift layers too (descriptor field `codes`).
    codes: bool,
}

#[derive(Serialize)]
struct OpCtx {
    name: &'static str,
    code: u32,
}

/// The external memory of a tile design: tensors (line-aligned, as
/// `layout::tensor_bases`; a pipelined design then has a slot per image
/// for the input and the output), then the weights.
pub struct ExtLayout {
    pub bases: Vec<u64>,
    /// Where the input is read from and the output written to (slot 0),
    /// and bytes between slots (pipelined designs; 0 otherwise).
    pub in_ext: u64,
    pub out_ext: u64,
    pub in_stride: u64,
    pub out_stride: u64,
    pub wext_base: u64,
    pub wext: Vec<u8>,
    /// Lines per weight word.
    pub rl: u64,
}

/// The external layout for `net`; `slots` images of input and output
/// (pipelined designs) or none (the tensors' own places).
pub fn ext_layout(net: &Network, plan: &Plan, memory: &Memory, slots: u64) -> ExtLayout {
    let lb = memory.line_bytes;
    let bases = tensor_bases(net, lb);
    let last = net.layers.len();
    let mut end = (bases[last] + net.tensor(last).shape.len() as u64).div_ceil(lb) * lb;
    let line = |len: usize| (len as u64).div_ceil(lb) * lb;
    let (mut in_ext, mut out_ext, mut in_stride, mut out_stride) =
        (bases[0], bases[net.output], 0, 0);
    if slots > 0 {
        in_stride = line(net.tensor(0).shape.len());
        out_stride = line(net.output_info().shape.len());
        in_ext = end;
        out_ext = in_ext + slots * in_stride;
        end = out_ext + slots * out_stride;
    }
    let wext_base = end;
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
        in_ext,
        out_ext,
        in_stride,
        out_stride,
        wext_base,
        wext,
        rl,
    }
}

/// A generous bound on one image's cycles (the testbench's watchdog): the
/// model's cycles, every tensor stored (a debugging run), four times over.
pub fn cycle_bound(net: &Network, plan: &Plan, memory: &Memory) -> u64 {
    let (head, tail) = tile::frame_cycles(net, plan, memory);
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

/// A descriptor memory image: one line per entry, its fields packed with
/// field 0 in the low bits.
fn desc_hex(header: &str, entries: impl Iterator<Item = Vec<u32>>) -> String {
    let mut text = header.to_string();
    for words in entries {
        for f in words.iter().rev() {
            let _ = write!(text, "{f:08x}");
        }
        text.push('\n');
    }
    text
}

/// Descriptor decoding, one wire per field, from field lists packed one
/// after the other (`Desc::FIELDS`, then `pipe::Sync::FIELDS`).
fn desc_decode(lists: &[&[&str]]) -> String {
    let mut text = String::new();
    for (i, f) in lists.iter().flat_map(|l| l.iter()).enumerate() {
        let _ = writeln!(text, "    wire [31:0] f_{f} = d[{i}*32 +: 32];");
    }
    text
}

/// Index of field `name` in the packed lists.
fn field_index(lists: &[&[&str]], name: &str) -> usize {
    lists
        .iter()
        .flat_map(|l| l.iter())
        .position(|f| *f == name)
        .unwrap_or_else(|| unreachable!("no descriptor field {name}"))
}

/// Rows an engine of `chunks` (one, or a layer-by-layer engine's, which
/// all have the same rows) drains per cycle: its parameter words' channels.
fn drain_of(plan: &Plan, chunks: &[ChunkCtx]) -> usize {
    chunks
        .first()
        .map_or(1, |c| plan.geometry.drain_rows(c.code) as usize)
}

/// Chunk contexts of the chunks in `geom`, with their weights' place in
/// external memory (word offsets, in kind order).
fn chunk_ctxs(plan: &Plan) -> Vec<ChunkCtx> {
    let geom = plan.geometry;
    let mut woff = 0u64;
    Kind::ALL
        .iter()
        .filter(|&&k| geom.cols_of(k) > 0)
        .map(|&k| {
            let code = tile::kind_code(k);
            let wwords = plan.weights[code as usize].len() as u64;
            let wdepth = wwords.max(2);
            let c = ChunkCtx {
                kind: k.name(),
                label: chunk_label(k),
                code,
                cols: geom.cols_of(k),
                wdepth,
                wbits: clog2(wdepth),
                woff,
                wwords,
                rows: geom.rows_at(code),
                wb: geom.chunk_weight_bytes(code),
                codes: k == Kind::Conv && plan.entries.iter().any(|e| e.desc.codes != 0),
            };
            woff += wwords;
            c
        })
        .collect()
}

/// Everything an engine's rendering needs (`templates/tile.v.tera`) for
/// its `chunks`, a scratchpad of `depth` words per bank, and `entries`
/// descriptors, in a design whose external memory ends at `ext_bytes`.
#[allow(clippy::too_many_arguments)]
fn engine_ctx(
    net: &Network,
    plan: &Plan,
    memory: &Memory,
    stamp: &Stamp,
    ext: &ExtLayout,
    chunks: &[ChunkCtx],
    depth: u64,
    has_t: bool,
    entries: usize,
    ext_bytes: u64,
    par_len: usize,
) -> Result<tera::Context> {
    let geom = plan.geometry;
    let lb = memory.line_bytes;
    let cmax = chunks.iter().map(|c| c.cols).max().unwrap_or(1);
    let cw = geom.word;
    // The segment register holds a segment's reads, and every column's tap
    // at every stride the design has.
    let segb =
        ((plan.nseg * cw) as u64).max((((cmax - 1) * plan.smax + 1).div_ceil(cw) * cw) as u64);
    let (half, sab) = sub_banks(depth);
    let aw = addr_bits(ext_bytes, lb);
    let input = net.tensor(0).shape;
    let out = net.output_info().shape;
    let pin = plan.places[0];
    let pout = plan.places[net.output];
    // The engine's array rows (every chunk of a layer-by-layer engine has
    // the same); its memories have the design's banks.
    let rows = chunks.first().map_or(geom.banks, |c| c.rows);
    let drain = drain_of(plan, chunks);
    let par_depth = par_len.div_ceil(drain).max(2) as u64;

    let mut ctx = tera::Context::from_serialize(stamp).context("template context")?;
    ctx.insert("chunks", chunks);
    ctx.insert("rows", &rows);
    ctx.insert("banks", &geom.banks);
    ctx.insert("has_t", &has_t);
    ctx.insert("drain", &drain);
    ctx.insert("lgnb", &geom.banks.trailing_zeros());
    ctx.insert("cw", &cw);
    ctx.insert("lgw", &cw.trailing_zeros());
    ctx.insert("half", &half);
    ctx.insert("sab", &sab);
    ctx.insert("nseg", &plan.nseg);
    ctx.insert("segb", &segb);
    ctx.insert("cmax", &cmax);
    ctx.insert("strides", &(2..=plan.smax).collect::<Vec<_>>());
    ctx.insert("lb", &lb);
    ctx.insert("dw", &(lb * 8));
    ctx.insert("aw", &aw);
    ctx.insert("layers", &net.layers.len());
    ctx.insert("lbits", &clog2(entries as u64));
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
    ctx.insert("wstart", &chunks.first().map_or(0, |c| c.woff));
    ctx.insert("wend", &chunks.last().map_or(0, |c| c.woff + c.wwords));
    ctx.insert("in_ext", &ext.in_ext);
    ctx.insert("in_len", &input.len());
    ctx.insert("in_sp", &pin.base);
    ctx.insert("in_pw", &pin.plane);
    ctx.insert("in_hw", &(input.h * input.w));
    ctx.insert("out_ext", &ext.out_ext);
    ctx.insert("out_len", &out.len());
    ctx.insert("out_sp", &pout.base);
    ctx.insert("out_pw", &pout.plane);
    ctx.insert("out_hw", &(out.h * out.w));
    ctx.insert("in_stride", &ext.in_stride);
    ctx.insert("out_stride", &ext.out_stride);
    ctx.insert("ext_bytes", &ext_bytes);
    Ok(ctx)
}

/// The design's files (RTL, testbench, memory images), by name.
pub fn files(
    net: &Network,
    plan: &Plan,
    memory: &Memory,
    stamp: &Stamp,
    header: &str,
) -> Result<(Files, ExtLayout)> {
    let ext = ext_layout(net, plan, memory, 0);
    let chunks = chunk_ctxs(plan);
    let input = net.tensor(0).shape;
    let out = net.output_info().shape;
    let ext_bytes = ext.wext_base + ext.wext.len() as u64;
    let has_t = plan.layers.iter().any(|l| l.mode == tile::Mode::FlatT);
    let mut ctx = engine_ctx(
        net,
        plan,
        memory,
        stamp,
        &ext,
        &chunks,
        plan.depth,
        has_t,
        plan.entries.len(),
        ext_bytes,
        plan.par.len(),
    )?;
    ctx.insert("module", "nasa_top");
    ctx.insert("pipe", &false);
    ctx.insert("entries", &plan.entries.len());
    ctx.insert("streams", &plan.streamed.iter().any(|&s| s));
    ctx.insert("burst", &tile::stream::bursts(plan, memory));
    ctx.insert("load_input", &!plan.streamed[0]);
    ctx.insert("store_output", &!plan.streamed[net.output]);
    ctx.insert("desc_file", "desc.hex");
    ctx.insert("par_file", "par.hex");
    ctx.insert("desc_bits", &(Desc::FIELDS.len() * 32));
    ctx.insert("desc_decode", &desc_decode(&[Desc::FIELDS]));
    ctx.insert("in_base", &ext.bases[0]);
    ctx.insert("out_base", &ext.bases[net.output]);
    let max_images = ((1u64 << 24) / (input.len().max(out.len()).max(1) as u64)).min(1024);
    ctx.insert("max_images", &max_images);
    ctx.insert("timeout", &cycle_bound(net, plan, memory));
    ctx.insert("ext_bytes", &ext_bytes);
    ctx.insert("latency", &MEMORY_LATENCY);
    ctx.insert("multi", &false);
    ctx.insert("tiles", &true);
    ctx.insert("dual", &false);

    let mut tera = tera::Tera::default();
    tera.add_raw_templates([("tile.v", TILE_TEMPLATE), ("tb.v", TB_TEMPLATE)])
        .context("parsing templates")?;
    let top = tera
        .render("tile.v", &ctx)
        .context("rendering nasa_top.v")?;
    let tb = tera.render("tb.v", &ctx).context("rendering tb.v")?;

    let mut files: Files = vec![("nasa_top.v".into(), top.into_bytes())];
    files.extend(arith_files(stamp));
    files.extend(super::pe_files(
        stamp,
        chunks.iter().map(|c| Kind::ALL[c.code as usize]),
    ));
    let design: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    files.push(("tb.v".into(), tb.into_bytes()));
    files.push((EXT_MEM_FILE.into(), EXT_MEM_MODEL.as_bytes().to_vec()));
    let lines = plan.entries.iter().map(|e| e.desc.words());
    files.push(("desc.hex".into(), desc_hex(header, lines).into_bytes()));
    files.push((
        "par.hex".into(),
        par_hex(header, &plan.par, drain_of(plan, &chunks)).into_bytes(),
    ));
    push_images(&mut files, &ext, header, &design);
    let axi = axi_layout(net, plan, memory, &ext, None);
    files.extend(super::axi::files(stamp, &axi)?);
    Ok((files, ext))
}

/// What the AXI4 wrapper needs of a design laid out as `ext`: a tile
/// pipeline of `pipe` layers, or a layer-by-layer engine (`None`).
fn axi_layout(
    net: &Network,
    plan: &Plan,
    memory: &Memory,
    ext: &ExtLayout,
    pipe: Option<usize>,
) -> super::axi::Layout {
    let ext_bytes = ext.wext_base + ext.wext.len() as u64;
    super::axi::Layout {
        aw: addr_bits(ext_bytes, memory.line_bytes),
        lb: memory.line_bytes,
        in_ext: ext.in_ext,
        in_len: net.tensor(0).shape.len() as u64,
        out_ext: ext.out_ext,
        out_len: net.output_info().shape.len() as u64,
        wext_base: ext.wext_base,
        wext_bytes: ext.wext.len() as u64,
        // A pipeline's engines stream nothing.
        burst: pipe.is_none() && tile::stream::bursts(plan, memory),
        pipe,
        run_max: if pipe.is_some() { PIPE_IMAGES } else { 1 },
        timeout: cycle_bound(net, plan, memory),
        max_images: super::axi::MAX_IMAGES,
    }
}

/// Bits of an external address of a design of `ext_bytes` bytes in lines
/// of `lb` (at least one above the line offset).
fn addr_bits(ext_bytes: u64, lb: u64) -> u32 {
    clog2(ext_bytes.max(2)).max(clog2(lb) + 1)
}

/// Adds what every tile design has after its RTL, testbench, descriptors
/// and parameters: the weights as external memory holds them, and the
/// list of design files.
fn push_images(files: &mut Files, ext: &ExtLayout, header: &str, design: &[String]) {
    files.push((
        "wgt_ext.hex".into(),
        super::bytes_hex(header, &ext.wext).into_bytes(),
    ));
    files.push(("files.f".into(), (design.join("\n") + "\n").into_bytes()));
}

/// Images one run of a tile pipeline can take (input and output slots).
pub const PIPE_IMAGES: u64 = 64;

#[derive(Serialize)]
struct PipeEngineCtx {
    index: usize,
    module: String,
    kind: &'static str,
    label: &'static str,
    rows: u32,
    cols: u32,
    /// Channels into it (indices into `channels`).
    inbox: Vec<usize>,
}

#[derive(Serialize)]
struct ChannelCtx {
    from: usize,
    to: usize,
    from_label: &'static str,
    to_label: &'static str,
    bytes: u64,
    base: u64,
    /// The writer's port (1 or 2) for it.
    port: usize,
    half: u64,
    sab: u32,
}

/// The words and address bits of each sub-bank (even and odd words) of a
/// scratchpad of `words` words per bank, with room for a read's second word.
fn sub_banks(words: u64) -> (u64, u32) {
    let sab = clog2((words + 2).div_ceil(2));
    (1u64 << sab, sab)
}

/// A tile pipeline's files (`tile::pipe`): an engine per chunk kind, the
/// top with the channels between them, descriptors per engine, testbench.
pub fn pipe_files(
    net: &Network,
    pipe: &Pipe,
    memory: &Memory,
    stamp: &Stamp,
    header: &str,
) -> Result<(Files, ExtLayout)> {
    let plan = &pipe.tile;
    let ext = ext_layout(net, plan, memory, PIPE_IMAGES);
    let all = chunk_ctxs(plan);
    let ext_bytes = ext.wext_base + ext.wext.len() as u64;
    let word = plan.geometry.word;
    let lists: [&[&str]; 2] = [Desc::FIELDS, Sync::FIELDS];
    // The image's copies: each base moves by its slot (every copy of a
    // tensor has the same slots, so the other copies' offsets stay).
    let slot_update: String = [
        ("in_base", "in_mask", "in_str"),
        ("in2_base", "in2_mask", "in2_str"),
        ("out_base", "out_mask", "out_str"),
        ("l_base", "l_mask", "l_str"),
    ]
    .iter()
    .map(|(b, m, st)| {
        format!(
            "                d[{}*32 +: 32] <= f_{b} + (img & f_{m}) * f_{st};\n",
            field_index(&lists, b)
        )
    })
    .collect();

    let mut tera = tera::Tera::default();
    tera.add_raw_templates([
        ("tile.v", TILE_TEMPLATE),
        ("tile_pipe.v", PIPE_TEMPLATE),
        ("tb.v", TB_TEMPLATE),
    ])
    .context("parsing templates")?;
    let mut files: Files = Vec::new();
    let mut engines = Vec::new();
    let mut descs: Files = Vec::new();
    for (e, ep) in pipe.engines.iter().enumerate() {
        let chunks: Vec<ChunkCtx> = all
            .iter()
            .filter(|c| c.kind == ep.kind.name())
            .copied()
            .collect();
        let own = &pipe.mems[ep.reads[0]];
        let has_t = ep
            .layers
            .iter()
            .any(|&i| plan.layers[i].mode == tile::Mode::FlatT);
        let mut ctx = engine_ctx(
            net,
            plan,
            memory,
            stamp,
            &ext,
            &chunks,
            own.bytes / word as u64,
            has_t,
            ep.entries.len(),
            ext_bytes,
            pipe.par[e].len(),
        )?;
        let module = format!("nasa_engine_{}", ep.kind.name());
        let desc_file = format!("desc_{}.hex", ep.kind.name());
        ctx.insert("module", &module);
        ctx.insert("pipe", &true);
        ctx.insert("streams", &false);
        ctx.insert("burst", &false);
        ctx.insert("load_input", &true);
        ctx.insert("store_output", &true);
        ctx.insert("engine", &e);
        ctx.insert(
            "engine_layers",
            &ep.layers
                .iter()
                .map(|&i| net.layers[i].name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        );
        ctx.insert("entries", &ep.entries.len());
        ctx.insert("max_stage", &pipe.rounds.max_stage);
        ctx.insert("self_bytes", &own.bytes);
        ctx.insert("desc_file", &desc_file);
        let par_file = format!("par_{}.hex", ep.kind.name());
        ctx.insert("par_file", &par_file);
        descs.push((
            par_file,
            par_hex(header, &pipe.par[e], drain_of(plan, &chunks)).into_bytes(),
        ));
        ctx.insert(
            "desc_bits",
            &((Desc::FIELDS.len() + Sync::FIELDS.len()) * 32),
        );
        ctx.insert("desc_decode", &desc_decode(&lists));
        ctx.insert("slot_update", &slot_update);
        ctx.insert(
            "waits",
            &["dep0", "dep1", "war0", "war1", "lwar0", "lwar1", "sdep"],
        );
        ctx.insert("band_waits", &["dep0", "dep1", "sdep"]);
        ctx.insert("serial_perm", &ep.serial);
        ctx.insert("xbits", &clog2(net.layers.len() as u64 + 1));
        let text = tera
            .render("tile.v", &ctx)
            .with_context(|| format!("rendering {module}.v"))?;
        files.push((format!("{module}.v"), text.into_bytes()));
        let lines = ep.entries.iter().map(|&q| {
            let mut words = pipe.entries[q].desc.words();
            words.extend(pipe.entries[q].sync.words());
            words
        });
        descs.push((desc_file, desc_hex(header, lines).into_bytes()));
        engines.push(PipeEngineCtx {
            index: e,
            module,
            kind: ep.kind.name(),
            label: chunk_label(ep.kind),
            rows: plan.geometry.rows_of(ep.kind),
            cols: plan.geometry.cols_of(ep.kind),
            inbox: Vec::new(),
        });
    }
    // The channels between engines (each engine's own memory is inside it).
    let mut channels = Vec::new();
    for (m, mem) in pipe.mems.iter().enumerate() {
        if mem.from == mem.to {
            continue;
        }
        let port = pipe.engines[mem.from]
            .writes
            .iter()
            .position(|&w| w == m)
            .unwrap_or(0);
        let (half, sab) = sub_banks(mem.bytes / word as u64);
        engines[mem.to].inbox.push(channels.len());
        channels.push(ChannelCtx {
            from: mem.from,
            to: mem.to,
            from_label: chunk_label(pipe.engines[mem.from].kind),
            to_label: chunk_label(pipe.engines[mem.to].kind),
            bytes: mem.bytes,
            base: mem.base,
            port,
            half,
            sab,
        });
    }
    let lb = memory.line_bytes;
    let aw = addr_bits(ext_bytes, lb);
    let input = net.tensor(0).shape;
    let out = net.output_info().shape;
    let mut ctx = tera::Context::from_serialize(stamp).context("template context")?;
    ctx.insert("engines", &engines);
    ctx.insert("channels", &channels);
    ctx.insert("banks", &plan.geometry.banks);
    ctx.insert("cw", &word);
    ctx.insert("lgw", &word.trailing_zeros());
    ctx.insert("layers", &net.layers.len());
    ctx.insert("ebits", &clog2(pipe.engines.len() as u64));
    ctx.insert("cbits", &clog2(channels.len() as u64 + 1));
    ctx.insert("layer_engine", &pipe.rounds.engine);
    ctx.insert("aw", &aw);
    ctx.insert("lb", &lb);
    ctx.insert("dw", &(lb * 8));
    let top = tera
        .render("tile_pipe.v", &ctx)
        .context("rendering nasa_top.v")?;
    files.insert(0, ("nasa_top.v".into(), top.into_bytes()));
    // The testbench: every image in its own slot, one run.
    ctx.insert("in_base", &ext.in_ext);
    ctx.insert("in_len", &input.len());
    ctx.insert("out_base", &ext.out_ext);
    ctx.insert("out_len", &out.len());
    ctx.insert("in_stride", &ext.in_stride);
    ctx.insert("out_stride", &ext.out_stride);
    ctx.insert("max_images", &PIPE_IMAGES);
    ctx.insert("timeout", &cycle_bound(net, plan, memory));
    ctx.insert("ext_bytes", &ext_bytes);
    ctx.insert("latency", &MEMORY_LATENCY);
    ctx.insert("wext_base", &ext.wext_base);
    ctx.insert("multi", &true);
    ctx.insert("tiles", &false);
    ctx.insert("dual", &true);
    let tb = tera.render("tb.v", &ctx).context("rendering tb.v")?;
    files.extend(arith_files(stamp));
    files.extend(super::pe_files(stamp, pipe.engines.iter().map(|e| e.kind)));
    let design: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    files.push(("tb.v".into(), tb.into_bytes()));
    files.push((EXT_MEM_FILE.into(), EXT_MEM_MODEL.as_bytes().to_vec()));
    files.extend(descs);
    push_images(&mut files, &ext, header, &design);
    // The pipeline's input and output slots are the wrapper's first
    // images' places; it runs up to PIPE_IMAGES of them per start.
    let axi = axi_layout(net, plan, memory, &ext, Some(net.layers.len()));
    files.extend(super::axi::files(stamp, &axi)?);
    Ok((files, ext))
}
