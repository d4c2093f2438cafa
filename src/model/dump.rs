//! Per-layer dumps of the golden model's integer tensors, so a mismatch in
//! the RTL can be traced to a layer, channel and position.
//!
//! Layout of a dump directory (documented in docs/arithmetic.md, "Dumps"):
//! `index.json` lists every tensor; `tNNN_<name>.hex` holds its values for
//! every image, image-major then CHW, one two's-complement value per line in
//! `ceil(bits / 4)` hex digits, readable by Verilog's `$readmemh`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::model::fsutil::AtomicDir;
use crate::model::golden::{self, Int};
use crate::model::net::{Network, Provenance};

pub const INDEX: &str = "index.json";

#[derive(Debug, Serialize)]
pub struct DumpTensor {
    pub id: usize,
    pub name: String,
    pub op: String,
    pub file: String,
    /// `[images, channels, height, width]`.
    pub shape: [usize; 4],
    pub bits: u32,
    pub scale: f64,
}

#[derive(Debug, Serialize)]
pub struct DumpIndex {
    pub format: &'static str,
    pub network: String,
    pub provenance: Provenance,
    pub tool_version: &'static str,
    pub images: usize,
    pub output: usize,
    pub tensors: Vec<DumpTensor>,
}

/// Two's-complement hex of `v` in `bits` bits, zero-padded to whole digits.
pub fn hex(v: i64, bits: u32) -> String {
    let digits = bits.div_ceil(4) as usize;
    let mask = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    format!("{:0digits$x}", (v as u64) & mask)
}

/// Runs the golden model on `inputs` and writes every tensor into `dir`.
pub fn write_dump(net: &Network, inputs: &[Vec<i64>], dir: &Path) -> Result<DumpIndex> {
    let runs: Vec<Vec<Vec<i64>>> = {
        use rayon::prelude::*;
        inputs
            .par_iter()
            .map(|x| golden::run::<Int>(net, x.clone()))
            .collect()
    };
    let out = AtomicDir::new(dir, INDEX)?;
    let mut tensors = Vec::new();
    for id in 0..=net.layers.len() {
        let info = net.tensor(id);
        let op = if id == 0 {
            "input".to_string()
        } else {
            net.layers[id - 1].op.type_name().to_string()
        };
        let file = format!("t{id:03}_{}.hex", info.name.replace(['/', '\\'], "_"));
        let mut text = String::new();
        for run in &runs {
            for &v in &run[id] {
                let _ = writeln!(text, "{}", hex(v, info.bits));
            }
        }
        std::fs::write(out.path().join(&file), text)?;
        let s = info.shape;
        tensors.push(DumpTensor {
            id,
            name: info.name.clone(),
            op,
            file,
            shape: [inputs.len(), s.c, s.h, s.w],
            bits: info.bits,
            scale: info.scale,
        });
    }
    let index = DumpIndex {
        format: "nasa-dump-1",
        network: net.name.clone(),
        provenance: net.provenance.clone(),
        tool_version: env!("CARGO_PKG_VERSION"),
        images: inputs.len(),
        output: net.output,
        tensors,
    };
    std::fs::write(
        out.path().join(INDEX),
        serde_json::to_string_pretty(&index)? + "\n",
    )?;
    out.commit()?;
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::hex;

    #[test]
    fn hex_is_twos_complement() {
        assert_eq!(hex(-1, 8), "ff");
        assert_eq!(hex(-128, 8), "80");
        assert_eq!(hex(127, 8), "7f");
        assert_eq!(hex(-1, 6), "3f");
        assert_eq!(hex(5, 4), "5");
    }
}
