//! Keeping the agent's resident memory near what it really holds. glibc's
//! malloc gives each thread arena its own heap and keeps freed memory; an
//! agent that parses thousands of manifests per sync would otherwise keep
//! its peak for good.

/// Caps glibc's malloc arenas (call first thing in `main`, before threads).
pub fn limit_arenas() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only changes allocator tuning; it is called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Returns freed heap memory to the system (after a large sync).
pub fn release_free_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free memory held by the allocator.
    unsafe {
        libc::malloc_trim(0);
    }
}
