mod common;
use common::Scenario;
static SCENARIOS: &[Scenario] = &[];
fn main() {
    forkrt::init();
    common::main(SCENARIOS);
}
