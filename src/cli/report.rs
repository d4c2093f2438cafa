//! The one printer: every command's result is a `Report`, printed as its
//! text or (`--json`) as pretty JSON through serde.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use nasa::hw::arch::SizeReport;
use nasa::hw::compare::MeasuredComparison;
use nasa::hw::map::{MapReport, Mapping};
use nasa::hw::sim::{AxiReport, SimReport};
use nasa::hw::synth::{SynthReport, Target};
use nasa::learn::search::SearchAndTrain;
use nasa::learn::train::TrainSummary;
use nasa::model::check::CheckReport;
use nasa::model::data::DatasetKind;
use nasa::model::eval::EvalReport;

/// A command's result: serialisable for `--json`, with a text form.
pub trait Report: Serialize {
    /// The text printed without `--json`, each line ending in a newline.
    fn text(&self) -> String;
}

/// Prints a report on stdout: its text, or with `json` its pretty JSON.
pub fn print(report: &impl Report, json: bool) -> Result<()> {
    if json {
        let value = serde_json::to_value(report)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", report.text());
    }
    Ok(())
}

impl Report for CheckReport {
    fn text(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "network `{}`: {} layers, input {} ({}-bit), output `{}` {}",
            self.network,
            self.layers.len(),
            self.input_shape,
            self.input_bits,
            self.output,
            self.output_shape
        );
        let _ = writeln!(
            t,
            "  {:<18} {:<14} {:<6} {:<10} {:>10} -> {:<10} {:>4} {:>4} {:>10}",
            "layer", "op", "kind", "geometry", "in", "out", "bits", "acc", "ops"
        );
        for row in &self.layers {
            let _ = writeln!(
                t,
                "  {:<18} {:<14} {:<6} {:<10} {:>10} -> {:<10} {:>4} {:>4} {:>10}",
                row.name,
                row.op,
                row.kind,
                row.geometry,
                row.input_shape.to_string(),
                row.output_shape.to_string(),
                row.out_bits,
                row.acc_bits
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "-".into()),
                row.ops,
            );
        }
        let _ = writeln!(
            t,
            "operations per inference: conv {}, shift {}, adder {}",
            self.ops["conv"], self.ops["shift"], self.ops["adder"]
        );
        let nj = |k: &str| self.compute_energy_pj[k] / 1000.0;
        let _ = writeln!(
            t,
            "compute energy per inference (45 nm unit table): {:.1} nJ (conv {:.1}, shift {:.1}, adder {:.1})",
            nj("total"),
            nj("conv"),
            nj("shift"),
            nj("adder")
        );
        let _ = writeln!(t, "parameters: {}", self.parameters);
        let _ = writeln!(
            t,
            "description sha256 {}",
            self.provenance.description_sha256
        );
        if let Some(w) = &self.provenance.weights_sha256 {
            let _ = writeln!(t, "weights     sha256 {w}");
        }
        t + "ok\n"
    }
}

impl Report for SizeReport {
    fn text(&self) -> String {
        match &self.output {
            Some(path) => format!("wrote {path}\n"),
            None => self.file_text.clone(),
        }
    }
}

fn mapping_text(t: &mut String, m: &Mapping) {
    let shapes: Vec<String> = nasa::model::quant::Kind::ALL
        .iter()
        .filter_map(|&k| {
            m.arch
                .chunk(k)
                .map(|c| format!("{k} {}x{}", c.rows, c.cols))
        })
        .collect();
    let _ = writeln!(
        t,
        "design: {} conv, {} shift, {} adder PEs ({}; {} engine; area {:.2} MAC PEs; budget {}); objective {:?}; {} designs in {:.3} s ({:.0} per s)",
        m.pes[0], m.pes[1], m.pes[2], shapes.join(", "), m.engine, m.area, m.budget, m.objective, m.designs_evaluated, m.search_seconds,
        m.designs_evaluated as f64 / m.search_seconds.max(1e-9)
    );
    if let Some(f) = &m.fpga {
        let _ = writeln!(t, "FPGA resources by the model: {}", f.summary());
    }
    for n in &m.networks {
        let e = &n.energy_breakdown_nj;
        let _ = writeln!(
            t,
            "{}: {} cycles ({} waiting on memory; {:.1} us, {:.0} inferences/s), {:.1} nJ (compute {:.1}, DRAM {:.1}, buffer {:.1}, NoC {:.1}, RF {:.1}), EDP {:.4e} nJ*us; conv and linear layers keep {:.1}% of their PEs busy",
            n.network, n.cycles, n.memory_cycles, n.latency_us, n.throughput, n.energy_nj, e.compute, e.dram, e.buffer, e.noc, e.rf, n.edp, 100.0 * n.conv_utilization
        );
        if let Some(p) = &n.pipeline {
            let engines: Vec<String> = p
                .engines
                .iter()
                .map(|e| format!("{} {}", e.chunk, e.cycles))
                .collect();
            let _ = writeln!(
                t,
                "  pipelined: a new image every {} cycles (the busiest engine; cycles per image: {}); the cycles above are one image alone",
                p.period,
                engines.join(", ")
            );
            let _ = writeln!(
                t,
                "  a run of {} images: {} cycles, {:.0} per image with the filling and draining",
                p.run_images,
                p.run_cycles,
                p.run_cycles as f64 / p.run_images.max(1) as f64
            );
            if !m.arch.schedule.fuse.is_empty() {
                let _ = writeln!(
                    t,
                    "  fused with their producers, in bands of rows (at most {}): {}",
                    m.arch.schedule.bands,
                    m.arch.schedule.fuse.join(", ")
                );
            }
        }
        let _ = writeln!(
            t,
            "  {:<22} {:<15} {:>6} {:>5} {:>9} {:>6} {:>10} {:>12} {:>6}",
            "layer", "op", "chunk", "PEs", "walk", "tiles", "cycles", "energy pJ", "busy"
        );
        if n.layers.iter().any(|l| l.frame_cycles > 0) {
            let _ = writeln!(
                t,
                "  (the first layer's cycles include the input load, the last's the output store; busy: terms / (the layer's own cycles x PEs))"
            );
        }
        for l in &n.layers {
            let _ = writeln!(
                t,
                "  {:<22} {:<15} {:>6} {:>5} {:>9} {:>6} {:>10} {:>12.0} {:>6}",
                l.layer,
                l.op,
                l.chunk.map_or("post", |k| k.name()),
                l.pes,
                l.walk.unwrap_or("-"),
                l.tiles,
                l.cycles,
                l.energy_pj,
                l.utilization
                    .map_or("-".to_string(), |u| format!("{:.1}%", 100.0 * u))
            );
        }
    }
}

impl Report for MapReport {
    fn text(&self) -> String {
        let mut t = String::new();
        mapping_text(&mut t, &self.design.mapping);
        if let Some(b) = &self.all_multiply {
            t += "\nAll-multiply accelerator of the same budget, on the all-multiply networks:\n";
            mapping_text(&mut t, &b.mapping);
            t += "\nHybrid against all-multiply (ratio < 1: the hybrid is lower):\n";
            for c in self.comparison.iter().flatten() {
                let _ = writeln!(
                    t,
                    "  {}: latency x{:.3}, throughput x{:.3}, energy x{:.3}, EDP x{:.3}",
                    c.network, c.latency_ratio, c.throughput_ratio, c.energy_ratio, c.edp_ratio,
                );
                if let (Some(tp), Some(edp)) = (c.run_throughput_ratio, c.run_edp_ratio) {
                    let _ = writeln!(
                        t,
                        "    over a run of {} images, the pipeline's filling and draining included: throughput x{tp:.3}, EDP x{edp:.3}",
                        nasa::hw::rounds::RUN_IMAGES
                    );
                }
            }
        }
        if let Some(path) = &self.output {
            let _ = writeln!(t, "wrote {path}");
        }
        t
    }
}

/// `nasa map`'s report, with `--sim` the measured comparison.
#[derive(Serialize)]
pub struct Mapped {
    #[serde(flatten)]
    pub report: MapReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured: Option<Vec<MeasuredComparison>>,
}

impl Report for Mapped {
    fn text(&self) -> String {
        let mut t = self.report.text();
        for m in self.measured.iter().flatten() {
            let _ = writeln!(
                t,
                "\nMeasured in Verilator, {} images each (energy: the model of the same activity):",
                m.hybrid.images
            );
            let _ = writeln!(
                t,
                "  {:<13} {:>9} {:>13} {:>13} {:>9} {:>10} {:>11}  directory",
                "design",
                "bit-exact",
                "cycles/image",
                "(predicted)",
                "images/s",
                "energy nJ",
                "EDP nJ*us"
            );
            for (label, d) in [("hybrid", &m.hybrid), ("all-multiply", &m.all_multiply)] {
                let _ = writeln!(
                    t,
                    "  {:<13} {:>9} {:>13.0} {:>13.0} {:>9.0} {:>10.1} {:>11.4e}  {}",
                    label,
                    if d.pass { "yes" } else { "NO" },
                    d.cycles_per_inference,
                    d.predicted_cycles,
                    d.inferences_per_s,
                    d.energy_nj,
                    d.edp_nj_us,
                    d.dir
                );
            }
            let _ = writeln!(
                t,
                "  hybrid against all-multiply: throughput x{:.3}, energy x{:.3}, EDP x{:.3}",
                m.throughput_ratio, m.energy_ratio, m.edp_ratio
            );
            let _ = writeln!(
                t,
                "  a continuous stream (cycles per image: hybrid {:.0}, all-multiply {:.0}, the model's period; the longest interval measured between two outputs: {:.0} and {:.0}): throughput x{:.3}, EDP x{:.3}",
                m.hybrid.stream_cycles,
                m.all_multiply.stream_cycles,
                m.hybrid.steady_cycles,
                m.all_multiply.steady_cycles,
                m.steady_throughput_ratio,
                m.steady_edp_ratio
            );
        }
        t
    }
}

impl Report for SimReport {
    fn text(&self) -> String {
        let mut t = format!(
            "{}: {} image(s), {} mismatching output(s); {:.0} cycles per inference (mapper's prediction {:.0}, ideal {}), PE utilisation {:.1}%\n",
            if self.pass { "PASS" } else { "FAIL" },
            self.images,
            self.mismatches,
            self.cycles_per_inference,
            self.predicted_cycles,
            self.ideal_cycles,
            100.0 * self.pe_utilization
        );
        if let Some(w) = &self.trace {
            let _ = writeln!(
                t,
                "waveform: {} ({}), image {}, cycles {}..{}",
                w.file.display(),
                w.format,
                w.image,
                w.from,
                w.to.map_or("end".into(), |c| c.to_string())
            );
        }
        if let Some(m) = &self.first_mismatch {
            let _ = writeln!(
                t,
                "first difference: image {}, layer `{}`, channel {}, position ({}, {}): design {} golden {}",
                m.image, m.layer, m.channel, m.y, m.x, m.got, m.expected
            );
            if !m.trace_hint.is_empty() {
                let _ = writeln!(t, "  {}", m.trace_hint);
            }
        }
        t
    }
}

impl Report for AxiReport {
    fn text(&self) -> String {
        format!(
            "{}: AXI4-wrapped design, {} image(s), {} mismatching output(s), no protocol violation; {} cycles from START to done with wait states of 0 to {} cycles (seed {}), weights' load included; {} cycles at the fixed-latency memory of the model\nAXI4 traffic: {} transactions ({} bursts), {} beats\n",
            if self.pass { "PASS" } else { "FAIL" },
            self.images,
            self.mismatches,
            self.cycles,
            self.max_wait,
            self.wait_seed,
            self.model_cycles,
            self.transactions,
            self.bursts,
            self.beats
        )
    }
}

impl Report for SynthReport {
    fn text(&self) -> String {
        let mut t = String::new();
        for r in &self.targets {
            let x = &r.total;
            let target = r.target;
            if target == Target::Generic {
                let _ = writeln!(t, "generic: {} cells", x.cells);
                for (kind, c) in &r.chunks {
                    let _ = writeln!(
                        t,
                        "  {kind} chunk ({} PE cells): {} cells",
                        c.pes, c.resources.cells
                    );
                }
                continue;
            }
            let _ = writeln!(
                t,
                "{target}: {} LUTs, {} flip-flops, {} DSPs ({}), {} block RAMs ({})",
                x.luts,
                x.flip_flops,
                x.dsps,
                target.dsp_cell(),
                x.block_rams,
                target.block_ram_cell()
            );
            for (kind, c) in &r.chunks {
                let _ = writeln!(
                    t,
                    "  {kind} chunk ({} PE cells): {} LUTs, {} DSPs",
                    c.pes, c.resources.luts, c.resources.dsps
                );
            }
            match (&r.place_and_route, target.default_device()) {
                (Some(p), _) => {
                    let _ = writeln!(
                        t,
                        "  placed and routed on the {} ({}, {}): Fmax {:.1} MHz, {} the architecture's {} MHz clock",
                        p.device,
                        p.tool,
                        p.router.name(),
                        p.fmax_mhz,
                        if p.met { "meets" } else { "misses" },
                        p.clock_mhz
                    );
                    if let Some(c) = &p.critical_path {
                        let _ = writeln!(
                            t,
                            "  critical path: {:.2} ns in {} steps, from `{}` to `{}`",
                            c.delay_ns, c.steps, c.from, c.to
                        );
                    }
                    let uses: Vec<String> = p
                        .utilisation
                        .iter()
                        .map(|(n, u)| {
                            format!(
                                "{n} {}/{} ({:.0}%)",
                                u.used,
                                u.available,
                                100.0 * u.used as f64 / u.available.max(1) as f64
                            )
                        })
                        .collect();
                    let _ = writeln!(t, "  device use: {}", uses.join(", "));
                }
                (None, None) => {
                    let _ = writeln!(
                        t,
                        "  (no open place-and-route for {target}: resources after synthesis)"
                    );
                }
                (None, Some(_)) => {}
            }
        }
        t
    }
}

/// The files `nasa report` wrote.
#[derive(Serialize)]
pub struct Written {
    pub json: String,
    pub html: String,
}

impl Report for Written {
    fn text(&self) -> String {
        format!(
            "report: {}
        {}
",
            self.html, self.json
        )
    }
}

/// An evaluation, with what its text names.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Evaluated<'a> {
    pub report: &'a EvalReport,
    #[serde(skip)]
    pub network: &'a str,
    #[serde(skip)]
    pub dataset: DatasetKind,
}

impl Report for Evaluated<'_> {
    fn text(&self) -> String {
        let r = self.report;
        let float = r.float.as_ref().map_or(String::new(), |f| {
            format!(
                " (float reference {:.2}%, predictions agree on {:.2}%)",
                100.0 * f.float_accuracy,
                100.0 * f.agreement
            )
        });
        format!(
            "{}: {} of {} {} test images correct: integer accuracy {:.2}%{float}\n",
            self.network,
            r.correct,
            r.images,
            self.dataset,
            100.0 * r.accuracy,
        )
    }
}

/// A training or search run stopped early (`--stop-after`).
#[derive(Serialize)]
pub struct Stopped {
    pub stopped: bool,
    pub out: String,
}

impl Stopped {
    pub fn new(out: &Path) -> Stopped {
        Stopped {
            stopped: true,
            out: out.display().to_string(),
        }
    }
}

impl Report for Stopped {
    fn text(&self) -> String {
        "stopped; continue with --resume\n".into()
    }
}

/// A finished training run, with what its text names.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Trained<'a> {
    pub summary: &'a TrainSummary,
    #[serde(skip)]
    pub dataset: DatasetKind,
    #[serde(skip)]
    pub out: &'a Path,
}

impl Report for Trained<'_> {
    fn text(&self) -> String {
        let s = self.summary;
        format!(
            "{}: integer accuracy {:.2}% on {} {} test images ({} float + {} quantised epochs, {:.0} s); wrote {}\n",
            s.network,
            100.0 * s.integer_accuracy,
            s.test_images,
            self.dataset,
            s.epochs,
            s.qat_epochs,
            s.seconds,
            self.out.display()
        )
    }
}

/// A finished search and training, with what its text names.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Searched<'a> {
    pub report: &'a SearchAndTrain,
    #[serde(skip)]
    pub dataset: DatasetKind,
    #[serde(skip)]
    pub out: &'a Path,
}

impl Report for Searched<'_> {
    fn text(&self) -> String {
        let (found, trained) = (&self.report.search, &self.report.train);
        let predicted = match (found.predicted_cycles, found.predicted_energy_nj) {
            (Some(c), Some(nj)) => format!(
                "; {c} cycles and {nj:.1} nJ per inference by the {}",
                found.cost_model
            ),
            _ => String::new(),
        };
        format!(
            "{}: integer accuracy {:.2}% on {} {} test images, compute energy {:.1} nJ per inference{predicted}; wrote {}\n",
            trained.network,
            100.0 * trained.integer_accuracy,
            trained.test_images,
            self.dataset,
            found.derived_energy_nj,
            self.out.display()
        )
    }
}

/// A generated design.
#[derive(Serialize)]
pub struct Generated {
    pub output: String,
    pub stamp: nasa::hw::gen::Stamp,
    #[serde(skip)]
    pub name: String,
}

impl Report for Generated {
    fn text(&self) -> String {
        format!("generated `{}` in {}\n", self.name, self.output)
    }
}

impl Report for nasa::model::randomize::RandomWeights {
    fn text(&self) -> String {
        format!(
            "wrote {} ({} parameters, seed {})\n",
            self.weights, self.parameters, self.seed
        )
    }
}
