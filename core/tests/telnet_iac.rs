//! Names holding the byte 0xFF (Telnet's IAC) and double quotes, through every kind of command:
//! arguments of control commands, data commands (RETR, STOR, LIST/MLSD, NLST), quoted 257
//! replies (PWD after CWD, MKD) and listings.
//!
//! vsftpd reads command lines byte for byte and doubles 0xFF in its replies, so 0xFF must go out
//! as one byte and come back undoubled; over TLS as well. pyftpdlib decodes commands as UTF-8
//! and replaces undecodable bytes, so no name with the byte 0xFF can be reached through it by
//! any client: there the same operations run on names with U+00FF ("ÿ", bytes C3 BF) and
//! quotes, which must keep working.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use common::{Kind, Server};
use ferroftp::blocking::Session;
use ferroftp::names::{decode, encode};

/// The names one run works with (raw bytes as they are on the server's disk).
struct Names {
    /// A file created on disk, then read, downloaded, renamed and removed.
    file: &'static [u8],
    /// A directory created on disk, entered with CWD (PWD must give it back).
    dir: &'static [u8],
    /// A directory created with MKD.
    made: &'static [u8],
    /// A file uploaded with STOR.
    upload: &'static [u8],
}

const IAC_NAMES: Names = Names {
    file: b"a\xffb.txt",
    dir: b"d\xff\"q",
    made: b"m\xff\xff\"k\xe9",
    upload: b"\xffup\xff",
};

const UTF8_NAMES: Names = Names {
    file: "a\u{ff}b.txt".as_bytes(),
    dir: "d\u{ff}\"q".as_bytes(),
    made: "m\u{ff}\u{ff}\"k\u{e9}".as_bytes(),
    upload: "\u{ff}up\u{ff}".as_bytes(),
};

fn on_disk(local: &Path, name: &[u8]) -> std::path::PathBuf {
    local.join(OsStr::from_bytes(name))
}

/// The remote path `/<dir>/<name>` as ferroftp strings carry it.
fn remote(dir: &str, name: &[u8]) -> String {
    format!("{dir}/{}", decode(name))
}

fn round_trip(server: &'static Server, tag: &str, n: &Names) {
    let (dir, local) = server.dir(&format!("iac-{tag}"));
    let content = common::data(70_000, 7);
    std::fs::write(on_disk(&local, n.file), &content).unwrap();
    std::fs::create_dir(on_disk(&local, n.dir)).unwrap();
    for p in [on_disk(&local, n.file), on_disk(&local, n.dir)] {
        std::os::unix::fs::chown(&p, Some(server.uid), Some(server.gid)).unwrap();
    }

    let s = Session::connect_with(server.config()).unwrap();

    // Listing (MLSD or LIST over the data connection) and NLST give the names' bytes.
    let entries = s.list(&dir).unwrap();
    let mut listed: Vec<Vec<u8>> = entries.iter().map(|e| e.name_bytes()).collect();
    listed.sort();
    let mut expected = vec![n.file.to_vec(), n.dir.to_vec()];
    expected.sort();
    assert_eq!(listed, expected, "{entries:?}");
    let mut names: Vec<Vec<u8>> = s.names(&dir).unwrap().iter().map(|n| encode(n)).collect();
    names.sort();
    assert_eq!(names, expected);

    // Control commands and RETR on the listed path.
    let f = entries.iter().find(|e| e.name_bytes() == n.file).unwrap();
    assert_eq!(f.path, remote(&dir, n.file));
    assert_eq!(s.size(&f.path).unwrap(), content.len() as u64);
    assert!(s.exists(&f.path).unwrap());
    s.modified(&f.path).unwrap();
    assert_eq!(s.read_bytes(&f.path).unwrap(), content);
    let scratch = server.scratch(&format!("iac-{tag}"));
    let target = scratch.join("down.bin");
    s.download(&f.path, &target, Default::default()).unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), content);

    // CWD into a directory with 0xFF and a quote: PWD's quoted (and, on vsftpd, IAC-doubled)
    // reply gives the same path back; a relative name then works there too.
    let d = remote(&dir, n.dir);
    s.cwd(&d).unwrap();
    assert_eq!(s.pwd().unwrap(), d);
    s.write_bytes(&decode(n.upload), b"inside").unwrap();
    assert_eq!(
        std::fs::read(on_disk(&on_disk(&local, n.dir), n.upload)).unwrap(),
        b"inside"
    );
    s.cwd("/").unwrap();

    // MKD and STOR create exactly the bytes asked for.
    let made = remote(&dir, n.made);
    s.mkdir(&made, false).unwrap();
    assert!(on_disk(&local, n.made).is_dir());
    s.cwd(&made).unwrap();
    assert_eq!(s.pwd().unwrap(), made);
    s.cwd("/").unwrap();
    let up = remote(&dir, n.upload);
    s.upload(&target, &up, Default::default()).unwrap();
    assert_eq!(std::fs::read(on_disk(&local, n.upload)).unwrap(), content);

    // RNFR/RNTO, DELE, RMD.
    let old = format!("{}.old", f.path);
    s.rename(&f.path, &old).unwrap();
    assert!(on_disk(&local, &[n.file, b".old"].concat()).exists());
    s.remove(&old).unwrap();
    s.remove(&up).unwrap();
    s.rmdir(&made, false).unwrap();
    s.rmdir(&d, true).unwrap();
    assert_eq!(std::fs::read_dir(&local).unwrap().count(), 0);
    s.close().unwrap();
}

#[test]
fn vsftpd_names_with_iac() {
    round_trip(Server::shared(Kind::Vsftpd), "vsftpd", &IAC_NAMES);
}

#[test]
fn vsftpd_tls_names_with_iac() {
    round_trip(Server::shared_tls(Kind::Vsftpd), "vsftpd-tls", &IAC_NAMES);
}

#[test]
fn pyftpdlib_names_with_y_diaeresis_and_quotes() {
    round_trip(Server::shared(Kind::Pyftpdlib), "pyftpdlib", &UTF8_NAMES);
}
