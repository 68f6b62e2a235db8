fn main() -> std::process::ExitCode {
    kmstop::run::main()
}
