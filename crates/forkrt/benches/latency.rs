#[forkrt::main]
fn main() {}
