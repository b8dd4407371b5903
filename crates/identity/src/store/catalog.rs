use super::*;
use crate::model::{Endpoint, Interface, Region, Service};

fn region_row(row: &Row) -> Region {
    Region {
        id: get_str(row, "id"),
        description: get_str(row, "description"),
        parent_region_id: get_opt(row, "parent_region_id"),
        extra: parse_extra(row),
    }
}

fn service_row(row: &Row) -> Service {
    Service {
        id: get_str(row, "id"),
        service_type: get_str(row, "type"),
        name: get_opt(row, "name"),
        description: get_opt(row, "description"),
        enabled: get_flag(row, "enabled"),
        extra: parse_extra(row),
    }
}

fn endpoint_row(row: &Row) -> Endpoint {
    Endpoint {
        id: get_str(row, "id"),
        service_id: get_str(row, "service_id"),
        region_id: get_opt(row, "region_id"),
        interface: Interface::parse(&get_str(row, "interface")).unwrap_or(Interface::Public),
        url: get_str(row, "url"),
        enabled: get_flag(row, "enabled"),
        extra: parse_extra(row),
    }
}

impl Store {
    // ---- regions ----

    pub async fn create_region(&self, r: &Region) -> StoreResult<()> {
        query("INSERT INTO regions (id, description, parent_region_id, extra) VALUES (?, ?, ?, ?)")
            .bind(&r.id)
            .bind(&r.description)
            .bind(&r.parent_region_id)
            .bind(extra_json(&r.extra))
            .execute(self.db())
            .await
            .map_err(|e| conflict_or(e, "region", || format!("id {}", r.id)))?;
        Ok(())
    }

    pub async fn get_region(&self, id: &str) -> StoreResult<Option<Region>> {
        let row = query("SELECT * FROM regions WHERE id = ?").bind(id).fetch_optional(self.db()).await?;
        Ok(row.as_ref().map(region_row))
    }

    /// The region's ancestors, nearest first (bounded, should the stored data already loop).
    pub async fn region_ancestors(&self, id: &str) -> StoreResult<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        let mut next = self.get_region(id).await?.and_then(|r| r.parent_region_id);
        while let Some(parent) = next {
            if out.contains(&parent) || out.len() > 64 {
                break;
            }
            next = self.get_region(&parent).await?.and_then(|r| r.parent_region_id);
            out.push(parent);
        }
        Ok(out)
    }

    pub async fn list_regions(&self, parent: Option<&str>) -> StoreResult<Vec<Region>> {
        let rows = query("SELECT * FROM regions WHERE (? IS NULL OR parent_region_id = ?) ORDER BY id")
            .bind(parent)
            .bind(parent)
            .fetch_all(self.db())
            .await?;
        Ok(rows.iter().map(region_row).collect())
    }

    pub async fn update_region(&self, r: &Region) -> StoreResult<()> {
        query("UPDATE regions SET description = ?, parent_region_id = ?, extra = ? WHERE id = ?")
            .bind(&r.description)
            .bind(&r.parent_region_id)
            .bind(extra_json(&r.extra))
            .bind(&r.id)
            .execute(self.db())
            .await?;
        Ok(())
    }

    pub async fn region_in_use(&self, id: &str) -> StoreResult<bool> {
        let row = query(
            "SELECT id FROM regions WHERE parent_region_id = ? UNION SELECT id FROM endpoints WHERE region_id = ? LIMIT 1",
        )
        .bind(id)
        .bind(id)
        .fetch_optional(self.db())
        .await?;
        Ok(row.is_some())
    }

    pub async fn delete_region(&self, id: &str) -> StoreResult<()> {
        query("DELETE FROM regions WHERE id = ?").bind(id).execute(self.db()).await?;
        Ok(())
    }

    // ---- services ----

    pub async fn create_service(&self, s: &Service) -> StoreResult<()> {
        query("INSERT INTO services (id, type, name, description, enabled, extra) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(&s.id)
            .bind(&s.service_type)
            .bind(&s.name)
            .bind(&s.description)
            .bind(flag(s.enabled))
            .bind(extra_json(&s.extra))
            .execute(self.db())
            .await
            .map_err(|e| conflict_or(e, "service", || format!("id {}", s.id)))?;
        Ok(())
    }

    pub async fn get_service(&self, id: &str) -> StoreResult<Option<Service>> {
        let row = query("SELECT * FROM services WHERE id = ?").bind(id).fetch_optional(self.db()).await?;
        Ok(row.as_ref().map(service_row))
    }

    pub async fn list_services(
        &self,
        name: Option<&str>,
        service_type: Option<&str>,
    ) -> StoreResult<Vec<Service>> {
        let rows = query(
            "SELECT * FROM services WHERE (? IS NULL OR name = ?) AND (? IS NULL OR type = ?) ORDER BY type, name",
        )
        .bind(name)
        .bind(name)
        .bind(service_type)
        .bind(service_type)
        .fetch_all(self.db())
        .await?;
        Ok(rows.iter().map(service_row).collect())
    }

    pub async fn update_service(&self, s: &Service) -> StoreResult<()> {
        query("UPDATE services SET type = ?, name = ?, description = ?, enabled = ?, extra = ? WHERE id = ?")
            .bind(&s.service_type)
            .bind(&s.name)
            .bind(&s.description)
            .bind(flag(s.enabled))
            .bind(extra_json(&s.extra))
            .bind(&s.id)
            .execute(self.db())
            .await?;
        Ok(())
    }

    /// Deletes the service and its endpoints.
    pub async fn delete_service(&self, id: &str) -> StoreResult<()> {
        let mut tx = self.db().begin().await?;
        query("DELETE FROM endpoints WHERE service_id = ?").bind(id).execute(&mut *tx).await?;
        query("DELETE FROM services WHERE id = ?").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- endpoints ----

    pub async fn create_endpoint(&self, e: &Endpoint) -> StoreResult<()> {
        query(
            "INSERT INTO endpoints (id, service_id, region_id, interface, url, enabled, extra) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&e.id)
        .bind(&e.service_id)
        .bind(&e.region_id)
        .bind(e.interface.as_str())
        .bind(&e.url)
        .bind(flag(e.enabled))
        .bind(extra_json(&e.extra))
        .execute(self.db())
        .await
        .map_err(|err| conflict_or(err, "endpoint", || format!("id {}", e.id)))?;
        Ok(())
    }

    pub async fn get_endpoint(&self, id: &str) -> StoreResult<Option<Endpoint>> {
        let row = query("SELECT * FROM endpoints WHERE id = ?").bind(id).fetch_optional(self.db()).await?;
        Ok(row.as_ref().map(endpoint_row))
    }

    pub async fn list_endpoints(
        &self,
        service_id: Option<&str>,
        interface: Option<&str>,
        region_id: Option<&str>,
    ) -> StoreResult<Vec<Endpoint>> {
        let rows = query(
            "SELECT * FROM endpoints WHERE (? IS NULL OR service_id = ?) AND (? IS NULL OR interface = ?) \
             AND (? IS NULL OR region_id = ?) ORDER BY service_id, interface",
        )
        .bind(service_id)
        .bind(service_id)
        .bind(interface)
        .bind(interface)
        .bind(region_id)
        .bind(region_id)
        .fetch_all(self.db())
        .await?;
        Ok(rows.iter().map(endpoint_row).collect())
    }

    pub async fn update_endpoint(&self, e: &Endpoint) -> StoreResult<()> {
        query(
            "UPDATE endpoints SET service_id = ?, region_id = ?, interface = ?, url = ?, enabled = ?, extra = ? WHERE id = ?",
        )
        .bind(&e.service_id)
        .bind(&e.region_id)
        .bind(e.interface.as_str())
        .bind(&e.url)
        .bind(flag(e.enabled))
        .bind(extra_json(&e.extra))
        .bind(&e.id)
        .execute(self.db())
        .await?;
        Ok(())
    }

    pub async fn delete_endpoint(&self, id: &str) -> StoreResult<()> {
        query("DELETE FROM endpoints WHERE id = ?").bind(id).execute(self.db()).await?;
        Ok(())
    }
}
