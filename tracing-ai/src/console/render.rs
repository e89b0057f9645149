//! The console's text: a request's tree, one line a span, and its totals.

use std::fmt::Write as _;
use std::time::Duration;

use super::{Node, Totals};
use crate::money::decimal;

pub(super) fn render(root: &Node) -> String {
    let mut text = String::new();
    line(&mut text, "", root);
    children(&mut text, "", root);
    let mut summary = format!("= {}", summary(root.totals.as_ref()));
    let (refused, budget) = budgets(root);
    if refused > 0 {
        let _ = write!(summary, " · {refused} refused by a budget");
    }
    if let Some(budget) = budget {
        let _ = write!(
            summary,
            " · budget {} {:.0}% ({} of {} {})",
            budget.budget,
            budget.share() * 100.0,
            decimal(budget.used()),
            decimal(budget.limit),
            budget.currency
        );
    }
    if let Some((_, tenant)) = root.ids.iter().find(|(label, _)| label == "tenant") {
        let _ = write!(summary, " · tenant {tenant}");
    }
    text.push_str(&summary);
    text.push_str("\n\n");
    text
}

/// How many calls of the tree under `node` a budget refused, and the most spent budget its
/// calls settled in.
fn budgets(node: &Node) -> (usize, Option<&crate::budget::BudgetState>) {
    let mut refused = usize::from(node.call.as_ref().is_some_and(|call| call.refused));
    let mut most = node.call.as_ref().and_then(|call| call.budget.as_ref());
    for child in &node.children {
        let (below, budget) = budgets(child);
        refused += below;
        if let Some(budget) = budget {
            if most.is_none_or(|most| budget.share() > most.share()) {
                most = Some(budget);
            }
        }
    }
    (refused, most)
}

/// What model calls added up to: a request's, or an agent's.
fn summary(totals: Option<&Totals>) -> String {
    let calls = totals.map_or(0, |t| t.calls);
    let mut summary = format!(
        "{calls} AI call{} · {} tokens in · {} out",
        if calls == 1 { "" } else { "s" },
        totals.map_or(0, |t| t.input),
        totals.map_or(0, |t| t.output),
    );
    let _ = write!(
        summary,
        " · {}",
        money(
            totals.map_or(0.0, |t| t.usd),
            totals.and_then(|t| t.reported.as_ref())
        )
    );
    let estimated = totals.map_or(0.0, |t| t.estimated_usd);
    if estimated > 0.0 {
        let _ = write!(summary, " (${} estimated)", decimal(estimated));
    }
    let unpriced = totals.map_or(0, |t| t.unpriced);
    if unpriced > 0 {
        let _ = write!(summary, " + {unpriced} unpriced");
    }
    summary
}

/// Appends what the tail sampler decided to the request's first line.
#[cfg(feature = "sampling")]
pub(super) fn mark(text: &mut String, decision: crate::sampling::Decision) {
    let mark = match decision {
        crate::sampling::Decision::Kept(reason) => format!("  [kept: {}]", reason.as_str()),
        crate::sampling::Decision::Dropped => "  [not exported]".to_owned(),
    };
    let end = text.find('\n').unwrap_or(text.len());
    text.insert_str(end, &mark);
}

#[cfg(not(feature = "sampling"))]
pub(super) fn mark(_text: &mut String, decision: std::convert::Infallible) {
    match decision {}
}

fn children(text: &mut String, prefix: &str, node: &Node) {
    let count = node.children.len();
    for (index, child) in node.children.iter().enumerate() {
        let last = index + 1 == count && node.dropped == 0;
        let branch = if last { "└─ " } else { "├─ " };
        line(text, &format!("{prefix}{branch}"), child);
        let deeper = format!("{prefix}{}", if last { "   " } else { "│  " });
        children(text, &deeper, child);
    }
    if node.dropped > 0 {
        let _ = writeln!(text, "{prefix}└─ … {} more spans not shown", node.dropped);
    }
}

fn line(text: &mut String, prefix: &str, node: &Node) {
    let name = node.otel_name.as_deref().unwrap_or(&node.name);
    let _ = write!(text, "{prefix}{name}  {}", millis(node.duration));
    let Some(call) = &node.call else {
        if !node.ids.is_empty() {
            let ids: Vec<String> = node
                .ids
                .iter()
                .map(|(label, value)| format!("{label} {value}"))
                .collect();
            let _ = write!(text, "  {}", ids.join(" · "));
        }
        text.push('\n');
        return;
    };
    if call.refused {
        // The budget's message without its advice: which budget, and how far it is spent.
        text.push_str("  REFUSED");
        if let Some(error) = &call.error {
            let reason = error
                .split("; the call was not made")
                .next()
                .unwrap_or(error);
            let _ = write!(text, " {reason}");
        }
    } else if call.failed {
        text.push_str("  FAILED");
        if let Some(error) = &call.error {
            let _ = write!(text, " {error}");
        }
    }
    match call.tokens {
        Some((input, 0, output)) => {
            let _ = write!(text, "  {input} in · {output} out");
        }
        Some((input, cached, output)) => {
            let _ = write!(text, "  {input} in ({cached} cached) · {output} out");
        }
        None => {}
    }
    if let Some((input, output)) = call.estimated {
        let _ = write!(text, "  ~{input} in · ~{output} out (estimated)");
    }
    if let Some(hit) = &call.cache_hit {
        let _ = write!(text, "  cache {hit}");
    }
    if let Some(fallback) = &call.fallback {
        let _ = write!(text, "  {fallback}");
    }
    if let Some(usd) = call.usd {
        let _ = write!(text, "  {}", money(usd, call.reported.as_ref()));
    } else if call.unpriced {
        text.push_str("  unpriced");
    }
    if let Some(agent) = &node.agent {
        let _ = write!(text, "  [{}]", summary(Some(agent)));
    }
    text.push('\n');
}

fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1_000.0)
}

fn money(usd: f64, reported: Option<&(String, f64)>) -> String {
    match reported {
        Some((currency, amount)) => format!("${} ({} {currency})", decimal(usd), decimal(*amount)),
        None => format!("${}", decimal(usd)),
    }
}
