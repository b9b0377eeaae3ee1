//! The `a=b,c=d` lists of the configuration (development keys, Forward shared keys and users):
//! parsed here, so that loading the configuration reports a malformed list, and `auth` builds
//! its key stores from the parsed entries.

use super::Config;

/// A key list in the configuration that could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("invalid {list}: {message}")]
pub struct TokenListError {
    list: &'static str,
    message: String,
}

/// The `a=b` entries of `list` (the setting `name`; `shape` names its parts in errors).
pub(crate) fn entries<'a>(
    list: &'a str,
    name: &'static str,
    shape: &'static str,
) -> impl Iterator<Item = Result<(&'a str, &'a str), TokenListError>> {
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(move |entry| match entry.split_once('=') {
            Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() => {
                Ok((a.trim(), b.trim()))
            }
            _ => Err(TokenListError {
                list: name,
                message: format!("each entry must be `{shape}` with neither part empty"),
            }),
        })
}

/// The `key=project/monitor` entries of `list`.
pub(crate) fn monitor_entries<'a>(
    list: &'a str,
    name: &'static str,
) -> impl Iterator<Item = Result<(&'a str, &'a str, &'a str), TokenListError>> {
    entries(list, name, "key=project/monitor").map(move |entry| {
        let (key, target) = entry?;
        match target.split_once('/') {
            Some((p, m)) if !p.trim().is_empty() && !m.trim().is_empty() => {
                Ok((key, p.trim(), m.trim()))
            }
            _ => Err(TokenListError {
                list: name,
                message: "each entry must be `key=project/monitor`".into(),
            }),
        }
    })
}

/// Every malformed list of `config`, one problem each.
pub(super) fn check(config: &Config, problems: &mut Vec<String>) {
    let fw = &config.forward;
    let results = [
        entries(&config.ingest_tokens.0, "ingest_tokens", "token=project").find_map(Result::err),
        monitor_entries(&config.monitors.agent_keys.0, "monitors.agent_keys").find_map(Result::err),
        monitor_entries(&config.monitors.heartbeat_keys.0, "monitors.heartbeat_keys")
            .find_map(Result::err),
        entries(
            &fw.shared_keys.0,
            "forward.shared_keys",
            "shared_key=project",
        )
        .find_map(Result::err),
        entries(&fw.users.0, "forward.users", "user=password").find_map(Result::err),
    ];
    problems.extend(results.into_iter().flatten().map(|e| e.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_malformed_list_is_one_problem() {
        let mut config = Config::default();
        config.ingest_tokens.0 = "t=p, =q".into();
        config.monitors.agent_keys.0 = "a=p1".into();
        config.monitors.heartbeat_keys.0 = "h=p/m".into();
        config.forward.users.0 = "alice".into();
        let mut problems = Vec::new();
        check(&config, &mut problems);
        assert_eq!(problems.len(), 3, "{problems:?}");
        for list in ["ingest_tokens", "monitors.agent_keys", "forward.users"] {
            assert!(problems.iter().any(|p| p.contains(list)), "{problems:?}");
        }
        let parsed: Vec<_> = monitor_entries(" h = p / m ", "x")
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(parsed, [("h", "p", "m")]);
    }
}
