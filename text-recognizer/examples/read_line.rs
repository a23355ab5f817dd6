//! Read one line image with the built-in default model.
//!
//! ```text
//! cargo run --release --example read_line -- LINE.png
//! ```

use text_recognizer::Recognizer;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os()
        .nth(1)
        .ok_or("usage: read_line IMAGE (a line of handwriting: PNG, JPEG, TIFF, WebP or BMP)")?;
    let recognizer = Recognizer::default_model()?;
    let reading = recognizer.recognize_file(path.as_ref())?;
    println!("{}", reading.text);
    eprintln!("confidence {:.0} %", 100.0 * reading.confidence);
    Ok(())
}
