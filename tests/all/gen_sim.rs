//! Generated accelerators simulated bit-exact against the golden model:
//! every kind on full, pointwise, depthwise and fully connected layers with
//! edge geometries, the default network on real Fashion-MNIST images, in
//! Verilator and Icarus; the RTL is `verilator -Wall` clean; a wrong
//! expected value fails the bench and is traced to its layer.

use std::path::Path;
use std::process::Command;

use nasa::hw::arch::{Arch, Chunk};
use nasa::hw::gen::generate;
use nasa::hw::sim::{simulate, simulate_against, SimOptions, Simulator};
use nasa::hw::synth::Target;
use nasa::model::data::DatasetKind;
use nasa::model::net::{weights, Network, Op};
use nasa::model::quant::Kind;

use crate::common::{assert_predicted, lint};

fn opts(images: usize, dataset: Option<DatasetKind>, simulator: Simulator) -> SimOptions {
    SimOptions {
        images,
        dataset,
        data_dir: None,
        seed: 7,
        simulator,
        serial: false,
        build_dir: None,
        trace: None,
    }
}

/// Every geometry the issue names, in one network of one kind: stride 2 on
/// an odd 9x9 map with padding, pointwise, depthwise, a 1x1 map, channel
/// counts that are not multiples of the 3-PE array, pooling, a residual add
/// and a fully connected layer.
pub(crate) fn geometry_network(kind: Kind) -> String {
    format!(
        r#"[network]
name = "geometry-{kind}"
[input]
channels = 3
height = 9
width = 9
scale = 0.02
[[layer]]
name = "full_s2"
op = "conv2d"
kind = "{kind}"
out_channels = 5
kernel = 3
stride = 2
padding = 1
activation = "relu"
out_scale = 0.05
[[layer]]
name = "pointwise"
op = "conv2d"
kind = "{kind}"
out_channels = 7
kernel = 1
out_scale = 0.05
[[layer]]
name = "depthwise"
op = "conv2d"
kind = "{kind}"
out_channels = 7
kernel = 3
padding = 1
groups = 7
activation = "relu"
out_scale = 0.05
[[layer]]
name = "avg"
op = "avgpool"
kernel = 2
stride = 1
[[layer]]
name = "pool"
op = "maxpool"
kernel = 2
[[layer]]
name = "to_1x1"
op = "conv2d"
kind = "{kind}"
out_channels = 4
kernel = 3
stride = 2
padding = 1
out_scale = 0.05
[[layer]]
name = "on_1x1"
op = "conv2d"
kind = "{kind}"
out_channels = 4
kernel = 3
padding = 1
activation = "relu6"
out_scale = 0.05
[[layer]]
name = "res"
op = "add"
inputs = ["on_1x1", "to_1x1"]
out_scale = 0.05
[[layer]]
name = "gap"
op = "global_avgpool"
[[layer]]
name = "fc"
op = "linear"
kind = "{kind}"
out_features = 3
out_scale = 0.1
"#
    )
}

pub(crate) fn random_net(text: &str, seed: u64) -> Network {
    let mut net = Network::parse(text, Path::new("geometry.toml")).expect("valid description");
    nasa::model::randomize::randomize(&mut net, seed);
    let bytes = weights::serialize(&net);
    net.attach_weights(&bytes, Path::new("geometry.safetensors"))
        .expect("valid weights");
    net
}

fn one_chunk_arch(kind: Kind, pes: u32) -> Arch {
    let chunk = Some(Chunk { rows: 1, cols: pes });
    let text = format!(
        "[accelerator]\nname = \"t\"\n[{}]\nrows = 1\ncols = {pes}\n",
        ["clp", "slp", "alp"][kind as usize]
    );
    let arch = Arch::parse(&text, Path::new("arch.toml")).unwrap();
    assert_eq!(arch.chunk(kind).copied(), chunk);
    arch
}

/// An architecture of one chunk of `rows x cols` PEs on the given engine.
fn engine_arch(kind: Kind, rows: u32, cols: u32, engine: &str) -> Arch {
    let text = format!(
        "[accelerator]\nname = \"t\"\n[{}]\nrows = {rows}\ncols = {cols}\n[schedule]\nengine = \"{engine}\"\n",
        ["clp", "slp", "alp"][kind as usize]
    );
    Arch::parse(&text, Path::new("arch.toml")).unwrap()
}

fn run_case(net: &Network, arch: &Arch, images: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("design");
    generate(net, arch, &arch.to_toml(), "geometry", &dir).unwrap();
    lint(&dir);
    let report = simulate(&dir, &opts(images, None, Simulator::Verilator)).unwrap();
    assert!(report.pass, "{report:?}");
    assert_eq!(report.images, images);
    assert!(report.cycles_per_inference >= report.ideal_cycles as f64);
    assert_predicted(&report);
}

/// The geometry network on the tile engine (2 rows: two banks, depthwise
/// rows reading their own channels) and, for one kind, on the cache
/// controller.
fn geometry_case(kind: Kind) {
    let net = random_net(&geometry_network(kind), 11);
    run_case(&net, &engine_arch(kind, 2, 3, "tiles"), 4);
    if kind == Kind::Conv {
        run_case(&net, &engine_arch(kind, 1, 3, "cache"), 4);
    }
}

/// Grouped convolutions with several output channels per group (two and
/// four per group, and a channel multiplier of 2 on a depthwise-shaped
/// grouping), a residual add across them, on tile engines of one and two
/// rows: bit-exact and cycle-exact.
#[test]
#[ignore = "slow tier (Verilator runs); scripts/test.sh runs it"]
fn grouped_convolutions_on_the_tile_engine() {
    let text = r#"
[network]
name = "grouped"
[input]
channels = 4
height = 7
width = 5
scale = 0.02
[[layer]]
name = "g2"
op = "conv2d"
kind = "shift"
out_channels = 8
kernel = 3
padding = 1
groups = 2
activation = "relu"
out_scale = 0.05
[[layer]]
name = "g4"
op = "conv2d"
kind = "adder"
out_channels = 8
kernel = 1
groups = 4
out_scale = 0.05
[[layer]]
name = "mult2"
op = "conv2d"
kind = "conv"
out_channels = 16
kernel = 3
stride = 2
padding = 1
groups = 8
activation = "relu"
out_scale = 0.05
[[layer]]
name = "fc"
op = "linear"
kind = "conv"
out_features = 3
out_scale = 0.1
"#;
    let net = random_net(text, 21);
    for rows in [1u32, 2] {
        let arch = Arch::parse(
            &format!("[accelerator]\nname = \"g\"\n[clp]\nrows = {rows}\ncols = 3\n[slp]\nrows = {rows}\ncols = 2\n[alp]\nrows = {rows}\ncols = 4\n[schedule]\nengine = \"tiles\"\n"),
            Path::new("grouped.toml"),
        )
        .unwrap();
        run_case(&net, &arch, 3);
    }
    // Four rows do not divide two output channels per group: refused with the reason.
    let arch = Arch::parse(
        "[accelerator]\nname = \"g\"\n[clp]\nrows = 4\ncols = 1\n[slp]\nrows = 4\ncols = 1\n[alp]\nrows = 4\ncols = 1\n[schedule]\nengine = \"tiles\"\n",
        Path::new("grouped.toml"),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let err = generate(&net, &arch, &arch.to_toml(), "g", &tmp.path().join("d")).unwrap_err();
    assert!(format!("{err:#}").contains("rows (4) divide"), "{err:#}");
}

/// Random networks from seeds (property::description: odd map sizes,
/// channel counts 1 to 5 and MBConv expansions of them, kernels 1, 3 and
/// 5, stride 2 with padding, depthwise layers, pooling, residual adds,
/// global pooling to 1x1 maps and fully connected layers, all three kinds)
/// on tile engines of random shapes: bit-exact and cycle-exact.
#[test]
#[ignore = "slow tier (Verilator runs); scripts/test.sh runs it"]
fn random_networks_on_the_tile_engine() {
    let mut seen = std::collections::BTreeSet::new();
    for seed in [3u64, 14, 15, 92, 65, 35] {
        let (net, arch) = random_case(seed, "[schedule]\nengine = \"tiles\"\n");
        run_case(&net, &arch, 3);
        let plan = nasa::hw::tile::choose(&net, &arch).unwrap().unwrap();
        for l in &plan.layers {
            seen.insert(format!("{} walk", l.mode.name()));
        }
        for (i, layer) in net.layers.iter().enumerate() {
            let o = layer.out.shape;
            match &layer.op {
                Op::Conv(c) if c.linear => {
                    seen.insert("linear".to_string());
                }
                Op::Conv(c) => {
                    seen.insert(format!("kernel {}", c.kh));
                    if c.is_depthwise() {
                        seen.insert("depthwise".into());
                    }
                    if c.stride == 2 && c.padding > 0 {
                        seen.insert("stride 2, padded".into());
                    }
                }
                Op::Add { .. } => {
                    seen.insert("residual add".into());
                }
                Op::MaxPool(_) | Op::AvgPool { .. } => {
                    seen.insert("pooling".into());
                }
                _ => {}
            }
            if o.h * o.w == 1 && i + 1 < net.layers.len() {
                seen.insert("1x1 map".into());
            }
            if o.h != o.w {
                seen.insert("non-square map".into());
            }
        }
    }
    // The seeds cover what the generator can make.
    for feature in [
        "linear",
        "depthwise",
        "stride 2, padded",
        "kernel 5",
        "kernel 1",
        "kernel 3",
        "residual add",
        "pooling",
        "1x1 map",
        "non-square map",
        "row walk",
        "flat walk",
        "flat-t walk",
        "depthwise walk",
        "post walk",
        "post-vec walk",
    ] {
        assert!(
            seen.contains(feature),
            "no seed made a network with {feature}: {seen:?}"
        );
    }
}

/// The random network of `seed` (every feature the generator has) and an
/// architecture of random columns and 1, 2 or 4 rows in every chunk, with
/// `tail` (buffer and schedule sections) appended.
fn random_case(seed: u64, tail: &str) -> (Network, Arch) {
    let mut rng = nasa::model::rng::SplitMix64::new(seed);
    let choices: Vec<[u8; 5]> = (0..8)
        .map(|_| std::array::from_fn(|_| rng.next_u64() as u8))
        .collect();
    let text = crate::property::description(1 + (seed % 3) as u32, 11, 9, 8, &choices);
    let net = random_net(&text, seed);
    let mut rows = [1u32, 2, 4][rng.next_u64() as usize % 3];
    // A pipeline's engines each get their own rows.
    let per_engine = tail.contains("pipeline = true");
    let mut arch_text = "[accelerator]\nname = \"r\"\n".to_string();
    for section in ["clp", "slp", "alp"] {
        let cols = 1 + rng.next_u64() % 5;
        arch_text += &format!("[{section}]\nrows = {rows}\ncols = {cols}\n");
        if per_engine {
            rows = [1u32, 2, 4][rng.next_u64() as usize % 3];
        }
    }
    arch_text += tail;
    (
        net,
        Arch::parse(&arch_text, Path::new("random.toml")).unwrap(),
    )
}

/// A random network on a buffer too small for its live activations, and
/// the buffer's size: the first of 30%, 50% and 70% of what it needs with
/// every tensor on chip (at least 1,024 bytes) at which a streamed plan
/// fits; `None` where the network is too small to need one (its maps
/// shrink early) or none fits.
pub(crate) fn streamed_case(seed: u64) -> Option<(Network, Arch, nasa::hw::tile::Plan)> {
    let mut rng = nasa::model::rng::SplitMix64::new(seed);
    let choices: Vec<[u8; 5]> = (0..8)
        .map(|_| std::array::from_fn(|_| rng.next_u64() as u8))
        .collect();
    // Maps large enough that the activations outgrow the smallest buffer.
    let text = crate::property::description(1 + (seed % 3) as u32, 40, 36, 8, &choices);
    let net = random_net(&text, seed);
    let rows = [1u32, 2, 4][rng.next_u64() as usize % 3];
    // Lines of 4 or 8 bytes: a band's loads burst where a scratchpad word
    // holds a line, and go line by line where it does not.
    let bits = [32u32, 64][rng.next_u64() as usize % 2];
    let mut arch_text = format!(
        "[accelerator]\nname = \"s\"\n[schedule]\nengine = \"tiles\"\n[memory]\ndata_bits = {bits}\n"
    );
    for section in ["clp", "slp", "alp"] {
        let cols = 1 + rng.next_u64() % 5;
        arch_text += &format!("[{section}]\nrows = {rows}\ncols = {cols}\n");
    }
    let arch = Arch::parse(&arch_text, Path::new("streamed.toml")).unwrap();
    let geom = nasa::hw::tile::Geometry::of(&arch).unwrap();
    let whole = nasa::hw::tile::scratchpad_bytes(&net, &geom);
    for percent in [30u64, 50, 70] {
        let mut small = arch.clone();
        small.buffer.words = ((whole * percent / 100) as u32 / 64 * 64).max(1024);
        small.buffer.banks = 1;
        if let Ok(Some(plan)) = nasa::hw::tile::choose(&net, &small) {
            if !plan.streamed.iter().any(|&s| s) {
                continue;
            }
            let bytes = plan.depth * geom.word as u64 * geom.banks as u64;
            assert!(bytes <= small.buffer.words as u64, "seed {seed}: {bytes}");
            return Some((net, small, plan));
        }
    }
    None
}

/// Random networks whose activations do not fit the buffer: their largest
/// tensors stream through the scratchpad in bands of rows (loaded in read
/// bursts or line by line, stored a word a cycle). Bit-exact, every layer of the
/// first and last image as predicted (one also in Icarus), and a wrong
/// layer behind a streamed tensor is traced to that layer.
#[test]
#[ignore = "slow tier (Verilator and Icarus runs); scripts/test.sh runs it"]
fn random_networks_streamed_through_a_small_buffer() {
    let (mut banded, mut bursts) = (0, std::collections::BTreeSet::new());
    // The first three seeds whose networks stream.
    let cases: Vec<_> = (0u64..64)
        .filter_map(|seed| streamed_case(seed).map(|c| (seed, c)))
        .take(3)
        .collect();
    assert_eq!(cases.len(), 3);
    for (k, (seed, (net, arch, plan))) in cases.into_iter().enumerate() {
        // Layers cut into bands of rows, each a descriptor entry.
        banded += plan.entries.len() - net.layers.len();
        let burst = nasa::hw::tile::stream::bursts(&plan, &nasa::hw::layout::Memory::of(&arch));
        // Icarus runs the first case of each transfer mode.
        let icarus = bursts.insert(burst);
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("design");
        generate(&net, &arch, &arch.to_toml(), "streamed", &dir).unwrap();
        lint(&dir);
        let report = simulate(&dir, &opts(3, None, Simulator::Verilator)).unwrap();
        assert!(report.pass, "seed {seed}: {report:?}");
        assert_predicted(&report);
        if icarus {
            let report = simulate(&dir, &opts(1, None, Simulator::Icarus)).unwrap();
            assert!(report.pass, "seed {seed}, Icarus: {report:?}");
            assert_predicted(&report);
        }
        if k == 0 {
            // A golden model that disagrees in the first conv layer whose
            // output is streamed is traced to that layer.
            let i = (0..net.layers.len())
                .find(|&i| plan.streamed[i + 1] && matches!(net.layers[i].op, Op::Conv(_)))
                .expect("a streamed conv output");
            let mut other = net.clone();
            let Op::Conv(c) = &mut other.layers[i].op else {
                unreachable!()
            };
            c.bias[0] += 1 << 20;
            let report =
                simulate_against(&dir, &other, &arch, &opts(1, None, Simulator::Verilator))
                    .unwrap();
            assert!(!report.pass);
            let m = report.first_mismatch.expect("a located mismatch");
            assert_eq!(
                (m.layer.as_str(), m.channel),
                (net.layers[i].name.as_str(), 0),
                "{m:?}"
            );
        }
    }
    assert!(banded > 0, "no layer was cut into bands");
    // Both transfer modes: read bursts and line by line.
    assert_eq!(bursts.len(), 2, "{bursts:?}");
}

/// Random networks on tile pipelines (one engine per kind, each with its
/// own rows, images in flight, activations handed between engines through
/// channel memories): bit-exact (one also in Icarus), and every layer of
/// every image ends when the model says, pipelined and serial.
#[test]
#[ignore = "slow tier (Verilator runs); scripts/test.sh runs it"]
fn random_networks_on_the_tile_pipeline() {
    let mut engines = std::collections::BTreeSet::new();
    let mut uneven = 0;
    for seed in [14u64, 92, 35] {
        let (net, arch) = random_case(
            seed,
            "[buffer]\nwords = 1048576\n[schedule]\npipeline = true\nengine = \"tiles\"\n",
        );
        let pipe = nasa::hw::tile::choose_pipe(&net, &arch).unwrap().unwrap();
        engines.insert(pipe.engines.len());
        let g = pipe.tile.geometry;
        uneven += pipe.engines.iter().any(|e| g.rows_of(e.kind) != g.banks) as usize;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("design");
        generate(&net, &arch, &arch.to_toml(), "piped", &dir).unwrap();
        lint(&dir);
        for serial in [false, true] {
            let o = SimOptions {
                serial,
                ..opts(3, None, Simulator::Verilator)
            };
            let report = simulate(&dir, &o).unwrap();
            assert!(report.pass, "seed {seed}: {report:?}");
            crate::common::assert_pipeline_exact(&report);
        }
        if seed == 14 {
            let report = simulate(&dir, &opts(2, None, Simulator::Icarus)).unwrap();
            assert!(report.pass, "seed {seed}, Icarus: {report:?}");
            crate::common::assert_pipeline_exact(&report);
        }
    }
    // Some of the networks hand tensors between three engines, and some
    // between engines of different rows.
    assert!(engines.contains(&3), "{engines:?}");
    assert!(
        uneven > 0,
        "every pipeline had the same rows in every engine"
    );
    // One kind: a pipeline of one engine, which no channel reads or writes.
    let net = random_net(&geometry_network(Kind::Adder), 11);
    let arch = Arch::parse(
        "[accelerator]\nname = \"one\"\n[alp]\nrows = 2\ncols = 3\n[schedule]\npipeline = true\nengine = \"tiles\"\n",
        Path::new("one.toml"),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("one");
    generate(&net, &arch, &arch.to_toml(), "one", &dir).unwrap();
    lint(&dir);
    let report = simulate(&dir, &opts(2, None, Simulator::Verilator)).unwrap();
    assert!(report.pass, "{report:?}");
    crate::common::assert_pipeline_exact(&report);
}

/// Global average pooling of a non-square map (7 x 3): the cycle model
/// once priced it as if the map were 7 x 7 (116 cycles against 60).
#[test]
#[ignore = "slow tier (Verilator, Icarus and Yosys runs); scripts/test.sh runs it"]
fn global_pooling_of_a_non_square_map_is_predicted() {
    let text = r#"
[network]
name = "gap73"
[input]
channels = 1
height = 7
width = 3
bits = 8
scale = 0.0078125
[[layer]]
name = "c"
op = "conv2d"
kind = "conv"
out_channels = 2
kernel = 1
out_scale = 0.05
[[layer]]
name = "gap"
op = "global_avgpool"
"#;
    let net = random_net(text, 5);
    let arch = one_chunk_arch(Kind::Conv, 2);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("design");
    generate(&net, &arch, &arch.to_toml(), "gap73", &dir).unwrap();
    let report = simulate(&dir, &opts(2, None, Simulator::Verilator)).unwrap();
    assert!(report.pass, "{report:?}");
    assert_predicted(&report);
}

#[test]
#[ignore = "slow tier (Verilator, Icarus and Yosys runs); scripts/test.sh runs it"]
fn conv_kind_all_geometries_bit_exact() {
    geometry_case(Kind::Conv);
}

#[test]
#[ignore = "slow tier (Verilator, Icarus and Yosys runs); scripts/test.sh runs it"]
fn shift_kind_all_geometries_bit_exact() {
    geometry_case(Kind::Shift);
}

#[test]
#[ignore = "slow tier (Verilator, Icarus and Yosys runs); scripts/test.sh runs it"]
fn adder_kind_all_geometries_bit_exact() {
    geometry_case(Kind::Adder);
}

#[test]
#[ignore = "slow tier (Verilator, Icarus and Yosys runs); scripts/test.sh runs it"]
fn default_network_on_fashion_mnist_and_failing_bench() {
    // The design the main job builds (`nasa map --budget 24`): the mapper's
    // tile design, not `nasa size`'s one-row design, which simulates about
    // x1.7 more cycles, ten times slower.
    let net = nasa::model::models::default_network().unwrap();
    let options = nasa::hw::map::MapOptions {
        budget: nasa::hw::map::Budget::PeArea(24.0),
        objective: nasa::hw::map::Objective::Edp,
        buffer: Default::default(),
        memory: Default::default(),
        clock_mhz: 250.0,
        energy: Default::default(),
        name: "default".into(),
        pipeline: false,
        engine: Default::default(),
        share: false,
        fuse: None,
    };
    let mapping = nasa::hw::map::map(std::slice::from_ref(&net), &options).unwrap();
    assert_eq!(mapping.engine, "tiles");
    let arch = mapping.arch;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("default");
    generate(&net, &arch, &arch.to_toml(), "default", &dir).unwrap();
    lint(&dir);
    let report = simulate(
        &dir,
        &opts(16, Some(DatasetKind::FashionMnist), Simulator::Verilator),
    )
    .unwrap();
    assert!(
        report.pass && report.mismatches == 0 && report.images == 16,
        "{report:?}"
    );
    assert!(report.pe_utilization > 0.0 && report.pe_utilization <= 1.0);
    assert_predicted(&report);

    // The bench must fail when one expected value is wrong.
    let path = dir.join("expected.hex");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let v = u8::from_str_radix(&lines[3], 16).unwrap();
    lines[3] = format!("{:02x}", v ^ 0x01);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    // (The wrong value is image 0's, so one image shows it.)
    let out = Command::new(dir.join("obj_dir/Vtb"))
        .current_dir(&dir)
        .arg("+images=1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("MISMATCH image=0 output=3"), "{stdout}");
    assert!(stdout.contains("mismatches=1 "), "{stdout}");

    // A golden model that disagrees in one channel of one layer is traced
    // to that layer and channel.
    let mut other = net.clone();
    let stem = other.layers.iter_mut().find(|l| l.name == "stem").unwrap();
    let Op::Conv(c) = &mut stem.op else { panic!() };
    c.bias[2] += 1 << 20;
    let report = simulate_against(
        &dir,
        &other,
        &arch,
        &opts(2, Some(DatasetKind::FashionMnist), Simulator::Verilator),
    )
    .unwrap();
    assert!(!report.pass);
    let m = report.first_mismatch.expect("a located mismatch");
    assert_eq!(
        (m.image, m.layer.as_str(), m.channel),
        (0, "stem", 2),
        "{m:?}"
    );
}

#[test]
#[ignore = "slow tier (Verilator, Icarus and Yosys runs); scripts/test.sh runs it"]
fn icarus_runs_the_same_bench_with_the_same_result() {
    let net = random_net(&geometry_network(Kind::Shift), 5);
    let arch = one_chunk_arch(Kind::Shift, 2);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ic");
    generate(&net, &arch, &arch.to_toml(), "ic", &dir).unwrap();
    let a = simulate(&dir, &opts(2, None, Simulator::Icarus)).unwrap();
    let b = simulate(&dir, &opts(2, None, Simulator::Verilator)).unwrap();
    assert!(a.pass && b.pass, "{a:?} {b:?}");
    assert_eq!(a.cycles_per_inference, b.cycles_per_inference);
    assert_predicted(&a);
    assert_predicted(&b);
}

#[test]
#[ignore = "slow tier (Verilator, Icarus and Yosys runs); scripts/test.sh runs it"]
fn generation_is_deterministic_and_stamped() {
    let net = nasa::model::net::Network::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/features"
    )))
    .unwrap();
    let arch = nasa::hw::arch::size(&net, 24, "default").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    generate(&net, &arch, &arch.to_toml(), "same", &a).unwrap();
    generate(&net, &arch, &arch.to_toml(), "same", &b).unwrap();
    let mut names: Vec<_> = std::fs::read_dir(&a)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert!(names.len() >= 12);
    for n in &names {
        assert_eq!(
            std::fs::read(a.join(n)).unwrap(),
            std::fs::read(b.join(n)).unwrap(),
            "{n:?} differs"
        );
    }
    let top = std::fs::read_to_string(a.join("nasa_top.v")).unwrap();
    assert!(top.contains(&net.provenance.description_sha256));
    let desc = std::fs::read_to_string(a.join("desc.hex")).unwrap();
    assert!(desc.starts_with("// nasa ") && desc.contains(&net.provenance.description_sha256));
    // An edited file is refused by the simulator.
    std::fs::write(a.join("par.hex"), "00\n").unwrap();
    let err = simulate(&a, &opts(1, None, Simulator::Verilator)).unwrap_err();
    assert!(
        format!("{err:#}").contains("changed since generation"),
        "{err:#}"
    );
}

#[test]
#[ignore = "slow tier (Verilator, Icarus and Yosys runs); scripts/test.sh runs it"]
fn synthesis_reports_every_chunk() {
    let net = random_net(&geometry_network(Kind::Adder), 3);
    let text = "[accelerator]\nname = \"s\"\n[alp]\nrows = 1\ncols = 2\n[buffer]\nwords = 4096\n";
    let arch = Arch::parse(text, Path::new("arch.toml")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s");
    generate(&net, &arch, text, "s", &dir).unwrap();
    let report = nasa::hw::synth::synthesize(&dir, &Default::default())
        .expect("yosys synth and synth_xilinx succeed");
    let xilinx = report.target(Target::Xilinx).unwrap();
    let generic = report.target(Target::Generic).unwrap();
    let adder = &xilinx.chunks["adder"].resources;
    assert_eq!(xilinx.chunks["adder"].pes, 2);
    assert_eq!(generic.chunks["adder"].pes, 2);
    assert!(adder.luts > 0 && generic.chunks["adder"].resources.cells > 0);
    assert!(xilinx.total.luts > adder.luts, "the controller adds logic");
    assert!(xilinx.total.flip_flops > 0);
    assert!(xilinx.total.block_rams > 0);
    assert!(generic.total.cells > generic.chunks["adder"].resources.cells);
    assert!(xilinx.place_and_route.is_none());
}

#[test]
#[ignore = "slow tier (Verilator, Icarus and Yosys runs); scripts/test.sh runs it"]
fn network_larger_than_the_global_buffer() {
    // The features network's activations take 13,328 bytes and its weights
    // 2,440; a 1 KiB global buffer (64 lines of 16 bytes) of the cache
    // controller holds a fraction, so reads miss and refill from external
    // memory. (With `engine = "auto"` the tile engine streams it instead.)
    let net = nasa::model::net::Network::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/features"
    )))
    .unwrap();
    let acts: usize = (0..=net.layers.len())
        .map(|i| net.tensor(i).shape.len())
        .sum();
    let text = "[accelerator]\nname = \"small\"\n[clp]\nrows = 2\ncols = 2\n[slp]\nrows = 2\ncols = 2\n[alp]\nrows = 2\ncols = 3\n[buffer]\nwords = 1024\nbanks = 1\n[memory]\ndata_bits = 128\n[schedule]\nengine = \"cache\"\n";
    let arch = Arch::parse(text, Path::new("small.toml")).unwrap();
    assert!(
        acts > 10 * arch.buffer.words as usize,
        "{acts} bytes of activations"
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("small");
    generate(&net, &arch, text, "small", &dir).unwrap();
    lint(&dir);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["cache"]["lines"], 64);
    let report = simulate(
        &dir,
        &opts(4, Some(DatasetKind::FashionMnist), Simulator::Verilator),
    )
    .unwrap();
    assert!(report.pass, "{report:?}");
    // Output writes evict input lines here; the exact walk follows them.
    assert_predicted(&report);
}

/// A design's parameter words hold as many channels as its engine drains
/// per cycle (its rows / 8, at least 1), whichever chunks it has: a
/// shift-only design of 16 rows drains 2 rows a cycle, layer by layer and
/// pipelined (session 13 first took the multiply chunk's rows, which this
/// design lacks, and packed one channel a word).
#[test]
fn parameter_words_follow_the_engines_rows() {
    let net = random_net(&geometry_network(Kind::Shift), 11);
    for (file, schedule) in [
        ("par.hex", "engine = \"tiles\"\n"),
        ("par_shift.hex", "pipeline = true\n"),
    ] {
        let text = format!(
            "[accelerator]\nname = \"p\"\n[slp]\nrows = 16\ncols = 2\n[buffer]\nwords = 1048576\n[schedule]\n{schedule}"
        );
        let arch = Arch::parse(&text, Path::new("p.toml")).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        generate(&net, &arch, &arch.to_toml(), "p", &dir).unwrap();
        let par = std::fs::read_to_string(dir.join(file)).unwrap();
        let words: Vec<&str> = par.lines().filter(|l| !l.starts_with("//")).collect();
        assert!(!words.is_empty());
        for w in words {
            assert_eq!(w.len(), 2 * 18, "{file}: {w}");
        }
    }
}

/// A simulation without a build directory keeps its Verilator build in the
/// design's `obj_dir`, keyed by the sources: a second run reuses it, and a
/// run after a hand edit of the RTL (which `simulate` refuses, and
/// `simulate_against`, the tests' entry, allows) builds again; it used to
/// run the old build. (`nasa gen` into the same directory replaces it
/// whole, `obj_dir` included.)
#[test]
#[ignore = "slow tier (Verilator runs); scripts/test.sh runs it"]
fn an_edited_design_is_built_again() {
    let net = random_net(&geometry_network(Kind::Conv), 11);
    let arch = engine_arch(Kind::Conv, 2, 3, "tiles");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("design");
    generate(&net, &arch, &arch.to_toml(), "edited", &dir).unwrap();
    let o = opts(1, None, Simulator::Verilator);
    let built = || {
        std::fs::metadata(dir.join("obj_dir/Vtb"))
            .unwrap()
            .modified()
            .unwrap()
    };
    assert!(simulate(&dir, &o).unwrap().pass);
    let first = built();
    assert!(simulate(&dir, &o).unwrap().pass);
    assert_eq!(built(), first, "the same sources reuse their build");
    let top = dir.join("nasa_top.v");
    let mut text = std::fs::read_to_string(&top).unwrap();
    text.push_str("// edited by hand\n");
    std::fs::write(&top, text).unwrap();
    assert!(simulate_against(&dir, &net, &arch, &o).unwrap().pass);
    assert_ne!(built(), first, "an edited source is built again");
}
