//! Choosing what the model reads from one input image.

use std::fmt;
use std::str::FromStr;

use image::GrayImage;
use image::imageops;
use serde::{Deserialize, Serialize};

use super::segment::{LineBox, segment_with_ink};
use crate::image::Layout;

/// What an input image holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LayoutMode {
    /// One text line: read whole.
    Line,
    /// A paragraph or page: a paragraph model reads it whole, a line model reads each line found
    /// by [`segment_lines`](super::segment_lines).
    Paragraph,
    /// Read as a line when the image is wide and low or one line holds most of the ink, as a
    /// paragraph otherwise.
    #[default]
    Auto,
}

impl FromStr for LayoutMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "line" => Ok(LayoutMode::Line),
            "paragraph" | "page" => Ok(LayoutMode::Paragraph),
            "auto" => Ok(LayoutMode::Auto),
            _ => Err(format!(
                "unknown layout {s:?} (expected line, paragraph or auto)"
            )),
        }
    }
}

impl fmt::Display for LayoutMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LayoutMode::Line => "line",
            LayoutMode::Paragraph => "paragraph",
            LayoutMode::Auto => "auto",
        })
    }
}

/// One image for the model, with where it sits on the page when that is known.
#[derive(Clone, Debug)]
pub struct PlannedLine {
    /// Box on the page; `None` when the model reads the whole image as one unit.
    pub bbox: Option<LineBox>,
    /// The crop.
    pub image: GrayImage,
}

/// An input image split into model inputs, top to bottom.
#[derive(Clone, Debug)]
pub struct PagePlan {
    /// Page width in pixels.
    pub width: u32,
    /// Page height in pixels.
    pub height: u32,
    /// Model inputs.
    pub lines: Vec<PlannedLine>,
}

/// Splits `img` for a model whose preprocessing is `model_layout`.
///
/// A paragraph model always reads the whole image. A line model reads the whole image in
/// [`LayoutMode::Line`]; otherwise it reads the segmented lines, except in
/// [`LayoutMode::Auto`] when the image is at least 3 times as wide as high, fewer
/// than two of the boxes found are that shape, or one line holds at least 60 % of
/// the ink: line crops often hold
/// bits of the lines above and below, which would otherwise be read as lines of their own.
pub fn plan_page(img: GrayImage, mode: LayoutMode, model_layout: &Layout) -> PagePlan {
    let (width, height) = img.dimensions();
    let whole = |img: GrayImage| PagePlan {
        width,
        height,
        lines: vec![PlannedLine {
            bbox: None,
            image: img,
        }],
    };
    if matches!(model_layout, Layout::Paragraph { .. }) || mode == LayoutMode::Line {
        return whole(img);
    }
    // Slivers (strokes hanging off a neighbouring line, specks) are no boxes already; a faint
    // line is kept however little ink it holds next to bold ones.
    let found = segment_with_ink(&img);
    let total: u64 = found.iter().map(|(_, ink)| ink).sum();
    let main = found.iter().map(|(_, ink)| *ink).max().unwrap_or(0);
    let wide = width as f32 >= LINE_ASPECT * height as f32;
    // Text lines are wider than high; boxes that are not are the halves of one big line or
    // slivers of a narrow crop.
    let line_shaped = found
        .iter()
        .filter(|(b, _)| b.width as f32 >= LINE_ASPECT * b.height as f32)
        .count();
    if mode == LayoutMode::Auto
        && (wide || line_shaped < 2 || main as f32 >= ONE_LINE_SHARE * total as f32)
    {
        return whole(img);
    }
    let boxes = found.into_iter().map(|(b, _)| b);
    let lines = boxes
        .into_iter()
        .map(|b| PlannedLine {
            image: with_margin(&imageops::crop_imm(&img, b.x, b.y, b.width, b.height).to_image()),
            bbox: Some(b),
        })
        .collect();
    PagePlan {
        width,
        height,
        lines,
    }
}

/// Pads a line crop above and below with its own background. Segmented boxes hug the ink, while
/// the lines a model trains on (rendered, or cut from ALTO polygons) carry some paper around the
/// text; the margin brings the text back to the scale the model learned.
fn with_margin(crop: &GrayImage) -> GrayImage {
    let (w, h) = crop.dimensions();
    if w == 0 || h == 0 {
        return crop.clone();
    }
    let margin = (h as f32 * LINE_MARGIN).round() as u32;
    let mut values: Vec<u8> = crop.as_raw().clone();
    let mid = values.len() / 2;
    let background = values.select_nth_unstable(mid).1.to_owned();
    let mut padded = GrayImage::from_pixel(w, h + 2 * margin, image::Luma([background]));
    imageops::replace(&mut padded, crop, 0, i64::from(margin));
    padded
}

/// Margin added above and below a segmented line, as a fraction of its height.
const LINE_MARGIN: f32 = 0.3;

/// In auto mode an image is one line when its largest line holds this share of the ink…
pub const ONE_LINE_SHARE: f32 = 0.6;
/// …or when it is this many times as wide as high (or fewer than two boxes found are).
pub const LINE_ASPECT: f32 = 3.0;

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    /// Pen strokes (2 px every 6 px) between rows `top..bottom`, columns `left..right`.
    fn strokes(img: &mut GrayImage, (left, right): (u32, u32), (top, bottom): (u32, u32)) {
        for x in (left..right).filter(|x| x % 6 < 2) {
            for y in top..bottom {
                img.put_pixel(x, y, Luma([15]));
            }
        }
    }

    #[test]
    fn auto_reads_line_crops_whole_and_splits_paragraphs() {
        let line = Layout::Line {
            height: 64,
            max_width: 2048,
        };
        // A line crop with the descenders of the line above along its top edge.
        let mut crop = GrayImage::from_pixel(400, 70, Luma([240]));
        strokes(&mut crop, (20, 380), (25, 55));
        strokes(&mut crop, (60, 90), (0, 6));
        let plan = plan_page(crop.clone(), LayoutMode::Auto, &line);
        assert_eq!(plan.lines.len(), 1);
        assert_eq!(plan.lines[0].bbox, None);
        // Three lines of a paragraph.
        let mut page = GrayImage::from_pixel(300, 240, Luma([240]));
        for rows in [(30, 55), (100, 125), (170, 195)] {
            strokes(&mut page, (20, 280), rows);
        }
        let plan = plan_page(page.clone(), LayoutMode::Auto, &line);
        assert_eq!(plan.lines.len(), 3);
        // Crops carry a margin of their own background.
        let first = &plan.lines[0];
        let b = first.bbox.expect("segmented");
        assert!(first.image.height() > b.height);
        assert_eq!(first.image.get_pixel(0, 0).0[0], 240);
        // A paragraph model reads the page whole; Line mode reads anything whole.
        let paragraph = Layout::Paragraph {
            height: 576,
            width: 640,
        };
        assert_eq!(
            plan_page(page.clone(), LayoutMode::Paragraph, &paragraph)
                .lines
                .len(),
            1
        );
        assert_eq!(plan_page(page, LayoutMode::Line, &line).lines.len(), 1);
    }
}
