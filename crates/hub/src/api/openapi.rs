//! The OpenAPI 3.1 document, written by hand in `openapi.json` beside this file (a test checks
//! that it covers every route of the router).

use axum::{
    http::header,
    response::{IntoResponse, Response},
};

/// The document.
pub(crate) const OPENAPI: &str = include_str!("openapi.json");

pub(super) async fn document() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    #[test]
    fn document_covers_every_route() {
        let doc: Value = serde_json::from_str(super::OPENAPI).expect("openapi.json is valid JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        for (method, path) in crate::api::route_table() {
            let op = &doc["paths"][&path][method.to_ascii_lowercase()];
            assert!(op.is_object(), "{method} {path} is missing from openapi.json");
            assert!(op["responses"].is_object(), "{method} {path} has no responses");
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc: Value = serde_json::from_str(super::OPENAPI).unwrap();
        fn walk(v: &Value, doc: &Value) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        let ptr = r.strip_prefix('#').expect("local reference");
                        assert!(doc.pointer(ptr).is_some(), "dangling {r}");
                    }
                    m.values().for_each(|x| walk(x, doc));
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, doc)),
                _ => {}
            }
        }
        walk(&doc, &doc);
    }
}
