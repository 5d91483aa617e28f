//! Optional HTTPS (`[http.tls]`): crews open the dashboard on laptops next to a pole or in a depot, often
//! over a shared network; a configured certificate keeps their sessions and passwords off the air.
//! rustls with the ring provider (no OpenSSL), TLS 1.2 and 1.3, HTTP/1.1.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use schemars::JsonSchema;
use serde::Deserialize;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// `[http.tls]`: PEM files, read at start (relative paths are relative to the config file).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// The certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("certificate {path}: {why}")]
    Cert { path: String, why: String },
    #[error("private key {path}: {why}")]
    Key { path: String, why: String },
    #[error("certificate and key do not make a TLS configuration: {0}")]
    Config(String),
}

/// Every certificate in a PEM file (at least one); the error is the reason, for the caller to place.
/// Shared by HTTPS and MQTT over TLS.
pub(crate) fn read_pem_certs(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(path).map_err(|e| e.to_string())?.collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no PEM certificate in the file".into());
    }
    Ok(certs)
}

/// A handshake slower than this is dropped (a stalled client must not hold a task forever).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads and checks the certificate and key.
pub fn acceptor(cfg: &TlsConfig) -> Result<TlsAcceptor, TlsError> {
    let certs = read_pem_certs(&cfg.cert).map_err(|why| TlsError::Cert { path: cfg.cert.display().to_string(), why })?;
    let key = PrivateKeyDer::from_pem_file(&cfg.key)
        .map_err(|e| TlsError::Key { path: cfg.key.display().to_string(), why: e.to_string() })?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut sc = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    sc.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(sc)))
}

/// Serves `app` over TLS until `shutdown` resolves. Each connection knows its peer address (the
/// dashboard rate-limits logins per address); a failed handshake is logged and costs nothing else.
pub async fn serve(
    listener: tokio::net::TcpListener,
    acceptor: TlsAcceptor,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "HTTPS accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let app = app.clone().layer(axum::Extension(axum::extract::ConnectInfo::<SocketAddr>(peer)));
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return tracing::info!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => return tracing::info!(%peer, "TLS handshake timed out"),
            };
            let svc = hyper_util::service::TowerToHyperService::new(app);
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(tls), svc);
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "HTTPS connection ended with an error");
            }
        });
    }
}
