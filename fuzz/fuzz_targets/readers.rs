//! The article readers on arbitrary bytes (`.txt` decoder, JSONL stream);
//! see `checks::readers` for the properties.

#![no_main]

mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    checks::readers(data);
});
