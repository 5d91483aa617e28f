//! `[mqtt.tls]`: MQTT over TLS with rustls (ring provider: no OpenSSL, no cmake), the broker checked
//! against a configured CA, and a client certificate when the broker asks for one. Used by the event
//! publisher and the model-update client alike. Nothing falls back to plain TCP: a file that cannot be
//! used stops the start (and `kaiteki check` names it); a handshake the broker or we refuse is logged
//! with rustls' reason while the outbox keeps every event.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MqttTlsConfig {
    /// PEM file with the CA certificate(s) the broker's certificate must chain to.
    pub ca: PathBuf,
    /// PEM client certificate (chain) for brokers that require one; needs `key`.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert` (PKCS#8, PKCS#1 or SEC1).
    #[serde(default)]
    pub key: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum MqttTlsError {
    #[error("mqtt.tls.{field} {}: {reason}", path.display())]
    File { field: &'static str, path: PathBuf, reason: String },
    #[error("mqtt.tls: `cert` and `key` go together (one is set, the other is not)")]
    HalfClientIdentity,
    #[error("mqtt.tls: {0}")]
    Rustls(String),
}

fn file_err(field: &'static str, path: &Path, reason: impl ToString) -> MqttTlsError {
    MqttTlsError::File { field, path: path.to_path_buf(), reason: reason.to_string() }
}

fn certs(field: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, MqttTlsError> {
    crate::http::tls::read_pem_certs(path).map_err(|why| file_err(field, path, why))
}

impl MqttTlsConfig {
    /// With every path passed through `resolve` (relative paths are relative to the config file).
    pub fn resolved(&self, resolve: impl Fn(&Path) -> PathBuf) -> Self {
        Self { ca: resolve(&self.ca), cert: self.cert.as_deref().map(&resolve), key: self.key.as_deref().map(&resolve) }
    }

    /// The rustls client configuration; every file is read and checked here.
    pub fn client_config(&self) -> Result<rustls::ClientConfig, MqttTlsError> {
        let mut roots = rustls::RootCertStore::empty();
        for c in certs("ca", &self.ca)? {
            roots.add(c).map_err(|e| file_err("ca", &self.ca, e))?;
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| MqttTlsError::Rustls(e.to_string()))?
            .with_root_certificates(roots);
        match (&self.cert, &self.key) {
            (None, None) => Ok(builder.with_no_client_auth()),
            (Some(cert), Some(key)) => {
                let chain = certs("cert", cert)?;
                let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| file_err("key", key, e))?;
                builder.with_client_auth_cert(chain, key_der).map_err(|e| file_err("key", key, format!("does not fit the certificate: {e}")))
            }
            _ => Err(MqttTlsError::HalfClientIdentity),
        }
    }

    /// The transport for rumqttc.
    pub fn transport(&self) -> Result<rumqttc::Transport, MqttTlsError> {
        let cfg = self.client_config()?;
        Ok(rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(Arc::new(cfg))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_malformed_files_name_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = MqttTlsConfig { ca: dir.path().join("nope.pem"), cert: None, key: None };
        let e = cfg.client_config().unwrap_err().to_string();
        assert!(e.starts_with("mqtt.tls.ca ") && e.contains("nope.pem"), "{e}");
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let e = MqttTlsConfig { ca: junk.clone(), cert: None, key: None }.client_config().unwrap_err().to_string();
        assert!(e.contains("no PEM certificate"), "{e}");
        let e = MqttTlsConfig { ca: junk.clone(), cert: Some(junk), key: None }.client_config().unwrap_err().to_string();
        assert!(e.contains("mqtt.tls"), "{e}");
    }
}
