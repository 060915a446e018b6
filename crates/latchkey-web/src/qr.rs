//! The QR code of an authenticator app's `otpauth:` link, drawn by the server as inline SVG.
//!
//! Inline `<svg>` markup needs nothing from the Content-Security-Policy (an `<img>` of a
//! `data:` URL would need `img-src data:`), and the drawing uses presentation attributes
//! (`fill`), never a `style` attribute, which `style-src 'self'` would block.

use qrcode::QrCode;
use qrcode::render::svg;
use qrcode::types::QrError;

/// What a screen reader says for the code; the key itself is on the page as text beside it.
const LABEL: &str = "QR code of your authenticator key: scan it with your authenticator app, or type the key shown beside it";

/// The code of `uri` as an `<svg>` element to place in a page, with an accessible label.
///
/// Fails only when `uri` is longer than a QR code holds (about 2,300 bytes at this level).
pub(crate) fn svg(uri: &str) -> Result<String, QrError> {
    let code = QrCode::new(uri.as_bytes())?;
    let drawn = code.render::<svg::Color>().min_dimensions(240, 240).build();
    // The renderer writes a whole SVG document; a page wants the element without the XML
    // declaration.
    let element = drawn.find("<svg").map_or(drawn.as_str(), |at| &drawn[at..]);
    Ok(element.replacen(
        "<svg ",
        &format!(r#"<svg class="qr" role="img" aria-label="{LABEL}" "#),
        1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const URI: &str =
        "otpauth://totp/latchkey:rita%40example.org?secret=JBSWY3DPEHPK3PXP&issuer=latchkey";

    #[test]
    fn the_code_is_an_svg_element_with_a_label_and_no_style_attribute() {
        let svg = svg(URI).unwrap();
        assert!(
            svg.starts_with("<svg class=\"qr\" role=\"img\" aria-label=\""),
            "{svg}"
        );
        assert!(svg.ends_with("</svg>"), "{svg}");
        assert!(!svg.contains("<?xml"), "{svg}");
        assert!(!svg.contains("style="), "{svg}");
        assert_eq!(svg.matches("<svg").count(), 1);
    }

    #[test]
    fn a_link_too_long_for_a_code_is_an_error_not_an_empty_picture() {
        assert!(svg(&"x".repeat(4000)).is_err());
    }
}
