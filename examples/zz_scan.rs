use allegro::core::backend::cpu::{Cpu, CpuDevice};
use allegro::data::{AtomicGraph, NeighborOptions, TypeMapper, extxyz};
use allegro::nn::ModelFile;
fn main() {
    let model = std::env::args().nth(1).unwrap();
    let file = ModelFile::load(&model).unwrap();
    let names = file.type_names.clone();
    let p = file.into_predictor::<Cpu>(CpuDevice).unwrap();
    let frames =
        extxyz::read_extxyz("examples/data/xtb-organics.xyz", &Default::default()).unwrap();
    let s0 = frames[150].clone();
    let mapper = TypeMapper::new(&names).unwrap();
    let sp: Vec<&str> = s0.species.iter().map(|s| s.as_str()).collect();
    println!("{:?}", sp);
    // find C-O bond
    let (mut ci, mut oi, mut best) = (0, 0, 9.0);
    for i in 0..sp.len() {
        for j in 0..sp.len() {
            if sp[i] == "C" && sp[j] == "O" {
                let d: f64 = (0..3)
                    .map(|k| (s0.positions[i][k] - s0.positions[j][k]).powi(2))
                    .sum::<f64>()
                    .sqrt();
                if d < best {
                    best = d;
                    ci = i;
                    oi = j;
                }
            }
        }
    }
    println!("C{ci}-O{oi} {best:.3}");
    for k in 0..14 {
        let r = 0.5 + 0.1 * k as f64;
        let mut s = s0.clone();
        let dir: Vec<f64> = (0..3)
            .map(|d| (s0.positions[oi][d] - s0.positions[ci][d]) / best)
            .collect();
        for d in 0..3 {
            s.positions[oi][d] = s0.positions[ci][d] + dir[d] * r;
        }
        let g = AtomicGraph::from_structure(&s, &mapper, &NeighborOptions::new(5.0)).unwrap();
        let pr = p.predict(&g).unwrap();
        println!("r {r:.2}  E {:.3}", pr.total_energy[0]);
    }
}
