//! Read every image of a folder: decode the files in parallel, then read them in batches (the
//! recognizer spreads each batch over the CPU cores). A file that cannot be read is reported
//! and the others go on.
//!
//! ```text
//! cargo run --release --example read_folder -- DIR
//! ```

use std::path::PathBuf;

use rayon::prelude::*;
use text_recognizer::Recognizer;
use text_recognizer::image::open_image;

const IMAGE_EXTENSIONS: [&str; 7] = ["png", "jpg", "jpeg", "tif", "tiff", "webp", "bmp"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args_os().nth(1).ok_or("usage: read_folder DIR")?);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| IMAGE_EXTENSIONS.contains(&x.to_ascii_lowercase().as_str()))
        })
        .collect();
    paths.sort();

    // Decoding is independent per file: all cores at once.
    let decoded: Vec<_> = paths.par_iter().map(|p| (p, open_image(p))).collect();
    let (mut images, mut names, mut failed) = (Vec::new(), Vec::new(), 0);
    for (path, image) in decoded {
        match image {
            Ok(image) => {
                images.push(image);
                names.push(path);
            }
            Err(e) => {
                eprintln!("skipped: {e}");
                failed += 1;
            }
        }
    }

    let recognizer = Recognizer::default_model()?;
    for (path, reading) in names.iter().zip(recognizer.recognize_batch(&images)) {
        println!("{}\t{}", path.display(), reading.text);
    }
    eprintln!("{} read, {failed} failed", names.len());
    Ok(())
}
