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
    /// For staff: the property the console's tabs open (the first they staff; a page of
    /// another property they staff carries its own `?property=`).
    pub console: Option<i64>,
}

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
                console: who
                    .principal
                    .active()
                    .filter(|m| m.role.is_staff())
                    .map(|m| m.property_id.0)
                    .min(),
            }),
            ..Layout::public(title)
        }
    }

    /// `aria-current` for a tab link.
    pub fn current(&self, tab: Tab) -> &'static str {
        match &self.nav {
            Some(n) if n.tab == Some(tab) => "page",
            _ => "false",
        }
    }
}
