//! The FuseSoC package of generated designs (`hw::gen::core`): the pinned
//! `fusesoc` that scripts/deps.sh installs into `.venv` lists every
//! design's core and runs its lint target (`verilator --lint-only -Wall`)
//! clean, and a design that breaks the lint fails it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nasa::hw::arch::Arch;
use nasa::hw::gen::{core, generate};

/// The `fusesoc` to run: `$NASA_FUSESOC`, else the repository's `.venv`.
fn fusesoc() -> PathBuf {
    if let Some(p) = std::env::var_os("NASA_FUSESOC") {
        return p.into();
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/fusesoc");
    assert!(
        p.exists(),
        "fusesoc not found at {}: run `source scripts/deps.sh` (or set NASA_FUSESOC)",
        p.display()
    );
    p
}

fn run(root: &Path, args: &[&str]) -> Output {
    Command::new(fusesoc())
        .arg("--cores-root")
        .arg(root)
        .args(args)
        .output()
        .expect("running fusesoc")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
#[ignore = "slow tier (FuseSoC and Verilator runs); scripts/test.sh runs it"]
fn fusesoc_lists_the_core_and_lints_it_clean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/features");
    let net = nasa::model::models::load(Some(&dir)).unwrap();
    let chunks =
        "[clp]\nrows = 1\ncols = 2\n[slp]\nrows = 4\ncols = 3\n[alp]\nrows = 2\ncols = 2\n";
    let designs = [
        (
            "features-pipeline",
            format!("{chunks}[schedule]\npipeline = true\n"),
        ),
        (
            "features-tiles",
            "[clp]\nrows = 2\ncols = 3\n[slp]\nrows = 2\ncols = 4\n[alp]\nrows = 2\ncols = 2\n"
                .into(),
        ),
        (
            "features-cache",
            format!("{chunks}[buffer]\nwords = 2048\n[schedule]\nengine = \"cache\"\n"),
        ),
    ];
    let tmp = tempfile::tempdir().unwrap();
    for (name, arch_text) in &designs {
        let arch = Arch::parse(
            &format!("[accelerator]\nname = \"{name}\"\n{arch_text}"),
            Path::new("a.toml"),
        )
        .unwrap();
        let out = tmp.path().join(name);
        let stamp = generate(&net, &arch, &arch.to_toml(), name, &out).unwrap();
        let vlnv = core::vlnv(&stamp);
        assert_eq!(
            vlnv,
            format!(
                "nasa:accelerator:{}:{}",
                name.replace('-', "_"),
                stamp.tool_version
            )
        );
        // The core is stamped, and every file it lists is in the design.
        let core_text = std::fs::read_to_string(out.join(core::CORE_FILE)).unwrap();
        assert!(core_text.starts_with("CAPI=2:\n"), "{core_text}");
        assert!(core_text.contains(&stamp.arch_sha256), "{core_text}");
        let listed: Vec<&str> = core_text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("- "))
            .map(|f| f.split(':').next().unwrap())
            .collect();
        assert!(listed.contains(&"nasa_top.v") && listed.iter().any(|f| f.ends_with(".hex")));
        for f in &listed {
            assert!(
                out.join(f).exists(),
                "{name}: the core lists {f}, which is missing"
            );
        }
        let list = run(&out, &["core", "list"]);
        assert!(list.status.success(), "{}", text(&list));
        assert!(text(&list).contains(&vlnv), "{name}: {}", text(&list));
        let build = tmp.path().join(format!("build-{name}"));
        let lint = run(
            &out,
            &[
                "run",
                "--target",
                "lint",
                "--build-root",
                build.to_str().unwrap(),
                &vlnv,
            ],
        );
        assert!(lint.status.success(), "{name}: {}", text(&lint));
        // A tile design's AXI4 wrapper lints clean too.
        if out.join(nasa::hw::gen::axi::AXI_FILE).exists() {
            let build = tmp.path().join(format!("build-axi-{name}"));
            let lint = run(
                &out,
                &[
                    "run",
                    "--target",
                    "lint_axi",
                    "--build-root",
                    build.to_str().unwrap(),
                    &vlnv,
                ],
            );
            assert!(lint.status.success(), "{name} (axi): {}", text(&lint));
        }
    }
    assert!(
        tmp.path().join("build-axi-features-tiles").exists(),
        "the tile design has no AXI4 wrapper"
    );
    // A design the lint rejects fails the target, naming the warning.
    let broken = tmp.path().join("features-pipeline");
    let top = broken.join("nasa_top.v");
    let rtl = std::fs::read_to_string(&top).unwrap();
    let at = rtl.rfind("endmodule").unwrap();
    let bad = format!("{}    wire zz_lint = 1'b0;\n{}", &rtl[..at], &rtl[at..]);
    std::fs::write(&top, bad).unwrap();
    let build = tmp.path().join("build-broken");
    let vlnv = format!(
        "nasa:accelerator:features_pipeline:{}",
        env!("CARGO_PKG_VERSION")
    );
    let lint = run(
        &broken,
        &[
            "run",
            "--target",
            "lint",
            "--build-root",
            build.to_str().unwrap(),
            &vlnv,
        ],
    );
    assert!(!lint.status.success(), "{}", text(&lint));
    assert!(text(&lint).contains("UNUSEDSIGNAL"), "{}", text(&lint));
}

/// The core's `sim` target runs the self-checking testbench on the stimuli
/// `nasa gen` writes (one seeded random image and its golden output), in
/// Verilator and in Icarus, and fails (a non-zero exit) when one expected
/// output is wrong.
#[test]
#[ignore = "slow tier (FuseSoC, Verilator and Icarus runs); scripts/test.sh runs it"]
fn fusesoc_sim_target_passes_and_fails_on_a_wrong_output() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/features");
    let net = nasa::model::models::load(Some(&dir)).unwrap();
    let text_arch = "[accelerator]\nname = \"simmed\"\n[clp]\nrows = 2\ncols = 3\n[slp]\nrows = 2\ncols = 4\n[alp]\nrows = 2\ncols = 2\n";
    let arch = Arch::parse(text_arch, Path::new("a.toml")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("simmed");
    let stamp = generate(&net, &arch, text_arch, "simmed", &out).unwrap();
    let vlnv = core::vlnv(&stamp);
    let sim = |target: &str, tool: &str, build: &str| {
        let build = tmp.path().join(build);
        run(
            &out,
            &[
                "run",
                "--target",
                target,
                "--tool",
                tool,
                "--build-root",
                build.to_str().unwrap(),
                &vlnv,
            ],
        )
    };
    for tool in ["verilator", "icarus"] {
        let o = sim("sim", tool, &format!("build-{tool}"));
        assert!(o.status.success(), "{tool}: {}", text(&o));
        assert!(
            text(&o).contains("RESULT images=1 mismatches=0"),
            "{tool}: {}",
            text(&o)
        );
    }
    // The AXI4-wrapped design's bench on the same stimuli.
    let o = sim("sim_axi", "verilator", "build-axi");
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("RESULT images=1 mismatches=0"),
        "{}",
        text(&o)
    );
    // One expected output off by one: the run fails, naming it.
    let path = out.join("expected.hex");
    let hex = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = hex.lines().map(str::to_string).collect();
    let k = lines.iter().position(|l| !l.starts_with("//")).unwrap() + 2;
    let v = u8::from_str_radix(&lines[k], 16).unwrap();
    lines[k] = format!("{:02x}", v.wrapping_add(1));
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let o = sim("sim", "verilator", "build-wrong");
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("MISMATCH image=0 output=2"),
        "{}",
        text(&o)
    );
}
