//! The sentence splitter on arbitrary text, in both line-break modes; see
//! `checks::split` for the properties.

#![no_main]

mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    checks::split(data);
});
