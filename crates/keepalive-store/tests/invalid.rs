//! Stores we must refuse: invalid JSON, missing files, symlinks. Each leaves the file
//! byte-identical and no temp or lock file behind.

mod common;

use std::fs;

use common::*;
use keepalive_store::{RoundOptions, StoreError, bump_store, read_keys};

fn deep(depth: usize) -> Vec<u8> {
    let mut v = b"{\"agent:main:main\":{\"updatedAt\":1,\"x\":".to_vec();
    v.extend(std::iter::repeat_n(b'[', depth));
    v
}

#[test]
fn invalid_stores_are_left_alone() {
    let good = fixture("basic-6.json");
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(&good);
    let mut nul = good.clone();
    nul.push(0);
    let mut nul_inside = good.clone();
    nul_inside[30] = 0;
    let mut bad_utf8 = good.clone();
    bad_utf8[20] = 0xFF;
    let mut garbage = good.clone();
    garbage.extend_from_slice(b"\n}");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("whitespace", b"  \n".to_vec()),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("truncated by one", good[..good.len() - 1].to_vec()),
        ("array", b"[{\"updatedAt\":1}]".to_vec()),
        ("string", b"\"sessions\"".to_vec()),
        ("bom", bom),
        ("nul after", nul),
        ("nul inside", nul_inside),
        ("invalid utf-8", bad_utf8),
        ("trailing garbage", garbage),
        ("deep unclosed", deep(100_000)),
    ];
    for (what, bytes) in cases {
        let (_tmp, store) = store_with(&bytes);
        for dry_run in [false, true] {
            let o = RoundOptions {
                dry_run,
                ..opts(NOW, &updated)
            };
            let err = bump_store(&store, &o).unwrap_err();
            assert!(matches!(err, StoreError::Invalid { .. }), "{what}: {err}");
            assert_eq!(err.code(), "store_invalid");
            let msg = err.to_string();
            assert!(
                msg.contains("byte") && msg.contains("left untouched"),
                "{what}: {msg}"
            );
            assert_eq!(fs::read(&store).unwrap(), bytes, "{what}");
            assert_eq!(listing(&store), ["sessions.json"], "{what}");
        }
        assert!(
            matches!(read_keys(&store), Err(StoreError::Invalid { .. })),
            "{what}"
        );
    }
}

#[test]
fn deep_but_valid_nesting_is_fine() {
    let mut bytes = deep(100_000);
    bytes.extend(std::iter::repeat_n(b']', 100_000));
    bytes.extend_from_slice(b"}}");
    let (_tmp, store) = store_with(&bytes);
    let out = run(&store, NOW, &updated).unwrap();
    assert_eq!(out.bumped, ["agent:main:main"]);
    assert_eq!(
        replaced_timestamps(&bytes, &fs::read(&store).unwrap(), NOW),
        1
    );
}

#[test]
fn missing_store() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("sessions.json");
    let err = run(&store, NOW, &updated).unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert_eq!(err.code(), "store_not_found");
    assert!(matches!(
        read_keys(&store),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    let err = run(&tmp.path().join("nope/sessions.json"), NOW, &updated).unwrap_err();
    assert_eq!(err.code(), "store_not_found");
}

#[test]
fn symlinked_store_is_refused_for_writing() {
    let good = fixture("basic-6.json");
    let (tmp, target) = store_with(&good);
    let other = tmp.path().join("elsewhere");
    fs::create_dir(&other).unwrap();
    let link = other.join("sessions.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let err = run(&link, NOW, &updated).unwrap_err();
    assert_eq!(err.code(), "store_invalid");
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read(&target).unwrap(), good);
    assert_eq!(fs::read_dir(&other).unwrap().count(), 1);
    // Reading through it is harmless.
    assert_eq!(read_keys(&link).unwrap().len(), 6);
}

#[test]
fn directory_and_fifo_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("sessions.json");
    fs::create_dir(&d).unwrap();
    assert_eq!(run(&d, NOW, &updated).unwrap_err().code(), "store_invalid");
    let f = tmp.path().join("fifo.json");
    let c = std::ffi::CString::new(f.to_str().unwrap()).unwrap();
    // SAFETY: plain mkfifo on a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    assert_eq!(run(&f, NOW, &updated).unwrap_err().code(), "store_invalid");
    assert_eq!(read_keys(&f).unwrap_err().code(), "store_invalid");
}
