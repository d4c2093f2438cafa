//! The AXI4 wrapper of a tile-engine design (layer by layer or pipelined): `nasa_axi.v` (rendered from
//! `templates/axi.v.tera`), its register map as a C header `nasa_regs.h`,
//! and its testbench `tb_axi.v` with the hand-written AXI4 memory model and
//! protocol checkers of `sim/`. The register map is one table, [`REGS`],
//! from which the Verilog's offsets, the C header and `docs/axi.md`'s
//! table ([`markdown_table`]) are all rendered.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use serde::Serialize;

use super::{Files, Stamp};

/// The wrapper's file.
pub const AXI_FILE: &str = "nasa_axi.v";
/// The register map's C header.
pub const HEADER_FILE: &str = "nasa_regs.h";
/// The wrapper's testbench.
pub const TB_FILE: &str = "tb_axi.v";
/// The AXI4 memory model (slave with random wait states), hand-written.
pub const MEM_FILE: &str = "nasa_axi_mem.v";
/// The AXI4 and AXI4-Lite protocol checkers, hand-written.
pub const CHECK_FILE: &str = "nasa_axi_check.v";
const MEM_MODEL: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/sim/nasa_axi_mem.v"));
const CHECKER: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/sim/nasa_axi_check.v"));
const AXI_TEMPLATE: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/axi.v.tera"));
const TB_TEMPLATE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/templates/tb_axi.v.tera"
));

/// The most images the AXI testbench holds in its memory.
pub const MAX_IMAGES: u64 = 64;

/// The value of register `ID`: "NASA" in ASCII.
pub const MAGIC: u32 = 0x4e41_5341;

/// How the host may access a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Access {
    /// Read and write.
    #[serde(rename = "RW")]
    Rw,
    /// Read only (writes are ignored).
    #[serde(rename = "RO")]
    Ro,
    /// Read, and write 1 to clear.
    #[serde(rename = "RW1C")]
    Rw1c,
}

impl Access {
    fn name(self) -> &'static str {
        match self {
            Access::Rw => "RW",
            Access::Ro => "RO",
            Access::Rw1c => "RW1C",
        }
    }
}

/// One 32-bit register of the AXI4-Lite slave.
#[derive(Debug, Clone, Copy)]
pub struct Reg {
    pub name: &'static str,
    pub offset: u32,
    pub access: Access,
    /// One line: what the register holds.
    pub summary: &'static str,
    /// Its named bits (bit, name, meaning).
    pub bits: &'static [(u32, &'static str, &'static str)],
}

/// The register map, in address order.
pub const REGS: &[Reg] = &[
    Reg {
        name: "CTRL",
        offset: 0x00,
        access: Access::Rw,
        summary: "run control (START and RELOAD read as 0)",
        bits: &[
            (0, "START", "write 1 while idle: run N_IMAGES images"),
            (
                1,
                "FLUSH_ALL",
                "every layer's output is also written to scratch memory (debugging)",
            ),
            (
                2,
                "RELOAD",
                "with START: load the weights from WEIGHT_BASE again first",
            ),
        ],
    },
    Reg {
        name: "STATUS",
        offset: 0x04,
        access: Access::Ro,
        summary: "run status",
        bits: &[
            (0, "BUSY", "a run (or the weights' load) is in progress"),
            (
                1,
                "DONE",
                "the last image's output is in memory; cleared by START",
            ),
            (2, "ERROR", "memory answered SLVERR or DECERR since START"),
            (3, "LOADED", "the weights are loaded"),
        ],
    },
    Reg {
        name: "IRQ_ENABLE",
        offset: 0x08,
        access: Access::Rw,
        summary: "interrupt enable",
        bits: &[(0, "DONE", "raise irq when a run ends")],
    },
    Reg {
        name: "IRQ_STATUS",
        offset: 0x0c,
        access: Access::Rw1c,
        summary: "interrupt status (irq = IRQ_ENABLE & IRQ_STATUS)",
        bits: &[(0, "DONE", "a run ended; write 1 to clear")],
    },
    Reg {
        name: "N_IMAGES",
        offset: 0x10,
        access: Access::Rw,
        summary: "images a START runs (reset value 1; 0 finishes at once)",
        bits: &[],
    },
    Reg {
        name: "IMAGES_DONE",
        offset: 0x14,
        access: Access::Ro,
        summary: "images of this run whose output is in memory",
        bits: &[],
    },
    Reg {
        name: "LAYER",
        offset: 0x18,
        access: Access::Ro,
        summary: "the layer the image in flight is at (a pipeline: 0xFFFF)",
        bits: &[],
    },
    Reg {
        name: "CYCLES_LO",
        offset: 0x20,
        access: Access::Ro,
        summary: "clock cycles since START while busy, low word",
        bits: &[],
    },
    Reg {
        name: "CYCLES_HI",
        offset: 0x24,
        access: Access::Ro,
        summary: "clock cycles since START while busy, high word",
        bits: &[],
    },
    Reg {
        name: "INPUT_BASE_LO",
        offset: 0x28,
        access: Access::Rw,
        summary: "byte address of image 0's input (line-aligned), low word",
        bits: &[],
    },
    Reg {
        name: "INPUT_BASE_HI",
        offset: 0x2c,
        access: Access::Rw,
        summary: "byte address of image 0's input, high word",
        bits: &[],
    },
    Reg {
        name: "OUTPUT_BASE_LO",
        offset: 0x30,
        access: Access::Rw,
        summary: "byte address of image 0's output (line-aligned), low word",
        bits: &[],
    },
    Reg {
        name: "OUTPUT_BASE_HI",
        offset: 0x34,
        access: Access::Rw,
        summary: "byte address of image 0's output, high word",
        bits: &[],
    },
    Reg {
        name: "WEIGHT_BASE_LO",
        offset: 0x38,
        access: Access::Rw,
        summary: "byte address of the weight image wgt_ext.hex (line-aligned), low word",
        bits: &[],
    },
    Reg {
        name: "WEIGHT_BASE_HI",
        offset: 0x3c,
        access: Access::Rw,
        summary: "byte address of the weight image, high word",
        bits: &[],
    },
    Reg {
        name: "SCRATCH_BASE_LO",
        offset: 0x40,
        access: Access::Rw,
        summary: "byte address of SCRATCH_BYTES of working memory (line-aligned), low word",
        bits: &[],
    },
    Reg {
        name: "SCRATCH_BASE_HI",
        offset: 0x44,
        access: Access::Rw,
        summary: "byte address of the working memory, high word",
        bits: &[],
    },
    Reg {
        name: "INPUT_STRIDE",
        offset: 0x48,
        access: Access::Ro,
        summary: "bytes from one image's input to the next",
        bits: &[],
    },
    Reg {
        name: "OUTPUT_STRIDE",
        offset: 0x4c,
        access: Access::Ro,
        summary: "bytes from one image's output to the next",
        bits: &[],
    },
    Reg {
        name: "WEIGHT_BYTES",
        offset: 0x50,
        access: Access::Ro,
        summary: "bytes of the weight image",
        bits: &[],
    },
    Reg {
        name: "SCRATCH_BYTES",
        offset: 0x54,
        access: Access::Ro,
        summary: "bytes of working memory the design may use",
        bits: &[],
    },
    Reg {
        name: "ID",
        offset: 0x58,
        access: Access::Ro,
        summary: "0x4E415341 (\"NASA\")",
        bits: &[],
    },
];

/// The sizes the wrapper and its header are rendered with: where the
/// accelerator's own address space keeps its input, output and weights.
#[derive(Debug, Clone, Serialize)]
pub struct Layout {
    /// Accelerator address bits and bytes per memory line.
    pub aw: u32,
    pub lb: u64,
    pub in_ext: u64,
    pub in_len: u64,
    pub out_ext: u64,
    pub out_len: u64,
    pub wext_base: u64,
    pub wext_bytes: u64,
    /// Whether the accelerator asks for bursts.
    pub burst: bool,
    /// A tile pipeline (`Some(layers)`): it runs up to `run_max` images per
    /// start, reports progress per layer, and writes through a port of its
    /// own.
    pub pipe: Option<usize>,
    pub run_max: u64,
    /// The testbench's bound on one image's cycles at the fixed-latency
    /// memory, and the most images it holds.
    pub timeout: u64,
    pub max_images: u64,
}

impl Layout {
    fn line(&self, n: u64) -> u64 {
        n.div_ceil(self.lb) * self.lb
    }
    pub fn in_stride(&self) -> u64 {
        self.line(self.in_len)
    }
    pub fn out_stride(&self) -> u64 {
        self.line(self.out_len)
    }
    /// Working memory: the accelerator's activation area, addressed as is.
    pub fn scratch_bytes(&self) -> u64 {
        self.wext_base
    }
}

#[derive(Serialize)]
struct RegCtx {
    const_name: String,
    offset_hex: String,
    access: &'static str,
    summary: &'static str,
}

/// The wrapper, its header, its testbench and the bench's models.
pub fn files(stamp: &Stamp, layout: &Layout) -> Result<Files> {
    let mut ctx = tera::Context::new();
    ctx.insert("header", &stamp.hex_header());
    let regs: Vec<RegCtx> = REGS
        .iter()
        .map(|r| RegCtx {
            const_name: format!("R_{}", r.name),
            offset_hex: format!("{:02x}", r.offset),
            access: r.access.name(),
            summary: r.summary,
        })
        .collect();
    ctx.insert("regs", &regs);
    ctx.insert("aw", &layout.aw);
    ctx.insert("lb", &layout.lb);
    ctx.insert("dw", &(layout.lb * 8));
    ctx.insert("lgl", &layout.lb.trailing_zeros());
    ctx.insert("in_ext", &layout.in_ext);
    ctx.insert("in_len", &layout.in_len);
    // A pipeline's slots: run_max images one after another.
    ctx.insert(
        "in_end",
        &(layout.in_ext + layout.run_max * layout.in_stride()),
    );
    ctx.insert("out_ext", &layout.out_ext);
    ctx.insert("out_len", &layout.out_len);
    ctx.insert(
        "out_end",
        &(layout.out_ext + layout.run_max * layout.out_stride()),
    );
    ctx.insert("wext_base", &layout.wext_base);
    ctx.insert("wext_bytes", &layout.wext_bytes);
    ctx.insert("in_stride", &layout.in_stride());
    ctx.insert("out_stride", &layout.out_stride());
    ctx.insert("scratch_bytes", &layout.scratch_bytes());
    ctx.insert("magic", &format!("{MAGIC:08x}"));
    ctx.insert("burst", &layout.burst);
    ctx.insert("pipe", &layout.pipe.is_some());
    ctx.insert("dual", &layout.pipe.is_some());
    ctx.insert("layers", &layout.pipe.unwrap_or(0));
    ctx.insert("run_max", &layout.run_max);
    ctx.insert("max_images", &layout.max_images);
    ctx.insert("timeout", &layout.timeout);
    for r in REGS {
        ctx.insert(
            format!("r_{}", r.name.to_ascii_lowercase()),
            &format!("8'h{:02x}", r.offset),
        );
    }
    // STATUS after a run: DONE and LOADED.
    ctx.insert("status_done", &format!("{:x}", (1 << 1) | (1 << 3)));
    let mut tera = tera::Tera::default();
    tera.add_raw_templates([("axi.v", AXI_TEMPLATE), ("tb_axi.v", TB_TEMPLATE)])
        .context("parsing the AXI templates")?;
    let axi = tera.render("axi.v", &ctx).context("rendering nasa_axi.v")?;
    let tb = tera
        .render("tb_axi.v", &ctx)
        .context("rendering tb_axi.v")?;
    Ok(vec![
        (AXI_FILE.into(), axi.into_bytes()),
        (HEADER_FILE.into(), c_header(stamp, layout).into_bytes()),
        (TB_FILE.into(), tb.into_bytes()),
        (MEM_FILE.into(), MEM_MODEL.as_bytes().to_vec()),
        (CHECK_FILE.into(), CHECKER.as_bytes().to_vec()),
    ])
}

/// The register map and the design's sizes as a C header.
pub fn c_header(stamp: &Stamp, layout: &Layout) -> String {
    let mut h = String::new();
    let _ = writeln!(
        h,
        "/* {} */",
        stamp.provenance(
            "register map of nasa_axi.v, generated with it; do not edit",
            true
        )
    );
    h.push_str("#ifndef NASA_REGS_H\n#define NASA_REGS_H\n\n");
    h.push_str("/* Byte offsets of the 32-bit registers on the AXI4-Lite slave. */\n");
    for r in REGS {
        let _ = writeln!(
            h,
            "#define NASA_REG_{:<16} 0x{:02x}u /* {}: {} */",
            r.name,
            r.offset,
            r.access.name(),
            r.summary
        );
    }
    h.push_str("\n/* Register bits. */\n");
    for r in REGS {
        for (bit, name, what) in r.bits {
            let _ = writeln!(
                h,
                "#define {:<28} (1u << {bit}) /* {what} */",
                format!("NASA_{}_{name}", r.name)
            );
        }
    }
    h.push_str("\n/* This design's sizes (also readable from the registers). */\n");
    let consts = [
        ("NASA_ID", MAGIC as u64, "value of NASA_REG_ID"),
        (
            "NASA_LINE_BYTES",
            layout.lb,
            "AXI4 data bytes per beat; bases are aligned to it",
        ),
        (
            "NASA_INPUT_BYTES",
            layout.in_len,
            "bytes of one image's input (int8, CHW)",
        ),
        (
            "NASA_INPUT_STRIDE",
            layout.in_stride(),
            "bytes from one image's input to the next",
        ),
        (
            "NASA_OUTPUT_BYTES",
            layout.out_len,
            "bytes of one image's output (int8)",
        ),
        (
            "NASA_OUTPUT_STRIDE",
            layout.out_stride(),
            "bytes from one image's output to the next",
        ),
        (
            "NASA_WEIGHT_BYTES",
            layout.wext_bytes,
            "bytes of the weight image wgt_ext.hex",
        ),
        (
            "NASA_SCRATCH_BYTES",
            layout.scratch_bytes(),
            "bytes of working memory",
        ),
    ];
    for (name, v, what) in consts {
        let v = match name {
            "NASA_ID" => format!("0x{v:08x}u"),
            _ => format!("{v}u"),
        };
        let _ = writeln!(h, "#define {name:<20} {v} /* {what} */");
    }
    h.push_str("\n#endif /* NASA_REGS_H */\n");
    h
}

/// The register map as a Markdown table (docs/axi.md carries it; a test
/// checks that the two agree).
pub fn markdown_table() -> String {
    let mut t =
        String::from("| offset | register | access | contents |\n| ---: | --- | --- | --- |\n");
    for r in REGS {
        let mut what = r.summary.to_string();
        for (bit, name, m) in r.bits {
            let _ = write!(what, "; bit {bit} {name}: {m}");
        }
        let _ = writeln!(
            t,
            "| 0x{:02x} | `{}` | {} | {} |",
            r.offset,
            r.name,
            r.access.name(),
            what
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_are_word_aligned_in_order_and_fit_the_decoder() {
        for w in REGS.windows(2) {
            assert!(
                w[0].offset < w[1].offset,
                "{} then {}",
                w[0].name,
                w[1].name
            );
        }
        for r in REGS {
            assert_eq!(r.offset % 4, 0, "{}", r.name);
            // The wrapper decodes 7 address bits.
            assert!(r.offset < 0x80, "{}", r.name);
        }
        let names: std::collections::BTreeSet<_> = REGS.iter().map(|r| r.name).collect();
        assert_eq!(names.len(), REGS.len());
    }

    #[test]
    fn the_docs_carry_the_register_table() {
        let docs = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/axi.md"));
        assert!(
            docs.contains(&markdown_table()),
            "docs/axi.md's register table differs from REGS; paste:\n{}",
            markdown_table()
        );
    }
}
