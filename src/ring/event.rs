// SPDX-License-Identifier: MIT OR Apache-2.0
//! The event the ring delivers (`struct evfd_event`), and one constructor
//! per kind of event, so every place that makes an event fills the same
//! fields the same way.

pub const KIND_OVERFLOW: u32 = 0;
pub const KIND_FD: u32 = 1;
pub const KIND_SIGNAL: u32 = 2;
pub const KIND_TIMER: u32 = 3;
pub const KIND_FUTEX: u32 = 4;
pub const KIND_USER: u32 = 5;

/// One delivered event; the C boundary's `struct evfd_event` has the same
/// layout (checked at compile time there).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Event {
    pub udata: u64,
    pub kind: u32,
    pub error: i32,
    pub value: u64,
    pub revents: u32,
    pub signo: u32,
    pub code: i32,
    pub pid: u32,
    pub uid: u32,
    pub status: i32,
    pub reserved: [u8; 16],
}

const _: () = assert!(core::mem::size_of::<Event>() == 64);
const _: () = assert!(core::mem::align_of::<Event>() == 8);

const POLLIN: u32 = libc::POLLIN as u32;

impl Event {
    /// A post (`evfd_ring_post`).
    pub fn user(udata: u64, value: u64) -> Event {
        Event {
            udata,
            kind: KIND_USER,
            value,
            ..Event::default()
        }
    }

    /// An fd's readiness, `revents` as poll reports it.
    pub fn fd_ready(udata: u64, revents: u32) -> Event {
        Event {
            udata,
            kind: KIND_FD,
            revents,
            ..Event::default()
        }
    }

    /// The count read from a ready eventfd or timerfd.
    pub fn fd_count(udata: u64, value: u64) -> Event {
        Event {
            udata,
            kind: KIND_FD,
            value,
            revents: POLLIN,
            ..Event::default()
        }
    }

    /// A timer's `expirations` since its last event.
    pub fn timer(udata: u64, expirations: u64) -> Event {
        Event {
            udata,
            kind: KIND_TIMER,
            value: expirations,
            ..Event::default()
        }
    }

    /// A futex wake-up (`error` 0), or its wait refused (`EAGAIN`).
    pub fn futex(udata: u64, error: i32) -> Event {
        Event {
            udata,
            kind: KIND_FUTEX,
            error,
            ..Event::default()
        }
    }

    /// The source of `kind` failed with `errno` and is gone.
    pub fn failed(udata: u64, kind: u32, errno: i32) -> Event {
        Event {
            udata,
            kind,
            error: errno,
            ..Event::default()
        }
    }

    /// One signal, from the record a signalfd gave.
    pub fn signal(udata: u64, si: &libc::signalfd_siginfo) -> Event {
        Event {
            udata,
            kind: KIND_SIGNAL,
            value: si.ssi_ptr,
            signo: si.ssi_signo,
            code: si.ssi_code,
            pid: si.ssi_pid,
            uid: si.ssi_uid,
            status: si.ssi_status,
            ..Event::default()
        }
    }

    /// The ring's report that the kernel dropped `lost` completions.
    pub fn overflow(lost: u64) -> Event {
        Event {
            kind: KIND_OVERFLOW,
            error: libc::EOVERFLOW,
            value: lost,
            ..Event::default()
        }
    }

    /// Whether this is an event of a source registered with `udata`: not a
    /// post (posts stay after remove) and not the overflow record (it
    /// belongs to no source).
    pub fn is_from_source(&self, udata: u64) -> bool {
        self.kind != KIND_USER && self.kind != KIND_OVERFLOW && self.udata == udata
    }
}
