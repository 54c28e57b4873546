//! A TCP forwarder between the app and a real server (PostgreSQL) that can
//! be stopped and started again on the same port: a real outage, not a mock.
//! Stopped, it listens nowhere (a connect is refused, as when the server is
//! down) and every connection it carried is closed; started, it forwards
//! new connections again.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;

pub struct TcpGate {
    /// Where the gate listens (127.0.0.1, a port of its own).
    pub address: SocketAddr,
    target: SocketAddr,
    /// The accept loop while the gate is open.
    accepting: Mutex<Option<JoinHandle<()>>>,
    /// One task per forwarded connection; aborting it closes both sockets.
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl TcpGate {
    /// An open gate on a fresh loopback port, forwarding to `target`.
    pub async fn open(target: SocketAddr) -> TcpGate {
        let listener = listen(SocketAddr::from(([127, 0, 0, 1], 0)));
        let address = listener.local_addr().expect("gate address");
        let gate =
            TcpGate { address, target, accepting: Mutex::new(None), connections: Arc::new(Mutex::new(Vec::new())) };
        gate.serve(listener);
        gate
    }

    /// Close the port and every forwarded connection. Returns when nothing
    /// listens on the port any more.
    pub async fn stop(&self) {
        let accepting = self.accepting.lock().unwrap().take();
        if let Some(task) = accepting {
            task.abort();
            // Awaiting the aborted task drops its listener.
            let _ = task.await;
        }
        let connections: Vec<JoinHandle<()>> = std::mem::take(&mut *self.connections.lock().unwrap());
        for connection in connections {
            connection.abort();
            let _ = connection.await;
        }
        assert!(TcpStream::connect(self.address).await.is_err(), "the stopped gate still accepts connections");
    }

    /// Listen on the same port again.
    pub async fn start(&self) {
        assert!(self.accepting.lock().unwrap().is_none(), "the gate is open already");
        self.serve(listen(self.address));
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let target = self.target;
        let connections = self.connections.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { break };
                let forward = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                let mut connections = connections.lock().unwrap();
                connections.retain(|connection| !connection.is_finished());
                connections.push(forward);
            }
        });
        *self.accepting.lock().unwrap() = Some(task);
    }
}

impl Drop for TcpGate {
    fn drop(&mut self) {
        if let Some(task) = self.accepting.lock().unwrap().take() {
            task.abort();
        }
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }
}

/// A listener that may take the port back at once after `stop` (the closed
/// connections' TIME_WAIT would otherwise block the bind).
fn listen(address: SocketAddr) -> tokio::net::TcpListener {
    let socket = TcpSocket::new_v4().expect("gate socket");
    socket.set_reuseaddr(true).expect("SO_REUSEADDR");
    socket.bind(address).unwrap_or_else(|error| panic!("gate bind {address}: {error}"));
    socket.listen(128).expect("gate listen")
}
