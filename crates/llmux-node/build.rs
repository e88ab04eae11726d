//! Emits the linker arguments a Node addon needs (napi-build).
fn main() {
    napi_build::setup();
}
