//! Writing what was read in the archive formats: ALTO v4 and PAGE-XML 2019.
//!
//! Both carry one box per line. Lines read from a whole image (no segmentation) get the image's
//! box. We know no word boxes, so ALTO `String`s carry words without positions (optional in
//! ALTO 4) and PAGE stops at `TextLine`.

mod alto;
mod page_xml;

pub use alto::alto_v4;
pub use page_xml::page_2019;

use crate::layout::LineBox;
use crate::recognizer::{LineText, PageText};

/// What the archive formats say about the image and the software.
#[derive(Clone, Debug)]
pub struct SourceInfo<'a> {
    /// Image file name as the user gave it.
    pub file_name: &'a str,
    /// Model name and version (the staged model's id).
    pub model: &'a str,
    /// Creation time, `YYYY-MM-DDTHH:MM:SSZ` (UTC).
    pub created: &'a str,
}

/// The line's box, or the whole page for lines read without segmentation.
fn line_box(page: &PageText, line: &LineText) -> LineBox {
    line.bbox.unwrap_or(LineBox {
        x: 0,
        y: 0,
        width: page.width,
        height: page.height,
    })
}

/// The smallest box holding every line (the page when there are none).
fn block_box(page: &PageText) -> LineBox {
    let boxes: Vec<LineBox> = page.lines.iter().map(|l| line_box(page, l)).collect();
    let Some(first) = boxes.first() else {
        return LineBox {
            x: 0,
            y: 0,
            width: page.width,
            height: page.height,
        };
    };
    let (mut x0, mut y0) = (first.x, first.y);
    let (mut x1, mut y1) = (first.x + first.width, first.y + first.height);
    for b in &boxes[1..] {
        x0 = x0.min(b.x);
        y0 = y0.min(b.y);
        x1 = x1.max(b.x + b.width);
        y1 = y1.max(b.y + b.height);
    }
    LineBox {
        x: x0,
        y: y0,
        width: x1 - x0,
        height: y1 - y0,
    }
}

/// Escapes text for XML content and attribute values. Characters XML 1.0 forbids (control
/// characters other than tab and newline) are dropped: a model never means them.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

/// UTC now as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc_timestamp(secs)
}

/// `secs` after the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (Howard Hinnant's civil-from-days;
/// a date crate for one format string is not worth the dependency).
pub fn utc_timestamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::recognizer::Recognition;

    pub(crate) fn sample_page() -> PageText {
        let line = |text: &str, bbox| LineText {
            bbox,
            recognition: Recognition {
                text: text.into(),
                confidence: 0.9,
                min_confidence: 0.5,
                char_confidences: vec![0.9; text.chars().count()],
                truncated: false,
                blank: false,
            },
        };
        PageText {
            width: 800,
            height: 600,
            lines: vec![
                line(
                    "Fish & <chips> \"quoted\"",
                    Some(LineBox {
                        x: 10,
                        y: 20,
                        width: 700,
                        height: 60,
                    }),
                ),
                line(
                    "",
                    Some(LineBox {
                        x: 12,
                        y: 90,
                        width: 500,
                        height: 55,
                    }),
                ),
                line("l'été  dernier", None),
            ],
        }
    }

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_timestamp(1_795_689_296), "2026-11-26T10:34:56Z");
    }

    #[test]
    fn escaping_covers_markup_and_control_characters() {
        assert_eq!(escape("a<b>&\"'\u{7}c"), "a&lt;b&gt;&amp;&quot;&apos;c");
    }

    #[test]
    fn block_box_holds_every_line() {
        let b = block_box(&sample_page());
        assert_eq!((b.x, b.y, b.width, b.height), (0, 0, 800, 600));
    }
}
