//! `google.protobuf.Struct` to and from JSON: specs travel as Structs holding exactly the JSON
//! of the YAML document's `spec`.

use prost_types::{ListValue, Struct, Value, value::Kind};
use serde_json::Value as Json;

/// A Struct as a JSON object.
pub fn struct_to_json(s: &Struct) -> Json {
    Json::Object(
        s.fields
            .iter()
            .map(|(k, v)| (k.clone(), value_to_json(v)))
            .collect(),
    )
}

/// The value at `path` (field names from the outermost Struct inward), if every step is a
/// Struct that has the field: a read of one leaf without converting the whole document.
pub fn field_at<'a>(root: &'a Struct, path: &[&str]) -> Option<&'a Value> {
    let (last, parents) = path.split_last()?;
    let mut at = root;
    for name in parents {
        match &at.fields.get(*name)?.kind {
            Some(Kind::StructValue(inner)) => at = inner,
            _ => return None,
        }
    }
    at.fields.get(*last)
}

/// A protobuf Value as JSON. Whole numbers that a double holds exactly come back as integers.
pub fn value_to_json(v: &Value) -> Json {
    match &v.kind {
        None | Some(Kind::NullValue(_)) => Json::Null,
        Some(Kind::BoolValue(b)) => Json::Bool(*b),
        Some(Kind::NumberValue(n)) => {
            // Exactly representable whole numbers only: the cast below cannot truncate.
            if n.fract() == 0.0 && n.abs() < 9.0e15 {
                Json::from(*n as i64)
            } else {
                serde_json::Number::from_f64(*n).map_or(Json::Null, Json::Number)
            }
        }
        Some(Kind::StringValue(s)) => Json::String(s.clone()),
        Some(Kind::ListValue(l)) => Json::Array(l.values.iter().map(value_to_json).collect()),
        Some(Kind::StructValue(s)) => struct_to_json(s),
    }
}

/// A JSON object as a Struct (anything else becomes an empty Struct).
pub fn json_to_struct(j: &Json) -> Struct {
    json_into_struct(j.clone())
}

/// [`json_to_struct`], moving the JSON's strings instead of copying them: for a large
/// document made only to be sent (a compile's result).
pub fn json_into_struct(j: Json) -> Struct {
    match j {
        Json::Object(map) => Struct {
            fields: map
                .into_iter()
                .map(|(k, v)| (k, json_into_value(v)))
                .collect(),
        },
        _ => Struct::default(),
    }
}

/// The path (`runtime.envVars[0].value`) of the first number in `s` that JSON cannot hold, NaN
/// or an infinity: protobuf's double can carry one, no spec field means one, and
/// [`struct_to_json`] would silently turn it into null. Recursion is bounded by prost's decode
/// limit on nesting.
pub fn non_finite_number(s: &Struct) -> Option<String> {
    s.fields
        .iter()
        .find_map(|(key, value)| non_finite_in_value(value).map(|rest| format!("{key}{rest}")))
}

fn non_finite_in_value(v: &Value) -> Option<String> {
    match &v.kind {
        Some(Kind::NumberValue(n)) if !n.is_finite() => Some(String::new()),
        Some(Kind::ListValue(l)) => l
            .values
            .iter()
            .enumerate()
            .find_map(|(i, item)| non_finite_in_value(item).map(|rest| format!("[{i}]{rest}"))),
        Some(Kind::StructValue(s)) => non_finite_number(s).map(|rest| format!(".{rest}")),
        _ => None,
    }
}

/// JSON as a protobuf Value.
pub fn json_to_value(j: &Json) -> Value {
    json_into_value(j.clone())
}

/// [`json_to_value`], moving the JSON's strings.
pub fn json_into_value(j: Json) -> Value {
    let kind = match j {
        Json::Null => Kind::NullValue(0),
        Json::Bool(b) => Kind::BoolValue(b),
        Json::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        Json::String(s) => Kind::StringValue(s),
        Json::Array(items) => Kind::ListValue(ListValue {
            values: items.into_iter().map(json_into_value).collect(),
        }),
        Json::Object(map) => Kind::StructValue(json_into_struct(Json::Object(map))),
    };
    Value { kind: Some(kind) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_at_reads_one_leaf_through_structs_only() {
        let s = json_to_struct(&serde_json::json!({"a": {"b": {"c": 3}}, "l": [{"c": 1}]}));
        assert_eq!(
            field_at(&s, &["a", "b", "c"]).map(value_to_json),
            Some(3.into())
        );
        assert!(
            field_at(&s, &["a", "b"]).is_some_and(|v| matches!(v.kind, Some(Kind::StructValue(_))))
        );
        assert_eq!(field_at(&s, &["a", "x", "c"]), None, "a missing step");
        assert_eq!(field_at(&s, &["l", "c"]), None, "a list is not a Struct");
        assert_eq!(field_at(&s, &[]), None, "no path, no leaf");
    }

    #[test]
    fn non_finite_numbers_are_found_with_their_path() {
        let mut s = json_to_struct(&serde_json::json!({"a": [1, {"b": 2.5}], "c": 1}));
        assert_eq!(non_finite_number(&s), None);
        let Some(Kind::ListValue(list)) = s.fields.get_mut("a").and_then(|v| v.kind.as_mut())
        else {
            panic!("a list");
        };
        let Some(Kind::StructValue(inner)) = list.values[1].kind.as_mut() else {
            panic!("a struct");
        };
        inner.fields.insert(
            "b".into(),
            Value {
                kind: Some(Kind::NumberValue(f64::NAN)),
            },
        );
        assert_eq!(non_finite_number(&s).as_deref(), Some("a[1].b"));
    }

    #[test]
    fn json_round_trips_through_struct() {
        let j = serde_json::json!({"a": 1, "b": [true, null, "x", 1.5], "c": {"d": -7}});
        assert_eq!(struct_to_json(&json_to_struct(&j)), j);
    }
}
