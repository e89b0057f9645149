//! Budgets from TOML, the way prices are read from a file:
//!
//! ```toml
//! [[budget]]
//! name = "tenant-daily"        # its label on the gauges; unique
//! limit = 25.0                 # in `currency`, USD unless said
//! window = "day"               # "day", "month" (UTC), or rolling: "30m", "1h", "7d"
//! per = ["tenant"]             # each tenant its own limit; also "feature", "user",
//!                              # "session", "model"
//! on_limit = "refuse"          # or "warn"
//!
//! [[budget]]
//! name = "gpt-4o-monthly"
//! limit = 500.0
//! window = "month"
//! only = { model = "gpt-4o" }  # only these calls
//! on_limit = "warn"
//! per_call = 0.05              # reserved by a call whose tokens cannot be estimated
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

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
    name: String,
    limit: f64,
    window: String,
    #[serde(default)]
    per: Vec<String>,
    #[serde(default)]
    only: std::collections::BTreeMap<String, String>,
    on_limit: Option<String>,
    currency: Option<String>,
    per_call: Option<f64>,
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
            budgets.extend(load(path)?);
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

fn load(path: &Path) -> Result<Vec<Budget>, BudgetError> {
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
    parse(&text).map_err(failed)
}

/// The budgets of a budgets file's text; the error says where and what.
pub(crate) fn parse(text: &str) -> Result<Vec<Budget>, String> {
    let file: BudgetsFile = toml::from_str(text).map_err(|error| {
        let line = error
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        match line {
            Some(line) => format!("line {line}: {}", error.message().trim_end()),
            None => error.message().trim_end().to_owned(),
        }
    })?;
    file.budget
        .into_iter()
        .map(|entry| {
            let named = |message: String| format!("budget {:?}: {message}", entry.name);
            let window: Window = entry
                .window
                .parse()
                .map_err(|e: BudgetError| named(e.to_string()))?;
            let mut budget = Budget::new(entry.name.clone(), entry.limit, window);
            for per in &entry.per {
                let scope: Scope = per.parse().map_err(|e: BudgetError| named(e.to_string()))?;
                budget = budget.per(scope);
            }
            for (scope, value) in &entry.only {
                let scope: Scope = scope
                    .parse()
                    .map_err(|e: BudgetError| named(e.to_string()))?;
                budget = budget.only(scope, value.clone());
            }
            budget.on_limit = match entry.on_limit.as_deref() {
                None | Some("refuse") => OnLimit::Refuse,
                Some("warn") => OnLimit::Warn,
                Some(other) => {
                    return Err(named(format!(
                        "on_limit {other:?} is not one: write \"refuse\" or \"warn\""
                    )))
                }
            };
            if let Some(currency) = &entry.currency {
                budget = budget.in_currency(currency);
            }
            if let Some(per_call) = entry.per_call {
                budget = budget.per_call(per_call);
            }
            Ok(budget)
        })
        .collect()
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
        let budgets = parse(&text).expect("the documented file reads");
        check(&budgets, "USD").expect("and is valid");
        assert_eq!(budgets.len(), 2);
        assert_eq!(budgets[0].name(), "tenant-daily");
        assert_eq!(budgets[0].per, [Scope::Tenant]);
        assert_eq!(budgets[1].on_limit(), OnLimit::Warn);
        assert_eq!(budgets[1].window(), Window::Month);
        assert_eq!(budgets[1].per_call, Some(0.05));
    }

    #[test]
    fn mistakes_say_where_and_what_to_write() {
        let cases = [
            (
                "[[budget]]\nname = \"a\"\nlimit = \"ten\"\nwindow = \"day\"\n",
                "line 3",
            ),
            (
                "[[budget]]\nname = \"a\"\nlimit = 1.0\nwindow = \"week\"\n",
                "\"30m\"",
            ),
            (
                "[[budget]]\nname = \"a\"\nlimit = 1.0\nwindow = \"day\"\nper = [\"team\"]\n",
                "\"tenant\"",
            ),
            (
                "[[budget]]\nname = \"a\"\nlimit = 1.0\nwindow = \"day\"\non_limit = \"stop\"\n",
                "\"refuse\" or \"warn\"",
            ),
            (
                "[[budget]]\nname = \"a\"\nlimit = 1.0\nwindow = \"day\"\nlimt = 2.0\n",
                "line 5",
            ),
        ];
        for (text, expected) in cases {
            let error = parse(text).expect_err(text);
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
