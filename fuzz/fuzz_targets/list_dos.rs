//! DOS/IIS listing lines: the fuzzer's bytes follow a plausible date so that they reach the
//! size and name fields; nothing may panic.
#![no_main]

use chrono::TimeZone;
use ferroftp::listing::parse_list_line;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = chrono::Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
    let tail = String::from_utf8_lossy(data);
    for prefix in ["11-27-26  09:23PM ", "2026-11-27  21:23 ", "01-05-2023  12:00AM       <DIR> "] {
        let _ = parse_list_line(&format!("{prefix}{tail}"), "C:", now);
    }
});
