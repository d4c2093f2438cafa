//! The FuseSoC package of a generated design: a CAPI2 core file,
//! [`CORE_FILE`], beside the RTL, listing the design's Verilog and memory
//! images, its top level and the targets a user runs:
//!
//! ```sh
//! fusesoc --cores-root DIR core list
//! fusesoc --cores-root DIR run --target lint nasa:accelerator:NAME
//! fusesoc --cores-root DIR run --target sim nasa:accelerator:NAME
//! fusesoc --cores-root DIR run --target sim --tool icarus nasa:accelerator:NAME
//! ```
//!
//! `default` is the synthesizable design (the memory images copied beside
//! it, since its memories load them with `$readmemh`); `lint` runs
//! `verilator --lint-only -Wall` on it; `sim` runs the self-checking
//! testbench on the design's stimuli (`input.hex`, `expected.hex`), in
//! Verilator or Icarus, and fails on a mismatch. The file is stamped like every
//! other generated file and hashed in the manifest.

use super::{Files, Stamp};

/// The core file's name in a design directory.
pub const CORE_FILE: &str = "nasa.core";

/// The core's VLNV: vendor `nasa`, library `accelerator`, the design's
/// name (characters outside `[A-Za-z0-9_]` become `_`), nasa's version.
pub fn vlnv(stamp: &Stamp) -> String {
    let name: String = stamp
        .name
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() || c == '_' {
            true => c,
            false => '_',
        })
        .collect();
    format!("nasa:accelerator:{name}:{}", stamp.tool_version)
}

/// A YAML double-quoted string.
fn quoted(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c if c.is_control() => q.push(' '),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// The core file of a design whose files (so far) are `files`: its
/// Verilog is what `files.f` lists, its memory images every `.hex` file.
pub fn core_file(stamp: &Stamp, files: &Files) -> Vec<u8> {
    let design: Vec<&str> = files
        .iter()
        .find(|(n, _)| n == "files.f")
        .map(|(_, b)| std::str::from_utf8(b).unwrap_or(""))
        .unwrap_or("")
        .lines()
        .filter(|l| !l.is_empty())
        .collect();
    let images: Vec<&str> = files
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| n.ends_with(".hex"))
        .collect();
    let mut text = format!(
        "CAPI=2:\n# {}\n",
        stamp.provenance("generated; do not edit", true)
    );
    text += &format!("name: {}\n", vlnv(stamp));
    text += &format!(
        "description: {}\n",
        quoted(&format!(
            "nasa accelerator `{}` for network {}",
            stamp.name, stamp.network
        ))
    );
    text += "filesets:\n  rtl:\n    file_type: verilogSource\n    files:\n";
    for f in &design {
        text += &format!("      - {f}\n");
    }
    text += "  images:\n    file_type: user\n    files:\n";
    for f in &images {
        text += &format!("      - {f}: {{copyto: {f}}}\n");
    }
    text += &format!(
        "  tb:\n    file_type: verilogSource\n    files:\n      - tb.v\n      - {}\n",
        super::EXT_MEM_FILE
    );
    text += "  stimuli:\n    file_type: user\n    files:\n";
    for f in super::STIMULI {
        text += &format!("      - {f}: {{copyto: {f}}}\n");
    }
    let axi = files.iter().any(|(n, _)| n == super::axi::AXI_FILE);
    if axi {
        use super::axi::{AXI_FILE, CHECK_FILE, HEADER_FILE, MEM_FILE, TB_FILE};
        text += &format!(
            "  axi:\n    file_type: verilogSource\n    files:\n      - {AXI_FILE}\n      - {HEADER_FILE}: {{file_type: cSource, is_include_file: true}}\n"
        );
        text += &format!(
            "  axi_tb:\n    file_type: verilogSource\n    files:\n      - {TB_FILE}\n      - {MEM_FILE}\n      - {CHECK_FILE}\n"
        );
    }
    text += "targets:\n  default:\n    filesets: [rtl, images]\n    toplevel: nasa_top\n";
    text += "  lint:\n    default_tool: verilator\n    filesets: [rtl]\n    toplevel: nasa_top\n    tools:\n      verilator:\n        mode: lint-only\n        verilator_options: [-Wall]\n";
    // The self-checking testbench on the stimuli: exits non-zero on a
    // mismatch or a timeout.
    text += "  sim:\n    default_tool: verilator\n    filesets: [rtl, images, tb, stimuli]\n    toplevel: tb\n    tools:\n      verilator:\n        mode: binary\n        verilator_options: [-Wno-fatal]\n      icarus:\n        iverilog_options: [-g2012]\n";
    if axi {
        // The AXI4 wrapper (docs/axi.md): the design with it on top, its
        // lint, and its testbench (random wait states, protocol checkers).
        text += "  axi:\n    filesets: [rtl, axi, images]\n    toplevel: nasa_axi\n";
        text += "  lint_axi:\n    default_tool: verilator\n    filesets: [rtl, axi]\n    toplevel: nasa_axi\n    tools:\n      verilator:\n        mode: lint-only\n        verilator_options: [-Wall]\n";
        text += "  sim_axi:\n    default_tool: verilator\n    filesets: [rtl, axi, images, axi_tb, stimuli]\n    toplevel: tb_axi\n    tools:\n      verilator:\n        mode: binary\n        verilator_options: [-Wno-fatal]\n      icarus:\n        iverilog_options: [-g2012]\n";
    }
    text.into_bytes()
}
