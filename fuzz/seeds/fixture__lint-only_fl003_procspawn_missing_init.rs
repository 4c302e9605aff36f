//! FL003 (procspawn): `procspawn::init()` is missing, so every spawned child runs
//! `main` again. Lint-only: procspawn is not built here.
//@ rule: FL003
//@ kind: hazard
fn main() { //~ FL003
    let pool = procspawn::Pool::new(4).unwrap();
    let handle = pool.spawn(3, |n: u32| n * 2);
    println!("{}", handle.join().unwrap());
}
