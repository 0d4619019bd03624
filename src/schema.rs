//! The JSON Schemas of every `--json` output, generated from the Rust types that are
//! serialised: `git agent schema CMD` prints one, `git agent setup` installs them all.
//!
//! Each schema is closed: an object may hold no field its schema does not name, so a field
//! added to an output without its type saying so fails the schema test.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::Value;

/// Makes one schema.
type Make = fn() -> Value;

/// The commands whose `--json` output has a schema, with the type each prints, in the order
/// `git agent schema` lists them. `error` is the object every command prints when it fails.
const SCHEMAS: &[(&str, Make)] = &[
    ("spawn", of::<crate::commands::spawn::SpawnJson<'static>>),
    ("list", of::<crate::commands::list::Report>),
    ("show", of::<crate::state::TaskRecord>),
    ("path", of::<crate::commands::path::PathJson<'static>>),
    ("conflicts", of::<crate::commands::conflicts::Report<'static>>),
    ("integrate", of::<crate::commands::integrate::IntegrateJson<'static>>),
    ("prune", of::<crate::commands::prune::PruneJson<'static>>),
    ("done", of::<crate::commands::done::DoneJson<'static>>),
    ("join", of::<crate::commands::join::JoinJson<'static>>),
    ("restack", of::<crate::commands::restack::RestackJson<'static>>),
    ("sync", of::<crate::commands::sync::SyncJson<'static>>),
    ("setup", of::<crate::commands::setup::SetupJson>),
    ("run", of::<crate::commands::background::RunJson<'static>>),
    ("stop", of::<crate::commands::background::StopJson<'static>>),
    ("checkpoint", of::<crate::commands::checkpoint::CheckpointJson<'static>>),
    ("handoff", of::<crate::commands::handoff::HandoffJson<'static>>),
    ("cost", of::<crate::commands::cost::CostJson<'static>>),
    ("report", of::<crate::ops::status::Reported>),
    ("ask", of::<crate::ops::status::Reported>),
    ("answer", of::<crate::ops::status::Reported>),
    ("compare", of::<crate::commands::compare::CompareJson<'static>>),
    ("converge", of::<crate::commands::converge::ConvergeJson<'static>>),
    ("propose", of::<crate::ops::gate::Judged>),
    ("approve", of::<crate::ops::gate::Judged>),
    ("reject", of::<crate::ops::gate::Judged>),
    ("check-edit", of::<crate::ops::check_edit::Report>),
    ("archive", of::<crate::ops::archive::Report>),
    ("error", of::<crate::error::ErrorJson>),
];

/// The names `git agent schema` knows.
pub fn names() -> impl Iterator<Item = &'static str> {
    SCHEMAS.iter().map(|(name, _)| *name)
}

/// The schema of `name`'s output, if it has one.
pub fn schema(name: &str) -> Option<Value> {
    SCHEMAS.iter().find(|(known, _)| *known == name).map(|(_, make)| make())
}

/// A schema as a file: pretty JSON with a final newline.
pub fn to_text(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("schemas serialise");
    text.push('\n');
    text
}

/// The schema of what serialising a `T` writes (not what reading one accepts), closed.
fn of<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft2020_12().for_serialize().into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    close(&mut schema, false);
    schema
}

/// Forbids fields no schema names: `unevaluatedProperties: false` on every object schema
/// with properties, except the branches of an `allOf`/`anyOf`/`oneOf` whose parent has
/// properties itself (a flattened enum): there the parent's word covers the branches' fields,
/// which a branch alone would reject. Schemas that say what extra fields may be (a record's
/// unknown fields, kept) are left as they are.
fn close(schema: &mut Value, within_object: bool) {
    match schema {
        Value::Object(map) => {
            let has_properties = map.contains_key("properties");
            if has_properties
                && !within_object
                && !map.contains_key("additionalProperties")
                && !map.contains_key("unevaluatedProperties")
            {
                map.insert("unevaluatedProperties".into(), Value::Bool(false));
            }
            for (key, child) in map.iter_mut() {
                let composed = matches!(key.as_str(), "allOf" | "anyOf" | "oneOf");
                match child {
                    Value::Array(branches) if composed => {
                        branches.iter_mut().for_each(|branch| close(branch, has_properties || within_object))
                    }
                    _ => close(child, false),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| close(item, false)),
        _ => {}
    }
}
