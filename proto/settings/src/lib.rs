//! The `VIGIL_*` environment, read the same way by every binary (`vigil-ingest`, `vigil`,
//! `vigil-probe`): defaults, then the TOML file where the binary has one, then the environment.
//! Each setting's variable is parsed into its field; every variable that does not parse is one
//! problem, and all of them are reported together at start-up instead of the first alone.
//!
//! A table of `env.set("VIGIL_…", &mut field)` calls per binary is the whole mapping; this
//! crate is the one place that knows how a value is read and how a bad one is told.

use std::fmt::Display;
use std::str::FromStr;

/// How a variable's value is looked up.
type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// The environment being applied, and the problems found so far.
pub struct Env<'a> {
    lookup: Lookup<'a>,
    problems: Vec<String>,
}

impl<'a> Env<'a> {
    /// An environment read through `lookup` (tests pass a map).
    pub fn new(lookup: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Self {
            lookup: Box::new(lookup),
            problems: Vec::new(),
        }
    }

    /// The process's environment.
    pub fn process() -> Env<'static> {
        Env::new(|name| std::env::var(name).ok())
    }

    /// The raw value of `name`, when set.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    /// Parses `name` (trimmed) into `slot` when it is set; a value that does not parse is a
    /// problem and leaves `slot` as it was.
    pub fn set<T>(&mut self, name: &str, slot: &mut T)
    where
        T: FromStr,
        T::Err: Display,
    {
        if let Some(raw) = self.get(name) {
            match raw.trim().parse() {
                Ok(v) => *slot = v,
                Err(e) => self.problem(format!("{name}: cannot parse `{raw}`: {e}")),
            }
        }
    }

    /// Like [`Env::set`] for an optional setting: set and not blank gives `Some`.
    pub fn set_some<T>(&mut self, name: &str, slot: &mut Option<T>)
    where
        T: FromStr,
        T::Err: Display,
    {
        if let Some(raw) = self.get(name).filter(|v| !v.trim().is_empty()) {
            match raw.trim().parse() {
                Ok(v) => *slot = Some(v),
                Err(e) => self.problem(format!("{name}: cannot parse `{raw}`: {e}")),
            }
        }
    }

    /// Hands `name`'s raw value, when set, to `apply`; an `Err` from it is a problem.
    pub fn with(&mut self, name: &str, apply: impl FnOnce(String) -> Result<(), String>) {
        if let Some(raw) = self.get(name)
            && let Err(why) = apply(raw)
        {
            self.problem(format!("{name}: {why}"));
        }
    }

    /// Records a problem found while applying (a value that parses but is not allowed).
    pub fn problem(&mut self, problem: String) {
        self.problems.push(problem);
    }

    /// Every problem found, in the order found.
    pub fn into_problems(self) -> Vec<String> {
        self.problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn every_bad_value_is_reported_and_good_ones_are_applied() {
        let vars: HashMap<&str, &str> = [
            ("A", " 7 "),
            ("B", "x"),
            ("C", ""),
            ("D", "127.0.0.1:1"),
            ("E", "no"),
        ]
        .into();
        let mut env = Env::new(|n| vars.get(n).map(|v| v.to_string()));
        let (mut a, mut b, mut unset) = (1u32, 2u32, 3u32);
        let (mut c, mut d): (Option<u16>, Option<std::net::SocketAddr>) = (Some(9), None);
        env.set("A", &mut a);
        env.set("B", &mut b);
        env.set("UNSET", &mut unset);
        env.set_some("C", &mut c);
        env.set_some("D", &mut d);
        env.with("E", |v| (v == "yes").then_some(()).ok_or("say yes".into()));
        assert_eq!((a, b, unset, c), (7, 2, 3, Some(9)));
        assert_eq!(d, Some("127.0.0.1:1".parse().unwrap()));
        let problems = env.into_problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("B: cannot parse `x`"));
        assert_eq!(problems[1], "E: say yes");
    }
}
