//! Turning command-line inputs into image files: files, folders (optionally recursive), glob
//! patterns and `@list.txt` files (one input per line). Unreadable inputs become failures that
//! name the input; files that are not images are skipped with a note.

use std::path::{Path, PathBuf};

/// Extensions read as images.
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "tif", "tiff", "webp", "bmp"];

/// An image file and its path below the input that named it (the folder for files found in a
/// folder, the file name otherwise): outputs under `-o DIR` mirror that path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputFile {
    /// Path as found.
    pub path: PathBuf,
    /// Path below its input.
    pub rel: PathBuf,
}

/// What the inputs expanded to.
#[derive(Debug, Default)]
pub struct Expanded {
    /// Image files, in input order (folders sorted).
    pub files: Vec<InputFile>,
    /// Inputs that could not be read, with the reason.
    pub failures: Vec<String>,
    /// Files passed over because they are not images.
    pub skipped: Vec<PathBuf>,
}

pub fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Expands `inputs`.
pub fn expand(inputs: &[String], recursive: bool) -> Expanded {
    let mut out = Expanded::default();
    for input in inputs {
        if let Some(list) = input.strip_prefix('@') {
            match std::fs::read_to_string(list) {
                Ok(text) => {
                    let entries: Vec<String> = text
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(String::from)
                        .collect();
                    let sub = expand(&entries, recursive);
                    out.files.extend(sub.files);
                    out.failures.extend(sub.failures);
                    out.skipped.extend(sub.skipped);
                }
                Err(e) => out.failures.push(format!("{list}: {e}")),
            }
            continue;
        }
        let path = Path::new(input);
        if path.exists() {
            add_path(path, recursive, &mut out);
        } else if input.contains(['*', '?', '[']) {
            match glob::glob(input) {
                Ok(paths) => {
                    let mut found: Vec<PathBuf> = paths.flatten().collect();
                    found.sort();
                    if found.is_empty() {
                        out.failures
                            .push(format!("{input}: the pattern matches nothing"));
                    }
                    for p in found {
                        add_path(&p, recursive, &mut out);
                    }
                }
                Err(e) => out.failures.push(format!("{input}: bad pattern: {e}")),
            }
        } else {
            out.failures
                .push(format!("{input}: no such file or folder"));
        }
    }
    out
}

fn add_path(path: &Path, recursive: bool, out: &mut Expanded) {
    add_below(path, path, recursive, out);
}

fn add_below(root: &Path, path: &Path, recursive: bool, out: &mut Expanded) {
    let file = |p: &Path| InputFile {
        path: p.to_path_buf(),
        rel: match p.strip_prefix(root) {
            Ok(rel) if !rel.as_os_str().is_empty() => rel.to_path_buf(),
            _ => p.file_name().map_or_else(|| p.to_path_buf(), PathBuf::from),
        },
    };
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(e) => e.flatten().map(|e| e.path()).collect(),
            Err(e) => {
                out.failures.push(format!("{}: {e}", path.display()));
                return;
            }
        };
        entries.sort();
        for p in entries {
            if p.is_dir() {
                if recursive {
                    add_below(root, &p, recursive, out);
                }
            } else if is_image(&p) {
                out.files.push(file(&p));
            } else if !p.to_string_lossy().ends_with(".gt.txt") {
                out.skipped.push(p);
            }
        }
    } else if is_image(path) {
        out.files.push(file(path));
    } else {
        out.skipped.push(path.to_path_buf());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_globs_and_lists() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::create_dir(d.join("sub")).expect("mkdir");
        for f in ["a.png", "b.JPG", "notes.txt", "a.gt.txt", "sub/c.tif"] {
            std::fs::write(d.join(f), b"x").expect("write");
        }
        let s = |p: &Path| p.to_string_lossy().into_owned();
        let flat = expand(&[s(d)], false);
        assert_eq!(flat.files.len(), 2);
        assert_eq!(
            flat.skipped.len(),
            1,
            "notes.txt (and not the transcription)"
        );
        let deep = expand(&[s(d)], true);
        assert_eq!(deep.files.len(), 3);
        assert_eq!(deep.files[2].rel, Path::new("sub/c.tif"));
        let globbed = expand(&[format!("{}/*.png", s(d))], false);
        assert_eq!(globbed.files[0].path, d.join("a.png"));
        assert_eq!(globbed.files[0].rel, Path::new("a.png"));
        std::fs::write(
            d.join("list.txt"),
            format!("# comment\n{}\n{}/missing.png\n", s(&d.join("b.JPG")), s(d)),
        )
        .expect("write");
        let listed = expand(&[format!("@{}", s(&d.join("list.txt")))], false);
        assert_eq!(listed.files[0].path, d.join("b.JPG"));
        assert_eq!(listed.failures.len(), 1);
        assert!(listed.failures[0].contains("missing.png"));
        assert!(expand(&["@/no/list".into()], false).failures[0].contains("/no/list"));
    }
}
