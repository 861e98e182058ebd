//! Turns a botocore service model into Rust: types with per-member wire names, string enums,
//! unions, `validate()`, the service error enum, the service trait with "not implemented"
//! defaults, the dispatcher and (for restJson1) the route table.
//!
//! Pure: a model in, source text out. `main.rs` does the file IO, and the freshness test
//! includes this file to check that the committed output matches.

use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::fmt::Write;

/// Removes documentation text, which must not reach the generated code or the repo's model copy.
pub fn strip_docs(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("documentation");
            m.remove("documentationUrl");
            m.remove("deprecatedMessage");
            for x in m.values_mut() {
                strip_docs(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strip_docs),
        _ => {}
    }
}

const RUST_KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// Type names that would shadow something the generated code itself uses.
const RESERVED_TYPES: &[&str] = &[
    "String",
    "Option",
    "Result",
    "Vec",
    "Box",
    "Error",
    "Value",
    "Timestamp",
    "BTreeMap",
    "Context",
    "Api",
    "Route",
];

pub fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = if i > 0 { Some(chars[i - 1]) } else { None };
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None => false,
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(|n| n.is_ascii_lowercase()),
                _ => false,
            };
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out
}

fn field_name(member: &str) -> String {
    let s = snake(member);
    if RUST_KEYWORDS.contains(&s.as_str()) {
        format!("r#{s}")
    } else {
        s
    }
}

fn type_name(shape: &str) -> String {
    if RESERVED_TYPES.contains(&shape) {
        format!("{shape}Shape")
    } else {
        shape.to_string()
    }
}

fn variant_name(value: &str) -> String {
    let mut out = String::new();
    for word in value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut cs = word.chars();
        if let Some(f) = cs.next() {
            out.push(f.to_ascii_uppercase());
            let rest: String = cs.collect();
            let all_upper = word.chars().all(|c| !c.is_ascii_lowercase());
            out.push_str(&if all_upper {
                rest.to_ascii_lowercase()
            } else {
                rest
            });
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) || out.is_empty() {
        out.insert(0, 'V');
    }
    out
}

fn lit(s: &str) -> String {
    format!("{s:?}")
}

/// Raw string literal for regex patterns, so that backslashes stay as the model wrote them.
fn raw(s: &str) -> String {
    let mut hashes = String::from("#");
    while s.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    format!("r{hashes}\"{s}\"{hashes}")
}

pub struct Model {
    shapes: Map<String, Value>,
    operations: Map<String, Value>,
    meta: Map<String, Value>,
}

impl Model {
    pub fn parse(v: &Value) -> Result<Model, String> {
        let obj = |k: &str| {
            v.get(k)
                .and_then(Value::as_object)
                .cloned()
                .ok_or_else(|| format!("model has no `{k}` object"))
        };
        Ok(Model {
            shapes: obj("shapes")?,
            operations: obj("operations")?,
            meta: obj("metadata")?,
        })
    }

    fn shape(&self, name: &str) -> &Map<String, Value> {
        self.shapes[name].as_object().expect("shape is an object")
    }

    fn kind(&self, name: &str) -> &str {
        self.shape(name)["type"].as_str().unwrap_or("")
    }

    fn is_enum(&self, name: &str) -> bool {
        self.kind(name) == "string" && self.shape(name).contains_key("enum")
    }

    fn rest(&self) -> bool {
        self.meta.get("protocol").and_then(Value::as_str) == Some("rest-json")
    }

    fn rust_type(&self, name: &str) -> String {
        match self.kind(name) {
            "string" if self.is_enum(name) => type_name(name),
            "string" => "String".into(),
            "integer" => "i32".into(),
            "long" => "i64".into(),
            "boolean" => "bool".into(),
            "double" | "float" => "f64".into(),
            "timestamp" => "Timestamp".into(),
            "list" => format!(
                "Vec<{}>",
                self.rust_type(member_shape(self.shape(name), "member"))
            ),
            "map" => format!(
                "BTreeMap<String, {}>",
                self.rust_type(member_shape(self.shape(name), "value"))
            ),
            "structure" => type_name(name),
            other => panic!("shape {name}: unsupported type {other}"),
        }
    }
}

fn member_shape<'a>(shape: &'a Map<String, Value>, key: &str) -> &'a str {
    shape[key]["shape"].as_str().expect("member names a shape")
}

fn num(shape: &Map<String, Value>, key: &str) -> Option<i64> {
    shape
        .get(key)
        .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
}

fn opt(v: Option<i64>) -> String {
    match v {
        Some(n) => format!("Some({n})"),
        None => "None".into(),
    }
}

fn members(shape: &Map<String, Value>) -> Vec<(String, Map<String, Value>)> {
    shape
        .get("members")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_object().cloned().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

fn required(shape: &Map<String, Value>) -> BTreeSet<String> {
    shape
        .get("required")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Generates the Rust module for one service.
pub fn generate(model_json: &Value, source_name: &str) -> Result<String, String> {
    let m = Model::parse(model_json)?;
    let mut o = String::new();
    let service = m
        .meta
        .get("serviceId")
        .and_then(Value::as_str)
        .unwrap_or("?");
    writeln!(
        o,
        "//! @generated by `cargo run --bin codegen` from `{source_name}` ({service}). Do not edit."
    )
    .unwrap();
    o.push_str("#![allow(dead_code, non_snake_case, clippy::all, clippy::pedantic)]\n\n");
    o.push_str("use super::runtime::*;\nuse serde::{Deserialize, Serialize};\nuse std::collections::BTreeMap;\nuse std::sync::LazyLock;\n\n");

    let json_version = m
        .meta
        .get("jsonVersion")
        .and_then(Value::as_str)
        .unwrap_or("1.1");
    let signing = m
        .meta
        .get("signingName")
        .and_then(Value::as_str)
        .unwrap_or("");
    let target = m
        .meta
        .get("targetPrefix")
        .and_then(Value::as_str)
        .unwrap_or("");
    writeln!(o, "pub const SIGNING_NAME: &str = {};", lit(signing)).unwrap();
    writeln!(o, "pub const TARGET_PREFIX: &str = {};", lit(target)).unwrap();
    writeln!(o, "pub const JSON_VERSION: &str = {};\n", lit(json_version)).unwrap();

    for name in m.shapes.keys() {
        match m.kind(name) {
            "string" if m.is_enum(name) => gen_enum(&m, name, &mut o),
            "structure" => gen_struct(&m, name, &mut o),
            _ => {}
        }
        gen_validator(&m, name, &mut o);
    }
    gen_patterns(&m, &mut o);
    gen_errors(&m, &mut o);
    gen_trait(&m, &mut o);
    gen_dispatch(&m, &mut o);
    if m.rest() {
        gen_routes(&m, &mut o);
    }
    Ok(o)
}

fn gen_enum(m: &Model, name: &str, o: &mut String) {
    let ty = type_name(name);
    let values: Vec<String> = m.shape(name)["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    writeln!(
        o,
        "#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]\npub enum {ty} {{"
    )
    .unwrap();
    for v in &values {
        writeln!(o, "    {},", variant_name(v)).unwrap();
    }
    o.push_str("    /// A value outside the model's enum; `validate()` rejects it.\n    Unknown(String),\n}\n\n");
    writeln!(o, "impl {ty} {{").unwrap();
    write!(o, "    pub const VALUES: &'static [&'static str] = &[").unwrap();
    o.push_str(&values.iter().map(|v| lit(v)).collect::<Vec<_>>().join(", "));
    o.push_str("];\n\n    pub fn as_str(&self) -> &str {\n        match self {\n");
    for v in &values {
        writeln!(o, "            Self::{} => {},", variant_name(v), lit(v)).unwrap();
    }
    o.push_str("            Self::Unknown(s) => s,\n        }\n    }\n\n    pub fn parse(s: &str) -> Self {\n        match s {\n");
    for v in &values {
        writeln!(o, "            {} => Self::{},", lit(v), variant_name(v)).unwrap();
    }
    o.push_str("            other => Self::Unknown(other.to_string()),\n        }\n    }\n}\n\n");
    writeln!(
        o,
        "impl Serialize for {ty} {{\n    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {{\n        s.serialize_str(self.as_str())\n    }}\n}}\n\n\
         impl<'de> Deserialize<'de> for {ty} {{\n    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {{\n        Ok(Self::parse(&std::string::String::deserialize(d)?))\n    }}\n}}\n"
    )
    .unwrap();
}

fn gen_struct(m: &Model, name: &str, o: &mut String) {
    let ty = type_name(name);
    let shape = m.shape(name);
    o.push_str(
        "#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]\n#[serde(default)]\n",
    );
    writeln!(o, "pub struct {ty} {{").unwrap();
    for (mname, mem) in members(shape) {
        let target = mem["shape"].as_str().unwrap();
        writeln!(
            o,
            "    #[serde(rename = {}, skip_serializing_if = \"Option::is_none\")]\n    pub {}: Option<{}>,",
            lit(&mname),
            field_name(&mname),
            m.rust_type(target)
        )
        .unwrap();
    }
    o.push_str("}\n\n");
}

/// Every shape gets `v_<Shape>(value, path, out)`; structures also implement `Validate`.
fn gen_validator(m: &Model, name: &str, o: &mut String) {
    let shape = m.shape(name);
    let rt = m.rust_type(name);
    let f = format!("v_{name}");
    match m.kind(name) {
        "string" if m.is_enum(name) => {
            writeln!(
                o,
                "pub fn {f}(v: &{rt}, path: &str, out: &mut Vec<FieldError>) {{\n    if let {rt}::Unknown(s) = v {{\n        out.push(FieldError::not_one_of(path, s, {rt}::VALUES));\n    }}\n}}\n"
            )
            .unwrap();
        }
        "string" => {
            let pattern = shape.get("pattern").and_then(Value::as_str);
            writeln!(
                o,
                "pub fn {f}(v: &str, path: &str, out: &mut Vec<FieldError>) {{"
            )
            .unwrap();
            let (min, max) = (num(shape, "min"), num(shape, "max"));
            if min.is_some() || max.is_some() {
                writeln!(
                    o,
                    "    check_length(v, {}, {}, path, out);",
                    opt(min),
                    opt(max)
                )
                .unwrap();
            }
            if let Some(p) = pattern {
                // The regex engine has no look-ahead; the one negative look-ahead in the
                // models is a reserved-prefix rule, checked as a prefix.
                if p.starts_with("^(?!aws:)") {
                    writeln!(o, "    check_not_prefix(v, \"aws:\", path, out);").unwrap();
                }
                writeln!(
                    o,
                    "    static RE: LazyLock<regex::Regex> = LazyLock::new(|| compile_pattern({}));\n    check_pattern(v, &RE, {}, path, out);",
                    raw(&regex_form(p)),
                    raw(p)
                )
                .unwrap();
            }
            if min.is_none() && max.is_none() && pattern.is_none() {
                o.push_str("    let _ = (v, path, out);\n");
            }
            o.push_str("}\n\n");
        }
        "integer" | "long" => {
            let (min, max) = (num(shape, "min"), num(shape, "max"));
            writeln!(
                o,
                "pub fn {f}(v: &{rt}, path: &str, out: &mut Vec<FieldError>) {{"
            )
            .unwrap();
            if min.is_some() || max.is_some() {
                writeln!(
                    o,
                    "    check_range(i64::from(*v), {}, {}, path, out);",
                    opt(min),
                    opt(max)
                )
                .unwrap();
            } else {
                o.push_str("    let _ = (v, path, out);\n");
            }
            o.push_str("}\n\n");
        }
        "boolean" | "timestamp" | "double" | "float" => {
            writeln!(o, "pub fn {f}(v: &{rt}, path: &str, out: &mut Vec<FieldError>) {{\n    let _ = (v, path, out);\n}}\n").unwrap();
        }
        "list" => {
            let item = member_shape(shape, "member");
            let (min, max) = (num(shape, "min"), num(shape, "max"));
            writeln!(
                o,
                "pub fn {f}(v: &{rt}, path: &str, out: &mut Vec<FieldError>) {{"
            )
            .unwrap();
            if min.is_some() || max.is_some() {
                writeln!(
                    o,
                    "    check_count(v.len(), {}, {}, path, out);",
                    opt(min),
                    opt(max)
                )
                .unwrap();
            }
            writeln!(o, "    for (i, x) in v.iter().enumerate() {{\n        v_{item}(x, &format!(\"{{path}}[{{i}}]\"), out);\n    }}\n}}\n").unwrap();
        }
        "map" => {
            let key = member_shape(shape, "key");
            let val = member_shape(shape, "value");
            let (min, max) = (num(shape, "min"), num(shape, "max"));
            writeln!(
                o,
                "pub fn {f}(v: &{rt}, path: &str, out: &mut Vec<FieldError>) {{"
            )
            .unwrap();
            if min.is_some() || max.is_some() {
                writeln!(
                    o,
                    "    check_count(v.len(), {}, {}, path, out);",
                    opt(min),
                    opt(max)
                )
                .unwrap();
            }
            o.push_str("    for (k, x) in v {\n        let p = format!(\"{path}.{k}\");\n");
            if m.is_enum(key) {
                writeln!(
                    o,
                    "        if !{}::VALUES.contains(&k.as_str()) {{\n            out.push(FieldError::not_one_of(&p, k, {}::VALUES));\n        }}",
                    type_name(key),
                    type_name(key)
                )
                .unwrap();
            } else {
                writeln!(o, "        v_{key}(k, &p, out);").unwrap();
            }
            writeln!(o, "        v_{val}(x, &p, out);\n    }}\n}}\n").unwrap();
        }
        "structure" => {
            let ty = type_name(name);
            let req = required(shape);
            let union = shape.get("union").and_then(Value::as_bool).unwrap_or(false);
            writeln!(o, "impl Validate for {ty} {{\n    fn validate(&self, path: &str, out: &mut Vec<FieldError>) {{").unwrap();
            let ms = members(shape);
            if ms.is_empty() {
                o.push_str("        let _ = (path, out);\n");
            }
            if union {
                let set: Vec<String> = ms
                    .iter()
                    .map(|(n, _)| format!("self.{}.is_some()", field_name(n)))
                    .collect();
                writeln!(
                    o,
                    "        check_union([{}].iter().filter(|x| **x).count(), path, out);",
                    set.join(", ")
                )
                .unwrap();
            }
            for (mname, mem) in &ms {
                let target = mem["shape"].as_str().unwrap();
                let fname = field_name(mname);
                let p = format!("join(path, {})", lit(mname));
                let call = if m.kind(target) == "structure" {
                    format!("x.validate(&{p}, out)")
                } else {
                    format!("v_{target}(x, &{p}, out)")
                };
                if req.contains(mname) {
                    writeln!(
                        o,
                        "        match &self.{fname} {{\n            Some(x) => {call},\n            None => out.push(FieldError::missing(&{p})),\n        }}"
                    )
                    .unwrap();
                } else {
                    writeln!(
                        o,
                        "        if let Some(x) = &self.{fname} {{\n            {call};\n        }}"
                    )
                    .unwrap();
                }
            }
            o.push_str("    }\n}\n\n");
            writeln!(o, "pub fn {f}(v: &{ty}, path: &str, out: &mut Vec<FieldError>) {{\n    v.validate(path, out);\n}}\n").unwrap();
        }
        other => panic!("shape {name}: unsupported type {other}"),
    }
}

/// The regex form of a model pattern (the `(?!aws:)` look-ahead becomes a prefix check).
fn regex_form(p: &str) -> String {
    match p.strip_prefix("^(?!aws:)") {
        Some(rest) => format!("^{rest}"),
        None => p.to_string(),
    }
}

/// Every pattern in regex form, so a test can compile them all up front.
fn gen_patterns(m: &Model, o: &mut String) {
    let set: BTreeSet<String> = m
        .shapes
        .values()
        .filter_map(|s| s.get("pattern").and_then(Value::as_str))
        .map(regex_form)
        .collect();
    o.push_str("pub const PATTERNS: &[&str] = &[\n");
    for p in set {
        writeln!(o, "    {},", raw(&p)).unwrap();
    }
    o.push_str("];\n\n");
}

fn error_shapes(m: &Model) -> Vec<String> {
    m.shapes
        .keys()
        .filter(|n| {
            m.shape(n)
                .get("exception")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        })
        .cloned()
        .collect()
}

fn gen_errors(m: &Model, o: &mut String) {
    let errs = error_shapes(m);
    o.push_str("/// Every error the service model declares, plus the default of an operation not yet built.\n");
    o.push_str("#[derive(Debug, Clone, PartialEq)]\npub enum Error {\n");
    for e in &errs {
        writeln!(o, "    {}({}),", variant_name(e), type_name(e)).unwrap();
    }
    o.push_str("    NotImplemented(&'static str),\n}\n\n");
    o.push_str("impl Error {\n    /// The error's name on the wire (`__type` / `X-Amzn-ErrorType`).\n    pub fn type_name(&self) -> &'static str {\n        match self {\n");
    for e in &errs {
        writeln!(o, "            Self::{}(_) => {},", variant_name(e), lit(e)).unwrap();
    }
    o.push_str(
        "            Self::NotImplemented(_) => \"NotImplementedException\",\n        }\n    }\n\n",
    );
    o.push_str("    pub fn status(&self) -> u16 {\n        match self {\n");
    for e in &errs {
        let s = m.shape(e);
        let status = s
            .get("error")
            .and_then(|x| x.get("httpStatusCode"))
            .and_then(Value::as_i64)
            .unwrap_or(
                if s.get("fault").and_then(Value::as_bool).unwrap_or(false) {
                    500
                } else {
                    400
                },
            );
        writeln!(o, "            Self::{}(_) => {status},", variant_name(e)).unwrap();
    }
    o.push_str("            Self::NotImplemented(_) => 501,\n        }\n    }\n\n");
    o.push_str("    /// The modeled members, serialized as the wire body (without `__type`).\n    pub fn body(&self) -> serde_json::Value {\n        match self {\n");
    for e in &errs {
        writeln!(
            o,
            "            Self::{}(x) => serde_json::to_value(x).unwrap_or_default(),",
            variant_name(e)
        )
        .unwrap();
    }
    let msg_member = if m.rest() { "message" } else { "Message" };
    writeln!(
        o,
        "            Self::NotImplemented(op) => serde_json::json!({{ {}: format!(\"{{op}} is not implemented yet\") }}),\n        }}\n    }}\n}}\n",
        lit(msg_member)
    )
    .unwrap();
    o.push_str("impl std::fmt::Display for Error {\n    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {\n        let body = self.body();\n");
    writeln!(
        o,
        "        let msg = body.get({}).and_then(|m| m.as_str()).unwrap_or(\"\");\n        write!(f, \"{{}}: {{msg}}\", self.type_name())\n    }}\n}}\n\nimpl std::error::Error for Error {{}}\n",
        lit(msg_member)
    )
    .unwrap();
}

fn op_io(m: &Model, op: &str) -> (String, String) {
    let o = m.operations[op].as_object().unwrap();
    let get = |k: &str| {
        o.get(k)
            .and_then(|x| x.get("shape"))
            .and_then(Value::as_str)
            .map(type_name)
    };
    (
        get("input").unwrap_or_else(|| "Empty".into()),
        get("output").unwrap_or_else(|| "Empty".into()),
    )
}

fn gen_trait(m: &Model, o: &mut String) {
    o.push_str("/// One method per operation; each defaults to `NotImplemented` so behaviour grows op by op.\npub trait Api: Send + Sync + 'static {\n");
    for op in m.operations.keys() {
        let (i, out) = op_io(m, op);
        writeln!(
            o,
            "    fn {}(&self, ctx: Context, input: {i}) -> impl Future<Output = Result<{out}, Error>> + Send {{\n        let _ = (ctx, input);\n        async {{ Err(Error::NotImplemented({})) }}\n    }}\n",
            snake(op),
            lit(op)
        )
        .unwrap();
    }
    o.push_str("}\n\n");
}

fn gen_dispatch(m: &Model, o: &mut String) {
    o.push_str("pub const OPERATIONS: &[&str] = &[\n");
    for op in m.operations.keys() {
        writeln!(o, "    {},", lit(op)).unwrap();
    }
    o.push_str("];\n\n");
    o.push_str("/// Decodes, validates and runs one operation; the output comes back as JSON bytes.\npub async fn dispatch<A: Api>(api: &A, ctx: Context, op: &str, input: serde_json::Value) -> Result<Vec<u8>, DispatchError<Error>> {\n    match op {\n");
    for op in m.operations.keys() {
        let (i, _) = op_io(m, op);
        writeln!(
            o,
            "        {} => {{\n            let input: {i} = decode(input)?;\n            check(&input)?;\n            encode(&api.{}(ctx, input).await.map_err(DispatchError::Service)?)\n        }}",
            lit(op),
            snake(op)
        )
        .unwrap();
    }
    o.push_str(
        "        other => Err(DispatchError::UnknownOperation(other.to_string())),\n    }\n}\n\n",
    );
}

fn gen_routes(m: &Model, o: &mut String) {
    o.push_str("pub static ROUTES: &[Route] = &[\n");
    for (op, def) in &m.operations {
        let http = &def["http"];
        let method = http["method"].as_str().unwrap_or("POST");
        let uri = http["requestUri"].as_str().unwrap_or("/");
        let status = http
            .get("responseCode")
            .and_then(Value::as_i64)
            .unwrap_or(200);
        let input = def
            .get("input")
            .and_then(|x| x.get("shape"))
            .and_then(Value::as_str);
        let mut labels = Vec::new();
        let mut query = Vec::new();
        if let Some(input) = input {
            for (mname, mem) in members(m.shape(input)) {
                let wire = mem
                    .get("locationName")
                    .and_then(Value::as_str)
                    .unwrap_or(&mname)
                    .to_string();
                let target = mem["shape"].as_str().unwrap();
                let kind = match m.kind(target) {
                    "list" => "QueryKind::List",
                    "integer" | "long" => "QueryKind::Integer",
                    "boolean" => "QueryKind::Boolean",
                    _ => "QueryKind::String",
                };
                match mem.get("location").and_then(Value::as_str) {
                    Some("uri") => labels.push(format!(
                        "Param {{ member: {}, wire: {}, kind: {kind} }}",
                        lit(&mname),
                        lit(&wire)
                    )),
                    Some("querystring") => query.push(format!(
                        "Param {{ member: {}, wire: {}, kind: {kind} }}",
                        lit(&mname),
                        lit(&wire)
                    )),
                    _ => {}
                }
            }
        }
        writeln!(
            o,
            "    Route {{ operation: {}, method: {}, path: {}, status: {status}, labels: &[{}], query: &[{}] }},",
            lit(op),
            lit(method),
            lit(uri),
            labels.join(", "),
            query.join(", ")
        )
        .unwrap();
    }
    o.push_str("];\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_names() {
        assert_eq!(snake("ContactArn"), "contact_arn");
        assert_eq!(snake("ResourceARN"), "resource_arn");
        assert_eq!(snake("sseKmsKeyId"), "sse_kms_key_id");
        assert_eq!(snake("AcceptPage"), "accept_page");
        assert_eq!(variant_name("ONCALL_SCHEDULE"), "OncallSchedule");
        assert_eq!(variant_name("Custom Event"), "CustomEvent");
    }
}
