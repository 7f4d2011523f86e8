use std::process::ExitCode;

fn main() -> ExitCode {
    ironsmith_runtime::main_with::<ironsmith_backend::Backend>("backend")
}
