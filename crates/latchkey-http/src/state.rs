//! What every handler can reach: the application and the HTTP options.

use latchkey_app::App;

use crate::HttpConfig;

#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub config: HttpConfig,
}
