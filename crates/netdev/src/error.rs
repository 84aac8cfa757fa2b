//! The one error type of the crate.

/// Why a local bridge device operation failed.
///
/// The `Display` texts are meant for an administrator: [`NetdevError::MissingCapability`]
/// names the capability and the three usual remedies, so the server can show it as is
/// (SoftEther 5.01 only answers error 84 "Local Bridge cannot be used", see
/// docs/process-model.md §9.1).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetdevError {
    /// The process lacks a capability the operation needs. `cap` is `"CAP_NET_RAW"`
    /// (any raw socket) or `"CAP_NET_ADMIN"` (promiscuous mode, offload changes, TAP
    /// devices); `action` says what was attempted, e.g. `open raw socket on eth0`.
    #[error(
        "{action}: the process lacks {cap}. Run it as root, or grant the capabilities to the \
         program (setcap cap_net_raw,cap_net_admin+ep <program>), or under systemd set \
         AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN"
    )]
    MissingCapability {
        /// `"CAP_NET_RAW"` or `"CAP_NET_ADMIN"`.
        cap: &'static str,
        /// What was attempted.
        action: String,
    },
    /// No network interface of that name exists (in the caller's network namespace).
    #[error("no network interface named {0:?}")]
    NoSuchDevice(String),
    /// The interface name is longer than the kernel's limit of 15 bytes (`IFNAMSIZ - 1`).
    /// Holds the name that was refused (for a TAP device: the full `tap_<name>`).
    #[error("interface name {0:?} is longer than 15 bytes")]
    NameTooLong(String),
    /// The interface name is empty or holds a character the kernel refuses
    /// (`/`, `:`, whitespace, NUL), or is `.` / `..`.
    #[error("invalid interface name {0:?}")]
    InvalidName(String),
    /// The interface this device was opened on was deleted (or renamed) while open.
    /// The device is useless from now on; reopen it by name ([`crate::ResilientDevice`]
    /// does that automatically).
    #[error("network interface {0:?} has disappeared")]
    Gone(String),
    /// A received frame was longer than the caller's buffer; `len` bytes were available,
    /// `cap` fit. The frame was consumed (the first `cap` bytes are in the buffer).
    #[error("frame of {len} bytes truncated to the {cap}-byte buffer")]
    Truncated {
        /// Full length of the frame.
        len: usize,
        /// Size of the caller's buffer.
        cap: usize,
    },
    /// A frame given to `send` is not a valid Ethernet frame for the device: shorter than
    /// the 14-byte Ethernet header, or longer than the interface MTU allows (`EMSGSIZE`).
    #[error("cannot send a {len}-byte frame: {reason}")]
    BadFrame {
        /// Length of the refused frame.
        len: usize,
        /// Why it was refused.
        reason: &'static str,
    },
    /// Any other system call failure; `action` names the call and the interface.
    #[error("{action}: {source}")]
    Io {
        /// What was attempted, e.g. `SIOCETHTOOL ETHTOOL_SFEATURES on eth0`.
        action: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Local bridging is only implemented on Linux.
    #[error("local bridge devices are only supported on Linux")]
    Unsupported,
}

impl NetdevError {
    /// Build an [`NetdevError::Io`] from an action text and an OS error.
    pub fn io(action: impl Into<String>, source: std::io::Error) -> Self {
        NetdevError::Io {
            action: action.into(),
            source,
        }
    }

    /// `true` for the errors after which the device must be closed and reopened by name
    /// ([`NetdevError::Gone`], [`NetdevError::NoSuchDevice`]).
    pub fn is_gone(&self) -> bool {
        matches!(self, NetdevError::Gone(_) | NetdevError::NoSuchDevice(_))
    }
}

/// Result alias of the crate.
pub type Result<T, E = NetdevError> = std::result::Result<T, E>;
