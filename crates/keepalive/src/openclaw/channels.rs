//! The two per-release inputs of the gateway's reset decision that come from
//! channel tables in its bundles, mirrored release by release:
//! - the `session.resetByChannel` key a channel is looked up under
//!   (`resolveChannelResetConfig` → `normalizeMessageChannel`), and
//! - whether a session key is a thread or a group (`resolveSessionResetType`
//!   → `isThreadSessionKey`, `GROUP_SESSION_MARKERS`), plus `normalizeChatType`.
//!
//! Read from the dist bundles of the releases in interop/releases.txt and
//! checked by running their own functions (snippets at the bottom of `channels/tests.rs`).
//!
//! State mirrored: a process that only imported the bundle, as the interop
//! harness (interop/lib/reset-eval.mjs) does: no channel plugin is loaded, so
//! no plugin-registry aliases and no plugin thread parsers, except that the
//! harness asks each release's own `extensions/<ch>/session-key-api.js` about
//! threads (Telegram from 2026.4.12; Feishu in 4.12–4.29, which never names a
//! thread). A gateway with channel plugins loaded can differ; see
//! [`reset_channel_key`] and [`is_thread_key`].

/// (year, month, patch) of an OpenClaw release, e.g. `(2026, 4, 12)`.
pub type Version = (u16, u8, u16);

use super::js::trim;

/// Where `resetByChannel` aliases exist: from the first release that knows
/// them up to (not including) the first that dropped them.
const ALWAYS: Version = (0, 0, 0);
const STILL: Version = (u16::MAX, u8::MAX, u16::MAX);
const FROM_4: Version = (2026, 4, 0);
const FROM_5: Version = (2026, 5, 0);
const FROM_6: Version = (2026, 6, 0);
const FROM_6_35: Version = (2026, 6, 35);

/// (alias, channel id, from, until). 2026.3.x has the fixed
/// `CHAT_CHANNEL_ALIASES`; from 2026.4.12 they come from
/// `BUNDLED_CHAT_CHANNEL_ENTRIES` (the bundled extensions'
/// `openclaw.channel.aliases`): WeCom and Yuanbao arrive in 2026.5.2,
/// BlueBubbles leaves and Weixin arrives in 2026.6.1 (its aliases reach
/// `openclaw-weixin` through `normalizeRuntimeBundledChatChannelId`), Zalo
/// ClawBot arrives by 2026.6.35.
const ALIASES: &[(&str, &str, Version, Version)] = &[
    ("imsg", "imessage", ALWAYS, STILL),
    ("internet-relay-chat", "irc", ALWAYS, STILL),
    ("google-chat", "googlechat", ALWAYS, STILL),
    ("gchat", "googlechat", ALWAYS, STILL),
    ("bb", "bluebubbles", FROM_4, FROM_6),
    ("lark", "feishu", FROM_4, STILL),
    ("teams", "msteams", FROM_4, STILL),
    ("nc", "nextcloud-talk", FROM_4, STILL),
    ("nc-talk", "nextcloud-talk", FROM_4, STILL),
    ("twitch-chat", "twitch", FROM_4, STILL),
    ("zl", "zalo", FROM_4, STILL),
    ("zlu", "zalouser", FROM_4, STILL),
    ("qywx", "wecom", FROM_5, STILL),
    ("wework", "wecom", FROM_5, STILL),
    ("enterprise-wechat", "wecom", FROM_5, STILL),
    ("yb", "yuanbao", FROM_5, STILL),
    ("tencent-yuanbao", "yuanbao", FROM_5, STILL),
    ("元宝", "yuanbao", FROM_5, STILL),
    ("weixin", "openclaw-weixin", FROM_6, STILL),
    ("wechat", "openclaw-weixin", FROM_6, STILL),
    ("微信", "openclaw-weixin", FROM_6, STILL),
    ("zaloclawbot", "openclaw-zaloclawbot", FROM_6_35, STILL),
    ("zalo-clawbot", "openclaw-zaloclawbot", FROM_6_35, STILL),
];

/// The channel id `release` maps an alias to.
fn alias_of(release: Version, name: &str) -> Option<&'static str> {
    ALIASES
        .iter()
        .find(|(alias, _, from, until)| *alias == name && (*from..*until).contains(&release))
        .map(|(_, id, _, _)| *id)
}

/// `normalizeOptionalString`: trimmed, or none when nothing is left.
fn opt_str(s: &str) -> Option<&str> {
    Some(trim(s)).filter(|t| !t.is_empty())
}

/// `normalizeOptionalLowercaseString`.
fn opt_lower(s: &str) -> Option<String> {
    opt_str(s).map(str::to_lowercase)
}

/// The `resetByChannel` key release `release` looks `raw` up under, or `None`
/// when the trimmed channel is empty (the gateway then applies no override).
/// Every release: trim + lowercase, then an alias becomes its channel id and
/// anything else (built-in id, `webchat` = INTERNAL_MESSAGE_CHANNEL, unknown
/// name) stays as it is. A gateway with channel plugins loaded also maps the
/// plugins' `meta.aliases` (the plugin registry); for bundled channels these
/// are the catalog aliases above, but a 2026.3.x gateway with, say, the
/// BlueBubbles plugin loaded may turn `bb` into `bluebubbles` where this
/// (and the harness) keeps `bb`, and third-party plugins can add any alias.
pub fn reset_channel_key(release: Version, raw: &str) -> Option<String> {
    let key = opt_lower(raw)?;
    Some(alias_of(release, &key).map_or(key, str::to_string))
}

/// `GROUP_SESSION_MARKERS`, the same `[":group:", ":channel:"]` in every
/// pinned release. Only consulted after the thread check and `isGroup`.
pub fn is_group_key(_release: Version, key: &str) -> bool {
    let k = key.to_lowercase();
    k.contains(":group:") || k.contains(":channel:")
}

/// `normalizeChatType`, identical in every pinned release.
pub fn normalize_chat_type(raw: &str) -> Option<&'static str> {
    match opt_lower(raw)?.as_str() {
        "direct" | "dm" => Some("direct"),
        "group" => Some("group"),
        "channel" => Some("channel"),
        _ => None,
    }
}

/// Whether `resolveSessionResetType` sees `key` as a thread, as the interop
/// harness's gateway-side verdict does (bundle-only `isThreadSessionKey`, or
/// the release's Telegram `session-key-api.js` naming a topic).
///
/// - 2026.3.x: the lowercased key contains `:thread:` or `:topic:`.
/// - 2026.4.12+: no plugin is loaded, so `isThreadSessionKey` falls back to
///   the text after the last `:thread:` (4.12 parses only the conversation id
///   of a `<channel>:group|channel:<id>` key, 4.24+ the whole key); `:topic:`
///   alone no longer counts, so a Telegram topic is a thread only through the
///   Telegram API the harness asks (its grammar changes in 2026.8.2).
///
/// A real gateway differs where a loaded plugin resolves the key itself: a
/// Feishu plugin (4.12+) names every `feishu:group:…` key without a thread
/// id, so `…:feishu:group:oc_x:thread:y` is not a thread there but is here;
/// third-party plugins with their own parsers can answer anything.
pub fn is_thread_key(release: Version, key: &str) -> bool {
    if release < (2026, 4, 12) {
        let k = key.to_lowercase();
        return k.contains(":thread:") || k.contains(":topic:");
    }
    let raw = parse_raw_ref(release, key);
    let bundle_only = match (&raw, release < (2026, 4, 24)) {
        (Some(r), true) => thread_suffix(&r.raw_id),
        _ => thread_suffix(key),
    };
    bundle_only
        || raw.is_some_and(|r| {
            r.channel == "telegram"
                && if release < (2026, 8, 2) {
                    telegram_topic_4(&r.raw_id)
                } else {
                    telegram_topic_8(&r.raw_id)
                }
        })
}

/// `parseThreadSessionSuffix(s).threadId` is set: something other than
/// whitespace follows the last `:thread:` (any case). JS finds the marker in
/// the lowercased string and slices the original at that UTF-16 index, so
/// this does too (they differ when lowercasing changes a length, e.g. `İ`).
fn thread_suffix(s: &str) -> bool {
    let Some(raw) = opt_str(s) else { return false };
    let orig: Vec<u16> = raw.encode_utf16().collect();
    let lower: Vec<u16> = raw.to_lowercase().encode_utf16().collect();
    let marker: Vec<u16> = ":thread:".encode_utf16().collect();
    let Some(at) = lower
        .windows(marker.len())
        .rposition(|w| w == marker.as_slice())
    else {
        return false;
    };
    let rest = orig.get(at + marker.len()..).unwrap_or(&[]);
    opt_str(&String::from_utf16_lossy(rest)).is_some()
}

/// What `parseRawSessionConversationRef` keeps of `[agent:<id>:]<channel>:<kind>:<id…>`.
struct RawRef {
    channel: String,
    raw_id: String,
}

/// `parseRawSessionConversationRef`: up to 6.35 empty `:`-segments are dropped
/// first; from 7.35 they are kept and malformed `agent:` wrappers rejected.
fn parse_raw_ref(release: Version, key: &str) -> Option<RawRef> {
    let raw = opt_str(key)?;
    let mut raw_parts: Vec<&str> = raw.split(':').collect();
    let body = if release < (2026, 7, 35) {
        raw_parts.retain(|p| !p.is_empty());
        if raw_parts.len() >= 3 && opt_lower(raw_parts[0]).as_deref() == Some("agent") {
            2
        } else {
            0
        }
    } else {
        let agent = opt_lower(raw_parts[0]).as_deref() == Some("agent");
        if agent && (raw_parts.get(1).and_then(|p| opt_str(p)).is_none() || raw_parts.len() < 3) {
            return None;
        }
        let body = if agent { 2 } else { 0 };
        if opt_lower(raw_parts[body]).as_deref() == Some("agent")
            || raw_parts.get(body + 2).and_then(|p| opt_str(p)).is_none()
        {
            return None;
        }
        body
    };
    let parts = &raw_parts[body..];
    if parts.len() < 3 {
        return None;
    }
    let channel = opt_lower(parts[0])?;
    if !matches!(opt_lower(parts[1]).as_deref(), Some("group" | "channel")) {
        return None;
    }
    let raw_id = opt_str(&parts[2..].join(":"))?.to_string();
    opt_str(&raw_parts[..body + 2].join(":"))?;
    Some(RawRef { channel, raw_id })
}

/// Telegram's `resolveSessionConversation` names a topic, 2026.4.12–7.35:
/// `^(-?\d+):topic:(\d+)$/i` on the trimmed conversation id.
fn telegram_topic_4(raw_id: &str) -> bool {
    let s = trim(raw_id);
    let chat = s.strip_prefix('-').unwrap_or(s);
    let Some(cut) = chat.find(':') else {
        return false;
    };
    let (digits, rest) = (&chat[..cut], &chat[cut..]);
    let ok_digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    ok_digits(digits)
        && rest.len() > 7
        && rest.is_char_boundary(7)
        && rest[..7].eq_ignore_ascii_case(":topic:")
        && ok_digits(&rest[7..])
}

/// 2026.8.2+: `parseTelegramTopicConversation` accepts `<chat>:<n>`,
/// `<chat>:topic:<n>` (n >= 0) and `<chat>:direct-topic:<n>` (n > 0), n a
/// safe integer, `<chat>` a numeric id or a username / t.me link (after
/// `telegram:`/`tg:`/`group:` prefixes).
fn telegram_topic_8(raw_id: &str) -> bool {
    // The first `:topic:`/`:direct-topic:` (any case) is lowercased; the
    // target grammar below is case-sensitive.
    let mut conv = trim(raw_id).to_string();
    let lower = conv.to_ascii_lowercase();
    if let Some(at) = lower
        .match_indices(':')
        .map(|(i, _)| i)
        .find(|&i| lower[i..].starts_with(":direct-topic:") || lower[i..].starts_with(":topic:"))
    {
        let len = if lower[at..].starts_with(":direct-topic:") {
            14
        } else {
            7
        };
        conv.replace_range(at..at + len, &lower[at..at + len]);
    }
    let target = strip_telegram_prefixes(&conv);
    // /^(.+?):(?:(direct-topic|topic):)?(\d+)$/ : the shortest chat part wins;
    // `.` stops at a line terminator.
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    let mut found = None;
    for (i, c) in target.char_indices() {
        if matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}') {
            break;
        }
        if c != ':' || i == 0 {
            continue;
        }
        let rest = &target[i + 1..];
        let hit = [("direct-topic:", true), ("topic:", false)]
            .iter()
            .find_map(|(m, direct)| {
                rest.strip_prefix(m)
                    .filter(|d| digits(d))
                    .map(|d| (d, *direct))
            })
            .or_else(|| digits(rest).then_some((rest, false)));
        if let Some((n, direct)) = hit {
            found = Some((&target[..i], n, direct));
            break;
        }
    }
    let Some((chat, n, direct)) = found else {
        return false;
    };
    // parseStrictInteger: Number.isSafeInteger.
    let n = n.trim_start_matches('0');
    let value = if n.len() > 16 {
        None
    } else {
        n.parse::<u64>().ok().or(Some(0))
    };
    let Some(value) = value.filter(|v| *v < (1u64 << 53)) else {
        return false;
    };
    if direct && value == 0 {
        return false;
    }
    telegram_chat_ok(chat)
}

/// `normalizeTelegramChatId(chat) ?? normalizeTelegramLookupTarget(chat)` is set.
fn telegram_chat_ok(chat: &str) -> bool {
    let s = strip_telegram_prefixes(chat);
    let handle =
        |h: &str| h.len() >= 5 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let numeric = {
        let d = s.strip_prefix('-').unwrap_or(s);
        !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
    };
    let lower = s.to_ascii_lowercase();
    let tme = ["https://t.me/", "http://t.me/", "t.me/"]
        .iter()
        .find_map(|p| lower.starts_with(p).then(|| &s[p.len()..]))
        .is_some_and(|h| {
            !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
    numeric || tme || s.strip_prefix('@').map_or(handle(s), handle)
}

/// `stripTelegramInternalPrefixes`: repeated `telegram:`/`tg:` (any case),
/// then also `group:`, trimming as it goes.
fn strip_telegram_prefixes(to: &str) -> &str {
    let mut s = trim(to);
    let mut stripped = false;
    loop {
        let lower = s.get(..9).map(str::to_ascii_lowercase).unwrap_or_default();
        let cut = if lower.starts_with("telegram:") {
            stripped = true;
            9
        } else if lower.starts_with("tg:")
            || s.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("tg:"))
        {
            stripped = true;
            3
        } else if stripped && s.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("group:")) {
            6
        } else {
            return s;
        };
        s = trim(&s[cut..]);
    }
}

#[cfg(test)]
mod tests;
