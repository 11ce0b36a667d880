//! What a container asks of pipework: its `pipework` labels and `pipework_cmd` variables.

use crate::resolve::ContainerConfig;

/// The label whose value is one attach: the original command line without the guest.
pub const LABEL: &str = "pipework";
/// The environment variable of the event-driven forks' images, in the same form.
pub const ENV_VAR: &str = "pipework_cmd";
/// Tokens the forks' `pipework_cmd` put where the guest goes; they are left out.
const GUEST_PLACEHOLDERS: [&str; 2] = ["@CONTAINER_NAME@", "@CONTAINER_ID@"];

/// One attach a container asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    /// Where it was written: `label pipework.1`, `env pipework_cmd`.
    pub source: String,
    /// The attach's arguments without the guest (`br1 192.168.9.2/24@192.168.9.1`).
    pub args: String,
}

/// The attaches `container` asks for, in order: label `pipework`, labels `pipework.<n>` by
/// `n`, then variables `pipework_cmd` and `pipework_cmd<suffix>` by name.
///
/// Other labels and variables are not pipework's and are left alone.
pub fn asks_of(container: &ContainerConfig) -> Vec<Ask> {
    let mut labels: Vec<(u64, &str, &str)> = container
        .labels
        .iter()
        .filter_map(|(key, value)| {
            let order = match key.strip_prefix(LABEL) {
                Some("") => 0,
                Some(rest) => rest.strip_prefix('.')?.parse::<u64>().ok()?.checked_add(1)?,
                None => return None,
            };
            Some((order, key.as_str(), value.as_str()))
        })
        .collect();
    labels.sort();
    let mut variables: Vec<(&str, &str)> = container
        .env
        .iter()
        .filter_map(|entry| entry.split_once('='))
        .filter(|(name, _)| name.starts_with(ENV_VAR))
        .collect();
    variables.sort();
    let labelled = labels.into_iter().map(|(_, key, value)| Ask {
        source: format!("label {key}"),
        args: value.trim().to_string(),
    });
    let from_env = variables.into_iter().map(|(name, value)| Ask {
        source: format!("env {name}"),
        args: value
            .split_whitespace()
            .filter(|word| !GUEST_PLACEHOLDERS.contains(word))
            .collect::<Vec<_>>()
            .join(" "),
    });
    labelled.chain(from_env).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn container(labels: &[(&str, &str)], env: &[&str]) -> ContainerConfig {
        ContainerConfig {
            id: "94f6".into(),
            name: "web".into(),
            running: true,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            env: env.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn labels_come_in_order_then_variables() {
        let asks = asks_of(&container(
            &[
                ("pipework.10", "br3 10.0.3.2/24"),
                ("pipework", " br1 10.0.1.2/24 "),
                ("pipework.2", "br2 10.0.2.2/24"),
                ("pipework.bridge", "not ours"),
                ("pipeworks", "not ours"),
                ("com.example", "x"),
            ],
            &[
                "PATH=/bin",
                "pipework_cmd_b=eth0 @CONTAINER_NAME@ dhcp",
                "pipework_cmd=br9 -i eth9 10.9.0.2/24",
            ],
        ));
        let got: Vec<(&str, &str)> =
            asks.iter().map(|a| (a.source.as_str(), a.args.as_str())).collect();
        assert_eq!(
            got,
            [
                ("label pipework", "br1 10.0.1.2/24"),
                ("label pipework.2", "br2 10.0.2.2/24"),
                ("label pipework.10", "br3 10.0.3.2/24"),
                ("env pipework_cmd", "br9 -i eth9 10.9.0.2/24"),
                ("env pipework_cmd_b", "eth0 dhcp"),
            ]
        );
        assert!(asks_of(&container(&[("app", "web")], &["HOME=/"])).is_empty());
    }
}
