//! The layer pipeline (`[schedule] pipeline = true`, on tile engines): its
//! rounds and memory plan, pipelined designs bit-exact in Verilator and
//! Icarus with every layer end of every image as predicted (pipelined and
//! serial), the default network's throughput against the same hardware
//! run layer by layer, a failing bench traced to its layer, what cannot be
//! pipelined refused with its field, and the command line.

use std::path::Path;
use std::process::Command;

use nasa::hw::arch::Arch;
use nasa::hw::gen::generate;
use nasa::hw::map::{self, Budget, MapOptions, Objective};
use nasa::hw::rounds::Rounds;
use nasa::hw::sim::{simulate, simulate_against, SimOptions, SimReport, Simulator};
use nasa::model::data::DatasetKind;
use nasa::model::net::{Network, Op};
use nasa::model::quant::Kind;

use crate::common::{assert_pipeline_exact, lint, nasa, ok_json};

fn features() -> Network {
    Network::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/features"
    )))
    .unwrap()
}

fn opts(images: usize, simulator: Simulator, serial: bool) -> SimOptions {
    SimOptions {
        images,
        dataset: Some(DatasetKind::FashionMnist),
        data_dir: None,
        seed: 1,
        simulator,
        serial,
        build_dir: None,
        trace: None,
    }
}

/// Every dependency between engines points to an earlier round.
fn check_rounds(net: &Network, rounds: &Rounds) {
    for (i, layer) in net.layers.iter().enumerate() {
        if let Op::Conv(c) = &layer.op {
            assert_eq!(rounds.engines[rounds.engine[i]], c.kind, "{}", layer.name);
        }
        for &id in &layer.inputs {
            if id > 0 {
                let p = id - 1;
                let step = u32::from(rounds.engine[p] != rounds.engine[i]);
                assert!(rounds.stage[i] >= rounds.stage[p] + step, "{}", layer.name);
            }
        }
    }
}

#[test]
fn rounds_of_the_default_network() {
    let net = nasa::model::models::default_network().unwrap();
    let rounds = Rounds::of(&net, &[]).unwrap();
    check_rounds(&net, &rounds);
    assert_eq!(rounds.engines, vec![Kind::Conv, Kind::Shift, Kind::Adder]);
    let stage = |name: &str| {
        let i = net.layers.iter().position(|l| l.name == name).unwrap();
        (rounds.engine[i], rounds.stage[i])
    };
    // conv -> shift -> adder -> shift -> conv: four hand-overs.
    assert_eq!(stage("stem"), (0, 0));
    assert_eq!(stage("b0.expand"), (1, 1));
    assert_eq!(stage("b2.dw"), (2, 2));
    // The residual add follows its first input, the block's input.
    assert_eq!(stage("b2.add"), (1, 3));
    assert_eq!(stage("b5.project"), (1, 3));
    assert_eq!(stage("gap"), (1, 3));
    assert_eq!(stage("fc"), (0, 4));
    assert_eq!(rounds.max_stage, 4);
    check_rounds(&features(), &Rounds::of(&features(), &[]).unwrap());
}

fn pipelined(text: &str) -> Arch {
    let arch = Arch::parse(
        &format!("{text}[schedule]\npipeline = true\n"),
        Path::new("p.toml"),
    )
    .unwrap();
    assert!(arch.schedule.pipeline);
    arch
}

/// Flips one expected value (output `output` of image `image`) of the
/// last run's `images` images and reruns the built bench, which must
/// report that value and only it.
fn assert_bench_fails_on_one_value(
    dir: &Path,
    net: &Network,
    images: usize,
    image: usize,
    output: usize,
) {
    let path = dir.join("expected.hex");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let k = image * net.output_info().shape.len() + output;
    let v = u8::from_str_radix(&lines[k], 16).unwrap();
    lines[k] = format!("{:02x}", v ^ 0x01);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let out = Command::new(dir.join("obj_dir/Vtb"))
        .current_dir(dir)
        .arg(format!("+images={images}"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("MISMATCH image={image} output={output}")),
        "{stdout}"
    );
    assert!(stdout.contains("mismatches=1 "), "{stdout}");
}

/// A golden model whose `b1.project` disagrees in channel 1 (its bias)
/// is traced to that layer and channel in image 0 of a 2-image run of the
/// design in `dir`.
fn assert_traced_to_b1_project(dir: &Path, net: &Network, arch: &Arch) {
    let mut other = net.clone();
    let layer = other
        .layers
        .iter_mut()
        .find(|l| l.name == "b1.project")
        .unwrap();
    let Op::Conv(c) = &mut layer.op else { panic!() };
    c.bias[1] += 1 << 20;
    let report =
        simulate_against(dir, &other, arch, &opts(2, Simulator::Verilator, false)).unwrap();
    assert!(!report.pass);
    let m = report.first_mismatch.expect("a located mismatch");
    assert_eq!(
        (m.image, m.layer.as_str(), m.channel),
        (0, "b1.project", 1),
        "{m:?}"
    );
}

/// Serial mode: one layer at a time, every layer of every image exactly
/// as predicted.
fn assert_serial_exact(r: &SimReport) {
    let p = r.pipeline.as_ref().expect("a pipelined run");
    assert!(p.serial);
    assert_eq!(p.image_ends, p.predicted_image_ends, "{r:?}");
    for l in r.layers.iter().chain(&r.first_image_layers) {
        assert_eq!(l.measured, l.predicted, "{l:?}");
    }
}

/// The features network (every layer type) on a tile pipeline of 2-row
/// engines: serial and pipelined runs end every layer of every image as
/// predicted, in Verilator and Icarus alike.
#[test]
#[ignore = "slow tier (Verilator and Icarus runs); scripts/test.sh runs it"]
fn pipelined_features_bit_exact_in_both_simulators() {
    let net = features();
    let arch = pipelined("[accelerator]\nname = \"small\"\n[clp]\nrows = 2\ncols = 2\n[slp]\nrows = 2\ncols = 3\n[alp]\nrows = 2\ncols = 2\n");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    generate(&net, &arch, &arch.to_toml(), "p", &dir).unwrap();
    lint(&dir);
    let serial = simulate(&dir, &opts(3, Simulator::Verilator, true)).unwrap();
    assert!(serial.pass, "{serial:?}");
    assert_serial_exact(&serial);
    assert_pipeline_exact(&serial);
    let piped = simulate(&dir, &opts(3, Simulator::Verilator, false)).unwrap();
    assert!(piped.pass, "{piped:?}");
    assert_pipeline_exact(&piped);
    assert!(piped.cycles_per_inference < serial.cycles_per_inference);
    let icarus = simulate(&dir, &opts(3, Simulator::Icarus, false)).unwrap();
    assert!(icarus.pass, "{icarus:?}");
    assert_pipeline_exact(&icarus);
    assert_eq!(icarus.cycles_per_inference, piped.cycles_per_inference);
    let ends = |r: &SimReport| r.pipeline.as_ref().unwrap().image_ends.clone();
    assert_eq!(ends(&icarus), ends(&piped));

    // A golden model that disagrees in one channel of a layer on the
    // shift engine is traced to that layer, in its slot.
    assert_traced_to_b1_project(&dir, &net, &arch);
}

/// Engines of different rows: the multiply engine 1 row, the shift engine
/// 4, the adder engine 2 (8 columns), so every memory has 4 banks and the
/// narrower engines' drains write, and their depthwise tiles read, a part
/// of them (channel m0 + r in bank (m0 mod 4) + r); the adder engine also
/// runs transposed walks (a channel of pixels drained per cycle). The features network runs
/// serial and pipelined in Verilator and pipelined in Icarus, bit-exact,
/// every layer of every image as predicted; a wrong expectation fails the
/// bench, and a layer-by-layer design of the same arrays is refused.
#[test]
#[ignore = "slow tier (Verilator and Icarus runs); scripts/test.sh runs it"]
fn engines_of_different_rows_bit_exact() {
    let net = features();
    let chunks = "[accelerator]\nname = \"uneven\"\n[clp]\nrows = 1\ncols = 2\n[slp]\nrows = 4\ncols = 3\n[alp]\nrows = 2\ncols = 8\n";
    let arch = pipelined(chunks);
    let g = nasa::hw::tile::Geometry::of(&arch).unwrap();
    assert_eq!((g.banks, g.rows), (4, [1, 4, 2]));
    let pipe = nasa::hw::tile::choose_pipe(&net, &arch).unwrap().unwrap();
    // Depthwise layers on an engine narrower than the banks.
    let narrow_dw = pipe.engines.iter().any(|e| {
        g.rows_of(e.kind) < g.banks
            && e.layers
                .iter()
                .any(|&i| matches!(&net.layers[i].op, Op::Conv(c) if c.is_depthwise()))
    });
    assert!(narrow_dw, "no depthwise layer on a narrow engine");
    let narrow_t = pipe.engines.iter().any(|e| {
        g.rows_of(e.kind) < g.banks
            && e.layers
                .iter()
                .any(|&i| pipe.tile.layers[i].mode == nasa::hw::tile::Mode::FlatT)
    });
    assert!(narrow_t, "no transposed walk on a narrow engine");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("u");
    generate(&net, &arch, &arch.to_toml(), "u", &dir).unwrap();
    lint(&dir);
    let serial = simulate(&dir, &opts(3, Simulator::Verilator, true)).unwrap();
    assert!(serial.pass, "{serial:?}");
    assert_serial_exact(&serial);
    let piped = simulate(&dir, &opts(3, Simulator::Verilator, false)).unwrap();
    assert!(piped.pass, "{piped:?}");
    assert_pipeline_exact(&piped);
    assert_bench_fails_on_one_value(&dir, &net, 3, 2, 5);
    let icarus = simulate(&dir, &opts(2, Simulator::Icarus, false)).unwrap();
    assert!(icarus.pass, "{icarus:?}");
    assert_pipeline_exact(&icarus);

    let flat = Arch::parse(chunks, Path::new("flat.toml")).unwrap();
    let m = nasa::hw::tile::Geometry::of(&flat).unwrap_err();
    assert!(m.contains("same rows in every chunk"), "{m}");
}

/// The mapper's tile pipeline for the default network at 24 MAC-PE areas
/// (a 256 KiB buffer holds every image's copies): bit-exact on
/// Fashion-MNIST in Verilator (Icarus: `random_networks_on_the_tile_pipeline`
/// and docs/benchmarks.md), every layer of every image ending
/// when the model says (pipelined and serial: no port is shared, so there
/// is no contention to model), at least 1.5 times the throughput of the
/// same hardware run layer by layer, a mismatch traced to its layer, and a
/// bench that fails on a wrong expectation.
#[test]
#[ignore = "slow tier (Verilator runs); scripts/test.sh runs it"]
fn default_network_tile_pipeline() {
    let net = nasa::model::models::default_network().unwrap();
    let options = MapOptions {
        budget: Budget::PeArea(24.0),
        objective: Objective::Latency,
        buffer: nasa::hw::arch::Buffer {
            words: 262144,
            ..Default::default()
        },
        memory: Default::default(),
        clock_mhz: 250.0,
        energy: Default::default(),
        name: "tpiped".into(),
        pipeline: true,
        engine: Default::default(),
        share: false,
        fuse: None,
    };
    let mapping = map::map(std::slice::from_ref(&net), &options).unwrap();
    assert_eq!(mapping.engine, "tiles");
    let arch = &mapping.arch;
    let pipe = nasa::hw::tile::choose_pipe(&net, arch).unwrap().unwrap();
    assert_eq!(pipe.engines.len(), 3);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    generate(&net, arch, &arch.to_toml(), "tpiped", &dir).unwrap();
    lint(&dir);
    let images = 4;
    let serial = simulate(&dir, &opts(images, Simulator::Verilator, true)).unwrap();
    assert!(serial.pass, "{serial:?}");
    assert_pipeline_exact(&serial);
    let piped = simulate(&dir, &opts(images, Simulator::Verilator, false)).unwrap();
    assert!(piped.pass, "{piped:?}");
    assert_pipeline_exact(&piped);
    let speedup = serial.cycles_per_inference / piped.cycles_per_inference;
    assert!(speedup >= 1.5, "throughput only x{speedup:.3}");

    // The bench fails when an expected value of a later image is wrong.
    assert_bench_fails_on_one_value(&dir, &net, images, 3, 5);

    // A golden model that disagrees in one channel of the stem (whose
    // output only the shift engine reads, so a debugging run stores it
    // from the shift engine's channel copy) is traced to the stem.
    let mut other = net.clone();
    let layer = other.layers.iter_mut().find(|l| l.name == "stem").unwrap();
    let Op::Conv(c) = &mut layer.op else { panic!() };
    c.bias[3] += 1 << 20;
    let report =
        simulate_against(&dir, &other, arch, &opts(2, Simulator::Verilator, false)).unwrap();
    assert!(!report.pass);
    let m = report.first_mismatch.expect("a located mismatch");
    assert_eq!((m.layer.as_str(), m.channel), ("stem", 3), "{m:?}");
}

#[test]
#[ignore = "slow tier (Verilator and Icarus runs); scripts/test.sh runs it"]
fn cli_pipeline() {
    let tmp = tempfile::tempdir().unwrap();
    let arch = tmp.path().join("a.toml");
    let v = ok_json(&[
        "map",
        "--budget",
        "24",
        "--pipeline",
        "--objective",
        "latency",
        "-o",
        arch.to_str().unwrap(),
        "--json",
    ]);
    let n = &v["mapping"]["networks"][0];
    let period = n["pipeline"]["period"].as_u64().unwrap();
    let engines = n["pipeline"]["engines"].as_array().unwrap();
    assert_eq!(engines.len(), 3);
    let busiest = engines.iter().map(|e| e["cycles"].as_u64().unwrap()).max();
    assert_eq!(Some(period), busiest);
    assert!(n["cycles"].as_u64().unwrap() > period);
    let text = std::fs::read_to_string(&arch).unwrap();
    assert!(text.contains("[schedule]\npipeline = true"), "{text}");

    // --serial needs a pipelined design.
    let dir = tmp.path().join("plain");
    let a = tmp.path().join("plain.toml");
    let sized = nasa(&["size", "--pes", "24", "-o", a.to_str().unwrap()]);
    assert!(sized.status.success(), "{sized:?}");
    let out = nasa(&[
        "gen",
        "--arch",
        a.to_str().unwrap(),
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let out = nasa(&["sim", dir.to_str().unwrap(), "--serial"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--serial needs a pipelined design"), "{err}");
}

/// `nasa map --pipeline` on tile engines finds the least period over
/// every tile pipeline of a small budget whose copies fit the buffer
/// (brute force over every engine's rows and columns with the exact model
/// of each).
#[test]
fn tile_pipeline_search_is_exhaustive() {
    let net = nasa::model::models::default_network().unwrap();
    let options = MapOptions {
        budget: Budget::PeArea(8.0),
        objective: Objective::Latency,
        buffer: Default::default(),
        memory: Default::default(),
        clock_mhz: 250.0,
        energy: Default::default(),
        name: "b".into(),
        pipeline: true,
        engine: Default::default(),
        share: false,
        fuse: None,
    };
    let mapping = map::map(std::slice::from_ref(&net), &options).unwrap();
    assert_eq!(mapping.engine, "tiles");
    let memory = nasa::hw::layout::Memory::of(&mapping.arch);
    let mut best = u64::MAX;
    // Each engine its own rows.
    let rows = [1u32, 2, 4, 8];
    for r in (0..64).map(|i| [rows[i % 4], rows[i / 4 % 4], rows[i / 16]]) {
        for c in 1..=10u32 {
            for s in 1..=20u32 {
                for a in 1..=20u32 {
                    let area = (r[0] * c) as f64 + (r[1] * s + r[2] * a) as f64 / 1.88;
                    if area > 8.0 + 1e-9 {
                        continue;
                    }
                    let arch = map::tile_design(&options, r, [c, s, a]);
                    let Ok(Some(pipe)) = nasa::hw::tile::choose_pipe(&net, &arch) else {
                        continue;
                    };
                    let work = nasa::hw::tile::pipe::engine_work(&net, &arch, &pipe, &memory);
                    let period = work.iter().map(|e| e.cycles).max().unwrap();
                    best = best.min(period);
                }
            }
        }
    }
    let chosen = mapping.networks[0].pipeline.as_ref().unwrap();
    assert_eq!(chosen.period, best);
}

/// A tensor read by three layers cannot be named by the descriptors: the
/// generator refuses with the architecture file and field, and writes
/// nothing.
#[test]
fn three_readers_are_refused() {
    let toml = format!(
        "{}[[layer]]\nname = \"a\"\nop = \"conv2d\"\nkind = \"conv\"\nout_channels = 2\nkernel = 1\nout_scale = 0.1\n\
         [[layer]]\nname = \"b\"\nop = \"conv2d\"\nkind = \"shift\"\nout_channels = 2\nkernel = 1\nout_scale = 0.1\ninput = \"a\"\n\
         [[layer]]\nname = \"c\"\nop = \"conv2d\"\nkind = \"shift\"\nout_channels = 2\nkernel = 1\nout_scale = 0.1\ninput = \"a\"\n\
         [[layer]]\nname = \"d\"\nop = \"add\"\ninputs = [\"b\", \"a\"]\nout_scale = 0.1\n\
         [[layer]]\nname = \"e\"\nop = \"add\"\ninputs = [\"d\", \"c\"]\nout_scale = 0.1\n",
        crate::common::header(1, 3, 3)
    );
    let p = |n: usize| crate::common::plain(vec![1; n], 2);
    let net = crate::common::build(&toml, &[("a", p(2)), ("b", p(4)), ("c", p(4))]);
    let arch = pipelined(
        "[accelerator]\nname = \"t\"\n[clp]\nrows = 1\ncols = 2\n[slp]\nrows = 1\ncols = 2\n",
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("x");
    let err = generate(&net, &arch, &arch.to_toml(), "x", &dir).unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("p.toml") && msg.contains("schedule.pipeline"),
        "{msg}"
    );
    assert!(msg.contains("`a`") && msg.contains("3 layers"), "{msg}");
    assert!(!dir.exists());
}

/// `nasa map --compare --sim N` generates the hybrid and the all-multiply
/// design, runs both in Verilator on the same images, and reports what it
/// measured beside the model: both bit-exact, both as predicted, the
/// ratios those of the measured cycles.
#[test]
#[ignore = "slow tier (Verilator runs); scripts/test.sh runs it"]
fn measured_comparison_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cmp");
    let features = concat!(env!("CARGO_MANIFEST_DIR"), "/models/features");
    let v = ok_json(&[
        "map",
        features,
        "--budget",
        "8",
        "--pipeline",
        "--compare",
        "--sim",
        "2",
        "--sim-dir",
        dir.to_str().unwrap(),
        "--json",
    ]);
    let m = &v["measured"][0];
    for d in ["hybrid", "all_multiply"] {
        assert_eq!(m[d]["pass"], true, "{m}");
        assert_eq!(m[d]["images"], 2);
        assert_eq!(
            m[d]["cycles_per_inference"], m[d]["predicted_cycles"],
            "{m}"
        );
        assert!(Path::new(m[d]["dir"].as_str().unwrap())
            .join("manifest.json")
            .exists());
    }
    let f = |d: &str, k: &str| m[d][k].as_f64().unwrap();
    let ratio = f("all_multiply", "cycles_per_inference") / f("hybrid", "cycles_per_inference");
    assert!((m["throughput_ratio"].as_f64().unwrap() - ratio).abs() < 1e-9);
    // The steady state: the pipeline's interval between its two outputs,
    // as predicted, shorter than its average with the filling; the
    // layer-by-layer design's every image alike.
    assert_eq!(
        m["hybrid"]["steady_cycles"], m["hybrid"]["predicted_steady_cycles"],
        "{m}"
    );
    assert!(f("hybrid", "steady_cycles") < f("hybrid", "cycles_per_inference"));
    assert_eq!(
        m["all_multiply"]["steady_cycles"], m["all_multiply"]["cycles_per_inference"],
        "{m}"
    );
    // A stream: the model's period, never below the longest interval.
    assert!(f("hybrid", "stream_cycles") >= f("hybrid", "steady_cycles"));
    assert_eq!(
        m["all_multiply"]["stream_cycles"], m["all_multiply"]["cycles_per_inference"],
        "{m}"
    );
    let steady = f("all_multiply", "stream_cycles") / f("hybrid", "stream_cycles");
    assert!((m["steady_throughput_ratio"].as_f64().unwrap() - steady).abs() < 1e-9);
    // The twin's design was generated from an all-multiply description.
    let twin = std::fs::read_to_string(dir.join("all-multiply-features/network.toml")).unwrap();
    assert!(
        !twin.contains("\"shift\"") && !twin.contains("\"adder\""),
        "{twin}"
    );
    // --sim needs --compare.
    let out = nasa(&["map", features, "--sim", "2"]);
    assert!(!out.status.success());
}

/// A tile pipeline's plan keeps every copy apart: each copy inside its
/// memory (past the guard words a padded read may touch), the copies of a
/// channel memory disjoint, and in an engine's own memory only one-slot
/// copies whose lives in the round do not overlap sharing bytes; every
/// engine that reads a tensor has a copy, every descriptor points at it
/// (a band: at its first rows), and the write of a tensor reaches every
/// copy (own memory at `out_base`, the others at `out_base + dx`). With
/// layers fused: the bands of each layer cover its rows in order, each
/// entry waits for the producer bands that write the rows it reads,
/// every dependency within a round points to an earlier entry (in the
/// pipelined order and in the serial one), and the serial order is the
/// pipelined one's permutation, each engine's its own entries'.
fn check_tile_pipe(
    net: &Network,
    rows: [u32; 3],
    word: u32,
    fusion: &nasa::hw::tile::pipe::Fusion,
) {
    use nasa::hw::tile::{self, pipe, Geometry};
    let geom = Geometry {
        banks: rows.iter().copied().max().unwrap(),
        rows,
        word,
        cols: [word.min(3), word, 2],
    };
    let bases = nasa::hw::layout::tensor_bases(net, 8);
    // A grouping these rows do not divide: not a tile design at all.
    let Ok(plan) = tile::plan_geometry(net, &geom, &bases) else {
        return;
    };
    let p = pipe::plan(net, &geom, plan, fusion).unwrap();
    let n = net.layers.len();
    let size = |id: usize| p.tile.places[id].plane * p.tile.places[id].planes;
    let producer = |id: usize| id.saturating_sub(1);
    let engine_of = |id: usize| p.rounds.engine[producer(id)];
    for id in 0..=n {
        assert!(p.slots[id] > p.rounds.lag(id) as u64 && p.slots[id].is_power_of_two());
        for &r in &p.rounds.readers[id] {
            let e = p.rounds.engine[r];
            assert!(
                p.copies[id].iter().any(|c| p.mems[c.mem].to == e),
                "{id} on {e}"
            );
        }
        for c in &p.copies[id] {
            let m = &p.mems[c.mem];
            assert_eq!(m.from, engine_of(id));
            assert!(c.offset >= word as u64);
            assert!(
                c.offset + size(id) * p.slots[id] + word as u64 <= m.bytes,
                "{id}: {c:?} {m:?}"
            );
        }
    }
    // Per layer: its entries' positions, band by band.
    let mut of_layer: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (q, en) in p.entries.iter().enumerate() {
        assert_eq!(en.band, of_layer[en.layer].len(), "bands in order");
        of_layer[en.layer].push(q);
    }
    for (i, qs) in of_layer.iter().enumerate() {
        assert_eq!(qs.len(), p.bands[i]);
        let oh = net.layers[i].out.shape.h as u32;
        let mut y = 0;
        for &q in qs {
            let r = p.entries[q].rows;
            assert!(r[0] == y && r[1] > r[0], "layer {i}: {r:?}");
            y = r[1];
        }
        assert_eq!(y, oh, "layer {i}'s bands cover its rows");
    }
    // The entries of a round in which an own one-slot copy is alive.
    let life = |id: usize, e: usize| {
        let born = of_layer[producer(id)][0];
        let last = p.rounds.readers[id]
            .iter()
            .copied()
            .filter(|&r| p.rounds.engine[r] == e)
            .filter_map(|r| of_layer[r].last().copied())
            .max()
            .unwrap_or(born);
        (born, last.max(*of_layer[producer(id)].last().unwrap()))
    };
    for (mi, m) in p.mems.iter().enumerate() {
        let here: Vec<(usize, u64)> = (0..=n)
            .flat_map(|id| {
                p.copies[id]
                    .iter()
                    .filter(|c| c.mem == mi)
                    .map(move |c| (id, c.offset))
            })
            .collect();
        for (a, &(i, oi)) in here.iter().enumerate() {
            for &(j, oj) in &here[a + 1..] {
                let (ei, ej) = (oi + size(i) * p.slots[i], oj + size(j) * p.slots[j]);
                if oi >= ej || oj >= ei {
                    continue;
                }
                // Overlapping bytes: only one-slot copies in an own memory
                // whose lives do not meet.
                assert_eq!(m.from, m.to, "tensors {i} and {j} overlap in channel {mi}");
                assert!(p.slots[i] == 1 && p.slots[j] == 1, "{i} and {j}");
                let ((bi, li), (bj, lj)) = (life(i, m.to), life(j, m.to));
                assert!(
                    li < bj || lj < bi,
                    "tensors {i} and {j} alive together in {mi}"
                );
            }
        }
    }
    let at = |id: usize, e: usize| {
        let c = p.copies[id].iter().find(|c| p.mems[c.mem].to == e).unwrap();
        p.mems[c.mem].base + c.offset
    };
    // The serial order: a permutation, topological, each engine's the
    // same entries.
    let mut sorted = p.serial.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..p.entries.len()).collect::<Vec<_>>());
    for ep in &p.engines {
        let mine: Vec<usize> = ep.serial.iter().map(|&k| ep.entries[k]).collect();
        let want: Vec<usize> = p
            .serial
            .iter()
            .copied()
            .filter(|q| ep.entries.contains(q))
            .collect();
        assert_eq!(mine, want);
    }
    let spos = |q: usize| p.serial.iter().position(|&v| v == q).unwrap();
    for (q, en) in p.entries.iter().enumerate() {
        let i = en.layer;
        let layer = &net.layers[i];
        let e = p.rounds.engine[i];
        let (d, s) = (&en.desc, &en.sync);
        let x = net.tensor(layer.inputs[0]).shape;
        let o = layer.out.shape;
        let [y0, _, r0, r1] = en.rows.map(|v| v as usize);
        let (in_off, out_off) = match p.bands[i] {
            1 => (0, 0),
            _ => ((r0 * x.w) as u64, (y0 * o.w) as u32),
        };
        assert_eq!(d.in_base as u64, at(layer.inputs[0], e) + in_off);
        if let Some(&id) = layer.inputs.get(1) {
            assert_eq!(d.in2_base as u64, at(id, e) + in_off);
        }
        // What it reads is written before it: by an earlier entry of the
        // same round (same stage) or an earlier round, and on another
        // engine the bands it waits for write the rows it reads.
        for (k, &id) in layer.inputs.iter().enumerate().take(2) {
            if id == 0 {
                continue;
            }
            let pl = id - 1;
            // The producer's first band that ends at or past the rows read
            // (a whole layer reads every row).
            let upto = match p.bands[i] {
                1 => net.tensor(id).shape.h,
                _ => r1,
            };
            let covering = of_layer[pl]
                .iter()
                .position(|&b| p.entries[b].rows[1] as usize >= upto)
                .unwrap();
            let need = match p.rounds.engine[pl] != e {
                true => {
                    let (dep, need) = [(s.dep0, s.need0), (s.dep1, s.need1)][k];
                    assert_eq!(dep as usize, pl, "entry {q}'s dependency");
                    assert!(need as usize > covering, "entry {q} waits for too few rows");
                    need as usize
                }
                false => covering + 1,
            };
            let pq = of_layer[pl][need - 1];
            if p.rounds.stage[pl] == p.rounds.stage[i] {
                assert!(pq < q, "entry {q} before its producer {pq}");
            } else {
                assert!(p.rounds.stage[pl] < p.rounds.stage[i]);
            }
            assert!(
                spos(pq) < spos(q),
                "entry {q} before its producer {pq} when serial"
            );
        }
        let writes = &p.engines[e].writes;
        let mut reached = Vec::new();
        for (port, &m) in writes.iter().enumerate() {
            if s.dst & (1 << port) == 0 {
                continue;
            }
            let dx = [0, s.dx1, s.dx2][port];
            let off = d.out_base.wrapping_sub(out_off).wrapping_add(dx) as u64;
            let c = p.copies[i + 1]
                .iter()
                .find(|c| c.mem == m)
                .expect("a copy there");
            assert_eq!(c.offset, off, "layer {i} port {port}");
            reached.push(m);
        }
        reached.sort_unstable();
        let mut all: Vec<usize> = p.copies[i + 1].iter().map(|c| c.mem).collect();
        all.sort_unstable();
        assert_eq!(reached, all, "layer {i}'s write misses a copy");
    }
}

/// Fusion variants of a network: none, every layer, and seeded subsets.
fn fusions(net: &Network, seed: u64) -> Vec<nasa::hw::tile::pipe::Fusion> {
    use nasa::hw::tile::pipe::Fusion;
    let n = net.layers.len();
    let mut rng = nasa::model::rng::SplitMix64::new(seed);
    vec![
        Fusion::default(),
        Fusion {
            fused: vec![true; n],
            bands: 4,
        },
        Fusion {
            fused: (0..n).map(|_| rng.next_u64() % 2 == 0).collect(),
            bands: 2 + (rng.next_u64() % 6) as u32,
        },
    ]
}

#[test]
fn tile_pipe_plans_keep_copies_apart() {
    let default = nasa::model::models::default_network().unwrap();
    // Every engine the same rows, and (a pipeline's engines may differ)
    // each its own.
    let shapes = [
        ([1; 3], 2),
        ([2; 3], 8),
        ([4; 3], 4),
        ([16; 3], 16),
        ([2, 16, 2], 2),
        ([4, 1, 8], 4),
    ];
    for (k, (rows, word)) in shapes.into_iter().enumerate() {
        for f in fusions(&default, k as u64) {
            check_tile_pipe(&default, rows, word, &f);
        }
    }
    for f in fusions(&features(), 7) {
        check_tile_pipe(&features(), [2; 3], 4, &f);
        check_tile_pipe(&features(), [1, 4, 2], 4, &f);
    }
    for seed in 0..12u64 {
        let mut rng = nasa::model::rng::SplitMix64::new(seed);
        let choices: Vec<[u8; 5]> = (0..8)
            .map(|_| std::array::from_fn(|_| rng.next_u64() as u8))
            .collect();
        let text = crate::property::description(1 + (seed % 3) as u32, 11, 9, 8, &choices);
        let net = Network::parse(&text, Path::new("random.toml")).unwrap();
        for f in fusions(&net, seed) {
            let r = |k: u64| [1, 2, 4][((seed + k) % 3) as usize];
            check_tile_pipe(&net, [r(0), r(seed % 2), r(1)], 4, &f);
        }
    }
}

/// What a tile pipeline cannot run is refused with the architecture file,
/// the field and the reason, and nothing is written: copies larger than
/// the buffer (with `auto` and `tiles` alike: no pipeline runs on cache
/// controllers any more) and `engine = "cache"`. The mapper refuses
/// `--pipeline` where no pipeline of the budget fits, and with
/// `--engine cache`.
#[test]
fn what_a_tile_pipeline_cannot_run_is_refused() {
    let net = features();
    let text = "[accelerator]\nname = \"t\"\n[clp]\nrows = 2\ncols = 2\n[slp]\nrows = 2\ncols = 2\n[alp]\nrows = 2\ncols = 2\n[buffer]\nwords = 1024\nbanks = 1\n";
    let auto = pipelined(text);
    let mut forced = auto.clone();
    forced.schedule.engine = nasa::hw::arch::Engine::Tiles;
    let mut cache = pipelined(&text.replace("words = 1024", "words = 1048576"));
    cache.schedule.engine = nasa::hw::arch::Engine::Cache;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("x");
    for (arch, field, says) in [
        (&auto, "buffer.words", "bytes of scratchpad"),
        (&forced, "buffer.words", "bytes of scratchpad"),
        (&cache, "schedule.engine", "cannot be pipelined"),
    ] {
        let err = generate(&net, arch, &arch.to_toml(), "x", &dir).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("p.toml") && msg.contains(field), "{msg}");
        assert!(msg.contains(says), "{msg}");
        assert!(!dir.exists());
    }
    let mut options = MapOptions {
        budget: Budget::PeArea(24.0),
        objective: Objective::Latency,
        buffer: nasa::hw::arch::Buffer {
            words: 1024,
            banks: 1,
        },
        memory: Default::default(),
        clock_mhz: 250.0,
        energy: Default::default(),
        name: "b".into(),
        pipeline: true,
        engine: nasa::hw::arch::Engine::Auto,
        share: false,
        fuse: None,
    };
    let err = map::map(std::slice::from_ref(&net), &options).unwrap_err();
    assert!(
        err.contains("--pipeline") && err.contains("--buffer-words"),
        "{err}"
    );
    options.buffer = Default::default();
    options.engine = nasa::hw::arch::Engine::Cache;
    let err = map::map(std::slice::from_ref(&net), &options).unwrap_err();
    assert!(err.contains("--engine cache"), "{err}");
}

/// Sets channel 0 of `layer` (a shift layer) to hold the weights +128
/// (code 8) and -128 (code -8), first and last.
fn force_128(net: &mut Network, layer: &str) {
    let l = net.layers.iter_mut().find(|l| l.name == layer).unwrap();
    let Op::Conv(c) = &mut l.op else { panic!() };
    let per = c.weights.len() / c.out_ch;
    c.weights[0] = 8;
    c.weights[per - 1] = -8;
    let bytes = nasa::model::net::weights::serialize(net);
    net.attach_weights(&bytes, Path::new("forced.safetensors"))
        .unwrap();
}

/// Docs/arithmetic.md K4 in hardware: `models/features` with its block's
/// depthwise and project layers (shift) on the multiply engine, the
/// project layer's channel 0 holding both +128 and -128, is bit-exact
/// against the network as described, pipelined and serial in Verilator
/// and pipelined in Icarus, every layer of every image ending when the
/// model says; the multiply engine runs the moved layers; the same moves
/// on a layer-by-layer tile design are exact too; a layer that is not a
/// shift layer is refused by name before anything is written.
#[test]
#[ignore = "slow tier (Verilator and Icarus runs); scripts/test.sh runs it"]
fn shift_layers_on_the_multiply_engine_bit_exact() {
    let mut net = features();
    force_128(&mut net, "b1.project");
    let moves = "shift_on_multiply = [\"b1.dw\", \"b1.project\"]\n";
    let chunks = "[accelerator]\nname = \"shared\"\n[clp]\nrows = 2\ncols = 2\n[slp]\nrows = 2\ncols = 3\n[alp]\nrows = 2\ncols = 2\n";
    let arch = Arch::parse(
        &format!("{chunks}[schedule]\npipeline = true\n{moves}"),
        Path::new("shared.toml"),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    generate(&net, &arch, &arch.to_toml(), "shared", &dir).unwrap();
    lint(&dir);
    for serial in [true, false] {
        let r = simulate(&dir, &opts(3, Simulator::Verilator, serial)).unwrap();
        assert!(r.pass, "{r:?}");
        assert_pipeline_exact(&r);
        let engines = &r.pipeline.as_ref().unwrap().engines;
        let conv = engines.iter().find(|e| e.chunk == Kind::Conv).unwrap();
        assert!(
            conv.layers.iter().any(|l| l == "b1.project")
                && conv.layers.iter().any(|l| l == "b1.dw"),
            "{engines:?}"
        );
        let shift = engines.iter().find(|e| e.chunk == Kind::Shift).unwrap();
        assert_eq!(shift.layers, ["b1.expand"], "{engines:?}");
    }
    let icarus = simulate(&dir, &opts(2, Simulator::Icarus, false)).unwrap();
    assert!(icarus.pass, "{icarus:?}");
    assert_pipeline_exact(&icarus);
    // The bench fails when one expected value is wrong.
    assert_bench_fails_on_one_value(&dir, &net, 2, 1, 4);

    let serial_arch = Arch::parse(
        &format!("{chunks}[schedule]\nengine = \"tiles\"\n{moves}"),
        Path::new("shared-serial.toml"),
    )
    .unwrap();
    let sdir = tmp.path().join("s");
    generate(&net, &serial_arch, &serial_arch.to_toml(), "shared", &sdir).unwrap();
    lint(&sdir);
    let r = simulate(&sdir, &opts(2, Simulator::Verilator, false)).unwrap();
    assert!(r.pass, "{r:?}");
    crate::common::assert_predicted(&r);

    let bad_arch = Arch::parse(
        &format!("{chunks}[schedule]\npipeline = true\nshift_on_multiply = [\"b2.dw\"]\n"),
        Path::new("bad.toml"),
    )
    .unwrap();
    let bad = tmp.path().join("bad");
    let err = generate(&net, &bad_arch, &bad_arch.to_toml(), "bad", &bad).unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("schedule.shift_on_multiply") && msg.contains("`b2.dw` is not a shift layer"),
        "{msg}"
    );
    assert!(!bad.exists());
}

/// Issue 14's fused block: `models/features`' shift block with its
/// depthwise layer on the multiply engine and every layer of the block
/// fused, so one image's rows stream shift -> conv -> shift -> conv in
/// bands; the residual input (the pool's output, made on the conv engine)
/// crosses to the shift engine and is held on chip for the add. Bit-exact pipelined and serial in
/// Verilator and pipelined in Icarus, every layer of every image ending
/// when the model says; the first image ends sooner than without the
/// fusion; the bench fails on one wrong expected value; a golden model
/// that disagrees in one channel is traced to its layer (the debugging
/// run stores the banded tensors whole); an unknown layer to fuse is
/// refused by field before anything is written.
#[test]
#[ignore = "slow tier (Verilator and Icarus runs); scripts/test.sh runs it"]
fn fused_block_across_chunks_bit_exact() {
    use nasa::hw::tile::{choose_pipe, pipe};
    let net = features();
    let chunks = "[accelerator]\nname = \"fused\"\n[clp]\nrows = 2\ncols = 2\n[slp]\nrows = 2\ncols = 3\n[alp]\nrows = 2\ncols = 2\n[buffer]\nwords = 262144\n";
    let moved = "[schedule]\npipeline = true\nshift_on_multiply = [\"b1.dw\"]\n";
    let fuse = "fuse = [\"b1.expand\", \"b1.dw\", \"b1.project\", \"b1.add\"]\nbands = 4\n";
    let arch = Arch::parse(&format!("{chunks}{moved}{fuse}"), Path::new("fused.toml")).unwrap();
    let unfused = Arch::parse(&format!("{chunks}{moved}"), Path::new("moved.toml")).unwrap();

    // The plan: the block's layers share a round, in bands, across engines.
    let ran = arch.runs(&net).unwrap();
    let p = choose_pipe(&ran, &arch).unwrap().unwrap();
    let at = |name: &str| net.layers.iter().position(|l| l.name == name).unwrap();
    let block = ["b1.expand", "b1.dw", "b1.project", "b1.add"];
    let kinds: Vec<Kind> = block
        .iter()
        .map(|l| p.rounds.engines[p.rounds.engine[at(l)]])
        .collect();
    assert_eq!(kinds, [Kind::Shift, Kind::Conv, Kind::Shift, Kind::Conv]);
    for l in block {
        assert_eq!(
            p.rounds.stage[at(l)],
            p.rounds.stage[at("b1.expand")],
            "{l}"
        );
        assert!(p.bands[at(l)] > 1, "{l} runs in bands");
    }
    // The residual input: made on the conv engine, read there by the add
    // (held in its memory while the block's rows go through the shift
    // engine and back) and by the expand layer on the shift engine.
    let pool = at("pool");
    assert_eq!(p.rounds.engines[p.rounds.engine[pool]], Kind::Conv);
    assert!(net.layers[at("b1.add")].inputs.contains(&(pool + 1)));
    assert_eq!(net.layers[at("b1.expand")].inputs, [pool + 1]);
    // Bands of different layers interleave: the depthwise layer's first
    // band runs before the expand layer's last.
    let first = |l: usize| p.entries.iter().position(|e| e.layer == l).unwrap();
    let last = |l: usize| p.entries.iter().rposition(|e| e.layer == l).unwrap();
    assert!(first(at("b1.dw")) < last(at("b1.expand")));
    let memory = nasa::hw::layout::Memory::of(&arch);
    let first_end = |a: &Arch| {
        let p = choose_pipe(&ran, a).unwrap().unwrap();
        pipe::predict_run(&ran, &p, &memory, 1, false)[0][net.output - 1]
    };
    assert!(
        first_end(&arch) < first_end(&unfused),
        "fused {} against {}",
        first_end(&arch),
        first_end(&unfused)
    );

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("f");
    generate(&net, &arch, &arch.to_toml(), "fused", &dir).unwrap();
    lint(&dir);
    for serial in [true, false] {
        let r = simulate(&dir, &opts(2, Simulator::Verilator, serial)).unwrap();
        assert!(r.pass, "{r:?}");
        assert_pipeline_exact(&r);
    }
    let icarus = simulate(&dir, &opts(2, Simulator::Icarus, false)).unwrap();
    assert!(icarus.pass, "{icarus:?}");
    assert_pipeline_exact(&icarus);
    assert_bench_fails_on_one_value(&dir, &net, 2, 1, 3);

    assert_traced_to_b1_project(&dir, &net, &arch);

    let bad_arch = Arch::parse(
        &format!("{chunks}[schedule]\npipeline = true\nfuse = [\"b9\"]\n"),
        Path::new("bad.toml"),
    )
    .unwrap();
    let bad = tmp.path().join("bad");
    let err = generate(&net, &bad_arch, &bad_arch.to_toml(), "bad", &bad).unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("schedule.fuse") && msg.contains("bad.toml") && msg.contains("`b9`"),
        "{msg}"
    );
    assert!(!bad.exists());
}
