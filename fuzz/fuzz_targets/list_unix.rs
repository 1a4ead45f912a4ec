//! Unix `ls -l` lines: the fuzzer's bytes follow a plausible prefix so that they reach the
//! date and name fields; nothing may panic.
#![no_main]

use chrono::TimeZone;
use ferroftp::listing::{ListingFormat, parse_list_line, parse_listing};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = chrono::Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
    let tail = String::from_utf8_lossy(data);
    for prefix in ["-rw-r--r--   1 user group ", "drwxr-xr-x 2 0 0 4096 ", "lrwxrwxrwx 1 u g 7 Mar  3 10:00 "] {
        let _ = parse_list_line(&format!("{prefix}{tail}"), "/", now);
    }
    let _ = parse_listing(data, "/", ListingFormat::List, now);
});
