//! MLSD listings: any bytes parse without a panic, and every entry is well formed.
#![no_main]

use chrono::TimeZone;
use ferroftp::listing::{ListingFormat, parse_listing};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = chrono::Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
    for e in parse_listing(data, "/dir", ListingFormat::Mlsd, now) {
        assert!(!e.name.is_empty() && !e.name.contains('/'));
        assert!(e.path.starts_with("/dir/"));
    }
});
