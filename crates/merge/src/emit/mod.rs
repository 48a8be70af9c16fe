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
use std::fmt::Write as _;

/// Why a value could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    /// A shape this writer does not write (see the module documentation).
    #[error("the YAML writer does not write {0}")]
    Unsupported(&'static str),
    /// An error raised by a value's own `Serialize`.
    #[error("{0}")]
    Custom(String),
}

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

/// The integer methods of the serializer: each written in decimal, as a plain scalar.
macro_rules! numbers {
    ($($method:ident: $ty:ty),* $(,)?) => {
        $(
            fn $method(self, v: $ty) -> Result<(), EmitError> {
                self.scalar_start();
                // Writing to a String cannot fail.
                let _ = write!(self.out, "{v}");
                self.out.push('\n');
                Ok(())
            }
        )*
    };
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

    /// A collection starting in the current slot.
    fn block(&mut self, sequence: bool) -> Block<'_> {
        Block {
            start: self.slot,
            emitter: self,
            sequence,
            level: None,
        }
    }

    /// An empty collection: `{}` or `[]`.
    fn empty(&mut self, start: Slot, text: &str) {
        self.slot = start;
        self.raw(text);
    }
}

/// A block collection being written: a mapping (struct, string-keyed map) or a sequence.
struct Block<'a> {
    emitter: &'a mut Emitter,
    start: Slot,
    sequence: bool,
    /// The level of the keys or dashes, once the first is written.
    level: Option<usize>,
}

impl Block<'_> {
    /// Starts an entry's line (or continues the parent's): the level of its key or dash.
    fn next_entry(&mut self) -> usize {
        let level = match self.level {
            Some(level) => {
                self.emitter.indent(level);
                level
            }
            None => self.emitter.first_entry(self.start, self.sequence),
        };
        self.level = Some(level);
        level
    }

    fn entry_key(&mut self, key: &str) -> Result<(), EmitError> {
        let level = self.next_entry();
        self.emitter.key(key)?;
        self.emitter.slot = Slot::Value(level);
        Ok(())
    }

    /// Ends the collection: `{}` or `[]` when it had no entry.
    fn finish(self) -> Result<(), EmitError> {
        if self.level.is_none() {
            let text = if self.sequence { "[]" } else { "{}" };
            self.emitter.empty(self.start, text);
        }
        Ok(())
    }
}

/// An impl for [`Block`] of one of serde's collection traits: its own methods, and `end`.
macro_rules! block_impl {
    ($trait:ident { $($methods:tt)* }) => {
        impl ser::$trait for Block<'_> {
            type Ok = ();
            type Error = EmitError;

            $($methods)*

            fn end(self) -> Result<(), EmitError> {
                self.finish()
            }
        }
    };
}

block_impl!(SerializeSeq {
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EmitError> {
        let level = self.next_entry();
        self.emitter.out.push_str("- ");
        self.emitter.slot = Slot::Item(level);
        value.serialize(&mut *self.emitter)
    }
});

block_impl!(SerializeStruct {
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), EmitError> {
        self.entry_key(key)?;
        value.serialize(&mut *self.emitter)
    }
});

block_impl!(SerializeMap {
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), EmitError> {
        // String keys only (an EffectiveWorkspace has no map today: its two-key shapes are
        // written as structs); anything else is refused.
        match key.serialize(serde_json::value::Serializer) {
            Ok(serde_json::Value::String(key)) => self.entry_key(&key),
            _ => Err(EmitError::Unsupported("a key that is not a string")),
        }
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EmitError> {
        value.serialize(&mut *self.emitter)
    }
});

/// The variant methods of the serializer that refuse (tuple and struct variants).
macro_rules! refused_variants {
    ($($method:ident: $what:literal),* $(,)?) => {
        $(
            fn $method(
                self,
                _name: &'static str,
                _index: u32,
                _variant: &'static str,
                _len: usize,
            ) -> Result<Impossible, EmitError> {
                Err(EmitError::Unsupported($what))
            }
        )*
    };
}

type Impossible = ser::Impossible<(), EmitError>;

impl<'a> ser::Serializer for &'a mut Emitter {
    type Ok = ();
    type Error = EmitError;
    type SerializeSeq = Block<'a>;
    type SerializeTuple = Impossible;
    type SerializeTupleStruct = Impossible;
    type SerializeTupleVariant = Impossible;
    type SerializeMap = Block<'a>;
    type SerializeStruct = Block<'a>;
    type SerializeStructVariant = Impossible;

    fn serialize_bool(self, v: bool) -> Result<(), EmitError> {
        self.raw(if v { "true" } else { "false" });
        Ok(())
    }

    numbers! {
        serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_i128: i128, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_u128: u128
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
        // Written as a mapping of one key, placed as a mapping's first key is.
        if let Slot::Top = self.slot {
            return Err(EmitError::Unsupported("a variant at the top"));
        }
        let level = self.first_entry(self.slot, false);
        self.key(variant)?;
        self.slot = Slot::Value(level);
        value.serialize(self)
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Block<'a>, EmitError> {
        Ok(self.block(true))
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

    fn serialize_map(self, _len: Option<usize>) -> Result<Block<'a>, EmitError> {
        Ok(self.block(false))
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Block<'a>, EmitError> {
        self.serialize_map(None)
    }

    refused_variants! {
        serialize_tuple_variant: "a tuple variant",
        serialize_struct_variant: "a struct variant",
    }
}
