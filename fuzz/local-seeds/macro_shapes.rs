// Macro shapes of the expander's tests: seeds for `expand_macros`.
macro_rules! die {
    ($($arg:tt)*) => {{
        eprintln!($($arg)*);
        std::process::exit(1)
    }};
}

macro_rules! make_logger {
    ($d:tt $name:ident, $level:literal) => {
        macro_rules! $name {
            ($d($d arg:tt)*) => { $crate::log::write($level, format_args!($d($d arg)*)) };
        }
    };
}
make_logger!($ debug, 1);

macro_rules! fork_test {
    ($name:ident, $body:block) => { #[test] fn $name() $body };
}
fork_test!(forks, { let _ = unsafe { libc::fork() }; });

macro_rules! count_tts {
    () => { 0usize };
    ($head:tt $($tail:tt)*) => { 1usize + count_tts!($($tail)*) };
}

macro_rules! reverse {
    (@acc [$($acc:tt)*]) => { [$($acc),*] };
    (@acc [$($acc:tt)*] $h:tt $($t:tt)*) => { reverse!(@acc [$h $($acc)*] $($t)*) };
    ($($t:tt)*) => { reverse!(@acc [] $($t)*) };
}

macro_rules! map {
    ($( $k:expr => $( $v:expr ),* );* $(;)?) => {{
        let mut m = Map::new();
        $( m.insert($k, vec![$($v),*]); )*
        m
    }};
}

macro_rules! strukt {
    ($(#[$m:meta])* $v:vis struct $n:ident<$l:lifetime>; $p:path; $lit:literal; $pat:pat_param | $ty:ty) => {
        $(#[$m])* $v struct $n<$l>(&$l u8);
    };
}

fn child() {
    let n = count_tts!(a b (c d) [e]);
    let r = reverse!(1 2 3);
    let m = map!("a" => 1, 2; "b" => 3);
    debug!("n = {}", n);
    if n > 3 {
        die!("too many: {}", n);
    }
}
