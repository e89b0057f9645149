//! The async-openai example, run as a user would: its console view shows the three calls,
//! the streamed one lasting its stream, each priced from the usage the client returned.

use std::process::Command;

#[test]
fn the_example_prices_every_call_of_the_real_client() {
    let output = Command::new(tracing_ai_tests::example_binary("openai_client"))
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OPENAI_API_BASE")
        .output()
        .expect("the example runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines[0].starts_with("ask  ")
            && lines[0].ends_with("tenant acme · feature support-bot · request req-0001"),
        "{stderr}"
    );
    assert!(lines[1].ends_with("8 in · 0 out  $0.00000016"), "{stderr}");
    for line in &lines[2..4] {
        assert!(
            line.ends_with("1850 in (1536 cached) · 120 out  $0.0002343"),
            "{stderr}"
        );
    }
    // The streamed call lasts its five chunks, 25 ms apart.
    let streamed: f64 = lines[3]
        .split("  ")
        .nth(1)
        .and_then(|ms| ms.strip_suffix(" ms"))
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("a duration in {}", lines[3]));
    assert!(streamed >= 100.0, "{stderr}");
    assert_eq!(
        lines[4],
        "= 3 AI calls · 3708 tokens in · 240 out · $0.00046876 · tenant acme"
    );
}
