//! The three declarations every wire type is written with.
//!
//! Each macro states a type once, with its wire names beside its Rust names, and derives from
//! that one statement the Rust type, its serialization, its JSON Schema (doc comments become
//! descriptions) and its [`crate::FromNode`] conversion, so the four cannot drift apart.
//!
//! - [`wire_struct!`]: a mapping whose fields are all optional with presence
//!   (`Option<Located<T>>`): an explicit `false`, `0` or `""` is `Some`.
//! - [`wire_enum!`]: a string enum written by name (`ON_CREATE`).
//! - [`wire_oneof!`]: a one-of choice written as a mapping with exactly one key
//!   (`image: {registry: {...}}`); an empty mapping is no choice.

/// Declares a wire struct: a mapping whose fields are all `Option<Located<T>>`, with its
/// serialization, JSON Schema and located conversion derived from the one declaration.
#[macro_export]
macro_rules! wire_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $ty:ty = $wire:literal
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, schemars::JsonSchema)]
        #[schemars(deny_unknown_fields)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(rename = $wire, default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$crate::Located<$ty>>,
            )*
        }

        impl $name {
            /// The wire names of this type's fields, in declaration order.
            pub const FIELDS: &'static [&'static str] = &[$($wire),*];
        }

        impl $crate::FromNode for $name {
            #[allow(unused_mut, clippy::match_single_binding, reason = "a struct may have no fields")]
            fn from_node(node: &$crate::Node, cx: &mut $crate::Cx<'_>) -> Option<Self> {
                let entries = cx.mapping(node, Self::FIELDS)?;
                let mut out = Self::default();
                for entry in entries {
                    match entry.key.as_str() {
                        $($wire => out.$field = cx.field(entry),)*
                        _ => {}
                    }
                }
                Some(out)
            }

            #[allow(unused_mut, clippy::match_single_binding, reason = "a struct may have no fields")]
            fn from_owned(node: $crate::Node, cx: &mut $crate::Cx<'_>) -> Option<Self> {
                cx.mapping(&node, Self::FIELDS)?;
                let $crate::NodeKind::Map(entries) = node.kind else {
                    return None;
                };
                let mut out = Self::default();
                for entry in entries {
                    match entry.key.as_str() {
                        $($wire => out.$field = cx.field_owned(entry),)*
                        _ => {}
                    }
                }
                Some(out)
            }
        }
    };
}

/// Declares a string enum written by name (`ON_CREATE`), with its serialization, JSON Schema
/// and located conversion (unknown names get a "did you mean").
#[macro_export]
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $wire:literal
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, schemars::JsonSchema)]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[serde(rename = $wire)]
                $variant,
            )*
        }

        impl $name {
            /// Every wire name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($wire),*];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $wire,)*
                }
            }
        }

        impl $crate::FromNode for $name {
            fn from_node(node: &$crate::Node, cx: &mut $crate::Cx<'_>) -> Option<Self> {
                let Some(text) = node.as_str() else {
                    cx.type_error(node, "a string");
                    return None;
                };
                match text {
                    $($wire => Some(Self::$variant),)*
                    other => {
                        let mut d = $crate::Diagnostic::error(
                            $crate::codes::UNKNOWN_VARIANT,
                            format!("unknown value `{other}`"),
                        )
                        .at(node.loc);
                        d = match $crate::convert::closest(other, Self::NAMES.iter().copied()) {
                            Some(best) => d.with_help(format!("did you mean `{best}`?")),
                            None => d.with_help(format!("expected one of {}", $crate::convert::list(Self::NAMES))),
                        };
                        cx.report(d);
                        None
                    }
                }
            }
        }
    };
}

/// Declares a one-of choice written as a mapping with exactly one key; an empty mapping is no
/// choice, two keys are an error naming both.
#[macro_export]
macro_rules! wire_oneof {
    (
        $(#[doc = $doc:literal])*
        pub enum $name:ident {
            $(
                $(#[doc = $vdoc:literal])*
                $variant:ident($ty:ty) = $wire:literal
            ),* $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize)]
        pub enum $name {
            $(
                $(#[doc = $vdoc])*
                #[serde(rename = $wire)]
                $variant($ty),
            )*
        }

        impl $name {
            /// The wire names of the choices.
            pub const CHOICES: &'static [&'static str] = &[$($wire),*];

            /// The wire name of the choice made.
            pub fn choice(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $wire,)*
                }
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let mut properties = serde_json::Map::new();
                $(
                    {
                        let mut schema = generator.subschema_for::<$ty>();
                        let doc = concat!($($vdoc, "\n",)* "");
                        let doc = doc.trim();
                        if !doc.is_empty() && schema.get("description").is_none() {
                            if schema.get("$ref").is_some() {
                                schema = schemars::json_schema!({ "allOf": [schema], "description": doc });
                            } else {
                                schema.insert("description".into(), doc.into());
                            }
                        }
                        properties.insert($wire.into(), schema.to_value());
                    }
                )*
                let doc = concat!($($doc, "\n",)* "").trim().to_owned();
                schemars::json_schema!({
                    "description": doc,
                    "type": "object",
                    "properties": properties,
                    "additionalProperties": false,
                    "maxProperties": 1,
                })
            }
        }

        impl $crate::FromNode for $name {
            fn from_node(node: &$crate::Node, cx: &mut $crate::Cx<'_>) -> Option<Self> {
                let entries = cx.mapping(node, Self::CHOICES)?;
                let chosen: Vec<&$crate::node::Entry> = entries
                    .iter()
                    .filter(|e| Self::CHOICES.contains(&e.key.as_str()) && e.value.kind != $crate::NodeKind::Null)
                    .collect();
                if let [first, second, ..] = chosen.as_slice() {
                    cx.report(
                        $crate::Diagnostic::error(
                            $crate::codes::ONE_OF,
                            format!(
                                "`{}` and `{}` are alternatives; set only one of {}",
                                first.key,
                                second.key,
                                $crate::convert::list(Self::CHOICES)
                            ),
                        )
                        .at(second.key_loc)
                        .with_related(first.key_loc, "the other choice")
                        .with_help(format!("remove `{}` or `{}`", first.key, second.key)),
                    );
                    return None;
                }
                let entry = chosen.first()?;
                match entry.key.as_str() {
                    $($wire => cx.at($wire, |cx| <$ty as $crate::FromNode>::from_node(&entry.value, cx)).map(Self::$variant),)*
                    _ => None,
                }
            }

            fn from_owned(node: $crate::Node, cx: &mut $crate::Cx<'_>) -> Option<Self> {
                // Anything but one known choice is refused (or is no choice) by `from_node`,
                // which reads it; a single choice is taken.
                let single = node.as_map().is_some_and(|entries| {
                    entries.iter().all(|e| Self::CHOICES.contains(&e.key.as_str()))
                        && entries.iter().filter(|e| e.value.kind != $crate::NodeKind::Null).count() == 1
                });
                if !single {
                    return Self::from_node(&node, cx);
                }
                let $crate::NodeKind::Map(entries) = node.kind else {
                    return None;
                };
                let entry = entries
                    .into_iter()
                    .find(|e| e.value.kind != $crate::NodeKind::Null)?;
                match entry.key.as_str() {
                    $($wire => cx.at($wire, |cx| <$ty as $crate::FromNode>::from_owned(entry.value, cx)).map(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}
