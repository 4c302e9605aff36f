//! FL001 (procspawn): a closure that captures local state; procspawn sends only the
//! function to the spawned child. Lint-only: procspawn is not built here.
//@ rule: FL001
//@ kind: hazard
fn main() {
    procspawn::init();
    let base = 10;
    let handle = procspawn::spawn(7, move |n: u32| n + base); //~ FL001
    println!("{}", handle.join().unwrap());
}
