//! The accept loop: TLS (optional), hyper's automatic HTTP/1.1 + HTTP/2, and graceful
//! shutdown that lets in-flight requests finish within a grace period.

use arc_swap::ArcSwap;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::CertificateDer;
use rustls::ServerConfig;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::connections::{Activity, ConnectionLimits, ConnectionSettings, Watched};
use crate::metrics::Metrics;

type Tls = tokio_rustls::server::TlsStream<Watched<TcpStream>>;

/// The client certificate chain of the TLS connection a request came on (leaf first),
/// present only when the client sent one.
#[derive(Debug, Clone)]
pub struct PeerCertificates(pub Arc<Vec<CertificateDer<'static>>>);

pub struct ServeOptions {
    /// `None` serves plain HTTP (behind a TLS-terminating proxy only). The configuration
    /// is read per connection, so a new one can be swapped in without a restart.
    pub tls: Option<Arc<ArcSwap<ServerConfig>>>,
    pub handshake_timeout: Duration,
    pub shutdown_grace: Duration,
    /// Connection limits and timeouts.
    pub connections: ConnectionSettings,
    /// Where refused and timed-out connections are counted.
    pub metrics: Option<Arc<Metrics>>,
}

/// Serves `router` on `listener` until `shutdown` completes, then drains connections
/// for at most the grace period.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) {
    let tls = options.tls;
    let graceful = GracefulShutdown::new();
    let limits = ConnectionLimits::new(options.connections);
    let settings = limits.settings().clone();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(128)
        .keep_alive_interval(settings.idle_timeout / 2)
        .keep_alive_timeout(settings.header_read_timeout);
    let metrics = options.metrics;
    let count = move |event: &str| {
        if let Some(metrics) = &metrics {
            metrics.record_connection_refused(event);
        }
    };
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let guard = match limits.admit(peer.ip()) {
            Ok(guard) => guard,
            Err(refused) => {
                // Closed at once: a client over its share gets no slot, and no log line
                // per connection (a flood would flood the log too); counted instead.
                count(refused.code());
                drop(stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let activity = Activity::new();
        let stream = Watched::new(stream, activity.clone());
        let count = count.clone();
        let idle_timeout = settings.idle_timeout;
        let router = router.clone();
        let acceptor = tls
            .as_ref()
            .map(|config| TlsAcceptor::from(config.load_full()));
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let handshake_timeout = options.handshake_timeout;
        tokio::spawn(async move {
            let _guard = guard;
            let with_peer = move |certificates: Option<PeerCertificates>| {
                let service = router.map_request(move |mut request: axum::extract::Request<_>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    if let Some(certificates) = &certificates {
                        request.extensions_mut().insert(certificates.clone());
                    }
                    request
                });
                TowerToHyperService::new(service)
            };
            let served = async {
                match acceptor {
                    Some(acceptor) => {
                        let tls = match handshake(acceptor, stream, handshake_timeout).await {
                            Ok(tls) => tls,
                            Err(refused) => {
                                // TLS refused before any page could explain: logged and
                                // counted, so that a certificate the handshake cannot take
                                // is seen by the operator.
                                tracing::info!(%peer, code = refused.code, reason = %refused.reason, "TLS handshake failed");
                                count(refused.code);
                                return Ok(());
                            }
                        };
                        let certificates = peer_certificates(&tls);
                        let conn = builder.serve_connection_with_upgrades(
                            TokioIo::new(tls),
                            with_peer(certificates),
                        );
                        watcher.watch(conn.into_owned()).await
                    }
                    None => {
                        let conn = builder
                            .serve_connection_with_upgrades(TokioIo::new(stream), with_peer(None));
                        watcher.watch(conn.into_owned()).await
                    }
                }
            };
            let result = tokio::select! {
                result = served => result,
                () = activity.idle_for(idle_timeout) => {
                    // Nothing moved for the idle timeout: the connection is dropped here.
                    count("CONNECTION_IDLE_TIMEOUT");
                    Ok(())
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: draining open connections");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(options.shutdown_grace) => {
            tracing::warn!("grace period over; closing remaining connections");
        }
    }
}

/// The client's certificate chain from a completed handshake, if it sent one.
fn peer_certificates(tls: &Tls) -> Option<PeerCertificates> {
    let chain = tls.get_ref().1.peer_certificates()?;
    (!chain.is_empty()).then(|| {
        PeerCertificates(Arc::new(
            chain.iter().map(|c| c.clone().into_owned()).collect(),
        ))
    })
}

/// Why a handshake did not complete.
struct HandshakeRefused {
    code: &'static str,
    reason: String,
}

async fn handshake(
    acceptor: TlsAcceptor,
    stream: Watched<TcpStream>,
    timeout: Duration,
) -> Result<Tls, HandshakeRefused> {
    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(e)) => Err(HandshakeRefused {
            code: "TLS_HANDSHAKE_FAILED",
            reason: e.to_string(),
        }),
        Err(_) => Err(HandshakeRefused {
            code: "TLS_HANDSHAKE_TIMEOUT",
            reason: "no handshake within the timeout".into(),
        }),
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received");
}
