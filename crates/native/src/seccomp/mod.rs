//! Seccomp for container processes: docker's profile format (`profile`),
//! compiled by libseccomp into BPF in the parent (`compile`); the child
//! loads the program through the syscall seam as its last step before exec.

pub mod compile;
pub mod profile;

pub use compile::{compile, Program};
pub use profile::DEFAULT_PROFILE;

/// Which filter a process gets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    /// Docker's default profile.
    #[default]
    Default,
    /// No filter (`--security-opt seccomp=unconfined`, `RUN --security=insecure`).
    Unconfined,
    /// A docker-format JSON profile given by the user.
    Profile(String),
}

impl Policy {
    /// `None`/`"default"`: the default; `"unconfined"`: none; anything else is profile JSON.
    pub fn from_option(s: Option<&str>) -> Policy {
        match s {
            None | Some("default") => Policy::Default,
            Some("unconfined") => Policy::Unconfined,
            Some(json) => Policy::Profile(json.to_string()),
        }
    }

    /// The program for a process holding `caps`, or `None` when unconfined.
    pub fn program(&self, caps: u64) -> Result<Option<Program>, String> {
        match self {
            Policy::Default => compile(DEFAULT_PROFILE, caps).map(Some),
            Policy::Unconfined => Ok(None),
            Policy::Profile(json) => compile(json, caps).map(Some),
        }
    }
}
