//! The generic op suite (`allegro_core::testing::suite`) on the CPU backend.

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_core::testing::suite;

macro_rules! cpu_tests {
    ($($module:ident :: $check:ident),* $(,)?) => {
        $( #[test] fn $check() { suite::$module::$check::<Cpu>(&CpuDevice); } )*
    };
}

allegro_core::for_each_suite_check!(cpu_tests);
