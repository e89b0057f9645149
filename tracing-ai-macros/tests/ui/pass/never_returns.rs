//! A function that never returns (`-> !`, a worker loop or a process exit) runs in its span.

use tracing_ai::ai_span;

#[ai_span(kind = "agent")]
fn serve_forever(polls: u32) -> ! {
    for _ in 0..polls {
        tracing::info!("polled");
    }
    std::process::exit(0)
}

#[ai_span(kind = "tool", name = "shutdown")]
fn fail_hard() -> ! {
    panic!("unrecoverable")
}

fn main() {
    if std::env::args().count() > 99 {
        fail_hard();
    }
    if std::env::args().count() > 100 {
        serve_forever(1);
    }
}
