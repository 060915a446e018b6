//! The files the pages load, compiled into the binary: htmx (vendored from its npm package,
//! licence beside it), our script, our stylesheet and the icon. Each is served under a name that
//! carries a digest of its content, so browsers may keep it for a year and a new build still
//! reaches them at once.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

struct File {
    name: &'static str,
    mime: &'static str,
    bytes: &'static [u8],
}

const FILES: &[File] = &[
    File {
        name: "htmx.min.js",
        mime: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/htmx.min.js"),
    },
    File {
        name: "htmx.LICENSE.txt",
        mime: "text/plain; charset=utf-8",
        bytes: include_bytes!("../assets/htmx.LICENSE"),
    },
    File {
        name: "app.js",
        mime: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/app.js"),
    },
    File {
        name: "app.css",
        mime: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/app.css"),
    },
    File {
        name: "readiness.css",
        mime: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/readiness.css"),
    },
    File {
        name: "console.css",
        mime: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/console.css"),
    },
    File {
        name: "alarms.css",
        mime: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/alarms.css"),
    },
    File {
        name: "icon.svg",
        mime: "image/svg+xml",
        bytes: include_bytes!("../assets/icon.svg"),
    },
];

/// The assets with their content-addressed URLs.
pub struct Assets {
    /// (URL file name, index into FILES)
    served: Vec<(String, usize)>,
}

impl Default for Assets {
    fn default() -> Self {
        Self::new()
    }
}

impl Assets {
    pub fn new() -> Assets {
        let served = FILES
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let digest = hex::encode(&Sha256::digest(f.bytes)[..6]);
                let (stem, ext) = f.name.rsplit_once('.').unwrap_or((f.name, ""));
                (format!("{stem}.{digest}.{ext}"), i)
            })
            .collect();
        Assets { served }
    }

    /// The URL of the asset named `name` (e.g. `app.css`).
    pub fn url(&self, name: &str) -> String {
        self.served
            .iter()
            .find(|(_, i)| FILES[*i].name == name)
            .map(|(s, _)| format!("/assets/{s}"))
            .unwrap_or_default()
    }
}

/// The asset table, computed once from the compiled-in files.
pub fn assets() -> &'static Assets {
    static ASSETS: std::sync::LazyLock<Assets> = std::sync::LazyLock::new(Assets::new);
    &ASSETS
}

pub(crate) async fn serve(Path(file): Path<String>) -> Response {
    match assets().served.iter().find(|(s, _)| *s == file) {
        Some((_, i)) => {
            let f = &FILES[*i];
            (
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static(f.mime)),
                    (
                        header::CACHE_CONTROL,
                        HeaderValue::from_static("public, max-age=31536000, immutable"),
                    ),
                ],
                f.bytes,
            )
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

/// The web app manifest, so the pages can be installed on a phone's home screen.
pub(crate) async fn manifest() -> Response {
    let icon = assets().url("icon.svg");
    let body = format!(
        r##"{{"name":"latchkey","short_name":"latchkey","start_url":"/","scope":"/","display":"standalone","background_color":"#f6f7f9","theme_color":"#0b5cad","icons":[{{"src":"{icon}","sizes":"any","type":"image/svg+xml","purpose":"any"}}]}}"##
    );
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/manifest+json"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
        .into_response()
}
