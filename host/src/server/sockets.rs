//! Listening sockets, one per worker on the same address (`SO_REUSEPORT`).

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// Pending connections the kernel queues per socket (tokio's and std's default).
const BACKLOG: i32 = 1024;

/// Binds `workers` listening sockets on `address` (port 0: a free port, the same for
/// all) and returns the address bound. The address is first bound alone, without
/// `SO_REUSEPORT`: a port another process listens on is refused as taken, even when that
/// process shares its port the same way.
pub(super) fn bind(
    address: SocketAddr,
    workers: usize,
) -> io::Result<(SocketAddr, Vec<TcpListener>)> {
    if workers <= 1 {
        let listener = socket(address, false)?;
        return Ok((listener.local_addr()?, vec![listener]));
    }
    let probe = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    probe.set_reuse_address(true)?;
    probe.bind(&address.into())?;
    let bound = probe
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("not an IP socket"))?;
    let first = socket(bound, true)?;
    drop(probe);
    let mut sockets = vec![first];
    for _ in 1..workers {
        sockets.push(socket(bound, true)?);
    }
    Ok((bound, sockets))
}

fn socket(address: SocketAddr, reuse_port: bool) -> io::Result<TcpListener> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_share_one_port_and_a_taken_port_is_refused() {
        let any: SocketAddr = "127.0.0.1:0".parse().expect("address");
        let (address, sockets) = bind(any, 3).expect("bound");
        assert_eq!(sockets.len(), 3);
        for s in &sockets {
            assert_eq!(s.local_addr().expect("address"), address);
        }
        // Another gateway (or anything else) on the same port is refused, whether it
        // would share the port or not.
        for workers in [1, 2] {
            let err = bind(address, workers).expect_err("the port is taken");
            assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{workers} workers");
        }
        // Each socket accepts: a connection lands on one of them.
        let client = std::net::TcpStream::connect(address).expect("connect");
        drop(client);
        let (single, one) = bind(any, 1).expect("bound");
        assert_eq!(one.len(), 1);
        assert_ne!(single.port(), 0);
    }
}
