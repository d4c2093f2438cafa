//! The command line's grammar: commands, their flags and defaults (taken
//! from the library's option types and constants, never restated).

use std::path::PathBuf;

use clap::builder::RangedU64ValueParser;
use clap::{Args, Parser, Subcommand};

use nasa::hw::arch;
use nasa::hw::synth::{Device, Target};
use nasa::learn::search::SearchOptions;
use nasa::learn::train::TrainOptions;
use nasa::model::data::DatasetKind;

#[derive(Parser)]
#[command(
    name = "nasa",
    version,
    about = "Design multiplication-reduced (multiply / shift / adder) neural-network accelerators"
)]
pub struct Cli {
    /// Machine-readable JSON on stdout (and JSON errors on stderr); no progress bars.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args)]
pub struct NetArg {
    /// Network description (TOML file, or a directory holding network.toml);
    /// omitted or `default`: the embedded default network.
    pub net: Option<PathBuf>,
}

#[derive(Args)]
pub struct DataArgs {
    /// Data set: mnist, fashion-mnist, cifar10 or cifar100 (test split).
    #[arg(long)]
    pub dataset: Option<DatasetKind>,
    /// Directory of the data set files (default: the Debian package's).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

/// What `train` and `search` share: data, output and the training of a network.
#[derive(Args)]
pub struct TrainArgs {
    /// Data set whose training split is used (the test split is reported).
    #[arg(long, default_value = "fashion-mnist")]
    pub dataset: DatasetKind,
    /// Directory of the data set files (default: the Debian package's).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Output directory: network.toml, weights.safetensors, log.csv,
    /// summary.json and the checkpoint (`search`: arch.toml and its
    /// checkpoints too).
    #[arg(short, long = "out", visible_alias = "output", value_name = "DIR")]
    pub out: PathBuf,
    /// Float epochs (of the derived network's training, for `search`).
    #[arg(long, default_value_t = TrainOptions::default().epochs)]
    pub epochs: usize,
    /// Quantisation-aware epochs after them.
    #[arg(long, default_value_t = TrainOptions::default().qat_epochs)]
    pub qat_epochs: usize,
    #[arg(long, default_value_t = TrainOptions::default().batch,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    pub batch: usize,
    #[arg(long, default_value_t = TrainOptions::default().seed)]
    pub seed: u64,
    /// Train (and search) on the first N training images only (0: all).
    #[arg(long, default_value_t = TrainOptions::default().train_limit, value_name = "N")]
    pub train_limit: usize,
    /// Report on the first N test images only (0: all).
    #[arg(long, default_value_t = TrainOptions::default().test_limit, value_name = "N")]
    pub test_limit: usize,
    /// Continue from the checkpoint(s) in the output directory.
    #[arg(long)]
    pub resume: bool,
    /// Stop after this many epochs in total (`search`: search epochs), as if
    /// interrupted (for tests).
    #[arg(long, hide = true)]
    pub stop_after: Option<usize>,
}

#[derive(Args)]
pub struct GoldenArgs {
    #[command(flatten)]
    pub net: NetArg,
    /// Input: an IDX image file (gzip or not) or a safetensors file holding
    /// an I8 tensor `input` of quantised values, shape [N,C,H,W] or [C,H,W].
    #[arg(long, value_name = "FILE", conflicts_with = "dataset")]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
    /// First image to use.
    #[arg(long, default_value_t = 0)]
    pub index: usize,
    /// Number of images.
    #[arg(long, default_value_t = 1)]
    pub count: usize,
    /// Write every layer's integer tensors here (hex + index.json).
    #[arg(long, value_name = "DIR")]
    pub dump: Option<PathBuf>,
}

#[derive(Args)]
pub struct MapArgs {
    /// Network descriptions (TOML files or directories holding
    /// network.toml; weights are not needed); none or `default`: the
    /// embedded default network.
    pub nets: Vec<PathBuf>,
    #[arg(long, value_name = "AREA", default_value_t = arch::DEFAULT_BUDGET as f64,
          hide_default_value = true, help = format!(
              "Area budget in multiply-accumulate PEs (a shift or adder PE costs 1/1.88 of one) [default: {}]",
              arch::DEFAULT_BUDGET
          ))]
    pub budget: f64,
    /// Budget in Xilinx 7-series LUTs instead, by the FPGA resource model
    /// (layer-by-layer tile designs; docs/benchmarks.md).
    #[arg(long, value_name = "N", conflicts_with = "budget")]
    pub budget_luts: Option<f64>,
    /// Size the design for an FPGA part instead: every DSP and block RAM
    /// of it and --lut-fill of its LUTs, by the FPGA resource model of its
    /// family (layer-by-layer tile designs; docs/benchmarks.md).
    #[arg(long, value_enum, value_name = "PART", conflicts_with_all = ["budget", "budget_luts"])]
    pub fpga: Option<nasa::hw::map::fpga::Part>,
    /// --fpga: the share of the part's LUTs the design may take (placement
    /// and routing need room).
    #[arg(long, value_name = "SHARE", default_value_t = 0.85, requires = "fpga", value_parser = share)]
    pub lut_fill: f64,
    /// What the search minimises (summed over the networks).
    #[arg(long, value_enum, default_value = "edp")]
    pub objective: nasa::hw::map::Objective,
    /// Global buffer size in bytes.
    #[arg(long, default_value_t = arch::Buffer::default().words,
          value_parser = RangedU64ValueParser::<u32>::new().range(16..))]
    pub buffer_words: u32,
    /// External memory port width in bits (a cache line).
    #[arg(long, default_value_t = arch::Memory::default().data_bits)]
    pub data_bits: u32,
    #[arg(long, default_value_t = arch::DEFAULT_CLOCK_MHZ)]
    pub clock_mhz: f64,
    /// Energy table (TOML, [compute] and [memory] sections); default: 45 nm figures.
    #[arg(long, value_name = "FILE")]
    pub energy: Option<PathBuf>,
    /// Design a layer pipeline: one engine per chunk, each running its
    /// layers of consecutive images concurrently (`[schedule] pipeline =
    /// true`); the latency objective becomes cycles per image in the
    /// steady state.
    #[arg(long)]
    pub pipeline: bool,
    /// The controller to design for: `tiles` (2-D arrays fed from an
    /// on-chip scratchpad), `cache` (the serial controller), or `auto`
    /// (tiles where they can run every network).
    #[arg(long, value_enum, default_value_t = arch::Engine::Auto)]
    pub engine: arch::Engine,
    /// With `--pipeline`: let the multiply engine take whole shift layers
    /// where that improves the objective (a multiply PE computes a shift
    /// term exactly; `[schedule] shift_on_multiply`).
    #[arg(long, requires = "pipeline")]
    pub share: bool,
    /// With `--pipeline`: fuse layers with their producers on other
    /// engines (band by band, on the same image) where that shortens a run
    /// of N images, filling included (`[schedule] fuse` and `bands`).
    #[arg(
        long,
        value_name = "N",
        requires = "pipeline",
        num_args = 0..=1,
        default_missing_value = "16"
    )]
    pub fuse: Option<usize>,
    /// Also map each network's all-multiply version on an all-multiply
    /// accelerator of the same budget, and compare.
    #[arg(long)]
    pub compare: bool,
    /// With --compare: generate both designs and run each in Verilator on
    /// N images (the all-multiply network with seeded random weights), and
    /// compare the measured cycles.
    #[arg(long, value_name = "N", requires = "compare")]
    pub sim: Option<usize>,
    /// Where --sim generates the two designs.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "rtl_out/compare",
        requires = "sim"
    )]
    pub sim_dir: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Seed of --sim's random images and of the all-multiply twin's weights.
    #[arg(long, default_value_t = 1, requires = "sim")]
    pub seed: u64,
    /// Write the chosen architecture here (what `nasa gen --arch` reads).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Accelerator name in the architecture file.
    #[arg(long, default_value = "mapped")]
    pub name: String,
}

#[derive(Args)]
pub struct TrainCmd {
    /// Network description (TOML, or a directory holding network.toml);
    /// `default`: the embedded one. Its weights, if any, are not read.
    pub net: PathBuf,
    #[command(flatten)]
    pub common: TrainArgs,
    /// Peak learning rate (SGD with momentum, cosine schedule).
    #[arg(long, default_value_t = TrainOptions::default().lr)]
    pub lr: f32,
    /// Learning rate at the start of the quantisation-aware epochs
    /// (cosine to 0); default: a tenth of --lr.
    #[arg(long, value_name = "LR")]
    pub qat_lr: Option<f32>,
    /// L2 weight decay of the SGD update.
    #[arg(long, default_value_t = TrainOptions::default().weight_decay)]
    pub weight_decay: f32,
    /// No random shifts and flips of the training images.
    #[arg(long)]
    pub no_augment: bool,
    /// A trained network (directory, or description naming its weights)
    /// to distil from, as the reference does from the all-multiplier
    /// version of the same architecture.
    #[arg(long, value_name = "NET")]
    pub teacher: Option<PathBuf>,
    /// Weight of the distillation term in the loss, in (0, 1]; default
    /// 0.5 with --teacher.
    #[arg(long)]
    pub distill: Option<f32>,
    /// Softmax temperature of the distillation term.
    #[arg(long, default_value_t = TrainOptions::default().temperature)]
    pub temperature: f32,
    /// Before the quantised epochs, set every BatchNorm's statistics to
    /// the average over the first N training images instead of the
    /// running averages (0: off).
    #[arg(long, default_value_t = TrainOptions::default().precise_bn, value_name = "N")]
    pub precise_bn: usize,
}

#[derive(Args)]
pub struct SearchCmd {
    #[command(flatten)]
    pub common: TrainArgs,
    /// Progressive pretraining epochs (five stages, 1:1:1:1:2).
    #[arg(long, default_value_t = SearchOptions::default().pgp_epochs)]
    pub pgp_epochs: usize,
    /// Search epochs after them.
    #[arg(long, default_value_t = SearchOptions::default().search_epochs)]
    pub search_epochs: usize,
    /// Base search space: `compact` (6 blocks for small images) or `nasa`
    /// (the paper's 22-block CIFAR space).
    #[arg(long, value_enum, default_value_t = SearchOptions::default().space)]
    pub space: nasa::learn::search::space::SpaceName,
    /// Weight sharing between a block's candidates: `wide` (multiplier and
    /// shift candidates share one set, kernels share by their centre) or
    /// `reference` (one set per kind and kernel, as in the paper's code).
    #[arg(long, value_enum, default_value_t = SearchOptions::default().sharing)]
    pub sharing: nasa::learn::search::supernet::Sharing,
    /// Depth multiplier of the base space (blocks per stage).
    #[arg(long, default_value_t = SearchOptions::default().depth)]
    pub depth: f64,
    /// Width multiplier of the base space (channels).
    #[arg(long, default_value_t = SearchOptions::default().width)]
    pub width: f64,
    /// Paths sampled per block and step.
    #[arg(long, default_value_t = SearchOptions::default().top_k,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    pub top_k: usize,
    /// Initial weight of the hardware (energy) term.
    #[arg(long, default_value_t = SearchOptions::default().lambda)]
    pub lambda: f32,
    /// Energy target per inference (nJ) that adapts the hardware term:
    /// compute energy with `--cost unit`, the system's with `--cost mapper`.
    #[arg(long, value_name = "NJ")]
    pub energy_target: Option<f64>,
    /// What the hardware term charges a sampled path: `unit` (compute
    /// energy of each candidate by the unit table) or `mapper` (the
    /// mapper's prediction for the whole network on an accelerator it
    /// sizes for `--budget`).
    #[arg(long, value_enum, default_value = "unit")]
    pub cost: CostKind,
    /// With `--cost mapper`: the accelerator's area budget in
    /// multiply-accumulate PEs.
    #[arg(long, value_name = "AREA")]
    pub budget: Option<f64>,
    /// With `--cost mapper`: what it charges (and sizes the design for).
    #[arg(long, value_enum)]
    pub objective: Option<nasa::hw::map::Objective>,
    /// With `--cost mapper`: price layer pipelines (cycles are the period)
    /// where the buffer holds them, else layer by layer.
    #[arg(long)]
    pub pipeline: bool,
    /// With `--cost mapper`: the global buffer's size in bytes.
    #[arg(long, value_parser = RangedU64ValueParser::<u32>::new().range(16..))]
    pub buffer_words: Option<u32>,
}

/// The search's hardware term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CostKind {
    /// Compute energy of each candidate by the unit-energy table.
    Unit,
    /// The mapper's cycles, energy or EDP of the whole network.
    Mapper,
}

#[derive(Subcommand)]
pub enum Command {
    /// Load and validate a network; print its layers and operation counts.
    Check(NetArg),
    /// Run the bit-exact golden model on input images; optionally dump every layer.
    Golden(GoldenArgs),
    /// Accuracy of the golden model on a data set's test split.
    Eval {
        #[command(flatten)]
        net: NetArg,
        #[command(flatten)]
        data: DataArgs,
        /// Evaluate only the first N test images.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Also run the float reference (docs/arithmetic.md, section 8) and
        /// report its accuracy and agreement with the integer model.
        #[arg(long)]
        float: bool,
    },
    /// Propose an accelerator (architecture TOML) for a network: split a PE
    /// budget between the chunks in proportion to each kind's operations.
    Size {
        #[command(flatten)]
        net: NetArg,
        /// Budget, in areas of one multiply-accumulate PE (a shift or adder PE costs 1/1.88).
        #[arg(long, default_value_t = arch::DEFAULT_BUDGET)]
        pes: u32,
        /// Write the architecture here instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Size the accelerator's chunks for one or more networks under an area
    /// budget (exhaustive search over the PE split), predict every layer's
    /// cycles and energy on the result, and optionally write its
    /// architecture file and compare it with an all-multiply accelerator.
    Map(MapArgs),
    /// Generate the accelerator RTL, testbench and memory images into a directory.
    Gen {
        #[command(flatten)]
        net: NetArg,
        #[arg(long, value_name = "ARCH", help = format!(
            "Accelerator description (TOML); default: `nasa size --pes {}`'s proposal",
            arch::DEFAULT_BUDGET
        ))]
        arch: Option<PathBuf>,
        /// Output directory (replaced atomically if it holds an earlier design).
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
        /// Design name (default: the directory's name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Simulate a generated design against the golden model.
    Sim {
        /// A directory written by `nasa gen`.
        dir: PathBuf,
        #[arg(long, default_value_t = 1)]
        images: usize,
        #[command(flatten)]
        data: DataArgs,
        /// Seed of the random input images used without --dataset.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_enum, default_value = "verilator")]
        simulator: nasa::hw::sim::Simulator,
        /// Pipelined designs: run one layer at a time in network order (the
        /// layer-by-layer baseline of the same hardware).
        #[arg(long)]
        serial: bool,
        /// Keep Verilator builds in DIR, one per distinct set of design
        /// files, reused when a design is generated again unchanged
        /// (default: the design's own obj_dir).
        #[arg(long, value_name = "DIR")]
        build_dir: Option<PathBuf>,
        /// Write a waveform of the run: FST (FILE.fst) or VCD (FILE.vcd),
        /// every signal of the bench named as in the RTL (a build of its
        /// own; runs without --trace carry no tracing code).
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
        /// Only while this layer runs (by name; the model's cycles).
        #[arg(
            long,
            value_name = "LAYER",
            requires = "trace",
            conflicts_with = "trace_cycles"
        )]
        trace_layer: Option<String>,
        /// Only while the design's cycle counter is in A..B.
        #[arg(long, value_name = "A..B", requires = "trace", value_parser = parse_window)]
        trace_cycles: Option<(u64, u64)>,
        /// The image the window is in (default 0).
        #[arg(long, value_name = "K", requires = "trace", default_value_t = 0)]
        trace_image: usize,
        /// Run the AXI4-wrapped design (nasa_axi.v) instead: a host on
        /// AXI4-Lite, an AXI4 memory with random wait states, protocol
        /// checkers on both interfaces (docs/axi.md).
        #[arg(long, conflicts_with_all = ["serial", "trace"])]
        axi: bool,
        /// --axi: seed of the memory's wait states.
        #[arg(long, value_name = "S", default_value_t = 1, requires = "axi")]
        wait_seed: u32,
        /// --axi: the longest wait state, in cycles, before each handshake.
        #[arg(long, value_name = "K", default_value_t = 3, requires = "axi")]
        max_wait: u8,
    },
    /// Synthesise a generated design with Yosys for each target, and place
    /// and route it with nextpnr where an open tool exists (ECP5, iCE40):
    /// resources in total and per chunk, Fmax against the architecture's
    /// clock, the critical path.
    Synth {
        /// A directory written by `nasa gen`.
        dir: PathBuf,
        /// Targets, comma-separated or repeated; run side by side.
        #[arg(long = "target", value_enum, value_delimiter = ',', default_values_t = [Target::Xilinx, Target::Generic])]
        targets: Vec<Target>,
        /// The ECP5 or iCE40 device to place and route on (default 85k for
        /// ECP5, up5k for iCE40).
        #[arg(long, value_enum)]
        device: Option<Device>,
        /// Synthesis only: skip place-and-route.
        #[arg(long)]
        no_pnr: bool,
        /// nextpnr's router: router1 (its default, timing-driven) or
        /// router2 (congestion-driven; finishes large designs router1
        /// cannot, at a somewhat lower Fmax).
        #[arg(long, value_enum, default_value_t = nasa::hw::synth::pnr::Router::Router1)]
        router: nasa::hw::synth::pnr::Router,
    },
    /// Write a design's report: JSON and one self-contained HTML page
    /// (per-layer cycles measured and predicted, PE utilisation, energy by
    /// memory level, resources per chunk, Fmax and critical path,
    /// parameters and hashes), from the model and the last `nasa sim` and
    /// `nasa synth` runs, which leave their reports in DIR/report.
    Report {
        /// A directory written by `nasa gen`.
        dir: PathBuf,
        /// Where to write report.json and index.html (default DIR/report).
        #[arg(short, long, value_name = "DIR")]
        output: Option<PathBuf>,
    },
    /// Train a network description on a data set's training split (float
    /// epochs, calibration, quantisation-aware epochs) and export it as a
    /// description plus integer weights, with a checkpoint after every epoch.
    Train(TrainCmd),
    /// Search a hybrid network: progressive pretraining of the supernet, the
    /// hardware-aware Gumbel-softmax search, then training, quantisation
    /// and export of the derived network (`arch.toml`, then what `nasa train` writes).
    Search(SearchCmd),
    /// Write seeded random weights, with calibrated requantisation, for a description.
    RandomWeights {
        /// Network description (TOML); its `weights` file need not exist.
        net: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output safetensors file.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
}

/// `A..B`: a window of cycles.
fn parse_window(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("`{s}`: expected A..B (cycles, B excluded)"))?;
    let parse = |v: &str| {
        v.trim()
            .parse::<u64>()
            .map_err(|e| format!("`{s}`: `{v}` is not a cycle count ({e})"))
    };
    let (a, b) = (parse(a)?, parse(b)?);
    if a >= b {
        return Err(format!("`{s}`: the window is empty"));
    }
    Ok((a, b))
}

/// A share in (0, 1].
fn share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 1.0 => Ok(v),
        Ok(_) => Err(format!("{s} is not a share in (0, 1]")),
        Err(e) => Err(format!("{s}: {e}")),
    }
}
