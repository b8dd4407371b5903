//! The image service object and its rules: who sees an image, and how data gets in and out.

use std::sync::Arc;

use anyhow::Context;
use axum::body::Body;
use axum::http::StatusCode;
use futures_util::StreamExt;
use serde_json::{json, Value};
use stratus_core::auth::AuthContext;
use stratus_core::config::Config;
use stratus_core::db::Db;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::policy::Policy;

use crate::backend::{FileBackend, ImageBackend, Incoming, PendingWrite, StoredData, WriteError};
use crate::model::{Image, ImageStatus, Visibility};
use crate::store::Store;

pub struct ImageService {
    pub config: Config,
    pub store: Store,
    /// Where data arrives and is checked before the store takes it.
    pub incoming: Incoming,
    /// The default store: where new image data goes (`[image] default_store`).
    pub backend: Arc<dyn ImageBackend>,
    /// Every store this service can read: the default one, and the file store, which holds
    /// the data of images uploaded before the default became another store.
    pub backends: Vec<Arc<dyn ImageBackend>>,
    pub policy: Policy,
}

impl ImageService {
    /// The image service with the file store only (`default_store` must be `file`).
    pub async fn open(config: Config) -> anyhow::Result<Arc<ImageService>> {
        ImageService::open_with_backends(config, Vec::new()).await
    }

    /// The image service with the file store and `others` (the swift store …); new data goes
    /// to the one `[image] default_store` names.
    pub async fn open_with_backends(
        config: Config,
        others: Vec<Arc<dyn ImageBackend>>,
    ) -> anyhow::Result<Arc<ImageService>> {
        let dir = config.image_store_dir();
        let file: Arc<dyn ImageBackend> =
            Arc::new(FileBackend::open(dir.clone()).context("opening the image store directory")?);
        let mut backends = vec![file];
        for b in others {
            if backends.iter().any(|known| known.id() == b.id()) {
                anyhow::bail!("image store {:?} given twice", b.id());
            }
            backends.push(b);
        }
        let wanted = config.image.default_store.as_str();
        let Some(backend) = backends.iter().find(|b| b.id() == wanted).cloned() else {
            let known: Vec<&str> = backends.iter().map(|b| b.id()).collect();
            anyhow::bail!(
                "[image] default_store = {wanted:?} is not a store this image service has (it has: {})",
                known.join(", ")
            );
        };
        let url = config.database_url("image", &config.image.database_url);
        let store = Store::open(Db::connect(&url).await?).await?;
        let incoming = Incoming::open(dir.join("incoming")).context("opening the image incoming area")?;
        let policy = Policy::new(crate::policy_defaults::DEFAULTS)?;
        let service = ImageService { config, store, incoming, backend, backends, policy };
        service.recover().await?;
        Ok(Arc::new(service))
    }

    /// The store holding an image's data (images of before stores were recorded: `file`).
    pub fn backend_of(&self, image: &Image) -> ApiResult<&dyn ImageBackend> {
        let id = image.store.as_deref().unwrap_or("file");
        self.backends.iter().find(|b| b.id() == id).map(|b| b.as_ref()).ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "The data of image {} is in the {id} store, which this image service is not configured with.",
                    image.id
                ),
            )
        })
    }

    /// After a crash, uploads that were in flight can never finish: back to queued.
    async fn recover(&self) -> anyhow::Result<()> {
        // Imports whose staged data survived stay `uploading` so they can be imported again.
        for from in [ImageStatus::Saving, ImageStatus::Importing] {
            for id in self.store.ids_in_status(from).await? {
                tracing::warn!(image = %id, "an upload was interrupted by a restart; image is queued again");
                self.store.set_status(&id, from, ImageStatus::Queued).await?;
                self.backend.delete(&id).await;
            }
        }
        Ok(())
    }

    pub fn is_admin(&self, ctx: &AuthContext) -> bool {
        self.policy.enforce("context_is_admin", &ctx.credentials(), &json!({}))
    }

    /// The policy target of an image, as glance builds it: the image's attributes and
    /// properties, `project_id` = owner, and `member_id` when a shared image is viewed by one of
    /// its members.
    pub async fn target(&self, ctx: &AuthContext, image: &Image) -> ApiResult<Value> {
        let mut t = json!({
            "id": image.id,
            "image_id": image.id,
            "name": image.name,
            "status": image.status.as_str(),
            "project_id": image.owner,
            "owner": image.owner,
            "visibility": image.visibility.as_str(),
            "protected": image.protected,
            "os_hidden": image.os_hidden,
            "disk_format": image.disk_format,
            "container_format": image.container_format,
            "size": image.size,
            "virtual_size": image.virtual_size,
            "min_disk": image.min_disk,
            "min_ram": image.min_ram,
            "tags": image.tags,
        });
        let viewer = ctx.project_id();
        if image.visibility == Visibility::Shared && viewer.is_some() && image.owner.as_deref() != viewer {
            if let Some(m) = self.store.get_member(&image.id, viewer.unwrap_or_default()).await? {
                t["member_id"] = json!(m.member_id);
            }
        }
        for (k, v) in &image.properties {
            if t.get(k).is_none() {
                t[k] = json!(v);
            }
        }
        Ok(t)
    }

    pub fn authorize(&self, ctx: &AuthContext, rule: &str, target: &Value) -> ApiResult<()> {
        if self.policy.enforce(rule, &ctx.credentials(), target) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("You are not authorized to complete {rule} action.")))
        }
    }

    /// Can the caller see this image at all? (Invisible images are 404, as glance.)
    pub async fn visible(&self, ctx: &AuthContext, image: &Image) -> ApiResult<bool> {
        if self.is_admin(ctx) {
            return Ok(true);
        }
        let project = ctx.project_id();
        Ok(match image.visibility {
            Visibility::Public | Visibility::Community => true,
            _ if project.is_some() && image.owner.as_deref() == project => true,
            Visibility::Shared => match project {
                Some(p) => self.store.get_member(&image.id, p).await?.is_some(),
                None => false,
            },
            Visibility::Private => false,
        } && (image.status != ImageStatus::Deactivated || image.owner.as_deref() == project))
    }

    /// Loads an image the caller can see, or 404.
    pub async fn load_visible(&self, ctx: &AuthContext, id: &str) -> ApiResult<Image> {
        match self.store.get_image(id).await? {
            Some(i) if self.visible(ctx, &i).await? => Ok(i),
            _ => Err(ApiError::not_found(format!("No image found with ID {id}"))),
        }
    }

    /// Moves an image along the status machine, or 409 saying why not.
    pub async fn transition(&self, image: &Image, to: ImageStatus) -> ApiResult<()> {
        if !image.status.can_become(to) || !self.store.set_status(&image.id, image.status, to).await? {
            return Err(ApiError::conflict(format!(
                "Image status transition from {} to {} is not allowed",
                image.status.as_str(),
                to.as_str()
            )));
        }
        Ok(())
    }

    /// How many bytes this image may hold: the per-image cap, what is left of the owner's
    /// quota, and what the default store can keep.
    async fn size_limit(&self, image: &Image) -> ApiResult<u64> {
        let mut limit = self.config.image.max_image_bytes.min(self.store_limit());
        let quota = self.config.image.project_quota_bytes;
        if quota > 0 {
            if let Some(owner) = &image.owner {
                let used = self.store.project_usage(owner).await?.max(0) as u64;
                limit = limit.min(quota.saturating_sub(used));
            }
        }
        Ok(limit)
    }

    /// The largest image the default store keeps (u64::MAX: no limit of its own).
    fn store_limit(&self) -> u64 {
        self.backend.max_size().unwrap_or(u64::MAX)
    }

    /// What a failed write tells the client.
    fn write_error(&self, e: WriteError) -> ApiError {
        match e {
            WriteError::TooLarge { limit } if limit == self.store_limit() => ApiError::too_large(format!(
                "Image data exceeds the largest image the {} store keeps ({limit} bytes): it keeps an image \
                 as one object and does not split large images into segments.",
                self.backend.id()
            )),
            other => write_error(other),
        }
    }

    /// The default store could not take verified data (object storage down …): 503, the
    /// cause in the log.
    fn store_failed(&self, e: WriteError) -> ApiError {
        tracing::error!(store = self.backend.id(), error = %e, "the image store did not take the data");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("The {} store could not keep the image data; upload it again later.", self.backend.id()),
        )
    }

    /// `PUT /v2/images/{id}/file`: streams the body into the store, then inspects it.
    /// Any failure (interrupted, too large, refused by inspection) removes the data and returns
    /// the image to `queued`, ready for another upload.
    pub async fn upload(&self, image: &Image, body: Body) -> ApiResult<Image> {
        let limit = self.size_limit(image).await?;
        self.transition(image, ImageStatus::Saving).await?;
        let outcome = async {
            let mut w = self.incoming.begin(&image.id, limit).await.map_err(write_error)?;
            let result = receive(&mut w, body).await.map_err(|e| self.write_error(e));
            Ok::<_, ApiError>((w, result))
        }
        .await;
        let (mut w, received) = match outcome {
            Ok(v) => v,
            Err(e) => {
                self.store.set_status(&image.id, ImageStatus::Saving, ImageStatus::Queued).await?;
                return Err(e);
            }
        };
        if let Err(e) = received {
            w.abort().await;
            self.store.set_status(&image.id, ImageStatus::Saving, ImageStatus::Queued).await?;
            return Err(e);
        }
        let virtual_size = match self.check_data(image, &mut w).await {
            Ok(v) => v,
            Err(e) => {
                // As glance: refused data is removed and the image waits for good data.
                w.abort().await;
                self.store.set_status(&image.id, ImageStatus::Saving, ImageStatus::Queued).await?;
                return Err(e);
            }
        };
        let data = match w.commit(self.backend.as_ref(), &image.id, virtual_size).await {
            Ok(data) => data,
            Err(e) => {
                self.store.set_status(&image.id, ImageStatus::Saving, ImageStatus::Queued).await?;
                return Err(self.store_failed(e));
            }
        };
        self.finish_activation(image, ImageStatus::Saving, &data).await
    }

    /// Fsyncs the data and checks it is what `disk_format` says, and safe for a hypervisor.
    async fn check_data(&self, image: &Image, w: &mut PendingWrite) -> ApiResult<Option<u64>> {
        w.finish().await.map_err(write_error)?;
        // Like glance, only a bare disk can be checked: ova/ovf/docker/compressed are archives.
        if !matches!(image.container_format.as_deref(), None | Some("bare" | "ami" | "ari" | "aki")) {
            return Ok(None);
        }
        let path = w.path().to_path_buf();
        let declared = image.disk_format.clone().unwrap_or_else(|| "raw".into());
        // Content must match disk_format, and be safe to hand to a hypervisor (no backing
        // file, no external data file …): glance's format inspection.
        let info = tokio::task::spawn_blocking(move || crate::format::validate(&path, &declared))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok(info.virtual_size)
    }

    async fn finish_activation(
        &self,
        image: &Image,
        from: ImageStatus,
        data: &StoredData,
    ) -> ApiResult<Image> {
        if !self.store.activate(&image.id, from, data).await? {
            // Deleted (or changed) while we were writing: the data has no image any more.
            self.backend.delete(&image.id).await;
            return Err(ApiError::conflict(format!("Image {} was deleted during the upload.", image.id)));
        }
        self.store.get_image(&image.id).await?.ok_or_else(|| ApiError::not_found("No image found"))
    }

    /// `PUT /v2/images/{id}/stage`: data for a later `glance-direct` import.
    pub async fn stage(&self, image: &Image, body: Body) -> ApiResult<()> {
        let limit = self.size_limit(image).await?;
        self.transition(image, ImageStatus::Uploading).await?;
        let mut w = match self.incoming.begin_staging(&image.id, limit).await {
            Ok(w) => w,
            Err(e) => {
                self.store.set_status(&image.id, ImageStatus::Uploading, ImageStatus::Queued).await?;
                return Err(write_error(e));
            }
        };
        let received = receive(&mut w, body).await.map_err(|e| self.write_error(e));
        let finished = match received {
            Ok(()) => w.finish().await.map_err(write_error),
            Err(e) => Err(e),
        };
        if let Err(e) = finished {
            w.abort().await;
            self.store.set_status(&image.id, ImageStatus::Uploading, ImageStatus::Queued).await?;
            return Err(e);
        }
        w.commit_local(&self.incoming.staged_path(&image.id)).await.map_err(write_error)?;
        Ok(())
    }

    /// `POST /v2/images/{id}/import` with `glance-direct`: checks and moves the staged data
    /// into the store in the background; the image ends `active`, or `queued` on failure.
    pub async fn import(self: &Arc<Self>, image: &Image) -> ApiResult<()> {
        if image.status != ImageStatus::Uploading || !self.incoming.staged_path(&image.id).exists() {
            return Err(ApiError::conflict(format!(
                "Image {} has no staged data to import (status {}).",
                image.id,
                image.status.as_str()
            )));
        }
        self.transition(image, ImageStatus::Importing).await?;
        let me = self.clone();
        let image = image.clone();
        tokio::spawn(async move {
            if let Err(e) = me.run_import(&image).await {
                tracing::warn!(image = %image.id, error = %e, "import failed");
                me.incoming.delete_staged(&image.id).await;
                me.backend.delete(&image.id).await;
                me.store.set_status(&image.id, ImageStatus::Importing, ImageStatus::Queued).await.ok();
            }
        });
        Ok(())
    }

    async fn run_import(&self, image: &Image) -> ApiResult<()> {
        let staged = self.incoming.staged_path(&image.id);
        let limit = self.config.image.max_image_bytes.min(self.store_limit());
        let mut w = self.incoming.begin(&image.id, limit).await.map_err(write_error)?;
        let copied = async {
            let mut file = tokio::fs::File::open(&staged).await.map_err(ApiError::internal)?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n =
                    tokio::io::AsyncReadExt::read(&mut file, &mut buf).await.map_err(ApiError::internal)?;
                if n == 0 {
                    break;
                }
                w.write(axum::body::Bytes::copy_from_slice(&buf[..n]))
                    .await
                    .map_err(|e| self.write_error(e))?;
            }
            Ok::<_, ApiError>(())
        }
        .await;
        if let Err(e) = copied {
            w.abort().await;
            return Err(e);
        }
        let virtual_size = match self.check_data(image, &mut w).await {
            Ok(v) => v,
            Err(e) => {
                w.abort().await;
                return Err(e);
            }
        };
        let data = w
            .commit(self.backend.as_ref(), &image.id, virtual_size)
            .await
            .map_err(|e| self.store_failed(e))?;
        self.incoming.delete_staged(&image.id).await;
        self.finish_activation(image, ImageStatus::Importing, &data).await?;
        Ok(())
    }
}

/// Streams a request body into a pending write.
async fn receive(w: &mut PendingWrite, body: Body) -> Result<(), WriteError> {
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| WriteError::Interrupted(e.to_string()))?;
        w.write(chunk).await?;
    }
    Ok(())
}

fn write_error(e: WriteError) -> ApiError {
    match e {
        WriteError::TooLarge { limit } => ApiError::too_large(format!(
            "Image data exceeds the size allowed ({limit} bytes: the image size cap or what is left of the project's storage quota)."
        )),
        WriteError::Interrupted(why) => ApiError::bad_request(format!("The upload was interrupted: {why}")),
        WriteError::Io(e) => ApiError::internal(format!("image store: {e}")),
    }
}
