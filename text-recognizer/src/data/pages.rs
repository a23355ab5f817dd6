//! ALTO v4 and PAGE-XML (2019) pages: every text line (or text block / region) cropped from the
//! page image with its transcription. Crops are the bounding box of the line's polygon (or of
//! its HPOS/VPOS box when it has no polygon), clamped to the image.

use std::path::{Path, PathBuf};

use image::{GrayImage, imageops};
use roxmltree::{Document, Node};
use serde::{Deserialize, Serialize};

use super::line_folder::Skipped;
use crate::error::{Error, Result};
use crate::image::open_image;

/// Lines or whole regions (paragraphs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PageUnit {
    /// One sample per text line.
    #[default]
    Lines,
    /// One sample per text block / region, lines joined by `\n`.
    Regions,
}

/// A text line on a page.
#[derive(Clone, Debug, PartialEq)]
pub struct PageLine {
    /// Outline in page pixels.
    pub polygon: Vec<(f32, f32)>,
    /// Transcription.
    pub text: String,
}

/// A parsed page: its image and its regions' lines.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedPage {
    /// The page image.
    pub image: PathBuf,
    /// Regions in reading order, each with its lines.
    pub regions: Vec<Vec<PageLine>>,
}

const ALTO_NS: &str = "http://www.loc.gov/standards/alto/";
const PAGE_NS: &str = "http://schema.primaresearch.org/PAGE/gts/pagecontent/";

/// Parses an ALTO or PAGE file; anything else is an error naming the file.
pub fn parse_page_xml(path: &Path) -> Result<ParsedPage> {
    parse_page_xml_with_images(path, None)
}

/// [`parse_page_xml`], also looking for the page image (by the file name the XML gives) in
/// `images`: repositories that publish the XML without the scans.
pub fn parse_page_xml_with_images(path: &Path, images: Option<&Path>) -> Result<ParsedPage> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let bad = |reason: String| Error::config(path.display().to_string(), reason);
    let doc = Document::parse(&text).map_err(|e| bad(format!("not well-formed XML: {e}")))?;
    let root = doc.root_element();
    let ns = root.tag_name().namespace().unwrap_or_default();
    let (image_name, regions) = if ns.starts_with(ALTO_NS) {
        parse_alto(root)
    } else if ns.starts_with(PAGE_NS) {
        parse_page(root)
    } else {
        return Err(bad(format!(
            "root element <{}> (namespace {ns:?}) is neither ALTO nor PAGE-XML",
            root.tag_name().name()
        )));
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let elsewhere = |n: &str| {
        let file = Path::new(n).file_name()?;
        Some(images?.join(file)).filter(|p| p.exists())
    };
    let image = image_name
        .as_deref()
        .map(|n| dir.join(n))
        .filter(|p| p.exists())
        .or_else(|| sibling_image(path))
        .or_else(|| image_name.as_deref().and_then(elsewhere))
        .ok_or_else(|| {
            bad(
                "no page image: neither the file the XML names nor one with the same stem exists"
                    .into(),
            )
        })?;
    Ok(ParsedPage { image, regions })
}

fn sibling_image(xml: &Path) -> Option<PathBuf> {
    ["jpg", "jpeg", "png", "tif", "tiff", "webp"]
        .iter()
        .map(|e| xml.with_extension(e))
        .find(|p| p.exists())
}

fn children<'a>(node: Node<'a, 'a>, name: &'a str) -> impl Iterator<Item = Node<'a, 'a>> {
    node.descendants()
        .filter(move |n| n.is_element() && n.tag_name().name() == name)
}

fn num(node: Node, attr: &str) -> Option<f32> {
    node.attribute(attr)?.trim().parse().ok()
}

/// ALTO: `TextBlock` > `TextLine` (Shape/Polygon POINTS="x y x y …" or HPOS/VPOS/WIDTH/HEIGHT),
/// text = `String@CONTENT` joined by single spaces.
fn parse_alto(root: Node) -> (Option<String>, Vec<Vec<PageLine>>) {
    let image = children(root, "fileName")
        .next()
        .and_then(|n| n.text())
        .map(|t| t.trim().to_string());
    let regions = children(root, "TextBlock")
        .map(|block| {
            children(block, "TextLine")
                .map(|line| {
                    let polygon = children(line, "Polygon")
                        .next()
                        .and_then(|p| p.attribute("POINTS"))
                        .map(|pts| {
                            let v: Vec<f32> = pts
                                .split(|c: char| c.is_whitespace() || c == ',')
                                .filter_map(|s| s.parse().ok())
                                .collect();
                            v.chunks_exact(2).map(|c| (c[0], c[1])).collect::<Vec<_>>()
                        })
                        .filter(|p| p.len() >= 2)
                        .unwrap_or_else(|| box_polygon(line));
                    let text = children(line, "String")
                        .filter_map(|s| s.attribute("CONTENT"))
                        .collect::<Vec<_>>()
                        .join(" ");
                    PageLine { polygon, text }
                })
                .collect()
        })
        .collect();
    (image, regions)
}

fn box_polygon(node: Node) -> Vec<(f32, f32)> {
    match (
        num(node, "HPOS"),
        num(node, "VPOS"),
        num(node, "WIDTH"),
        num(node, "HEIGHT"),
    ) {
        (Some(x), Some(y), Some(w), Some(h)) => vec![(x, y), (x + w, y + h)],
        _ => Vec::new(),
    }
}

/// PAGE: `TextRegion` > `TextLine` > `Coords@points="x,y x,y …"` and `TextEquiv/Unicode`.
fn parse_page(root: Node) -> (Option<String>, Vec<Vec<PageLine>>) {
    let image = children(root, "Page")
        .next()
        .and_then(|p| p.attribute("imageFilename"))
        .map(str::to_string);
    let regions = children(root, "TextRegion")
        .map(|region| {
            region
                .children()
                .filter(|n| n.is_element() && n.tag_name().name() == "TextLine")
                .map(|line| {
                    let polygon = line
                        .children()
                        .find(|n| n.tag_name().name() == "Coords")
                        .and_then(|c| c.attribute("points"))
                        .map(|pts| {
                            pts.split_whitespace()
                                .filter_map(|xy| {
                                    let (x, y) = xy.split_once(',')?;
                                    Some((x.parse().ok()?, y.parse().ok()?))
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    // The line's own TextEquiv (not its words'), first Unicode.
                    let text = line
                        .children()
                        .find(|n| n.tag_name().name() == "TextEquiv")
                        .and_then(|te| te.children().find(|n| n.tag_name().name() == "Unicode"))
                        .and_then(|u| u.text())
                        .unwrap_or_default()
                        .to_string();
                    PageLine { polygon, text }
                })
                .collect()
        })
        .collect();
    (image, regions)
}

/// Bounding box of `polygon`, clamped to `image`; `None` when nothing of it is inside.
pub fn crop(image: &GrayImage, polygon: &[(f32, f32)]) -> Option<GrayImage> {
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for &(x, y) in polygon {
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    let x0 = x0.max(0.0).floor() as u32;
    let y0 = y0.max(0.0).floor() as u32;
    let x1 = (x1.ceil().max(0.0) as u32).min(image.width());
    let y1 = (y1.ceil().max(0.0) as u32).min(image.height());
    (x1 > x0 + 1 && y1 > y0 + 1)
        .then(|| imageops::crop_imm(image, x0, y0, x1 - x0, y1 - y0).to_image())
}

/// A crop, its transcription and where it came from (`file.xml region R line L`).
pub type PageSample = (GrayImage, String, String);

/// Every ALTO/PAGE file under `path` (a file or a folder, recursively), cropped into samples.
/// Samples come with their origin (`file.xml region R line L`).
pub fn load_pages(path: &Path, unit: PageUnit) -> Result<(Vec<PageSample>, Vec<Skipped>)> {
    let mut xmls = Vec::new();
    if path.is_dir() {
        collect_xml(path, &mut xmls)?;
        xmls.sort();
    } else {
        xmls.push(path.to_path_buf());
    }
    let mut samples = Vec::new();
    let mut skipped = Vec::new();
    for xml in xmls {
        let page = match parse_page_xml(&xml).and_then(|p| open_image(&p.image).map(|img| (p, img)))
        {
            Ok(p) => p,
            Err(e) => {
                skipped.push(Skipped {
                    path: xml,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let (parsed, image) = page;
        let mut add = |polygon: &[(f32, f32)], text: String, what: String| {
            if text.trim().is_empty() {
                skipped.push(Skipped {
                    path: xml.clone(),
                    reason: format!("{what}: empty transcription"),
                });
            } else if let Some(c) = crop(&image, polygon) {
                samples.push((c, text, format!("{} {what}", xml.display())));
            } else {
                skipped.push(Skipped {
                    path: xml.clone(),
                    reason: format!("{what}: coordinates outside the image"),
                });
            }
        };
        for (r, lines) in parsed.regions.iter().enumerate() {
            match unit {
                PageUnit::Lines => {
                    for (l, line) in lines.iter().enumerate() {
                        add(
                            &line.polygon,
                            line.text.clone(),
                            format!("region {r} line {l}"),
                        );
                    }
                }
                PageUnit::Regions if !lines.is_empty() => {
                    let polygon: Vec<(f32, f32)> = lines
                        .iter()
                        .flat_map(|l| l.polygon.iter().copied())
                        .collect();
                    let text = lines
                        .iter()
                        .map(|l| l.text.as_str())
                        .collect::<Vec<_>>()
                        .join("\n");
                    add(&polygon, text, format!("region {r}"));
                }
                PageUnit::Regions => {}
            }
        }
    }
    Ok((samples, skipped))
}

/// Every `.xml` file under `dir`, recursively.
pub(crate) fn collect_xml(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() {
            collect_xml(&path, out)?;
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("xml"))
        {
            out.push(path);
        }
    }
    Ok(())
}
