//! JavaScript's view of JSON values, as far as the gateway's reset code
//! needs it: truthiness, `??` (nullish), optional member access, and
//! `Math.floor(x)` with its number coercion. The gateway reads
//! `openclaw.json` with these rules, wrongly typed values included, so
//! keepalive applies the same ones to predict it (docs/GATEWAY.md).

use serde_json::Value;

/// `Boolean(v)`; an absent value is `undefined`.
pub fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(_) | Value::Object(_)) => true,
    }
}

/// `v` unless it is `null`/`undefined` (the left side of `??`).
pub fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

/// `a ?? b`.
pub fn coalesce<'a>(a: Option<&'a Value>, b: Option<&'a Value>) -> Option<&'a Value> {
    present(a).or_else(|| present(b))
}

/// `v?.[key]`: only objects have the members the gateway reads.
pub fn member<'a>(v: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    present(v.and_then(|v| v.as_object()?.get(key)))
}

/// `v === s` for a string `s`.
pub fn is_str(v: Option<&Value>, s: &str) -> bool {
    v.and_then(Value::as_str) == Some(s)
}

/// `Number(v)` (ToNumber) for a JSON value.
pub fn to_number(v: &Value) -> f64 {
    match v {
        Value::Null => 0.0,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => string_to_number(s),
        // ToPrimitive joins an array's elements with commas (null as "").
        Value::Array(items) => {
            let joined: Vec<String> = items.iter().map(to_js_string).collect();
            string_to_number(&joined.join(","))
        }
        Value::Object(_) => f64::NAN,
    }
}

/// `String(v)` for what an array join needs.
fn to_js_string(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            // Integral values print without a fraction, like JS.
            Some(f) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(to_js_string).collect::<Vec<_>>().join(","),
        Value::Object(_) => "[object Object]".to_string(),
    }
}

/// `String.prototype.trim`: JavaScript's whitespace set differs from
/// Rust's (it strips U+FEFF and keeps U+0085), and the gateway's answers
/// depend on it, e.g. `"\u{85}imsg"` is not `imsg` to the gateway.
pub fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| {
        matches!(c, '\u{9}'..='\u{d}' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}'
            | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}' | '\u{feff}')
    })
}

/// StringToNumber: trimmed; empty is 0; decimal (with exponent, `Infinity`),
/// or `0x`/`0o`/`0b` integers; anything else is NaN.
fn string_to_number(s: &str) -> f64 {
    let t = trim(s);
    if t.is_empty() {
        return 0.0;
    }
    let radix = |prefix: &[&str], radix: u32| {
        prefix.iter().find_map(|p| t.strip_prefix(p)).map(|digits| {
            match u128::from_str_radix(digits, radix) {
                Ok(n) if !digits.is_empty() => n as f64,
                _ => f64::NAN,
            }
        })
    };
    if let Some(n) = radix(&["0x", "0X"], 16)
        .or_else(|| radix(&["0o", "0O"], 8))
        .or_else(|| radix(&["0b", "0B"], 2))
    {
        return n;
    }
    let unsigned = t.trim_start_matches(['+', '-']);
    if unsigned == "Infinity" && t.len() - unsigned.len() <= 1 {
        return if t.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    // Rust's float grammar is JS's decimal literal plus `inf`/`nan`
    // spellings, which JS does not accept.
    let decimal = t.len() - unsigned.len() <= 1
        && unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && unsigned.bytes().any(|b| b.is_ascii_digit());
    if decimal {
        t.parse().unwrap_or(f64::NAN)
    } else {
        f64::NAN
    }
}

/// `Math.floor(v)` with ToNumber.
pub fn floor(v: &Value) -> f64 {
    to_number(v).floor()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_coerce_like_javascript() {
        let cases = [
            (json!("30"), 30.0),
            (json!(" 30 "), 30.0),
            (json!(""), 0.0),
            (json!(true), 1.0),
            (json!(false), 0.0),
            (json!([]), 0.0),
            (json!([5]), 5.0),
            (json!([[7]]), 7.0),
            (json!([null]), 0.0),
            (json!("0x10"), 16.0),
            (json!("1e3"), 1000.0),
            (json!(".5"), 0.5),
            (json!("-Infinity"), f64::NEG_INFINITY),
            (json!(1.5), 1.5),
        ];
        for (v, want) in cases {
            assert_eq!(to_number(&v), want, "{v}");
        }
        for v in [
            json!("abc"),
            json!({}),
            json!([1, 2]),
            json!("inf"),
            json!("1e"),
            json!("--1"),
        ] {
            assert!(to_number(&v).is_nan(), "{v}");
        }
    }

    #[test]
    fn truthiness_and_members() {
        assert!(!truthy(None));
        for v in [json!(null), json!(false), json!(0), json!("")] {
            assert!(!truthy(Some(&v)), "{v}");
        }
        for v in [json!({}), json!([]), json!(true), json!("x"), json!(-1)] {
            assert!(truthy(Some(&v)), "{v}");
        }
        let obj = json!({"mode": "idle", "n": null});
        assert!(is_str(member(Some(&obj), "mode"), "idle"));
        assert_eq!(member(Some(&obj), "n"), None);
        assert_eq!(member(Some(&json!("str")), "mode"), None);
        assert_eq!(coalesce(None, Some(&json!(0))), Some(&json!(0)));
    }
}
