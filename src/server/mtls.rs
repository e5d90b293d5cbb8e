//! mTLS client identities (issue 15): the verified client certificate's URI SANs (SPIFFE IDs)
//! and subject common name, matched against `[[client_identity]]` entries.
//!
//! rustls has already verified the chain against the client CA bundle before any of this runs;
//! here the leaf is only read. The identity travels in each request's extensions (set by the
//! connection, never by a header), so a client cannot claim one it does not hold.

use rustls::pki_types::CertificateDer;

use crate::config::ClientMatch;

/// What a verified client certificate says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// URI subject alternative names (SPIFFE IDs among them).
    pub uris: Vec<String>,
    /// The subject's common name, when it has one.
    pub subject_cn: Option<String>,
}

impl PeerIdentity {
    /// Read the leaf certificate; None when it cannot be parsed (it then maps to no identity).
    pub fn from_cert(cert: &CertificateDer<'_>) -> Option<PeerIdentity> {
        let parsed = webpki::EndEntityCert::try_from(cert).ok()?;
        Some(PeerIdentity { uris: parsed.valid_uri_names().map(str::to_string).collect(), subject_cn: common_name(parsed.subject()) })
    }

    /// True when this identity is the one `m` describes.
    pub fn matches(&self, m: &ClientMatch) -> bool {
        match m {
            ClientMatch::UriSan(uri) => self.uris.iter().any(|u| u == uri),
            ClientMatch::SubjectCn(cn) => self.subject_cn.as_deref() == Some(cn.as_str()),
        }
    }

    /// A short description for logs and errors (identifiers only).
    pub fn describe(&self) -> String {
        match (self.uris.first(), &self.subject_cn) {
            (Some(uri), _) => format!("URI {uri}"),
            (None, Some(cn)) => format!("CN {cn}"),
            (None, None) => "a certificate with no URI SAN or CN".into(),
        }
    }
}

/// OID 2.5.4.3 (commonName), DER-encoded.
const CN_OID: &[u8] = &[0x55, 0x04, 0x03];

/// The first commonName in a DER `Name`'s contents (the RDN sequence, outer tag stripped).
/// Returns None on anything malformed; never panics.
fn common_name(mut rdns: &[u8]) -> Option<String> {
    while !rdns.is_empty() {
        let (tag, set, rest) = tlv(rdns)?;
        rdns = rest;
        if tag != 0x31 {
            return None;
        }
        let mut atvs = set;
        while !atvs.is_empty() {
            let (tag, atv, rest) = tlv(atvs)?;
            atvs = rest;
            if tag != 0x30 {
                return None;
            }
            let (oid_tag, oid, value) = tlv(atv)?;
            if oid_tag != 0x06 || oid != CN_OID {
                continue;
            }
            let (vtag, v, _) = tlv(value)?;
            // UTF8String, PrintableString, IA5String.
            if matches!(vtag, 0x0c | 0x13 | 0x16) {
                return std::str::from_utf8(v).ok().map(str::to_string);
            }
            return None;
        }
    }
    None
}

/// One DER tag-length-value: (tag, contents, the rest). Short and long lengths up to 4 bytes.
fn tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    let (contents, rest) = rest.split_at(len);
    Some((tag, contents, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_name_of_a_der_name() {
        // SET { SEQ { OID O, "Acme" } }, SET { SEQ { OID CN, UTF8 "billing" } }
        let o = [0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x0c, 0x02, b'A', b'c'];
        let cn = [0x31, 0x10, 0x30, 0x0e, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x07, b'b', b'i', b'l', b'l', b'i', b'n', b'g'];
        let name = [&o[..], &cn[..]].concat();
        assert_eq!(common_name(&name).as_deref(), Some("billing"));
        assert_eq!(common_name(&o), None);
        // Truncated or garbage input yields None, never a panic.
        for end in 0..name.len() {
            let _ = common_name(&name[..end]);
        }
        assert_eq!(common_name(&[0x31, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    }
}
