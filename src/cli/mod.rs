//! The command line: each command turns its arguments into the library's
//! inputs, calls the library, and prints the report it returns through
//! `report::print` (text, or JSON with `--json`).

pub mod args;
mod golden;
mod progress;
mod report;

use anyhow::{bail, Result};

use nasa::hw::{arch, map};
use nasa::learn::{search, train};
use nasa::model::net::Network;
use nasa::model::{data, eval, models, randomize};

use args::{Cli, Command, MapArgs, SearchCmd, TrainCmd};
use progress::{progress, TrainBars};
use report::{print, Stopped};

pub fn run(cli: Cli) -> Result<()> {
    let json = cli.json;
    match cli.command {
        Command::Check(a) => print(
            &nasa::model::check::check(&models::load(a.net.as_deref())?),
            json,
        ),
        Command::Golden(a) => {
            let net = models::load(a.net.net.as_deref())?;
            let request = nasa::model::inspect::GoldenRequest {
                input: a.input,
                dataset: a.data.dataset,
                data_dir: a.data.data,
                index: a.index,
                count: a.count,
                dump: a.dump,
            };
            print(&nasa::model::inspect::golden(&net, &request)?, json)
        }
        Command::Eval {
            net,
            data,
            limit,
            float,
        } => {
            let net = models::load(net.net.as_deref())?;
            let Some(kind) = data.dataset else {
                bail!("eval needs --dataset (mnist, fashion-mnist, cifar10 or cifar100)")
            };
            let set = eval::test_set(&net, kind, data.data.as_deref(), limit)?;
            let bar = progress(set.len(), json);
            let report = eval::evaluate(&net, &set, float, &|| bar.inc(1));
            bar.finish_and_clear();
            let shown = report::Evaluated {
                report: &report,
                network: &net.name,
                dataset: kind,
            };
            print(&shown, json)
        }
        Command::Gen {
            net,
            arch,
            output,
            name,
        } => {
            let network = models::load(net.net.as_deref())?;
            let (arch, arch_text) = arch::Arch::load_or_size(arch.as_deref(), &network)?;
            let name = name.unwrap_or_else(|| {
                output
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "nasa".into())
            });
            let stamp = nasa::hw::gen::generate(&network, &arch, &arch_text, &name, &output)?;
            let generated = report::Generated {
                output: output.display().to_string(),
                stamp,
                name,
            };
            print(&generated, json)
        }
        Command::Sim {
            dir,
            images,
            data,
            seed,
            simulator,
            serial,
            build_dir,
            trace,
            trace_layer,
            trace_cycles,
            trace_image,
            axi,
            wait_seed,
            max_wait,
        } => {
            use nasa::hw::sim::{Trace, TraceWindow};
            let trace = trace.map(|file| Trace {
                file,
                window: match (trace_layer, trace_cycles) {
                    (Some(l), _) => TraceWindow::Layer(l),
                    (None, Some((a, b))) => TraceWindow::Cycles(a, b),
                    (None, None) => TraceWindow::All,
                },
                image: trace_image,
            });
            let opts = nasa::hw::sim::SimOptions {
                images,
                dataset: data.dataset,
                data_dir: data.data,
                seed,
                simulator,
                serial,
                build_dir,
                trace,
            };
            if axi {
                let waits = nasa::hw::sim::AxiWaits {
                    seed: wait_seed,
                    max_wait,
                };
                let report = nasa::hw::sim::simulate_axi(&dir, &opts, waits)?;
                nasa::hw::report::save(&dir, nasa::hw::report::AXI_FILE, &report)?;
                print(&report, json)?;
                if !report.pass {
                    bail!("the AXI4-wrapped design mismatches the golden model");
                }
                return Ok(());
            }
            let report = nasa::hw::sim::simulate(&dir, &opts)?;
            nasa::hw::report::save(&dir, nasa::hw::report::SIM_FILE, &report)?;
            print(&report, json)?;
            if !report.pass {
                bail!("simulation mismatches the golden model");
            }
            Ok(())
        }
        Command::Synth {
            dir,
            targets,
            device,
            no_pnr,
            router,
        } => {
            let mut unique = Vec::new();
            for t in targets {
                if !unique.contains(&t) {
                    unique.push(t);
                }
            }
            let opts = nasa::hw::synth::SynthOptions {
                targets: unique,
                device,
                place_and_route: !no_pnr,
                router,
            };
            let bar = progress(2, json);
            let report = nasa::hw::synth::synthesize(&dir, &opts)?;
            nasa::hw::report::save(&dir, nasa::hw::report::SYNTH_FILE, &report)?;
            bar.finish_and_clear();
            print(&report, json)
        }
        Command::Report { dir, output } => {
            let (json_path, html_path) = nasa::hw::report::write(&dir, output.as_deref())?;
            print(
                &report::Written {
                    json: json_path.display().to_string(),
                    html: html_path.display().to_string(),
                },
                json,
            )
        }
        Command::Size { net, pes, output } => {
            let network = models::load(net.net.as_deref())?;
            print(&arch::size_report(&network, pes, output.as_deref())?, json)
        }
        Command::Map(a) => map_cmd(a, json),
        Command::Search(a) => search_cmd(a, json),
        Command::Train(a) => train_cmd(a, json),
        Command::RandomWeights { net, seed, output } => {
            print(&randomize::write_random_weights(&net, seed, &output)?, json)
        }
    }
}

fn map_cmd(a: MapArgs, json: bool) -> Result<()> {
    let energy = match &a.energy {
        Some(p) => map::energy::EnergyTable::load(p)?,
        None => Default::default(),
    };
    let opts = map::MapOptions {
        budget: match (a.fpga, a.budget_luts) {
            (Some(part), _) => map::Budget::Part(map::fpga::PartBudget {
                part,
                lut_fill: a.lut_fill,
            }),
            (None, Some(l)) => map::Budget::Luts(l),
            (None, None) => map::Budget::PeArea(a.budget),
        },
        objective: a.objective,
        buffer: arch::Buffer::with_words(a.buffer_words, a.data_bits),
        memory: arch::Memory {
            data_bits: a.data_bits,
        },
        clock_mhz: a.clock_mhz,
        energy,
        name: a.name,
        pipeline: a.pipeline,
        engine: a.engine,
        share: a.share,
        fuse: a.fuse,
    };
    let report = map::map_report(&a.nets, &opts, a.compare, a.output.as_deref())?;
    let measured = match a.sim {
        Some(images) => Some(nasa::hw::compare::measure(
            &a.nets,
            &report,
            &nasa::hw::compare::SimCompare {
                images,
                dir: a.sim_dir,
                dataset: a.data.dataset,
                data_dir: a.data.data,
                seed: a.seed,
            },
        )?),
        None => None,
    };
    print(&report::Mapped { report, measured }, json)
}

fn search_cmd(a: SearchCmd, json: bool) -> Result<()> {
    let c = &a.common;
    let train_set = data::load_train(c.dataset, c.data.as_deref())?;
    let test_set = data::load_test(c.dataset, c.data.as_deref())?;
    let mapper = match a.cost {
        args::CostKind::Unit => {
            if a.budget.is_some() || a.objective.is_some() || a.pipeline || a.buffer_words.is_some()
            {
                bail!("--budget, --objective, --pipeline and --buffer-words price the search's networks with the mapper: add `--cost mapper`");
            }
            None
        }
        args::CostKind::Mapper => Some(map::price::MapperCost {
            options: map::MapOptions {
                budget: map::Budget::PeArea(a.budget.unwrap_or(arch::DEFAULT_BUDGET as f64)),
                objective: a.objective.unwrap_or(map::Objective::Edp),
                buffer: a.buffer_words.map_or_else(Default::default, |w| {
                    arch::Buffer::with_words(w, arch::Memory::default().data_bits)
                }),
                memory: Default::default(),
                clock_mhz: arch::DEFAULT_CLOCK_MHZ,
                energy: Default::default(),
                name: "searched".into(),
                pipeline: a.pipeline,
                engine: Default::default(),
                share: false,
                fuse: None,
            },
        }),
    };
    let run = search::SearchRun {
        train: &train_set,
        out: &c.out,
        options: search::SearchOptions {
            pgp_epochs: a.pgp_epochs,
            search_epochs: a.search_epochs,
            batch: c.batch,
            top_k: a.top_k,
            lambda: a.lambda,
            energy_target_nj: a.energy_target,
            space: a.space,
            sharing: a.sharing,
            depth: a.depth,
            width: a.width,
            seed: c.seed,
            train_limit: c.train_limit,
            ..Default::default()
        },
        resume: c.resume,
        stop_after: c.stop_after,
        hardware: mapper
            .as_ref()
            .map(|m| m as &dyn nasa::model::cost::CostModel),
    };
    let train_options = train::TrainOptions {
        epochs: c.epochs,
        qat_epochs: c.qat_epochs,
        batch: c.batch,
        seed: c.seed,
        train_limit: c.train_limit,
        test_limit: c.test_limit,
        ..Default::default()
    };
    let found = |s: &search::SearchSummary| {
        if !json {
            eprintln!(
                "derived {} ({:.1} nJ compute per inference, all-multiplier {:.1} nJ); training it",
                s.arch, s.derived_energy_nj, s.all_conv_energy_nj
            );
        }
    };
    let bars = TrainBars::new(json);
    match search::search_and_train(&run, &test_set, train_options, &bars, &found)? {
        None => print(&Stopped::new(&c.out), json),
        Some(r) => {
            let shown = report::Searched {
                report: &r,
                dataset: c.dataset,
                out: &c.out,
            };
            print(&shown, json)
        }
    }
}

fn train_cmd(a: TrainCmd, json: bool) -> Result<()> {
    let c = &a.common;
    let network = models::load_description(&a.net)?;
    let train_set = data::load_train(c.dataset, c.data.as_deref())?;
    let test_set = data::load_test(c.dataset, c.data.as_deref())?;
    eval::check_compatible(&network, &train_set)?;
    let teacher = match &a.teacher {
        Some(p) => Some(Network::load(p)?),
        None => None,
    };
    let mut options = train::TrainOptions {
        epochs: c.epochs,
        qat_epochs: c.qat_epochs,
        batch: c.batch,
        lr: a.lr,
        weight_decay: a.weight_decay,
        seed: c.seed,
        augment: !a.no_augment,
        train_limit: c.train_limit,
        test_limit: c.test_limit,
        temperature: a.temperature,
        precise_bn: a.precise_bn,
        ..Default::default()
    };
    options.resolve(a.qat_lr, a.distill, teacher.as_ref())?;
    let run = train::Run {
        net: &network,
        train: &train_set,
        test: &test_set,
        out: &c.out,
        options,
        resume: c.resume,
        stop_after: c.stop_after,
        teacher: teacher.as_ref(),
    };
    let bars = TrainBars::new(json);
    match train::train(&run, &bars)? {
        None => print(&Stopped::new(&c.out), json),
        Some(s) => {
            let shown = report::Trained {
                summary: &s,
                dataset: c.dataset,
                out: &c.out,
            };
            print(&shown, json)
        }
    }
}
