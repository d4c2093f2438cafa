//! `nasa search` end to end on a tiny slice of Fashion-MNIST and a tiny
//! space: progressive pretraining, the Gumbel search, derivation, training
//! and export, the result read by `nasa check` and `nasa golden`; and an
//! interrupted search resumed ends byte for byte where an uninterrupted one does.

use std::path::Path;

use crate::common::{ok_json, require_fashion};

fn search_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "--json",
        "search",
        "--out",
        out,
        "--pgp-epochs",
        "6",
        "--search-epochs",
        "2",
        "--depth",
        "0.2",
        "--width",
        "0.25",
        "--batch",
        "32",
        "--train-limit",
        "128",
        "--test-limit",
        "40",
        "--epochs",
        "1",
        "--qat-epochs",
        "1",
    ];
    v.extend_from_slice(extra);
    v
}

fn log_without_timing(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            f[..f.len() - 2].join(",")
        })
        .collect()
}

#[test]
#[ignore = "slow tier (a search and training run); scripts/test.sh runs it"]
fn tiny_search_runs_through_export_check_and_golden_and_resumes_exactly() {
    require_fashion();
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let a_s = a.to_str().unwrap();
    let result = ok_json(&search_args(a_s, &[]));

    // Every block has a chosen candidate with a probability, and the
    // derived network's energy is what the hybrid costs, below all-conv
    // unless every block chose a multiplier path.
    let blocks = result["search"]["blocks"].as_array().unwrap();
    assert!(!blocks.is_empty());
    for b in blocks {
        let p = b["probability"].as_f64().unwrap();
        assert!(p > 0.0 && p <= 1.0, "{b}");
        let sum: f64 = b["candidates"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_f64().unwrap())
            .sum();
        assert!((sum - 1.0).abs() < 1e-6, "probabilities sum to {sum}");
    }
    let e = result["search"]["derived_energy_nj"].as_f64().unwrap();
    let all = result["search"]["all_conv_energy_nj"].as_f64().unwrap();
    assert!(e > 0.0 && e <= all + 1e-9, "{e} vs {all}");

    // The all-multiplier twin has the same layers, every kind `conv`.
    let arch = std::fs::read_to_string(a.join("arch.toml")).unwrap();
    let twin = std::fs::read_to_string(a.join("arch-conv.toml")).unwrap();
    let field = |text: &str, key: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with(key))
            .map(str::to_string)
            .collect()
    };
    // (The first `name` is the network's own, which differs.)
    assert_eq!(field(&arch, "name = ")[1..], field(&twin, "name = ")[1..]);
    for key in ["op = ", "out_channels", "kernel", "expand = ", "stride"] {
        assert_eq!(field(&arch, key), field(&twin, key), "{key}");
    }
    let kinds = field(&twin, "kind = ");
    assert_eq!(kinds.len(), field(&arch, "kind = ").len());
    assert!(kinds.iter().all(|k| k == "kind = \"conv\""), "{kinds:?}");

    // The search log has one line per PGP stage epoch and search epoch.
    let log = log_without_timing(&a.join("search-log.csv"));
    let stages: Vec<&str> = log[1..]
        .iter()
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(
        stages,
        [
            "easy_wide",
            "easy_all",
            "adder_wide",
            "adder_all",
            "mixed",
            "mixed",
            "search",
            "search"
        ]
    );

    // The derived, trained network is a valid nasa network.
    let check = ok_json(&["--json", "check", a_s]);
    assert_eq!(check["network"], "searched-fashion-mnist");
    let golden = ok_json(&[
        "--json",
        "golden",
        a_s,
        "--dataset",
        "fashion-mnist",
        "--count",
        "2",
    ]);
    assert_eq!(golden["images"].as_array().map(|v| v.len()), Some(2));
    let eval = ok_json(&[
        "--json",
        "eval",
        a_s,
        "--dataset",
        "fashion-mnist",
        "--limit",
        "40",
    ]);
    assert_eq!(eval["accuracy"], result["train"]["integer_accuracy"]);

    // Interrupted after three epochs, then resumed: the same files.
    let b = tmp.path().join("b");
    let b_s = b.to_str().unwrap();
    let stopped = ok_json(&search_args(b_s, &["--stop-after", "3"]));
    assert_eq!(stopped["stopped"], true);
    assert!(!b.join("arch.toml").exists());
    ok_json(&search_args(b_s, &["--resume"]));
    for f in ["arch.toml", "network.toml", "weights.safetensors"] {
        assert!(
            std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap(),
            "{f} differs between the uninterrupted and the resumed search"
        );
    }
    assert_eq!(
        log_without_timing(&a.join("search-log.csv")),
        log_without_timing(&b.join("search-log.csv"))
    );

    // The reference's weight sharing runs too, and differs: its supernet
    // has a weight set per kind and kernel, so its first epoch's log line
    // (loss, accuracy) is not the default's.
    let c = tmp.path().join("c");
    let c_s = c.to_str().unwrap();
    let stopped = ok_json(&search_args(
        c_s,
        &["--sharing", "reference", "--stop-after", "1"],
    ));
    assert_eq!(stopped["stopped"], true);
    let reference = log_without_timing(&c.join("search-log.csv"));
    assert_eq!(reference.len(), 2);
    assert_ne!(
        reference[1],
        log_without_timing(&a.join("search-log.csv"))[1]
    );
}

/// `--cost mapper`: the hardware term is the mapper's prediction for the
/// whole network. Every epoch's log line carries the argmax network's
/// predicted cycles and system energy; the derived network's figures are
/// exactly what `nasa map` predicts for `arch.toml` on the same budget; a
/// checkpoint made with one hardware term is not resumed with another; the
/// mapper's options without `--cost mapper` are refused.
#[test]
#[ignore = "slow tier (a search and training run); scripts/test.sh runs it"]
fn tiny_search_priced_by_the_mapper() {
    require_fashion();
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let a_s = a.to_str().unwrap();
    let mapper = [
        "--cost",
        "mapper",
        "--budget",
        "24",
        "--objective",
        "latency",
    ];
    let result = ok_json(&search_args(a_s, &mapper));
    let search = &result["search"];
    assert!(
        search["cost_model"]
            .as_str()
            .unwrap()
            .starts_with("mapper: cycles at 24 MAC-PE areas"),
        "{search}"
    );

    let text = std::fs::read_to_string(a.join("search-log.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (cycles_at, energy_at) = (col("predicted_cycles"), col("predicted_energy_nj"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 8);
    for r in &rows {
        let cycles: u64 = r[cycles_at].parse().unwrap();
        let nj: f64 = r[energy_at].parse().unwrap();
        assert!(cycles > 0 && nj > 0.0, "{r:?}");
    }

    // The last epoch's argmax is the derived network: its figures are the
    // mapper's for arch.toml.
    let mapped = ok_json(&[
        "--json",
        "map",
        a.join("arch.toml").to_str().unwrap(),
        "--budget",
        "24",
        "--objective",
        "latency",
    ]);
    let net = &mapped["mapping"]["networks"][0];
    assert_eq!(search["predicted_cycles"], net["cycles"], "{search}");
    let (p, m) = (
        search["predicted_energy_nj"].as_f64().unwrap(),
        net["energy_nj"].as_f64().unwrap(),
    );
    assert!((p - m).abs() <= 1e-9 * m, "{p} against {m}");
    let last = rows.last().unwrap();
    assert_eq!(last[cycles_at], net["cycles"].to_string());

    // A checkpoint of the mapper's term is not resumed with the unit table.
    let b = tmp.path().join("b");
    let b_s = b.to_str().unwrap();
    let mut stop = mapper.to_vec();
    stop.extend(["--stop-after", "1"]);
    assert_eq!(ok_json(&search_args(b_s, &stop))["stopped"], true);
    let out = crate::common::nasa(&search_args(b_s, &["--resume"]));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("hardware term"), "{err}");

    // The mapper's options alone are refused, before any work.
    let c = tmp.path().join("c");
    let out = crate::common::nasa(&search_args(c.to_str().unwrap(), &["--budget", "24"]));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--cost mapper"), "{err}");
    assert!(!c.exists());
}
