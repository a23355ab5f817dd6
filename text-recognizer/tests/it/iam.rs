//! IAM on a fixture in IAM's format: FSDL's regions, splits and processed crops.

use image::{GrayImage, Luma};
use text_recognizer::data::iam::{Iam, IamSplit, parse_form};

use crate::repo_root;

/// Copies the fixture and draws its half-size form scans: dark boxes on light paper.
fn fixture() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = repo_root().join("datasets/fixtures/iam-mini");
    for sub in ["xml", "task"] {
        std::fs::create_dir_all(tmp.path().join(sub)).expect("mkdir");
        for e in std::fs::read_dir(src.join(sub)).expect("fixture").flatten() {
            std::fs::copy(e.path(), tmp.path().join(sub).join(e.file_name())).expect("copy");
        }
    }
    std::fs::create_dir_all(tmp.path().join("forms")).expect("mkdir");
    let iam = Iam::new(tmp.path());
    for id in iam.form_ids().expect("ids") {
        let form = iam.form(&id).expect("parses");
        let mut img = GrayImage::from_pixel(1240, 1771, Luma([235]));
        for r in &form.regions {
            for y in (r.y1 + 10).max(0)..(r.y2 - 10).max(0) {
                for x in (r.x1 + 10).max(0)..(r.x2 - 10).max(0) {
                    img.put_pixel(x as u32, y as u32, Luma([30]));
                }
            }
        }
        img.save(tmp.path().join("forms").join(format!("{id}.jpg")))
            .expect("jpg");
    }
    tmp
}

#[test]
fn regions_follow_fsdls_rules() {
    let form = parse_form(&repo_root().join("datasets/fixtures/iam-mini/xml/a01-000u.xml"))
        .expect("parses");
    assert_eq!(
        form.lines,
        vec![
            "A MOVE to stop Mr. Gaitskell from",
            "nominating any more Labour life Peers"
        ]
    );
    // Line 0: word boxes start at x=300, y=700 and end at y=770 (full size); ÷2 → 150, 350, 385.
    // Horizontal padding 8; vertical: min(8, gap/2), first line's gap before counts as 16.
    let r0 = form.regions[0];
    assert_eq!((r0.x1, r0.y1, r0.y2), (150 - 8, 350 - 8, 385 + 8));
    // Line 1 starts at y=850 → 425; the gap 425-385=40 allows the full padding.
    assert_eq!(form.regions[1].y1, 425 - 8);
    let para = form.paragraph_region().expect("region");
    assert_eq!((para.y1, para.y2), (r0.y1, form.regions[1].y2));
    assert_eq!(form.paragraph_text().lines().count(), 2);

    let quoted = parse_form(&repo_root().join("datasets/fixtures/iam-mini/xml/b04-010.xml"))
        .expect("parses");
    assert_eq!(quoted.lines[0], "\"Tis the season,\" he said.");
}

#[test]
fn splits_are_by_page_and_disjoint() {
    let tmp = fixture();
    let iam = Iam::new(tmp.path());
    let train = iam.split_ids(IamSplit::Train).expect("train");
    let val = iam.split_ids(IamSplit::Val).expect("val");
    let test = iam.split_ids(IamSplit::Test).expect("test");
    assert_eq!(train, vec!["a01-000u", "c03-096f"]);
    assert_eq!(val, vec!["a01-003"]);
    assert_eq!(test, vec!["b04-010"]);
    for id in &train {
        assert!(
            !val.contains(id) && !test.contains(id),
            "{id} is in two splits"
        );
    }
}

#[test]
fn prepare_writes_line_and_paragraph_folders() {
    let tmp = fixture();
    let cache = tempfile::tempdir().expect("cache");
    let iam = Iam::new(tmp.path());
    let (lines, paras) = iam
        .prepare(cache.path(), IamSplit::Train)
        .expect("prepares");
    let (samples, skipped) = text_recognizer::data::LineFolder::new(&lines)
        .scan()
        .expect("scan");
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(samples.len(), 3, "two lines of a01-000u, one of c03-096f");
    let (paragraphs, _) = text_recognizer::data::LineFolder::new(&paras)
        .scan()
        .expect("scan");
    assert_eq!(paragraphs.len(), 2);
    assert!(paragraphs.iter().any(|p| p.text.contains('\n')));
    // Crops are the padded regions of the half-size scans.
    let crop = image::open(&samples[0].image).expect("png").to_luma8();
    let form = iam.form("a01-000u").expect("form");
    let r = form.regions[0];
    assert_eq!(
        crop.dimensions(),
        ((r.x2 - r.x1) as u32, (r.y2 - r.y1) as u32)
    );
}
