//! The AXI4 wrapper of tile designs (`hw::gen::axi`, docs/axi.md): the
//! wrapped design runs bit-exact behind an AXI4 memory with random wait
//! states and protocol checkers on both interfaces, in Verilator and
//! Icarus, with single-line and burst traffic; a wrapper whose handshake is
//! broken on purpose is stopped by the checker; a wrong expected output
//! fails the bench; the register header compiles as C.

use std::path::Path;

use nasa::hw::arch::Arch;
use nasa::hw::gen::{axi, generate};
use nasa::hw::sim::{simulate_axi, simulate_axi_against, AxiWaits, SimOptions, Simulator};
use nasa::model::net::{Network, Op};

fn opts(images: usize, simulator: Simulator) -> SimOptions {
    SimOptions {
        images,
        dataset: None,
        data_dir: None,
        seed: 11,
        simulator,
        serial: false,
        build_dir: None,
        trace: None,
    }
}

fn features() -> Network {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/features");
    nasa::model::models::load(Some(&dir)).unwrap()
}

/// `models/features` on small tile arrays, generated into `dir`.
fn features_design(dir: &Path) -> (Network, Arch) {
    let net = features();
    let arch = Arch::parse(
        "[accelerator]\nname = \"axi\"\n[clp]\nrows = 2\ncols = 3\n[slp]\nrows = 2\ncols = 4\n[alp]\nrows = 2\ncols = 2\n",
        Path::new("axi.toml"),
    )
    .unwrap();
    generate(&net, &arch, &arch.to_toml(), "axi", dir).unwrap();
    (net, arch)
}

#[test]
#[ignore = "slow tier (Verilator and Icarus runs); scripts/test.sh runs it"]
fn wrapped_design_is_bit_exact_behind_random_wait_states_in_both_simulators() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let (net, arch) = features_design(&dir);
    crate::common::lint(&dir);
    for (seed, max_wait) in [(1, 0), (2, 3), (3, 9)] {
        let r = simulate_axi(
            &dir,
            &opts(3, Simulator::Verilator),
            AxiWaits { seed, max_wait },
        )
        .unwrap();
        assert!(r.pass && r.mismatches == 0, "{r:?}");
        assert_eq!(r.images, 3);
        // Every line the accelerator moves is one beat of its own.
        assert!(r.transactions > 0 && r.beats == r.transactions, "{r:?}");
        assert!(r.cycles > 0, "{r:?}");
    }
    let r = simulate_axi(
        &dir,
        &opts(1, Simulator::Icarus),
        AxiWaits {
            seed: 4,
            max_wait: 5,
        },
    )
    .unwrap();
    assert!(r.pass, "{r:?}");
    // A golden model that disagrees fails the bench (non-zero exit, a
    // mismatch counted), wait states or not.
    let mut other = net.clone();
    let i = other
        .layers
        .iter()
        .position(|l| matches!(l.op, Op::Conv(_)))
        .unwrap();
    let Op::Conv(c) = &mut other.layers[i].op else {
        unreachable!()
    };
    c.bias[0] += 1 << 20;
    let r = simulate_axi_against(
        &dir,
        &other,
        &arch,
        &opts(1, Simulator::Verilator),
        AxiWaits {
            seed: 1,
            max_wait: 3,
        },
    )
    .unwrap();
    assert!(!r.pass && r.mismatches > 0, "{r:?}");
}

#[test]
#[ignore = "slow tier (Verilator runs); scripts/test.sh runs it"]
fn pipelined_design_runs_its_images_in_one_start_behind_the_wrapper() {
    // A tile pipeline reads through the accelerator's port and writes
    // through its own, concurrently; its images go in one run.
    let net = features();
    let arch = Arch::parse(
        "[accelerator]\nname = \"axi-pipe\"\n[clp]\nrows = 1\ncols = 2\n[slp]\nrows = 4\ncols = 3\n[alp]\nrows = 2\ncols = 2\n[schedule]\npipeline = true\n",
        Path::new("axi.toml"),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    generate(&net, &arch, &arch.to_toml(), "axi-pipe", &dir).unwrap();
    crate::common::lint(&dir);
    let r = simulate_axi(
        &dir,
        &opts(5, Simulator::Verilator),
        AxiWaits {
            seed: 7,
            max_wait: 4,
        },
    )
    .unwrap();
    assert!(r.pass && r.mismatches == 0, "{r:?}");
    assert_eq!(r.images, 5);
    // Its weights, five inputs and five outputs, a line per beat.
    assert!(r.transactions > 0 && r.beats == r.transactions, "{r:?}");
}

#[test]
#[ignore = "slow tier (Verilator runs); scripts/test.sh runs it"]
fn streamed_designs_move_their_bands_through_the_wrapper() {
    // A design whose bands load in bursts, and one that loads them line by
    // line; both use the scratch region (their streamed tensors).
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0u64..64 {
        let Some((net, arch, plan)) = crate::gen_sim::streamed_case(seed) else {
            continue;
        };
        let burst = nasa::hw::tile::stream::bursts(&plan, &nasa::hw::layout::Memory::of(&arch));
        if !seen.insert(burst) {
            continue;
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        generate(&net, &arch, &arch.to_toml(), "streamed", &dir).unwrap();
        crate::common::lint(&dir);
        let r = simulate_axi(
            &dir,
            &opts(2, Simulator::Verilator),
            AxiWaits {
                seed: seed as u32 + 1,
                max_wait: 4,
            },
        )
        .unwrap();
        assert!(r.pass, "seed {seed}: {r:?}");
        assert_eq!(r.bursts > 0, burst, "seed {seed}: {r:?}");
        if burst {
            // Bursts that end exactly on a 4 KB boundary: requests the
            // wrapper split there (the checker rejects a crossing one).
            assert!(r.bursts_to_4k > 0, "seed {seed}: {r:?}");
            // Without the split, the checker stops the run.
            let err = broken(
                &dir,
                &(net.clone(), arch.clone()),
                "room = {4'd0, 13'd4096 - {1'b0, lo}} >> LGL;",
                "room = 17'd256;",
            );
            assert!(err.contains("PROTOCOL m_axi CROSSES_4KB"), "{err}");
        }
        if seen.len() == 2 {
            return;
        }
    }
    panic!("found streamed designs of only one transfer mode: {seen:?}");
}

/// Runs the wrapped design with `nasa_axi.v` edited by `(from, to)` (past
/// the manifest's hash check, as a hand edit would be) and returns the
/// error.
fn broken(dir: &Path, design: &(Network, Arch), from: &str, to: &str) -> String {
    let path = dir.join(axi::AXI_FILE);
    let good = std::fs::read_to_string(&path).unwrap();
    assert_eq!(good.matches(from).count(), 1, "{from}");
    std::fs::write(&path, good.replace(from, to)).unwrap();
    // Builds keyed by their sources' contents (the design's own obj_dir
    // would be reused as it stands).
    let cached = SimOptions {
        build_dir: Some(dir.join("builds")),
        ..opts(2, Simulator::Verilator)
    };
    let err = simulate_axi_against(
        dir,
        &design.0,
        &design.1,
        &cached,
        AxiWaits {
            seed: 1,
            max_wait: 3,
        },
    )
    .expect_err("the checker stops a broken handshake");
    std::fs::write(&path, good).unwrap();
    format!("{err:#}")
}

#[test]
#[ignore = "slow tier (Verilator runs); scripts/test.sh runs it"]
fn a_broken_handshake_is_caught_by_the_protocol_checker() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let design = features_design(&dir);
    // ARVALID dropped without waiting for ARREADY.
    let err = broken(
        &dir,
        &design,
        "end else if (m_axi_arready) r_st <= R_DATA;",
        "end else r_st <= R_DATA;",
    );
    assert!(err.contains("PROTOCOL m_axi ARVALID_DROPPED"), "{err}");
    // WLAST on the wrong beat.
    let err = broken(
        &dir,
        &design,
        "assign m_axi_wlast = w_sub == 9'd1;",
        "assign m_axi_wlast = w_sub == 9'd2;",
    );
    assert!(err.contains("PROTOCOL m_axi WLAST"), "{err}");
    // The AXI4-Lite read data dropped without waiting for RREADY (which
    // the bench's host raises after a random wait).
    let err = broken(
        &dir,
        &design,
        "end else if (s_axil_rready) s_axil_rvalid <= 1'b0;",
        "end else s_axil_rvalid <= 1'b0;",
    );
    assert!(err.contains("PROTOCOL s_axil R_UNSTABLE"), "{err}");
}

#[test]
fn the_register_header_compiles_as_c() {
    let tmp = tempfile::tempdir().unwrap();
    let stamp = nasa::hw::gen::Stamp {
        name: "h".into(),
        tool_version: "0".into(),
        network: "n".into(),
        description_sha256: "d".into(),
        weights_sha256: "w".into(),
        arch_sha256: "a".into(),
    };
    let layout = axi::Layout {
        aw: 19,
        lb: 8,
        in_ext: 0,
        in_len: 784,
        out_ext: 4096,
        out_len: 10,
        wext_base: 8192,
        wext_bytes: 640,
        burst: false,
        pipe: None,
        run_max: 1,
        timeout: 1000,
        max_images: 4,
    };
    std::fs::write(
        tmp.path().join("nasa_regs.h"),
        axi::c_header(&stamp, &layout),
    )
    .unwrap();
    let mut c = String::from("#include \"nasa_regs.h\"\n");
    for r in axi::REGS {
        c += &format!(
            "_Static_assert(NASA_REG_{} == {}u, \"{}\");\n",
            r.name, r.offset, r.name
        );
    }
    c += "_Static_assert(NASA_OUTPUT_STRIDE == 16u, \"stride\");\n";
    c += "_Static_assert(NASA_ID == 0x4e415341u, \"id\");\n";
    c += "_Static_assert(NASA_STATUS_DONE == 2u, \"done\");\n";
    c += "int main(void) { return 0; }\n";
    std::fs::write(tmp.path().join("t.c"), c).unwrap();
    let out = std::process::Command::new("cc")
        .current_dir(tmp.path())
        .args(["-std=c11", "-Wall", "-Werror", "-o", "t", "t.c"])
        .output()
        .expect("a C compiler (cc)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
