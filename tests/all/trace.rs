//! Waveforms of `nasa sim --trace` (`hw::sim::Trace`): an FST from
//! Verilator and a VCD from Icarus, read back here (the FST with
//! `fst-reader`, the reader behind the Surfer viewer; the VCD as text),
//! hold the bench's signals under their RTL names and only the asked
//! window's cycles; a mismatch names the cycle its layer started and the
//! command that traces it.

use std::collections::BTreeMap;
use std::path::Path;

use nasa::hw::arch::Arch;
use nasa::hw::gen::generate;
use nasa::hw::sim::{
    layer_window, simulate, simulate_against, SimOptions, Simulator, Trace, TraceWindow,
};
use nasa::model::net::{Network, Op};

fn features() -> Network {
    nasa::model::net::Network::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/features"
    )))
    .unwrap()
}

fn opts(simulator: Simulator, trace: Option<Trace>) -> SimOptions {
    SimOptions {
        images: 1,
        dataset: None,
        data_dir: None,
        seed: 3,
        simulator,
        serial: false,
        build_dir: None,
        trace,
    }
}

/// Every value of the bench's own `cycles` wire (the design's counter) in
/// an FST, and the names of the variables of every scope.
fn read_fst(path: &Path) -> (Vec<u64>, BTreeMap<String, Vec<String>>) {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut reader = fst_reader::FstReader::open(file).expect("an FST file");
    let mut scope: Vec<String> = Vec::new();
    let mut names: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut cycles = None;
    reader
        .read_hierarchy(|e| match e {
            fst_reader::FstHierarchyEntry::Scope { name, .. } => scope.push(name),
            fst_reader::FstHierarchyEntry::UpScope => {
                scope.pop();
            }
            fst_reader::FstHierarchyEntry::Var { name, handle, .. } => {
                // "cycles [31:0]": the name, then the range.
                let name = name.split(' ').next().unwrap_or_default().to_string();
                // Verilator puts the bench under a scope of its own, `TOP`.
                let path = scope.join(".");
                let path = path.strip_prefix("TOP.").unwrap_or(&path).to_string();
                if path == "tb" && name == "cycles" {
                    cycles = Some(handle);
                }
                names.entry(path).or_default().push(name);
            }
            _ => {}
        })
        .unwrap();
    let Some(handle) = cycles else {
        panic!(
            "tb.cycles not in the trace; scopes {:?}, tb: {:?}",
            names.keys().collect::<Vec<_>>(),
            names.get("tb")
        );
    };
    let mut values = Vec::new();
    reader
        .read_signals(
            &fst_reader::FstFilter::filter_signals(vec![handle]),
            |_, _, v| {
                if let fst_reader::FstSignalValue::String(bits) = v {
                    // Bits as characters; x or z skipped.
                    if let Ok(n) = u64::from_str_radix(std::str::from_utf8(bits).unwrap(), 2) {
                        values.push(n);
                    }
                }
                Ok::<(), std::convert::Infallible>(())
            },
        )
        .unwrap();
    (values, names)
}

/// Every value of `tb.cycles` in a VCD.
fn read_vcd(path: &Path) -> Vec<u64> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut scope: Vec<&str> = Vec::new();
    let mut id = None;
    for line in text.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["$scope", _, name, "$end"] => scope.push(name),
            ["$upscope", "$end"] => {
                scope.pop();
            }
            ["$var", _, _, code, "cycles", ..] if scope == ["tb"] => id = Some(*code),
            _ => {}
        }
    }
    let id = id.expect("tb.cycles in the VCD");
    text.lines()
        .filter_map(|l| l.strip_prefix('b')?.split_once(' '))
        .filter(|(_, code)| *code == id)
        .filter_map(|(bits, _)| u64::from_str_radix(bits, 2).ok())
        .collect()
}

#[test]
#[ignore = "slow tier (Verilator and Icarus runs); scripts/test.sh runs it"]
fn one_layer_traced_in_both_simulators_and_read_back() {
    let net = features();
    let text = "[accelerator]\nname = \"traced\"\n[clp]\nrows = 1\ncols = 1\n[slp]\nrows = 1\ncols = 1\n[alp]\nrows = 1\ncols = 1\n[buffer]\nwords = 4096\n";
    let arch = Arch::parse(text, Path::new("traced.toml")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("traced");
    generate(&net, &arch, text, "traced", &dir).unwrap();
    let layer = net
        .layers
        .iter()
        .position(|l| l.name == "b1.project")
        .unwrap();
    let (from, to) = layer_window(&net, &arch, None, false, (1, 0), layer);
    assert!(from > 0 && to > from + 1000, "{from}..{to}");

    // Verilator, FST, one layer.
    let fst = tmp.path().join("waves/layer.fst");
    let trace = Trace {
        file: fst.clone(),
        window: TraceWindow::Layer("b1.project".into()),
        image: 0,
    };
    let report = simulate(&dir, &opts(Simulator::Verilator, Some(trace))).unwrap();
    assert!(report.pass, "{report:?}");
    let info = report.trace.expect("the run names its trace");
    assert_eq!((info.from, info.to, info.format), (from, Some(to), "fst"));
    let (values, names) = read_fst(&fst);
    // The window's cycles, and only those (one either side for the edges).
    assert!(
        values.len() as u64 >= to - from - 2,
        "{} values",
        values.len()
    );
    let (lo, hi) = (*values.iter().min().unwrap(), *values.iter().max().unwrap());
    assert!(
        lo + 1 >= from && lo <= from + 1,
        "first {lo}, window {from}..{to}"
    );
    assert!(
        hi <= to + 1 && hi + 2 >= to,
        "last {hi}, window {from}..{to}"
    );
    // Signals keep their RTL names: the bench's and the design's.
    for (scope, name) in [("tb", "clk"), ("tb", "done"), ("tb.dut", "st")] {
        assert!(
            names
                .get(scope)
                .is_some_and(|v| v.iter().any(|n| n == name)),
            "{scope}.{name} missing; scopes {:?}",
            names.keys().collect::<Vec<_>>()
        );
    }

    // Icarus, VCD, a window of cycles.
    let vcd = tmp.path().join("window.vcd");
    let trace = Trace {
        file: vcd.clone(),
        window: TraceWindow::Cycles(1000, 1500),
        image: 0,
    };
    let report = simulate(&dir, &opts(Simulator::Icarus, Some(trace))).unwrap();
    assert!(report.pass, "{report:?}");
    let values = read_vcd(&vcd);
    assert!(values.len() >= 498, "{} values", values.len());
    // (One cycle of slack at either end: the two simulators sample the
    // counter on either side of the edge that opens or closes the window.)
    let (lo, hi) = (*values.iter().min().unwrap(), *values.iter().max().unwrap());
    assert!(
        (999..=1001).contains(&lo) && (1499..=1501).contains(&hi),
        "{lo}..{hi}"
    );

    // A golden model that disagrees in b1.project: the report names the
    // cycle the layer starts at and the command that traces it.
    let mut other = net.clone();
    let Op::Conv(c) = &mut other.layers[layer].op else {
        panic!("b1.project is a convolution")
    };
    c.bias[0] += 1 << 20;
    let report = simulate_against(&dir, &other, &arch, &opts(Simulator::Verilator, None)).unwrap();
    let m = report.first_mismatch.expect("a located mismatch");
    assert_eq!(m.layer, "b1.project");
    assert_eq!(m.layer_start, from);
    assert!(
        m.trace_hint.contains("--trace-layer b1.project")
            && m.trace_hint.contains(&from.to_string()),
        "{}",
        m.trace_hint
    );
}
