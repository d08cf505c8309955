//! The served OpenAPI document: what the handlers declare (`utoipa::path`), then the
//! conventions every operation shares, applied in one place — an `operationId` made from the
//! method and path (so ids never repeat), the error answers each operation can give with the
//! error body's schema — and the tracking, postback and dialect routes, which answer in their
//! own formats and are described here. `/api/docs` renders the same document as HTML.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

const METHODS: [&str; 6] = ["get", "post", "put", "patch", "delete", "options"];

/// An IPv4 network in CIDR form.
const IPV4_CIDR: &str = r"^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])/(3[0-2]|[12]?[0-9])$";

/// `getOffersById` for `GET /api/offers/{id}`: the method, then each path segment after `/api/`
/// in camel case, a parameter as `By<Name>`.
fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_owned();
    let words = path.trim_start_matches('/').strip_prefix("api/").unwrap_or(path.trim_start_matches('/'));
    for segment in words.split(['/', '-', '.', '_']).filter(|s| !s.is_empty()) {
        let (prefix, word) = match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => ("By", name),
            None => ("", segment),
        };
        id.push_str(prefix);
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            id.extend(first.to_uppercase());
            id.push_str(chars.as_str());
        }
    }
    id
}

/// Gives every operation of a path item its `operationId`.
fn name_operations(path: &str, item: &mut Value) {
    for method in METHODS {
        if let Some(operation) = item.get_mut(method).and_then(Value::as_object_mut) {
            operation.insert("operationId".into(), operation_id(method, path).into());
        }
    }
}

/// The pattern of a comma-separated list of `values` (`a|b|c`), empty allowed: an empty
/// parameter is no value on every surface.
fn comma_list(values: &str) -> String {
    format!("^(({values})(,({values}))*)?$")
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

/// The error answers of a native operation, by status.
fn native_errors(method: &str, path: &str) -> Vec<(&'static str, &'static str)> {
    let mut errors = vec![
        ("400", "A parameter or the body is invalid (`INVALID_PARAMETER`, with `field`)"),
        ("401", "No key, or a key that matches no live key (`INVALID_API_KEY`)"),
        ("403", "The key lacks the scope, or the role may not do this (`INSUFFICIENT_SCOPE`, `FORBIDDEN`)"),
        ("429", "Over the key's rate limit (`RATE_LIMIT_EXCEEDED`); see `X-RateLimit-Reset`"),
        ("500", "A fault on the server's side (`INTERNAL_ERROR`)"),
    ];
    if path.contains('{') {
        errors.push(("404", "No such record, or not the caller's to see (`NOT_FOUND`)"));
    } else if matches!(method, "post" | "patch") {
        errors.push(("404", "A record the body refers to does not exist (`NOT_FOUND`, with `field`)"));
    }
    if matches!(method, "post" | "patch" | "delete") {
        errors.push(("409", "A unique value is taken, or the record is in use (`CONFLICT`)"));
    }
    if matches!(method, "post" | "patch") {
        errors.push(("413", "The body is larger than 1 MiB (`PAYLOAD_TOO_LARGE`)"));
    }
    errors
}

/// The document as served: `generated` with the shared conventions and the routes that are
/// not in the generator's view.
pub fn document(generated: &utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(generated).unwrap_or_else(|_| json!({}));
    if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        schemas.insert("Error".into(), error_schema());
        // A user's panel password: taken on create and update (engine::manage::take_password),
        // never answered.
        for name in ["UserSpec", "AnyUserSpec"] {
            if let Some(properties) =
                schemas.get_mut(name).and_then(|s| s.get_mut("properties")).and_then(Value::as_object_mut)
            {
                properties.insert(
                    "password".into(),
                    json!({
                        "type": ["string", "null"],
                        "minLength": crate::engine::access::session::MIN_PASSWORD_CHARS,
                        "maxLength": crate::engine::access::session::MAX_PASSWORD_CHARS,
                        "writeOnly": true,
                        "description": "The user's panel password (at least 10 characters); write-only, never returned; null or absent leaves it as it is",
                    }),
                );
            }
        }
        read_views(schemas);
        if let Some(items) =
            schemas.get_mut("ConversionGuards").and_then(|g| g.pointer_mut("/properties/ip_allowlist/items"))
        {
            // IPv6 networks are taken too; the pattern describes the IPv4 form.
            *items = json!({"type": "string", "description": "A network in CIDR form (203.0.113.0/24; IPv6 too)", "pattern": IPV4_CIDR});
        }
    }
    let mut patches = BTreeSet::new();
    let mut advertiser_spec = false;
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            name_operations(path, item);
            for method in METHODS {
                let Some(operation) = item.get_mut(method).and_then(Value::as_object_mut) else { continue };
                let responses = operation.entry("responses").or_insert_with(|| json!({}));
                if let Some(responses) = responses.as_object_mut() {
                    for (status, description) in native_errors(method, path) {
                        responses.entry(status).or_insert_with(|| error_response(description));
                    }
                }
            }
        }
        for (path, statuses) in crate::surfaces::native::list_statuses() {
            let Some(params) =
                paths.get_mut(path).and_then(|p| p.pointer_mut("/get/parameters")).and_then(Value::as_array_mut)
            else {
                continue;
            };
            if statuses.is_empty() {
                params.retain(|p| p["name"] != "status");
            } else if let Some(status) = params.iter_mut().find(|p| p["name"] == "status") {
                status["schema"] = json!({"type": "string", "pattern": comma_list(&statuses.join("|"))});
                status["description"] = format!("Comma-separated: {}", statuses.join(", ")).into();
            }
        }
        for item in paths.values_mut() {
            for param in item.pointer_mut("/get/parameters").and_then(Value::as_array_mut).into_iter().flatten() {
                if param["name"] == "date_from" || param["name"] == "date_to" {
                    param["schema"] = json!({"type": "string", "format": "date"});
                }
            }
            // A merge patch is a JSON object.
            if let Some(schema) = item.pointer_mut("/patch/requestBody/content/application~1json/schema")
                && schema.get("$ref").is_none()
                && schema.get("type").is_none()
            {
                *schema = json!({"type": "object"});
            }
        }
        report_parameters(paths);
        advertiser_spec = role_specs(&mut patches, paths);
        merge_patches(&mut patches, paths);
        for (path, mut item) in other_routes() {
            name_operations(&path, &mut item);
            paths.insert(path, item);
        }
        empty_means_absent(paths);
    }
    if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        if advertiser_spec {
            role_schemas(schemas);
        }
        let components = schemas.clone();
        for name in patches {
            let Some(mut patch) = components.get(&name).cloned() else { continue };
            // `null` removes an optional field; a required one must keep a value.
            patch_view(&mut patch, &components, 3, false);
            patch["description"] = format!("A JSON merge patch of {name}: any of its fields").into();
            // A user's role is chosen at creation.
            if let Some(properties) = patch.get_mut("properties").and_then(Value::as_object_mut) {
                properties.remove("role");
            }
            schemas.insert(format!("{name}Patch"), patch);
        }
    }
    if let Some(list) =
        doc.as_object_mut().map(|d| d.entry("tags").or_insert_with(|| json!([]))).and_then(Value::as_array_mut)
    {
        for (name, description) in OTHER_TAGS {
            list.push(json!({"name": name, "description": description}));
        }
    }
    doc
}

/// Advertisers and admins belong to no affiliate group: their bodies are `AdvertiserSpec`
/// (the user spec without `affiliate_group_id`), and a new user of another role than
/// `affiliate` may not name one.
/// Whether it refers to `AdvertiserSpec`, which is then to be made.
fn role_specs(patches: &mut BTreeSet<String>, paths: &mut Map<String, Value>) -> bool {
    let mut used = false;
    for (path, method) in [("/api/advertisers", "post"), ("/api/advertisers/{id}", "patch")] {
        let pointer = format!("/{method}/requestBody/content/application~1json/schema");
        if let Some(schema) = paths.get_mut(path).and_then(|p| p.pointer_mut(&pointer)) {
            let name = if method == "post" { "AdvertiserSpec" } else { "AdvertiserSpecPatch" };
            *schema = json!({"$ref": format!("#/components/schemas/{name}")});
            used = true;
        }
    }
    patches.insert("AdvertiserSpec".into());
    used
}

fn role_schemas(schemas: &mut Map<String, Value>) {
    if let Some(mut advertiser) = schemas.get("UserSpec").cloned() {
        if let Some(properties) = advertiser.get_mut("properties").and_then(Value::as_object_mut) {
            properties.remove("affiliate_group_id");
        }
        advertiser["description"] = "An advertiser's editable fields.".into();
        schemas.insert("AdvertiserSpec".into(), advertiser);
    }
    if let Some(any) = schemas.get_mut("AnyUserSpec").and_then(Value::as_object_mut) {
        any.insert("if".into(), json!({"properties": {"role": {"const": "affiliate"}}}));
        any.insert("else".into(), json!({"properties": {"affiliate_group_id": {"type": "null"}}}));
    }
}

/// An object schema as a merge patch takes it: no field required, each optional one nullable
/// (`null` removes it) — every one when `all_nullable` — and, `depth` levels down, the objects
/// of the components it refers to likewise (a patch reaches into nested objects too).
fn patch_view(object: &mut Value, components: &Map<String, Value>, depth: u8, all_nullable: bool) {
    let Some(object) = object.as_object_mut() else { return };
    let required: Vec<Value> = object.remove("required").and_then(|r| r.as_array().cloned()).unwrap_or_default();
    for (field, schema) in object.get_mut("properties").and_then(Value::as_object_mut).into_iter().flatten() {
        if let Some(target) = schema["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .and_then(|name| components.get(name))
            .filter(|t| depth > 0 && t["type"] == "object" && t.get("properties").is_some())
        {
            let mut inline = target.clone();
            patch_view(&mut inline, components, depth - 1, true);
            *schema = inline;
        }
        let keeps_value = !all_nullable && required.iter().any(|r| r == field.as_str());
        if !keeps_value && !accepts_null(schema) {
            *schema = json!({"oneOf": [schema.clone(), {"type": "null"}]});
        }
    }
}

/// Whether a property schema already takes `null`.
fn accepts_null(schema: &Value) -> bool {
    let nullable_type = match &schema["type"] {
        Value::String(t) => t == "null",
        Value::Array(types) => types.iter().any(|t| t == "null"),
        _ => false,
    };
    nullable_type
        || ["oneOf", "anyOf"]
            .iter()
            .any(|k| schema[*k].as_array().is_some_and(|v| v.iter().any(|s| s["type"] == "null")))
}

/// A merge patch of a record (`PATCH /x/{id}`) takes the fields its spec takes (`POST /x`), none
/// required: the body refers to `SpecPatch`, collected in `patches` to be made from the spec.
/// The network's patch is its settings.
fn merge_patches(patches: &mut BTreeSet<String>, paths: &mut Map<String, Value>) {
    let specs: Vec<(String, String)> = paths
        .iter()
        .filter_map(|(path, item)| {
            let name = item.pointer("/post/requestBody/content/application~1json/schema/$ref")?.as_str()?;
            Some((format!("{path}/{{id}}"), name.rsplit('/').next()?.to_owned()))
        })
        .chain([("/api/network".to_owned(), "NetworkSettings".to_owned())])
        .collect();
    for (path, spec) in specs {
        let Some(schema) =
            paths.get_mut(&path).and_then(|p| p.pointer_mut("/patch/requestBody/content/application~1json/schema"))
        else {
            continue;
        };
        // A patch with its own schema (keys) keeps it.
        if schema.get("$ref").is_some() {
            continue;
        }
        *schema = json!({"$ref": format!("#/components/schemas/{spec}Patch")});
        patches.insert(spec);
    }
}

/// Every surface reads an empty query value as no value: a value list says so with `""`.
fn empty_means_absent(paths: &mut Map<String, Value>) {
    for item in paths.values_mut() {
        for method in METHODS {
            let Some(params) = item.get_mut(method).and_then(|o| o.get_mut("parameters")).and_then(Value::as_array_mut)
            else {
                continue;
            };
            for param in params.iter_mut().filter(|p| p["in"] == "query") {
                if let Some(values) = param.pointer_mut("/schema/enum").and_then(Value::as_array_mut)
                    && !values.iter().any(|v| v == "")
                {
                    values.push("".into());
                }
            }
        }
    }
}

/// The report's parameters as the parser reads them.
fn report_parameters(paths: &mut Map<String, Value>) {
    let Some(params) =
        paths.get_mut("/api/reports").and_then(|p| p.pointer_mut("/get/parameters")).and_then(Value::as_array_mut)
    else {
        return;
    };
    let dimensions = "hour|date|day|offer|offer_id|affiliate|affiliate_id|country|geo|source|source_id|sub1|sub2|sub3|sub4|sub5|device|os";
    let statuses = crate::surfaces::native::conversions::STATUSES.join("|");
    for param in params {
        let schema = match param["name"].as_str() {
            // Any expression PHP's strtotime reads is taken; these are examples that always
            // give a range that ends after it starts.
            Some("from") => {
                json!({"type": "string", "enum": ["today", "yesterday", "-7 days", "-30 days", "first day of this month", "first day of last month"]})
            }
            Some("to") => json!({"type": "string", "enum": ["today", "tomorrow", "now", "+1 day"]}),
            Some("timezone") => json!({"type": "string", "enum": clicktrail_domain::schema::zone_names()}),
            Some("group_by") => json!({"type": "string", "pattern": comma_list(dimensions)}),
            Some("status") => json!({"type": "string", "pattern": comma_list(&statuses)}),
            Some("format") => json!({"type": "string", "enum": ["json", "csv"]}),
            _ => continue,
        };
        param["schema"] = schema;
    }
}

/// A stored record is its editable spec plus server fields (`allOf: [Spec, {id, …}]`); a spec
/// refuses unknown fields in requests (`additionalProperties: false`), which would make every
/// answer invalid. Answers refer to `SpecRead` instead: the same schema without the refusal.
fn read_views(schemas: &mut Map<String, Value>) {
    let strict: Vec<String> =
        schemas.iter().filter(|(_, s)| s["additionalProperties"] == false).map(|(name, _)| name.clone()).collect();
    let mut used = BTreeSet::new();
    for schema in schemas.values_mut() {
        for part in schema.get_mut("allOf").and_then(Value::as_array_mut).into_iter().flatten() {
            let Some(name) = part["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) else {
                continue;
            };
            if strict.iter().any(|s| s == name) {
                let name = name.to_owned();
                part["$ref"] = format!("#/components/schemas/{name}Read").into();
                used.insert(name);
            }
        }
    }
    for name in used {
        if let Some(mut read) = schemas.get(&name).cloned() {
            if let Some(object) = read.as_object_mut() {
                object.remove("additionalProperties");
            }
            schemas.insert(format!("{name}Read"), read);
        }
    }
}

fn error_schema() -> Value {
    json!({
        "type": "object",
        "description": "The native API's error body.",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message", "status"],
            "properties": {
                "code": {"type": "string", "enum": ["INVALID_API_KEY", "INSUFFICIENT_SCOPE", "FORBIDDEN", "INVALID_PARAMETER", "NOT_FOUND", "CONFLICT", "RATE_LIMIT_EXCEEDED", "METHOD_NOT_ALLOWED", "PAYLOAD_TOO_LARGE", "INTERNAL_ERROR"]},
                "message": {"type": "string"},
                "status": {"type": "integer"},
                "field": {"type": "string", "description": "The offending parameter or body field (INVALID_PARAMETER)"}
            }
        }}
    })
}

const OTHER_TAGS: [(&str, &str); 8] = [
    ("tracking", "Tracking links and impressions: what visitors' browsers request."),
    ("postback", "Conversions reported by advertisers, server to server or by pixel."),
    ("dialect A", "Seed 000: the admin offer report (`x-api-key`, `x-user-id`)."),
    ("dialect B", "Seed 001: the traffic-source report (`rest_key`)."),
    ("dialect C", "Seed 002: offers (`X-Api-Key`)."),
    ("dialect D", "Seed 003: the affiliate click log (`X-Eflow-API-Key`)."),
    ("dialect E", "Seed 004: offers, stats, conversions and postbacks (`Authorization: Bearer`)."),
    ("operations", "Health, readiness and metrics."),
];

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

fn path_param(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": schema})
}

fn header(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "header", "required": true, "description": description, "schema": {"type": "string"}})
}

fn answer(description: &str) -> Value {
    json!({"description": description})
}

fn json_answer(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"type": "object"}}}})
}

/// An operation of a surface with its own formats: tag, summary, parameters, answers.
fn operation(tag: &str, summary: &str, parameters: Vec<Value>, responses: Value) -> Value {
    json!({"tags": [tag], "summary": summary, "parameters": parameters, "responses": responses, "security": []})
}

/// The routes that answer in their own formats (tracking, postback, the five dialects).
fn other_routes() -> Vec<(String, Value)> {
    let sub_ids: Vec<Value> = clicktrail_domain::tracking::TRACKING_PARAMETERS
        .iter()
        .map(|p| query(p, "Kept with the click (and filled into the destination's macros)", json!({"type": "string"})))
        .collect();
    let mut click_params = vec![
        path_param("offer", "Offer id", json!({"type": "string"})),
        path_param("affiliate", "Affiliate id", json!({"type": "string"})),
        query(
            "async",
            "`json`: answer the click id as JSON instead of redirecting (other values are ignored)",
            json!({"type": "string"}),
        ),
    ];
    click_params.extend(sub_ids);
    let postback_params: Vec<Value> = [
        ("click_id", "The click (or `transaction_id`)"),
        ("transaction_id", "The click, as some trackers name it"),
        ("offer_id", "The offer, for coupon-only conversions"),
        ("event", "An event code of the offer (`lead`, `sale`, …)"),
        ("amount", "The sale amount"),
        ("payout", "A payout override (offers that allow it)"),
        ("revenue", "A revenue override (offers that allow it)"),
        ("status", "approved, pending or rejected"),
        ("txid", "The advertiser's order id: a repeat for the offer is a duplicate"),
        ("coupon_code", "A coupon: attribution without a click"),
        ("currency", "ISO 4217 code"),
        ("token", "The offer's token, when it requires one"),
    ]
    .iter()
    .map(|(n, d)| {
        let schema = match *n {
            // Empty is no value, as for every parameter.
            "click_id" | "transaction_id" => json!({"type": "string", "pattern": "^([0-9a-fA-F]{32})?$"}),
            _ => json!({"type": "string"}),
        };
        query(n, d, schema)
    })
    .collect();
    // Server to server, a conversion names its click (or a coupon); the pixel reads the cookie.
    let mut server_params = postback_params.clone();
    server_params[0]["required"] = true.into();
    server_params[0]["schema"] = json!({"type": "string", "pattern": "^[0-9a-fA-F]{32}$"});
    server_params[0]["description"] = "The click (or `transaction_id`, or a `coupon_code` with `offer_id`)".into();
    // The tag's form body: the pixel's fields, the click id required (the cookie is the
    // browser's, which a generated request has not).
    let mut tag_fields = serde_json::Map::new();
    for p in &postback_params {
        if let Some(name) = p["name"].as_str().filter(|n| *n != "transaction_id") {
            tag_fields.insert(name.to_owned(), p["schema"].clone());
        }
    }
    tag_fields.insert("click_id".into(), json!({"type": "string", "pattern": "^[0-9a-fA-F]{32}$"}));
    let tag_body = json!({"type": "object", "required": ["click_id"], "properties": tag_fields});
    let conversion = json!({"200": json_answer("Recorded (or `\"duplicate\": true`): `conversion_id`, `status`, `payout`, `revenue`"), "400": json_answer("A parameter is invalid"), "403": json_answer("Token or source address refused"), "404": json_answer("No such click, coupon or offer"), "413": json_answer("The body is larger than 1 MiB")});
    let e_auth = || header("Authorization", "`Bearer <key>`");
    let e_errors = |ok: &str| json!({"200": json_answer(ok), "400": json_answer("`{\"error\":{\"code\":\"invalid_request\",…}}`"), "401": json_answer("Unauthorised"), "403": json_answer("Forbidden"), "404": json_answer("Not found"), "429": json_answer("Rate limited")});
    let date = |name: &str| {
        let mut p = query(name, "YYYY-MM-DD in the caller's time zone", json!({"type": "string", "format": "date"}));
        p["required"] = true.into();
        p
    };
    let pages = || {
        vec![
            query("page", "Page, from 1", json!({"type": "integer", "minimum": 1, "maximum": i64::MAX})),
            query("per_page", "More than 100 is 100", json!({"type": "integer", "minimum": 1, "maximum": i64::MAX})),
        ]
    };
    vec![
        (
            "/c/{offer}/{affiliate}".into(),
            json!({"get": operation("tracking", "A tracking link: records the click and sends the visitor on (302, a meta refresh, or the fallback)", click_params.clone(), json!({"302": answer("To the offer's destination, the macros filled; sets the `ct_{offer}` click cookie"), "200": answer("A meta-refresh page, or the click id as JSON (`async=json`)"), "404": answer("Unknown offer and no fallback"), "503": answer("The event buffer is full; retry")}))}),
        ),
        (
            "/i/{offer}/{affiliate}".into(),
            json!({"get": operation("tracking", "An impression: a 1×1 GIF", click_params[..2].to_vec(), json!({"200": {"description": "image/gif", "content": {"image/gif": {}}}, "503": answer("The event buffer is full; retry")}))}),
        ),
        (
            "/h".into(),
            json!({"get": operation("tracking", "The signed middle hop of a double meta refresh", vec![query("u", "Destination", json!({"type": "string"})), query("s", "Signature", json!({"type": "string"}))], json!({"200": answer("A meta-refresh page"), "404": answer("A bad signature")}))}),
        ),
        (
            "/postback".into(),
            json!({
                "get": operation("postback", "A conversion, server to server (query parameters)", server_params.clone(), conversion.clone()),
                "post": operation("postback", "A conversion: query, form or JSON body with the same fields", server_params, conversion.clone()),
            }),
        ),
        (
            "/p".into(),
            json!({
                "get": operation("postback", "The conversion pixel: the click id passed (`click_id`/`transaction_id`), else the click cookie; a 1×1 GIF", postback_params.clone(), json!({"200": {"description": "image/gif", "content": {"image/gif": {}}}})),
                "post": {
                    "tags": ["postback"], "security": [],
                    "summary": "The browser tag's conversion (form fields; the click cookie stands in for `click_id` where the browser sends it). CORS for the calling page; answers the conversion's id and status, never its money",
                    "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": tag_body}}},
                    "responses": {"200": json_answer("Recorded (or `\"duplicate\": true`): `conversion_id`, `status`"), "400": json_answer("A parameter is invalid, or no click id came"), "403": json_answer("Token or source address refused"), "404": json_answer("No such click, coupon or offer"), "413": json_answer("The body is larger than 1 MiB")}
                },
                "options": operation("postback", "The CORS preflight of a tag call", Vec::new(), json!({"204": answer("The methods and headers a page may use")})),
            }),
        ),
        (
            "/js/clicktrail.js".into(),
            json!({"get": operation("tracking", "The browser tag (docs/BROWSER-TRACKING.md): first-party click ids, `clicktrail.conversion(…)`, `clicktrail.click(…)`; cacheable for a day, revalidated by its ETag", Vec::new(), json!({"200": {"description": "text/javascript", "content": {"text/javascript": {}}}, "304": answer("Not modified (`If-None-Match`)")}))}),
        ),
        (
            "/p/iframe".into(),
            json!({"get": operation("postback", "The conversion pixel for an iframe: the same, answering an empty HTML page", postback_params, json!({"200": {"description": "text/html", "content": {"text/html": {}}}}))}),
        ),
        (
            "/api/v1.2/admin/offerStats/{startTime}/{endTime}/".into(),
            json!({"get": operation("dialect A", "Offer statistics between two times (unix times or PHP strtotime expressions)", vec![path_param("startTime", "Start: a unix time or any expression PHP's strtotime reads (examples listed)", json!({"type": "string", "enum": ["today", "yesterday", "-7 days", "-30 days", "first day of this month"]})), path_param("endTime", "End (a whole day includes that day)", json!({"type": "string", "enum": ["today", "tomorrow", "now"]})), header("x-api-key", "An admin key"), header("x-user-id", "The key's user id"), query("timezone", "IANA zone", json!({"type": "string", "enum": clicktrail_domain::schema::zone_names()})), query("offer_id", "One offer id", json!({"type": "string", "pattern": "^([0-9]{1,18})?$"})), query("country", "ISO country", json!({"type": "string", "enum": clicktrail_domain::schema::country_codes()}))], json!({"200": json_answer("`{\"data\": [[range, offer id, name, impressions, clicks, …]]}`"), "400": json_answer("A parameter is invalid"), "401": json_answer("Unauthorised"), "403": json_answer("Not an admin"), "429": json_answer("Rate limited")}))}),
        ),
        (
            "/api/traffic-source".into(),
            json!({"get": operation("dialect B", "Statistics by traffic source", vec![query("rest_key", "The API key", json!({"type": "string"})), query("date_from", "Unix time", json!({"type": "integer"})), query("date_to", "Unix time", json!({"type": "integer"}))], json!({"200": json_answer("`{\"status\":\"success\",\"data\":[…]}`"), "400": json_answer("`{\"status\":\"error\",\"message\":…}`"), "401": json_answer("Incorrect rest key!"), "403": json_answer("Your account is not active!"), "429": json_answer("Rate limited")}))}),
        ),
        (
            "/api/v2/offers".into(),
            json!({"get": operation("dialect C", "Offers, paginated", [vec![header("X-Api-Key", "The API key"), query("status", "active, paused or archived; empty for every status", json!({"type": "string", "pattern": "^(active|paused|archived)?$"}))], pages()].concat(), json!({"200": json_answer("`{\"status\":1,\"offers\":[…],\"pagination\":{…}}`"), "400": json_answer("Invalid parameter"), "401": json_answer("Unauthorised"), "429": json_answer("Rate limited")}))}),
        ),
        (
            "/v1/affiliates/reporting/clicks/stream".into(),
            json!({"post": {
                "tags": ["dialect D"], "summary": "The affiliate's raw clicks (at most 14 days)", "security": [],
                "parameters": [header("X-Eflow-API-Key", "An affiliate key")],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["from", "to", "timezone_id"], "properties": {"from": {"type": "string"}, "to": {"type": "string"}, "timezone_id": {"type": "integer"}, "query": {"type": "object"}}}}}},
                "responses": {"200": json_answer("`{\"clicks\": […]}`"), "400": json_answer("`{\"error\": …}`"), "401": json_answer("Unauthorised"), "413": json_answer("The body is larger than 1 MiB"), "429": json_answer("Rate limited")}
            }}),
        ),
        (
            "/v1/affiliates/reporting/clicks/{transactionId}".into(),
            json!({"get": operation("dialect D", "One click by its id", vec![path_param("transactionId", "32 hex digits", json!({"type": "string"})), header("X-Eflow-API-Key", "An affiliate or admin key")], json!({"200": json_answer("The click"), "401": json_answer("Unauthorised"), "404": json_answer("No such click of the caller's")}))}),
        ),
        (
            "/v1/offers".into(),
            json!({"get": operation("dialect E", "Offers", [vec![e_auth(), query("status", "active (default), paused or all", json!({"type": "string", "enum": ["active", "paused", "all"]})), query("geo", "ISO country", json!({"type": "string", "enum": clicktrail_domain::schema::country_codes()})), query("sort", "id, name, payout or epc; - first to reverse", json!({"type": "string", "enum": ["id", "name", "payout", "epc", "-id", "-name", "-payout", "-epc"]}))], pages()].concat(), e_errors("`{\"data\":[…],\"meta\":{…}}`"))}),
        ),
        (
            "/v1/offers/{offer_id}".into(),
            json!({"get": operation("dialect E", "One offer", vec![path_param("offer_id", "Offer id", json!({"type": "integer"})), e_auth()], e_errors("`{\"data\":{…}}`"))}),
        ),
        (
            "/v1/stats".into(),
            json!({"get": operation("dialect E", "Statistics between two dates", vec![e_auth(), date("date_from"), date("date_to"), query("group_by", "Comma-separated: date, offer, geo, sub1…sub5, device, os", json!({"type": "string", "pattern": comma_list("date|offer|geo|sub1|sub2|sub3|sub4|sub5|device|os")}))], e_errors("`{\"data\":[…]}`"))}),
        ),
        (
            "/v1/conversions".into(),
            json!({"get": operation("dialect E", "Conversions between two dates", [vec![e_auth(), date("date_from"), date("date_to"), query("status", "all, approved, pending or rejected", json!({"type": "string", "enum": ["all", "approved", "pending", "rejected"]}))], pages()].concat(), e_errors("`{\"data\":[…],\"meta\":{…}}`"))}),
        ),
        (
            "/v1/postbacks".into(),
            json!({
                "get": operation("dialect E", "The affiliate's postbacks", vec![e_auth()], e_errors("`{\"data\":[…]}`")),
                "post": {"tags": ["dialect E"], "summary": "Register a postback", "security": [], "parameters": [e_auth()], "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}}, "responses": e_errors("Created")},
            }),
        ),
        (
            "/v1/postbacks/{id}".into(),
            json!({"delete": operation("dialect E", "Remove a postback", vec![path_param("id", "Postback id", json!({"type": "integer"})), e_auth()], e_errors("Removed"))}),
        ),
        (
            "/healthz".into(),
            json!({"get": operation("operations", "200 while the process lives", vec![], json!({"200": json_answer("`{\"status\":\"ok\"}`"), "503": json_answer("The store does not answer")}))}),
        ),
        (
            "/readyz".into(),
            json!({"get": operation("operations", "200 when this node should get traffic", vec![], json!({"200": json_answer("`ready`, or `degraded` (a backend is down; clicks are still answered), with each check"), "503": json_answer("Cannot take clicks (shutting down, or the event writer stopped), with each check")}))}),
        ),
        (
            "/metrics".into(),
            json!({"get": operation("operations", "Prometheus text", vec![], json!({"200": {"description": "text/plain; version=0.0.4", "content": {"text/plain": {}}}}))}),
        ),
    ]
}

/// The document as a readable page: every tag's operations with their parameters and answers,
/// then the schemas. Plain HTML, nothing fetched from elsewhere.
pub fn html(doc: &Value) -> String {
    use crate::surfaces::tracking::escape_html as esc;
    let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
    let mut by_tag: Map<String, Value> = Map::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let tag = op["tags"][0].as_str().unwrap_or("other").to_owned();
                let list = by_tag.entry(tag).or_insert_with(|| json!([]));
                if let Some(list) = list.as_array_mut() {
                    list.push(json!({"method": method, "path": path, "op": op}));
                }
            }
        }
    }
    let mut out = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Clicktrail API reference</title><style>\
         body{font:15px/1.5 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}\
         h2{border-bottom:1px solid #d0d7de;padding-bottom:.3rem;margin-top:2.5rem}\
         .op{border:1px solid #d0d7de;border-radius:6px;margin:1rem 0;padding:.6rem 1rem}\
         .m{display:inline-block;min-width:4.2rem;font-weight:700;text-transform:uppercase}\
         .get{color:#0969da}.post{color:#1a7f37}.patch{color:#9a6700}.delete{color:#cf222e}\
         code{background:#f6f8fa;padding:0 .25rem;border-radius:4px}table{border-collapse:collapse;margin:.4rem 0}\
         td,th{border:1px solid #d0d7de;padding:.2rem .5rem;text-align:left;vertical-align:top}\
         nav a{margin-right:.8rem}</style></head><body>",
    );
    out.push_str(&format!(
        "<h1>{}</h1><p>{}</p><p>The machine-readable document: <a href=\"/api/openapi.json\">/api/openapi.json</a>.</p><nav>",
        esc(&text(&doc["info"]["title"])),
        esc(&text(&doc["info"]["description"]))
    ));
    for tag in by_tag.keys() {
        out.push_str(&format!("<a href=\"#tag-{}\">{}</a>", esc(&tag.replace(' ', "-")), esc(tag)));
    }
    out.push_str("</nav>");
    for (tag, ops) in &by_tag {
        out.push_str(&format!("<h2 id=\"tag-{}\">{}</h2>", esc(&tag.replace(' ', "-")), esc(tag)));
        for entry in ops.as_array().into_iter().flatten() {
            let op = &entry["op"];
            let method = text(&entry["method"]);
            let summary = op["summary"].as_str().or(op["description"].as_str()).unwrap_or("");
            out.push_str(&format!(
                "<div class=\"op\"><span class=\"m {method}\">{method}</span> <code>{}</code> <small>{}</small><p>{}</p>",
                esc(&text(&entry["path"])),
                esc(&text(&op["operationId"])),
                esc(summary)
            ));
            if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
                out.push_str("<table><tr><th>parameter</th><th>in</th><th>description</th></tr>");
                for p in params {
                    out.push_str(&format!(
                        "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>",
                        esc(&text(&p["name"])),
                        if p["required"] == true { " *" } else { "" },
                        esc(&text(&p["in"])),
                        esc(&text(&p["description"]))
                    ));
                }
                out.push_str("</table>");
            }
            if let Some(schema) = op.pointer("/requestBody/content/application~1json/schema") {
                let name = schema["$ref"].as_str().map(|r| r.rsplit('/').next().unwrap_or(r).to_owned());
                out.push_str(&format!(
                    "<p>Body: <code>{}</code></p>",
                    esc(&name.unwrap_or_else(|| "JSON object".into()))
                ));
            }
            if let Some(responses) = op["responses"].as_object() {
                out.push_str("<table><tr><th>status</th><th>answer</th></tr>");
                for (status, r) in responses {
                    out.push_str(&format!(
                        "<tr><td>{}</td><td>{}</td></tr>",
                        esc(status),
                        esc(&text(&r["description"]))
                    ));
                }
                out.push_str("</table>");
            }
            out.push_str("</div>");
        }
    }
    out.push_str("<h2 id=\"schemas\">Schemas</h2>");
    for (name, schema) in doc["components"]["schemas"].as_object().into_iter().flatten() {
        let properties: Vec<String> = schema["properties"]
            .as_object()
            .map(|p| p.keys().map(|k| format!("<code>{}</code>", esc(k))).collect())
            .unwrap_or_default();
        out.push_str(&format!("<h3>{}</h3><p>{}</p>", esc(name), properties.join(" ")));
    }
    out.push_str("</body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_read_as_method_and_path() {
        assert_eq!(operation_id("get", "/api/offers"), "getOffers");
        assert_eq!(operation_id("get", "/api/offers/{id}"), "getOffersById");
        assert_eq!(operation_id("get", "/api/affiliate-groups/{id}"), "getAffiliateGroupsById");
        assert_eq!(
            operation_id("post", "/v1/affiliates/reporting/clicks/stream"),
            "postV1AffiliatesReportingClicksStream"
        );
        assert_eq!(
            operation_id("get", "/api/v1.2/admin/offerStats/{startTime}/{endTime}/"),
            "getV12AdminOfferStatsByStartTimeByEndTime"
        );
    }
}
