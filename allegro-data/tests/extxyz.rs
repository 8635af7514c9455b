//! extxyz: every shared data file parses and round-trips; malformed input gives an error
//! naming file, frame and line, never a panic.

mod common;

use allegro_data::extxyz::{
    ReadOptions, WriteOptions, read_extxyz, read_extxyz_str, write_extxyz_string,
};
use allegro_data::{Error, InfoValue};

fn round_trip(name: &str, expect_frames: usize) {
    let path = common::data_file(name);
    let opts = ReadOptions::default();
    let a = read_extxyz(&path, &opts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.len(), expect_frames, "{name}");
    let text = write_extxyz_string(&a, &WriteOptions::default()).unwrap();
    let b = read_extxyz_str(&text, "written", &opts).unwrap();
    assert_eq!(a.len(), b.len());
    for (k, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x, y, "{name} frame {k} changed in write → read");
    }
    // And the written text is a fixed point.
    assert_eq!(
        write_extxyz_string(&b, &WriteOptions::default()).unwrap(),
        text
    );
}

#[test]
fn round_trip_xtb_organics() {
    round_trip("xtb-organics.xyz", 2253);
    let s = read_extxyz(
        common::data_file("xtb-organics.xyz"),
        &ReadOptions::default(),
    )
    .unwrap();
    let first = &s[0];
    assert_eq!(first.n_atoms(), 5);
    assert_eq!(first.labels.energy, Some(-113.5042794865646));
    assert_eq!(
        first.labels.forces.as_ref().unwrap()[0],
        [-1.00219672, 0.84058207, -0.71945196]
    );
    assert_eq!(
        first.labels.info["molecule"],
        InfoValue::Str("methane".into())
    );
    assert_eq!(first.labels.info["subset"], InfoValue::Str("train".into()));
    assert_eq!(first.cell, None);
    assert_eq!(first.pbc, [false; 3]);
}

#[test]
fn round_trip_emt_cuagau() {
    round_trip("emt-cuagau.xyz", 600);
    let s = read_extxyz(common::data_file("emt-cuagau.xyz"), &ReadOptions::default()).unwrap();
    assert_eq!(s[0].labels.energy, Some(11.938828190979539));
    assert!(s[0].labels.stress.is_some());
    assert_eq!(s[0].pbc, [true; 3]);
}

#[test]
fn round_trip_water_192() {
    round_trip("water-192.xyz", 1);
}

#[test]
fn round_trip_water_3000() {
    round_trip("water-3000.xyz", 1);
}

#[test]
#[ignore = "largest shared file; run with --ignored"]
fn round_trip_water_23559() {
    round_trip("water-23559.xyz", 1);
}

#[test]
fn every_shared_file_parses() {
    let dir = common::shared_dir().join("data");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("skipped: {} not found", dir.display());
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "xyz") && !p.ends_with("water-23559.xyz") {
            read_extxyz(&p, &ReadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

const GOOD: &str = "2\nLattice=\"5 0 0 0 5 0 0 0 5\" Properties=species:S:1:pos:R:3:forces:R:3 energy=-1.0 pbc=\"T T T\"\nH 0 0 0 1 0 0\nH 1 0 0 -1 0 0\n";

fn parse_err(text: &str) -> String {
    match read_extxyz_str(text, "bad.xyz", &ReadOptions::default()) {
        Err(e) => e.to_string(),
        Ok(s) => panic!("expected an error, parsed {} frames", s.len()),
    }
}

#[test]
fn labels_info_and_extras_round_trip() {
    let text = "3\nLattice=\"4 0 0 1 4 0 0 0.5 4\" Properties=species:S:1:pos:R:3:REF_forces:R:3:tags:I:1:mask:L:1:name:S:1:vel:R:3 \
        REF_energy=-3.25 REF_stress=\"1 2 3 4 5 6\" virial=\"1 2 3 2 4 5 3 5 6\" molecule=\"water molecule\" step=7 \
        temp=300.0 flag ids=\"1 2 3\" one=[2.5] pbc=\"T F T\"\n\
        O 0.0 0.1 0.2 1 2 3 5 T a 0.1 0.2 0.3\nH 1e-20 1.0 2.0 4 5 6 6 F b 1 2 3\nH -0.0 3.0 2.0 7 8 9 7 T c 0 0 0\n";
    let opts = ReadOptions {
        energy_keys: vec!["REF_energy".into()],
        ..Default::default()
    };
    let a = read_extxyz_str(text, "t", &opts).unwrap();
    let s = &a[0];
    assert_eq!(s.labels.energy, Some(-3.25));
    assert_eq!(s.labels.forces.as_ref().unwrap()[2], [7.0, 8.0, 9.0]);
    let st = s.labels.stress.unwrap();
    assert_eq!(st, [[1.0, 6.0, 5.0], [6.0, 2.0, 4.0], [5.0, 4.0, 3.0]]);
    assert_eq!(s.labels.virial.unwrap()[1], [2.0, 4.0, 5.0]);
    assert_eq!(s.pbc, [true, false, true]);
    assert_eq!(
        s.labels.info["molecule"],
        InfoValue::Str("water molecule".into())
    );
    assert_eq!(s.labels.info["step"], InfoValue::Int(7));
    assert_eq!(s.labels.info["temp"], InfoValue::Real(300.0));
    assert_eq!(s.labels.info["flag"], InfoValue::Bool(true));
    assert_eq!(s.labels.info["ids"], InfoValue::IntArray(vec![1, 2, 3]));
    assert_eq!(s.labels.info["one"], InfoValue::RealArray(vec![2.5]));
    assert_eq!(s.labels.arrays.len(), 4);
    let back = read_extxyz_str(
        &write_extxyz_string(&a, &WriteOptions::default()).unwrap(),
        "w",
        &opts,
    );
    // Written with the default key `energy`, so read back with the defaults.
    let back2 = read_extxyz_str(
        &write_extxyz_string(&a, &WriteOptions::default()).unwrap(),
        "w",
        &ReadOptions::default(),
    )
    .unwrap();
    assert!(back.unwrap()[0].labels.energy.is_none());
    assert_eq!(back2, a);
}

#[test]
fn errors_name_file_frame_line() {
    // Sanity: the good text parses, twice over.
    assert_eq!(
        read_extxyz_str(&format!("{GOOD}{GOOD}"), "ok", &ReadOptions::default())
            .unwrap()
            .len(),
        2
    );

    let two = |second: &str| format!("{GOOD}{second}");
    let cases: Vec<(String, &str)> = vec![
        (
            two("2\nProperties=species:S:1:pos:R:3\nH 0 0 0\n"),
            "bad.xyz:8 (frame 1): file ends after 1 of 2 atom lines (truncated)",
        ),
        (
            two("2\n"),
            "bad.xyz:6 (frame 1): file ends before the comment line (truncated)",
        ),
        (
            two("2\nProperties=species:S:1:pos:R:3\nH 0 0 0\nH 0 0\n"),
            "bad.xyz:8 (frame 1): expected 4 columns, found 3",
        ),
        (
            two("2\nProperties=species:S:1:pos:R:3\nH 0 0 0\nH 0 x 0\n"),
            "bad.xyz:8 (frame 1): column 3 (pos): \"x\" is not a number",
        ),
        (
            two("2\nProperties=species:S:1:pos:R:3\nH 0 0 0\nH 0 nan 0\n"),
            "bad.xyz:8 (frame 1): column 3 (pos): \"nan\" is not finite",
        ),
        (
            two("two\n"),
            "bad.xyz:5 (frame 1): expected the number of atoms, found \"two\"",
        ),
        (
            two("1\nLattice=\"1 0 0 2 0 0 0 0 1\" Properties=species:S:1:pos:R:3\nH 0 0 0\n"),
            "bad.xyz:6 (frame 1): singular Lattice",
        ),
        (
            two("1\nProperties=species:S:1:pos:R:3 pbc=\"T T T\"\nH 0 0 0\n"),
            "bad.xyz:6 (frame 1): pbc [true, true, true] but no Lattice",
        ),
        (
            two("1\nProperties=species:S:1:pos:R:3 a=\"open\nH 0 0 0\n"),
            "bad.xyz:6 (frame 1): unclosed quote",
        ),
        (
            two("1\nProperties=species:S:1\nH\n"),
            "bad.xyz:6 (frame 1): Properties has no pos:R:3",
        ),
        (
            two("1\nProperties=species:S:1:pos:R:2\nH 0 0\n"),
            "Properties: \"pos\" must be R:3",
        ),
        (
            two("1\nenergy=abc\nH 0 0 0\n"),
            "energy \"energy\" must be a finite number",
        ),
        (
            two("1\nstress=\"1 2 3\"\nH 0 0 0\n"),
            "stress \"stress\" must be 9 or 6 finite numbers",
        ),
        // Found by cargo fuzz: a huge count must not allocate up front.
        (
            two("444444444444444445\n5\n52"),
            "bad.xyz:7 (frame 1): expected 4 columns, found 1",
        ),
        (
            two("1\nProperties=species:S:1:pos:R:3:x:R:18446744073709551615\nH 0 0 0\n"),
            "bad column count",
        ),
    ];
    for (text, want) in cases {
        let got = parse_err(&text);
        assert!(
            got.starts_with(want) || got.contains(want),
            "got {got:?}, want {want:?}"
        );
    }
    assert!(matches!(
        read_extxyz_str("1\n\nH 0 0 0\n\n\n", "x", &ReadOptions::default()),
        Ok(v) if v.len() == 1
    ));
    match read_extxyz(
        common::repo_root().join("no-such-file.xyz"),
        &ReadOptions::default(),
    ) {
        Err(Error::Io { path, .. }) => assert!(path.ends_with("no-such-file.xyz")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn streaming_reader_stops_after_error() {
    let text = format!("{GOOD}1\nProperties=species:S:1:pos:R:3\nH 0 0\n{GOOD}");
    let mut it =
        allegro_data::extxyz::ExtxyzReader::new(text.as_bytes(), "s", ReadOptions::default());
    assert!(it.next().unwrap().is_ok());
    assert!(it.next().unwrap().is_err());
    assert!(it.next().is_none());
}
