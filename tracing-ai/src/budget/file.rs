//! Budgets from TOML, the way prices are read from a file:
//!
//! ```toml
//! [[budget]]
//! name = "tenant-daily"        # its label on the gauges; unique
//! limit = 25.0                 # in `currency`, USD unless said
//! window = "day"               # "day", "month" (UTC), or rolling: "30m", "1h", "7d"
//! per = ["tenant"]             # each tenant its own limit; also "feature", "user",
//!                              # "session", "model"
//! on_limit = "refuse"          # or "warn", or "wait" with `wait_up_to = "2s"` (an
//!                              # `async fn` call waits for room, at most that long)
//!
//! [[budget]]
//! name = "gpt-4o-monthly"
//! limit = 500.0
//! window = "month"
//! only = { model = "gpt-4o" }  # only these calls
//! on_limit = "warn"
//! per_call = 0.05              # reserved by a call whose tokens cannot be estimated
//!
//! [[budget]]                   # a rate limit: no `limit` nor `window`, but one of
//! name = "tenant-tpm"          # `tokens_per_minute`, `input_tokens_per_minute`,
//! tokens_per_minute = 100000   # `output_tokens_per_minute`, `requests_per_minute`
//! per = ["tenant"]             # and `in_flight`
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::{Budget, BudgetError, OnLimit, Scope, Window};

/// The largest budgets file read: far more than any list of budgets takes.
const MAX_FILE_BYTES: u64 = 1 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetsFile {
    #[serde(default)]
    budget: Vec<FileBudget>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBudget {
    name: Spanned<String>,
    limit: Option<Spanned<f64>>,
    window: Option<Spanned<String>>,
    tokens_per_minute: Option<Spanned<u64>>,
    input_tokens_per_minute: Option<Spanned<u64>>,
    output_tokens_per_minute: Option<Spanned<u64>>,
    requests_per_minute: Option<Spanned<u64>>,
    in_flight: Option<Spanned<u64>>,
    #[serde(default)]
    per: Vec<Spanned<String>>,
    #[serde(default)]
    only: std::collections::BTreeMap<String, Spanned<String>>,
    on_limit: Option<Spanned<String>>,
    wait_up_to: Option<Spanned<String>>,
    currency: Option<Spanned<String>>,
    per_call: Option<Spanned<f64>>,
}

/// Where a layer's budgets come from: the builder's, then each file's, read again on reload.
#[derive(Clone, Debug, Default)]
pub(crate) struct BudgetSources {
    pub(crate) inline: Vec<Budget>,
    pub(crate) files: Vec<PathBuf>,
}

impl BudgetSources {
    pub(crate) fn load(&self, reporting: &str) -> Result<Vec<Budget>, BudgetError> {
        let mut budgets = self.inline.clone();
        for path in &self.files {
            budgets.extend(load(path, reporting)?);
        }
        check(&budgets, reporting)?;
        Ok(budgets)
    }
}

/// Every budget valid, and no two with one name.
pub(crate) fn check(budgets: &[Budget], reporting: &str) -> Result<(), BudgetError> {
    for (index, budget) in budgets.iter().enumerate() {
        budget.validate(reporting)?;
        if budgets[..index]
            .iter()
            .any(|other| other.name == budget.name)
        {
            return Err(BudgetError::new(format!(
                "two budgets are named {:?}; give each its own name (its label on the gauges)",
                &*budget.name
            )));
        }
    }
    Ok(())
}

fn load(path: &Path, reporting: &str) -> Result<Vec<Budget>, BudgetError> {
    let failed =
        |message: String| BudgetError::new(format!("budgets file `{}`: {message}", path.display()));
    let size = std::fs::metadata(path)
        .map_err(|error| failed(format!("cannot be read ({error})")))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(failed(format!(
            "is {size} bytes, more than a budgets file takes ({MAX_FILE_BYTES}); is the path right?"
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|error| failed(format!("cannot be read ({error})")))?;
    parse(&text, reporting).map_err(failed)
}

/// A whole number of milliseconds, seconds or minutes: `500ms`, `2s`, `1m`.
fn patience(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    let (amount, unit) = text.split_at(unit_at);
    let amount: u64 = amount.parse().ok()?;
    let millis = match unit {
        "ms" => amount,
        "s" => amount.checked_mul(1_000)?,
        "m" => amount.checked_mul(60_000)?,
        _ => return None,
    };
    Some(std::time::Duration::from_millis(millis))
}

/// The rate limits a budget of the file may be instead of a `limit` over a `window`.
type RateLimit = fn(String, u64) -> Budget;

/// The budget `entry` is, from its `limit` and `window`, or its one rate limit; `at` words an
/// error at a field.
fn of_entry(
    entry: &FileBudget,
    name: &str,
    at: &dyn Fn(&str, usize, String) -> String,
) -> Result<Budget, String> {
    let rates: Vec<(&str, &Spanned<u64>, RateLimit)> = [
        (
            "tokens_per_minute",
            &entry.tokens_per_minute,
            Budget::tokens_per_minute as RateLimit,
        ),
        (
            "input_tokens_per_minute",
            &entry.input_tokens_per_minute,
            Budget::input_tokens_per_minute,
        ),
        (
            "output_tokens_per_minute",
            &entry.output_tokens_per_minute,
            Budget::output_tokens_per_minute,
        ),
        (
            "requests_per_minute",
            &entry.requests_per_minute,
            Budget::requests_per_minute,
        ),
        ("in_flight", &entry.in_flight, Budget::in_flight),
    ]
    .into_iter()
    .filter_map(|(field, value, make)| Some((field, value.as_ref()?, make)))
    .collect();
    let name_at = entry.name.span().start;
    match (&entry.limit, rates.as_slice()) {
        (Some(limit), []) => {
            let Some(window) = &entry.window else {
                return Err(at(
                    "window",
                    name_at,
                    "is missing: write the time its spend is counted over, \"day\", \"month\" \
                     (UTC) or a rolling duration such as \"1h\""
                        .to_owned(),
                ));
            };
            let amount = *limit.get_ref();
            if !(amount.is_finite() && amount >= 0.0) {
                return Err(at(
                    "limit",
                    limit.span().start,
                    format!("{amount} is not an amount; write a number of 0 or more, such as 25.0"),
                ));
            }
            let window: Window = window
                .get_ref()
                .parse()
                .map_err(|e: BudgetError| at("window", window.span().start, e.to_string()))?;
            window.validate().map_err(|e| at("window", name_at, e))?;
            Ok(Budget::new(name.to_owned(), amount, window))
        }
        (None, [(field, value, make)]) => {
            if let Some(window) = &entry.window {
                return Err(at(
                    "window",
                    window.span().start,
                    format!("`{field}` counts over a rolling minute; remove `window`"),
                ));
            }
            Ok(make(name.to_owned(), *value.get_ref()))
        }
        (None, []) => Err(at(
            "limit",
            name_at,
            "is missing: give a `limit` in money with a `window`, or a rate limit: \
             `tokens_per_minute`, `input_tokens_per_minute`, `output_tokens_per_minute`, \
             `requests_per_minute` or `in_flight`"
                .to_owned(),
        )),
        (_, _) => {
            let mut fields: Vec<&str> = rates.iter().map(|(field, _, _)| *field).collect();
            if entry.limit.is_some() {
                fields.insert(0, "limit");
            }
            Err(at(
                fields[1],
                name_at,
                format!(
                    "the budget has {}; give it one: a budget of money or one rate limit each",
                    fields
                        .iter()
                        .map(|field| format!("`{field}`"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
            ))
        }
    }
}

/// The budgets of a budgets file's text, each checked (costs are counted in USD and
/// `reporting`); the error says the line, the budget and the field, and what to write.
pub(crate) fn parse(text: &str, reporting: &str) -> Result<Vec<Budget>, String> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let file: BudgetsFile = toml::from_str(text).map_err(|error| {
        match error.span().map(|span| line_of(span.start)) {
            Some(line) => format!("line {line}: {}", error.message().trim_end()),
            None => error.message().trim_end().to_owned(),
        }
    })?;
    let mut budgets: Vec<Budget> = Vec::with_capacity(file.budget.len());
    for entry in file.budget {
        let name = entry.name.get_ref().clone();
        // "line 4: budget "tenant-daily", `window`: ..."
        let at = |field: &str, offset: usize, message: String| {
            format!(
                "line {}: budget {name:?}, `{field}`: {message}",
                line_of(offset)
            )
        };
        if name.trim().is_empty() {
            return Err(format!(
                "line {}: a budget has an empty `name`; name it (its label on the gauges)",
                line_of(entry.name.span().start)
            ));
        }
        if budgets.iter().any(|budget| *budget.name == *name) {
            return Err(at(
                "name",
                entry.name.span().start,
                "another budget of the file has this name; give each its own (its label on the \
                 gauges)"
                    .to_owned(),
            ));
        }
        let mut budget = of_entry(&entry, &name, &at)?;
        for per in &entry.per {
            let scope: Scope = per
                .get_ref()
                .parse()
                .map_err(|e: BudgetError| at("per", per.span().start, e.to_string()))?;
            budget = budget.per(scope);
        }
        for (scope, value) in &entry.only {
            let scope: Scope = scope
                .parse()
                .map_err(|e: BudgetError| at("only", value.span().start, e.to_string()))?;
            if budget.per.contains(&scope) {
                return Err(at(
                    "only",
                    value.span().start,
                    format!(
                        "the budget is both per {scope:?} and only for one {scope:?}; keep one of \
                         the two"
                    ),
                ));
            }
            budget = budget.only(scope, value.get_ref().clone());
        }
        let patience = entry
            .wait_up_to
            .as_ref()
            .map(|wait| {
                patience(wait.get_ref()).ok_or_else(|| {
                    at(
                        "wait_up_to",
                        wait.span().start,
                        format!(
                            "{:?} is not a duration: write a whole number and \"ms\", \"s\" \
                             or \"m\", such as \"2s\"",
                            wait.get_ref()
                        ),
                    )
                })
            })
            .transpose()?;
        let on_limit = entry.on_limit.as_ref();
        budget.on_limit = match (on_limit.map(|on| on.get_ref().as_str()), patience) {
            (None | Some("refuse"), None) => OnLimit::Refuse,
            (Some("warn"), None) => OnLimit::Warn,
            (None | Some("wait"), Some(patience)) => OnLimit::Wait(patience),
            (Some("wait"), None) => {
                return Err(at(
                    "on_limit",
                    on_limit.map_or(0, |on| on.span().start),
                    "\"wait\" needs `wait_up_to`, the longest a call waits for room, such as \
                     \"2s\""
                        .to_owned(),
                ))
            }
            (Some("refuse" | "warn"), Some(_)) => {
                return Err(at(
                    "wait_up_to",
                    on_limit.map_or(0, |on| on.span().start),
                    "is for on_limit = \"wait\"; remove it, or make the budget wait".to_owned(),
                ))
            }
            (Some(other), _) => {
                return Err(at(
                    "on_limit",
                    on_limit.map_or(0, |on| on.span().start),
                    format!("{other:?} is not one: write \"refuse\", \"warn\" or \"wait\""),
                ))
            }
        };
        if let Some(currency) = &entry.currency {
            let code = currency.get_ref();
            if code != "USD" && code != reporting {
                return Err(at(
                    "currency",
                    currency.span().start,
                    format!(
                        "costs are counted in USD and {reporting}, not {code}; write one of \
                         them (the reporting currency is the layer's \
                         `with_reporting_currency`)"
                    ),
                ));
            }
            budget = budget.in_currency(code);
        }
        if let Some(per_call) = &entry.per_call {
            let amount = *per_call.get_ref();
            if !(amount.is_finite() && amount >= 0.0) {
                return Err(at(
                    "per_call",
                    per_call.span().start,
                    format!("{amount} is not an amount; write a number of 0 or more"),
                ));
            }
            budget = budget.per_call(amount);
        }
        // Anything the checks above missed, at the budget's name.
        budget
            .validate(reporting)
            .map_err(|e| at("name", entry.name.span().start, e.to_string()))?;
        budgets.push(budget);
    }
    Ok(budgets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_module_example_reads() {
        let text = include_str!("file.rs")
            .lines()
            .skip_while(|line| !line.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|line| !line.starts_with("//! ```"))
            .map(|line| line.trim_start_matches("//!").trim_start_matches(' '))
            .collect::<Vec<_>>()
            .join("\n");
        let budgets = parse(&text, "USD").expect("the documented file reads");
        check(&budgets, "USD").expect("and is valid");
        assert_eq!(budgets.len(), 3);
        assert_eq!(budgets[0].name(), "tenant-daily");
        assert!(budgets[2].is_rate_limit());
        assert_eq!(budgets[2].currency(), "{token}");
        assert_eq!(budgets[2].limit(), 100_000.0);
        let waits = parse(
            "[[budget]]\nname = \"w\"\nin_flight = 4\non_limit = \"wait\"\nwait_up_to = \"1500ms\"\n",
            "USD",
        )
        .expect("a limit that waits");
        assert_eq!(
            waits[0].on_limit(),
            OnLimit::Wait(std::time::Duration::from_millis(1_500))
        );
        assert_eq!(budgets[0].per, [Scope::Tenant]);
        assert_eq!(budgets[1].on_limit(), OnLimit::Warn);
        assert_eq!(budgets[1].window(), Window::Month);
        assert_eq!(budgets[1].per_call, Some(0.05));
    }

    #[test]
    fn mistakes_say_the_line_the_budget_the_field_and_what_to_write() {
        let head = "[[budget]]\nname = \"a\"\n";
        let cases = [
            ("limit = \"ten\"\nwindow = \"day\"\n", "line 3"),
            (
                "limit = 1.0\nwindow = \"week\"\n",
                "line 4: budget \"a\", `window`: ",
            ),
            ("limit = 1.0\nwindow = \"week\"\n", "\"30m\""),
            (
                "limit = 1.0\nwindow = \"day\"\nper = [\"team\"]\n",
                "line 5: budget \"a\", `per`: ",
            ),
            (
                "limit = 1.0\nwindow = \"day\"\nper = [\"team\"]\n",
                "\"tenant\"",
            ),
            (
                "limit = 1.0\nwindow = \"day\"\non_limit = \"stop\"\n",
                "line 5: budget \"a\", `on_limit`: \"stop\" is not one: write \"refuse\", \"warn\" or \"wait\"",
            ),
            ("limit = 1.0\nwindow = \"day\"\nlimt = 2.0\n", "line 5"),
            (
                "limit = -5.0\nwindow = \"day\"\n",
                "line 3: budget \"a\", `limit`: -5 is not an amount",
            ),
            (
                "limit = 1.0\nwindow = \"day\"\nper_call = -0.1\n",
                "line 5: budget \"a\", `per_call`: ",
            ),
            (
                "limit = 1.0\nwindow = \"day\"\ncurrency = \"EUR\"\n",
                "line 5: budget \"a\", `currency`: costs are counted in USD and GBP, not EUR",
            ),
            (
                "limit = 1.0\nwindow = \"day\"\nper = [\"tenant\"]\nonly = { tenant = \"acme\" }\n",
                "line 6: budget \"a\", `only`: ",
            ),
            (
                "limit = 1.0\nwindow = \"day\"\n\n[[budget]]\nname = \"a\"\nlimit = 2.0\nwindow = \"day\"\n",
                "line 7: budget \"a\", `name`: another budget",
            ),
            // A rate limit: one of them, no window, a whole number.
            (
                "limit = 1.0\nwindow = \"day\"\ntokens_per_minute = 1000\n",
                "line 2: budget \"a\", `tokens_per_minute`: the budget has `limit` and \
                 `tokens_per_minute`; give it one",
            ),
            (
                "requests_per_minute = 60\nin_flight = 4\n",
                "has `requests_per_minute` and `in_flight`; give it one",
            ),
            (
                "tokens_per_minute = 1000\nwindow = \"1h\"\n",
                "line 4: budget \"a\", `window`: `tokens_per_minute` counts over a rolling \
                 minute; remove `window`",
            ),
            ("tokens_per_minute = 1.5e3\n", "line 3"),
            ("per = [\"tenant\"]\n", "`limit`: is missing: give a `limit` in money"),
            ("limit = 1.0\n", "`window`: is missing"),
            (
                "in_flight = 8\non_limit = \"wait\"\n",
                "`on_limit`: \"wait\" needs `wait_up_to`",
            ),
            (
                "in_flight = 8\nwait_up_to = \"2 seconds\"\n",
                "`wait_up_to`: \"2 seconds\" is not a duration",
            ),
            (
                "in_flight = 8\non_limit = \"warn\"\nwait_up_to = \"2s\"\n",
                "`wait_up_to`: is for on_limit = \"wait\"",
            ),
            (
                "in_flight = 8\ncurrency = \"GBP\"\n",
                "it is a rate limit of calls in flight, which has no currency",
            ),
        ];
        for (rest, expected) in cases {
            let text = format!("{head}{rest}");
            let error = parse(&text, "GBP").expect_err(&text);
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn invalid_budgets_are_refused_with_what_to_do() {
        let cases = [
            (vec![Budget::new("a", -1.0, Window::Day)], "0 or more"),
            (vec![Budget::new("a", f64::NAN, Window::Day)], "0 or more"),
            (vec![Budget::new(" ", 1.0, Window::Day)], "empty name"),
            (
                vec![Budget::new("a", 1.0, Window::Day).in_currency("EUR")],
                "in USD and GBP",
            ),
            (
                vec![
                    Budget::new("a", 1.0, Window::Day),
                    Budget::new("a", 2.0, Window::Month),
                ],
                "two budgets are named \"a\"",
            ),
            (
                vec![Budget::new("a", 1.0, Window::Day)
                    .per(Scope::Tenant)
                    .only(Scope::Tenant, "acme")],
                "keep one of the two",
            ),
            (
                vec![Budget::new("a", 1.0, Window::Day).per_call(f64::INFINITY)],
                "per_call",
            ),
        ];
        for (budgets, expected) in cases {
            let error = check(&budgets, "GBP").expect_err(expected).to_string();
            assert!(error.contains(expected), "{error}");
        }
        check(
            &[Budget::new("a", 1.0, Window::Day).in_currency("GBP")],
            "GBP",
        )
        .expect("the reporting currency is fine");
    }
}
