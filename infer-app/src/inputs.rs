//! Turning command-line inputs into image files: files, folders (optionally recursive), glob
//! patterns and `@list.txt` files (one input per line). Unreadable inputs become failures that
//! name the input; files that are not images are skipped with a note.

use std::collections::HashSet;
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

/// What expansion has been through: `@lists` being read (a list naming one of them again
/// would never end) and folders already read (a symbolic link back up a tree under `-r`).
#[derive(Default)]
struct Seen {
    lists: Vec<PathBuf>,
    dirs: HashSet<PathBuf>,
}

/// Expands `inputs`.
pub fn expand(inputs: &[String], recursive: bool) -> Expanded {
    let mut out = Expanded::default();
    expand_into(inputs, recursive, &mut Seen::default(), &mut out);
    out
}

fn expand_into(inputs: &[String], recursive: bool, seen: &mut Seen, out: &mut Expanded) {
    for input in inputs {
        if let Some(list) = input.strip_prefix('@') {
            let canonical = std::fs::canonicalize(list).unwrap_or_else(|_| PathBuf::from(list));
            if seen.lists.contains(&canonical) {
                out.failures.push(format!(
                    "{list}: the list includes itself (through @{list})"
                ));
                continue;
            }
            match std::fs::read_to_string(list) {
                Ok(text) => {
                    let entries: Vec<String> = text
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(String::from)
                        .collect();
                    seen.lists.push(canonical);
                    expand_into(&entries, recursive, seen, out);
                    seen.lists.pop();
                }
                Err(e) => out.failures.push(format!("{list}: {e}")),
            }
            continue;
        }
        let path = Path::new(input);
        if path.exists() {
            add_below(path, path, recursive, seen, out);
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
                        add_below(&p, &p, recursive, seen, out);
                    }
                }
                Err(e) => out.failures.push(format!("{input}: bad pattern: {e}")),
            }
        } else {
            out.failures
                .push(format!("{input}: no such file or folder"));
        }
    }
}

fn add_below(root: &Path, path: &Path, recursive: bool, seen: &mut Seen, out: &mut Expanded) {
    let file = |p: &Path| InputFile {
        path: p.to_path_buf(),
        rel: match p.strip_prefix(root) {
            Ok(rel) if !rel.as_os_str().is_empty() => rel.to_path_buf(),
            _ => p.file_name().map_or_else(|| p.to_path_buf(), PathBuf::from),
        },
    };
    if path.is_dir() {
        if let Ok(canonical) = std::fs::canonicalize(path)
            && !seen.dirs.insert(canonical.clone())
        {
            out.failures.push(format!(
                "{}: already read as {} (a symbolic link loop?)",
                path.display(),
                canonical.display()
            ));
            return;
        }
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
                    add_below(root, &p, recursive, seen, out);
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

    #[test]
    fn lists_that_include_themselves_and_link_loops_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::create_dir_all(d.join("a/b")).expect("mkdir");
        std::fs::write(d.join("a/b/x.png"), b"x").expect("write");
        std::os::unix::fs::symlink(d.join("a"), d.join("a/b/up")).expect("symlink");
        let s = |p: &Path| p.to_string_lossy().into_owned();
        let deep = expand(&[s(&d.join("a"))], true);
        assert_eq!(deep.files.len(), 1, "x.png once: {:?}", deep.files);
        assert!(
            deep.failures
                .iter()
                .any(|f| f.contains("symbolic link loop")),
            "{:?}",
            deep.failures
        );

        let one = d.join("one.txt");
        let two = d.join("two.txt");
        std::fs::write(&one, format!("{}\n@{}\n", s(&d.join("a/b/x.png")), s(&two))).expect("w");
        std::fs::write(&two, format!("@{}\n", s(&one))).expect("w");
        let listed = expand(&[format!("@{}", s(&one))], false);
        assert_eq!(listed.files.len(), 1);
        assert_eq!(listed.failures.len(), 1, "{:?}", listed.failures);
        assert!(listed.failures[0].contains("includes itself"));
    }
}
