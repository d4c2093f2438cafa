//! The `nasa` command line: a thin layer over the library. Exit codes:
//! 0 success, 1 failure (I/O and the like), 2 usage error, 3 invalid input
//! (network description, weights, data), 101 internal error (a bug).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use nasa::data::{self, DataError, DatasetKind};
use nasa::error::InputError;
use nasa::golden::{self, argmax};
use nasa::net::{Network, Op};
use nasa::quant::Kind;
use nasa::{arch, dump, eval, fsutil, models, quant, randomize, EXIT_INTERNAL, EXIT_INVALID_INPUT};

#[derive(Parser)]
#[command(
    name = "nasa",
    version,
    about = "Design multiplication-reduced (multiply / shift / adder) neural-network accelerators"
)]
struct Cli {
    /// Machine-readable JSON on stdout (and JSON errors on stderr); no progress bars.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct NetArg {
    /// Network description (TOML file, or a directory holding network.toml);
    /// omitted or `default`: the embedded default network.
    net: Option<PathBuf>,
}

#[derive(Args)]
struct DataArgs {
    /// Data set: mnist, fashion-mnist, cifar10 or cifar100 (test split).
    #[arg(long)]
    dataset: Option<DatasetKind>,
    /// Directory of the data set files (default: the Debian package's).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Load and validate a network; print its layers and operation counts.
    Check(NetArg),
    /// Run the bit-exact golden model on input images; optionally dump every layer.
    Golden {
        #[command(flatten)]
        net: NetArg,
        /// Input: an IDX image file (gzip or not) or a safetensors file holding
        /// an I8 tensor `input` of quantised values, shape [N,C,H,W] or [C,H,W].
        #[arg(long, value_name = "FILE", conflicts_with = "dataset")]
        input: Option<PathBuf>,
        #[command(flatten)]
        data: DataArgs,
        /// First image to use.
        #[arg(long, default_value_t = 0)]
        index: usize,
        /// Number of images.
        #[arg(long, default_value_t = 1)]
        count: usize,
        /// Write every layer's integer tensors here (hex + index.json).
        #[arg(long, value_name = "DIR")]
        dump: Option<PathBuf>,
    },
    /// Accuracy of the golden model on a data set's test split.
    Eval {
        #[command(flatten)]
        net: NetArg,
        #[command(flatten)]
        data: DataArgs,
        /// Evaluate only the first N test images.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// Propose an accelerator (architecture TOML) for a network: split a PE
    /// budget between the chunks in proportion to each kind's operations.
    Size {
        #[command(flatten)]
        net: NetArg,
        /// Budget, in areas of one multiply-accumulate PE (a shift or adder PE costs 1/1.88).
        #[arg(long, default_value_t = 168)]
        pes: u32,
        /// Write the architecture here instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Size the accelerator's chunks for one or more networks under an area
    /// budget (exhaustive search over the PE split), predict every layer's
    /// cycles and energy on the result, and optionally write its
    /// architecture file and compare it with an all-multiply accelerator.
    Map {
        /// Network descriptions (TOML files or directories holding
        /// network.toml; weights are not needed); none or `default`: the
        /// embedded default network.
        nets: Vec<PathBuf>,
        /// Area budget in multiply-accumulate PEs (a shift or adder PE
        /// costs 1/1.88 of one) [default: 168].
        #[arg(long, value_name = "AREA")]
        budget: Option<f64>,
        /// Budget in FPGA LUTs instead (Yosys synth_xilinx, by the fitted
        /// model of docs/benchmarks.md).
        #[arg(long, value_name = "N", conflicts_with = "budget")]
        budget_luts: Option<f64>,
        /// What the search minimises (summed over the networks).
        #[arg(long, value_enum, default_value = "edp")]
        objective: nasa::map::Objective,
        /// Global buffer size in bytes.
        #[arg(long, default_value_t = arch::Buffer::default().words,
              value_parser = clap::builder::RangedU64ValueParser::<u32>::new().range(16..))]
        buffer_words: u32,
        /// External memory port width in bits (a cache line).
        #[arg(long, default_value_t = arch::Memory::default().data_bits)]
        data_bits: u32,
        #[arg(long, default_value_t = 250.0)]
        clock_mhz: f64,
        /// Energy table (TOML, [compute] and [memory] sections); default: 45 nm figures.
        #[arg(long, value_name = "FILE")]
        energy: Option<PathBuf>,
        /// Design a layer pipeline: one engine per chunk, each running its
        /// layers of consecutive images concurrently (`[schedule] pipeline =
        /// true`); the latency objective becomes cycles per image in the
        /// steady state.
        #[arg(long)]
        pipeline: bool,
        /// Also map each network's all-multiply version on an all-multiply
        /// accelerator of the same budget, and compare.
        #[arg(long)]
        compare: bool,
        /// Write the chosen architecture here (what `nasa gen --arch` reads).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Accelerator name in the architecture file.
        #[arg(long, default_value = "mapped")]
        name: String,
    },
    /// Generate the accelerator RTL, testbench and memory images into a directory.
    Gen {
        #[command(flatten)]
        net: NetArg,
        /// Accelerator description (TOML); default: `nasa size --pes 168`'s proposal.
        #[arg(long, value_name = "ARCH")]
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
        simulator: nasa::sim::Simulator,
        /// Pipelined designs: run one layer at a time in network order (the
        /// layer-by-layer baseline of the same hardware).
        #[arg(long)]
        serial: bool,
    },
    /// Synthesise a generated design with Yosys (synth and synth_xilinx).
    Synth {
        /// A directory written by `nasa gen`.
        dir: PathBuf,
    },
    /// Train a network description on a data set's training split (float
    /// epochs, calibration, quantisation-aware epochs) and export it as a
    /// description plus integer weights, with a checkpoint after every epoch.
    Train {
        /// Network description (TOML, or a directory holding network.toml);
        /// `default`: the embedded one. Its weights, if any, are not read.
        net: PathBuf,
        /// Data set whose training split is used (the test split is reported).
        #[arg(long, default_value = "fashion-mnist")]
        dataset: DatasetKind,
        /// Directory of the data set files (default: the Debian package's).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Output directory: network.toml, weights.safetensors, log.csv,
        /// summary.json and the checkpoint.
        #[arg(short, long = "out", visible_alias = "output", value_name = "DIR")]
        out: PathBuf,
        /// Float epochs.
        #[arg(long, default_value_t = nasa::train::TrainOptions::default().epochs)]
        epochs: usize,
        /// Quantisation-aware epochs after them.
        #[arg(long, default_value_t = nasa::train::TrainOptions::default().qat_epochs)]
        qat_epochs: usize,
        #[arg(long, default_value_t = nasa::train::TrainOptions::default().batch,
              value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
        batch: usize,
        /// Peak learning rate (SGD with momentum, cosine schedule).
        #[arg(long, default_value_t = nasa::train::TrainOptions::default().lr)]
        lr: f32,
        /// Learning rate at the start of the quantisation-aware epochs
        /// (cosine to 0); default: a tenth of --lr.
        #[arg(long, value_name = "LR")]
        qat_lr: Option<f32>,
        /// L2 weight decay of the SGD update.
        #[arg(long, default_value_t = nasa::train::TrainOptions::default().weight_decay)]
        weight_decay: f32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// No random shifts and flips of the training images.
        #[arg(long)]
        no_augment: bool,
        /// Train on the first N training images only (0: all).
        #[arg(long, default_value_t = 0, value_name = "N")]
        train_limit: usize,
        /// Report on the first N test images only (0: all).
        #[arg(long, default_value_t = 0, value_name = "N")]
        test_limit: usize,
        /// Continue from the checkpoint in the output directory.
        #[arg(long)]
        resume: bool,
        /// Stop after this many epochs in total, as if interrupted (for tests).
        #[arg(long, hide = true)]
        stop_after: Option<usize>,
        /// A trained network (directory, or description naming its weights)
        /// to distil from, as the reference does from the all-multiplier
        /// version of the same architecture.
        #[arg(long, value_name = "NET")]
        teacher: Option<PathBuf>,
        /// Weight of the distillation term in the loss, in (0, 1]; default
        /// 0.5 with --teacher.
        #[arg(long)]
        distill: Option<f32>,
        /// Softmax temperature of the distillation term.
        #[arg(long, default_value_t = 4.0)]
        temperature: f32,
        /// Before the quantised epochs, set every BatchNorm's statistics to
        /// the average over the first N training images instead of the
        /// running averages (0: off).
        #[arg(long, default_value_t = 0, value_name = "N")]
        precise_bn: usize,
    },
    /// Search a hybrid network: progressive pretraining of the supernet, the
    /// hardware-aware Gumbel-softmax search, then training, quantisation
    /// and export of the derived network (`arch.toml`, then what `nasa train` writes).
    Search {
        /// Data set (its training split; the test split is reported).
        #[arg(long, default_value = "fashion-mnist")]
        dataset: DatasetKind,
        /// Directory of the data set files (default: the Debian package's).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        #[arg(short, long = "out", visible_alias = "output", value_name = "DIR")]
        out: PathBuf,
        /// Progressive pretraining epochs (five stages, 1:1:1:1:2).
        #[arg(long, default_value_t = nasa::search::SearchOptions::default().pgp_epochs)]
        pgp_epochs: usize,
        /// Search epochs after them.
        #[arg(long, default_value_t = nasa::search::SearchOptions::default().search_epochs)]
        search_epochs: usize,
        /// Base search space: `compact` (6 blocks for small images) or `nasa`
        /// (the paper's 22-block CIFAR space).
        #[arg(long, value_enum, default_value_t = nasa::search::SearchOptions::default().space)]
        space: nasa::search::space::SpaceName,
        /// Weight sharing between a block's candidates: `wide` (multiplier and
        /// shift candidates share one set, kernels share by their centre) or
        /// `reference` (one set per kind and kernel, as in the paper's code).
        #[arg(long, value_enum, default_value_t = nasa::search::SearchOptions::default().sharing)]
        sharing: nasa::search::supernet::Sharing,
        /// Depth multiplier of the base space (blocks per stage).
        #[arg(long, default_value_t = nasa::search::SearchOptions::default().depth)]
        depth: f64,
        /// Width multiplier of the base space (channels).
        #[arg(long, default_value_t = nasa::search::SearchOptions::default().width)]
        width: f64,
        /// Paths sampled per block and step.
        #[arg(long, default_value_t = nasa::search::SearchOptions::default().top_k,
              value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
        top_k: usize,
        /// Initial weight of the hardware (energy) term.
        #[arg(long, default_value_t = nasa::search::SearchOptions::default().lambda)]
        lambda: f32,
        /// Compute-energy target per inference (nJ); adapts the hardware term.
        #[arg(long, value_name = "NJ")]
        energy_target: Option<f64>,
        #[arg(long, default_value_t = 128,
              value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
        batch: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Search and train on the first N training images only (0: all).
        #[arg(long, default_value_t = 0, value_name = "N")]
        train_limit: usize,
        /// Report on the first N test images only (0: all).
        #[arg(long, default_value_t = 0, value_name = "N")]
        test_limit: usize,
        /// Float epochs of the derived network's training.
        #[arg(long, default_value_t = nasa::train::TrainOptions::default().epochs)]
        epochs: usize,
        /// Quantisation-aware epochs after them.
        #[arg(long, default_value_t = nasa::train::TrainOptions::default().qat_epochs)]
        qat_epochs: usize,
        /// Continue from the checkpoints in the output directory.
        #[arg(long)]
        resume: bool,
        /// Stop after this many search epochs, as if interrupted (for tests).
        #[arg(long, hide = true)]
        stop_after: Option<usize>,
    },
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

fn main() -> ExitCode {
    // Like other Unix filters, stop quietly when the reader of stdout goes
    // away (`nasa check --json | head`) instead of panicking on EPIPE.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any
    // thread starts; no handler runs Rust code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::panic::set_hook(Box::new(|info| {
        eprintln!("internal error: {info}\nThis is a bug in nasa; please report it with the command that caused it.");
        std::process::exit(EXIT_INTERNAL);
    }));
    let cli = Cli::parse();
    let json_mode = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let input = e.chain().find_map(|c| c.downcast_ref::<InputError>());
            let data_err = e.chain().any(|c| c.downcast_ref::<DataError>().is_some());
            let code = if input.is_some() || data_err {
                EXIT_INVALID_INPUT
            } else {
                1
            };
            if json_mode {
                let mut obj = json!({ "error": format!("{e:#}"), "exit_code": code });
                if let Some(ie) = input {
                    obj["file"] = json!(ie.file.display().to_string());
                    obj["layer"] = json!(ie.layer);
                    obj["field"] = json!(ie.field);
                }
                eprintln!("{obj}");
            } else {
                eprintln!("error: {e:#}");
            }
            ExitCode::from(code as u8)
        }
    }
}

fn progress(len: usize, json: bool) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} images {per_sec} eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}

/// Progress of `nasa train`: a bar per epoch and a line when it ends.
struct TrainBars {
    bar: ProgressBar,
    quiet: bool,
}

impl TrainBars {
    fn new(json: bool) -> TrainBars {
        let bar = progress(0, json);
        if let Ok(style) =
            ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} batches {per_sec} eta {eta}")
        {
            bar.set_style(style);
        }
        TrainBars { bar, quiet: json }
    }
}

impl nasa::search::Progress for TrainBars {
    fn epoch_start(&self, epoch: usize, _stage: nasa::search::Stage, batches: usize) {
        nasa::train::Progress::epoch_start(self, epoch, batches);
    }
    fn batch_done(&self) {
        self.bar.inc(1);
    }
    fn epoch_done(&self, e: &nasa::search::SearchLog) {
        self.bar.finish_and_clear();
        if !self.quiet {
            eprintln!(
                "search epoch {:>3} {:<10} tau {:.2}  lambda {:.3}  loss {:.4}  train {:.2}%  derived {:.1} nJ: {}",
                e.epoch,
                serde_json::to_value(e.stage).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
                e.tau,
                e.lambda,
                e.loss,
                100.0 * e.accuracy,
                e.derived_energy_nj,
                e.derived
            );
        }
    }
}

impl nasa::train::Progress for TrainBars {
    fn epoch_start(&self, epoch: usize, batches: usize) {
        self.bar.reset();
        self.bar.set_length(batches as u64);
        self.bar.set_message(format!("epoch {epoch}"));
    }
    fn batch_done(&self) {
        self.bar.inc(1);
    }
    fn epoch_done(&self, e: &nasa::train::EpochLog) {
        self.bar.finish_and_clear();
        if !self.quiet {
            eprintln!(
                "epoch {:>3} {:<9} lr {:.4}  loss {:.4}  train {:.2}%  test {:.2}%  {:.0} images/s",
                e.epoch,
                e.phase,
                e.lr,
                e.train_loss,
                100.0 * e.train_accuracy,
                100.0 * e.test_accuracy,
                e.images_per_second
            );
        }
    }
}

fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn run(cli: Cli) -> Result<()> {
    let json = cli.json;
    match cli.command {
        Command::Check(a) => check(&models::load(a.net.as_deref())?, json),
        Command::Golden {
            net,
            input,
            data,
            index,
            count,
            dump,
        } => {
            let net = models::load(net.net.as_deref())?;
            golden_cmd(
                &net,
                input.as_deref(),
                &data,
                index,
                count,
                dump.as_deref(),
                json,
            )
        }
        Command::Eval { net, data, limit } => {
            let net = models::load(net.net.as_deref())?;
            let Some(kind) = data.dataset else {
                bail!("eval needs --dataset (mnist, fashion-mnist, cifar10 or cifar100)")
            };
            let mut set = data::load_test(kind, data.data.as_deref())?;
            if let Some(n) = limit {
                set.truncate(n);
            }
            eval::check_compatible(&net, &set)?;
            let bar = progress(set.len(), json);
            let report = eval::evaluate(&net, &set, &|| bar.inc(1));
            bar.finish_and_clear();
            if json {
                print_json(&serde_json::to_value(&report)?);
            } else {
                println!(
                    "{}: {} of {} {} test images correct: integer accuracy {:.2}% (float reference {:.2}%, predictions agree on {:.2}%)",
                    net.name,
                    report.correct,
                    report.images,
                    kind,
                    100.0 * report.accuracy,
                    100.0 * report.float_accuracy,
                    100.0 * report.agreement
                );
            }
            Ok(())
        }
        Command::Gen {
            net,
            arch,
            output,
            name,
        } => {
            let network = models::load(net.net.as_deref())?;
            let (arch, arch_text) = match &arch {
                Some(p) => {
                    let text = std::fs::read_to_string(p).map_err(|e| {
                        InputError::new(p, format!("cannot read accelerator description: {e}"))
                    })?;
                    (arch::Arch::parse(&text, p)?, text)
                }
                None => {
                    let a =
                        arch::size(&network, 168, &network.name).map_err(|m| anyhow::anyhow!(m))?;
                    let text = a.to_toml();
                    (a, text)
                }
            };
            let name = name.unwrap_or_else(|| {
                output
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "nasa".into())
            });
            let stamp = nasa::gen::generate(&network, &arch, &arch_text, &name, &output)?;
            if json {
                print_json(&json!({ "output": output.display().to_string(), "stamp": stamp }));
            } else {
                println!("generated `{name}` in {}", output.display());
            }
            Ok(())
        }
        Command::Sim {
            dir,
            images,
            data,
            seed,
            simulator,
            serial,
        } => {
            let opts = nasa::sim::SimOptions {
                images,
                dataset: data.dataset,
                data_dir: data.data,
                seed,
                simulator,
                serial,
            };
            let report = nasa::sim::simulate(&dir, &opts)?;
            if json {
                print_json(&serde_json::to_value(&report)?);
            } else {
                println!(
                    "{}: {} image(s), {} mismatching output(s); {:.0} cycles per inference (mapper's prediction {:.0}, ideal {}), PE utilisation {:.1}%",
                    if report.pass { "PASS" } else { "FAIL" },
                    report.images,
                    report.mismatches,
                    report.cycles_per_inference,
                    report.predicted_cycles,
                    report.ideal_cycles,
                    100.0 * report.pe_utilization
                );
                if let Some(m) = &report.first_mismatch {
                    println!(
                        "first difference: image {}, layer `{}`, channel {}, position ({}, {}): design {} golden {}",
                        m.image, m.layer, m.channel, m.y, m.x, m.got, m.expected
                    );
                }
            }
            if report.pass {
                Ok(())
            } else {
                Err(anyhow::anyhow!("simulation mismatches the golden model"))
            }
        }
        Command::Synth { dir } => {
            let bar = progress(2, json);
            let report = nasa::synth::synthesize(&dir)?;
            bar.finish_and_clear();
            if json {
                print_json(&serde_json::to_value(&report)?);
            } else {
                let x = &report.xilinx;
                println!(
                    "total: {} generic cells; xilinx: {} LUTs, {} flip-flops, {} DSPs, {} RAMB18",
                    report.generic_cells, x.luts, x.flip_flops, x.dsps, x.block_rams
                );
                for (kind, c) in &report.chunks {
                    println!(
                        "  {kind} chunk ({} PE cells): {} generic cells; {} LUTs, {} DSPs",
                        c.pes, c.generic_cells, c.xilinx.luts, c.xilinx.dsps
                    );
                }
            }
            Ok(())
        }
        Command::Size { net, pes, output } => {
            size_cmd(net.net.as_deref(), pes, output.as_deref(), json)
        }
        Command::Map {
            nets,
            budget,
            budget_luts,
            objective,
            buffer_words,
            data_bits,
            clock_mhz,
            energy,
            compare,
            output,
            name,
            pipeline,
        } => {
            let table = match &energy {
                Some(p) => nasa::map::energy::EnergyTable::load(p)?,
                None => Default::default(),
            };
            let opts = nasa::map::MapOptions {
                budget: match budget_luts {
                    Some(l) => nasa::map::Budget::Luts(l),
                    None => nasa::map::Budget::PeArea(budget.unwrap_or(168.0)),
                },
                objective,
                buffer: arch::Buffer {
                    words: buffer_words,
                    banks: arch::Buffer::default()
                        .banks
                        .min(buffer_words / (data_bits / 8).max(1))
                        .max(1),
                },
                memory: arch::Memory { data_bits },
                clock_mhz,
                energy: table,
                name,
                pipeline,
            };
            map_cmd(&nets, &opts, compare, output.as_deref(), json)
        }
        Command::Search {
            dataset,
            data,
            out,
            pgp_epochs,
            search_epochs,
            space,
            sharing,
            depth,
            width,
            top_k,
            lambda,
            energy_target,
            batch,
            seed,
            train_limit,
            test_limit,
            epochs,
            qat_epochs,
            resume,
            stop_after,
        } => {
            let train_set = data::load_train(dataset, data.as_deref())?;
            let test_set = data::load_test(dataset, data.as_deref())?;
            let options = nasa::search::SearchOptions {
                pgp_epochs,
                search_epochs,
                batch,
                top_k,
                lambda,
                energy_target_nj: energy_target,
                space,
                sharing,
                depth,
                width,
                seed,
                train_limit,
                ..Default::default()
            };
            let run = nasa::search::SearchRun {
                train: &train_set,
                out: &out,
                options,
                resume,
                stop_after,
            };
            let bars = TrainBars::new(json);
            let Some(found) = nasa::search::search(&run, &bars)? else {
                if json {
                    print_json(&json!({ "stopped": true, "out": out.display().to_string() }));
                } else {
                    println!("stopped; continue with --resume");
                }
                return Ok(());
            };
            if !json {
                eprintln!(
                    "derived {} ({:.1} nJ compute per inference, all-multiplier {:.1} nJ); training it",
                    found.arch, found.derived_energy_nj, found.all_conv_energy_nj
                );
            }
            let network = models::load_description(&out.join("arch.toml"))?;
            let options = nasa::train::TrainOptions {
                epochs,
                qat_epochs,
                batch,
                seed,
                train_limit,
                test_limit,
                ..Default::default()
            };
            let run = nasa::train::Run {
                net: &network,
                train: &train_set,
                test: &test_set,
                out: &out,
                options,
                resume,
                stop_after: None,
                teacher: None,
            };
            let trained = nasa::train::train(&run, &bars)?.context("training stopped early")?;
            if json {
                print_json(&json!({ "search": found, "train": trained }));
            } else {
                println!(
                    "{}: integer accuracy {:.2}% on {} {} test images, compute energy {:.1} nJ per inference; wrote {}",
                    trained.network,
                    100.0 * trained.integer_accuracy,
                    trained.test_images,
                    dataset,
                    found.derived_energy_nj,
                    out.display()
                );
            }
            Ok(())
        }
        Command::Train {
            net,
            dataset,
            data,
            out,
            epochs,
            qat_epochs,
            batch,
            lr,
            qat_lr,
            weight_decay,
            seed,
            no_augment,
            train_limit,
            test_limit,
            resume,
            stop_after,
            teacher,
            distill,
            temperature,
            precise_bn,
        } => {
            let network = models::load_description(&net)?;
            let train_set = data::load_train(dataset, data.as_deref())?;
            let test_set = data::load_test(dataset, data.as_deref())?;
            eval::check_compatible(&network, &train_set)?;
            let teacher = match &teacher {
                Some(p) => Some(Network::load(p)?),
                None => None,
            };
            let distill = match (distill, &teacher) {
                (Some(_), None) => bail!("--distill needs --teacher"),
                (Some(a), Some(_)) if !(a > 0.0 && a <= 1.0) => {
                    bail!("--distill must lie in (0, 1], not {a}")
                }
                (Some(a), Some(_)) => a,
                (None, Some(_)) => 0.5,
                (None, None) => 0.0,
            };
            if !(temperature.is_finite() && temperature > 0.0) {
                bail!("--temperature must be a positive number, not {temperature}");
            }
            let defaults = nasa::train::TrainOptions::default();
            let options = nasa::train::TrainOptions {
                epochs,
                qat_epochs,
                batch,
                lr,
                qat_lr: qat_lr.unwrap_or(lr / 10.0),
                weight_decay,
                seed,
                augment: !no_augment,
                train_limit,
                test_limit,
                distill,
                temperature,
                precise_bn,
                teacher: teacher
                    .as_ref()
                    .and_then(|t| t.provenance.weights_sha256.clone()),
                ..defaults
            };
            let run = nasa::train::Run {
                net: &network,
                train: &train_set,
                test: &test_set,
                out: &out,
                options,
                resume,
                stop_after,
                teacher: teacher.as_ref(),
            };
            let bars = TrainBars::new(json);
            match nasa::train::train(&run, &bars)? {
                None => {
                    if json {
                        print_json(&json!({ "stopped": true, "out": out.display().to_string() }));
                    } else {
                        println!("stopped; continue with --resume");
                    }
                }
                Some(s) => {
                    if json {
                        print_json(&serde_json::to_value(&s)?);
                    } else {
                        println!(
                            "{}: integer accuracy {:.2}% on {} {} test images ({} float + {} quantised epochs, {:.0} s); wrote {}",
                            s.network,
                            100.0 * s.integer_accuracy,
                            s.test_images,
                            dataset,
                            s.epochs,
                            s.qat_epochs,
                            s.seconds,
                            out.display()
                        );
                    }
                }
            }
            Ok(())
        }
        Command::RandomWeights {
            net: path,
            seed,
            output,
        } => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                InputError::new(&path, format!("cannot read network description: {e}"))
            })?;
            let mut net = Network::parse(&text, &path)?;
            randomize::randomize(&mut net, seed);
            let bytes = nasa::net::weights::serialize(&net);
            // Validate what we wrote exactly as a reader will.
            net.attach_weights(&bytes, &output).map_err(|e| {
                anyhow::anyhow!("internal error: generated weights do not validate: {e}")
            })?;
            fsutil::write_atomic(&output, &bytes)?;
            if json {
                print_json(
                    &json!({ "weights": output.display().to_string(), "seed": seed, "sha256": nasa::net::sha256_hex(&bytes), "parameters": net.parameter_count() }),
                );
            } else {
                println!(
                    "wrote {} ({} parameters, seed {seed})",
                    output.display(),
                    net.parameter_count()
                );
            }
            Ok(())
        }
    }
}

fn check(net: &Network, json: bool) -> Result<()> {
    let ops = net.ops_per_kind();
    let mut rows = Vec::new();
    for layer in &net.layers {
        let x = net.tensor(layer.inputs[0]);
        let (kind, geometry, acc_bits, layer_ops) = match &layer.op {
            Op::Conv(c) => (
                c.kind.name(),
                c.geometry(),
                Some(c.acc_bits),
                (layer.out.shape.len() * c.fan_in()) as u64,
            ),
            _ => ("-", "-", None, 0),
        };
        rows.push(json!({
            "name": layer.name,
            "op": layer.op.type_name(),
            "kind": kind,
            "geometry": geometry,
            "inputs": layer.inputs.iter().map(|&t| net.tensor(t).name.clone()).collect::<Vec<_>>(),
            "input_shape": [x.shape.c, x.shape.h, x.shape.w],
            "output_shape": [layer.out.shape.c, layer.out.shape.h, layer.out.shape.w],
            "out_bits": layer.out.bits,
            "acc_bits": acc_bits,
            "activation": layer.activation,
            "ops": layer_ops,
        }));
    }
    let out = net.output_info();
    let (energy, total) = nasa::cost::network_energy(net, &nasa::cost::UnitEnergy::default());
    if json {
        print_json(&json!({
            "ok": true,
            "compute_energy_pj": { "conv": energy[0], "shift": energy[1], "adder": energy[2], "total": total },
            "network": net.name,
            "input_shape": [net.input.tensor.shape.c, net.input.tensor.shape.h, net.input.tensor.shape.w],
            "output": out.name,
            "layers": rows,
            "ops": { "conv": ops[0], "shift": ops[1], "adder": ops[2] },
            "parameters": net.parameter_count(),
            "provenance": net.provenance,
        }));
        return Ok(());
    }
    println!(
        "network `{}`: {} layers, input {} ({}-bit), output `{}` {}",
        net.name,
        net.layers.len(),
        net.input.tensor.shape,
        net.input.tensor.bits,
        out.name,
        out.shape
    );
    println!(
        "  {:<18} {:<14} {:<6} {:<10} {:>10} -> {:<10} {:>4} {:>4} {:>10}",
        "layer", "op", "kind", "geometry", "in", "out", "bits", "acc", "ops"
    );
    for (layer, row) in net.layers.iter().zip(&rows) {
        println!(
            "  {:<18} {:<14} {:<6} {:<10} {:>10} -> {:<10} {:>4} {:>4} {:>10}",
            layer.name,
            layer.op.type_name(),
            row["kind"].as_str().unwrap_or("-"),
            row["geometry"].as_str().unwrap_or("-"),
            net.tensor(layer.inputs[0]).shape.to_string(),
            layer.out.shape.to_string(),
            layer.out.bits,
            row["acc_bits"]
                .as_u64()
                .map(|v| v.to_string())
                .unwrap_or_else(|| "-".into()),
            row["ops"].as_u64().unwrap_or(0),
        );
    }
    println!(
        "operations per inference: conv {}, shift {}, adder {}",
        ops[0], ops[1], ops[2]
    );
    println!(
        "compute energy per inference (45 nm unit table): {:.1} nJ (conv {:.1}, shift {:.1}, adder {:.1})",
        total / 1000.0,
        energy[0] / 1000.0,
        energy[1] / 1000.0,
        energy[2] / 1000.0
    );
    println!("parameters: {}", net.parameter_count());
    println!("description sha256 {}", net.provenance.description_sha256);
    if let Some(w) = &net.provenance.weights_sha256 {
        println!("weights     sha256 {w}");
    }
    println!("ok");
    Ok(())
}

/// Images to run: quantised inputs, and the 8-bit pixels and labels when known.
struct Images {
    quantized: Vec<Vec<i64>>,
    pixels: Option<Vec<Vec<u8>>>,
    labels: Option<Vec<u8>>,
}

/// Reads `count` images starting at `index` from an IDX or safetensors file.
fn read_input_file(net: &Network, path: &Path, index: usize, count: usize) -> Result<Images> {
    // Saturating: an absurd --index is just past the end, not an overflow.
    let end = index.saturating_add(count);
    let shape = net.input.tensor.shape;
    let head = std::fs::read(path)
        .map_err(|e| InputError::new(path, format!("cannot read input: {e}")))?;
    let is_idx = head.len() >= 4
        && ((head[0] == 0 && head[1] == 0 && head[2] == 8) || (head[0] == 0x1f && head[1] == 0x8b));
    if is_idx {
        let (n, h, w, pixels) = data::read_idx_images(path)?;
        if (1, h, w) != (shape.c, shape.h, shape.w) {
            return Err(InputError::new(
                path,
                format!("images are 1x{h}x{w} but the network's input is {shape}"),
            )
            .into());
        }
        if end > n {
            return Err(InputError::new(
                path,
                format!("asked for images {index}..{} but the file holds {n}", end),
            )
            .into());
        }
        let px: Vec<Vec<u8>> = (index..end)
            .map(|i| pixels[i * h * w..(i + 1) * h * w].to_vec())
            .collect();
        let quantized = px.iter().map(|p| golden::quantize_image(net, p)).collect();
        return Ok(Images {
            quantized,
            pixels: Some(px),
            labels: None,
        });
    }
    let st = safetensors::SafeTensors::deserialize(&head).map_err(|e| {
        InputError::new(
            path,
            format!("neither an IDX image file nor a valid safetensors file: {e}"),
        )
    })?;
    let t = st
        .tensor("input")
        .map_err(|_| InputError::new(path, "no tensor named `input`").field("input"))?;
    if t.dtype() != safetensors::Dtype::I8 {
        return Err(InputError::new(
            path,
            format!("tensor `input` has dtype {:?}, expected I8", t.dtype()),
        )
        .field("input")
        .into());
    }
    let dims = t.shape();
    let (n, chw) = match dims {
        [c, h, w] => (1, [*c, *h, *w]),
        [n, c, h, w] => (*n, [*c, *h, *w]),
        _ => {
            return Err(InputError::new(
                path,
                format!("tensor `input` has shape {dims:?}, expected [N,C,H,W] or [C,H,W]"),
            )
            .field("input")
            .into())
        }
    };
    if chw != [shape.c, shape.h, shape.w] {
        return Err(InputError::new(
            path,
            format!(
                "tensor `input` holds {}x{}x{} images but the network's input is {shape}",
                chw[0], chw[1], chw[2]
            ),
        )
        .field("input")
        .into());
    }
    if end > n {
        return Err(InputError::new(
            path,
            format!("asked for images {index}..{} but `input` holds {n}", end),
        )
        .field("input")
        .into());
    }
    let (lo, hi) = quant::signed_range(net.input.tensor.bits);
    let vals: Vec<i64> = t.data().iter().map(|&b| b as i8 as i64).collect();
    if let Some(v) = vals.iter().find(|&&v| v < lo || v > hi) {
        return Err(InputError::new(
            path,
            format!(
                "value {v} is outside the input's {}-bit range",
                net.input.tensor.bits
            ),
        )
        .field("input")
        .into());
    }
    let len = shape.len();
    let quantized = (index..end)
        .map(|i| vals[i * len..(i + 1) * len].to_vec())
        .collect();
    Ok(Images {
        quantized,
        pixels: None,
        labels: None,
    })
}

fn golden_cmd(
    net: &Network,
    input: Option<&Path>,
    data_args: &DataArgs,
    index: usize,
    count: usize,
    dump_dir: Option<&Path>,
    json: bool,
) -> Result<()> {
    if count == 0 {
        bail!("--count must be at least 1");
    }
    let end = index.saturating_add(count);
    let Images {
        quantized: inputs,
        pixels,
        labels,
    } = match (input, data_args.dataset) {
        (Some(p), _) => read_input_file(net, p, index, count)?,
        (None, Some(kind)) => {
            let set = data::load_test(kind, data_args.data.as_deref())?;
            eval::check_compatible(net, &set)?;
            if end > set.len() {
                bail!(
                    "asked for images {index}..{} but the {kind} test set holds {}",
                    end,
                    set.len()
                );
            }
            let px: Vec<Vec<u8>> = (index..end).map(|i| set.image(i).to_vec()).collect();
            let quantized = px.iter().map(|p| golden::quantize_image(net, p)).collect();
            let labels = Some(set.labels[index..end].to_vec());
            Images {
                quantized,
                pixels: Some(px),
                labels,
            }
        }
        (None, None) => bail!("golden needs --input FILE or --dataset NAME"),
    };
    let outputs = golden::infer_batch(net, &inputs);
    let scale = net.output_info().scale;
    let mut images = Vec::new();
    for (i, out) in outputs.iter().enumerate() {
        let float = match &pixels {
            Some(px) => golden::infer_float(net, &golden::real_image(net, &px[i])),
            None => golden::infer_float(
                net,
                &inputs[i].iter().map(|&v| v as f64).collect::<Vec<_>>(),
            ),
        };
        let err = out
            .iter()
            .zip(&float)
            .map(|(&a, &b)| (a as f64 - b).abs() * scale)
            .fold(0.0, f64::max);
        images.push(json!({
            "index": index + i,
            "prediction": argmax(out),
            "label": labels.as_ref().map(|l| l[i]),
            "output": out,
            "float_output": float,
            "float_prediction": argmax(&float),
            "max_abs_error": err,
        }));
    }
    let dumped = match dump_dir {
        Some(dir) => Some(
            dump::write_dump(net, &inputs, dir)
                .with_context(|| format!("writing dump {}", dir.display()))?,
        ),
        None => None,
    };
    if json {
        print_json(
            &json!({ "network": net.name, "images": images, "dump": dump_dir.map(|d| d.display().to_string()) }),
        );
        return Ok(());
    }
    for img in &images {
        let label = img["label"]
            .as_u64()
            .map(|l| format!(" (label {l})"))
            .unwrap_or_default();
        println!(
            "image {}: class {}{label}; output {}",
            img["index"], img["prediction"], img["output"]
        );
        println!(
            "  float reference: class {}, largest |integer - float| = {:.4}",
            img["float_prediction"],
            img["max_abs_error"].as_f64().unwrap_or(0.0)
        );
    }
    if let (Some(d), Some(idx)) = (dump_dir, dumped) {
        println!(
            "dumped {} tensors of {} image(s) to {}",
            idx.tensors.len(),
            idx.images,
            d.display()
        );
    }
    Ok(())
}

fn map_cmd(
    paths: &[PathBuf],
    opts: &nasa::map::MapOptions,
    compare: bool,
    output: Option<&Path>,
    json: bool,
) -> Result<()> {
    if !(opts.clock_mhz.is_finite() && opts.clock_mhz > 0.0) {
        bail!(
            "--clock-mhz must be a positive number of MHz, not {}",
            opts.clock_mhz
        );
    }
    let nets: Vec<Network> = if paths.is_empty() {
        vec![models::load_description(Path::new("default"))?]
    } else {
        paths
            .iter()
            .map(|p| models::load_description(p))
            .collect::<Result<_, _>>()?
    };
    let mapping = nasa::map::map(&nets, opts).map_err(|m| anyhow::anyhow!(m))?;
    let baseline = if compare {
        let twins: Vec<Network> = nets.iter().map(nasa::map::all_multiply).collect();
        let mut o = opts.clone();
        o.name = format!("{}-all-multiply", opts.name);
        // One chunk: nothing to overlap.
        o.pipeline = false;
        Some(nasa::map::map(&twins, &o).map_err(|m| anyhow::anyhow!(m))?)
    } else {
        None
    };
    if let Some(path) = output {
        let names: Vec<&str> = nets.iter().map(|n| n.name.as_str()).collect();
        let text = format!(
            "# Accelerator for {}, chosen by `nasa map` for a budget of {}, objective {:?}\n# ({} designs evaluated; {:.0} LUTs by the fitted model).\n{}",
            names.join(", "),
            opts.budget,
            opts.objective,
            mapping.designs_evaluated,
            mapping.luts,
            mapping.arch.to_toml()
        );
        fsutil::write_atomic(path, text.as_bytes())?;
    }
    if json {
        let mut v = json!({
            "mapping": mapping,
            "architecture": mapping.arch,
            "output": output.map(|p| p.display().to_string()),
        });
        if let Some(b) = &baseline {
            v["all_multiply"] = json!({ "mapping": b, "architecture": b.arch });
            v["comparison"] = comparison(&mapping, b);
        }
        print_json(&v);
        return Ok(());
    }
    print_mapping(&mapping);
    if let Some(b) = &baseline {
        println!("\nAll-multiply accelerator of the same budget, on the all-multiply networks:");
        print_mapping(b);
        let c = comparison(&mapping, b);
        println!("\nHybrid against all-multiply (ratio < 1: the hybrid is lower):");
        for n in c.as_array().into_iter().flatten() {
            println!(
                "  {}: latency x{:.3}, throughput x{:.3}, energy x{:.3}, EDP x{:.3}",
                n["network"].as_str().unwrap_or(""),
                n["latency_ratio"].as_f64().unwrap_or(f64::NAN),
                n["throughput_ratio"].as_f64().unwrap_or(f64::NAN),
                n["energy_ratio"].as_f64().unwrap_or(f64::NAN),
                n["edp_ratio"].as_f64().unwrap_or(f64::NAN),
            );
        }
    }
    if let Some(path) = output {
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn comparison(h: &nasa::map::Mapping, b: &nasa::map::Mapping) -> serde_json::Value {
    h.networks
        .iter()
        .zip(&b.networks)
        .map(|(x, y)| {
            json!({
                "network": x.network,
                "latency_ratio": x.latency_us / y.latency_us,
                "throughput_ratio": x.throughput / y.throughput,
                "energy_ratio": x.energy_nj / y.energy_nj,
                "edp_ratio": x.edp / y.edp,
            })
        })
        .collect()
}

fn print_mapping(m: &nasa::map::Mapping) {
    println!(
        "design: {} conv, {} shift, {} adder PEs (area {:.2} MAC PEs, {:.0} LUTs; budget {}); objective {:?}; {} designs in {:.3} s",
        m.pes[0], m.pes[1], m.pes[2], m.area, m.luts, m.budget, m.objective, m.designs_evaluated, m.search_seconds
    );
    for n in &m.networks {
        let e = &n.energy_breakdown_nj;
        println!(
            "{}: {} cycles ({} waiting on memory; {:.1} us, {:.0} inferences/s), {:.1} nJ (compute {:.1}, DRAM {:.1}, buffer {:.1}, NoC {:.1}, RF {:.1}), EDP {:.4e} nJ*us",
            n.network, n.cycles, n.memory_cycles, n.latency_us, n.throughput, n.energy_nj, e.compute, e.dram, e.buffer, e.noc, e.rf, n.edp
        );
        println!(
            "  {:<22} {:<15} {:>6} {:>5} {:>6} {:>10} {:>12}",
            "layer", "op", "chunk", "PEs", "tiles", "cycles", "energy pJ"
        );
        for l in &n.layers {
            println!(
                "  {:<22} {:<15} {:>6} {:>5} {:>6} {:>10} {:>12.0}",
                l.layer,
                l.op,
                l.chunk.map_or("post", |k| k.name()),
                l.pes,
                l.tiles,
                l.cycles,
                l.energy_pj
            );
        }
    }
}

fn size_cmd(net: Option<&Path>, pes: u32, output: Option<&Path>, json: bool) -> Result<()> {
    let network = models::load(net)?;
    let arch = arch::size(&network, pes, &network.name).map_err(|m| anyhow::anyhow!(m))?;
    let ops = network.ops_per_kind();
    let ideal: Vec<(Kind, u64)> = Kind::ALL
        .iter()
        .zip(ops)
        .filter(|(_, o)| *o > 0)
        .map(|(&k, o)| (k, o.div_ceil(arch.pes(k) as u64)))
        .collect();
    let mut text = format!(
        "# Accelerator for network `{}` (description sha256 {}),\n# proposed by `nasa size --pes {pes}`.\n",
        network.name, network.provenance.description_sha256
    );
    for (kind, cycles) in &ideal {
        let k = Kind::ALL.iter().position(|x| x == kind).unwrap_or(0);
        text += &format!(
            "# {kind}: {} ops on {} PEs = {cycles} ideal cycles\n",
            ops[k],
            arch.pes(*kind)
        );
    }
    text += &arch.to_toml();
    if let Some(path) = output {
        fsutil::write_atomic(path, text.as_bytes())?;
    }
    if json {
        let ideal: serde_json::Map<String, serde_json::Value> = ideal
            .iter()
            .map(|(k, c)| (k.name().to_string(), json!(c)))
            .collect();
        print_json(&json!({
            "architecture": arch,
            "ops": { "conv": ops[0], "shift": ops[1], "adder": ops[2] },
            "ideal_cycles": ideal,
            "pe_area": arch.pe_area(),
            "output": output.map(|p| p.display().to_string()),
        }));
    } else if let Some(path) = output {
        println!("wrote {}", path.display());
    } else {
        print!("{text}");
    }
    Ok(())
}
