//! Golden-model throughput on the embedded default network, in images per
//! second, on real Fashion-MNIST test images. Run with
//! `cargo bench --bench golden`; under `cargo test` it only smoke-runs.

use std::hint::black_box;
use std::time::Instant;

use nasa::data::{load_test, DatasetKind};
use nasa::golden;
use rayon::prelude::*;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let net = nasa::models::default_network().expect("embedded default loads");
    let mut set = load_test(DatasetKind::FashionMnist, None)
        .expect("Fashion-MNIST installed (dataset-fashion-mnist)");
    set.truncate(if full { 10_000 } else { 16 });
    let inputs: Vec<Vec<i64>> = (0..set.len())
        .map(|i| golden::quantize_image(&net, set.image(i)))
        .collect();
    let threads = rayon::current_num_threads();

    let time = |label: &str, f: &dyn Fn() -> usize| {
        let _ = f(); // warm-up
        let reps = if full { 3 } else { 1 };
        let mut best = f64::INFINITY;
        for _ in 0..reps {
            let t = Instant::now();
            let n = f();
            best = best.min(t.elapsed().as_secs_f64() / n as f64);
        }
        println!("{label:<44} {:>10.0} images/s", 1.0 / best);
    };
    println!(
        "golden model, default network, {} Fashion-MNIST images",
        inputs.len()
    );
    let float = |x: &[i64]| x.iter().map(|&v| v as f64).collect::<Vec<_>>();
    time("integer, 1 thread", &|| {
        inputs.iter().for_each(|x| {
            black_box(golden::infer(&net, x));
        });
        inputs.len()
    });
    time(
        &format!("integer, {threads} threads (infer_batch)"),
        &|| black_box(golden::infer_batch(&net, &inputs)).len(),
    );
    time("float reference, 1 thread", &|| {
        inputs.iter().for_each(|x| {
            black_box(golden::infer_float(&net, &float(x)));
        });
        inputs.len()
    });
    time(
        &format!("integer + float (nasa eval), {threads} threads"),
        &|| {
            inputs.par_iter().for_each(|x| {
                black_box(golden::infer(&net, x));
                black_box(golden::infer_float(&net, &float(x)));
            });
            inputs.len()
        },
    );
}
