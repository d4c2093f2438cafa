//! The design report (`nasa report DIR`): what a designer reads about one
//! generated design, as JSON and as one self-contained HTML page (no
//! script, no network access; charts drawn as inline SVG by `plotters`).
//! It gathers the design's parameters and hashes (its manifest), the
//! model's per-layer cycles, PE utilisation and energy by memory level
//! (`hw::map::report_network`), and the last `nasa sim` and `nasa synth`
//! runs, which those commands leave in `DIR/report/` ([`SIM_FILE`],
//! [`SYNTH_FILE`]): measured cycles per layer beside the predicted ones,
//! resources per chunk, the Fmax and the critical path.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use plotters::prelude::*;
use serde::Serialize;

use crate::hw::map::{energy::EnergyTable, fpga::Estimate, report_network, NetworkMap};

/// Where `nasa sim` and `nasa synth` leave their last report, and
/// `nasa report` writes its own, inside a design directory.
pub const REPORT_DIR: &str = "report";
pub const SIM_FILE: &str = "sim.json";
/// `nasa sim --axi`'s report.
pub const AXI_FILE: &str = "sim_axi.json";
pub const SYNTH_FILE: &str = "synth.json";
pub const JSON_FILE: &str = "report.json";
pub const HTML_FILE: &str = "index.html";

#[derive(Debug, Clone, Serialize)]
pub struct DesignReport {
    /// The manifest's stamp: name, tool version, network, hashes.
    pub stamp: serde_json::Value,
    pub engine: String,
    /// PEs per chunk.
    pub chunks: serde_json::Value,
    /// The architecture file the design was generated from.
    pub arch: String,
    /// The model's figures for one image.
    pub model: NetworkMap,
    /// The last `nasa sim` run's report, if any.
    pub sim: Option<serde_json::Value>,
    /// The last `nasa synth` run's report, if any.
    pub synth: Option<serde_json::Value>,
    /// The FPGA resource model's estimate per target (`hw::map::fpga`),
    /// or why it does not cover the design.
    pub fpga_model: FpgaModel,
}

/// The FPGA resource model's word on a design.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FpgaModel {
    Estimate(Estimate),
    /// Why the model does not cover the design.
    NotCovered(String),
}

fn read_json(path: &Path) -> Result<Option<serde_json::Value>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            Ok(Some(serde_json::from_str(&text).with_context(|| {
                format!("{}: not a nasa report", path.display())
            })?))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Gathers the report of the design in `dir`.
pub fn gather(dir: &Path) -> Result<DesignReport> {
    let (net, arch) = crate::hw::sim::load_design(dir)?;
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("manifest.json")).context("reading manifest.json")?,
    )?;
    let model = report_network(&net, &arch, &EnergyTable::default());
    let reports = dir.join(REPORT_DIR);
    Ok(DesignReport {
        stamp: manifest["stamp"].clone(),
        engine: manifest["engine"].as_str().unwrap_or("").to_string(),
        chunks: manifest["chunks"].clone(),
        arch: std::fs::read_to_string(dir.join("arch.toml")).unwrap_or_default(),
        model,
        sim: read_json(&reports.join(SIM_FILE))?,
        synth: read_json(&reports.join(SYNTH_FILE))?,
        fpga_model: match Estimate::of(std::slice::from_ref(&net), &arch) {
            Ok(e) => FpgaModel::Estimate(e),
            Err(why) => FpgaModel::NotCovered(why),
        },
    })
}

/// Writes `report.json` and `index.html` into `out` (default
/// `DIR/report`), and returns their paths.
pub fn write(dir: &Path, out: Option<&Path>) -> Result<(PathBuf, PathBuf)> {
    let report = gather(dir)?;
    let out = out.map_or_else(|| dir.join(REPORT_DIR), Path::to_path_buf);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let json = out.join(JSON_FILE);
    let html_path = out.join(HTML_FILE);
    // Both rendered before either is written, each written whole or not at all.
    let json_text = serde_json::to_string_pretty(&report)? + "\n";
    let page = html(&report)?;
    crate::model::fsutil::write_atomic(&json, json_text.as_bytes())?;
    crate::model::fsutil::write_atomic(&html_path, page.as_bytes())?;
    Ok((json, html_path))
}

/// HTML-escapes text.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A bar chart, one bar per label, with an optional second series drawn as
/// a dot on each bar (measured bars, predicted dots), as SVG text.
fn chart(
    title: &str,
    y_desc: &str,
    labels: &[String],
    bars: (&str, &[f64]),
    dots: Option<(&str, &[f64])>,
) -> Result<String> {
    let e = |e: DrawingAreaErrorKind<std::io::Error>| anyhow::anyhow!("drawing {title}: {e}");
    let mut svg = String::new();
    {
        let width = (170 + 26 * labels.len() as u32).clamp(420, 1100);
        let root = SVGBackend::with_string(&mut svg, (width, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(e)?;
        let top = bars
            .1
            .iter()
            .chain(dots.iter().flat_map(|d| d.1.iter()))
            .copied()
            .fold(0.0f64, f64::max)
            .max(1e-9)
            * 1.1;
        let n = labels.len().max(1) as u32;
        let mut c = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(100)
            .y_label_area_size(80)
            .build_cartesian_2d((0u32..n).into_segmented(), 0f64..top)
            .map_err(e)?;
        c.configure_mesh()
            .disable_x_mesh()
            .y_desc(y_desc)
            .x_labels(labels.len() + 1)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_label_style(
                ("sans-serif", 11)
                    .into_font()
                    .transform(FontTransform::Rotate90),
            )
            .draw()
            .map_err(e)?;
        let blue = RGBColor(70, 110, 190);
        c.draw_series(
            Histogram::vertical(&c)
                .style(blue.filled())
                .margin(3)
                .data(bars.1.iter().enumerate().map(|(i, &v)| (i as u32, v))),
        )
        .map_err(e)?
        .label(bars.0)
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], blue.filled()));
        if let Some((name, values)) = dots {
            c.draw_series(values.iter().enumerate().map(|(i, &v)| {
                Circle::new((SegmentValue::CenterOf(i as u32), v), 4, RED.filled())
            }))
            .map_err(e)?
            .label(name)
            .legend(|(x, y)| Circle::new((x + 5, y), 4, RED.filled()));
        }
        c.configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(e)?;
        root.present().map_err(e)?;
    }
    Ok(svg)
}

fn num(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// The page: self-contained HTML, charts inline.
pub fn html(r: &DesignReport) -> Result<String> {
    let name = r.stamp["name"].as_str().unwrap_or("design");
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>nasa report: {}</title>\n<style>\nbody {{ font-family: sans-serif; margin: 2em; max-width: 1150px; color: #222; }}\ntable {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}\ntd, th {{ border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: right; }}\nth {{ background: #eee; }} td.l, th.l {{ text-align: left; }}\npre {{ background: #f6f6f6; padding: 0.6em; }}\n.miss {{ color: #b00; font-weight: bold; }} .ok {{ color: #070; font-weight: bold; }}\n</style>\n</head>\n<body>\n",
        esc(name)
    );
    let _ = writeln!(
        h,
        "<h1>nasa accelerator <code>{}</code></h1>\n<p>Network <code>{}</code>, {} engine, generated by nasa {}.</p>",
        esc(name),
        esc(r.stamp["network"].as_str().unwrap_or("")),
        esc(&r.engine),
        esc(r.stamp["tool_version"].as_str().unwrap_or(""))
    );

    // Summary.
    let m = &r.model;
    h += "<h2>Summary</h2>\n<table>\n";
    let mut row = |k: &str, v: String| {
        let _ = writeln!(h, "<tr><th class=\"l\">{}</th><td>{}</td></tr>", esc(k), v);
    };
    row("cycles per image (model)", m.cycles.to_string());
    row(
        "latency at the architecture's clock (model)",
        format!("{:.1} us", m.latency_us),
    );
    row("energy per image (model)", format!("{:.1} nJ", m.energy_nj));
    row(
        "convolution PEs busy (model)",
        format!("{:.1}%", 100.0 * m.conv_utilization),
    );
    if let Some(s) = &r.sim {
        row(
            "simulation",
            format!(
                "<span class=\"{}\">{}</span>: {} image(s) in {}, {} mismatching output(s)",
                if s["pass"] == true { "ok" } else { "miss" },
                if s["pass"] == true { "PASS" } else { "FAIL" },
                s["images"],
                esc(s["simulator"].as_str().unwrap_or("")),
                s["mismatches"]
            ),
        );
        row(
            "cycles per image (measured / predicted)",
            format!(
                "{:.0} / {:.0}",
                num(&s["cycles_per_inference"]),
                num(&s["predicted_cycles"])
            ),
        );
        row(
            "PE utilisation (measured)",
            format!("{:.1}%", 100.0 * num(&s["pe_utilization"])),
        );
    } else {
        row(
            "simulation",
            "none yet: run <code>nasa sim DIR</code>".into(),
        );
    }
    let targets: Vec<&serde_json::Value> = r
        .synth
        .as_ref()
        .and_then(|s| s["targets"].as_array())
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    for t in &targets {
        if let Some(p) = t["place_and_route"].as_object() {
            let met = p["met"] == true;
            row(
                &format!("Fmax on the {}", p["device"].as_str().unwrap_or("")),
                format!(
                    "{:.1} MHz: <span class=\"{}\">{}</span> the {} MHz clock",
                    num(&p["fmax_mhz"]),
                    if met { "ok" } else { "miss" },
                    if met { "meets" } else { "misses" },
                    num(&p["clock_mhz"])
                ),
            );
            if num(&p["fmax_mhz"]) > 0.0 {
                row(
                    "latency at the Fmax (model cycles)",
                    format!("{:.1} us", m.cycles as f64 / num(&p["fmax_mhz"])),
                );
            }
            if let Some(c) = p["critical_path"].as_object() {
                row(
                    "critical path",
                    format!(
                        "{:.2} ns in {} steps, from <code>{}</code> to <code>{}</code>",
                        num(&c["delay_ns"]),
                        c["steps"],
                        esc(c["from"].as_str().unwrap_or("")),
                        esc(c["to"].as_str().unwrap_or(""))
                    ),
                );
            }
        }
    }
    if targets.is_empty() {
        row(
            "synthesis",
            "none yet: run <code>nasa synth DIR</code>".into(),
        );
    }
    h += "</table>\n";

    // Cycles per layer: measured bars (or the model's), predicted dots.
    let sim_layers: Vec<&serde_json::Value> = r
        .sim
        .as_ref()
        .and_then(|s| s["layers"].as_array())
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    h += "<h2>Cycles per layer</h2>\n";
    if sim_layers.len() == m.layers.len() && !sim_layers.is_empty() {
        let labels: Vec<String> = sim_layers
            .iter()
            .map(|l| l["layer"].as_str().unwrap_or("").to_string())
            .collect();
        let measured: Vec<f64> = sim_layers.iter().map(|l| num(&l["measured"])).collect();
        let predicted: Vec<f64> = sim_layers.iter().map(|l| num(&l["predicted"])).collect();
        h +=
            "<p>Bars: measured in simulation (the last image); dots: the model's prediction.</p>\n";
        h += &chart(
            "cycles per layer",
            "cycles",
            &labels,
            ("measured", &measured),
            Some(("predicted", &predicted)),
        )?;
    } else {
        let labels: Vec<String> = m.layers.iter().map(|l| l.layer.clone()).collect();
        let cycles: Vec<f64> = m.layers.iter().map(|l| l.cycles as f64).collect();
        h += "<p>The model's cycles (no per-layer measurement: run <code>nasa sim</code>; a pipelined design measures them with <code>--serial</code>).</p>\n";
        h += &chart(
            "cycles per layer",
            "cycles",
            &labels,
            ("predicted", &cycles),
            None,
        )?;
    }

    // Utilisation of the convolution layers.
    let conv: Vec<_> = m
        .layers
        .iter()
        .filter(|l| l.utilization.is_some())
        .collect();
    if !conv.is_empty() {
        h += "<h2>PE utilisation</h2>\n<p>Of each layer's chunk, the share of PEs busy over the layer's own cycles (model, equal to the measured cycles).</p>\n";
        let labels: Vec<String> = conv.iter().map(|l| l.layer.clone()).collect();
        let u: Vec<f64> = conv
            .iter()
            .map(|l| 100.0 * l.utilization.unwrap_or(0.0))
            .collect();
        h += &chart(
            "PEs busy per layer",
            "% of the chunk's PEs",
            &labels,
            ("busy", &u),
            None,
        )?;
    }

    // Energy by memory level.
    let e = &m.energy_breakdown_nj;
    h += "<h2>Energy by memory level</h2>\n<p>Per image, by the model and the energy table (nJ).</p>\n";
    let levels = [
        "compute",
        "register files",
        "network on chip",
        "global buffer",
        "DRAM",
    ];
    let values = [e.compute, e.rf, e.noc, e.buffer, e.dram];
    h += &chart(
        "energy per image",
        "nJ",
        &levels.map(String::from),
        ("energy", &values),
        None,
    )?;

    // Resources per chunk.
    if !targets.is_empty() {
        h += "<h2>Resources</h2>\n<table>\n<tr><th class=\"l\">target</th><th class=\"l\">part</th><th>PE cells</th><th>LUTs</th><th>flip-flops</th><th>DSPs</th><th>block RAMs</th><th>cells</th></tr>\n";
        for t in &targets {
            let target = t["target"].as_str().unwrap_or("");
            let line = |part: &str, pes: String, x: &serde_json::Value| {
                format!(
                    "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                    esc(target),
                    esc(part),
                    pes,
                    x["luts"],
                    x["flip_flops"],
                    x["dsps"],
                    x["block_rams"],
                    x["cells"]
                )
            };
            h += &line("whole design", String::new(), &t["total"]);
            for (kind, c) in t["chunks"].as_object().into_iter().flatten() {
                h += &line(
                    &format!("{kind} chunk"),
                    c["pes"].to_string(),
                    &c["resources"],
                );
            }
        }
        h += "</table>\n";
        if let Some(t) = targets.iter().find(|t| t["target"] != "generic") {
            let chunks: Vec<(&String, &serde_json::Value)> =
                t["chunks"].as_object().into_iter().flatten().collect();
            let labels: Vec<String> = chunks.iter().map(|(k, _)| format!("{k} chunk")).collect();
            let luts: Vec<f64> = chunks
                .iter()
                .map(|(_, c)| num(&c["resources"]["luts"]))
                .collect();
            h += &chart(
                &format!("LUTs per chunk ({})", t["target"].as_str().unwrap_or("")),
                "LUTs",
                &labels,
                ("LUTs", &luts),
                None,
            )?;
        }
    }

    // The FPGA resource model's estimate, beside the synthesis where run.
    h += "<h2>Resources by the model</h2>\n";
    match &r.fpga_model {
        FpgaModel::Estimate(e) => {
            h += "<p>The FPGA resource model's estimate (<code>nasa map</code> sizes designs with it; its fit and errors are in docs/benchmarks.md), beside <code>nasa synth</code>'s count where it ran.</p>\n<table>\n<tr><th class=\"l\">target</th><th>LUTs</th><th>of which PE cells</th><th>DSPs</th><th>block RAMs</th><th>LUTs (synthesis)</th><th>DSPs (synthesis)</th><th>block RAMs (synthesis)</th></tr>\n";
            for t in &e.targets {
                let measured = targets
                    .iter()
                    .find(|m| m["target"] == t.target.name())
                    .filter(|_| t.dsp_blocks);
                let m = |k: &str| measured.map_or(String::new(), |m| m["total"][k].to_string());
                let _ = writeln!(
                    h,
                    "<tr><td class=\"l\">{}{}</td><td>{}</td><td>{}</td><td>{} {}</td><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    t.target,
                    if t.dsp_blocks { "" } else { " (no DSP blocks)" },
                    t.luts,
                    t.pe_luts,
                    t.dsps,
                    t.target.dsp_cell(),
                    t.block_rams,
                    t.target.block_ram_cell(),
                    m("luts"),
                    m("dsps"),
                    m("block_rams")
                );
            }
            h += "</table>\n";
        }
        FpgaModel::NotCovered(why) => {
            let _ = writeln!(h, "<p>None: {}.</p>", esc(why));
        }
    }

    // Parameters and hashes.
    h += "<h2>Parameters and provenance</h2>\n<table>\n";
    for (k, v) in r.stamp.as_object().into_iter().flatten() {
        let _ = writeln!(
            h,
            "<tr><th class=\"l\">{}</th><td class=\"l\"><code>{}</code></td></tr>",
            esc(k),
            esc(&v.as_str().map_or_else(|| v.to_string(), str::to_string))
        );
    }
    let _ = writeln!(
        h,
        "<tr><th class=\"l\">PEs per chunk</th><td class=\"l\"><code>{}</code></td></tr>",
        esc(&r.chunks.to_string())
    );
    h += "</table>\n<h3>arch.toml</h3>\n<pre>";
    h += &esc(&r.arch);
    h += "</pre>\n</body>\n</html>\n";
    Ok(h)
}

/// Leaves a command's report in `DIR/report/FILE` for `nasa report`.
pub fn save(dir: &Path, file: &str, report: &impl Serialize) -> Result<()> {
    let out = dir.join(REPORT_DIR);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    // Whole or not at all.
    crate::model::fsutil::write_atomic(
        &out.join(file),
        (serde_json::to_string_pretty(report)? + "\n").as_bytes(),
    )
}
