//! `[mqtt]`.

use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// Publish events over MQTT. With `false` the daemon still runs analytics and serves HTTP.
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "default_host")]
    pub host: String,
    #[serde(default = "default_port")]
    #[schemars(with = "u16")]
    pub port: toml::Spanned<u16>,
    /// "5" (default) or "3.1.1" for brokers without MQTT 5. Under 3.1.1 a broker cannot refuse a
    /// publication: one its ACL denies is acknowledged anyway and lost (see `mqtt::link`).
    #[serde(default)]
    pub protocol: super::link::Protocol,
    /// Client id; default `kaiteki-<device_id>`. Must be stable for a persistent session.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Root of the topic tree; device topics are `<topic_prefix>/<device_id>/…`.
    #[serde(default = "default_prefix")]
    pub topic_prefix: String,
    #[serde(default = "default_keep_alive")]
    pub keep_alive_s: u64,
    #[serde(default)]
    pub username: Option<String>,
    /// File holding the password (kept out of the config, which is often world-readable).
    #[serde(default)]
    pub password_file: Option<std::path::PathBuf>,
    /// Reconnect backoff bounds.
    #[serde(default = "default_reconnect_initial_ms")]
    pub reconnect_initial_ms: u64,
    #[serde(default = "default_reconnect_max_ms")]
    pub reconnect_max_ms: u64,
    /// Seconds between offers of the events the broker refused (MQTT 5), on the same connection; they
    /// are offered at every reconnect too.
    #[serde(default = "default_refused_retry_s")]
    pub refused_retry_s: u64,
    /// Also publish each event as FIWARE NGSI-LD entities (Smart Data Models: Alert, CrowdFlowObserved,
    /// TrafficFlowObserved; Device and PrivacyObject at start) on `…/ngsi-ld/{Type}`.
    #[serde(default)]
    pub ngsi_ld: bool,
    /// MQTT over TLS: the broker's CA, and a client certificate and key when the broker requires them.
    #[serde(default)]
    pub tls: Option<super::tls::MqttTlsConfig>,
}

fn yes() -> bool {
    true
}
fn default_host() -> String {
    "127.0.0.1".into()
}
fn default_port() -> toml::Spanned<u16> {
    toml::Spanned::new(0..0, 1883)
}
fn default_prefix() -> String {
    "kaiteki/v1".into()
}
fn default_keep_alive() -> u64 {
    30
}
fn default_reconnect_initial_ms() -> u64 {
    500
}
fn default_reconnect_max_ms() -> u64 {
    30_000
}
fn default_refused_retry_s() -> u64 {
    60
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            host: default_host(),
            port: default_port(),
            protocol: Default::default(),
            client_id: None,
            topic_prefix: default_prefix(),
            keep_alive_s: default_keep_alive(),
            username: None,
            password_file: None,
            reconnect_initial_ms: default_reconnect_initial_ms(),
            reconnect_max_ms: default_reconnect_max_ms(),
            refused_retry_s: default_refused_retry_s(),
            tls: None,
            ngsi_ld: false,
        }
    }
}

impl MqttConfig {
    /// With the file paths (TLS files, password file) resolved by `resolve` (relative to the config file).
    pub fn with_paths_resolved(&self, resolve: impl Fn(&std::path::Path) -> std::path::PathBuf) -> MqttConfig {
        MqttConfig {
            password_file: self.password_file.as_deref().map(&resolve),
            tls: self.tls.as_ref().map(|t| t.resolved(&resolve)),
            ..self.clone()
        }
    }

    /// Options every client of this device shares: broker address, keep-alive, credentials, and the
    /// transport (TLS when configured; never a fall-back to plain TCP). Callers add session, will and
    /// packet-size settings of their own.
    pub fn client_options(&self, client_id: String) -> Result<rumqttc::MqttOptions, super::tls::MqttTlsError> {
        let mut opts = rumqttc::MqttOptions::new(client_id, self.host.clone(), *self.port.get_ref());
        opts.set_keep_alive(std::time::Duration::from_secs(self.keep_alive_s.max(5)));
        if let Some(user) = &self.username {
            opts.set_credentials(user.clone(), self.password());
        }
        if let Some(t) = &self.tls {
            opts.set_transport(t.transport()?);
        }
        Ok(opts)
    }

    /// [`client_options`](Self::client_options) for an MQTT 5 client.
    pub fn client_options_v5(&self, client_id: String) -> Result<rumqttc::v5::MqttOptions, super::tls::MqttTlsError> {
        let mut opts = rumqttc::v5::MqttOptions::new(client_id, self.host.clone(), *self.port.get_ref());
        opts.set_keep_alive(std::time::Duration::from_secs(self.keep_alive_s.max(5)));
        if let Some(user) = &self.username {
            opts.set_credentials(user.clone(), self.password());
        }
        if let Some(t) = &self.tls {
            opts.set_transport(t.transport()?);
        }
        Ok(opts)
    }

    /// The password from `password_file` (empty, with an error logged, when it cannot be read).
    fn password(&self) -> String {
        match &self.password_file {
            Some(p) => std::fs::read_to_string(p).map(|s| s.trim_end().to_string()).unwrap_or_else(|e| {
                tracing::error!(file = %p.display(), error = %e, "cannot read the MQTT password file");
                String::new()
            }),
            None => String::new(),
        }
    }
}
