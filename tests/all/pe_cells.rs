//! The rust_hdl PE cells, simulated in Rust against the golden model's
//! scalar operation (`quant::term`) over every 8-bit activation and every
//! weight or shift code, and their Verilog linted by Verilator.

use std::process::Command;

use nasa::hw::pe::{self, AdderPe, MacPe, ShiftPe};
use nasa::model::quant::{self, Kind};
use rust_hdl::prelude::*;

fn expected(kind: Kind, acc: i64, x: i64, w: i64) -> u64 {
    ((acc + quant::term(kind, x, w)) as u64) & 0xFFFF_FFFF
}

/// Accumulator inputs: zero, small, and values around the 32-bit wrap.
const ACCS: [i64; 4] = [0, 12345, -7, i32::MAX as i64];

/// The 32-bit sign extension the arrays apply to activations (and adder weights).
fn ext32(v: i64) -> u64 {
    (v as u64) & 0xFFFF_FFFF
}

macro_rules! exhaustive {
    ($name:ident, $cell:ty, $kind:expr, $xs:expr, $xport:expr, $weights:expr, $wport:expr) => {
        #[test]
        fn $name() {
            let mut uut = <$cell>::default();
            uut.connect_all();
            let mut sim = Simulation::new();
            sim.add_testbench(move |mut sim: Sim<$cell>| {
                let mut s = sim.init()?;
                let mut checked = 0u32;
                for x in $xs {
                    for w in $weights {
                        let acc = ACCS[(checked % 4) as usize];
                        s.x.next = $xport(x).into();
                        s.w.next = $wport(w).into();
                        s.acc_in.next = ((acc as u64) & 0xFFFF_FFFF).into();
                        s = sim.wait(1, s)?;
                        let got = s.acc_out.val().index() as u64;
                        let want = expected($kind, acc, x, w);
                        if got != want {
                            panic!("{:?}: x = {x}, w = {w}, acc = {acc}: cell gives {got:#x}, golden {want:#x}", $kind);
                        }
                        checked += 1;
                    }
                }
                assert!(checked >= 256 * 9);
                sim.done(s)
            });
            sim.run(Box::new(uut), 1_000_000).expect("simulation completes");
        }
    };
}

fn byte(v: i64) -> u64 {
    (v as u64) & 0xFF
}

/// The 16-bit sign extension the arrays apply to the multiply PE's activations.
fn ext16(v: i64) -> u64 {
    (v as u64) & 0xFFFF
}

// Activations -128 to 127, and +128: a shift code's +128 on the multiply
// engine is computed as (-x) * (-128) (docs/arithmetic.md, K4).
exhaustive!(
    mac_cell_matches_golden_on_all_operands,
    MacPe,
    Kind::Conv,
    -128i64..=128,
    ext16,
    -128i64..128,
    ext16
);
exhaustive!(
    adder_cell_matches_golden_on_all_operands,
    AdderPe,
    Kind::Adder,
    -128i64..128,
    ext32,
    -128i64..128,
    ext32
);
// Shift codes up to exp_bits = 4: exponents 0..=15.
exhaustive!(
    shift_cell_matches_golden_on_all_codes,
    ShiftPe,
    Kind::Shift,
    -128i64..128,
    ext32,
    -16i64..=16,
    byte
);

#[test]
fn cells_are_lint_clean_in_verilator() {
    let dir = tempfile::tempdir().unwrap();
    for kind in Kind::ALL {
        let text = pe::verilog(kind);
        assert!(text.contains(&format!("module {}(", pe::module_name(kind))));
        let file = dir.path().join(format!("{}.v", pe::module_name(kind)));
        std::fs::write(&file, &text).unwrap();
        let out = Command::new("verilator")
            .args([
                "--lint-only",
                "-Wall",
                "--top-module",
                &pe::module_name(kind),
            ])
            .arg(&file)
            .output()
            .expect("verilator is installed (scripts/test.sh installs it)");
        assert!(
            out.status.success(),
            "{kind}: verilator -Wall:\n{}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
