//! The strict gold loader on arbitrary bytes against a fixed small article
//! set; see `checks::gold` for the properties.

#![no_main]

mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = checks::gold(data);
});
