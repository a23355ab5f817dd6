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

/// How large an image may be before it is decoded: a few bytes of PNG or JPEG can claim
/// gigapixels (a decompression bomb), so servers check the header's size first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Longest side in pixels.
    pub max_side: u32,
    /// Width × height.
    pub max_pixels: u64,
}

impl Default for DecodeLimits {
    /// What files on disk may be: 30,000 px on a side, any area within that.
    fn default() -> Self {
        DecodeLimits {
            max_side: MAX_SIDE,
            max_pixels: u64::from(MAX_SIDE) * u64::from(MAX_SIDE),
        }
    }
}

/// Decodes in-memory image bytes (any format the `image` crate reads) as 8-bit grayscale.
/// `origin` names the source in errors.
pub fn decode_image(bytes: &[u8], origin: &Path) -> Result<GrayImage> {
    decode_image_within(bytes, origin, DecodeLimits::default())
}

/// [`decode_image`] refusing, before decoding, an image whose header claims more than
/// `limits` ([`Error::ImageTooLarge`]).
pub fn decode_image_within(bytes: &[u8], origin: &Path, limits: DecodeLimits) -> Result<GrayImage> {
    let decode_err = |reason: String| Error::ImageDecode {
        path: origin.to_path_buf(),
        reason,
    };
    let too_large = |reason: String| Error::ImageTooLarge {
        path: origin.to_path_buf(),
        reason,
    };
    // The decoder's own limit error does not say which limit.
    let image_err = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => too_large(format!(
            "more than {} px on a side (or more memory than allowed)",
            limits.max_side
        )),
        e => decode_err(e.to_string()),
    };
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| decode_err(e.to_string()))?;
    // The JPEG decoder fills in what a cut-off file lacks; reading half a line as a whole one
    // gives confident nonsense, so a JPEG must end (allowing trailing padding) with its
    // end-of-image marker.
    if reader.format() == Some(image::ImageFormat::Jpeg) && !ends_with_eoi(bytes) {
        return Err(decode_err(
            "truncated JPEG (no end-of-image marker): the file was cut off".into(),
        ));
    }
    let mut decoder_limits = Limits::default();
    decoder_limits.max_image_width = Some(limits.max_side);
    decoder_limits.max_image_height = Some(limits.max_side);
    reader.limits(decoder_limits);
    // Phone photos store rotation in EXIF; apply it so lines are upright.
    let mut decoder = reader.into_decoder().map_err(image_err)?;
    let (w, h) = image::ImageDecoder::dimensions(&decoder);
    let pixels = u64::from(w) * u64::from(h);
    if pixels > limits.max_pixels {
        return Err(too_large(format!(
            "{w}×{h} = {pixels} pixels, more than the {} allowed",
            limits.max_pixels
        )));
    }
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

/// True when an end-of-image marker (FF D9) is among the last bytes of a JPEG.
fn ends_with_eoi(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    tail.windows(2).any(|w| w == [0xFF, 0xD9])
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
    fn a_cut_off_jpeg_is_an_error_not_a_gray_image() {
        let mut jpeg = Vec::new();
        image::GrayImage::from_fn(300, 60, |x, _| {
            image::Luma([if x % 9 < 2 { 20 } else { 230 }])
        })
        .write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
        .expect("encode");
        assert!(decode_image(&jpeg, Path::new("whole.jpg")).is_ok());
        let err = decode_image(&jpeg[..jpeg.len() / 2], Path::new("cut.jpg")).expect_err("cut");
        assert!(err.to_string().contains("truncated JPEG"), "{err}");
    }

    #[test]
    fn a_header_claiming_too_many_pixels_is_refused_before_decoding() {
        let mut png = Vec::new();
        image::GrayImage::from_pixel(400, 300, image::Luma([200]))
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("encode");
        let limits = DecodeLimits {
            max_side: 1000,
            max_pixels: 100_000,
        };
        let err = decode_image_within(&png, Path::new("big.png"), limits).expect_err("too big");
        assert!(matches!(err, Error::ImageTooLarge { .. }), "{err}");
        assert!(err.to_string().contains("400×300"), "{err}");
        let limits = DecodeLimits {
            max_side: 399,
            max_pixels: 1_000_000,
        };
        let err = decode_image_within(&png, Path::new("wide.png"), limits).expect_err("too wide");
        assert!(matches!(err, Error::ImageTooLarge { .. }), "{err}");
        assert!(decode_image(&png, Path::new("ok.png")).is_ok());
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
