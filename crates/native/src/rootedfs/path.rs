//! Lexical path cleaning, as Go's `filepath.Clean("/" + p)`: the result is a
//! list of plain components with no `.`, `..` or empty parts, so that a tar
//! name like `../../etc/passwd` or `/abs/x` names something under the root.
//! The kernel (RESOLVE_IN_ROOT) then keeps symlinks inside as well.

/// The components of `path` relative to the root; `..` above the root is dropped.
pub fn clean_components(path: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// `a/b/c` for components (`.` for the root itself), the form openat2 takes.
pub fn join(components: &[&str]) -> String {
    if components.is_empty() {
        ".".to_string()
    } else {
        components.join("/")
    }
}
