//! Golden-model throughput, in images per second, on the 10,000 real
//! Fashion-MNIST test images, for the two trained networks (`models/default`
//! and `models/default-conv`): the fast engine against the reference loops,
//! side by side in one run. It also checks that the engine's predictions
//! equal the reference loops' on every image. Run with
//! `cargo bench --bench golden`; under `cargo test` it only smoke-runs on
//! 16 images.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use nasa::model::data::{load_test, DatasetKind};
use nasa::model::golden::{self, argmax, Engine, Int};
use nasa::model::net::Network;
use rayon::prelude::*;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let mut set = load_test(DatasetKind::FashionMnist, None)
        .expect("Fashion-MNIST installed (dataset-fashion-mnist)");
    set.truncate(if full { 10_000 } else { 16 });
    let reference_images = if full { 500 } else { 4 };
    let threads = rayon::current_num_threads();
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    for name in ["default", "default-conv"] {
        let net = Network::load(&models.join(name)).expect("checked-in model loads");
        let inputs: Vec<Vec<i64>> = (0..set.len())
            .map(|i| golden::quantize_image(&net, set.image(i)))
            .collect();
        let reals: Vec<Vec<f64>> = (0..set.len())
            .map(|i| golden::real_image(&net, set.image(i)))
            .collect();
        let engine = Engine::new(&net);
        let time = |label: &str, n: usize, f: &dyn Fn(usize)| -> f64 {
            f(n.min(16)); // warm-up
            let t = Instant::now();
            f(n);
            let rate = n as f64 / t.elapsed().as_secs_f64();
            println!("  {label:<48} {rate:>10.0} images/s");
            rate
        };
        println!(
            "models/{name} ({} terms per image), {} images",
            net.ops_per_kind().iter().sum::<u64>(),
            inputs.len()
        );
        let slow = time(
            "reference loops, integer, 1 thread",
            reference_images,
            &|n| {
                inputs[..n].iter().for_each(|x| {
                    black_box(golden::run::<Int>(&net, x.clone()));
                })
            },
        );
        let fast = time("engine, integer, 1 thread", inputs.len(), &|n| {
            inputs[..n].iter().for_each(|x| {
                black_box(engine.infer(x));
            })
        });
        time(
            &format!("engine, integer, one image at a time, {threads} threads"),
            inputs.len(),
            &|n| {
                inputs[..n].par_iter().for_each(|x| {
                    black_box(engine.infer(x));
                })
            },
        );
        let batched = time(
            &format!("engine, integer, batches (nasa eval), {threads} threads"),
            inputs.len(),
            &|n| {
                black_box(engine.infer_batch(&inputs[..n]));
            },
        );
        time("engine, float reference, 1 thread", inputs.len(), &|n| {
            reals[..n].iter().for_each(|x| {
                black_box(engine.infer_float(x));
            })
        });
        println!("  engine / reference loops, 1 thread: x{:.0}", fast / slow);
        println!(
            "  batched engine, {threads} threads / reference loops, 1 thread: x{:.0}",
            batched / slow
        );
        // Every output (so every prediction) of the batched engine equal to
        // the reference loops'.
        let outputs = engine.infer_batch(&inputs);
        let differing = inputs
            .par_iter()
            .zip(&outputs)
            .filter(|(x, f)| {
                let r = golden::run::<Int>(&net, x.to_vec()).swap_remove(net.output);
                r != **f || argmax(&r) != argmax(f)
            })
            .count();
        println!(
            "  outputs differing from the reference loops: {differing} of {}",
            inputs.len()
        );
        assert_eq!(differing, 0, "the engine must equal the reference loops");
    }
}
