//! Printing resources: YAML documents, JSON, or their names (`-o yaml|json|name`).

use super::kinds::ServerResource;
use crate::args::ResourceFormat;
use crate::output::Output;
use serde_json::Value as Json;

/// YAML with every string on one line, as `cordium compile` writes it.
fn yaml(value: &Json) -> String {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.prefer_block_scalars = false;
    serde_saphyr::to_string_with_options(value, options).unwrap_or_default()
}

fn json(value: &Json) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

/// Prints one resource.
pub(crate) fn print_one(out: &mut Output, format: ResourceFormat, item: &impl ServerResource) {
    out.out(&match format {
        ResourceFormat::Yaml => yaml(&item.document()),
        ResourceFormat::Json => json(&item.document()),
        ResourceFormat::Name => item.reference() + "\n",
    });
}

/// Prints resources: a YAML stream (`---` between documents), a JSON array, or one name a line.
pub(crate) fn print_list<T: ServerResource>(out: &mut Output, format: ResourceFormat, items: &[T]) {
    match format {
        ResourceFormat::Yaml => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.out("---\n");
                }
                out.out(&yaml(&item.document()));
            }
        }
        ResourceFormat::Json => out.out(&json(&Json::Array(
            items.iter().map(ServerResource::document).collect(),
        ))),
        ResourceFormat::Name => {
            for item in items {
                out.out(&(item.reference() + "\n"));
            }
        }
    }
}
