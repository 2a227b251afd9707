//! Request paths: normalisation never panics, its output never holds a dot segment or an
//! empty segment, and normalising the output again changes nothing.
#![no_main]
use tollgate::router::NormalizedPath;

libfuzzer_sys::fuzz_target!(|raw: &str| {
    let Ok(path) = NormalizedPath::parse(raw) else { return };
    for seg in path.segments() {
        assert!(!seg.is_empty() && seg != "." && seg != "..", "{raw:?} -> {seg:?}");
    }
    let encoded = path.encoded();
    let again = NormalizedPath::parse(&encoded).expect("normalised output parses");
    assert_eq!(again.segments(), path.segments(), "{raw:?}");
    assert_eq!(again.encoded(), encoded);
});
