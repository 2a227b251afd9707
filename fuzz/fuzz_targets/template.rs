//! Templates: parsing never panics in either mode.
#![no_main]
use tollgate::template::{Mode, Template};

libfuzzer_sys::fuzz_target!(|text: &str| {
    let _ = Template::parse(text, Mode::Url);
    let _ = Template::parse(text, Mode::Text);
});
