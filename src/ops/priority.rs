//! Background work that must never slow paging (a backup copying the whole database) runs at
//! the lowest CPU and I/O priority. On Linux both are per thread, so only that thread yields.

/// Nice 19 and the idle I/O class for the calling thread; where that is not possible the work
/// just runs at normal priority.
pub fn lowest_for_this_thread() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the calling thread's own id; no memory is passed.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            if libc::setpriority(libc::PRIO_PROCESS, tid, 19) != 0 {
                tracing::debug!("cannot lower the backup thread's CPU priority");
            }
            // ioprio_set(IOPRIO_WHO_PROCESS, tid, IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT)
            const IOPRIO_WHO_PROCESS: libc::c_long = 1;
            const IOPRIO_IDLE: libc::c_long = 3 << 13;
            if libc::syscall(
                libc::SYS_ioprio_set,
                IOPRIO_WHO_PROCESS,
                tid as libc::c_long,
                IOPRIO_IDLE,
            ) != 0
            {
                tracing::debug!("cannot lower the backup thread's I/O priority");
            }
        }
    }
}
