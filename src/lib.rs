pub mod shapes;
pub mod storage;
pub mod wire;
