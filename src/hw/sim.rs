//! Simulation of a generated design: golden inputs and expected outputs,
//! a Verilator (or Icarus Verilog) build driven with `std::process::Command`,
//! the self-checking testbench's verdict, and on a mismatch the first
//! differing layer, channel and position, found by comparing the design's
//! activation buffer with the golden model's tensors.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::hw::arch::Arch;
use crate::hw::gen::{ideal_cycles, MANIFEST};
use crate::model::data::DatasetKind;
use crate::model::dump::hex;
use crate::model::golden::{self, Int};
use crate::model::net::Network;
use crate::model::rng::SplitMix64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Simulator {
    Verilator,
    Icarus,
}

#[derive(Debug, Clone)]
pub struct SimOptions {
    pub images: usize,
    pub dataset: Option<DatasetKind>,
    pub data_dir: Option<PathBuf>,
    pub seed: u64,
    pub simulator: Simulator,
    /// Pipelined designs only: run one layer at a time (the layer-by-layer
    /// baseline of the same hardware).
    pub serial: bool,
    /// Keep Verilator builds here, one folder per distinct set of sources
    /// (named by their SHA-256), so that a design generated again with the
    /// same files reuses its build; `None`: the design's own `obj_dir`.
    pub build_dir: Option<PathBuf>,
    /// Write a waveform of the run (`nasa sim --trace`).
    pub trace: Option<Trace>,
}

/// A waveform of a simulation: FST or VCD by the file's extension, of the
/// whole bench (every signal under `tb`, named as in the RTL), limited to a
/// window of one image's cycles (a pipelined run's cycles count from the
/// run's start, a layer-by-layer run's from each image's).
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub file: PathBuf,
    pub window: TraceWindow,
    /// The image the window is in.
    pub image: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TraceWindow {
    /// The whole run.
    All,
    /// One layer (by name), by the model's cycles (which equal the
    /// design's).
    Layer(String),
    /// The design's cycle counter in `[from, to)`.
    Cycles(u64, u64),
}

/// What a run wrote as its waveform.
#[derive(Debug, Clone, Serialize)]
pub struct TraceInfo {
    pub file: PathBuf,
    pub format: &'static str,
    pub image: usize,
    /// The window, in the design's cycles.
    pub from: u64,
    pub to: Option<u64>,
}

impl Trace {
    fn format(&self) -> Result<&'static str> {
        match self.file.extension().and_then(|e| e.to_str()) {
            Some("fst") => Ok("fst"),
            Some("vcd") => Ok("vcd"),
            _ => bail!(
                "{}: a trace file must end in .fst or .vcd (the format follows the extension)",
                self.file.display()
            ),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Mismatch {
    pub image: usize,
    pub layer: String,
    pub channel: usize,
    pub y: usize,
    pub x: usize,
    pub got: i64,
    pub expected: i64,
    /// When the layer that wrote the value started, in the design's cycles
    /// (image `image`'s in a layer-by-layer run, the run's in a pipelined
    /// one), by the model; and how to see it in a waveform.
    pub layer_start: u64,
    pub trace_hint: String,
}

/// Cycles of one layer for the first image: measured by the testbench and
/// predicted by the mapper's model (`map::cycles`).
#[derive(Debug, Clone, Serialize)]
pub struct LayerCycles {
    pub layer: String,
    pub op: &'static str,
    pub measured: u64,
    pub predicted: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SimReport {
    pub pass: bool,
    pub images: usize,
    pub mismatches: u64,
    pub cycles_per_inference: f64,
    /// The mapper's prediction of `cycles_per_inference`.
    pub predicted_cycles: f64,
    pub ideal_cycles: u64,
    pub pe_utilization: f64,
    pub simulator: Simulator,
    pub first_mismatch: Option<Mismatch>,
    /// The waveform the run wrote (`--trace`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<TraceInfo>,
    /// Per layer, in execution order, for the last image (the steady
    /// state when more than one runs: the activations stay cached)...
    pub layers: Vec<LayerCycles>,
    /// ...and for the first image, which starts from an empty buffer.
    /// (Pipelined designs: only with `serial`, each layer counted from the
    /// previous layer's end.)
    pub first_image_layers: Vec<LayerCycles>,
    /// Tile-engine designs: the input's load from external memory, which
    /// the first layer's cycles include (last image).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_load: Option<LayerCycles>,
    /// Pipelined designs: the run image by image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<PipelineRun>,
}

/// A pipelined design's run: when each image's output was written, measured
/// and by the model (`tile::pipe::predict_run`).
#[derive(Debug, Clone, Serialize)]
pub struct PipelineRun {
    pub serial: bool,
    pub image_ends: Vec<u64>,
    pub predicted_image_ends: Vec<u64>,
    /// Per image, per layer: when it ended, measured and predicted.
    pub layer_ends: Vec<Vec<u64>>,
    pub predicted_layer_ends: Vec<Vec<u64>>,
    /// The model's steady-state cycles per image (its busiest engine).
    pub predicted_period: u64,
    pub engines: Vec<crate::hw::rounds::EngineWork>,
}

/// The network and architecture a design directory was generated from,
/// checked against the hashes in its manifest.
pub fn load_design(dir: &Path) -> Result<(Network, Arch)> {
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(MANIFEST)).with_context(|| {
            format!("{}: not a generated design (no {MANIFEST})", dir.display())
        })?,
    )
    .with_context(|| format!("{}: malformed", dir.join(MANIFEST).display()))?;
    if manifest["format"] != "nasa-gen-1" {
        bail!(
            "{}: unknown manifest format {}",
            dir.join(MANIFEST).display(),
            manifest["format"]
        );
    }
    for (file, hash) in manifest["files"].as_object().into_iter().flatten() {
        let bytes = std::fs::read(dir.join(file))
            .with_context(|| format!("{}: missing", dir.join(file).display()))?;
        if Some(crate::model::net::sha256_hex(&bytes).as_str()) != hash.as_str() {
            bail!("{}: changed since generation (sha256 differs from {MANIFEST}); regenerate the design", dir.join(file).display());
        }
    }
    let text = std::fs::read_to_string(dir.join("network.toml"))?;
    let weights = std::fs::read(dir.join("weights.safetensors"))?;
    let net = Network::from_sources(
        &text,
        &dir.join("network.toml"),
        &weights,
        &dir.join("weights.safetensors"),
    )?;
    let arch = Arch::load(&dir.join("arch.toml"))?;
    Ok((net, arch))
}

fn write_hex(path: &Path, values: &[Vec<i64>]) -> Result<()> {
    let mut text = String::new();
    for v in values.iter().flatten() {
        let _ = writeln!(text, "{}", hex(*v, 8));
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn run(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd.output().with_context(|| {
        format!("cannot run {what}; is it installed (apt-get install verilator iverilog)?")
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(stdout)
}

/// The waveform a run writes: its absolute path (the bench runs in the
/// design's directory) and its window in the first image's cycles, a
/// layer's from the model.
fn trace_window(
    t: &Trace,
    net: &Network,
    arch: &Arch,
    pipe: Option<&crate::hw::tile::pipe::Pipe>,
    (images, serial): (usize, bool),
) -> Result<TraceInfo> {
    let format = t.format()?;
    if t.image >= images {
        bail!("--trace-image {}: the run has {images} images", t.image);
    }
    let file = std::path::absolute(&t.file)?;
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let (from, to) = match &t.window {
        TraceWindow::All => (0, None),
        TraceWindow::Cycles(a, b) => {
            if a >= b {
                bail!("--trace-cycles {a}..{b}: the window is empty");
            }
            (*a, Some(*b))
        }
        TraceWindow::Layer(name) => {
            let Some(l) = net.layers.iter().position(|x| &x.name == name) else {
                bail!(
                    "--trace-layer {name}: no such layer (the network's layers: {})",
                    net.layers
                        .iter()
                        .map(|x| x.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            };
            let (start, end) = layer_window(net, arch, pipe, serial, (images, t.image), l);
            (start, Some(end))
        }
    };
    Ok(TraceInfo {
        file,
        format,
        image: t.image,
        from,
        to,
    })
}

/// When layer `l` of image `image` (of a run of `images`) starts and ends,
/// in the design's cycles
/// (a pipelined run's from its start, a layer-by-layer run's from the
/// image's), by the model: from the previous layer's end to its own (in a
/// pipelined run a layer waits for the previous one's output, except a
/// fused band, which the window then starts late for).
pub fn layer_window(
    net: &Network,
    arch: &Arch,
    pipe: Option<&crate::hw::tile::pipe::Pipe>,
    serial: bool,
    (images, image): (usize, usize),
    l: usize,
) -> (u64, u64) {
    let ends: Vec<u64> = match pipe {
        Some(p) => {
            let memory = crate::hw::layout::Memory::of(arch);
            crate::hw::tile::pipe::predict_run(net, p, &memory, images, serial).swap_remove(image)
        }
        None => crate::hw::map::cycles::predict_images(net, arch, images)
            .swap_remove(image)
            .iter()
            .scan(0u64, |end, c| {
                *end += c.cycles;
                Some(*end)
            })
            .collect(),
    };
    (if l == 0 { 0 } else { ends[l - 1] }, ends[l])
}

/// Runs the testbench and returns what it printed, which holds a readable
/// RESULT line. The testbench exits non-zero on a mismatch or a timeout
/// (`$fatal`), so that FuseSoC and scripts see a failed run; the exit
/// status is checked against the RESULT line.
fn run_bench(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd.output().with_context(|| {
        format!("cannot run {what}; is it installed (apt-get install verilator iverilog)?")
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if let Some(line) = stdout.lines().find(|l| l.starts_with("TIMEOUT")) {
        bail!("the design did not finish: {line}");
    }
    // The AXI bench's protocol checkers and register checks.
    if let Some(line) = stdout.lines().find(|l| l.starts_with("PROTOCOL")) {
        bail!("{what}: AXI protocol violation: {line}");
    }
    if let Some(line) = stdout.lines().find(|l| l.starts_with("ERROR")) {
        bail!("{what}: {line}");
    }
    let Some(result) = stdout.lines().find(|l| l.starts_with("RESULT")) else {
        bail!(
            "{what}: the testbench printed no RESULT line ({}):\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let mismatches = field(result, "mismatches").unwrap_or(-1);
    if mismatches < 0 || field(result, "cycles").is_none() {
        bail!("{what}: unreadable testbench result: {result}");
    }
    if out.status.success() != (mismatches == 0) {
        bail!(
            "{what}: the testbench's exit status ({}) disagrees with its result ({result})",
            out.status
        );
    }
    Ok(stdout)
}

/// Builds the testbench (if needed) and returns the command that runs it.
/// `trace` (`fst` or `vcd`): a build that can write that waveform (a
/// Verilator build of its own, kept apart from the plain one, which stays
/// free of tracing code).
fn build(
    dir: &Path,
    simulator: Simulator,
    build_dir: Option<&Path>,
    trace: Option<&str>,
) -> Result<Command> {
    build_bench(dir, Bench::Plain, simulator, build_dir, trace)
}

/// Which testbench a build is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bench {
    /// `tb.v`: the accelerator on its own memory port.
    Plain,
    /// `tb_axi.v`: the AXI4 wrapper, with the AXI memory model and checkers.
    Axi,
}

/// Inside a Verilator build directory: the key of the sources it was built from.
const BUILD_KEY_FILE: &str = "nasa_build.sha256";

fn build_bench(
    dir: &Path,
    bench: Bench,
    simulator: Simulator,
    build_dir: Option<&Path>,
    trace: Option<&str>,
) -> Result<Command> {
    let files = std::fs::read_to_string(dir.join("files.f"))?;
    let mut sources: Vec<String> = files.lines().map(str::to_string).collect();
    let top = match bench {
        Bench::Plain => {
            sources.push("tb.v".into());
            sources.push(crate::hw::gen::EXT_MEM_FILE.into());
            "tb"
        }
        Bench::Axi => {
            use crate::hw::gen::axi;
            for f in [axi::AXI_FILE, axi::TB_FILE, axi::MEM_FILE, axi::CHECK_FILE] {
                sources.push(f.into());
            }
            "tb_axi"
        }
    };
    match simulator {
        Simulator::Verilator => {
            let trace_args: &[&str] = match trace {
                Some("fst") => &["--trace-fst"],
                Some(_) => &["--trace"],
                None => &[],
            };
            // The build's key: its options and every source's name and text.
            let mut text = Vec::new();
            for a in trace_args {
                text.extend_from_slice(a.as_bytes());
                text.push(0);
            }
            for name in &sources {
                text.extend_from_slice(name.as_bytes());
                text.push(0);
                text.extend(std::fs::read(dir.join(name))?);
                text.push(0);
            }
            let key = crate::model::net::sha256_hex(&text);
            let mdir = match build_dir {
                // Absolute: Verilator runs in the design's directory.
                None => std::path::absolute(dir.join(match (trace, bench) {
                    (Some(f), _) => format!("obj_dir_trace_{f}"),
                    (None, Bench::Plain) => "obj_dir".into(),
                    (None, Bench::Axi) => "obj_dir_axi".into(),
                }))?,
                Some(cache) => {
                    std::fs::create_dir_all(cache)
                        .with_context(|| format!("creating {}", cache.display()))?;
                    std::path::absolute(cache.join(format!("verilator-{}", &key[..16])))?
                }
            };
            let exe = mdir.join("Vtb");
            // A build of other sources (the design's own directory, edited
            // since) is built again.
            let stamp = mdir.join(BUILD_KEY_FILE);
            if exe.exists() && std::fs::read_to_string(&stamp).ok().as_deref() != Some(key.as_str())
            {
                std::fs::remove_dir_all(&mdir)
                    .with_context(|| format!("removing the stale build {}", mdir.display()))?;
            }
            if !exe.exists() {
                // Build beside the target and rename, so that a build cut
                // short is never taken for a finished one.
                let tmp = mdir.with_extension(format!("tmp{}", std::process::id()));
                let _ = std::fs::remove_dir_all(&tmp);
                let mut c = Command::new("verilator");
                c.current_dir(dir)
                    .args([
                        "--binary",
                        "-j",
                        "2",
                        "--top-module",
                        top,
                        "-Wno-fatal",
                        "-o",
                        "Vtb",
                    ])
                    .args(trace_args)
                    .arg("-Mdir")
                    .arg(&tmp)
                    .args(&sources);
                // Share the compiled Verilator runtime between builds when
                // ccache is there (verilated.mk reads OBJCACHE).
                if std::env::var_os("OBJCACHE").is_none()
                    && crate::model::fsutil::on_path("ccache").is_some()
                {
                    c.env("OBJCACHE", "ccache");
                }
                run(&mut c, "verilator")?;
                std::fs::write(tmp.join(BUILD_KEY_FILE), &key)?;
                if std::fs::rename(&tmp, &mdir).is_err() {
                    if mdir.join("Vtb").exists() {
                        // Another run finished the same build first: keep its.
                        let _ = std::fs::remove_dir_all(&tmp);
                    } else {
                        // The remains of a build cut short.
                        std::fs::remove_dir_all(&mdir)?;
                        std::fs::rename(&tmp, &mdir)?;
                    }
                }
            }
            let mut c = Command::new(exe.canonicalize()?);
            c.current_dir(dir);
            Ok(c)
        }
        Simulator::Icarus => {
            let mut c = Command::new("iverilog");
            c.current_dir(dir)
                .args(["-g2012", "-s", top, "-o", &format!("{top}.vvp")])
                .args(&sources);
            run(&mut c, "iverilog")?;
            let mut c = Command::new("vvp");
            c.current_dir(dir).args(["-n", &format!("{top}.vvp")]);
            if trace == Some("fst") {
                c.arg("-fst");
            }
            Ok(c)
        }
    }
}

fn field(line: &str, key: &str) -> Option<i64> {
    line.split_whitespace()
        .find_map(|t| t.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

/// The images of a run: `opts.images` of the test set, or seeded random ones.
fn run_inputs(net: &Network, opts: &SimOptions) -> Result<Vec<Vec<i64>>> {
    Ok(match opts.dataset {
        Some(kind) => {
            let mut set = crate::model::eval::test_set(net, kind, opts.data_dir.as_deref(), None)?;
            if opts.images > set.len() {
                bail!(
                    "asked for {} images but the {kind} test set holds {}",
                    opts.images,
                    set.len()
                );
            }
            set.truncate(opts.images);
            (0..set.len())
                .map(|i| golden::quantize_image(net, set.image(i)))
                .collect()
        }
        None => crate::model::randomize::random_inputs(
            net,
            opts.images,
            &mut SplitMix64::new(opts.seed),
        ),
    })
}

/// How the AXI testbench's memory waits (`nasa sim --axi`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AxiWaits {
    /// Seed of the memory model's wait states.
    pub seed: u32,
    /// The longest wait, in cycles, before each handshake.
    pub max_wait: u8,
}

/// A run of the AXI4-wrapped design (`nasa sim --axi`).
#[derive(Debug, Clone, Serialize)]
pub struct AxiReport {
    pub pass: bool,
    pub images: usize,
    pub mismatches: u64,
    /// The CYCLES register at the end: clock cycles from START to done,
    /// the weights' load included, at these wait states.
    pub cycles: u64,
    /// The accelerator's own cycles at the fixed-latency memory of the
    /// plain testbench (the model's), for all the images.
    pub model_cycles: u64,
    pub wait_seed: u32,
    pub max_wait: u8,
    pub simulator: Simulator,
    /// The master's AXI4 transactions, those of more than one beat, and
    /// the data beats of all.
    pub transactions: u64,
    pub bursts: u64,
    pub beats: u64,
    /// Bursts ending exactly on a 4 KB boundary (where a request that
    /// would cross one is split).
    pub bursts_to_4k: u64,
}

/// Runs the AXI4-wrapped design (`nasa_axi.v`) on `opts.images` inputs: a
/// host on AXI4-Lite, an AXI4 memory with random wait states, protocol
/// checkers on both interfaces; bit-exact against the golden model.
pub fn simulate_axi(dir: &Path, opts: &SimOptions, waits: AxiWaits) -> Result<AxiReport> {
    let (net, arch) = load_design(dir)?;
    simulate_axi_against(dir, &net, &arch, opts, waits)
}

/// Like [`simulate_axi`], with the expected outputs computed from `net`.
pub fn simulate_axi_against(
    dir: &Path,
    net: &Network,
    arch: &Arch,
    opts: &SimOptions,
    waits: AxiWaits,
) -> Result<AxiReport> {
    use crate::hw::gen::axi;
    if !dir.join(axi::AXI_FILE).exists() {
        bail!(
            "{}: this design has no AXI4 wrapper ({}); only tile designs have one (the cache engine has none)",
            dir.display(),
            axi::AXI_FILE
        );
    }
    if opts.images == 0 || opts.images as u64 > axi::MAX_IMAGES {
        bail!(
            "the AXI testbench takes 1 to {} images; asked for {}",
            axi::MAX_IMAGES,
            opts.images
        );
    }
    let inputs = run_inputs(net, opts)?;
    let expected = golden::infer_batch(net, &inputs);
    write_hex(&dir.join("input.hex"), &inputs)?;
    write_hex(&dir.join("expected.hex"), &expected)?;
    let mut cmd = build_bench(
        dir,
        Bench::Axi,
        opts.simulator,
        opts.build_dir.as_deref(),
        None,
    )?;
    cmd.arg(format!("+images={}", opts.images))
        .arg(format!("+seed={}", waits.seed))
        .arg(format!("+max_wait={}", waits.max_wait));
    let stdout = run_bench(&mut cmd, "the AXI simulation")?;
    let result = stdout
        .lines()
        .find(|l| l.starts_with("RESULT"))
        .unwrap_or_default();
    let mismatches = field(result, "mismatches").unwrap_or(-1);
    let ran = arch.runs(net)?;
    // A pipeline's whole run; a layer-by-layer design's images one by one.
    let model_cycles = match crate::hw::tile::choose_pipe(&ran, arch)? {
        Some(p) => crate::hw::tile::pipe::predict_total(
            &ran,
            &p,
            &crate::hw::layout::Memory::of(arch),
            opts.images,
            false,
        ),
        None => crate::hw::map::cycles::predict_images(&ran, arch, opts.images)
            .iter()
            .flatten()
            .map(|c| c.cycles)
            .sum(),
    };
    let traffic = stdout
        .lines()
        .find(|l| l.starts_with("AXI "))
        .unwrap_or_default();
    Ok(AxiReport {
        transactions: field(traffic, "transactions").unwrap_or(0) as u64,
        bursts: field(traffic, "bursts").unwrap_or(0) as u64,
        beats: field(traffic, "beats").unwrap_or(0) as u64,
        bursts_to_4k: field(traffic, "bursts_to_4k").unwrap_or(0) as u64,
        pass: mismatches == 0,
        images: opts.images,
        mismatches: mismatches.max(0) as u64,
        cycles: field(result, "cycles").unwrap_or(0) as u64,
        model_cycles,
        wait_seed: waits.seed,
        max_wait: waits.max_wait,
        simulator: opts.simulator,
    })
}

/// Runs the design's testbench on `opts.images` inputs against the golden model.
pub fn simulate(dir: &Path, opts: &SimOptions) -> Result<SimReport> {
    let (net, arch) = load_design(dir)?;
    simulate_against(dir, &net, &arch, opts)
}

/// Like [`simulate`], with the expected outputs computed from `net` (which
/// tests use to stand for a golden model that disagrees with the design).
pub fn simulate_against(
    dir: &Path,
    net: &Network,
    arch: &Arch,
    opts: &SimOptions,
) -> Result<SimReport> {
    let inputs = run_inputs(net, opts)?;
    // Expected outputs from the network as described; everything the
    // design's run is compared with (its layers, cycles) from the network
    // as the architecture runs it (the same outputs: docs/arithmetic.md, K4).
    let expected = golden::infer_batch(net, &inputs);
    let described = net;
    let ran = arch.runs(net)?;
    let net: &Network = &ran;
    write_hex(&dir.join("input.hex"), &inputs)?;
    write_hex(&dir.join("expected.hex"), &expected)?;
    let pipe = crate::hw::tile::choose_pipe(net, arch)?;
    if opts.serial && pipe.is_none() {
        bail!("--serial needs a pipelined design ([schedule] pipeline = true); this one runs layer by layer already");
    }
    if pipe.is_some() && opts.images as u64 > crate::hw::gen::tile::PIPE_IMAGES {
        bail!(
            "a pipelined design takes at most {} images per run; asked for {}",
            crate::hw::gen::tile::PIPE_IMAGES,
            opts.images
        );
    }
    let trace = match &opts.trace {
        Some(t) => Some(trace_window(
            t,
            net,
            arch,
            pipe.as_ref(),
            (opts.images, opts.serial),
        )?),
        None => None,
    };
    let runner = |traced: Option<&TraceInfo>| -> Result<Command> {
        let mut cmd = build(
            dir,
            opts.simulator,
            opts.build_dir.as_deref(),
            traced.map(|t| t.format),
        )?;
        cmd.arg(format!("+images={}", opts.images));
        if opts.serial {
            cmd.arg("+serial=1");
        }
        if let Some(t) = traced {
            cmd.arg(format!("+trace={}", t.file.display()));
            cmd.arg(format!("+trace_image={}", t.image));
            cmd.arg(format!("+trace_from={}", t.from));
            if let Some(to) = t.to {
                cmd.arg(format!("+trace_to={to}"));
            }
        }
        Ok(cmd)
    };
    // A windowed trace ends its run at the window's end (TRACE_END), so the
    // verdict comes from a second, untraced run; a whole-run trace is one run.
    let windowed = trace.as_ref().filter(|t| t.to.is_some());
    if let Some(t) = windowed {
        let out = runner(Some(t))?
            .output()
            .context("cannot run the traced simulation")?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !stdout
            .lines()
            .any(|l| l.starts_with("TRACE_END") || l.starts_with("RESULT"))
        {
            bail!(
                "the traced simulation failed ({}):\n{stdout}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let stdout = run_bench(
        &mut runner(trace.as_ref().filter(|t| t.to.is_none()))?,
        "the simulation",
    )?;
    let result = stdout
        .lines()
        .find(|l| l.starts_with("RESULT"))
        .unwrap_or_default();
    let mismatches = field(result, "mismatches").unwrap_or(-1);
    let cycles = field(result, "cycles").unwrap_or(0);
    let cycles_per_inference = cycles as f64 / opts.images.max(1) as f64;
    let ops: u64 = net.ops_per_kind().iter().sum();
    let pes: u64 = crate::model::quant::Kind::ALL
        .iter()
        .map(|&k| arch.pes(k) as u64)
        .sum();
    let mut first_mismatch = match stdout.lines().find(|l| l.starts_with("MISMATCH")) {
        Some(line) => {
            let image = field(line, "image").unwrap_or(0) as usize;
            locate(dir, described, &inputs[image], image, opts)?
        }
        None => None,
    };
    if let Some(m) = &mut first_mismatch {
        // The tensor's name is its layer's (the input has no layer).
        if let Some(l) = net.layers.iter().position(|x| x.name == m.layer) {
            let (start, end) = layer_window(
                net,
                arch,
                pipe.as_ref(),
                opts.serial,
                (opts.images, m.image),
                l,
            );
            m.layer_start = start;
            m.trace_hint = match &trace {
                Some(t) if t.image == m.image && t.from <= start && t.to.is_none_or(|to| to > start) => format!(
                    "open {} at cycle {start}, where layer `{}` starts (it ends at {end})",
                    t.file.display(),
                    m.layer
                ),
                _ => format!(
                    "layer `{}` of image {} runs from cycle {start} to {end}; to see it: nasa sim {} --images {}{}{} --trace {}.fst --trace-layer {} --trace-image {}",
                    m.layer,
                    m.image,
                    dir.display(),
                    opts.images,
                    opts.dataset.map_or(String::new(), |d| format!(" --dataset {d}")),
                    if opts.serial { " --serial" } else { "" },
                    m.layer,
                    m.layer,
                    m.image
                ),
            };
        }
    }
    let (predicted, layers, first_image_layers, pipeline) = if let Some(p) = &pipe {
        let ends = layer_ends(&stdout, net, opts.images)?;
        let memory = crate::hw::layout::Memory::of(arch);
        let pred = crate::hw::tile::pipe::predict_run(net, p, &memory, opts.images, opts.serial);
        let engines = crate::hw::tile::pipe::engine_work(net, arch, p, &memory);
        let period = engines.iter().map(|e| e.cycles).max().unwrap_or(0);
        let last = net.output - 1;
        let predicted_total =
            crate::hw::tile::pipe::predict_total(net, p, &memory, opts.images, opts.serial);
        // Serial: each layer from the previous layer's end.
        let durations = |img: usize| -> Vec<LayerCycles> {
            let n = net.layers.len();
            let before = |e: &[Vec<u64>]| if img == 0 { 0 } else { e[img - 1][n - 1] };
            let (mut m0, mut p0) = (before(&ends), before(&pred));
            (0..n)
                .map(|i| {
                    let l = LayerCycles {
                        layer: net.layers[i].name.clone(),
                        op: net.layers[i].op.type_name(),
                        measured: ends[img][i].saturating_sub(m0),
                        predicted: pred[img][i].saturating_sub(p0),
                    };
                    (m0, p0) = (ends[img][i], pred[img][i]);
                    l
                })
                .collect()
        };
        let (layers, first_image_layers) = match (opts.serial, opts.images) {
            (true, n) if n > 0 => (durations(n - 1), durations(0)),
            _ => (Vec::new(), Vec::new()),
        };
        let pipeline = PipelineRun {
            serial: opts.serial,
            image_ends: ends.iter().map(|e| e[last]).collect(),
            predicted_image_ends: pred.iter().map(|e| e[last]).collect(),
            layer_ends: ends.clone(),
            predicted_layer_ends: pred.clone(),
            predicted_period: period,
            engines,
        };
        (predicted_total, layers, first_image_layers, Some(pipeline))
    } else {
        let mut per_image = layer_cycles(&stdout, net, arch, opts.images)?;
        let predicted: u64 = per_image.iter().flatten().map(|l| l.predicted).sum();
        let first_image_layers = per_image.first().cloned().unwrap_or_default();
        let layers = per_image.pop().unwrap_or_default();
        (predicted, layers, first_image_layers, None)
    };
    let input_load = stdout
        .lines()
        .filter(|l| l.starts_with("LOAD"))
        .filter_map(|l| field(l, "cycles"))
        .next_back()
        .map(|measured| LayerCycles {
            layer: "input load".into(),
            op: "load",
            measured: measured as u64,
            predicted: crate::hw::tile::choose(net, arch)
                .ok()
                .flatten()
                .map_or(0, |p| {
                    crate::hw::tile::frame_cycles(net, &p, &crate::hw::layout::Memory::of(arch)).0
                }),
        });
    Ok(SimReport {
        pass: mismatches == 0,
        trace,
        input_load,
        predicted_cycles: predicted as f64 / opts.images.max(1) as f64,
        layers,
        first_image_layers,
        images: opts.images,
        mismatches: mismatches as u64,
        cycles_per_inference,
        ideal_cycles: ideal_cycles(net, arch),
        pe_utilization: ops as f64 / (cycles_per_inference * pes as f64),
        simulator: opts.simulator,
        first_mismatch,
        pipeline,
    })
}

/// The testbench's per-layer marks (`LAYER image=n index=i cycles=c`: the
/// counter when layer `i` of image `n` hands over) beside the mapper's
/// prediction, image by image.
/// The testbench's cycle marks: when each layer of each image ended.
fn layer_ends(stdout: &str, net: &Network, images: usize) -> Result<Vec<Vec<u64>>> {
    let n = net.layers.len();
    let mut ends = vec![vec![None; n]; images];
    for line in stdout.lines().filter(|l| l.starts_with("LAYER ")) {
        let (Some(img), Some(i), Some(c)) = (
            field(line, "image"),
            field(line, "index"),
            field(line, "cycles"),
        ) else {
            bail!("unreadable testbench line: {line}");
        };
        match ends
            .get_mut(img as usize)
            .and_then(|e| e.get_mut(i as usize))
        {
            Some(slot) => *slot = Some(c as u64),
            None => bail!("the testbench reported layer {i} of image {img}: out of range"),
        }
    }
    ends.into_iter()
        .enumerate()
        .map(|(img, e)| {
            e.into_iter()
                .enumerate()
                .map(|(i, c)| {
                    c.with_context(|| {
                        format!(
                            "the testbench gave no cycle mark for layer {i} (`{}`) of image {img}",
                            net.layers[i].name
                        )
                    })
                })
                .collect()
        })
        .collect()
}

/// Per image, each layer's cycles (its mark minus the previous layer's:
/// each image is its own run) beside the exact model's.
fn layer_cycles(
    stdout: &str,
    net: &Network,
    arch: &Arch,
    images: usize,
) -> Result<Vec<Vec<LayerCycles>>> {
    let ends = layer_ends(stdout, net, images)?;
    let predicted = crate::hw::map::cycles::predict_images(net, arch, images);
    Ok(ends
        .into_iter()
        .zip(predicted)
        .map(|(ends, pred)| {
            let mut start = 0;
            ends.into_iter()
                .enumerate()
                .map(|(i, end)| {
                    let l = LayerCycles {
                        layer: net.layers[i].name.clone(),
                        op: net.layers[i].op.type_name(),
                        measured: end.saturating_sub(start),
                        predicted: pred[i].cycles,
                    };
                    start = end;
                    l
                })
                .collect()
        })
        .collect())
}

/// Reruns image `image` with a dump of the activation buffer and returns the
/// first value (in layer order) that differs from the golden model.
fn locate(
    dir: &Path,
    net: &Network,
    input: &[i64],
    image: usize,
    opts: &SimOptions,
) -> Result<Option<Mismatch>> {
    let mut cmd = build(dir, opts.simulator, opts.build_dir.as_deref(), None)?;
    run_bench(
        cmd.args([
            format!("+images={}", image + 1),
            format!("+dump_image={image}"),
        ]),
        "the simulation (dump)",
    )?;
    let text = std::fs::read_to_string(dir.join("act_dump.hex"))?;
    let buffer: Vec<i64> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//") && !l.starts_with('@'))
        .map(|l| {
            i64::from_str_radix(l, 16)
                .map(|v| v as u8 as i8 as i64)
                .unwrap_or(i64::MIN)
        })
        .collect();
    let tensors = golden::run::<Int>(net, input.to_vec());
    // Where each tensor lies in external memory: the layout the generator
    // wrote into the manifest. The dump holds every tensor at its own
    // place, except the input and output of a pipeline, which have a slot
    // per image (`in_stride`, `out_stride`; 0 layer by layer).
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(MANIFEST))?)?;
    let layout = &manifest["layout"];
    let num = |k: &str| layout[k].as_u64().unwrap_or(0);
    let bases: Vec<u64> = layout["base"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_u64()).collect())
        .unwrap_or_default();
    if bases.len() != tensors.len() {
        bail!(
            "{}: its layout lists {} tensors, the network has {}",
            dir.join(MANIFEST).display(),
            bases.len(),
            tensors.len()
        );
    }
    let img = image as u64;
    let addr = |id: usize| match id {
        0 => bases[0] + img * num("in_stride"),
        _ if id == net.output => bases[id] + img * num("out_stride"),
        _ => bases[id],
    };
    for (id, t) in tensors.iter().enumerate() {
        let s = net.tensor(id).shape;
        let base = addr(id) as usize;
        for (i, &want) in t.iter().enumerate() {
            let got = buffer.get(base + i).copied().unwrap_or(i64::MIN);
            if got != want {
                return Ok(Some(Mismatch {
                    image,
                    layer: net.tensor(id).name.clone(),
                    channel: i / (s.h * s.w),
                    y: i / s.w % s.h,
                    x: i % s.w,
                    got,
                    expected: want,
                    layer_start: 0,
                    trace_hint: String::new(),
                }));
            }
        }
    }
    Ok(None)
}
