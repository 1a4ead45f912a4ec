//! Control-connection replies as the session reads them (codes, PWD, MDTM, SIZE announcements,
//! FEAT): nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ferroftp::fuzzing::replies(data);
});
