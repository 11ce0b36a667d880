//! The sandbox the examples share: named namespaces deleted when the demo ends, however it ends.

use pipework_core::Namespace;

/// Named namespaces that are deleted when the demo ends, however it ends.
pub struct Sandbox(pub Vec<Namespace>);

impl Sandbox {
    /// Creates namespace `name`, kept for deletion, and returns another handle to it.
    pub fn create(&mut self, name: &str) -> pipework_core::Result<Namespace> {
        let namespace = Namespace::create_named(name)?;
        let copy = namespace.try_clone()?;
        self.0.push(namespace);
        Ok(copy)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for namespace in self.0.drain(..).rev() {
            let name = namespace.name().unwrap_or_default().to_string();
            match namespace.delete() {
                Ok(()) => println!("removed namespace {name}"),
                Err(err) => eprintln!("cannot remove namespace {name}: {err}"),
            }
        }
    }
}
