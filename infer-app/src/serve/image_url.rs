//! `image_url`: the reference fetches any URL or local path it is given, which lets anyone
//! make the server read its own files or probe its network. Here it is off unless hosts are
//! allowed, http(s) only, redirects only to allowed hosts, with the body and time limits.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use reqwest::Url;

use super::error::ApiError;

/// Fetches images from allowed hosts.
#[derive(Clone)]
pub struct ImageFetcher {
    client: reqwest::Client,
    hosts: Arc<Vec<String>>,
    max_bytes: usize,
}

fn allowed(hosts: &[String], url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
        && url
            .host_str()
            .is_some_and(|h| hosts.iter().any(|a| a.eq_ignore_ascii_case(h)))
}

impl ImageFetcher {
    /// A fetcher for `hosts` (exact host names or addresses, any port).
    pub fn new(hosts: Vec<String>, max_bytes: usize, timeout: Duration) -> anyhow::Result<Self> {
        let hosts = Arc::new(hosts);
        let redirect_hosts = hosts.clone();
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 3 {
                attempt.error("more than 3 redirects")
            } else if allowed(&redirect_hosts, attempt.url()) {
                attempt.follow()
            } else {
                let to = attempt.url().to_string();
                attempt.error(format!("redirect to {to}, a host not allowed"))
            }
        });
        let client = reqwest::Client::builder()
            .redirect(policy)
            .timeout(timeout)
            .build()?;
        Ok(ImageFetcher {
            client,
            hosts,
            max_bytes,
        })
    }

    /// The URL, if it may be fetched.
    pub fn check(&self, url: &str) -> Result<Url, ApiError> {
        let parsed = Url::parse(url)
            .map_err(|e| ApiError::bad_request(format!("image_url {url:?}: {e}")))?;
        if !allowed(&self.hosts, &parsed) {
            return Err(ApiError::bad_request(format!(
                "image_url {url:?}: only http(s) URLs on these hosts are fetched: {}",
                self.hosts.join(", ")
            )));
        }
        Ok(parsed)
    }

    /// The image at `url`, at most `max_bytes`.
    pub async fn fetch(&self, url: &str) -> Result<Bytes, ApiError> {
        let parsed = self.check(url)?;
        let fail = |e: reqwest::Error| {
            if e.is_timeout() {
                ApiError::unavailable(format!("image_url {url:?}: timed out"))
            } else {
                // The redirect policy's reason is in the source chain.
                let mut reason = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    reason = format!("{reason}: {s}");
                    source = s.source();
                }
                ApiError::bad_request(format!("image_url {url:?}: {reason}"))
            }
        };
        let mut response = self.client.get(parsed).send().await.map_err(fail)?;
        if !response.status().is_success() {
            return Err(ApiError::bad_request(format!(
                "image_url {url:?}: the server answered {}",
                response.status()
            )));
        }
        let too_large = || {
            ApiError::too_large(format!(
                "image_url {url:?}: larger than {} MiB",
                self.max_bytes / (1024 * 1024)
            ))
        };
        if response
            .content_length()
            .is_some_and(|n| n > self.max_bytes as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(fail)? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.into())
    }
}

/// What a request with `image_url` gets when the server has no allowed hosts.
pub fn disabled() -> ApiError {
    ApiError::bad_request(
        "image_url is not enabled on this server (it starts with --allow-image-url-host HOST)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_on_allowed_hosts_pass() {
        let f = ImageFetcher::new(vec!["127.0.0.1".into()], 1024, Duration::from_secs(1))
            .expect("client");
        assert!(f.check("http://127.0.0.1:9/x.png").is_ok());
        assert!(f.check("https://127.0.0.1/x.png").is_ok());
        for bad in [
            "file:///etc/passwd",
            "/etc/passwd",
            "http://localhost/x.png",
            "http://127.0.0.1.example.org/x.png",
            "ftp://127.0.0.1/x.png",
            "s3://bucket/x.png",
        ] {
            let e = f.check(bad).expect_err(bad);
            assert_eq!(e.status, 400, "{bad}");
        }
    }
}
