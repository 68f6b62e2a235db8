// glibc's malloc keeps what one thread frees of another thread's blocks in
// per-thread arenas: the live dashboard, whose sources pack events on the
// runtime's threads and whose UI thread drops them, held twice its heap as
// resident memory. jemalloc hands freed pages back to the system.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    kmstop::run::main()
}
