//! Golden RTL: the generated files of five small designs, checked in under
//! `tests/golden_rtl/<case>/` and compared byte for byte with what `gen`
//! writes now (no simulator needed). A change to the generator that
//! changes its output fails here until the goldens are regenerated on
//! purpose and the diff reviewed:
//!
//! ```text
//! NASA_BLESS=1 cargo test golden_rtl && git diff tests/golden_rtl
//! ```
//!
//! The manifest (which holds the source paths of this machine) and the
//! copied inputs (network, weights, architecture) are not compared.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use nasa::hw::arch::Arch;
use nasa::hw::gen::generate;
use nasa::model::net::Network;
use nasa::model::quant::Kind;

use crate::gen_sim::{geometry_network, random_net};

/// Files every design holds that are not generator output to compare.
const SKIPPED: [&str; 4] = [
    "manifest.json",
    "network.toml",
    "weights.safetensors",
    "arch.toml",
];

fn golden_dir(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden_rtl")
        .join(case)
}

fn arch(text: &str) -> Arch {
    Arch::parse(
        &format!("[accelerator]\nname = \"golden\"\n{text}"),
        Path::new("golden.toml"),
    )
    .unwrap()
}

fn features() -> Network {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/features");
    nasa::model::models::load(Some(&dir)).unwrap()
}

/// The six cases: (name, network, architecture).
fn cases() -> Vec<(&'static str, Network, Arch)> {
    let chunks = |rows: u32, cols: [u32; 3]| {
        format!(
            "[clp]\nrows = {rows}\ncols = {}\n[slp]\nrows = {rows}\ncols = {}\n[alp]\nrows = {rows}\ncols = {}\n",
            cols[0], cols[1], cols[2]
        )
    };
    vec![
        ("features-tiles", features(), arch(&chunks(2, [3, 4, 2]))),
        (
            "features-cache",
            features(),
            arch(
                &(chunks(1, [3, 4, 2])
                    + "[buffer]\nwords = 2048\n[schedule]\nengine = \"cache\"\n"),
            ),
        ),
        (
            "features-pipeline",
            features(),
            arch(&(chunks(2, [2, 3, 2]) + "[schedule]\npipeline = true\n")),
        ),
        (
            "features-pipeline-uneven",
            features(),
            arch(
                "[clp]\nrows = 1\ncols = 2\n[slp]\nrows = 4\ncols = 3\n[alp]\nrows = 2\ncols = 2\n[schedule]\npipeline = true\n",
            ),
        ),
        (
            "geometry-shift-tiles",
            random_net(&geometry_network(Kind::Shift), 11),
            arch("[slp]\nrows = 4\ncols = 3\n"),
        ),
        (
            "geometry-adder-tiles",
            random_net(&geometry_network(Kind::Adder), 11),
            arch("[alp]\nrows = 1\ncols = 5\n[memory]\ndata_bits = 32\n"),
        ),
    ]
}

fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !SKIPPED.contains(&n.as_str()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn golden_rtl_files_are_unchanged() {
    let bless = std::env::var_os("NASA_BLESS").is_some();
    let tmp = tempfile::tempdir().unwrap();
    for (case, net, arch) in cases() {
        let dir = tmp.path().join(case);
        generate(&net, &arch, &arch.to_toml(), case, &dir).unwrap();
        let golden = golden_dir(case);
        let made = names(&dir);
        if bless {
            let _ = std::fs::remove_dir_all(&golden);
            std::fs::create_dir_all(&golden).unwrap();
            for n in &made {
                std::fs::copy(dir.join(n), golden.join(n)).unwrap();
            }
            continue;
        }
        let kept = names(&golden);
        assert_eq!(
            made, kept,
            "{case}: the generated files differ from tests/golden_rtl/{case}; if intended, regenerate with NASA_BLESS=1 cargo test golden_rtl and review git diff"
        );
        for n in &made {
            let now = std::fs::read(dir.join(n)).unwrap();
            let was = std::fs::read(golden.join(n)).unwrap();
            if now != was {
                let line = now
                    .split(|&b| b == b'\n')
                    .zip(was.split(|&b| b == b'\n'))
                    .position(|(a, b)| a != b)
                    .map_or(0, |i| i + 1);
                panic!(
                    "{case}/{n} differs from its golden copy (first at line {line}); if intended, regenerate with NASA_BLESS=1 cargo test golden_rtl and review git diff"
                );
            }
        }
    }
}
