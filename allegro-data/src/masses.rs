//! Standard atomic masses (IUPAC 2016 conventional values, as ASE's default table),
//! for molecular dynamics.

/// Atomic masses in u by atomic number, `MASSES[z]`; index 0 (the dummy `X`) is 1.
/// Elements beyond radon are left out.
const MASSES: [f64; 87] = [
    1.0,
    1.008,
    4.002602,
    6.94,
    9.0121831,
    10.81,
    12.011,
    14.007,
    15.999,
    18.998403163,
    20.1797,
    22.98976928,
    24.305,
    26.9815385,
    28.085,
    30.973761998,
    32.06,
    35.45,
    39.948,
    39.0983,
    40.078,
    44.955908,
    47.867,
    50.9415,
    51.9961,
    54.938044,
    55.845,
    58.933194,
    58.6934,
    63.546,
    65.38,
    69.723,
    72.630,
    74.921595,
    78.971,
    79.904,
    83.798,
    85.4678,
    87.62,
    88.90584,
    91.224,
    92.90637,
    95.95,
    97.90721,
    101.07,
    102.90550,
    106.42,
    107.8682,
    112.414,
    114.818,
    118.710,
    121.760,
    127.60,
    126.90447,
    131.293,
    132.90545196,
    137.327,
    138.90547,
    140.116,
    140.90766,
    144.242,
    144.91276,
    150.36,
    151.964,
    157.25,
    158.92535,
    162.500,
    164.93033,
    167.259,
    168.93422,
    173.054,
    174.9668,
    178.49,
    180.94788,
    183.84,
    186.207,
    190.23,
    192.217,
    195.084,
    196.966569,
    200.592,
    204.38,
    207.2,
    208.98040,
    208.98243,
    209.98715,
    222.01758,
];

/// The standard atomic mass (u) of element `z`, `None` for `z` > 86.
pub fn atomic_mass(z: u8) -> Option<f64> {
    MASSES.get(z as usize).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_masses() {
        assert_eq!(atomic_mass(1), Some(1.008));
        assert_eq!(atomic_mass(6), Some(12.011));
        assert_eq!(atomic_mass(29), Some(63.546));
        assert_eq!(atomic_mass(79), Some(196.966569));
        assert_eq!(atomic_mass(86), Some(222.01758));
        assert_eq!(atomic_mass(87), None);
        // Masses grow with Z except at the known inversions (Ar/K, Co/Ni, Te/I).
        let inversions = [18, 27, 52];
        for z in 1..86u8 {
            if !inversions.contains(&z) {
                assert!(
                    atomic_mass(z + 1).unwrap() > atomic_mass(z).unwrap(),
                    "mass order at Z = {z}"
                );
            }
        }
    }
}
