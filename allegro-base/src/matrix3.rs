//! 3 × 3 matrices as plain arrays (cells, rotations).

/// A 3 × 3 matrix, row-major (`m[row][column]`).
pub type Matrix3 = [[f64; 3]; 3];

/// The determinant of a 3 × 3 matrix (cofactor expansion along the first row).
pub fn det3(r: &Matrix3) -> f64 {
    r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1])
        - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
        + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0])
}
