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

/// Opens an image file as its pages: one for most formats, every page of a multi-page TIFF.
/// A page that fails to decode fails the file, naming the page.
pub fn open_image_pages(path: &Path) -> Result<Vec<GrayImage>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    // Page 1 through `image` (EXIF orientation, every colour type); later pages through `tiff`,
    // because `image` reads the first page of a TIFF only.
    let first = decode_image(&bytes, path)?;
    let is_tiff = bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*");
    if !is_tiff {
        return Ok(vec![first]);
    }
    let mut pages = vec![first];
    let fail = |page: usize, reason: String| Error::ImageDecode {
        path: path.to_path_buf(),
        reason: format!("TIFF page {page}: {reason}"),
    };
    let mut decoder =
        tiff::decoder::Decoder::new(Cursor::new(&bytes)).map_err(|e| fail(1, e.to_string()))?;
    while decoder.more_images() {
        let page = pages.len() + 1;
        decoder
            .next_image()
            .map_err(|e| fail(page, e.to_string()))?;
        pages.push(tiff_page(&mut decoder).map_err(|e| fail(page, e))?);
    }
    Ok(pages)
}

/// The current TIFF page as 8-bit grayscale.
fn tiff_page<R: std::io::Read + std::io::Seek>(
    decoder: &mut tiff::decoder::Decoder<R>,
) -> std::result::Result<GrayImage, String> {
    use tiff::ColorType as C;
    use tiff::decoder::DecodingResult as D;
    let (w, h) = decoder.dimensions().map_err(|e| e.to_string())?;
    if w > MAX_SIDE || h > MAX_SIDE {
        return Err(format!("{w}×{h} is larger than {MAX_SIDE} px on a side"));
    }
    let colour = decoder.colortype().map_err(|e| e.to_string())?;
    let data = decoder.read_image().map_err(|e| e.to_string())?;
    let luma =
        |r: u8, g: u8, b: u8| ((299 * r as u32 + 587 * g as u32 + 114 * b as u32) / 1000) as u8;
    let pixels: Vec<u8> = match (colour, data) {
        (C::Gray(8), D::U8(v)) => v,
        (C::Gray(16), D::U16(v)) => v.iter().map(|&p| (p >> 8) as u8).collect(),
        (C::GrayA(8), D::U8(v)) => v.chunks_exact(2).map(|p| p[0]).collect(),
        (C::RGB(8), D::U8(v)) => v.chunks_exact(3).map(|p| luma(p[0], p[1], p[2])).collect(),
        (C::RGBA(8), D::U8(v)) => v.chunks_exact(4).map(|p| luma(p[0], p[1], p[2])).collect(),
        (c, _) => {
            return Err(format!(
                "unsupported colour type {c:?} (pages after the first)"
            ));
        }
    };
    GrayImage::from_raw(w, h, pixels).ok_or_else(|| "pixel data shorter than the image".into())
}

/// Decodes in-memory image bytes (any format the `image` crate reads) as 8-bit grayscale.
/// `origin` names the source in errors.
pub fn decode_image(bytes: &[u8], origin: &Path) -> Result<GrayImage> {
    let decode_err = |reason: String| Error::ImageDecode {
        path: origin.to_path_buf(),
        reason,
    };
    // The size limit's own message does not say which limit.
    let image_err = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => decode_err(format!(
            "too large: more than {MAX_SIDE} px on a side (or more memory than allowed)"
        )),
        e => decode_err(e.to_string()),
    };
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| decode_err(e.to_string()))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    reader.limits(limits);
    // Phone photos store rotation in EXIF; apply it so lines are upright.
    let mut decoder = reader.into_decoder().map_err(image_err)?;
    let orientation = image::ImageDecoder::orientation(&mut decoder).ok();
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(image_err)?;
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
    fn every_page_of_a_multi_page_tiff_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("two.tif");
        let file = std::fs::File::create(&path).expect("create");
        let mut tiff = tiff::encoder::TiffEncoder::new(file).expect("encoder");
        for (w, v) in [(30u32, 10u8), (50, 200)] {
            let data = vec![v; (w * 20) as usize];
            tiff.write_image::<tiff::encoder::colortype::Gray8>(w, 20, &data)
                .expect("page");
        }
        drop(tiff);
        let pages = open_image_pages(&path).expect("reads");
        assert_eq!(pages.len(), 2);
        assert_eq!((pages[1].width(), pages[1].get_pixel(0, 0).0[0]), (50, 200));
        let png = dir.path().join("one.png");
        GrayImage::from_pixel(5, 5, image::Luma([1]))
            .save(&png)
            .expect("png");
        assert_eq!(open_image_pages(&png).expect("reads").len(), 1);
    }

    #[test]
    fn an_image_over_the_size_limit_is_refused_by_name() {
        let mut png = Vec::new();
        GrayImage::from_pixel(MAX_SIDE + 1, 1, image::Luma([200]))
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("encodes");
        let err = decode_image(&png, Path::new("huge.png")).expect_err("too large");
        let msg = err.to_string();
        assert!(
            msg.starts_with("huge.png") && msg.contains("too large"),
            "{msg}"
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
