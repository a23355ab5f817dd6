//! Page layout: how an input image becomes the images the model reads.
//!
//! A line model reads one text line at a time, so paragraphs and pages are first split into
//! lines ([`segment_lines`]); a paragraph model reads the whole image. [`plan_page`] makes that
//! choice from the requested [`LayoutMode`] and the model's preprocessing, and keeps each line's
//! box for the output formats that carry geometry (ALTO, PAGE, JSON).

mod plan;
mod segment;
mod strokes;

pub use plan::{LayoutMode, PagePlan, PlannedLine, plan_page};
pub use segment::{LineBox, segment_lines};
