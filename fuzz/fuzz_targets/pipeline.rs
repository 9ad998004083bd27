//! Segmentation, boilerplate, the keyword classifier and attribution on
//! arbitrary text; see `checks::pipeline` for the properties.

#![no_main]

mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    checks::pipeline(data);
});
