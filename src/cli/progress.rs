//! Progress bars on stderr (hidden with --json or when stderr is not a terminal).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

pub fn progress(len: usize, json: bool) -> ProgressBar {
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
pub struct TrainBars {
    bar: ProgressBar,
    quiet: bool,
}

impl TrainBars {
    pub fn new(json: bool) -> TrainBars {
        let bar = progress(0, json);
        if let Ok(style) =
            ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} batches {per_sec} eta {eta}")
        {
            bar.set_style(style);
        }
        TrainBars { bar, quiet: json }
    }
}

impl nasa::learn::search::Progress for TrainBars {
    fn epoch_start(&self, epoch: usize, _stage: nasa::learn::search::Stage, batches: usize) {
        nasa::learn::train::Progress::epoch_start(self, epoch, batches);
    }
    fn batch_done(&self) {
        self.bar.inc(1);
    }
    fn epoch_done(&self, e: &nasa::learn::search::SearchLog) {
        self.bar.finish_and_clear();
        if !self.quiet {
            let predicted = match (e.predicted_cycles, e.predicted_energy_nj) {
                (Some(c), Some(nj)) => format!(" ({c} cycles, {nj:.1} nJ on its accelerator)"),
                _ => String::new(),
            };
            eprintln!(
                "search epoch {:>3} {:<10} tau {:.2}  lambda {:.3}  loss {:.4}  train {:.2}%  derived {:.1} nJ{predicted}: {}",
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

impl nasa::learn::train::Progress for TrainBars {
    fn epoch_start(&self, epoch: usize, batches: usize) {
        self.bar.reset();
        self.bar.set_length(batches as u64);
        self.bar.set_message(format!("epoch {epoch}"));
    }
    fn batch_done(&self) {
        self.bar.inc(1);
    }
    fn epoch_done(&self, e: &nasa::learn::train::EpochLog) {
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
