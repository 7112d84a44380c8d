//! YAML in and out. Documents go through `serde_json::Value` so that what is printed is exactly
//! what would be sent to the API server.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Error;

/// One YAML document for a JSON value.
pub fn to_yaml(value: &Value) -> Result<String, Error> {
    serde_saphyr::to_string(value).map_err(|e| Error::Yaml(e.to_string()))
}

/// A `---`-separated YAML stream of the given documents.
pub fn to_yaml_stream(values: &[Value]) -> Result<String, Error> {
    let mut out = String::new();
    for v in values {
        out.push_str("---\n");
        out.push_str(&to_yaml(v)?);
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// Every document of a YAML stream, typed.
pub fn from_yaml_stream<T: DeserializeOwned>(input: &str) -> Result<Vec<T>, Error> {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(input).map_err(|e| Error::Yaml(e.to_string()))?;
    docs.into_iter()
        .filter(|d| !d.is_null())
        .enumerate()
        .map(|(i, d)| {
            serde_json::from_value(d).map_err(|e| Error::Yaml(format!("document {}: {e}", i + 1)))
        })
        .collect()
}
