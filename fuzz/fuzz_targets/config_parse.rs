//! Any text: the config parser returns a config or an error, never panics.
#![no_main]
libfuzzer_sys::fuzz_target!(|text: &str| {
    let _ = tollgate::config::Config::from_yaml(text, "fuzz.yaml");
});
