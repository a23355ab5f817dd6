//! ALTO v4 (4.4 schema): `Page` > `PrintSpace` > `TextBlock` > `TextLine` > `String`/`SP`.

use std::fmt::Write;

use super::{SourceInfo, block_box, escape, line_box};
use crate::recognizer::PageText;

/// One ALTO document holding `pages` (a multi-page TIFF gives several).
pub fn alto_v4(pages: &[PageText], source: &SourceInfo<'_>) -> String {
    let mut x = String::new();
    x.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.loc.gov/standards/alto/ns-v4# http://www.loc.gov/standards/alto/v4/alto-4-4.xsd">
  <Description>
    <MeasurementUnit>pixel</MeasurementUnit>
    <sourceImageInformation>
"#);
    let _ = writeln!(x, "      <fileName>{}</fileName>", escape(source.file_name));
    let _ = write!(
        x,
        r#"    </sourceImageInformation>
    <Processing ID="proc1">
      <processingCategory>contentGeneration</processingCategory>
      <processingDateTime>{}</processingDateTime>
      <processingStepSettings>model {}</processingStepSettings>
      <processingSoftware>
        <softwareName>text-recognizer</softwareName>
        <softwareVersion>{}</softwareVersion>
      </processingSoftware>
    </Processing>
  </Description>
  <Layout>
"#,
        escape(source.created),
        escape(source.model),
        env!("CARGO_PKG_VERSION")
    );
    for (p, page) in pages.iter().enumerate() {
        let n = p + 1;
        let block = block_box(page);
        let _ = writeln!(
            x,
            r#"    <Page ID="p{n}" PHYSICAL_IMG_NR="{n}" WIDTH="{}" HEIGHT="{}" PROCESSINGREFS="proc1">"#,
            page.width, page.height
        );
        let _ = writeln!(
            x,
            r#"      <PrintSpace HPOS="0" VPOS="0" WIDTH="{}" HEIGHT="{}">"#,
            page.width, page.height
        );
        if !page.lines.is_empty() {
            let _ = writeln!(
                x,
                r#"        <TextBlock ID="p{n}_b1" HPOS="{}" VPOS="{}" WIDTH="{}" HEIGHT="{}">"#,
                block.x, block.y, block.width, block.height
            );
            for (l, line) in page.lines.iter().enumerate() {
                let b = line_box(page, line);
                let wc = line.recognition.confidence;
                let _ = writeln!(
                    x,
                    r#"          <TextLine ID="p{n}_l{}" HPOS="{}" VPOS="{}" WIDTH="{}" HEIGHT="{}">"#,
                    l + 1,
                    b.x,
                    b.y,
                    b.width,
                    b.height
                );
                // The schema wants at least one String per line, even an empty one.
                let words: Vec<&str> = line.recognition.text.split_whitespace().collect();
                let words = if words.is_empty() { vec![""] } else { words };
                for (w, word) in words.iter().enumerate() {
                    if w > 0 {
                        x.push_str("            <SP/>\n");
                    }
                    let _ = writeln!(
                        x,
                        r#"            <String ID="p{n}_l{}_w{}" CONTENT="{}" WC="{wc:.4}"/>"#,
                        l + 1,
                        w + 1,
                        escape(word)
                    );
                }
                x.push_str("          </TextLine>\n");
            }
            x.push_str("        </TextBlock>\n");
        }
        x.push_str("      </PrintSpace>\n    </Page>\n");
    }
    x.push_str("  </Layout>\n</alto>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::tests::sample_page;

    #[test]
    fn words_lines_and_boxes_are_written() {
        let xml = alto_v4(
            &[sample_page()],
            &SourceInfo {
                file_name: "a&b.png",
                model: "m 1",
                created: "2026-11-26T09:00:00Z",
            },
        );
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let strings: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("String"))
            .filter_map(|n| n.attribute("CONTENT"))
            .collect();
        assert_eq!(
            strings,
            ["Fish", "&", "<chips>", "\"quoted\"", "", "l'été", "dernier"]
        );
        let lines: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("TextLine"))
            .map(|n| n.attribute("VPOS"))
            .collect();
        assert_eq!(lines, [Some("20"), Some("90"), Some("0")]);
    }
}
