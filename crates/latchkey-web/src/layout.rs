//! What every page shares: its title, the asset URLs, and for a signed-in person the navigation
//! and the sign-out form's token.

use crate::assets::assets;

/// The tabs of a signed-in person's pages, and of the building console for staff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Home,
    Codes,
    Household,
    Activity,
    Security,
    Building,
    Alarms,
    Cases,
    Ledger,
    Incidents,
    Readiness,
    People,
    Policy,
    Devices,
    OnCall,
    Audit,
}

pub struct Nav {
    pub tab: Option<Tab>,
    pub name: String,
    pub csrf: String,
    /// For staff: the property the console's tabs open: the page's own (`?property=`, or the
    /// record's on a record's page) when they are staff there, else the first they staff.
    pub console: Option<i64>,
    /// For staff of several properties: each one, for the switcher.
    pub properties: Vec<PropertyChoice>,
    /// Where the switcher goes: this page when it is one of the console's tabs, else the
    /// building page.
    pub switch_to: &'static str,
}

/// One property of the switcher.
pub struct PropertyChoice {
    pub id: i64,
    pub name: String,
    /// The one the console's tabs open.
    pub selected: bool,
}

/// The console's tab pages, each of which takes `?property=`.
const TAB_PATHS: [&str; 11] = [
    "/building",
    "/alarms",
    "/console/cases",
    "/console/ledger",
    "/console/incidents",
    "/readiness",
    "/people",
    "/policy",
    "/devices",
    "/on-call",
    "/audit",
];

pub struct Layout {
    pub title: String,
    pub css: String,
    pub htmx: String,
    pub js: String,
    pub icon: String,
    pub nav: Option<Nav>,
}

impl Layout {
    pub fn public(title: impl Into<String>) -> Layout {
        let a = assets();
        Layout {
            title: title.into(),
            css: a.url("app.css"),
            htmx: a.url("htmx.min.js"),
            js: a.url("app.js"),
            icon: a.url("icon.svg"),
            nav: None,
        }
    }

    pub fn signed(
        title: impl Into<String>,
        tab: Option<Tab>,
        who: &crate::guard::Signed,
    ) -> Layout {
        Layout {
            nav: Some(Nav {
                tab,
                name: who.principal.person().name.clone(),
                csrf: who.csrf.clone(),
                console: who.console,
                properties: who
                    .staffed
                    .iter()
                    .map(|(id, name)| PropertyChoice {
                        id: *id,
                        name: name.clone(),
                        selected: who.console == Some(*id),
                    })
                    .collect(),
                switch_to: TAB_PATHS
                    .iter()
                    .find(|p| **p == who.path)
                    .copied()
                    .unwrap_or("/building"),
            }),
            ..Layout::public(title)
        }
    }

    /// As [`Layout::signed`], on the page of a record of `property`: the console's tabs open
    /// that property when the person is staff there.
    pub fn signed_at(
        title: impl Into<String>,
        tab: Option<Tab>,
        who: &crate::guard::Signed,
        property: latchkey_core::PropertyId,
    ) -> Layout {
        let mut l = Layout::signed(title, tab, who);
        if let Some(n) = &mut l.nav
            && who
                .principal
                .active()
                .any(|m| m.role.is_staff() && m.property_id == property)
        {
            n.console = Some(property.0);
            for c in &mut n.properties {
                c.selected = c.id == property.0;
            }
        }
        l
    }

    /// `aria-current` for a tab link.
    pub fn current(&self, tab: Tab) -> &'static str {
        match &self.nav {
            Some(n) if n.tab == Some(tab) => "page",
            _ => "false",
        }
    }
}
