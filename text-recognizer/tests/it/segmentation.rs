//! Line segmentation on the real Testaments page scans (datasets/fixtures), scored against the lines
//! their ALTO files annotate.

use text_recognizer::data::pages::parse_page_xml;
use text_recognizer::image::open_image;
use text_recognizer::layout::segment_lines;

use crate::repo_root;

/// Vertical intersection over union of two row ranges.
fn iou(a: (f32, f32), b: (f32, f32)) -> f32 {
    let inter = (a.1.min(b.1) - a.0.max(b.0)).max(0.0);
    inter / (a.1.max(b.1) - a.0.min(b.0))
}

#[test]
fn every_annotated_line_of_the_testaments_pages_is_found() {
    let dir = repo_root().join("datasets/fixtures/testaments-pages");
    let mut pages = 0;
    for entry in std::fs::read_dir(&dir).expect("pages folder") {
        let xml = entry.expect("entry").path();
        if xml.extension().is_none_or(|e| e != "xml") {
            continue;
        }
        pages += 1;
        let parsed = parse_page_xml(&xml).expect("ALTO parses");
        let image = open_image(&parsed.image).expect("scan decodes");
        let found = segment_lines(&image);
        let annotated: Vec<(f32, f32)> = parsed
            .regions
            .iter()
            .flatten()
            .map(|l| {
                let ys = l.polygon.iter().map(|p| p.1);
                (ys.clone().fold(f32::MAX, f32::min), ys.fold(0.0, f32::max))
            })
            .collect();
        let missed: Vec<_> = annotated
            .iter()
            .filter(|&&line| {
                !found.iter().any(|b| {
                    let rows = (b.y as f32, (b.y + b.height) as f32);
                    iou(rows, line) >= 0.4
                })
            })
            .collect();
        assert!(
            missed.is_empty(),
            "{}: lines missed {missed:?}",
            xml.display()
        );
        // Signatures, stamps and notes are not annotated, so more boxes than lines is right;
        // twice as many would mean lines are being split.
        assert!(
            found.len() < 2 * annotated.len(),
            "{}: {} boxes for {} lines",
            xml.display(),
            found.len(),
            annotated.len()
        );
    }
    assert_eq!(pages, 3);
}
