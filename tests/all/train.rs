//! `nasa train` end to end on a small slice of Fashion-MNIST: training,
//! export, and the exported files read by `nasa check`, `nasa golden` and
//! `nasa eval` (which must report the trainer's integer accuracy); and a run
//! interrupted after an epoch and resumed must end byte for byte where an
//! uninterrupted run does.

use std::path::Path;

use crate::common::{nasa, ok_json, require_fashion};

/// A small, fast run on the description of `models/features` (every layer
/// type in one small network).
fn train_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "--json",
        "train",
        concat!(env!("CARGO_MANIFEST_DIR"), "/models/features/network.toml"),
        "--out",
        out,
        "--epochs",
        "2",
        "--qat-epochs",
        "1",
        "--batch",
        "64",
        "--train-limit",
        "1280",
        "--test-limit",
        "300",
    ];
    v.extend_from_slice(extra);
    v
}

#[test]
#[ignore = "slow tier (training runs); scripts/test.sh runs it"]
fn trained_network_is_read_by_check_golden_and_eval() {
    require_fashion();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let out_s = out.to_str().unwrap();
    let summary = ok_json(&train_args(out_s, &[]));
    let acc = summary["integer_accuracy"].as_f64().unwrap();
    assert_eq!(summary["test_images"], 300);
    // Chance is 10%: 40 steps on 1,280 images already learn something.
    assert!(acc > 0.2, "integer accuracy {acc}");

    let check = ok_json(&["--json", "check", out_s]);
    assert_eq!(check["network"], "features");
    let golden = ok_json(&[
        "--json",
        "golden",
        out_s,
        "--dataset",
        "fashion-mnist",
        "--count",
        "3",
    ]);
    assert_eq!(
        golden["images"].as_array().map(|a| a.len()),
        Some(3),
        "{golden}"
    );

    let eval = ok_json(&[
        "--json",
        "eval",
        out_s,
        "--dataset",
        "fashion-mnist",
        "--limit",
        "300",
    ]);
    assert_eq!(eval["images"], 300);
    assert_eq!(
        eval["accuracy"].as_f64(),
        Some(acc),
        "trainer and nasa eval disagree"
    );

    // The epoch log has one line per epoch and the header.
    let log = std::fs::read_to_string(out.join("log.csv")).unwrap();
    assert_eq!(log.lines().count(), 4, "{log}");
    assert!(log.lines().nth(3).unwrap().contains(",quantised,"));
}

/// The columns of log.csv that do not depend on the machine's speed.
fn log_without_timing(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("log.csv"))
        .unwrap()
        .lines()
        .map(|l| l.split(',').take(6).collect::<Vec<_>>().join(","))
        .collect()
}

#[test]
#[ignore = "slow tier (training runs); scripts/test.sh runs it"]
fn resumed_run_ends_where_an_uninterrupted_one_does() {
    require_fashion();
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let (a_s, b_s) = (a.to_str().unwrap(), b.to_str().unwrap());
    ok_json(&train_args(a_s, &[]));

    let stopped = ok_json(&train_args(b_s, &["--stop-after", "1"]));
    assert_eq!(stopped["stopped"], true);
    assert!(!b.join("weights.safetensors").exists());
    assert_eq!(
        log_without_timing(&b).len(),
        2,
        "one epoch logged before the stop"
    );
    let resumed = ok_json(&train_args(b_s, &["--resume"]));
    assert_eq!(resumed["resumed_from_epoch"], 1);

    for f in ["network.toml", "weights.safetensors"] {
        assert!(
            std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap(),
            "{f} differs between the uninterrupted and the resumed run"
        );
    }
    assert_eq!(log_without_timing(&a), log_without_timing(&b));

    // Resuming with other options is refused with a reason.
    let out = nasa(&train_args(b_s, &["--resume", "--seed", "2"]));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("checkpoint.json") && err.contains("other training options"),
        "{err}"
    );
}

/// The trained networks kept under `models/` (the embedded default among
/// them): each names the SHA-256 of the `arch.toml` it was trained from
/// (so the two cannot silently disagree),
/// passes `nasa check`, and still classifies real images (a guard on the
/// files and on the golden model; the full-test-set figures are in
/// docs/results.md).
#[test]
#[ignore = "slow tier (training runs); scripts/test.sh runs it"]
fn checked_in_trained_models_match_their_arch_and_still_classify() {
    require_fashion();
    for name in ["default", "default-conv", "hybrid-fmnist", "conv-fmnist"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("models")
            .join(name);
        let desc = std::fs::read_to_string(dir.join("network.toml")).unwrap();
        let arch = std::fs::read(dir.join("arch.toml")).unwrap();
        let sha = nasa::model::net::sha256_hex(&arch);
        assert!(
            desc.lines().next().unwrap().contains(&sha),
            "{name}/network.toml was not trained from this arch.toml ({sha})"
        );
        let d = dir.to_str().unwrap();
        ok_json(&["--json", "check", d]);
        let eval = ok_json(&[
            "--json",
            "eval",
            d,
            "--dataset",
            "fashion-mnist",
            "--limit",
            "500",
        ]);
        let acc = eval["accuracy"].as_f64().unwrap();
        assert!(acc > 0.85, "{name}: {acc} on the first 500 test images");
    }
    // The default's baseline is the search's own all-multiplier twin.
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    assert_eq!(
        std::fs::read(models.join("default/arch-conv.toml")).unwrap(),
        std::fs::read(models.join("default-conv/arch.toml")).unwrap(),
        "models/default-conv/arch.toml is models/default/arch-conv.toml"
    );
}

/// Distillation from a trained teacher (the reference distils from the
/// all-multiplier version of the architecture): the run changes, the
/// options record the teacher, and bad combinations are refused. And
/// precise BatchNorm statistics before the quantised phase.
#[test]
#[ignore = "slow tier (training runs); scripts/test.sh runs it"]
fn distillation_and_precise_batchnorm() {
    require_fashion();
    let tmp = tempfile::tempdir().unwrap();
    let plain = tmp.path().join("plain");
    let kd = tmp.path().join("kd");
    let teacher = concat!(env!("CARGO_MANIFEST_DIR"), "/models/default-conv");
    ok_json(&train_args(plain.to_str().unwrap(), &[]));
    let summary = ok_json(&train_args(
        kd.to_str().unwrap(),
        &["--teacher", teacher, "--distill", "0.7"],
    ));
    assert!(summary["integer_accuracy"].as_f64().unwrap() > 0.2);
    let header = std::fs::read_to_string(kd.join("network.toml")).unwrap();
    let weights = std::fs::read(Path::new(teacher).join("weights.safetensors")).unwrap();
    let sha = nasa::model::net::sha256_hex(&weights);
    assert!(
        header.contains("\"distill\":0.7") && header.contains(&sha),
        "{}",
        header.lines().take(3).collect::<Vec<_>>().join("\n")
    );
    // The same seed and data, so only the teacher makes the losses differ.
    assert_ne!(log_without_timing(&plain), log_without_timing(&kd));

    // Precise BatchNorm statistics act at the start of the quantised
    // phase only: the float epochs are the plain run's, the last differs.
    let bn = tmp.path().join("bn");
    ok_json(&train_args(bn.to_str().unwrap(), &["--precise-bn", "512"]));
    let (a, b) = (log_without_timing(&plain), log_without_timing(&bn));
    assert_eq!(a[..3], b[..3]);
    assert_ne!(a[3], b[3]);
    let header = std::fs::read_to_string(bn.join("network.toml")).unwrap();
    assert!(header.contains("\"precise_bn\":512"));

    for (args, words) in [
        (vec!["--distill", "0.5"], "--distill needs --teacher"),
        (vec!["--teacher", teacher, "--distill", "1.5"], "(0, 1]"),
        (
            vec!["--teacher", teacher, "--temperature", "0"],
            "--temperature",
        ),
    ] {
        let out = tmp.path().join("bad");
        let out = nasa(&train_args(out.to_str().unwrap(), &args));
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(words), "{args:?}: {err}");
    }
}
