//! The checker's black-box tests, one target: hand-made histories with a known answer, and
//! generated ones (recorded from a real sequential execution, then mutated).

mod generated;
mod histories;
