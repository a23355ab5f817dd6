//! Choosing what the model reads from one input image.

use std::fmt;
use std::str::FromStr;

use image::GrayImage;
use image::imageops;
use serde::{Deserialize, Serialize};

use super::segment::{LineBox, segment_lines};
use crate::image::Layout;

/// What an input image holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LayoutMode {
    /// One text line: read whole.
    Line,
    /// A paragraph or page: a paragraph model reads it whole, a line model reads each line found
    /// by [`segment_lines`].
    Paragraph,
    /// Segment, then read as a line when one line (or none) is found, as a paragraph otherwise.
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
/// [`LayoutMode::Auto`] when at most one line is found (the image is a line already: reading it
/// whole keeps the ink the segmenter would trim).
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
    let boxes = segment_lines(&img);
    if mode == LayoutMode::Auto && boxes.len() <= 1 {
        return whole(img);
    }
    let lines = boxes
        .into_iter()
        .map(|b| PlannedLine {
            image: imageops::crop_imm(&img, b.x, b.y, b.width, b.height).to_image(),
            bbox: Some(b),
        })
        .collect();
    PagePlan {
        width,
        height,
        lines,
    }
}
