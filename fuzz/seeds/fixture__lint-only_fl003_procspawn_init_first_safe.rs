//! FL003 safe twin (procspawn): `procspawn::init()` is the first thing `main` does.
//! Lint-only: procspawn is not built here.
//@ rule: FL003
//@ kind: safe
fn main() {
    procspawn::init();
    println!("starting");
    let handle = procspawn::spawn(3, |n: u32| n * 2);
    println!("{}", handle.join().unwrap());
}
