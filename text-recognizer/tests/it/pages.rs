//! ALTO (the real Testaments pages in datasets/fixtures) and PAGE-XML (a fixture written here).

use image::{GrayImage, Luma};
use text_recognizer::data::pages::{PageUnit, load_pages, parse_page_xml};

use crate::repo_root;

#[test]
fn real_alto_pages_give_lines_and_regions() {
    let dir = repo_root().join("datasets/fixtures/testaments-pages");
    let (lines, skipped) = load_pages(&dir, PageUnit::Lines).expect("loads");
    // 12 + 16 + 15 TextLines; lines without transcription are reported, not lost silently.
    assert_eq!(lines.len() + skipped.len(), 43, "skipped: {skipped:?}");
    assert!(lines.len() >= 40);
    let first = &lines[0];
    assert_eq!(first.1, "Ceci est mon Testament.");
    assert!(
        first.0.height() > 50 && first.0.width() > 500,
        "{:?}",
        first.0.dimensions()
    );
    let (regions, _) = load_pages(&dir, PageUnit::Regions).expect("loads");
    assert!(!regions.is_empty() && regions.len() < lines.len());
    assert!(regions.iter().any(|(_, t, _)| t.contains('\n')));
}

const PAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15">
  <Page imageFilename="page.png" imageWidth="400" imageHeight="200">
    <TextRegion id="r1">
      <Coords points="10,10 390,10 390,190 10,190"/>
      <TextLine id="l1">
        <Coords points="10,20 300,20 300,60 10,60"/>
        <Word id="w1"><TextEquiv><Unicode>ignored</Unicode></TextEquiv></Word>
        <TextEquiv><Unicode>première ligne</Unicode></TextEquiv>
      </TextLine>
      <TextLine id="l2">
        <Coords points="10,80 350,80 350,120 10,120"/>
        <TextEquiv><Unicode>second line</Unicode></TextEquiv>
      </TextLine>
      <TextLine id="l3">
        <Coords points="900,900 950,900 950,950"/>
        <TextEquiv><Unicode>off the page</Unicode></TextEquiv>
      </TextLine>
      <TextEquiv><Unicode>première ligne
second line</Unicode></TextEquiv>
    </TextRegion>
  </Page>
</PcGts>"#;

#[test]
fn page_xml_lines_and_bad_coordinates() {
    let dir = tempfile::tempdir().expect("tempdir");
    GrayImage::from_pixel(400, 200, Luma([240]))
        .save(dir.path().join("page.png"))
        .expect("png");
    std::fs::write(dir.path().join("page.xml"), PAGE).expect("xml");
    let parsed = parse_page_xml(&dir.path().join("page.xml")).expect("parses");
    assert_eq!(parsed.regions.len(), 1);
    assert_eq!(parsed.regions[0][0].text, "première ligne");
    let (lines, skipped) = load_pages(dir.path(), PageUnit::Lines).expect("loads");
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].0.dimensions(), (290, 40));
    assert_eq!(skipped.len(), 1);
    assert!(
        skipped[0].reason.contains("outside the image"),
        "{}",
        skipped[0].reason
    );
}

#[test]
fn xml_that_is_not_alto_or_page_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("x.xml"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    )
    .expect("xml");
    std::fs::write(dir.path().join("y.xml"), "<not closed").expect("xml");
    let (lines, skipped) = load_pages(dir.path(), PageUnit::Lines).expect("loads");
    assert!(lines.is_empty());
    assert_eq!(skipped.len(), 2);
    assert!(
        skipped
            .iter()
            .any(|s| s.reason.contains("neither ALTO nor PAGE"))
    );
    assert!(skipped.iter().any(|s| s.reason.contains("not well-formed")));
}
