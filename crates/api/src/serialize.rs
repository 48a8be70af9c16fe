//! A `Serialize` value straight into a `google.protobuf.Struct`: what
//! `json::json_into_struct(serde_json::to_value(v)?)` gives, without the `serde_json::Value`
//! in between. (One exception: a `serde_json::value::RawValue`, which `serde_json` parses and
//! this writes as the struct it pretends to be; no type of ours holds one.)
//!
//! CompileWorkspace answers with the EffectiveWorkspace as a Struct. Going through
//! `serde_json::Value` built every map and string twice and dropped the first copy: about 8%
//! of the server's CPU for a compile. This serializer follows `serde_json`'s value
//! serializer rule for rule (numbers become doubles as `json_into_value` makes them, a
//! non-finite float is null, an enum's variant is written as `serde_json` writes it, map keys
//! are strings or the integers and booleans `serde_json` turns into strings), so the answer
//! is the same message; the tests check it shape by shape. Errors are `serde_json`'s, with its
//! messages.

use crate::json::json_into_value;
use prost_types::{ListValue, Struct, Value, value::Kind};
use serde::Serialize;
use serde::ser::{self, Error as _, Impossible};
use std::collections::BTreeMap;

/// The error type: `serde_json`'s, so a failure reads as it did through `serde_json::Value`.
pub type Error = serde_json::Error;

/// `value` as a Struct. A value that serializes as no map or struct gives an empty Struct, as
/// `json::json_into_struct` makes of any JSON but an object.
pub fn to_struct<T: Serialize + ?Sized>(value: &T) -> Result<Struct, Error> {
    match value.serialize(ValueSerializer)?.kind {
        Some(Kind::StructValue(s)) => Ok(s),
        _ => Ok(Struct::default()),
    }
}

fn value(kind: Kind) -> Value {
    Value { kind: Some(kind) }
}

fn null() -> Value {
    value(Kind::NullValue(0))
}

fn string(s: impl Into<String>) -> Value {
    value(Kind::StringValue(s.into()))
}

fn number(n: f64) -> Value {
    value(Kind::NumberValue(n))
}

fn list(values: Vec<Value>) -> Value {
    value(Kind::ListValue(ListValue { values }))
}

fn object(fields: BTreeMap<String, Value>) -> Value {
    value(Kind::StructValue(Struct { fields }))
}

/// `{variant: inner}`, as `serde_json` writes a variant with content.
fn variant(name: &str, inner: Value) -> Value {
    object(BTreeMap::from([(name.to_owned(), inner)]))
}

/// A float as `serde_json` keeps it: non-finite numbers have no JSON form and become null.
fn float(f: f64) -> Value {
    if f.is_finite() { number(f) } else { null() }
}

/// Integer methods of [`ValueSerializer`]: a double, as `serde_json`'s `as_f64` makes it.
macro_rules! numbers_as_doubles {
    ($($method:ident: $type:ty),*) => {$(
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_lossless,
            reason = "protobuf numbers are doubles; serde_json's as_f64 rounds 64-bit ones the same way"
        )]
        fn $method(self, v: $type) -> Result<Value, Error> {
            Ok(number(v as f64))
        }
    )*};
}

/// Integer methods of [`KeySerializer`]: the decimal text `serde_json` writes as a map key.
macro_rules! integers_as_text {
    ($($method:ident: $type:ty),*) => {$(
        fn $method(self, v: $type) -> Result<String, Error> {
            Ok(v.to_string())
        }
    )*};
}

/// Serializes one value into a protobuf `Value`, as `serde_json::value::Serializer` into JSON.
struct ValueSerializer;

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = Seq;
    type SerializeTuple = Seq;
    type SerializeTupleStruct = Seq;
    type SerializeTupleVariant = Seq;
    type SerializeMap = Map;
    type SerializeStruct = Map;
    type SerializeStructVariant = Map;

    fn serialize_bool(self, v: bool) -> Result<Value, Error> {
        Ok(value(Kind::BoolValue(v)))
    }
    numbers_as_doubles!(
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64
    );
    fn serialize_i128(self, v: i128) -> Result<Value, Error> {
        Ok(json_into_value(
            serde_json::value::Serializer.serialize_i128(v)?,
        ))
    }
    fn serialize_u128(self, v: u128) -> Result<Value, Error> {
        Ok(json_into_value(
            serde_json::value::Serializer.serialize_u128(v)?,
        ))
    }
    fn serialize_f32(self, v: f32) -> Result<Value, Error> {
        Ok(float(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, Error> {
        Ok(float(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, Error> {
        Ok(string(v))
    }
    fn serialize_str(self, v: &str) -> Result<Value, Error> {
        Ok(string(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, Error> {
        Ok(list(v.iter().map(|b| number((*b).into())).collect()))
    }
    fn serialize_none(self) -> Result<Value, Error> {
        Ok(null())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Value, Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, Error> {
        Ok(null())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, Error> {
        Ok(null())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, Error> {
        Ok(string(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        v: &T,
    ) -> Result<Value, Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        name: &'static str,
        v: &T,
    ) -> Result<Value, Error> {
        Ok(variant(name, v.serialize(self)?))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Seq, Error> {
        Ok(Seq::new(None, len.unwrap_or(0)))
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq, Error> {
        Ok(Seq::new(None, len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Seq, Error> {
        Ok(Seq::new(None, len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Seq, Error> {
        Ok(Seq::new(Some(variant), len))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Map, Error> {
        Ok(Map::new(None))
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Map, Error> {
        Ok(Map::new(None))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Map, Error> {
        Ok(Map::new(Some(variant)))
    }
}

/// A list being written; `variant`: the enum variant it is the content of.
struct Seq {
    variant: Option<&'static str>,
    values: Vec<Value>,
}

impl Seq {
    fn new(variant: Option<&'static str>, len: usize) -> Self {
        Self {
            variant,
            values: Vec::with_capacity(len),
        }
    }

    fn push<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.values.push(v.serialize(ValueSerializer)?);
        Ok(())
    }

    fn finish(self) -> Value {
        let values = list(self.values);
        match self.variant {
            Some(name) => variant(name, values),
            None => values,
        }
    }
}

/// serde's four list-like traits, each pushing one value per call onto a [`Seq`].
macro_rules! seq_traits {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Seq {
            type Ok = Value;
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
                self.push(v)
            }
            fn end(self) -> Result<Value, Error> {
                Ok(self.finish())
            }
        }
    )*};
}

seq_traits!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

/// A map or struct being written: its fields, the key waiting for its value, and the enum
/// variant it is the content of.
struct Map {
    variant: Option<&'static str>,
    fields: BTreeMap<String, Value>,
    key: Option<String>,
}

impl Map {
    fn new(variant: Option<&'static str>) -> Self {
        Self {
            variant,
            fields: BTreeMap::new(),
            key: None,
        }
    }

    fn finish(self) -> Value {
        let fields = object(self.fields);
        match self.variant {
            Some(name) => variant(name, fields),
            None => fields,
        }
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<(), Error> {
        self.fields
            .insert(key.to_owned(), v.serialize(ValueSerializer)?);
        Ok(())
    }
}

impl ser::SerializeMap for Map {
    type Ok = Value;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key = Some(key.serialize(KeySerializer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let Some(key) = self.key.take() else {
            return Err(Error::custom("serialize_value called before serialize_key"));
        };
        self.fields.insert(key, v.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        Ok(self.finish())
    }
}

/// serde's two struct traits, each adding one named field per call to a [`Map`].
macro_rules! struct_traits {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Map {
            type Ok = Value;
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                v: &T,
            ) -> Result<(), Error> {
                self.field(key, v)
            }
            fn end(self) -> Result<Value, Error> {
                Ok(self.finish())
            }
        }
    )*};
}

struct_traits!(SerializeStruct, SerializeStructVariant);

/// Map keys: strings, and what `serde_json` writes as strings (integers, booleans, chars, unit
/// variants, newtypes of those); anything else is `serde_json`'s "key must be a string".
struct KeySerializer;

fn key_must_be_a_string() -> Error {
    Error::custom("key must be a string")
}

/// A float key, formatted (or refused) by `serde_json` itself: its float formatting is its own.
fn key_as_serde_json_writes_it(key: impl Serialize) -> Result<String, Error> {
    use ser::Serializer as _;
    match serde_json::value::Serializer.collect_map([(key, ())])? {
        serde_json::Value::Object(map) => map
            .into_iter()
            .next()
            .map(|(k, _)| k)
            .ok_or_else(key_must_be_a_string),
        _ => Err(key_must_be_a_string()),
    }
}

impl ser::Serializer for KeySerializer {
    type Ok = String;
    type Error = Error;
    type SerializeSeq = Impossible<String, Error>;
    type SerializeTuple = Impossible<String, Error>;
    type SerializeTupleStruct = Impossible<String, Error>;
    type SerializeTupleVariant = Impossible<String, Error>;
    type SerializeMap = Impossible<String, Error>;
    type SerializeStruct = Impossible<String, Error>;
    type SerializeStructVariant = Impossible<String, Error>;

    fn serialize_bool(self, v: bool) -> Result<String, Error> {
        Ok(v.to_string())
    }
    integers_as_text!(
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_i128: i128,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
        serialize_u128: u128
    );
    fn serialize_f32(self, v: f32) -> Result<String, Error> {
        key_as_serde_json_writes_it(v)
    }
    fn serialize_f64(self, v: f64) -> Result<String, Error> {
        key_as_serde_json_writes_it(v)
    }
    fn serialize_char(self, v: char) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_str(self, v: &str) -> Result<String, Error> {
        Ok(v.to_owned())
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_none(self) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _v: &T) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit(self) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, Error> {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        v: &T,
    ) -> Result<String, Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _v: &T,
    ) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(key_must_be_a_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::json_into_struct;
    use serde::Serialize;
    use serde::ser::Serializer as _;
    use std::collections::{BTreeMap, HashMap};

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    enum Choice {
        Plain,
        Wrapped(String),
        Pair(u8, bool),
        Named { first_field: i64 },
    }

    #[derive(Serialize)]
    struct Unit;

    #[derive(Serialize)]
    struct Newtype(u32);

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Every {
        text: String,
        character: char,
        yes: bool,
        small: i8,
        negative: i64,
        big: u64,
        huge: u64,
        half: f32,
        third: f64,
        not_a_number: f64,
        infinite: f64,
        nothing: Option<String>,
        something: Option<u16>,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<String>,
        unit: (),
        unit_struct: Unit,
        newtype: Newtype,
        bytes: Bytes,
        tuple: (u8, String),
        list: Vec<Choice>,
        by_name: BTreeMap<String, Vec<u32>>,
        by_number: HashMap<i32, bool>,
        by_flag: BTreeMap<bool, char>,
        by_choice: BTreeMap<Plain, u8>,
        by_float: FloatKeys,
        wide: i128,
        #[serde(flatten)]
        flattened: BTreeMap<String, String>,
    }

    #[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
    enum Plain {
        Left,
        Right,
    }

    /// A map with float keys (no std map takes them).
    struct FloatKeys(Vec<(f64, u8)>);

    impl Serialize for FloatKeys {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
        }
    }

    /// `serialize_bytes` without a dependency on `serde_bytes`.
    struct Bytes(Vec<u8>);

    impl Serialize for Bytes {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&self.0)
        }
    }

    fn every() -> Every {
        Every {
            text: "héllo \"quoted\"".into(),
            character: 'ß',
            yes: true,
            small: -7,
            negative: -9_007_199_254_740_993,
            big: 42,
            huge: u64::MAX,
            half: 0.5,
            third: 1.0 / 3.0,
            not_a_number: f64::NAN,
            infinite: f64::NEG_INFINITY,
            nothing: None,
            something: Some(9),
            skipped: None,
            unit: (),
            unit_struct: Unit,
            newtype: Newtype(3),
            bytes: Bytes(vec![0, 255]),
            tuple: (1, "one".into()),
            list: vec![
                Choice::Plain,
                Choice::Wrapped("w".into()),
                Choice::Pair(2, false),
                Choice::Named { first_field: -1 },
            ],
            by_name: BTreeMap::from([("b".into(), vec![2]), ("a".into(), vec![])]),
            by_number: HashMap::from([(-3, true), (10, false)]),
            by_flag: BTreeMap::from([(true, 't'), (false, 'f')]),
            by_choice: BTreeMap::from([(Plain::Left, 1), (Plain::Right, 2)]),
            by_float: FloatKeys(vec![(0.1, 1), (2.0, 2), (-1e300, 3)]),
            wide: -5,
            flattened: BTreeMap::from([("extra".into(), "x".into())]),
        }
    }

    /// The old path: through `serde_json::Value`.
    fn through_json<T: Serialize>(v: &T) -> Struct {
        json_into_struct(serde_json::to_value(v).expect("serde_json serializes it"))
    }

    #[test]
    fn every_shape_becomes_the_struct_serde_json_would_have_made() {
        let value = every();
        assert_eq!(to_struct(&value).expect("serializes"), through_json(&value));
    }

    #[test]
    fn a_value_that_is_no_map_becomes_an_empty_struct_as_before() {
        assert_eq!(
            to_struct(&vec![1, 2]).expect("serializes"),
            through_json(&vec![1, 2])
        );
        assert_eq!(to_struct("text").expect("serializes"), Struct::default());
    }

    #[test]
    fn keys_serde_json_refuses_are_refused_with_its_message() {
        let lists = BTreeMap::from([(vec![1u32], 1)]);
        let ours = to_struct(&lists).expect_err("a list is no key");
        let theirs = serde_json::to_value(&lists).expect_err("a list is no key");
        assert_eq!(ours.to_string(), theirs.to_string());

        let infinite = [(f64::INFINITY, 1)];
        let ours = ValueSerializer
            .collect_map(infinite)
            .expect_err("no JSON key");
        let theirs = serde_json::value::Serializer
            .collect_map(infinite)
            .expect_err("no JSON key");
        assert_eq!(ours.to_string(), theirs.to_string());
    }
}
