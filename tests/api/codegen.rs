//! The committed generated shapes must be exactly what the generator makes from `models/`.

#[path = "../../src/bin/codegen/generate.rs"]
#[allow(dead_code)]
mod generate;

#[test]
fn generated_shapes_are_fresh() {
    let root = env!("CARGO_MANIFEST_DIR");
    for (model, out) in [
        ("models/ssm-contacts.json", "src/shapes/contacts.rs"),
        ("models/ssm-incidents.json", "src/shapes/incidents.rs"),
    ] {
        let text = std::fs::read_to_string(format!("{root}/{model}")).unwrap();
        let fresh = generate::generate(&serde_json::from_str(&text).unwrap(), model).unwrap();
        let committed = std::fs::read_to_string(format!("{root}/{out}")).unwrap();
        assert!(
            fresh == committed,
            "{out} is stale: run `cargo run --bin codegen` and commit the result"
        );
    }
}

#[test]
fn model_copies_carry_no_documentation() {
    let root = env!("CARGO_MANIFEST_DIR");
    for model in ["models/ssm-contacts.json", "models/ssm-incidents.json"] {
        let text = std::fs::read_to_string(format!("{root}/{model}")).unwrap();
        assert!(
            !text.contains("\"documentation\""),
            "{model} still has documentation text"
        );
    }
}

#[test]
fn every_operation_of_both_services_is_in_the_trait() {
    use klaxon::shapes::{contacts, incidents};
    assert_eq!(contacts::OPERATIONS.len() + incidents::OPERATIONS.len(), 70);
    assert_eq!(incidents::ROUTES.len(), incidents::OPERATIONS.len());
}
