//! Place-and-route of a synthesised netlist with nextpnr (`nextpnr-ice40`
//! from Debian, `nextpnr-ecp5` from YoWASP) and the reading of its
//! `--report` JSON: the clock's Fmax against the architecture's clock, the
//! device's use, and the critical path's start and end.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::target::Device;
use super::tools::Tool;

/// nextpnr's router. `router1` (nextpnr's default) is timing-driven
/// arc by arc; `router2` negotiates congestion for the whole design at
/// once: on the default design's ECP5-85F netlist router1 still had 90,596
/// overused arcs after 34 minutes, and on the smallest design router2
/// routes in half the time to a 14% lower Fmax (docs/benchmarks.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Router {
    #[default]
    Router1,
    Router2,
}

impl Router {
    pub fn name(self) -> &'static str {
        match self {
            Router::Router1 => "router1",
            Router::Router2 => "router2",
        }
    }
}

/// One resource of the device: how many the design uses of how many.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Use {
    pub used: u64,
    pub available: u64,
}

/// The slowest register-to-register path of the clock.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CriticalPath {
    /// The first and last nets of the path, named as in the netlist (the
    /// RTL's signal names, with the cell that drives them where Yosys
    /// renamed them).
    pub from: String,
    pub to: String,
    pub delay_ns: f64,
    /// Logic and routing steps on the path.
    pub steps: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PnrReport {
    pub tool: String,
    pub router: Router,
    pub device: Device,
    /// The architecture's clock, given to nextpnr as its target.
    pub clock_mhz: f64,
    /// The highest clock the placed and routed design reaches.
    pub fmax_mhz: f64,
    /// Whether `fmax_mhz` reaches `clock_mhz`.
    pub met: bool,
    /// Device resources with a non-zero use, by nextpnr's names.
    pub utilisation: BTreeMap<String, Use>,
    pub critical_path: Option<CriticalPath>,
}

/// Places and routes `netlist` (in `dir`) on `device` for a clock of
/// `clock_mhz`; writes `pnr_<device>.json` and `pnr_<device>.log` beside
/// it. A design that does not fit is an error naming every resource it
/// needs more of than the device has.
pub fn place_and_route(
    dir: &Path,
    netlist: &str,
    device: Device,
    clock_mhz: f64,
    router: Router,
) -> Result<PnrReport> {
    let tool = match device.target() {
        super::Target::Ecp5 => Tool::NextpnrEcp5,
        _ => Tool::NextpnrIce40,
    };
    let program = tool.locate()?;
    let stem = format!("pnr_{}", device.name());
    let report_file = format!("{stem}.json");
    let _ = std::fs::remove_file(dir.join(&report_file));
    // The log goes straight to its file, to follow a long run (`tail -f`).
    let log_path = dir.join(format!("{stem}.log"));
    let log_file = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot write {}", log_path.display()))?;
    let status = Command::new(&program)
        .current_dir(dir)
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .args([
            device.nextpnr_flag(),
            "--json",
            netlist,
            "--report",
            &report_file,
            "--freq",
            &format!("{clock_mhz}"),
            // A missed clock is reported, not a failure: the Fmax is the
            // answer wanted.
            "--timing-allow-fail",
            "--seed",
            "1",
            "--router",
            router.name(),
        ])
        .status()
        .with_context(|| format!("cannot run {}", program.display()))?;
    let log = String::from_utf8_lossy(&std::fs::read(&log_path)?).into_owned();
    if !status.success() {
        let over = over_capacity(&log);
        if !over.is_empty() {
            let lines: Vec<String> = over
                .iter()
                .map(|(name, u)| format!("{name}: {} used of {}", u.used, u.available))
                .collect();
            bail!(
                "{}: the design does not fit the {device}: {}",
                dir.display(),
                lines.join("; ")
            );
        }
        let last = log
            .lines()
            .rfind(|l| l.starts_with("ERROR"))
            .unwrap_or("(no error line)");
        bail!(
            "{} failed on {} ({last}); its log is {}",
            tool.name(),
            dir.display(),
            log_path.display()
        );
    }
    let text = std::fs::read_to_string(dir.join(&report_file))
        .with_context(|| format!("{}: no nextpnr report", dir.join(&report_file).display()))?;
    parse_report(&text, device, clock_mhz, tool.name(), router).with_context(|| {
        format!(
            "{}: unreadable nextpnr report",
            dir.join(report_file).display()
        )
    })
}

/// The resources nextpnr's "Device utilisation" table lists above 100%.
pub fn over_capacity(log: &str) -> Vec<(String, Use)> {
    let mut over = Vec::new();
    for line in log.lines() {
        // "Info: \t         ICESTORM_LC: 26652/ 5280   504%"
        let Some(rest) = line.strip_prefix("Info:") else {
            continue;
        };
        let Some((name, counts)) = rest.split_once(':') else {
            continue;
        };
        let Some((used, tail)) = counts.split_once('/') else {
            continue;
        };
        let mut tail = tail.split_whitespace();
        let (Ok(used), Some(Ok(available)), Some(pct)) = (
            used.trim().parse::<u64>(),
            tail.next().map(str::parse::<u64>),
            tail.next(),
        ) else {
            continue;
        };
        if pct.ends_with('%') && used > available {
            over.push((name.trim().to_string(), Use { used, available }));
        }
    }
    over
}

/// Reads nextpnr's `--report` JSON.
pub fn parse_report(
    text: &str,
    device: Device,
    clock_mhz: f64,
    tool: &str,
    router: Router,
) -> Result<PnrReport> {
    let v: serde_json::Value = serde_json::from_str(text)?;
    let mut utilisation = BTreeMap::new();
    for (name, u) in v["utilization"]
        .as_object()
        .context("no `utilization` object")?
    {
        let used = u["used"].as_u64().context("utilisation without `used`")?;
        let available = u["available"]
            .as_u64()
            .context("utilisation without `available`")?;
        if used > 0 {
            utilisation.insert(name.clone(), Use { used, available });
        }
    }
    // The design has one clock, `clk`, which nextpnr names after its global
    // buffer (`clk$SB_IO_IN_$glb_clk` on iCE40, `$glbnet$clk$TRELLIS_IO_IN`
    // on ECP5).
    let fmax = v["fmax"].as_object().context("no `fmax` object")?;
    let (clock, f) = fmax
        .iter()
        .find(|(name, _)| name.split('$').any(|part| part == "clk"))
        .or_else(|| fmax.iter().next())
        .context("no clock in `fmax`: the design has no clocked path")?;
    let fmax_mhz = f["achieved"].as_f64().context("fmax without `achieved`")?;
    let critical_path = v["critical_paths"].as_array().and_then(|paths| {
        let within = format!("posedge {clock}");
        let p = paths
            .iter()
            .find(|p| p["from"] == within.as_str() && p["to"] == within.as_str())?;
        let steps = p["path"].as_array()?;
        let nets: Vec<&str> = steps.iter().filter_map(|s| s["net"].as_str()).collect();
        let cell = |s: Option<&serde_json::Value>, end: &str| {
            s.and_then(|s| s[end]["cell"].as_str())
                .unwrap_or("?")
                .to_string()
        };
        Some(CriticalPath {
            from: nets
                .first()
                .map(|n| n.to_string())
                .unwrap_or_else(|| cell(steps.first(), "from")),
            to: nets
                .last()
                .map(|n| n.to_string())
                .unwrap_or_else(|| cell(steps.last(), "to")),
            delay_ns: steps.iter().filter_map(|s| s["delay"].as_f64()).sum(),
            steps: steps.len(),
        })
    });
    Ok(PnrReport {
        tool: tool.to_string(),
        router,
        device,
        clock_mhz,
        fmax_mhz,
        met: fmax_mhz >= clock_mhz,
        utilisation,
        critical_path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// nextpnr-ice40 0.4's table for the `features` network on 1x1 arrays.
    const TABLE: &str = "Info: Device utilisation:
Info: \t         ICESTORM_LC: 14668/ 5280   277%
Info: \t        ICESTORM_RAM:    18/   30    60%
Info: \t               SB_IO:   210/   96   218%
Info: \t               SB_GB:     8/    8   100%
Info: \t        ICESTORM_DSP:    51/    8   637%
Info: \t      ICESTORM_SPRAM:     0/    4     0%
Info: Max frequency for clock 'clk': 12.00 MHz (PASS at 1.00 MHz)
ERROR: Unable to place cell 'x', no BELs remaining to implement cell type 'ICESTORM_DSP'
";

    #[test]
    fn resources_over_capacity_are_named() {
        let over = over_capacity(TABLE);
        let names: Vec<&str> = over.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["ICESTORM_LC", "SB_IO", "ICESTORM_DSP"]);
        assert_eq!(
            over[0].1,
            Use {
                used: 14668,
                available: 5280
            }
        );
        assert!(over_capacity(
            &TABLE
                .replace("14668", "5280")
                .replace("210", "96")
                .replace("51/", "8/")
        )
        .is_empty());
    }

    /// The shape of nextpnr's `--report` (0.4 and 0.11), with the path cut
    /// to three steps.
    const REPORT: &str = r#"{
  "utilization": {"ICESTORM_LC": {"available": 5280, "used": 187},
                  "ICESTORM_RAM": {"available": 30, "used": 0}},
  "fmax": {"clk$SB_IO_IN_$glb_clk": {"achieved": 43.8, "constraint": 50}},
  "critical_paths": [
    {"from": "<async>", "to": "posedge clk$SB_IO_IN_$glb_clk",
     "path": [{"delay": 9.0, "net": "b[2]", "type": "routing",
               "from": {"cell": "io", "port": "D"}, "to": {"cell": "l", "port": "I0"}}]},
    {"from": "posedge clk$SB_IO_IN_$glb_clk", "to": "posedge clk$SB_IO_IN_$glb_clk",
     "path": [{"delay": 1.5, "type": "clk-to-q",
               "from": {"cell": "acc_DFF", "port": "CLK"}, "to": {"cell": "acc_DFF", "port": "O"}},
              {"delay": 1.75, "net": "acc[8]", "type": "routing",
               "from": {"cell": "acc_DFF", "port": "O"}, "to": {"cell": "sum_LUT", "port": "I3"}},
              {"delay": 0.75, "net": "sum[19]", "type": "setup",
               "from": {"cell": "sum_LUT", "port": "I3"}, "to": {"cell": "sum_LUT", "port": "I3"}}]}
  ]
}"#;

    #[test]
    fn report_gives_fmax_use_and_the_register_path() {
        let r = parse_report(REPORT, Device::Up5k, 50.0, "nextpnr-ice40", Router::Router1).unwrap();
        assert_eq!(r.fmax_mhz, 43.8);
        assert!(!r.met, "43.8 MHz misses 50 MHz");
        assert!(
            parse_report(REPORT, Device::Up5k, 40.0, "t", Router::Router1)
                .unwrap()
                .met
        );
        // Unused resources are left out.
        assert_eq!(r.utilisation.keys().collect::<Vec<_>>(), ["ICESTORM_LC"]);
        let p = r.critical_path.expect("a register-to-register path");
        assert_eq!((p.from.as_str(), p.to.as_str()), ("acc[8]", "sum[19]"));
        assert_eq!(p.steps, 3);
        assert!((p.delay_ns - 4.0).abs() < 1e-9);
        assert!(parse_report("{}", Device::Up5k, 1.0, "t", Router::Router1).is_err());
        // The same on ECP5, whose clock is named after its global net; an
        // other clock listed first is not taken for it.
        let ecp5 = REPORT
            .replace("clk$SB_IO_IN_$glb_clk", "$glbnet$clk$TRELLIS_IO_IN")
            .replace(
                r#""fmax": {"#,
                r#""fmax": {"$glbnet$aux": {"achieved": 500.0, "constraint": 1}, "#,
            );
        let r = parse_report(
            &ecp5,
            Device::Ecp5_85k,
            50.0,
            "nextpnr-ecp5",
            Router::Router2,
        )
        .unwrap();
        assert_eq!(r.fmax_mhz, 43.8);
        assert_eq!(r.critical_path.unwrap().from, "acc[8]");
    }
}
