use std::process::ExitCode;

fn main() -> ExitCode {
    ironsmith_runtime::main_with::<ironsmith_queue_worker::Service>("queue")
}
