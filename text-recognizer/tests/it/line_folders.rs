//! Line folders with broken files: each problem named, the rest loaded, `strict` fails.

use image::{GrayImage, Luma};
use text_recognizer::charset::{Charset, UnknownCharPolicy};
use text_recognizer::data::{DataSource, HtrDataset, LoadOptions};
use text_recognizer::image::PreprocessConfig;

fn broken_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    GrayImage::from_pixel(120, 40, Luma([230]))
        .save(p.join("good.png"))
        .expect("png");
    std::fs::write(p.join("good.gt.txt"), "bon\n").expect("gt");
    GrayImage::from_pixel(120, 40, Luma([230]))
        .save(p.join("odd.png"))
        .expect("png");
    std::fs::write(p.join("odd.gt.txt"), "bonζ").expect("gt");
    std::fs::write(p.join("corrupt.png"), b"\x89PNG\r\n\x1a\nnot really").expect("png");
    std::fs::write(p.join("corrupt.gt.txt"), "x").expect("gt");
    let mut png = Vec::new();
    GrayImage::from_pixel(300, 60, Luma([10]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("encode");
    std::fs::write(p.join("truncated.png"), &png[..png.len() / 3]).expect("png");
    std::fs::write(p.join("truncated.gt.txt"), "x").expect("gt");
    GrayImage::from_pixel(10, 10, Luma([230]))
        .save(p.join("nogt.png"))
        .expect("png");
    GrayImage::from_pixel(10, 10, Luma([230]))
        .save(p.join("empty.png"))
        .expect("png");
    std::fs::write(p.join("empty.gt.txt"), "\n").expect("gt");
    GrayImage::from_pixel(10, 10, Luma([230]))
        .save(p.join("latin1.png"))
        .expect("png");
    std::fs::write(p.join("latin1.gt.txt"), [0x63, 0xe9]).expect("gt");
    dir
}

#[test]
fn broken_files_are_skipped_with_reasons() {
    let dir = broken_folder();
    let opts = LoadOptions {
        cache_dir: dir.path().to_path_buf(),
    };
    let (loaded, skipped) = DataSource::LineFolder(dir.path().to_path_buf())
        .load(&opts, None)
        .expect("loads");
    assert_eq!(loaded.len(), 2, "good.png and odd.png decode");
    let reasons: Vec<String> = skipped
        .iter()
        .map(|s| format!("{}: {}", s.path.display(), s.reason))
        .collect();
    assert_eq!(skipped.len(), 5, "{reasons:#?}");
    for name in [
        "corrupt.png",
        "truncated.png",
        "nogt.png",
        "empty.gt.txt",
        "latin1.gt.txt",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(name)),
            "{name} not reported: {reasons:#?}"
        );
    }

    // An alphabet without ζ: the odd sample is reported, or the whole load fails with --strict.
    let charset = Charset::from_texts(["bonx"]);
    let pre = PreprocessConfig::line();
    let (ds, report) = HtrDataset::from_loaded(
        std::slice::from_ref(&loaded),
        &pre,
        &charset,
        UnknownCharPolicy::Fail,
        50,
        false,
    )
    .expect("lenient");
    assert_eq!(ds.items().len(), 1);
    assert!(
        report.skipped[0].reason.contains('ζ'),
        "{:?}",
        report.skipped
    );
    let err = HtrDataset::from_loaded(&[loaded], &pre, &charset, UnknownCharPolicy::Fail, 50, true)
        .expect_err("strict");
    assert!(err.to_string().contains("odd.png"), "{err}");
}
