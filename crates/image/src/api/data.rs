//! Image data: `/v2/images/{id}/file`, `/v2/images/{id}/stage`, `/v2/images/{id}/import`.

use axum::body::Body;
use axum::extract::{Path, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::Router;
use serde_json::Value;
use stratus_core::auth::Authenticated;
use stratus_core::error::{ApiError, ApiResult};

use super::State;
use crate::model::ImageStatus;

pub fn routes() -> Router<std::sync::Arc<crate::service::ImageService>> {
    Router::new()
        .route("/v2/images/{id}/file", put(upload).get(download))
        .route("/v2/images/{id}/stage", put(stage))
        .route("/v2/images/{id}/import", post(import))
}

fn require_octet_stream(headers: &HeaderMap) -> ApiResult<()> {
    let ctype = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if ctype.starts_with("application/octet-stream") {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Image data must be sent as Content-Type: application/octet-stream.",
        ))
    }
}

async fn upload(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<StatusCode> {
    require_octet_stream(req.headers())?;
    let image = s.load_visible(&ctx, &id).await?;
    s.authorize(&ctx, "upload_image", &s.target(&ctx, &image).await?)?;
    s.upload(&image, req.into_body()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn stage(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<StatusCode> {
    require_octet_stream(req.headers())?;
    let image = s.load_visible(&ctx, &id).await?;
    s.authorize(&ctx, "upload_image", &s.target(&ctx, &image).await?)?;
    s.stage(&image, req.into_body()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn import(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let body: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("Malformed JSON in request body: {e}")))?;
    let method = body.get("method").and_then(|m| m.get("name")).and_then(Value::as_str).ok_or_else(|| {
        ApiError::bad_request("Invalid input for field 'method': {\"name\": …} is required")
    })?;
    let image = s.load_visible(&ctx, &id).await?;
    s.authorize(&ctx, "upload_image", &s.target(&ctx, &image).await?)?;
    match method {
        "glance-direct" => {
            s.import(&image).await?;
            Ok(StatusCode::ACCEPTED)
        }
        "web-download" => Err(ApiError::bad_request(
            "Import method web-download is not enabled: this cloud does not fetch images from other hosts. \
             Upload the data (image create --file) or stage it (glance-direct).",
        )),
        "copy-image" => Err(ApiError::bad_request(format!(
            "Import method copy-image is not enabled: image data is kept in one store (new data goes to {}).",
            s.backend.id()
        ))),
        other => Err(ApiError::bad_request(format!("Unknown import method: {other}"))),
    }
}

/// `GET …/file`: streams the data, with `Content-MD5` and single-range support.
async fn download(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let image = s.load_visible(&ctx, &id).await?;
    s.authorize(&ctx, "download_image", &s.target(&ctx, &image).await?)?;
    match image.status {
        ImageStatus::Active => {}
        ImageStatus::Deactivated if !s.is_admin(&ctx) => {
            return Err(ApiError::forbidden(
                "The requested image has been deactivated. Image data download is forbidden.",
            ))
        }
        ImageStatus::Deactivated => {}
        _ => return Ok(StatusCode::NO_CONTENT.into_response()),
    }
    let backend = s.backend_of(&image)?;
    let size = backend.size(&id).await.map_err(|e| data_unavailable(&id, backend.id(), e))?;
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(r) => Some(parse_range(r, size)?),
        None => None,
    };
    let (status, start, len) = match range {
        Some((start, end)) => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        None => (StatusCode::OK, 0, size),
    };
    let reader = backend.open(&id, start, len).await.map_err(|e| data_unavailable(&id, backend.id(), e))?;
    let stream = tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024);
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(md5) = &image.checksum {
        // glance sends the hex md5 (what glanceclient and the SDK verify), not RFC 1864's base64.
        if let Ok(v) = HeaderValue::from_str(md5) {
            h.insert("content-md5", v);
        }
    }
    if status == StatusCode::PARTIAL_CONTENT {
        let v = format!("bytes {}-{}/{}", start, start + len - 1, size);
        h.insert(header::CONTENT_RANGE, HeaderValue::from_str(&v).map_err(ApiError::internal)?);
    }
    Ok(resp)
}

/// The store has no data for the image (404), or cannot be reached (503, the cause in the log).
fn data_unavailable(id: &str, store: &str, e: std::io::Error) -> ApiError {
    if e.kind() == std::io::ErrorKind::NotFound {
        return ApiError::not_found(format!("Image {id} has no data in the {store} store."));
    }
    tracing::error!(image = %id, store, error = %e, "image data cannot be read");
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("The {store} store cannot serve image {id} now."))
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` → inclusive (start, end); 416 when unsatisfiable.
fn parse_range(header: &str, size: u64) -> ApiResult<(u64, u64)> {
    let bad = || {
        ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            format!("Requested range {header} not satisfiable for {size} bytes"),
        )
    };
    let spec = header.strip_prefix("bytes=").ok_or_else(bad)?;
    if spec.contains(',') {
        return Err(ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "Only a single byte range is supported.",
        ));
    }
    let (a, b) = spec.split_once('-').ok_or_else(bad)?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().map_err(|_| bad())?;
            if n == 0 || size == 0 {
                return Err(bad());
            }
            (size.saturating_sub(n), size - 1)
        }
        (a, "") => (a.parse().map_err(|_| bad())?, size.saturating_sub(1)),
        (a, b) => {
            (a.parse().map_err(|_| bad())?, b.parse::<u64>().map_err(|_| bad())?.min(size.saturating_sub(1)))
        }
    };
    if size == 0 || start > end || start >= size {
        return Err(bad());
    }
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100).unwrap(), (0, 9));
        assert_eq!(parse_range("bytes=90-", 100).unwrap(), (90, 99));
        assert_eq!(parse_range("bytes=-10", 100).unwrap(), (90, 99));
        assert_eq!(parse_range("bytes=50-500", 100).unwrap(), (50, 99));
        assert_eq!(parse_range("bytes=100-", 100).unwrap_err().status.as_u16(), 416);
        assert!(parse_range("bytes=5-1", 100).is_err());
        assert!(parse_range("items=0-1", 100).is_err());
        assert!(parse_range("bytes=0-1,5-6", 100).is_err());
    }
}
