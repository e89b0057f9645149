//! The agent example on the console (no endpoint set): each request's tree shows the agent,
//! its two model calls and the tool nested under it, the agent's totals on its line, and the
//! request's totals under the tree; priced to the cent fraction. Its Phoenix run is in
//! `phoenix.rs`.

use std::process::Command;

use tracing_ai_tests::{example_binary, run_to_success};

#[test]
fn the_console_shows_the_agent_with_its_calls_its_tool_and_their_totals() {
    let output = run_to_success(
        Command::new(example_binary("agent"))
            .args(["--requests", "2"])
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Durations vary: each line without its `  <n.n> ms`.
    let shapes: Vec<String> = stderr.lines().map(without_duration).collect();
    let request = [
        "trip.question  tenant acme · feature trip-assistant · request req-0000",
        "└─ invoke_agent trip_assistant  [2 AI calls · 204 tokens in · 30 out · $0.0000486]",
        "   ├─ chat gpt-4o-mini  74 in · 18 out  $0.0000219",
        "   ├─ execute_tool get_weather",
        "   └─ chat gpt-4o-mini  130 in · 12 out  $0.0000267",
        "= 2 AI calls · 204 tokens in · 30 out · $0.0000486 · tenant acme",
    ];
    assert_eq!(&shapes[..6], request, "{stderr}");
    assert_eq!(
        shapes.len(),
        14,
        "two requests, each with a blank line: {stderr}"
    );
    assert!(shapes[7].ends_with("request req-0001"), "{stderr}");
    // 74 × $0.15/M + 18 × $0.60/M, and 130 × $0.15/M + 12 × $0.60/M (gpt-4o-mini).
    assert!((74.0 * 0.15e-6 + 18.0 * 0.60e-6 - 0.0000219_f64).abs() < 1e-12);
    assert!((130.0 * 0.15e-6 + 12.0 * 0.60e-6 - 0.0000267_f64).abs() < 1e-12);
    // Without an OpenTelemetry export there is no span to score later, and it says so.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("no feedback handle"), "{stdout}");
}

/// `line` without the first `  <digits>.<digit> ms` in it.
fn without_duration(line: &str) -> String {
    for (at, _) in line.match_indices(" ms") {
        let Some(start) = line[..at].rfind("  ") else {
            continue;
        };
        let number = &line[start + 2..at];
        if !number.is_empty() && number.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return format!("{}{}", &line[..start], &line[at + 3..]);
        }
    }
    line.to_owned()
}
