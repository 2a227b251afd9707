//! Process-wide settings made first thing in `main`.

/// Turns off transparent huge pages for this process unless `TOLLGATE_THP=1`.
///
/// mimalloc asks the kernel for huge pages on its 1 GiB heap reservation, so each 2 MiB of
/// heap the gateway touches becomes resident whole: the demo held 32 MiB of huge pages for
/// about 10 MiB ever allocated. With them off the heap is resident page by page. Pages that
/// are already huge (the few allocations before `main`) stay as they are.
#[allow(unsafe_code)]
pub fn no_transparent_huge_pages() {
    if std::env::var_os("TOLLGATE_THP").is_some_and(|v| v == "1") {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_THP_DISABLE takes plain integer arguments and touches no memory of
        // ours; a kernel without it returns EINVAL, which leaves things as they were.
        let _ = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    }
}
