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
}
