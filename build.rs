// Rebuild when a migration changes: `sqlx::migrate!` embeds them at compile time, and
// cargo does not see that on its own.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
