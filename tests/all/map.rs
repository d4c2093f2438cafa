//! The mapper: its cycle model against Verilator on designs it chose, the
//! exhaustiveness and optimality of its search (against brute force over
//! every design of a small budget), determinism, the 22-block NASA CIFAR
//! network, and the `nasa map` command line.

use std::path::Path;

use nasa::hw::arch::{Buffer, Engine, Memory};
use nasa::hw::gen::generate;
use nasa::hw::map::fpga::{self, Part, PartBudget};
use nasa::hw::map::{self, Budget, MapOptions, Mapping, Objective};
use nasa::hw::sim::{simulate, SimOptions, Simulator};
use nasa::hw::synth::Target;
use nasa::model::net::Network;
use nasa::model::quant::Kind;

use crate::common::{assert_predicted, nasa, ok_json};

fn model(name: &str) -> String {
    format!("{}/models/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn options(budget: f64, objective: Objective) -> MapOptions {
    MapOptions {
        budget: Budget::PeArea(budget),
        objective,
        buffer: Buffer::default(),
        memory: Memory::default(),
        clock_mhz: 250.0,
        energy: Default::default(),
        name: "t".into(),
        pipeline: false,
        engine: Engine::Auto,
        share: false,
        fuse: None,
    }
}

fn objective_of(m: &nasa::hw::map::NetworkMap, o: Objective) -> f64 {
    match o {
        Objective::Latency => m.cycles as f64,
        Objective::Energy => m.energy_nj,
        Objective::Edp => m.cycles as f64 * m.energy_nj,
    }
}

/// A design the mapper chose, generated and simulated: every layer takes
/// the cycles the mapper predicted.
fn mapped_design_runs_as_predicted(name: &str, budget: f64, objective: Objective) {
    let net = Network::load(Path::new(&model(name))).unwrap();
    let mapping = map::map(std::slice::from_ref(&net), &options(budget, objective)).unwrap();
    assert!(mapping.area <= budget + 1e-9);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    generate(&net, &mapping.arch, &mapping.arch.to_toml(), "mapped", &dir).unwrap();
    let report = simulate(
        &dir,
        &SimOptions {
            images: 2,
            dataset: None,
            data_dir: None,
            seed: 3,
            simulator: Simulator::Verilator,
            serial: false,
            build_dir: None,
            trace: None,
        },
    )
    .unwrap();
    assert!(report.pass, "{report:?}");
    assert_predicted(&report);
    // The mapper reports the steady state: the second image.
    let last: u64 = report.layers.iter().map(|l| l.measured).sum();
    assert_eq!(last, mapping.networks[0].cycles);
    assert_eq!(report.layers.len(), mapping.networks[0].layers.len());
}

#[test]
#[ignore = "slow tier (Verilator runs); scripts/test.sh runs it"]
fn mapped_all_multiply_network_runs_as_predicted() {
    mapped_design_runs_as_predicted("default-conv", 20.0, Objective::Latency);
}

#[test]
#[ignore = "slow tier (Verilator runs); scripts/test.sh runs it"]
fn mapped_hybrid_network_runs_as_predicted() {
    mapped_design_runs_as_predicted("hybrid-fmnist", 12.0, Objective::Edp);
}

/// Brute force over every buildable design within a small budget: the
/// search visits each one and none beats its answer.
#[test]
fn search_is_exhaustive_and_optimal() {
    let net = nasa::model::models::load_description(Path::new(&model("features"))).unwrap();
    let budget = 5.0;
    let a = nasa::hw::arch::CHEAP_PE_AREA;
    for objective in [Objective::Latency, Objective::Energy, Objective::Edp] {
        let opts = MapOptions {
            engine: Engine::Cache,
            ..options(budget, objective)
        };
        let mapping = map::map(std::slice::from_ref(&net), &opts).unwrap();
        let chosen = objective_of(&mapping.networks[0], objective);
        let mut count = 0;
        let mut best = f64::INFINITY;
        for pc in 1..=5u64 {
            for ps in 1..=9u64 {
                for pa in 1..=9u64 {
                    if pc as f64 + (ps + pa) as f64 * a > budget + 1e-9 {
                        continue;
                    }
                    count += 1;
                    let arch = map::design(&opts, [pc, ps, pa]);
                    let m = map::report_network(&net, &arch, &opts.energy);
                    best = best.min(objective_of(&m, objective));
                }
            }
        }
        assert_eq!(mapping.designs_evaluated, count, "{objective:?}");
        assert!(
            (chosen - best).abs() <= 1e-9 * best,
            "{objective:?}: chose {chosen}, brute force found {best}"
        );
    }
}

/// The same for tile-engine designs: every rows count and every chunk's
/// columns within the budget (activations fit the default buffer), priced
/// one by one by the exact model, and none beats the search's answer.
#[test]
fn tile_search_is_exhaustive_and_optimal() {
    let net = nasa::model::models::load_description(Path::new(&model("features"))).unwrap();
    let budget = 12.0;
    let a = nasa::hw::arch::CHEAP_PE_AREA;
    for objective in [Objective::Latency, Objective::Energy, Objective::Edp] {
        let opts = options(budget, objective);
        let mapping = map::map(std::slice::from_ref(&net), &opts).unwrap();
        assert_eq!(mapping.arch.schedule.engine, Engine::Tiles);
        let chosen = objective_of(&mapping.networks[0], objective);
        let mut count = 0;
        let mut best = f64::INFINITY;
        for rows in [1u32, 2, 4, 8, 16, 32, 64] {
            for cc in 1..=64u32 {
                for cs in 1..=64u32 {
                    for ca in 1..=64u32 {
                        let area = rows as f64 * (cc as f64 + (cs + ca) as f64 * a);
                        if area > budget + 1e-9 {
                            continue;
                        }
                        count += 1;
                        let arch = map::tile_design(&opts, [rows; 3], [cc, cs, ca]);
                        let m = map::report_network(&net, &arch, &opts.energy);
                        best = best.min(objective_of(&m, objective));
                    }
                }
            }
        }
        assert_eq!(mapping.designs_evaluated, count, "{objective:?}");
        assert!(
            (chosen - best).abs() <= 1e-9 * best,
            "{objective:?}: chose {chosen}, brute force found {best}"
        );
    }
}

fn fingerprint(m: &Mapping) -> String {
    let mut v = serde_json::to_value(m).unwrap();
    v["search_seconds"] = serde_json::json!(0);
    v.to_string()
}

#[test]
fn mapping_is_deterministic_and_objectives_differ() {
    let net = nasa::model::models::default_network().unwrap();
    let nets = [net];
    let a = map::map(&nets, &options(168.0, Objective::Edp)).unwrap();
    let b = map::map(&nets, &options(168.0, Objective::Edp)).unwrap();
    assert_eq!(fingerprint(&a), fingerprint(&b));
    let lat = map::map(&nets, &options(168.0, Objective::Latency)).unwrap();
    let en = map::map(&nets, &options(168.0, Objective::Energy)).unwrap();
    // Each objective's answer is at least as good as the others' on it.
    for other in [&a, &en] {
        assert!(lat.networks[0].cycles <= other.networks[0].cycles);
    }
    for other in [&a, &lat] {
        assert!(en.networks[0].energy_nj <= other.networks[0].energy_nj + 1e-9);
    }
    // Two networks: the design serves their sum.
    let features = nasa::model::models::load_description(Path::new(&model("features"))).unwrap();
    let both = map::map(
        &[nets[0].clone(), features],
        &options(168.0, Objective::Latency),
    )
    .unwrap();
    assert_eq!(both.networks.len(), 2);
    assert!(both.networks[0].cycles >= lat.networks[0].cycles);
}

#[test]
fn nasa_cifar_network_is_mapped() {
    let net = nasa::model::models::load_description(Path::new(&model("nasa-cifar"))).unwrap();
    let blocks: std::collections::BTreeSet<&str> = net
        .layers
        .iter()
        .filter_map(|l| l.name.split('.').next())
        .filter(|n| n.starts_with('b') && n[1..].parse::<u32>().is_ok())
        .collect();
    assert_eq!(blocks.len(), 22);
    assert_eq!(net.input.tensor.shape.c, 3);
    let ops = net.ops_per_kind();
    assert!(ops.iter().all(|&o| o > 0), "{ops:?}");
    let mapping = map::map(std::slice::from_ref(&net), &options(168.0, Objective::Edp)).unwrap();
    assert!(mapping.area <= 168.0 + 1e-9 && mapping.pes.iter().all(|&p| p > 0));
    let m = &mapping.networks[0];
    let ideal: u64 = Kind::ALL
        .iter()
        .enumerate()
        .map(|(i, _)| ops[i].div_ceil(mapping.pes[i]))
        .sum();
    assert!(
        m.cycles > ideal,
        "{} cycles against an ideal {ideal}",
        m.cycles
    );
    let twin = map::all_multiply(&net);
    assert_eq!(twin.ops_per_kind()[0], ops.iter().sum::<u64>());
    let base = map::map(&[twin], &options(168.0, Objective::Edp)).unwrap();
    assert_eq!(base.pes[1..], [0, 0]);
}

/// models/nasa-cifar does not fit the default 128 KiB buffer with every
/// activation on chip: the mapper chooses a tile design that streams its
/// largest tensors, and the plan keeps its promises: it fits the buffer,
/// each layer's entries are bands that cover its output rows in order
/// (the last one marked), each band loads every input row its windows
/// read, and no staging region overlaps a tensor that is on chip while
/// the layer runs.
#[test]
fn nasa_cifar_streams_through_the_default_buffer() {
    use nasa::hw::tile::{self, Mode};
    let net = nasa::model::models::load_description(Path::new(&model("nasa-cifar"))).unwrap();
    let mapping = map::map(std::slice::from_ref(&net), &options(168.0, Objective::Edp)).unwrap();
    assert_eq!(mapping.engine, "tiles");
    let arch = &mapping.arch;
    let plan = tile::choose(&net, arch).unwrap().expect("a tile plan");
    assert!(plan.streamed.iter().any(|&s| s));
    let g = plan.geometry;
    let (word, cap) = (g.word as u64, arch.buffer.words as u64 / g.banks as u64);
    assert!(plan.depth * word <= cap, "{} words", plan.depth);
    let n = net.layers.len();
    let mut last = vec![0usize; n + 1];
    for (i, l) in net.layers.iter().enumerate() {
        for &id in &l.inputs {
            last[id] = last[id].max(i);
        }
    }
    last[net.output] = n;
    for (i, layer) in net.layers.iter().enumerate() {
        let entries: Vec<_> = plan.entries.iter().filter(|e| e.layer == i).collect();
        let (x, o) = (net.tensor(layer.inputs[0]).shape, layer.out.shape);
        let whole = &plan.layers[i].desc;
        let mut y = 0;
        for (k, e) in entries.iter().enumerate() {
            let [y0, y1, r0, r1] = e.band.map(|v| v as usize);
            assert_eq!(y0, y, "{}: bands in order", layer.name);
            assert!(
                y1 > y0 && r1 > r0 && r1 <= x.h,
                "{}: {:?}",
                layer.name,
                e.band
            );
            assert_eq!(e.desc.last == 1, k + 1 == entries.len(), "{}", layer.name);
            if matches!(
                plan.layers[i].mode,
                Mode::Row | Mode::Depthwise | Mode::Post
            ) {
                let (s, kh, pad) = (whole.stride as usize, whole.kh as usize, whole.pad as usize);
                assert!(r0 <= (y0 * s).saturating_sub(pad), "{}", layer.name);
                assert!(
                    r1 >= ((y1 - 1) * s + kh).saturating_sub(pad).min(x.h),
                    "{}",
                    layer.name
                );
            }
            // Staging regions (streamed inputs and output) lie clear of
            // every tensor on chip while the layer runs.
            let planes = |c: usize| (c as u64).div_ceil(g.banks as u64);
            let mut staged = Vec::new();
            if e.desc.ld0 == 1 {
                staged.push((e.desc.in_base as u64, planes(x.c) * e.desc.in_pw as u64));
            }
            if e.desc.st == 1 {
                staged.push((e.desc.out_base as u64, planes(o.c) * e.desc.out_pw as u64));
            }
            for (lo, len) in staged {
                assert!(lo + len <= cap, "{}", layer.name);
                for j in (0..=n).filter(|&j| !plan.streamed[j]) {
                    if j.saturating_sub(1) <= i && last[j] >= i {
                        let p = plan.places[j];
                        let (a, b) = (p.base, p.base + p.plane * p.planes);
                        assert!(
                            lo + len <= a || b <= lo,
                            "{}: staging over tensor {j}",
                            layer.name
                        );
                    }
                }
            }
            y = y1;
        }
        assert_eq!(y, o.h, "{}: bands cover the output rows", layer.name);
    }
}

#[test]
fn cli_writes_an_architecture_that_gen_accepts() {
    let tmp = tempfile::tempdir().unwrap();
    let arch = tmp.path().join("arch.toml");
    let arch_s = arch.to_str().unwrap();
    let features = model("features");
    let v = ok_json(&[
        "map",
        &features,
        "--budget",
        "24",
        "--objective",
        "latency",
        "--compare",
        "-o",
        arch_s,
        "--json",
    ]);
    let pes = &v["mapping"]["pes"];
    let layers = v["mapping"]["networks"][0]["layers"].as_array().unwrap();
    assert!(layers.len() > 5);
    let cycles: u64 = layers.iter().map(|l| l["cycles"].as_u64().unwrap()).sum();
    assert_eq!(v["mapping"]["networks"][0]["cycles"], cycles);
    assert!(v["comparison"][0]["edp_ratio"].as_f64().unwrap() > 0.0);
    assert_eq!(v["all_multiply"]["mapping"]["pes"][1], 0);
    let written = nasa::hw::arch::Arch::load(&arch).unwrap();
    for (i, k) in Kind::ALL.iter().enumerate() {
        assert_eq!(written.pes(*k) as u64, pes[i].as_u64().unwrap());
    }
    let out = tmp.path().join("design");
    let g = ok_json(&[
        "gen",
        &features,
        "--arch",
        arch_s,
        "-o",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(g.is_object());
    assert!(out.join("nasa_top.v").exists());
}

#[test]
fn cli_errors_name_the_problem() {
    let out = nasa(&["map", "--budget", "0.5"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("budget of 0.5"), "{err}");
    assert!(out.stdout.is_empty());

    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("energy.toml");
    std::fs::write(&table, "[memory]\ndram = 200\nsram = 3\n").unwrap();
    let out = nasa(&["map", "--energy", table.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(nasa::EXIT_INVALID_INPUT));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("energy.toml") && err.contains("sram"), "{err}");

    std::fs::write(&table, "[memory]\ndram = -1\n").unwrap();
    let out = nasa(&["map", "--energy", table.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(nasa::EXIT_INVALID_INPUT));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("memory.dram"), "{err}");

    let out = nasa(&["map", "--buffer-words", "100"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--buffer-words"));
}

/// A cheaper DRAM changes the energy, not the cycles.
#[test]
fn energy_table_prices_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("energy.toml");
    std::fs::write(&table, "[memory]\ndram = 20\n").unwrap();
    let cheap = ok_json(&[
        "map",
        "--objective",
        "latency",
        "--energy",
        table.to_str().unwrap(),
        "--json",
    ]);
    let base = ok_json(&["map", "--objective", "latency", "--json"]);
    let (c, b) = (
        &cheap["mapping"]["networks"][0],
        &base["mapping"]["networks"][0],
    );
    assert_eq!(c["cycles"], b["cycles"]);
    let dram = |v: &serde_json::Value| v["energy_breakdown_nj"]["dram"].as_f64().unwrap();
    assert!((dram(c) * 10.0 - dram(b)).abs() < 1e-6 * dram(b));
    assert_eq!(
        c["energy_breakdown_nj"]["compute"],
        b["energy_breakdown_nj"]["compute"]
    );
}

/// A LUT budget: the design fits it by the FPGA resource model, a larger
/// budget never does worse, and one below the smallest design is refused.
#[test]
fn lut_budget() {
    let net = nasa::model::models::default_network().unwrap();
    let nets = [net];
    let with = |luts: f64| MapOptions {
        budget: Budget::Luts(luts),
        ..options(0.0, Objective::Latency)
    };
    let xilinx = |m: &Mapping| {
        let e = m.fpga.as_ref().expect("a tile design has an FPGA estimate");
        let t = e
            .targets
            .iter()
            .find(|t| t.target == Target::Xilinx)
            .unwrap();
        // The estimate is the model's on the design's own plan.
        let again = fpga::Estimate::of(&nets, &m.arch).unwrap();
        assert_eq!(&again, e);
        t.luts
    };
    let small = map::map(&nets, &with(30_000.0)).unwrap();
    let large = map::map(&nets, &with(60_000.0)).unwrap();
    assert!(xilinx(&small) <= 30_000 && xilinx(&large) <= 60_000);
    assert!(large.networks[0].cycles <= small.networks[0].cycles);
    assert!(xilinx(&large) > xilinx(&small));
    let err = map::map(&nets, &with(2_000.0)).unwrap_err();
    assert!(
        err.contains("LUTs (of 2000)") && err.contains("smallest design"),
        "{err}"
    );
    // The model covers layer-by-layer tile designs only.
    let cache = MapOptions {
        engine: Engine::Cache,
        ..with(30_000.0)
    };
    let err = map::map(&nets, &cache).unwrap_err();
    assert!(err.contains("layer-by-layer tile-engine designs"), "{err}");
}

/// A part's budget: the chosen design fits every resource of the part by
/// its family's model (and the search's inventory is the plan's: `map`
/// checks it), a larger part never does worse, and a part too small is
/// refused naming what the smallest design exceeds.
#[test]
fn part_budget() {
    let net = nasa::model::models::default_network().unwrap();
    let nets = [net];
    let on = |part: Part| MapOptions {
        budget: Budget::Part(PartBudget {
            part,
            lut_fill: 0.85,
        }),
        ..options(0.0, Objective::Latency)
    };
    let mut cycles = Vec::new();
    for part in [Part::Ecp5_45k, Part::Ecp5_85k, Part::Xc7a100t] {
        let m = map::map(&nets, &on(part)).unwrap();
        let inv = fpga::Inventory::of(&nets, &m.arch).unwrap();
        let u = part.model().estimate(&inv);
        let cap = part.capacity();
        assert!(u.luts as f64 <= 0.85 * cap.luts as f64, "{part:?}: {u:?}");
        assert!(
            u.dsps <= cap.dsps && u.block_rams <= cap.block_rams,
            "{part:?}: {u:?}"
        );
        cycles.push(m.networks[0].cycles);
    }
    assert!(cycles[1] <= cycles[0], "{cycles:?}");
    let err = map::map(&nets, &on(Part::Up5k)).unwrap_err();
    assert!(
        err.contains("iCE40UP5K") && err.contains("SB_MAC16 (of 8)"),
        "{err}"
    );
    // Through the command line: the estimate in the JSON, a clear error
    // for a part too small, a usage error for a share out of range.
    let v = ok_json(&["map", "--fpga", "ecp5-85k", "--json"]);
    assert_eq!(v["mapping"]["budget"]["part"]["part"], "ecp5-85k");
    let ecp5 = v["mapping"]["fpga"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == "ecp5")
        .unwrap()
        .clone();
    assert!(ecp5["dsps"].as_u64().unwrap() <= 156, "{ecp5}");
    let out = nasa(&["map", "--fpga", "up5k"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && out.stdout.is_empty());
    assert!(
        err.contains("no tile-engine design fits") && err.contains("smallest design"),
        "{err}"
    );
    let out = nasa(&["map", "--fpga", "up5k", "--lut-fill", "1.5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a share in (0, 1]"));
}

/// `--pipeline --share` on the default network at 24 MAC-PE areas and a
/// 256 KiB buffer: the
/// mapper moves shift layers onto the multiply engine where that improves
/// the objective, writes the moves into the architecture (which reads back
/// the same), reports the moved layers on the conv chunk, and ends with a
/// better objective than the pipeline without moves.
#[test]
fn a_shared_pipeline_moves_shift_layers_to_the_multiply_engine() {
    let net = nasa::model::models::default_network().unwrap();
    let mut o = options(24.0, Objective::Edp);
    o.pipeline = true;
    // Moved layers cross engines, so more copies: the 128 KiB buffer
    // holds no pipeline with a move; 256 KiB does.
    o.buffer = Buffer::with_words(262144, 64);
    let plain = nasa::hw::map::map(std::slice::from_ref(&net), &o).unwrap();
    assert!(plain.arch.schedule.shift_on_multiply.is_empty());
    o.share = true;
    let shared = nasa::hw::map::map(std::slice::from_ref(&net), &o).unwrap();
    let moved = &shared.arch.schedule.shift_on_multiply;
    assert!(!moved.is_empty());
    let score = |m: &nasa::hw::map::Mapping| {
        let n = &m.networks[0];
        n.pipeline.as_ref().unwrap().period as f64 * n.energy_nj
    };
    assert!(
        score(&shared) < score(&plain),
        "{} {}",
        score(&shared),
        score(&plain)
    );
    for name in moved {
        let l = shared.networks[0]
            .layers
            .iter()
            .find(|l| &l.layer == name)
            .unwrap();
        assert_eq!(l.chunk, Some(nasa::model::quant::Kind::Conv), "{name}");
    }
    let text = shared.arch.to_toml();
    assert!(text.contains("shift_on_multiply"), "{text}");
    let back = nasa::hw::arch::Arch::parse(&text, std::path::Path::new("a.toml")).unwrap();
    assert_eq!(&back.schedule.shift_on_multiply, moved);
}

/// `--pipeline --share --fuse` on the default network at 24 MAC-PE areas
/// and a 256 KiB buffer: the mapper fuses layers with their producers
/// where that shortens a 16-image run; the run it reports is the one
/// `run_cycles` predicts for the architecture it writes (which reads back
/// the same fused layers and bands), and it is shorter than the same
/// design's run without them.
#[test]
fn a_fused_pipeline_shortens_a_run_of_images() {
    let net = nasa::model::models::default_network().unwrap();
    let mut o = options(24.0, Objective::Edp);
    o.pipeline = true;
    o.share = true;
    o.buffer = Buffer::with_words(262144, 64);
    o.fuse = Some(16);
    let fused = nasa::hw::map::map(std::slice::from_ref(&net), &o).unwrap();
    let s = &fused.arch.schedule;
    assert!(!s.fuse.is_empty() && s.bands >= 2, "{s:?}");
    let run = fused.networks[0].pipeline.as_ref().unwrap().run_cycles;
    let text = fused.arch.to_toml();
    let back = nasa::hw::arch::Arch::parse(&text, Path::new("a.toml")).unwrap();
    assert_eq!(
        (&back.schedule.fuse, back.schedule.bands),
        (&s.fuse, s.bands)
    );
    assert_eq!(map::run_cycles(&net, &back, 16), Some(run));
    let mut plain = fused.arch.clone();
    plain.schedule.fuse.clear();
    let unfused = map::run_cycles(&net, &plain, 16).unwrap();
    assert!(run < unfused, "{run} {unfused}");
}
