//! What one reconciling pass reads about a property, loaded once per pass: ten thousand doors
//! of one building, or one credential on all of them, read the building and the credential once.

use std::collections::HashMap;
use std::sync::Arc;

use latchkey_core::{CredentialId, DoorId, PersonId, PropertyId};
use latchkey_store::records::{Credential, Door, Membership};
use latchkey_store::{Conn, credentials, people, property};

use crate::directory::time_zone;
use crate::{App, Result};

/// Everything needed to plan the slots of one property's doors.
pub(super) struct PropertyView {
    pub tz: jiff::tz::TimeZone,
    pub doors: HashMap<DoorId, Door>,
    pub memberships: HashMap<PersonId, Vec<Membership>>,
}

/// Property views and credentials loaded during one pass.
#[derive(Default)]
pub(super) struct Views {
    properties: HashMap<PropertyId, Arc<PropertyView>>,
    credentials: HashMap<CredentialId, Option<Arc<Credential>>>,
}

impl Views {
    pub async fn get(&mut self, app: &App, id: PropertyId) -> Result<Arc<PropertyView>> {
        if let Some(v) = self.properties.get(&id) {
            return Ok(v.clone());
        }
        let v = Arc::new(property_view(app, id).await?);
        self.properties.insert(id, v.clone());
        Ok(v)
    }

    /// A credential with its doors (`None` if it no longer exists). A master PIN on every door
    /// of a building is read once, not once per door.
    pub async fn credential(
        &mut self,
        conn: &mut Conn,
        id: CredentialId,
    ) -> Result<Option<Arc<Credential>>> {
        if let Some(c) = self.credentials.get(&id) {
            return Ok(c.clone());
        }
        let c = credentials::get_credential(conn, id).await?.map(Arc::new);
        self.credentials.insert(id, c.clone());
        Ok(c)
    }
}

pub(super) async fn property_view(app: &App, id: PropertyId) -> Result<PropertyView> {
    let mut conn = app.store().read().await?;
    let prop = crate::directory::load_property(&mut conn, id).await?;
    let tz = time_zone(&prop.timezone)?;
    let doors = property::list_doors(&mut conn, id)
        .await?
        .into_iter()
        .map(|d| (d.id, d))
        .collect();
    let mut memberships: HashMap<PersonId, Vec<Membership>> = HashMap::new();
    for m in people::list_memberships(&mut conn, id).await? {
        memberships.entry(m.person_id).or_default().push(m);
    }
    Ok(PropertyView {
        tz,
        doors,
        memberships,
    })
}
