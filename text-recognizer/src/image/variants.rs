//! The ways users' line images differ from the training crops: tight or loose margins, small or
//! large scans, inverted, blurred, JPEG-compressed, ruled. Used by training augmentation (on
//! prepared light-on-dark lines) and by the robustness evaluation (on images as users send
//! them), so both vary images the same way.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::{self, FilterType};
use image::{GrayImage, ImageReader, Luma};
use imageproc::filter::gaussian_blur_f32;

use super::ink_is_dark;
use super::polarity::median_level;

/// A way to vary a line image, as users' images vary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// Unchanged.
    Plain,
    /// Cropped to the ink: text touches the top and bottom.
    Tight,
    /// Wide margins: text is about a third of the image height.
    Loose,
    /// Scanned at half the resolution.
    Small,
    /// Scanned at twice the resolution.
    Large,
    /// Light ink on a dark background.
    Inverted,
    /// Out of focus (Gaussian blur, sigma 1/40 of the height).
    Blurred,
    /// JPEG at quality 30.
    Jpeg,
}

impl Variant {
    /// Every variant, plain first.
    pub const ALL: [Variant; 8] = [
        Variant::Plain,
        Variant::Tight,
        Variant::Loose,
        Variant::Small,
        Variant::Large,
        Variant::Inverted,
        Variant::Blurred,
        Variant::Jpeg,
    ];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Plain => "plain",
            Variant::Tight => "tight",
            Variant::Loose => "loose",
            Variant::Small => "small",
            Variant::Large => "large",
            Variant::Inverted => "inverted",
            Variant::Blurred => "blurred",
            Variant::Jpeg => "jpeg",
        }
    }

    /// Applies the variant to an image as a user would send it (either polarity).
    pub fn apply(self, img: &GrayImage) -> GrayImage {
        let background = background_level(img);
        match self {
            Variant::Plain => img.clone(),
            Variant::Tight => match ink_rows(img) {
                Some((top, bottom)) => crop_rows(img, top, bottom),
                None => img.clone(),
            },
            Variant::Loose => {
                let (top, bottom) = ink_rows(img).unwrap_or((0, img.height().saturating_sub(1)));
                let text = bottom + 1 - top;
                let tight = crop_rows(img, top, bottom);
                pad(&tight, text, text, text, text, background)
            }
            Variant::Small => scale(img, 0.5),
            Variant::Large => scale(img, 2.0),
            Variant::Inverted => {
                let mut out = img.clone();
                imageops::invert(&mut out);
                out
            }
            Variant::Blurred => gaussian_blur_f32(img, (img.height() as f32 / 40.0).max(0.5)),
            Variant::Jpeg => jpeg(img, 30),
        }
    }
}

impl std::str::FromStr for Variant {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Variant::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Variant::ALL.iter().map(|v| v.name()).collect();
                format!("unknown variant {s:?} ({})", names.join(", "))
            })
    }
}

/// The background grey level: the median pixel (ink covers well under half of a line).
pub fn background_level(img: &GrayImage) -> u8 {
    median_level(img)
}

/// Ink pixels per row: pixels 60 grey levels away from the background (the median), on the
/// ink's side of it.
pub fn ink_profile(img: &GrayImage) -> Vec<usize> {
    let background = i32::from(background_level(img));
    let dark = ink_is_dark(img);
    let is_ink = |v: u8| {
        let d = i32::from(v) - background;
        if dark { d < -60 } else { d > 60 }
    };
    img.rows()
        .map(|row| row.filter(|p| is_ink(p.0[0])).count())
        .collect()
}

/// First and last rows holding ink (2 pixels or more), or `None` for a blank image. A share of
/// the row would be wrong: the rows of a line's ascenders and descenders hold a few strokes
/// (1 % of a 1,000-pixel row cut the `p` of a printed "elephant" and every `h`, `k` and `y`
/// of handwriting).
pub fn ink_rows(img: &GrayImage) -> Option<(u32, u32)> {
    let needed = 2;
    let profile = ink_profile(img);
    let first = profile.iter().position(|&n| n >= needed)?;
    let last = profile.iter().rposition(|&n| n >= needed)?;
    Some((first as u32, last as u32))
}

/// Rows `top..=bottom`.
pub fn crop_rows(img: &GrayImage, top: u32, bottom: u32) -> GrayImage {
    let bottom = bottom.min(img.height().saturating_sub(1));
    let top = top.min(bottom);
    imageops::crop_imm(img, 0, top, img.width(), bottom + 1 - top).to_image()
}

/// Adds margins filled with `value`.
pub fn pad(img: &GrayImage, top: u32, bottom: u32, left: u32, right: u32, value: u8) -> GrayImage {
    let mut out = GrayImage::from_pixel(
        img.width() + left + right,
        img.height() + top + bottom,
        Luma([value]),
    );
    imageops::replace(&mut out, img, i64::from(left), i64::from(top));
    out
}

/// Resized by `factor` in both directions.
pub fn scale(img: &GrayImage, factor: f32) -> GrayImage {
    let w = ((img.width() as f32 * factor).round() as u32).max(1);
    let h = ((img.height() as f32 * factor).round() as u32).max(1);
    imageops::resize(img, w, h, FilterType::Triangle)
}

/// Encoded as JPEG at `quality` (1–100) and decoded again.
pub fn jpeg(img: &GrayImage, quality: u8) -> GrayImage {
    let mut bytes = Vec::new();
    let encoded = JpegEncoder::new_with_quality(&mut bytes, quality.clamp(1, 100))
        .encode_image(img)
        .is_ok();
    if !encoded {
        return img.clone();
    }
    ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()
        .and_then(|r| r.decode().ok())
        .map_or_else(|| img.clone(), |d| d.to_luma8())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dark "text" rows 20..44 on light paper, 64 high.
    fn line() -> GrayImage {
        let mut img = GrayImage::from_pixel(300, 64, Luma([235]));
        for x in (30..270).filter(|x| x % 5 < 2) {
            for y in 20..44 {
                img.put_pixel(x, y, Luma([20]));
            }
        }
        img
    }

    #[test]
    fn tight_and_loose_move_the_margins() {
        assert_eq!(ink_rows(&line()), Some((20, 43)));
        let tight = Variant::Tight.apply(&line());
        assert_eq!(tight.height(), 24);
        let loose = Variant::Loose.apply(&line());
        assert_eq!(loose.height(), 72);
        assert_eq!(ink_rows(&loose), Some((24, 47)));
        assert_eq!(
            loose.get_pixel(0, 0).0[0],
            235,
            "margins take the paper's grey"
        );
    }

    #[test]
    fn a_tight_crop_keeps_the_ascenders_and_descenders() {
        // A long line whose only descender (rows 44..56) is one 3-pixel stroke.
        let mut img = GrayImage::from_pixel(1200, 64, Luma([235]));
        for x in (30..1170).filter(|x| x % 5 < 2) {
            for y in 20..44 {
                img.put_pixel(x, y, Luma([20]));
            }
        }
        for x in 600..603 {
            for y in 44..56 {
                img.put_pixel(x, y, Luma([20]));
            }
        }
        assert_eq!(ink_rows(&img), Some((20, 55)));
        assert_eq!(Variant::Tight.apply(&img).height(), 36);
    }

    #[test]
    fn every_variant_keeps_the_ink() {
        for v in Variant::ALL {
            let out = v.apply(&line());
            assert!(ink_rows(&out).is_some(), "{}", v.name());
            assert_eq!(v.name().parse::<Variant>(), Ok(v));
        }
        assert_eq!(Variant::Small.apply(&line()).dimensions(), (150, 32));
        assert!("sideways".parse::<Variant>().is_err());
    }
}
