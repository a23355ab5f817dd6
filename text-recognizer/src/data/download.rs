//! Downloading data sets: resumable HTTP GET (a `.part` file continued with a `Range` request),
//! SHA-256 verification, zip extraction. Progress goes to a callback so the apps choose how to
//! show it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A downloadable file (`text-recognizer/recipes/*.ron`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipe {
    /// Data set name.
    pub name: String,
    /// Where to get it.
    pub url: String,
    /// File name to save as.
    pub filename: String,
    /// Expected SHA-256, lower-case hex. `None`: not known in advance; the first complete
    /// download records it (`FILE.sha256`) and later ones are checked against that.
    pub sha256: Option<String>,
    /// Licence and attribution.
    pub license: String,
    /// How the data is split, in words.
    pub splits: String,
}

impl Recipe {
    /// FSDL's IAM mirror (`data/raw/iam/metadata.toml` of the FSDL 2022 repository).
    pub fn iam() -> Self {
        crate::ron_file::from_ron(
            include_str!("../../recipes/iam.ron"),
            "text-recognizer/recipes/iam.ron",
        )
        .unwrap_or_else(|e| unreachable!("the shipped recipe is tested: {e}"))
    }
}

/// Lower-case hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Downloads `recipe` into `dir` unless a verified copy is there. A partial download
/// (`FILE.part`) is continued. `progress(done, total)` is called as bytes arrive.
pub fn download(
    recipe: &Recipe,
    dir: &Path,
    mut progress: impl FnMut(u64, Option<u64>),
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let target = dir.join(&recipe.filename);
    let recorded = dir.join(format!("{}.sha256", recipe.filename));
    // The pinned hash, else the one recorded by the first download.
    let expected = match &recipe.sha256 {
        Some(h) => Some(h.to_ascii_lowercase()),
        None => std::fs::read_to_string(&recorded)
            .ok()
            .map(|h| h.trim().to_string()),
    };
    if target.exists() {
        let actual = sha256_file(&target)?;
        match &expected {
            Some(h) if *h == actual => return Ok(target),
            None => {
                write_hash(&recorded, &actual)?;
                return Ok(target);
            }
            Some(_) => {} // a stale or damaged copy: fetched again below
        }
    }
    let part = dir.join(format!("{}.part", recipe.filename));
    let have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    let net =
        |e: reqwest::Error| Error::config(recipe.url.clone(), format!("download failed: {e}"));
    let client = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .map_err(net)?;
    let mut request = client.get(&recipe.url);
    if have > 0 {
        request = request.header(reqwest::header::RANGE, format!("bytes={have}-"));
    }
    let mut response = request.send().map_err(net)?;
    let status = response.status();
    if !status.is_success() {
        return Err(Error::config(
            recipe.url.clone(),
            format!("server answered {status}"),
        ));
    }
    // 206: the server continues our partial file; 200: it sends everything again.
    let resumed = status == reqwest::StatusCode::PARTIAL_CONTENT;
    let mut done = if resumed { have } else { 0 };
    let total = response.content_length().map(|n| n + done);
    let mut out = OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed)
        .truncate(!resumed)
        .open(&part)
        .map_err(|e| Error::io(&part, e))?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = response.read(&mut buf).map_err(|e| Error::io(&part, e))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).map_err(|e| Error::io(&part, e))?;
        done += n as u64;
        progress(done, total);
    }
    out.flush().map_err(|e| Error::io(&part, e))?;
    drop(out);
    let actual = sha256_file(&part)?;
    match &expected {
        Some(h) if *h != actual => {
            std::fs::remove_file(&part).map_err(|e| Error::io(&part, e))?;
            return Err(Error::config(
                target.display().to_string(),
                format!(
                    "SHA-256 mismatch: expected {h}, got {actual}; the partial file was deleted"
                ),
            ));
        }
        Some(_) => {}
        None => write_hash(&recorded, &actual)?,
    }
    std::fs::rename(&part, &target).map_err(|e| Error::io(&target, e))?;
    Ok(target)
}

fn write_hash(path: &Path, hash: &str) -> Result<()> {
    std::fs::write(path, format!("{hash}\n")).map_err(|e| Error::io(path, e))
}

/// Extracts a zip archive into `dir`.
pub fn unzip(archive: &Path, dir: &Path) -> Result<()> {
    let file = File::open(archive).map_err(|e| Error::io(archive, e))?;
    let mut zip =
        zip::ZipArchive::new(file).map_err(|e| Error::config(archive.display().to_string(), e))?;
    zip.extract(dir)
        .map_err(|e| Error::config(archive.display().to_string(), e))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    /// A one-file HTTP server on loopback that honours `Range: bytes=N-`, for `requests` requests.
    pub(crate) fn serve(body: Vec<u8>, requests: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            for stream in listener.incoming().take(requests).flatten() {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut start = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(r) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                        start = r.trim().trim_end_matches('-').parse().unwrap_or(0);
                    }
                }
                let mut s = stream;
                let slice = &body[start.min(body.len())..];
                let status = if start > 0 {
                    "206 Partial Content"
                } else {
                    "200 OK"
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    slice.len()
                );
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(slice);
            }
        });
        format!("http://{addr}/iamdb.zip")
    }

    fn recipe(url: String, body: &[u8]) -> Recipe {
        let sha = Sha256::digest(body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Recipe {
            name: "t".into(),
            url,
            filename: "iamdb.zip".into(),
            sha256: Some(sha),
            license: String::new(),
            splits: String::new(),
        }
    }

    #[test]
    fn downloads_resumes_and_verifies() {
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let dir = tempfile::tempdir().expect("tempdir");
        // A partial file from an interrupted run: the server must be asked for the rest only.
        std::fs::write(dir.path().join("iamdb.zip.part"), &body[..50_000]).expect("write");
        let r = recipe(serve(body.clone(), 1), &body);
        let mut last = 0;
        let path = download(&r, dir.path(), |done, _| last = done).expect("downloads");
        assert_eq!(std::fs::read(&path).expect("read"), body);
        assert_eq!(last, body.len() as u64);
        // Verified copy present: no request at all (the server would not answer a second one).
        assert_eq!(download(&r, dir.path(), |_, _| {}).expect("cached"), path);
    }

    #[test]
    fn a_checksum_mismatch_is_an_error_and_leaves_nothing() {
        let body = b"corrupted".to_vec();
        let dir = tempfile::tempdir().expect("tempdir");
        let mut r = recipe(serve(body.clone(), 1), &body);
        r.sha256 = Some("00".repeat(32));
        let err = download(&r, dir.path(), |_, _| {}).expect_err("mismatch");
        assert!(err.to_string().contains("SHA-256 mismatch"), "{err}");
        assert!(
            !dir.path().join("iamdb.zip").exists() && !dir.path().join("iamdb.zip.part").exists()
        );
    }

    /// No pinned hash: the first download records it, a later copy that differs is refused.
    #[test]
    fn an_unpinned_download_is_checked_against_its_first_hash() {
        let body = b"first archive".to_vec();
        let dir = tempfile::tempdir().expect("tempdir");
        let mut r = recipe(serve(body.clone(), 1), &body);
        r.sha256 = None;
        let path = download(&r, dir.path(), |_, _| {}).expect("downloads");
        let recorded = std::fs::read_to_string(dir.path().join("iamdb.zip.sha256")).expect("hash");
        assert_eq!(recorded.trim(), sha256_file(&path).expect("hash"));
        // The copy changes (a tampered or truncated file): fetched again, and the server now
        // sends other bytes, which the recorded hash refuses.
        std::fs::write(&path, b"damaged").expect("write");
        let other = b"another archive".to_vec();
        r.url = serve(other, 1);
        let err = download(&r, dir.path(), |_, _| {}).expect_err("mismatch");
        assert!(err.to_string().contains("SHA-256 mismatch"), "{err}");
    }

    #[test]
    fn the_iam_recipe_is_fsdls() {
        let r = Recipe::iam();
        assert_eq!(
            r.sha256.as_deref(),
            Some("f3c9e87a88a313e557c6d3548ed8a2a1af2dc3c4a678c5f3fc6f972ba4a50c55")
        );
        assert!(r.url.ends_with("/iam/iamdb.zip"));
    }
}
