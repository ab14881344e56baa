//! Zero-copy file bodies: a blob's bytes go from the page cache to the socket with
//! `sendfile`, as nginx sends static files, instead of being read into memory and written
//! back out (two copies of every byte; `bench/serve.py` measured the difference).
//!
//! hyper writes every response, so the body cannot hand it a file descriptor. Instead, a
//! body yields *stand-in* pieces: slices of one static buffer ([`STAND_IN`]), each announced
//! first on its connection's [`Sends`] queue with the file, offset and length it stands for.
//! hyper queues body pieces without copying them (its vectored-write strategy, chosen because
//! the connection's I/O says it writes vectors) and passes them, in order, to the
//! connection's `poll_write_vectored` ([`crate::server`]), which recognises a stand-in by its
//! address and sends the announced bytes with `sendfile` instead. A stand-in that reaches the
//! socket without its announcement is an error, never zeros on the wire.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::sync::{Arc, Mutex};

/// The largest piece a stand-in can stand for (no memory is behind it: fewer, larger pieces
/// cost fewer polls and system calls).
pub(crate) const MAX_PIECE: usize = 4 * 1024 * 1024;

/// The static buffer stand-ins are sliced from (never read nor sent: its pages are never
/// touched, so it takes no memory).
static STAND_IN: [u8; MAX_PIECE] = [0; MAX_PIECE];

/// The file pieces a connection's bodies announced and the socket has not sent yet, in order.
#[derive(Debug, Default)]
pub(crate) struct Sends {
    queue: Mutex<VecDeque<Piece>>,
}

#[derive(Debug)]
struct Piece {
    file: Arc<File>,
    offset: u64,
    left: usize,
}

impl Sends {
    /// Announces `len` (at most [`MAX_PIECE`]) bytes of `file` at `offset`, and returns the
    /// stand-in to yield in their place.
    pub(crate) fn announce(&self, file: &Arc<File>, offset: u64, len: usize) -> bytes::Bytes {
        let len = len.min(MAX_PIECE);
        self.lock().push_back(Piece { file: Arc::clone(file), offset, left: len });
        bytes::Bytes::from_static(&STAND_IN[..len])
    }

    /// Sends up to `max` bytes of the oldest announced piece to `socket` (non-blocking):
    /// `WouldBlock` when the socket is full.
    pub(crate) fn send(&self, socket: &impl std::os::fd::AsFd, max: usize) -> io::Result<usize> {
        let mut queue = self.lock();
        let Some(piece) = queue.front_mut() else {
            return Err(io::Error::other("a file piece reached the socket without its file"));
        };
        let mut offset = piece.offset;
        let sent = rustix::fs::sendfile(socket, &*piece.file, Some(&mut offset), max.min(piece.left))?;
        if sent == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the blob got shorter while it was sent"));
        }
        piece.offset += sent as u64;
        piece.left -= sent;
        if piece.left == 0 {
            queue.pop_front();
        }
        Ok(sent)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Piece>> {
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Whether `buf` is (part of) a stand-in.
pub(crate) fn is_stand_in(buf: &[u8]) -> bool {
    let (at, start) = (buf.as_ptr() as usize, STAND_IN.as_ptr() as usize);
    !buf.is_empty() && at >= start && at < start + MAX_PIECE
}
