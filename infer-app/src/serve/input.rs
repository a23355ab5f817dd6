//! What a request asks for: an image (JSON with base64 or a data URL, a multipart upload, or
//! an `image_url`) and how to read and answer it. Every malformed part is a 4xx naming it.

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::CONTENT_TYPE;
use base64::Engine as _;
use serde::Deserialize;
use text_recognizer::LayoutMode;
use text_recognizer::image::{DecodeLimits, GrayImage, decode_image_within};

use super::error::ApiError;

/// Where the image comes from.
#[derive(Debug, Clone)]
pub enum ImageSource {
    /// Image file bytes.
    Bytes(Bytes),
    /// A URL to fetch (only when the server allows its host).
    Url(String),
}

/// How the answer is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// `{text, lines[{text, confidence, box, words}], …}`.
    #[default]
    Json,
    /// The text alone, `text/plain`.
    Text,
    /// ALTO v4 XML.
    Alto,
    /// PAGE-XML 2019.
    Page,
}

impl std::str::FromStr for OutputFormat {
    type Err = ApiError;
    fn from_str(s: &str) -> Result<Self, ApiError> {
        match s {
            "json" | "lines" => Ok(OutputFormat::Json),
            "text" | "txt" => Ok(OutputFormat::Text),
            "alto" => Ok(OutputFormat::Alto),
            "page" | "page-xml" => Ok(OutputFormat::Page),
            _ => Err(ApiError::bad_request(format!(
                "format: unknown {s:?} (expected json, text, alto or page)"
            ))),
        }
    }
}

/// A parsed recognition request.
#[derive(Debug, Clone)]
pub struct RecognizeRequest {
    /// The image.
    pub image: ImageSource,
    /// How to read it (the server's default when absent).
    pub layout: Option<LayoutMode>,
    /// How to answer.
    pub format: OutputFormat,
}

/// The JSON body: FSDL's `{"image": "data:…"}` / `{"image_url": …}` plus our options.
#[derive(Debug, Deserialize)]
struct JsonRequest {
    image: Option<String>,
    image_url: Option<String>,
    layout: Option<String>,
    format: Option<String>,
    /// Any other key (names only): refused by our API, ignored on FSDL's `/predict`.
    #[serde(flatten)]
    other: std::collections::BTreeMap<String, serde::de::IgnoredAny>,
}

/// How a JSON body's unknown keys are taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keys {
    /// A misspelt option is a 400 naming it (`/api/v1/recognize`).
    Strict,
    /// Ignored, as FSDL's `/predict` ignores what its clients add.
    Lenient,
}

fn parse_layout(s: &str) -> Result<LayoutMode, ApiError> {
    s.parse()
        .map_err(|e: String| ApiError::bad_request(format!("layout: {e}")))
}

/// Reads a request: JSON (any or no content type that is not multipart) or multipart form
/// data with an `image` file part. `max_body` is the limit the router enforces, for messages.
pub async fn parse(request: Request, max_body: usize) -> Result<RecognizeRequest, ApiError> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        return parse_multipart(request, max_body).await;
    }
    if !(content_type.is_empty()
        || content_type.starts_with("application/json")
        || content_type.starts_with("text/plain"))
    {
        return Err(ApiError::unsupported(format!(
            "content type {content_type:?}: send application/json or multipart/form-data"
        )));
    }
    let body = read_body(request, max_body).await?;
    parse_json(&body, Keys::Strict)
}

/// The whole body, or 413 past the limit.
pub async fn read_body(request: Request, max_body: usize) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, &()).await.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            body_too_large(max_body)
        } else {
            ApiError::bad_request(format!("reading the body: {}", e.body_text()))
        }
    })
}

fn body_too_large(max_body: usize) -> ApiError {
    ApiError::too_large(format!(
        "request body larger than {} MiB",
        max_body / (1024 * 1024)
    ))
}

/// A JSON request body.
pub fn parse_json(body: &[u8], keys: Keys) -> Result<RecognizeRequest, ApiError> {
    let json: JsonRequest = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("body is not a JSON request object: {e}")))?;
    if keys == Keys::Strict
        && let Some(field) = json.other.keys().next()
    {
        return Err(ApiError::bad_request(format!(
            "unknown field {field:?} (expected image, image_url, layout or format)"
        )));
    }
    let image = match (json.image, json.image_url) {
        (Some(image), _) => ImageSource::Bytes(decode_base64_image(&image)?.into()),
        (None, Some(url)) => ImageSource::Url(url),
        (None, None) => {
            return Err(ApiError::bad_request(
                "neither image nor image_url found in the request",
            ));
        }
    };
    Ok(RecognizeRequest {
        image,
        layout: json.layout.as_deref().map(parse_layout).transpose()?,
        format: json
            .format
            .as_deref()
            .map(str::parse)
            .transpose()?
            .unwrap_or_default(),
    })
}

async fn parse_multipart(request: Request, max_body: usize) -> Result<RecognizeRequest, ApiError> {
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::bad_request(format!("multipart body: {}", e.body_text())))?;
    let (mut image, mut layout, mut format) = (None, None, OutputFormat::default());
    let field_err = |e: axum::extract::multipart::MultipartError| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            body_too_large(max_body)
        } else {
            ApiError::bad_request(format!("multipart body: {}", e.body_text()))
        }
    };
    while let Some(field) = form.next_field().await.map_err(field_err)? {
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "image" | "file" => {
                image = Some(ImageSource::Bytes(field.bytes().await.map_err(field_err)?));
            }
            "image_url" => image = Some(ImageSource::Url(field.text().await.map_err(field_err)?)),
            "layout" => layout = Some(parse_layout(&field.text().await.map_err(field_err)?)?),
            "format" => format = field.text().await.map_err(field_err)?.parse()?,
            // Unknown parts are ignored, as HTML forms send buttons and the like.
            _ => {}
        }
    }
    let image = image.ok_or_else(|| {
        ApiError::bad_request("multipart body: no `image` file part (nor `image_url`)")
    })?;
    Ok(RecognizeRequest {
        image,
        layout,
        format,
    })
}

/// The bytes of `image`: a data URL (`data:image/png;base64,…`, as FSDL's clients send) or
/// bare base64.
pub fn decode_base64_image(image: &str) -> Result<Vec<u8>, ApiError> {
    let data = match image.strip_prefix("data:") {
        Some(rest) => {
            let (header, data) = rest.split_once(',').ok_or_else(|| {
                ApiError::bad_request("image: a data URL needs a comma before its data")
            })?;
            if !header.ends_with(";base64") {
                return Err(ApiError::bad_request(
                    "image: the data URL must be base64 (data:<type>;base64,<data>)",
                ));
            }
            data
        }
        None => image,
    };
    // Some clients wrap base64 at 76 columns.
    let compact: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.is_empty() {
        return Err(ApiError::bad_request("image is empty"));
    }
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(compact.as_bytes()))
        .map_err(|e| ApiError::bad_request(format!("image: not valid base64: {e}")))
}

/// Decodes image bytes within `limits`: 415 for what is not an image we read, 413 for a
/// header claiming too many pixels (checked before decoding), 422 for a corrupt file.
pub fn decode_image(bytes: &[u8], limits: DecodeLimits) -> Result<GrayImage, ApiError> {
    use text_recognizer::Error;
    const READ: &str = "PNG, JPEG, TIFF, WebP or BMP";
    let format = image::guess_format(bytes)
        .map_err(|_| ApiError::unsupported(format!("not an image: send {READ}")))?;
    if !format.reading_enabled() {
        return Err(ApiError::unsupported(format!(
            "{format:?} images are not read here: send {READ}"
        )));
    }
    decode_image_within(bytes, std::path::Path::new("image"), limits).map_err(|e| match e {
        Error::ImageTooLarge { .. } => ApiError::too_large(e.to_string()),
        e => ApiError::unprocessable(e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls_and_bare_base64_decode_alike() {
        let bare = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG bytes");
        let url = format!("data:image/png;base64,{bare}");
        assert_eq!(
            decode_base64_image(&bare).ok(),
            decode_base64_image(&url).ok()
        );
        assert_eq!(
            decode_base64_image(&url).ok().as_deref(),
            Some(&b"\x89PNG bytes"[..])
        );
    }

    #[test]
    fn malformed_images_are_400s_naming_the_field() {
        for bad in [
            "data:image/png,abc",
            "data:image/png;base64",
            "%%%",
            "data:;base64,",
        ] {
            let e = decode_base64_image(bad).expect_err(bad);
            assert_eq!(e.status, 400, "{bad}");
            assert!(e.message.starts_with("image"), "{bad}: {e}");
        }
    }

    #[test]
    fn options_are_checked() {
        let strict = |b: &[u8]| parse_json(b, Keys::Strict);
        assert!(strict(br#"{"image_url": "x", "layout": "sideways"}"#).is_err());
        assert!(strict(br#"{"image_url": "x", "format": "pdf"}"#).is_err());
        let e = strict(br#"{"image_url": "x", "fromat": "alto"}"#).expect_err("misspelt");
        assert!(e.status == 400 && e.message.contains("\"fromat\""), "{e}");
        let fsdl = parse_json(br#"{"image_url": "x", "client": "gradio"}"#, Keys::Lenient);
        assert!(fsdl.is_ok(), "/predict ignores keys its clients add");
        let ok =
            strict(br#"{"image_url": "x", "layout": "line", "format": "alto"}"#).expect("valid");
        assert_eq!(
            (ok.layout, ok.format),
            (Some(LayoutMode::Line), OutputFormat::Alto)
        );
    }
}
