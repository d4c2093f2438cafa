//! `nasa golden`: the printer of the library's [`GoldenReport`].

use std::fmt::Write as _;

use nasa::model::inspect::GoldenReport;

use super::report::Report;

impl Report for GoldenReport {
    fn text(&self) -> String {
        let mut t = String::new();
        for img in &self.images {
            let label = img
                .label
                .map(|l| format!(" (label {l})"))
                .unwrap_or_default();
            let _ = writeln!(
                t,
                "image {}: class {}{label}; output {}",
                img.index,
                img.prediction,
                serde_json::to_string(&img.output).unwrap_or_default()
            );
            let _ = writeln!(
                t,
                "  float reference: class {}, largest |integer - float| = {:.4}",
                img.float_prediction,
                if img.max_abs_error.is_finite() {
                    img.max_abs_error
                } else {
                    0.0
                }
            );
        }
        if let (Some(d), Some(idx)) = (&self.dump, &self.dumped) {
            let _ = writeln!(
                t,
                "dumped {} tensors of {} image(s) to {d}",
                idx.tensors.len(),
                idx.images,
            );
        }
        t
    }
}
