//! The `nasa` binary on the embedded default network and `models/features`:
//! check, golden (with dumps and both input formats), eval, size, gen and
//! sim, and byte-identical regeneration of the features network's weights.

use crate::common::{nasa, ok_json, require_fashion};
use serde_json::Value;

const FASHION: &str = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";

const FEATURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/features");

#[test]
fn check_reports_every_layer_type_of_the_features_network() {
    let v = ok_json(&["check", "--json", FEATURES]);
    assert_eq!(v["ok"], true);
    assert_eq!(v["network"], "features");
    let layers = v["layers"].as_array().unwrap();
    for kind in ["conv", "shift", "adder"] {
        assert!(
            layers.iter().any(|l| l["kind"] == kind),
            "features uses {kind}"
        );
        assert!(v["ops"][kind].as_u64().unwrap() > 0);
    }
    assert!(layers.iter().any(|l| l["geometry"] == "depthwise"));
    assert!(layers.iter().any(|l| l["op"] == "add"));
    assert!(layers.iter().any(|l| l["op"] == "maxpool"));
}

#[test]
fn check_without_a_network_is_the_embedded_default() {
    let v = ok_json(&["check", "--json"]);
    assert_eq!(v["ok"], true);
    assert_eq!(v["network"], "searched-fashion-mnist");
    // The same network from its directory gives the same hashes.
    let dir = ok_json(&[
        "check",
        "--json",
        concat!(env!("CARGO_MANIFEST_DIR"), "/models/default"),
    ]);
    assert_eq!(
        dir["provenance"]["description_sha256"],
        v["provenance"]["description_sha256"]
    );
    assert_eq!(
        dir["provenance"]["weights_sha256"],
        v["provenance"]["weights_sha256"]
    );
    // Human output ends with "ok".
    let out = nasa(&["check"]);
    assert!(String::from_utf8_lossy(&out.stdout)
        .trim_end()
        .ends_with("ok"));
}

#[test]
fn features_weights_regenerate_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let desc = concat!(env!("CARGO_MANIFEST_DIR"), "/models/features/network.toml");
    let a = dir.path().join("a.safetensors");
    let b = dir.path().join("b.safetensors");
    for p in [&a, &b] {
        let out = nasa(&[
            "random-weights",
            desc,
            "--seed",
            "1",
            "-o",
            p.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let a = std::fs::read(a).unwrap();
    assert_eq!(a, std::fs::read(b).unwrap(), "same seed, same bytes");
    let shipped = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/features/weights.safetensors"
    ))
    .unwrap();
    assert_eq!(
        a, shipped,
        "models/features/weights.safetensors is `nasa random-weights ... --seed 1`"
    );
    let other = dir.path().join("c.safetensors");
    nasa(&[
        "random-weights",
        desc,
        "--seed",
        "2",
        "-o",
        other.to_str().unwrap(),
    ]);
    assert_ne!(
        a,
        std::fs::read(other).unwrap(),
        "another seed, other weights"
    );
}

#[test]
fn golden_from_safetensors_input_and_dump() {
    let dir = tempfile::tempdir().unwrap();
    // Two quantised images: all -128 and a ramp.
    let mut data: Vec<u8> = vec![0x80; 784];
    data.extend((0..784).map(|i| (i % 128) as u8));
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::I8, vec![2, 1, 28, 28], &data)
            .unwrap();
    let bytes = safetensors::serialize([("input", view)], None).unwrap();
    let input = dir.path().join("x.safetensors");
    std::fs::write(&input, bytes).unwrap();
    let dump = dir.path().join("dump");
    let v = ok_json(&[
        "golden",
        "--json",
        "--input",
        input.to_str().unwrap(),
        "--count",
        "2",
        "--dump",
        dump.to_str().unwrap(),
    ]);
    let images = v["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);

    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(dump.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["format"], "nasa-dump-1");
    assert_eq!(index["images"], 2);
    let tensors = index["tensors"].as_array().unwrap();
    // The input dump holds exactly the values given, as 8-bit two's complement.
    let first = std::fs::read_to_string(dump.join(tensors[0]["file"].as_str().unwrap())).unwrap();
    let lines: Vec<&str> = first.lines().collect();
    assert_eq!(lines.len(), 2 * 784);
    assert_eq!(lines[0], "80");
    assert_eq!(lines[784 + 127], "7f");
    // The output dump agrees with the printed output, image by image.
    let out_id = index["output"].as_u64().unwrap() as usize;
    let out_t = &tensors[out_id];
    assert_eq!(out_t["shape"], serde_json::json!([2, 10, 1, 1]));
    let text = std::fs::read_to_string(dump.join(out_t["file"].as_str().unwrap())).unwrap();
    let dumped: Vec<i64> = text
        .lines()
        .map(|h| {
            let u = i64::from_str_radix(h, 16).unwrap();
            if u >= 128 {
                u - 256
            } else {
                u
            }
        })
        .collect();
    let printed: Vec<i64> = images
        .iter()
        .flat_map(|im| {
            im["output"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_i64().unwrap())
        })
        .collect();
    assert_eq!(dumped, printed);
    // A second dump into the same directory replaces it (it is ours).
    ok_json(&[
        "golden",
        "--json",
        "--input",
        input.to_str().unwrap(),
        "--dump",
        dump.to_str().unwrap(),
    ]);
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(dump.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["images"], 1);
}

#[test]
fn dump_refuses_to_replace_a_foreign_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious.txt"), "keep me").unwrap();
    require_fashion();
    let out = nasa(&[
        "golden",
        "--input",
        FASHION,
        "--dump",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to replace"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("precious.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn golden_on_real_images_matches_between_idx_file_and_dataset() {
    require_fashion();
    let a = ok_json(&[
        "golden", "--json", "--input", FASHION, "--index", "5", "--count", "3",
    ]);
    let b = ok_json(&[
        "golden",
        "--json",
        "--dataset",
        "fashion-mnist",
        "--index",
        "5",
        "--count",
        "3",
    ]);
    for i in 0..3 {
        assert_eq!(a["images"][i]["output"], b["images"][i]["output"]);
        assert_eq!(a["images"][i]["index"], 5 + i as u64);
        assert!(b["images"][i]["label"].as_u64().unwrap() < 10);
    }
}

#[test]
fn eval_prints_accuracy_and_images() {
    require_fashion();
    let v = ok_json(&[
        "eval",
        "--dataset",
        "fashion-mnist",
        "--limit",
        "200",
        "--json",
    ]);
    assert_eq!(v["images"], 200);
    let acc = v["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    assert_eq!(v["correct"].as_u64().unwrap() as f64 / 200.0, acc);
}

#[test]
fn size_writes_a_valid_balanced_architecture() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("arch.toml");
    let v = ok_json(&[
        "size",
        "--pes",
        "168",
        "-o",
        file.to_str().unwrap(),
        "--json",
    ]);
    let arch = nasa::hw::arch::Arch::load(&file).expect("the written file validates");
    assert!(arch.pe_area() <= 168.0);
    let mut all = Vec::new();
    for kind in nasa::model::quant::Kind::ALL {
        let cycles = v["ideal_cycles"][kind.name()].as_u64().unwrap();
        let ops = v["ops"][kind.name()].as_u64().unwrap();
        assert_eq!(cycles, ops.div_ceil(arch.pes(kind) as u64), "{kind}");
        all.push(cycles);
    }
    // Proportional sizing: the chunks' ideal cycles within 25% of each
    // other (the common rows of the tile engine's shape quantise the split).
    assert!(
        all.iter().max().unwrap() * 4 <= all.iter().min().unwrap() * 5,
        "{all:?}"
    );
    // Every chunk has the same power-of-two rows: a tile-engine design.
    let rows: Vec<u32> = nasa::model::quant::Kind::ALL
        .iter()
        .filter_map(|&k| arch.chunk(k).map(|c| c.rows))
        .collect();
    assert!(
        rows.iter().all(|&r| r == rows[0] && r.is_power_of_two()),
        "{rows:?}"
    );
    // The file is stamped with the network's hash.
    let text = std::fs::read_to_string(&file).unwrap();
    let check = ok_json(&["check", "--json"]);
    assert!(text.contains(check["provenance"]["description_sha256"].as_str().unwrap()));
    // A budget below one PE per used kind is refused, and nothing is written.
    let none = dir.path().join("none.toml");
    let out = nasa(&["size", "--pes", "2", "-o", none.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot give each of the 3 kinds"));
    assert!(!none.exists());
}

#[test]
#[ignore = "slow tier (a Verilator run); scripts/test.sh runs it"]
fn gen_and_sim_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("arch.toml");
    let rtl = dir.path().join("rtl");
    ok_json(&[
        "size",
        FEATURES,
        "--pes",
        "12",
        "-o",
        arch.to_str().unwrap(),
        "--json",
    ]);
    let g = ok_json(&[
        "gen",
        FEATURES,
        "--arch",
        arch.to_str().unwrap(),
        "-o",
        rtl.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(g["stamp"]["network"], "features");
    // A relative design directory (Verilator builds inside it).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nasa"))
        .current_dir(dir.path())
        .args(["sim", "rtl", "--images", "2", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "pass",
        "images",
        "mismatches",
        "cycles_per_inference",
        "ideal_cycles",
        "pe_utilization",
    ] {
        assert!(v.get(key).is_some(), "sim --json lacks {key}: {v}");
    }
    assert_eq!(v["pass"], true);
    assert_eq!(v["images"], 2);
    assert_eq!(v["mismatches"], 0);
    assert!(v["cycles_per_inference"].as_f64().unwrap() >= v["ideal_cycles"].as_f64().unwrap());
    // `nasa sim` left its report for `nasa report`, which draws the
    // measured cycles of every layer beside the predicted ones.
    let r = ok_json(&["report", rtl.to_str().unwrap(), "--json"]);
    let html = std::fs::read_to_string(r["html"].as_str().unwrap()).unwrap();
    assert!(html.contains("PASS") && html.contains("measured in simulation"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(r["json"].as_str().unwrap()).unwrap())
            .unwrap();
    assert_eq!(report["sim"]["images"], 2);
    assert_eq!(
        report["sim"]["layers"].as_array().unwrap().len(),
        report["model"]["layers"].as_array().unwrap().len()
    );

    // An accelerator without the adder chunk the network needs is refused
    // with the file and section named, and nothing is written.
    let text = std::fs::read_to_string(&arch).unwrap();
    let cut = text.find("[alp]").unwrap();
    let end = text[cut..].find("\n\n").map_or(text.len(), |e| cut + e + 2);
    let no_alp = dir.path().join("no_alp.toml");
    std::fs::write(&no_alp, format!("{}{}", &text[..cut], &text[end..])).unwrap();
    let out_dir = dir.path().join("never");
    let out = nasa(&[
        "gen",
        FEATURES,
        "--arch",
        no_alp.to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("no_alp.toml") && err.contains("field `alp`") && err.contains("adder layers"),
        "{err}"
    );
    assert!(!out_dir.exists());
}

/// `[schedule] shift_on_multiply` naming a layer that is not there, or a
/// cache-controller design: `nasa gen` exits 3 naming the file, the field
/// and the layer, and writes nothing.
#[test]
fn shift_layers_that_cannot_move_are_refused_by_gen() {
    let dir = tempfile::tempdir().unwrap();
    let chunks = "[accelerator]\nname = \"m\"\n[clp]\nrows = 2\ncols = 2\n[slp]\nrows = 2\ncols = 3\n[alp]\nrows = 2\ncols = 2\n";
    for (file, schedule, says) in [
        (
            "unknown.toml",
            "engine = \"tiles\"\nshift_on_multiply = [\"b9.dw\"]\n",
            "no layer `b9.dw`",
        ),
        (
            "cache.toml",
            "engine = \"cache\"\nshift_on_multiply = [\"b1.dw\"]\n",
            "only in tile-engine designs",
        ),
    ] {
        let arch = dir.path().join(file);
        std::fs::write(&arch, format!("{chunks}[schedule]\n{schedule}")).unwrap();
        let out_dir = dir.path().join("never");
        let out = nasa(&[
            "gen",
            FEATURES,
            "--arch",
            arch.to_str().unwrap(),
            "-o",
            out_dir.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{err}");
        assert!(
            err.contains(file)
                && err.contains("field `schedule.shift_on_multiply`")
                && err.contains(says),
            "{err}"
        );
        assert!(!out_dir.exists());
    }
}
