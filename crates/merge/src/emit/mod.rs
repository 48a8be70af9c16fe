//! The YAML writer of `EffectiveWorkspace::to_yaml`: block style, two-space indentation,
//! sequences under a key at the key's column, every string on one line.
//!
//! It writes exactly the bytes serde-saphyr 2.2 wrote with `prefer_block_scalars = false`
//! (the output the goldens hold), for the shapes an EffectiveWorkspace has: structs and
//! string-keyed maps, sequences, options, strings, booleans, integers, unit variants and
//! newtype variants (one-of choices). It is a serializer of its own because serde-saphyr's is
//! general (anchors, flow style, comments, block scalars, tags) and cost a quarter of a whole
//! compile. Any other shape (floats, bytes, tuples, struct or tuple variants, a variant at the
//! top) is refused with [`EmitError::Unsupported`] rather than written differently.
//! `tests/emit.rs` compares it with serde-saphyr on generated documents.

mod quote;

use serde::ser::{self, Serialize};

/// Why a value could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmitError {
    /// A shape this writer does not write (see the module documentation).
    Unsupported(&'static str),
    /// An error raised by a value's own `Serialize`.
    Custom(String),
}

impl std::fmt::Display for EmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unsupported(shape) => write!(f, "the YAML writer does not write {shape}"),
            Self::Custom(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for EmitError {}

impl ser::Error for EmitError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Self::Custom(msg.to_string())
    }
}

/// `value` as a YAML document.
pub fn to_yaml<T: Serialize + ?Sized>(value: &T) -> Result<String, EmitError> {
    let mut emitter = Emitter {
        out: String::with_capacity(4096),
        slot: Slot::Top,
    };
    value.serialize(&mut emitter)?;
    Ok(emitter.out)
}

/// Where the next value goes.
#[derive(Debug, Clone, Copy)]
enum Slot {
    /// The document's root, at the start of a line.
    Top,
    /// After `key:` of a mapping whose keys are at this level (no space written yet).
    Value(usize),
    /// After `- ` of a sequence whose dashes are at this level.
    Item(usize),
}

/// The writer: the text so far and the slot of the value being written.
struct Emitter {
    out: String,
    slot: Slot,
}

/// Spaces for indentation, sliced to length.
const SPACES: &str = "                                                                ";

impl Emitter {
    /// Two spaces per level.
    fn indent(&mut self, level: usize) {
        let mut width = level * 2;
        while width > 0 {
            let n = width.min(SPACES.len());
            self.out.push_str(&SPACES[..n]);
            width -= n;
        }
    }

    /// Starts a scalar in the current slot.
    fn scalar_start(&mut self) {
        if let Slot::Value(_) = self.slot {
            self.out.push(' ');
        }
    }

    /// A scalar written as is (numbers, booleans, null).
    fn raw(&mut self, text: &str) {
        self.scalar_start();
        self.out.push_str(text);
        self.out.push('\n');
    }

    /// A mapping key and its colon, at `level` or inline.
    fn key(&mut self, key: &str) -> Result<(), EmitError> {
        if key.len() > 1024 && key.chars().count() > 1024 {
            return Err(EmitError::Unsupported("a key longer than 1024 characters"));
        }
        if quote::is_plain_key(key) {
            self.out.push_str(key);
        } else {
            quote::push_double_quoted(&mut self.out, key);
        }
        self.out.push(':');
        Ok(())
    }

    /// Starts a collection's first entry: the level of its keys or dashes. A mapping's keys
    /// go one level below its parent key (or its dash, the first one inline after it); a
    /// sequence's dashes go at its parent key's level, or one below the dash it follows.
    fn first_entry(&mut self, start: Slot, sequence: bool) -> usize {
        match start {
            Slot::Top => 0,
            Slot::Value(level) => {
                self.out.push('\n');
                let level = if sequence { level } else { level + 1 };
                self.indent(level);
                level
            }
            Slot::Item(level) => level + 1,
        }
    }

    /// An empty collection: `{}` or `[]`.
    fn empty(&mut self, start: Slot, text: &str) {
        self.slot = start;
        self.raw(text);
    }
}

/// A mapping being written (struct, string-keyed map).
struct MapEmitter<'a> {
    emitter: &'a mut Emitter,
    start: Slot,
    /// The level of the keys, once the first is written.
    level: Option<usize>,
}

impl MapEmitter<'_> {
    fn entry_key(&mut self, key: &str) -> Result<(), EmitError> {
        let level = match self.level {
            Some(level) => {
                self.emitter.indent(level);
                level
            }
            None => self.emitter.first_entry(self.start, false),
        };
        self.level = Some(level);
        self.emitter.key(key)?;
        self.emitter.slot = Slot::Value(level);
        Ok(())
    }

    fn finish(self) {
        if self.level.is_none() {
            self.emitter.empty(self.start, "{}");
        }
    }
}

/// A sequence being written.
struct SeqEmitter<'a> {
    emitter: &'a mut Emitter,
    start: Slot,
    /// The level of the dashes, once the first is written.
    level: Option<usize>,
}

impl ser::SerializeSeq for SeqEmitter<'_> {
    type Ok = ();
    type Error = EmitError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EmitError> {
        let level = match self.level {
            Some(level) => {
                self.emitter.indent(level);
                level
            }
            None => self.emitter.first_entry(self.start, true),
        };
        self.level = Some(level);
        self.emitter.out.push_str("- ");
        self.emitter.slot = Slot::Item(level);
        value.serialize(&mut *self.emitter)
    }

    fn end(self) -> Result<(), EmitError> {
        if self.level.is_none() {
            self.emitter.empty(self.start, "[]");
        }
        Ok(())
    }
}

impl ser::SerializeStruct for MapEmitter<'_> {
    type Ok = ();
    type Error = EmitError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), EmitError> {
        self.entry_key(key)?;
        value.serialize(&mut *self.emitter)
    }

    fn end(self) -> Result<(), EmitError> {
        self.finish();
        Ok(())
    }
}

impl ser::SerializeMap for MapEmitter<'_> {
    type Ok = ();
    type Error = EmitError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), EmitError> {
        let key = key.serialize(KeyText)?;
        self.entry_key(&key)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EmitError> {
        value.serialize(&mut *self.emitter)
    }

    fn end(self) -> Result<(), EmitError> {
        self.finish();
        Ok(())
    }
}

type Impossible = ser::Impossible<(), EmitError>;

impl<'a> ser::Serializer for &'a mut Emitter {
    type Ok = ();
    type Error = EmitError;
    type SerializeSeq = SeqEmitter<'a>;
    type SerializeTuple = Impossible;
    type SerializeTupleStruct = Impossible;
    type SerializeTupleVariant = Impossible;
    type SerializeMap = MapEmitter<'a>;
    type SerializeStruct = MapEmitter<'a>;
    type SerializeStructVariant = Impossible;

    fn serialize_bool(self, v: bool) -> Result<(), EmitError> {
        self.raw(if v { "true" } else { "false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), EmitError> {
        self.serialize_i64(v.into())
    }

    fn serialize_i16(self, v: i16) -> Result<(), EmitError> {
        self.serialize_i64(v.into())
    }

    fn serialize_i32(self, v: i32) -> Result<(), EmitError> {
        self.serialize_i64(v.into())
    }

    fn serialize_i64(self, v: i64) -> Result<(), EmitError> {
        self.raw(&v.to_string());
        Ok(())
    }

    fn serialize_i128(self, v: i128) -> Result<(), EmitError> {
        self.raw(&v.to_string());
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result<(), EmitError> {
        self.serialize_u64(v.into())
    }

    fn serialize_u16(self, v: u16) -> Result<(), EmitError> {
        self.serialize_u64(v.into())
    }

    fn serialize_u32(self, v: u32) -> Result<(), EmitError> {
        self.serialize_u64(v.into())
    }

    fn serialize_u64(self, v: u64) -> Result<(), EmitError> {
        self.raw(&v.to_string());
        Ok(())
    }

    fn serialize_u128(self, v: u128) -> Result<(), EmitError> {
        self.raw(&v.to_string());
        Ok(())
    }

    fn serialize_f32(self, _v: f32) -> Result<(), EmitError> {
        Err(EmitError::Unsupported("a float"))
    }

    fn serialize_f64(self, _v: f64) -> Result<(), EmitError> {
        Err(EmitError::Unsupported("a float"))
    }

    fn serialize_char(self, v: char) -> Result<(), EmitError> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), EmitError> {
        self.scalar_start();
        if matches!(v, "." | "#" | "-") {
            // serde-saphyr writes these three single-quoted.
            self.out.push('\'');
            self.out.push_str(v);
            self.out.push('\'');
        } else if quote::is_plain_value(v) {
            self.out.push_str(v);
        } else {
            quote::push_double_quoted(&mut self.out, v);
        }
        self.out.push('\n');
        Ok(())
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<(), EmitError> {
        Err(EmitError::Unsupported("bytes"))
    }

    fn serialize_none(self) -> Result<(), EmitError> {
        self.raw("null");
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), EmitError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), EmitError> {
        self.raw("null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), EmitError> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), EmitError> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), EmitError> {
        // serde-saphyr gives names of its own wrapper types a meaning; nothing here uses them.
        if name.starts_with("__yaml") {
            return Err(EmitError::Unsupported("a serde-saphyr wrapper"));
        }
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), EmitError> {
        // Written as a mapping of one key.
        let level = match self.slot {
            Slot::Top => return Err(EmitError::Unsupported("a variant at the top")),
            Slot::Value(level) => {
                self.out.push('\n');
                self.indent(level + 1);
                level + 1
            }
            Slot::Item(level) => level + 1,
        };
        self.key(variant)?;
        self.slot = Slot::Value(level);
        value.serialize(self)
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<SeqEmitter<'a>, EmitError> {
        let start = self.slot;
        Ok(SeqEmitter {
            emitter: self,
            start,
            level: None,
        })
    }

    fn serialize_tuple(self, _len: usize) -> Result<Impossible, EmitError> {
        Err(EmitError::Unsupported("a tuple"))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Impossible, EmitError> {
        Err(EmitError::Unsupported("a tuple struct"))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Impossible, EmitError> {
        Err(EmitError::Unsupported("a tuple variant"))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<MapEmitter<'a>, EmitError> {
        let start = self.slot;
        Ok(MapEmitter {
            emitter: self,
            start,
            level: None,
        })
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<MapEmitter<'a>, EmitError> {
        self.serialize_map(None)
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Impossible, EmitError> {
        Err(EmitError::Unsupported("a struct variant"))
    }
}

/// A mapping key's text: strings only.
struct KeyText;

/// What [`KeyText`] refuses.
const NOT_A_STRING: EmitError = EmitError::Unsupported("a key that is not a string");

/// The scalar methods of [`KeyText`], each refusing.
macro_rules! key_scalars {
    ($($method:ident: $ty:ty),* $(,)?) => {
        $(
            fn $method(self, _v: $ty) -> Result<String, EmitError> {
                Err(NOT_A_STRING)
            }
        )*
    };
}

impl ser::Serializer for KeyText {
    type Ok = String;
    type Error = EmitError;
    type SerializeSeq = ser::Impossible<String, EmitError>;
    type SerializeTuple = ser::Impossible<String, EmitError>;
    type SerializeTupleStruct = ser::Impossible<String, EmitError>;
    type SerializeTupleVariant = ser::Impossible<String, EmitError>;
    type SerializeMap = ser::Impossible<String, EmitError>;
    type SerializeStruct = ser::Impossible<String, EmitError>;
    type SerializeStructVariant = ser::Impossible<String, EmitError>;

    fn serialize_str(self, v: &str) -> Result<String, EmitError> {
        Ok(v.to_owned())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, EmitError> {
        value.serialize(self)
    }

    key_scalars! {
        serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_f32: f32, serialize_f64: f64, serialize_char: char,
        serialize_bytes: &[u8], serialize_unit_struct: &'static str
    }

    fn serialize_none(self) -> Result<String, EmitError> {
        Err(NOT_A_STRING)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<String, EmitError> {
        Err(NOT_A_STRING)
    }

    fn serialize_unit(self) -> Result<String, EmitError> {
        Err(NOT_A_STRING)
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
    ) -> Result<String, EmitError> {
        Err(NOT_A_STRING)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, EmitError> {
        Err(NOT_A_STRING)
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, EmitError> {
        Err(NOT_A_STRING)
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, EmitError> {
        Err(NOT_A_STRING)
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, EmitError> {
        Err(NOT_A_STRING)
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, EmitError> {
        Err(NOT_A_STRING)
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, EmitError> {
        Err(NOT_A_STRING)
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, EmitError> {
        Err(NOT_A_STRING)
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, EmitError> {
        Err(NOT_A_STRING)
    }
}
