//! What the compute service asks of the image service, over its REST API: reading an image
//! as the caller sees it (their token; in-process through [`LocalImages`] when the image
//! service runs here), creating snapshot images (their token, so the
//! project owns them), deleting with the service token.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use stratus_compute_agent::rpc::ImageSpec;
use stratus_core::auth::{AuthContext, BoxFuture};
use stratus_core::error::{ApiError, ApiResult};

use crate::ComputeService;

/// The image API in this process (as in `stratus up`): what [`ComputeService::image_for`]
/// asks instead of sending `GET /v2/images/{id}`. The image service applies its own
/// visibility and policy to the caller, exactly as its REST handler does.
pub trait LocalImages: Send + Sync {
    /// The image as `GET /v2/images/{id}` would render it for `ctx`.
    fn show<'a>(&'a self, ctx: &'a AuthContext, id: &'a str) -> BoxFuture<'a, ApiResult<Value>>;
}

/// An image as the boot checks need it.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    pub spec: ImageSpec,
    pub status: String,
    pub min_ram: u64,
    pub min_disk: u64,
}

const CORE: &[&str] = &[
    "id",
    "name",
    "status",
    "visibility",
    "protected",
    "os_hidden",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "owner",
    "size",
    "virtual_size",
    "min_ram",
    "min_disk",
    "disk_format",
    "container_format",
    "created_at",
    "updated_at",
    "tags",
    "self",
    "file",
    "schema",
    "direct_url",
    "locations",
    "stores",
];

impl ComputeService {
    fn image_endpoint(&self, path: &str) -> String {
        format!("{}/v2/images{path}", self.image_url.trim_end_matches('/'))
    }

    /// The image `id` as the caller may see it: 400 if it is not there for them (nova's
    /// "Image … could not be found." is a 400 at boot). Read in-process when the image
    /// service runs here, else over its REST API with the caller's token.
    pub async fn image_for(&self, ctx: &AuthContext, user_token: &str, id: &str) -> ApiResult<ImageInfo> {
        let not_found = || ApiError::bad_request(format!("Image {id} could not be found."));
        let v: Value = match &self.local_images {
            Some(images) => match images.show(ctx, id).await {
                Ok(v) => v,
                Err(e) if matches!(e.status.as_u16(), 403 | 404) => return Err(not_found()),
                Err(e) => return Err(e),
            },
            None => {
                let resp = self
                    .http
                    .get(self.image_endpoint(&format!("/{id}")))
                    .header("x-auth-token", user_token)
                    .send()
                    .await
                    .map_err(|e| {
                        ApiError::new(
                            axum::http::StatusCode::SERVICE_UNAVAILABLE,
                            format!("image service: {e}"),
                        )
                    })?;
                if resp.status() == reqwest::StatusCode::NOT_FOUND
                    || resp.status() == reqwest::StatusCode::FORBIDDEN
                {
                    return Err(not_found());
                }
                if !resp.status().is_success() {
                    return Err(ApiError::internal(format!("image service answered {}", resp.status())));
                }
                resp.json().await.map_err(|e| ApiError::internal(format!("image service: {e}")))?
            }
        };
        let properties: BTreeMap<String, String> = v
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, _)| !CORE.contains(&k.as_str()))
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        Ok(ImageInfo {
            spec: ImageSpec {
                id: id.to_string(),
                name: v["name"].as_str().map(str::to_string),
                disk_format: v["disk_format"].as_str().map(str::to_string),
                container_format: v["container_format"].as_str().map(str::to_string),
                size: v["size"].as_u64(),
                properties,
            },
            status: v["status"].as_str().unwrap_or_default().to_string(),
            min_ram: v["min_ram"].as_u64().unwrap_or(0),
            min_disk: v["min_disk"].as_u64().unwrap_or(0),
        })
    }

    /// Creates the (queued) image a snapshot will fill, owned by the caller's project.
    pub async fn create_snapshot_image(
        &self,
        user_token: &str,
        name: &str,
        base: Option<&ImageSpec>,
        instance_uuid: &str,
        extra: &BTreeMap<String, String>,
    ) -> ApiResult<String> {
        let mut body = json!({
            "name": name,
            "disk_format": "raw",
            "container_format": "bare",
            "visibility": "private",
            "instance_uuid": instance_uuid,
            "image_type": "snapshot",
        });
        if let Some(base) = base {
            body["base_image_ref"] = json!(base.id);
            for (k, v) in &base.properties {
                if !body.as_object().unwrap().contains_key(k) && !k.starts_with("os_") {
                    body[k] = json!(v);
                }
            }
        }
        for (k, v) in extra {
            body[k] = json!(v);
        }
        let resp = self
            .http
            .post(self.image_endpoint(""))
            .header("x-auth-token", user_token)
            .json(&body)
            .send()
            .await
            .map_err(|e| ApiError::internal(format!("image service: {e}")))?;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let msg = v["message"].as_str().unwrap_or("").to_string();
            return Err(ApiError::new(
                axum::http::StatusCode::from_u16(status.as_u16())
                    .unwrap_or(axum::http::StatusCode::BAD_GATEWAY),
                format!("The image service refused the snapshot image: {msg}"),
            ));
        }
        v["id"].as_str().map(str::to_string).ok_or_else(|| ApiError::internal("image service: no id"))
    }

    /// Deletes an image with the service token (a failed snapshot, an unshelved one).
    pub async fn delete_image(&self, id: &str) {
        let Ok(token) = self.auth.token().await else { return };
        if let Err(e) = self
            .http
            .delete(self.image_endpoint(&format!("/{id}")))
            .header("x-auth-token", token)
            .send()
            .await
        {
            tracing::warn!(image = id, "cannot delete the image: {e}");
        }
    }
}
