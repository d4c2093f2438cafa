//! Helpers shared by the integration tests: build a validated network from
//! description text and explicit parameters, without files.
#![allow(dead_code)]

use std::path::Path;

use nasa::model::net::{weights, Network, Op};

/// Parameters of one conv/linear layer: weights, bias, multiplier, shift.
pub struct Params {
    pub weight: Vec<i8>,
    pub bias: Vec<i32>,
    pub mult: Vec<i32>,
    pub shift: Vec<u32>,
}

/// Identity requantisation for `n` channels (M = 1, S = 0, no bias).
pub fn plain(weight: Vec<i8>, n: usize) -> Params {
    Params {
        weight,
        bias: vec![0; n],
        mult: vec![1; n],
        shift: vec![0; n],
    }
}

/// Parses `toml`, fills the named layers' parameters, then round-trips them
/// through safetensors so the network is validated exactly as a file would be.
pub fn build(toml: &str, params: &[(&str, Params)]) -> Network {
    let mut net = Network::parse(toml, Path::new("test.toml")).expect("description is valid");
    for (name, p) in params {
        let layer = net
            .layers
            .iter_mut()
            .find(|l| l.name == *name)
            .expect("layer exists");
        let Op::Conv(op) = &mut layer.op else {
            panic!("{name} is not a conv layer")
        };
        assert_eq!(op.weights.len(), p.weight.len(), "weight count of {name}");
        op.weights = p.weight.clone();
        op.bias = p.bias.clone();
        op.multiplier = p.mult.clone();
        op.shift = p.shift.clone();
    }
    let bytes = weights::serialize(&net);
    net.attach_weights(&bytes, Path::new("test.safetensors"))
        .expect("weights are valid");
    net
}

/// A description header for an input of `c x h x w`, 8-bit, scale 0.1.
pub fn header(c: usize, h: usize, w: usize) -> String {
    format!("[network]\nname = \"t\"\n[input]\nchannels = {c}\nheight = {h}\nwidth = {w}\nscale = 0.1\n")
}

/// Runs the `nasa` binary of this build with `args`.
pub fn nasa(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_nasa"))
        .args(args)
        .output()
        .expect("binary runs")
}

/// Runs `nasa ARGS` (which include `--json`), asserts success and a silent
/// stderr, and returns stdout parsed as JSON.
pub fn ok_json(args: &[&str]) -> serde_json::Value {
    let out = nasa(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "--json mode writes nothing to stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// The Debian package `dataset-fashion-mnist` (training and test files),
/// which `scripts/test.sh` installs; without it the tests fail, not skip.
pub fn require_fashion() {
    for f in ["train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"] {
        let p = Path::new("/usr/share/datasets/fashion-mnist").join(f);
        assert!(
            p.exists(),
            "{} is missing: run scripts/test.sh, which installs dataset-fashion-mnist",
            p.display()
        );
    }
}

/// The mapper's cycle model (`nasa::hw::map::cycles`) against the testbench's
/// per-layer marks. The issue asks for 5% per layer; the model is exact for
/// the controller as it is, so any difference means one of them changed.
/// Checks the first image (an empty buffer), the last (the steady state)
/// and the total over all of them.
pub fn assert_predicted(report: &nasa::hw::sim::SimReport) {
    for (which, layers) in [
        ("first", &report.first_image_layers),
        ("last", &report.layers),
    ] {
        assert!(!layers.is_empty());
        for l in layers {
            assert_eq!(
                l.predicted, l.measured,
                "{which} image, layer {} ({}): predicted {} cycles, measured {}",
                l.layer, l.op, l.predicted, l.measured
            );
        }
    }
    assert_eq!(report.predicted_cycles, report.cycles_per_inference);
}

/// A pipelined run ended every layer of every image, and the whole run,
/// exactly when the model said.
pub fn assert_pipeline_exact(report: &nasa::hw::sim::SimReport) {
    let p = report.pipeline.as_ref().expect("a pipelined run");
    assert_eq!(p.layer_ends.len(), report.images);
    for (j, (m, q)) in p.layer_ends.iter().zip(&p.predicted_layer_ends).enumerate() {
        assert_eq!(m, q, "image {j}: measured layer ends, then predicted");
    }
    assert_eq!(report.predicted_cycles, report.cycles_per_inference);
}

/// `verilator --lint-only -Wall` of the design in `dir` passes.
pub fn lint(dir: &Path) {
    // The accelerator, and its AXI4 wrapper where the design has one.
    let mut tops = vec![("nasa_top", None)];
    if dir.join("nasa_axi.v").exists() {
        tops.push(("nasa_axi", Some("nasa_axi.v")));
    }
    for (top, extra) in tops {
        let out = std::process::Command::new("verilator")
            .current_dir(dir)
            .args(["--lint-only", "-Wall", "--top-module", top, "-f", "files.f"])
            .args(extra)
            .output()
            .expect("verilator is installed (scripts/test.sh installs it)");
        assert!(
            out.status.success(),
            "verilator -Wall ({top}):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
