//! Who a Fulcio certificate names: its subject alternative names and OIDC issuer, matched
//! against the policy's `[[sigstore.identities]]` (exact or whole-string regular
//! expression, like cosign's `--certificate-identity(-regexp)` and
//! `--certificate-oidc-issuer(-regexp)`). Plugged into the sigstore crate's verifier as its
//! policy, so the identity is checked on the certificate the crate verified. Pure.

use super::super::policy::{Matcher, SigstoreIdentity};
use sigstore::bundle::verify::policy::PolicyError;
use sigstore::bundle::verify::VerificationPolicy;
use std::sync::Mutex;
use x509_cert_03::der::asn1::{ObjectIdentifier, Utf8StringRef};
use x509_cert_03::der::Decode;
use x509_cert_03::ext::pkix::name::GeneralName;
use x509_cert_03::ext::pkix::SubjectAltName;
use x509_cert_03::Certificate;

/// Fulcio's OIDC issuer extensions: v1 (raw string) and v2 (DER UTF8String).
const OID_ISSUER_V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
const OID_ISSUER_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// Fulcio's SAN OtherName for a username identity.
const OID_USERNAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");
const OID_SAN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");

/// The identity a certificate was accepted for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// The policy identity's `name`.
    pub policy_name: String,
    pub subject: String,
    pub issuer: String,
}

/// The certificate's names and issuer.
pub fn facts(cert: &Certificate) -> (Vec<String>, Option<String>) {
    let tbs = cert.tbs_certificate();
    let exts = tbs.extensions().map(Vec::as_slice).unwrap_or(&[]);
    let mut names = Vec::new();
    let mut issuer_v1 = None;
    let mut issuer_v2 = None;
    for e in exts {
        if e.extn_id == OID_SAN {
            if let Ok(san) = SubjectAltName::from_der(e.extn_value.as_bytes()) {
                for n in san.0 {
                    match n {
                        GeneralName::Rfc822Name(s) => names.push(s.to_string()),
                        GeneralName::UniformResourceIdentifier(s) => names.push(s.to_string()),
                        GeneralName::OtherName(o) if o.type_id == OID_USERNAME => {
                            if let Ok(s) = std::str::from_utf8(o.value.value()) {
                                names.push(s.to_string());
                            }
                        }
                        _ => {}
                    }
                }
            }
        } else if e.extn_id == OID_ISSUER_V2 {
            issuer_v2 = Utf8StringRef::from_der(e.extn_value.as_bytes())
                .ok()
                .map(|s| s.as_str().to_string());
        } else if e.extn_id == OID_ISSUER_V1 {
            issuer_v1 = std::str::from_utf8(e.extn_value.as_bytes())
                .ok()
                .map(str::to_string);
        }
    }
    (names, issuer_v2.or(issuer_v1))
}

fn matches(m: &Matcher, s: &str) -> bool {
    match m {
        Matcher::Exact(e) => e == s,
        Matcher::Regex(r) => r.is_match(s),
    }
}

/// The policy's identities as the crate's verification policy; remembers what matched.
pub struct IdentityPolicy<'a> {
    identities: &'a [SigstoreIdentity],
    matched: Mutex<Option<Matched>>,
}

impl<'a> IdentityPolicy<'a> {
    pub fn new(identities: &'a [SigstoreIdentity]) -> Self {
        IdentityPolicy {
            identities,
            matched: Mutex::new(None),
        }
    }

    pub fn matched(&self) -> Option<Matched> {
        self.matched.lock().ok().and_then(|m| m.clone())
    }
}

impl VerificationPolicy for IdentityPolicy<'_> {
    fn verify(&self, cert: &Certificate) -> Result<(), PolicyError> {
        let (names, issuer) = facts(cert);
        let Some(issuer) = issuer else {
            return Err(PolicyError::ExtensionNotFound);
        };
        for id in self.identities {
            if !matches(&id.issuer, &issuer) {
                continue;
            }
            if let Some(subject) = names.iter().find(|n| matches(&id.subject, n)) {
                if let Ok(mut m) = self.matched.lock() {
                    *m = Some(Matched {
                        policy_name: id.name.clone(),
                        subject: subject.clone(),
                        issuer,
                    });
                }
                return Ok(());
            }
        }
        Err(PolicyError::ExtensionCheckFailed {
            extension: "identity".into(),
            expected: format!(
                "one of the policy's identities {:?}",
                self.identities.iter().map(|i| &i.name).collect::<Vec<_>>()
            ),
            actual: format!("subject {names:?} from issuer {issuer:?}"),
        })
    }
}
