//! Arbitrary bytes as an HLS playlist: parsing answers or names a line, never panics, and a
//! parsed playlist's references never leave the video's folder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::hls::{Playlist, Target};

const STORE: &str = "http://127.0.0.1:9000/videos/videos/v1/";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let lines = text.lines().count().max(1);
    for dir in ["", "720p/"] {
        match Playlist::parse(text.clone(), dir, STORE) {
            Ok(playlist) => {
                for reference in &playlist.references {
                    assert!(!reference.path.is_empty() && !reference.path.starts_with('/'));
                    assert!(!reference.path.split('/').any(|s| s == ".." || s == "." || s.is_empty()));
                    if reference.target == Target::Playlist {
                        assert!(reference.path.to_ascii_lowercase().ends_with(".m3u8"));
                    }
                }
                let written = playlist
                    .write(|_| true, |i| Ok::<_, ()>(format!("<{i}>")))
                    .expect("infallible");
                assert!(written.trim_start_matches('\u{feff}').starts_with("#EXTM3U"));
            }
            Err(error) => assert!(error.line >= 1 && error.line <= lines),
        }
    }
});
