//! Key pair material, as nova's `crypto.py`: checking an imported OpenSSH public key (or an
//! x509 certificate) and computing its fingerprint, and generating a key pair.
//!
//! Fingerprints are nova's: for `ssh` keys the MD5 of the decoded key blob, for `x509`
//! certificates the SHA-1 of the DER certificate, both as colon-separated hex pairs.
//! Generated keys are RSA 2048 with the private key in PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`),
//! as nova's paramiko-generated keys, which every SSH client reads.

use base64::Engine;
use md5::{Digest, Md5};
use ssh_key::public::{KeyData, RsaPublicKey};
use ssh_key::{Algorithm, Mpint, PublicKey};

use crate::model::KeyPair;

/// `ssh` or `x509`, the key pair types of microversion 2.2.
pub const KEY_TYPES: &[&str] = &["ssh", "x509"];

/// What a generated key pair is: the private key (PEM) to hand out once, the OpenSSH
/// public key, and its fingerprint.
pub struct Generated {
    pub private_key: String,
    pub public_key: String,
    pub fingerprint: String,
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// Why a key is refused, in nova's words ("Keypair data is invalid: …").
fn invalid(reason: &str) -> String {
    format!("Keypair data is invalid: {reason}")
}

/// The fingerprint of a key of type `key_type`, if the key is well formed.
pub fn fingerprint(key_type: &str, public_key: &str) -> Result<String, String> {
    match key_type {
        "x509" => x509_fingerprint(public_key),
        _ => ssh_fingerprint(public_key),
    }
}

/// The MD5 fingerprint of an OpenSSH public key (`ssh-ed25519 AAAA… comment`), after
/// checking that it is one: a known algorithm whose encoded key matches its name.
pub fn ssh_fingerprint(public_key: &str) -> Result<String, String> {
    let failed = || invalid("failed to generate fingerprint");
    let key = PublicKey::from_openssh(public_key.trim()).map_err(|_| failed())?;
    match key.algorithm() {
        Algorithm::Rsa { .. }
        | Algorithm::Dsa
        | Algorithm::Ecdsa { .. }
        | Algorithm::Ed25519
        | Algorithm::SkEcdsaSha2NistP256
        | Algorithm::SkEd25519 => {}
        _ => return Err(failed()),
    }
    // nova hashes the second space-separated field as given.
    let blob = public_key.trim().split(' ').nth(1).ok_or_else(failed)?;
    let raw = base64::engine::general_purpose::STANDARD.decode(blob).map_err(|_| failed())?;
    Ok(colon_hex(&Md5::digest(&raw)))
}

/// The SHA-1 fingerprint of a PEM x509 certificate, after checking its DER structure
/// (a SEQUENCE of the to-be-signed SEQUENCE, the algorithm SEQUENCE and the signature BIT
/// STRING, nothing after it).
pub fn x509_fingerprint(pem: &str) -> Result<String, String> {
    let failed = |why: &str| invalid(&format!("failed to generate X509 fingerprint. Error message: {why}"));
    let text = pem.trim();
    let body = text
        .strip_prefix("-----BEGIN CERTIFICATE-----")
        .and_then(|t| t.split("-----END CERTIFICATE-----").next())
        .ok_or_else(|| failed("Unable to load PEM file: no certificate"))?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64).map_err(|_| failed("invalid base64"))?;
    let (tag, inner, rest) = der_element(&der).ok_or_else(|| failed("not a DER certificate"))?;
    if tag != 0x30 || !rest.is_empty() {
        return Err(failed("not a DER certificate"));
    }
    let (t1, _, inner) = der_element(inner).ok_or_else(|| failed("no tbsCertificate"))?;
    let (t2, _, inner) = der_element(inner).ok_or_else(|| failed("no signatureAlgorithm"))?;
    let (t3, _, inner) = der_element(inner).ok_or_else(|| failed("no signature"))?;
    if (t1, t2, t3) != (0x30, 0x30, 0x03) || !inner.is_empty() {
        return Err(failed("not an x509 certificate"));
    }
    use sha1::Sha1;
    Ok(colon_hex(&Sha1::digest(&der)))
}

/// One DER element: (tag, contents, what follows).
fn der_element(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// A new RSA 2048 key pair. CPU-heavy (about a second): run it on the blocking pool.
pub fn generate_rsa() -> Result<Generated, String> {
    use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
    use rsa::traits::PublicKeyParts;

    let key =
        rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(|e| format!("RSA generation: {e}"))?;
    let private_key = key.to_pkcs1_pem(LineEnding::LF).map_err(|e| format!("PEM encoding: {e}"))?.to_string();
    let e = Mpint::from_positive_bytes(&key.e().to_bytes_be()).map_err(|e| e.to_string())?;
    let n = Mpint::from_positive_bytes(&key.n().to_bytes_be()).map_err(|e| e.to_string())?;
    let public = PublicKey::new(KeyData::Rsa(RsaPublicKey { e, n }), "Generated-by-Stratus");
    let public_key = public.to_openssh().map_err(|e| e.to_string())?;
    let fingerprint = ssh_fingerprint(&public_key)?;
    Ok(Generated { private_key, public_key, fingerprint })
}

/// nova shows a key pair's integer `id`; key pairs here are keyed by (user, name), so the
/// id is derived from those: stable, and the same on every node.
pub fn display_id(k: &KeyPair) -> i64 {
    let d = Md5::digest(format!("{}\n{}", k.user_id, k.name).as_bytes());
    (u32::from_be_bytes([d[0], d[1], d[2], d[3]]) & 0x7fff_ffff) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made with `ssh-keygen`; fingerprints from `ssh-keygen -l -E md5`.
    const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDEn+k89KD5fXTvXGRtir1RDFJrMWGgsQ2BlK6qethLFcYvldWipFVBRWOfqIGcMT9ct20SbRAbwMIJ6UUsR6Saaw5ZgzpcL1kgF5AxHmEYXLDMZX7BbG7vk2PIgeYHOboPwBsARC/wnsxUIBYClbasQVD2pnHhOhjojz4xc5w0pQ== test@stratus";
    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIMvJL/s1LbPkj9hPGgIlWIMrSI4C6dvTOTLspHXZxK2 e@x";
    const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBGD9ftkwy1CQ3Sauh8jaLUBKCB6/IF1c/Y2tDX/kkZiqCqV5FxUzFqLKj0SenqPoQF1AZP4ISuwEFMw+MOLJlP0= c@x";
    // `openssl req -x509 …`; fingerprint from `openssl x509 -fingerprint -sha1`.
    const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBgzCCASmgAwIBAgIUDe7GmZB/uQuIgVIrSjdh7SQzZAYwCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMc3RyYXR1cy10ZXN0MB4XDTI2MTEyMjA4MjA1OVoXDTM2MTEx
OTA4MjA1OVowFzEVMBMGA1UEAwwMc3RyYXR1cy10ZXN0MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAE+RpG+FOcJ/zaxBZ/Hjafl6ebOa1/v0IvM9F21xTGlbqh/NVm
87eFtiaV47G4+thdL9ccWdrIoL8JsiUD/py3xqNTMFEwHQYDVR0OBBYEFJJHXWdh
1BU0CCdgCM2oGR4cHL7jMB8GA1UdIwQYMBaAFJJHXWdh1BU0CCdgCM2oGR4cHL7j
MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgAcrDoBwxKD3UDRVG
x8jCCYQAKT0THfRnFTnxMFOEyx0CIQDzR5JxJqIWDzniQCwNcXFzq8IUk8eZMyeC
YXSXYUZfHg==
-----END CERTIFICATE-----
";

    #[test]
    fn ssh_fingerprints() {
        assert_eq!(ssh_fingerprint(RSA).unwrap(), "48:43:3b:aa:e6:f8:f5:3c:6b:4f:31:3e:8e:40:46:b5");
        assert_eq!(ssh_fingerprint(ED25519).unwrap(), "35:5c:97:03:1e:f0:52:e6:7c:75:66:98:3a:1b:47:c4");
        assert_eq!(ssh_fingerprint(ECDSA).unwrap(), "9d:fc:57:31:06:9b:86:47:aa:3d:56:5d:f8:de:1f:d1");
        // The name does not match the key inside.
        assert!(ssh_fingerprint(&ED25519.replace("ssh-ed25519", "ssh-rsa")).is_err());
        // Truncated.
        assert!(ssh_fingerprint(&ED25519[..60]).is_err());
        assert!(ssh_fingerprint("not a key").is_err());
        assert!(ssh_fingerprint("").is_err());
        assert!(ssh_fingerprint(CERT).is_err());
    }

    #[test]
    fn x509_fingerprints() {
        assert_eq!(
            x509_fingerprint(CERT).unwrap(),
            "c5:82:5f:17:63:68:2f:93:c6:57:98:68:0b:9c:9e:75:31:12:4b:93"
        );
        assert!(x509_fingerprint("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----").is_err());
        assert!(x509_fingerprint(RSA).is_err());
    }

    #[test]
    fn generated_keys_parse() {
        let g = generate_rsa().unwrap();
        assert!(g.private_key.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        assert!(g.public_key.starts_with("ssh-rsa AAAA"));
        assert_eq!(ssh_fingerprint(&g.public_key).unwrap(), g.fingerprint);
    }
}
