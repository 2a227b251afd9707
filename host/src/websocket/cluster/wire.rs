//! Commands between nodes: JSON on the owning node's channel, for one or more of its
//! connections.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::websocket::registry::{Command, Outgoing};

/// A command on the wire.
#[derive(Serialize, Deserialize)]
struct Wire {
    ids: Vec<String>,
    /// `send` or `close`.
    op: String,
    #[serde(default)]
    binary: bool,
    /// Text as it is, binary as base64.
    #[serde(default)]
    data: String,
}

/// `command` for the connections `ids`.
pub fn encode(ids: &[&str], command: &Command) -> String {
    let (op, binary, data) = match command {
        Command::Close => ("close", false, String::new()),
        Command::Send(Outgoing::Text(t)) => ("send", false, t.as_str().to_owned()),
        Command::Send(Outgoing::Binary(b)) => (
            "send",
            true,
            base64::engine::general_purpose::STANDARD.encode(b),
        ),
    };
    serde_json::to_string(&Wire {
        ids: ids.iter().map(|&i| i.to_owned()).collect(),
        op: op.to_owned(),
        binary,
        data,
    })
    .unwrap_or_default()
}

/// The connections and the command, if `payload` is one.
pub fn decode(payload: &[u8]) -> Option<(Vec<String>, Command)> {
    let wire: Wire = serde_json::from_slice(payload).ok()?;
    let command = match (wire.op.as_str(), wire.binary) {
        ("close", _) => Command::Close,
        ("send", false) => Command::Send(Outgoing::Text(wire.data.into())),
        ("send", true) => Command::Send(Outgoing::Binary(
            base64::engine::general_purpose::STANDARD
                .decode(wire.data)
                .ok()?
                .into(),
        )),
        _ => return None,
    };
    Some((wire.ids, command))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_survive_the_wire() {
        let cases = [
            Command::Close,
            Command::Send(Outgoing::Text("héllo {\"a\":1}".into())),
            Command::Send(Outgoing::Binary(vec![0, 159, 255].into())),
        ];
        for command in cases {
            let (ids, back) =
                decode(encode(&["abc", "def"], &command).as_bytes()).expect("decodes");
            assert_eq!(ids, ["abc", "def"]);
            assert_eq!(format!("{back:?}"), format!("{command:?}"));
        }
        assert!(decode(b"{\"ids\":[\"x\"],\"op\":\"explode\"}").is_none());
        assert!(decode(b"not json").is_none());
    }
}
