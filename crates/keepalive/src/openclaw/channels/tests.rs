//! The channel tables against what the releases' own functions answered.

use super::*;

const ALL: [Version; 11] = [
    (2026, 3, 13),
    (2026, 3, 22),
    (2026, 4, 12),
    (2026, 4, 24),
    (2026, 4, 29),
    (2026, 5, 2),
    (2026, 6, 1),
    (2026, 6, 35),
    (2026, 7, 35),
    (2026, 8, 2),
    (2026, 9, 6),
];

/// One row per input: the release's answer for each of ALL, in order.
fn check<T: PartialEq + std::fmt::Debug>(f: impl Fn(Version, &str) -> T, input: &str, want: &[T]) {
    for (rel, w) in ALL.iter().zip(want) {
        assert_eq!(&f(*rel, input), w, "{rel:?} {input:?}");
    }
}

#[test]
fn channel_keys_match_the_releases() {
    let k = |s: &str| Some(s.to_string());
    let same = |s: &str| vec![k(s); 11];
    check(reset_channel_key, "", &vec![None; 11]);
    check(reset_channel_key, "  ", &vec![None; 11]);
    check(reset_channel_key, " Discord ", &same("discord"));
    check(reset_channel_key, "WebChat", &same("webchat"));
    check(reset_channel_key, "heartbeat", &same("heartbeat"));
    check(reset_channel_key, "IMSG", &same("imessage"));
    check(reset_channel_key, "Internet-Relay-Chat", &same("irc"));
    check(reset_channel_key, "gchat", &same("googlechat"));
    check(
        reset_channel_key,
        "\u{feff}lark",
        &[
            k("lark"),
            k("lark"),
            k("feishu"),
            k("feishu"),
            k("feishu"),
            k("feishu"),
            k("feishu"),
            k("feishu"),
            k("feishu"),
            k("feishu"),
            k("feishu"),
        ],
    );
    check(reset_channel_key, "\u{85}imsg", &same("\u{85}imsg"));
    check(
        reset_channel_key,
        "\tteams\n",
        &[
            k("teams"),
            k("teams"),
            k("msteams"),
            k("msteams"),
            k("msteams"),
            k("msteams"),
            k("msteams"),
            k("msteams"),
            k("msteams"),
            k("msteams"),
            k("msteams"),
        ],
    );
    let bb = [
        k("bb"),
        k("bb"),
        k("bluebubbles"),
        k("bluebubbles"),
        k("bluebubbles"),
        k("bluebubbles"),
        k("bb"),
        k("bb"),
        k("bb"),
        k("bb"),
        k("bb"),
    ];
    check(reset_channel_key, "BB", &bb);
    check(
        reset_channel_key,
        "wework",
        &[
            k("wework"),
            k("wework"),
            k("wework"),
            k("wework"),
            k("wework"),
            k("wecom"),
            k("wecom"),
            k("wecom"),
            k("wecom"),
            k("wecom"),
            k("wecom"),
        ],
    );
    check(
        reset_channel_key,
        "微信",
        &[
            k("微信"),
            k("微信"),
            k("微信"),
            k("微信"),
            k("微信"),
            k("微信"),
            k("openclaw-weixin"),
            k("openclaw-weixin"),
            k("openclaw-weixin"),
            k("openclaw-weixin"),
            k("openclaw-weixin"),
        ],
    );
    check(
        reset_channel_key,
        "Zalo-ClawBot",
        &[
            k("zalo-clawbot"),
            k("zalo-clawbot"),
            k("zalo-clawbot"),
            k("zalo-clawbot"),
            k("zalo-clawbot"),
            k("zalo-clawbot"),
            k("zalo-clawbot"),
            k("openclaw-zaloclawbot"),
            k("openclaw-zaloclawbot"),
            k("openclaw-zaloclawbot"),
            k("openclaw-zaloclawbot"),
        ],
    );
    check(reset_channel_key, "constructor", &same("constructor"));
}

#[test]
fn chat_types_match_the_releases() {
    for (raw, want) in [
        ("direct", Some("direct")),
        ("dm", Some("direct")),
        (" DM ", Some("direct")),
        ("\u{feff}dm", Some("direct")),
        ("\u{85}dm", None),
        ("Group", Some("group")),
        ("\tchannel\n", Some("channel")),
        ("thread", None),
        ("topic", None),
        ("", None),
        ("groups", None),
    ] {
        assert_eq!(normalize_chat_type(raw), want, "{raw:?}");
    }
}

/// `resolveSessionResetType({ sessionKey })` as the harness asks it, per release:
/// t = thread, g = group, d = direct.
fn reset_type(rel: Version, key: &str) -> char {
    if is_thread_key(rel, key) {
        't'
    } else if is_group_key(rel, key) {
        'g'
    } else {
        'd'
    }
}

#[test]
fn session_key_types_match_the_releases() {
    let rows: &[(&str, &str)] = &[
        ("agent:main:main", "ddddddddddd"),
        ("", "ddddddddddd"),
        ("agent:main:telegram:group:-1001234567890", "ggggggggggg"),
        (
            "agent:main:telegram:group:-1001234567890:topic:77",
            "ttttttttttt",
        ),
        (
            "agent:main:discord:channel:998877:thread:5566",
            "ttttttttttt",
        ),
        ("AGENT:MAIN:DISCORD:CHANNEL:1", "ggggggggggg"),
        ("agent:main:feishu:group:oc_abc:topic:om_123", "ttggggggggg"),
        ("agent:main:feishu:group:oc_abc:thread:om_1", "ttttttttttt"),
        ("agent:main:telegram:direct:5:topic:9", "ttddddddddd"),
        ("x:topic:y", "ttddddddddd"),
        ("agent:main:x:thread:", "ttddddddddd"),
        ("agent:main:x:thread:a:thread:", "ttddddddddd"),
        ("agent:main:x:thread::", "ttttttttttt"),
        ("agent:main:x:thread:\u{85}", "ttttttttttt"),
        ("agent:main:x:thread:\u{feff}", "ttddddddddd"),
        ("agent:main:discord:channel:thread:5", "ttgtttttttt"),
        ("agent:main:discord:channel::thread:5", "ttgtttttttt"),
        ("agent:main:telegram:group:-100::topic:5", "ttttttttggg"),
        ("agent:main:telegram:group:-100:TOPIC:5", "ttttttttttt"),
        (
            "agent:main:telegram:group:-100:topic:5:topic:6",
            "ttggggggggg",
        ),
        (
            "agent:main:telegram:group:-100:topic:99999999999999999999",
            "tttttttttgg",
        ),
        ("agent:main:telegram:group:-100:7", "gggggggggtt"),
        ("agent:main:telegram:group:12345:9", "gggggggggtt"),
        (
            "agent:main:telegram:group:-100:direct-topic:5",
            "gggggggggtt",
        ),
        (
            "agent:main:telegram:group:-100:direct-topic:0",
            "ggggggggggg",
        ),
        ("agent:main:telegram:group:-100:topic:0", "ttttttttttt"),
        ("agent:main:telegram:group:mychannel:topic:5", "ttgggggggtt"),
        ("agent:main:telegram:group:abc:topic:5", "ttggggggggg"),
        ("agent:main:telegram:group:@abcde:topic:5", "ttgggggggtt"),
        (
            "agent:main:telegram:group:https://t.me/abcde:topic:5",
            "ttgggggggtt",
        ),
        (
            "agent:main:telegram:group:tg:group:-100:topic:5",
            "ttgggggggtt",
        ),
        ("agent:main:telegram:group: -100 :topic: 5", "ttggggggggg"),
        ("agent:main:telegram:group:-100:topic:+5", "ttggggggggg"),
        ("agent:main:telegram:group:-1:topic:1\n", "ttttttttttt"),
        ("agent:main:telegram:group:a\nb:topic:5", "ttggggggggg"),
        ("agent::telegram:group:-100:topic:5", "ttggggggggg"),
        ("agent:main:agent:group:-100:topic:5", "ttggggggggg"),
    ];
    for (key, want) in rows {
        let got: String = ALL.iter().map(|r| reset_type(*r, key)).collect();
        assert_eq!(&got, want, "{key:?}");
    }
}

// How the expectations in this file were produced (Node 24, each pinned release;
// HOME/OPENCLAW_STATE_DIR pointing at a scratch dir, KEEPALIVE_INTEROP_CACHE
// at the installed releases). Per release V:
//
//   import { loadRelease } from "<repo>/interop/lib/openclaw.mjs";
//   const rel = await loadRelease(V);
//   // the key resolveChannelResetConfig looks up, recorded by a Proxy:
//   const keyOf = (channel) => { const seen = [];
//     const resetByChannel = new Proxy({}, { get(_, k) { if (typeof k === "string") seen.push(k); } });
//     rel.resolveChannelResetConfig({ sessionCfg: { resetByChannel }, channel });
//     return seen[0] ?? null; };
//   rel.normalizeChatType(raw) ?? null;
//   // the harness's verdict (interop/lib/reset-eval.mjs, pluginThread copied verbatim):
//   rel.resolveSessionResetType({ sessionKey: key, isThread: pluginThread(key) });
//
// Channels probed: every id and every alias string found in any JSON or JS
// `aliases: [...]` of any release's install (~490 strings, upper-cased and
// padded variants too); only the aliases in the tables above changed a key.
