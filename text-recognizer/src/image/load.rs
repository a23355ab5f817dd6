//! Decoding files and bytes into grayscale images, with errors that name the file.

use std::io::Cursor;
use std::path::Path;

use image::{GrayImage, ImageReader, Limits};

use crate::error::{Error, Result};

/// Largest image side we accept; bigger files are almost always mistakes (or bombs).
const MAX_SIDE: u32 = 30_000;

/// Opens and decodes an image file as 8-bit grayscale.
pub fn open_image(path: &Path) -> Result<GrayImage> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_image(&bytes, path)
}

/// Decodes in-memory image bytes (any format the `image` crate reads) as 8-bit grayscale.
/// `origin` names the source in errors.
pub fn decode_image(bytes: &[u8], origin: &Path) -> Result<GrayImage> {
    let decode_err = |reason: String| Error::ImageDecode {
        path: origin.to_path_buf(),
        reason,
    };
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| decode_err(e.to_string()))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    reader.limits(limits);
    // Phone photos store rotation in EXIF; apply it so lines are upright.
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| decode_err(e.to_string()))?;
    let orientation = image::ImageDecoder::orientation(&mut decoder).ok();
    let mut img =
        image::DynamicImage::from_decoder(decoder).map_err(|e| decode_err(e.to_string()))?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    let gray = img.to_luma8();
    if gray.width() == 0 || gray.height() == 0 {
        return Err(Error::BadImage {
            path: origin.to_path_buf(),
            reason: "image has no pixels".into(),
        });
    }
    Ok(gray)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_bytes_give_a_named_error() {
        let err = decode_image(b"not an image", Path::new("scan.png")).expect_err("must fail");
        assert!(
            err.to_string().starts_with("scan.png: cannot decode image"),
            "{err}"
        );
    }

    #[test]
    fn truncated_png_is_an_error_not_a_panic() {
        let mut png = Vec::new();
        GrayImage::from_pixel(40, 10, image::Luma([200]))
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("encodes");
        png.truncate(png.len() / 2);
        assert!(decode_image(&png, Path::new("cut.png")).is_err());
    }
}
