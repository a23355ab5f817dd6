//! PAGE-XML 2019-07-15: `Page` > `TextRegion` > `TextLine` > `TextEquiv`.

use std::fmt::Write;

use super::{SourceInfo, block_box, escape, line_box};
use crate::layout::LineBox;
use crate::recognizer::PageText;

/// One PAGE document (PAGE holds one page per file).
pub fn page_2019(page: &PageText, source: &SourceInfo<'_>) -> String {
    let mut x = String::new();
    let _ = write!(
        x,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15 http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15/pagecontent.xsd">
  <Metadata>
    <Creator>text-recognizer {} (model {})</Creator>
    <Created>{}</Created>
    <LastChange>{}</LastChange>
  </Metadata>
  <Page imageFilename="{}" imageWidth="{}" imageHeight="{}">
"#,
        env!("CARGO_PKG_VERSION"),
        escape(source.model),
        escape(source.created),
        escape(source.created),
        escape(source.file_name),
        page.width,
        page.height
    );
    if !page.lines.is_empty() {
        let _ = writeln!(x, r#"    <TextRegion id="r1" type="paragraph">"#);
        let _ = writeln!(x, r#"      <Coords points="{}"/>"#, points(block_box(page)));
        for (l, line) in page.lines.iter().enumerate() {
            let _ = write!(
                x,
                r#"      <TextLine id="r1_l{}">
        <Coords points="{}"/>
        <TextEquiv conf="{:.4}">
          <Unicode>{}</Unicode>
        </TextEquiv>
      </TextLine>
"#,
                l + 1,
                points(line_box(page, line)),
                line.recognition.confidence.clamp(0.0, 1.0),
                escape(&line.recognition.text)
            );
        }
        let _ = write!(
            x,
            r#"      <TextEquiv conf="{:.4}">
        <Unicode>{}</Unicode>
      </TextEquiv>
    </TextRegion>
"#,
            page.confidence().clamp(0.0, 1.0),
            escape(&page.text())
        );
    }
    x.push_str("  </Page>\n</PcGts>\n");
    x
}

/// A box as PAGE's clockwise polygon `x,y x,y x,y x,y`.
fn points(b: LineBox) -> String {
    let (x1, y1) = (b.x + b.width.max(1) - 1, b.y + b.height.max(1) - 1);
    format!("{},{} {x1},{} {x1},{y1} {},{y1}", b.x, b.y, b.y, b.x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::tests::sample_page;

    #[test]
    fn lines_and_region_text_are_written() {
        let xml = page_2019(
            &sample_page(),
            &SourceInfo {
                file_name: "scan.png",
                model: "m",
                created: "2026-11-26T09:00:00Z",
            },
        );
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let unicode: Vec<String> = doc
            .descendants()
            .filter(|n| n.has_tag_name("Unicode"))
            .map(|n| n.text().unwrap_or("").to_string())
            .collect();
        assert_eq!(unicode[0], "Fish & <chips> \"quoted\"");
        assert_eq!(unicode[3], "Fish & <chips> \"quoted\"\n\nl'été  dernier");
        assert_eq!(
            points(LineBox {
                x: 1,
                y: 2,
                width: 3,
                height: 4
            }),
            "1,2 3,2 3,5 1,5"
        );
    }
}
