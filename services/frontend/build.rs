//! The web UI's built assets (`web/dist`, made by `scripts/web build`) are embedded into the
//! binary: rebuild when they change.

fn main() {
    println!("cargo:rerun-if-changed=web/dist");
}
