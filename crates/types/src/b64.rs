//! base64url without padding (RFC 4648 §5), the text form of every id, key and signature in ao.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::Error;

/// Encodes bytes as unpadded base64url.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded base64url. Trailing `=` padding is tolerated because some clients add it.
///
/// # Errors
/// [`Error::Base64`] when the text is not base64url.
pub fn decode(text: &str) -> Result<Vec<u8>, Error> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| Error::Base64 {
            text: text.chars().take(64).collect(),
        })
}
