//! Optional Ed25519 signatures on fleet events, so that not even a compromised broker or
//! broker account can forge another host's bans.
//!
//! The origin signs a fixed text form of the event (not its JSON, whose field order and
//! spacing are not guaranteed) with its private key; a receiver that holds a public key
//! for that origin refuses its unsigned or badly signed events.
//!
//! Key formats, so that `openssl` is all an administrator needs:
//! - private key file (`signing_key`): PKCS#8 PEM (`openssl genpkey -algorithm ed25519`),
//!   or the 32-byte seed in base64;
//! - public key (`keys = origin:KEY`): base64 of the 32-byte key, or of the DER
//!   SubjectPublicKeyInfo (the body line of `openssl pkey -pubout`).

use std::collections::BTreeMap;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};

use crate::error::FleetError;
use crate::event::{valid_name, Action, FleetEvent};

/// What a signature covers: every field of the event but the signature, one per line.
pub(crate) fn signed_text(ev: &FleetEvent) -> String {
    let act = match ev.act {
        Action::Ban => "ban",
        Action::Unban => "unban",
    };
    let exp = ev.exp_ms.map_or_else(|| "-".to_owned(), |e| e.to_string());
    format!(
        "jailor-fleet/{}\n{}\n{}\n{}\n{}\n{act}\n{}\n{exp}",
        ev.v, ev.id, ev.origin, ev.jail, ev.addr, ev.ts_ms
    )
}

/// Reads a private key file: PKCS#8 PEM, or a base64 32-byte seed.
pub fn load_signing_key(path: &Path) -> Result<SigningKey, FleetError> {
    let bad = |why: String| FleetError::Config(format!("signing_key {}: {why}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return SigningKey::from_pkcs8_pem(text).map_err(|e| bad(e.to_string()));
    }
    let bytes = B64.decode(text).map_err(|e| bad(e.to_string()))?;
    let seed: [u8; 32] = bytes
        .get(..32)
        .filter(|_| matches!(bytes.len(), 32 | 64))
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| bad("expected a 32-byte seed in base64 or a PKCS#8 PEM file".into()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Parses a public key: base64 of the 32 raw bytes or of the DER SubjectPublicKeyInfo.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, FleetError> {
    let bad = |why: &str| FleetError::Config(format!("public key {text:?}: {why}"));
    let bytes = B64.decode(text.trim()).map_err(|_| bad("not base64"))?;
    if let Ok(raw) = <[u8; 32]>::try_from(bytes.as_slice()) {
        return VerifyingKey::from_bytes(&raw).map_err(|_| bad("not an Ed25519 key"));
    }
    VerifyingKey::from_public_key_der(&bytes).map_err(|_| bad("not an Ed25519 key"))
}

/// The base64 form of a public key, as `keys = origin:KEY` takes it.
pub fn public_key_text(key: &VerifyingKey) -> String {
    B64.encode(key.as_bytes())
}

/// Parses `origin:KEY` entries (from `keys =`, or lines of a keys file where `origin KEY`
/// works too and `#` starts a comment) into `into`.
pub(crate) fn parse_keys<'a>(
    entries: impl IntoIterator<Item = &'a str>,
    into: &mut BTreeMap<String, VerifyingKey>,
) -> Result<(), FleetError> {
    for entry in entries {
        let entry = entry.split('#').next().unwrap_or_default().trim();
        if entry.is_empty() {
            continue;
        }
        let (origin, key) = entry
            .split_once(|c: char| c == ':' || c.is_whitespace())
            .ok_or_else(|| FleetError::Config(format!("key {entry:?}: expected origin:KEY")))?;
        let origin = origin.trim();
        if !valid_name(origin) {
            return Err(FleetError::Config(format!("key for bad origin {origin:?}")));
        }
        into.insert(origin.to_owned(), parse_public_key(key)?);
    }
    Ok(())
}

/// Signs `ev` in place.
pub(crate) fn sign(ev: &mut FleetEvent, key: &SigningKey) {
    let sig = key.sign(signed_text(ev).as_bytes());
    ev.sig = Some(B64.encode(sig.to_bytes()));
}

/// Whether `ev` carries a valid signature by `key`.
pub(crate) fn verify(ev: &FleetEvent, key: &VerifyingKey) -> bool {
    let Some(sig) = ev.sig.as_deref() else {
        return false;
    };
    let Ok(bytes) = B64.decode(sig) else {
        return false;
    };
    let Ok(sig) = Signature::from_slice(&bytes) else {
        return false;
    };
    key.verify(signed_text(ev).as_bytes(), &sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{now_ms, parse_addr};

    fn event() -> FleetEvent {
        FleetEvent::new(
            "a",
            "sshd",
            parse_addr("198.18.0.1").expect("addr"),
            Action::Ban,
            Some(now_ms() + 60_000),
        )
        .expect("event")
    }

    #[test]
    fn a_signature_covers_every_field() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let mut ev = event();
        assert!(!verify(&ev, &key.verifying_key()), "unsigned");
        sign(&mut ev, &key);
        assert!(verify(&ev, &key.verifying_key()));
        let other = SigningKey::from_bytes(&[8; 32]);
        assert!(!verify(&ev, &other.verifying_key()), "another key");
        let decoded = FleetEvent::decode(&ev.encode()).expect("decode");
        assert!(verify(&decoded, &key.verifying_key()), "survives JSON");
        for change in [
            |e: &mut FleetEvent| e.exp_ms = e.exp_ms.map(|x| x + 1),
            |e: &mut FleetEvent| e.jail = "web".into(),
            |e: &mut FleetEvent| e.addr = parse_addr("198.18.0.2").expect("addr"),
            |e: &mut FleetEvent| e.act = Action::Unban,
            |e: &mut FleetEvent| e.ts_ms += 1,
        ] {
            let mut forged = ev.clone();
            change(&mut forged);
            assert!(!verify(&forged, &key.verifying_key()), "{forged:?}");
        }
    }

    #[test]
    fn keys_in_raw_and_spki_base64_and_seed_files() {
        use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
        let key = SigningKey::from_bytes(&[9; 32]);
        let public = key.verifying_key();
        let der = public.to_public_key_der().expect("der");
        let mut keys = BTreeMap::new();
        parse_keys(
            [
                format!("a:{}", public_key_text(&public)).as_str(),
                format!("b {} # comment", B64.encode(der.as_bytes())).as_str(),
                "",
            ],
            &mut keys,
        )
        .expect("keys");
        assert_eq!(keys.get("a"), Some(&public));
        assert_eq!(keys.get("b"), Some(&public));
        assert!(parse_keys(["a.b:xx"], &mut keys).is_err());
        assert!(parse_keys(["a:bm90IGEga2V5"], &mut keys).is_err());

        let dir = tempfile::tempdir().expect("dir");
        let pem = dir.path().join("key.pem");
        let pem_text = key
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .expect("pem");
        std::fs::write(&pem, pem_text.as_bytes()).expect("write");
        assert_eq!(load_signing_key(&pem).expect("pem key"), key);
        let seed = dir.path().join("key.b64");
        std::fs::write(&seed, format!("{}\n", B64.encode([9u8; 32]))).expect("write");
        assert_eq!(load_signing_key(&seed).expect("seed key"), key);
        std::fs::write(&seed, "short").expect("write");
        assert!(load_signing_key(&seed).is_err());
    }
}
