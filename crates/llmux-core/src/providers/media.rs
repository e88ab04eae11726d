//! Images in requests: OpenAI's `image_url` (a data URL or an http(s) URL) read once for the
//! providers that want base64 bytes and a media type.

use crate::error::{Error, Result};

pub enum Image<'a> {
    /// `data:<media type>;base64,<data>`
    Inline {
        media_type: &'a str,
        data: &'a str,
    },
    Url(&'a str),
}

pub fn parse_image_url(url: &str) -> Result<Image<'_>> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest.split_once(',').ok_or_else(|| Error::invalid_request("image data URL has no ',' before its data"))?;
        let media_type =
            meta.strip_suffix(";base64").ok_or_else(|| Error::invalid_request("image data URL must be base64 (data:<type>;base64,...)"))?;
        if !media_type.starts_with("image/") {
            return Err(Error::invalid_request(format!("unsupported image media type \"{media_type}\"")));
        }
        return Ok(Image::Inline { media_type, data });
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(Image::Url(url));
    }
    Err(Error::invalid_request("image_url.url must be a data: URL or an http(s) URL"))
}

/// A media type from a link's file extension (query and fragment ignored), for providers that
/// want one beside a link (Gemini's `fileData.mimeType` is required).
pub fn media_type_from_url(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = path.rsplit('/').next()?.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "md" => "text/markdown",
        "csv" => "text/csv",
        "html" | "htm" => "text/html",
        "mp3" => "audio/mp3",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        _ => return None,
    })
}

/// OpenAI's `file` content part: `{"file_data": "data:<type>;base64,...", "filename"}`, or
/// `{"file_id"}` (an uploaded file's id, or a link such as `gs://` or `https://`, as LiteLLM
/// takes it).
pub enum FilePart<'a> {
    Inline { media_type: &'a str, data: &'a str, filename: Option<&'a str> },
    Link { url: &'a str, media_type: Option<&'static str> },
    Id(&'a str),
}

pub fn parse_file(file: &serde_json::Value) -> Result<FilePart<'_>> {
    let filename = file.get("filename").and_then(serde_json::Value::as_str);
    if let Some(d) = file.get("file_data").and_then(serde_json::Value::as_str) {
        let rest =
            d.strip_prefix("data:").ok_or_else(|| Error::invalid_request("file.file_data must be a data URL (data:<type>;base64,...)"))?;
        let (meta, data) = rest.split_once(',').ok_or_else(|| Error::invalid_request("file.file_data has no ',' before its data"))?;
        let media_type = meta.strip_suffix(";base64").ok_or_else(|| Error::invalid_request("file.file_data must be base64"))?;
        return Ok(FilePart::Inline { media_type, data, filename });
    }
    match file.get("file_id").and_then(serde_json::Value::as_str) {
        Some(id) if id.contains("://") => Ok(FilePart::Link { url: id, media_type: media_type_from_url(id) }),
        Some(id) => Ok(FilePart::Id(id)),
        None => Err(Error::invalid_request("a file part needs file.file_data or file.file_id")),
    }
}

/// Bedrock's image `format`: the subtype of the media type.
pub fn image_format(media_type: &str) -> Result<&str> {
    match media_type {
        "image/png" => Ok("png"),
        "image/jpeg" | "image/jpg" => Ok("jpeg"),
        "image/gif" => Ok("gif"),
        "image/webp" => Ok("webp"),
        other => Err(Error::invalid_request(format!("unsupported image type \"{other}\" (png, jpeg, gif, webp)"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls_and_links() {
        match parse_image_url("data:image/png;base64,iVBOR").unwrap() {
            Image::Inline { media_type, data } => assert_eq!((media_type, data), ("image/png", "iVBOR")),
            Image::Url(_) => panic!(),
        }
        assert!(matches!(parse_image_url("https://x/y.png").unwrap(), Image::Url(_)));
        assert!(parse_image_url("data:text/plain;base64,aa").is_err());
        assert!(parse_image_url("ftp://x").is_err());
        assert_eq!(image_format("image/jpeg").unwrap(), "jpeg");
    }

    #[test]
    fn file_parts_and_media_types_from_links() {
        assert_eq!(media_type_from_url("https://x.example/a/report.PDF?sig=1"), Some("application/pdf"));
        assert_eq!(media_type_from_url("gs://bucket/img.webp"), Some("image/webp"));
        assert_eq!(media_type_from_url("https://x.example/no-extension"), None);
        let f = serde_json::json!({"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"});
        assert!(matches!(
            parse_file(&f).unwrap(),
            FilePart::Inline { media_type: "application/pdf", data: "JVBERi0=", filename: Some("a.pdf") }
        ));
        assert!(matches!(
            parse_file(&serde_json::json!({"file_id": "gs://b/x.pdf"})).unwrap(),
            FilePart::Link { media_type: Some("application/pdf"), .. }
        ));
        assert!(matches!(parse_file(&serde_json::json!({"file_id": "file-abc"})).unwrap(), FilePart::Id("file-abc")));
        assert!(parse_file(&serde_json::json!({})).is_err());
    }
}
