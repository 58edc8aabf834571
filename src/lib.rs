pub mod merkle;
pub mod note;
