//! Writes the API document to `docs/openapi.json` (or the path given), or with `--check`
//! fails when that file differs from what the code describes.

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let mut check = false;
    let mut path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/openapi.json"
    ));
    for argument in std::env::args().skip(1) {
        if argument == "--check" {
            check = true;
        } else {
            path = PathBuf::from(argument);
        }
    }
    let text = ironsmith_openapi::render()?;
    if check {
        let on_disk = std::fs::read_to_string(&path)?;
        anyhow::ensure!(
            on_disk == text,
            "{} differs from the code; run `cargo run -p ironsmith-openapi`",
            path.display()
        );
    } else {
        std::fs::write(&path, text)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
