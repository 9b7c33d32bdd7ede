//! HTTPS for [`crate::FakeServer::start_tls`]: a throwaway CA and a certificate for
//! `127.0.0.1` and `localhost` signed by it, both made at start, and an axum listener that
//! does the TLS handshake. A self-hosted Mattermost with a private CA looks like this to a client.

use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// The server's TLS setup: the CA to trust (PEM) and the acceptor.
#[derive(Clone)]
pub struct Tls {
    pub ca_pem: String,
    pub acceptor: TlsAcceptor,
}

impl Tls {
    /// Makes a CA and a server certificate for `127.0.0.1` and `localhost`.
    ///
    /// # Errors
    /// Certificate generation failed.
    pub fn generate() -> anyhow::Result<Tls> {
        let ca_key = KeyPair::generate()?;
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "fakemm test CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key)?;

        let key = KeyPair::generate()?;
        let mut leaf = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])?;
        leaf.distinguished_name.push(DnType::CommonName, "fakemm");
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = leaf.signed_by(&key, &ca_cert, &ca_key)?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone(), ca_cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )?;
        Ok(Tls {
            ca_pem: ca_cert.pem(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }
}

/// A TCP listener whose connections are TLS. A failed handshake (a client that does not trust
/// the CA) is dropped and the next connection accepted.
pub struct TlsListener {
    pub tcp: TcpListener,
    pub acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let hs = tokio::time::timeout(Duration::from_secs(10), self.acceptor.accept(tcp));
            if let Ok(Ok(tls)) = hs.await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
