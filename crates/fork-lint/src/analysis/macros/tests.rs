use super::*;

fn def(src: &str) -> MacroDef {
    let item: syn::ItemMacro = syn::parse_str(src).expect("definition parses");
    MacroDef::from_item_macro(&item)
        .expect("macro_rules")
        .expect("valid definition")
}

#[test]
fn die_macro_expands_to_a_block() {
    let d = def(
        "macro_rules! die { ($($arg:tt)*) => {{ eprintln!($($arg)*); std::process::exit(1) }} }",
    );
    let out = expand(&d, quote::quote!("bad: {}", x)).unwrap();
    assert_eq!(
        out.to_string(),
        "{ eprintln ! (\"bad: {}\" , x) ; std :: process :: exit (1) }"
    );
}
