//! The memory allocator's settings for long runs.
//!
//! glibc's malloc gives each thread that allocates its own arena and raises
//! its mmap threshold as large blocks are freed; over a stream of windows
//! (read, score in parallel, write, free) every arena keeps its own
//! fragmented free memory, so a process's resident size wanders by a tenth
//! and its peak creeps up with the run's length. Measured on `stance score
//! --classifier keyword` over 10,000 corpus articles on two threads: resident
//! memory moved between 20.9 and 23.7 MB with the defaults, and stayed at
//! 20.3 to 20.6 MB with one arena and fixed 64 KiB mmap and trim thresholds.
//!
//! The thresholds are fixed, but high: the encoder allocates packing buffers
//! and activations of hundreds of KiB per matrix multiply, and with a 64 KiB
//! mmap threshold each was a fresh mapping, page-faulted in and unmapped
//! again: `stance bench encode eval/bench/corpus-sentences.txt` ran at 211
//! sentences/s in fp32 and 391 in int8 with 64 KiB, 268 and 449 with a
//! 32 MiB mmap and a 128 MiB trim threshold (medians of 5, same session).
//! Freed blocks then return to the one arena and are reused; the memory test
//! stays flat (20.4 and 20.6 MB for 1,000 articles against 20.9 and 20.8 MB
//! for 10,000, two runs). The rayon workers keep per-thread caches (glibc's
//! tcache), so one arena costs little contention. A variable from glibc's
//! own tunables set in the environment (`MALLOC_ARENA_MAX`, …) wins over
//! these defaults.

/// Applies the settings above (on Linux with glibc; a no-op elsewhere).
pub fn tune_for_streaming() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const SETTINGS: [(&str, libc::c_int, libc::c_int); 3] = [
            ("MALLOC_ARENA_MAX", libc::M_ARENA_MAX, 1),
            ("MALLOC_MMAP_THRESHOLD_", libc::M_MMAP_THRESHOLD, 32 << 20),
            ("MALLOC_TRIM_THRESHOLD_", libc::M_TRIM_THRESHOLD, 128 << 20),
        ];
        for (variable, parameter, value) in SETTINGS {
            if std::env::var_os(variable).is_none() {
                // SAFETY: mallopt only sets allocator parameters; these
                // values are in their documented ranges.
                unsafe { libc::mallopt(parameter, value) };
            }
        }
    }
}
