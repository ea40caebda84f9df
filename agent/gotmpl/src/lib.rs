//! A Go `text/template` engine with Sprig's and Helm's functions, so plumb
//! renders Helm charts natively and byte-for-byte like Helm. This crate
//! depends on nothing else of plumb.
//!
//! - [`lex`] and [`parse`] — source to trees, with Go's grammar and errors.
//! - [`exec`] — executing a tree with data, Go's evaluation and error positions.
//! - [`value`] — the values templates compute with, typed as Go sees Helm's data.
//! - [`funcs`] — Go's builtins, Sprig, and Helm's own functions.
//! - [`yaml11`] — YAML read as Helm reads values (YAML 1.1 scalars).
//!
//! The API is small: build a [`Templates`] set with a [`Functions`] table,
//! [`Templates::parse`] every file once, then [`Templates::execute`] each
//! with its data.

pub mod exec;
pub mod funcs;
pub mod lex;
pub mod number;
pub mod parse;
pub mod value;
pub mod yaml11;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub use exec::{Exec, NO_VALUE};
pub use funcs::Clock;
pub use value::{Map, Object, Value};

use parse::Tree;

/// A template function. It gets the execution (so `include` and `tpl` can
/// run templates of the same set) and its evaluated arguments; an `Err` is
/// reported as Go does: `error calling <name>: <reason>`.
pub type Func = Arc<dyn Fn(&mut Exec<'_>, Vec<Value>) -> Result<Value, String> + Send + Sync>;

/// The functions templates may call, by name.
#[derive(Clone, Default)]
pub struct Functions {
    map: HashMap<String, Func>,
    names: HashSet<String>,
}

impl Functions {
    /// Adds (or replaces) a function.
    pub fn insert(&mut self, name: &str, func: Func) {
        self.names.insert(name.to_string());
        self.map.insert(name.to_string(), func);
    }

    /// The function registered under `name`.
    pub fn get(&self, name: &str) -> Option<Func> {
        self.map.get(name).cloned()
    }

    /// Adds a function that needs no access to the execution.
    pub fn plain(&mut self, name: &str, func: fn(Vec<Value>) -> Result<Value, String>) {
        self.insert(name, Arc::new(move |_, args| func(args)));
    }

    /// Go's builtins, Sprig's functions as Helm registers them, and Helm's
    /// own (`include`, `tpl`, `required`, `toYaml`...), with `clock` for
    /// `now` and the date functions.
    pub fn helm(clock: Clock) -> Self {
        Functions::helm_with_lookup(clock, None)
    }

    /// Helm's functions with `lookup` reading from `lookup` (`None`: empty,
    /// as `helm template` without a cluster).
    pub fn helm_with_lookup(clock: Clock, lookup: Option<Arc<dyn funcs::helm::Lookup>>) -> Self {
        let mut functions = Functions::default();
        funcs::builtin::register(&mut functions);
        funcs::sprig::register(&mut functions, clock);
        funcs::helm::register(&mut functions, lookup);
        // `and`/`or` are evaluated lazily by the executor; listed for the parser.
        functions.names.insert("and".into());
        functions.names.insert("or".into());
        functions
    }
}

/// A set of parsed templates that can call each other.
pub struct Templates {
    trees: HashMap<String, Arc<Tree>>,
    functions: Arc<Functions>,
}

/// A template's error: parse errors carry the line, execution errors the
/// position and the expression, as Go prints them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    /// The source does not parse.
    #[error("template: {name}:{line}: {message}")]
    Parse {
        /// The template (file) name.
        name: String,
        /// 1-based line.
        line: usize,
        /// Go's message.
        message: String,
    },
    /// Execution failed.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// No template of that name was parsed.
    #[error("template: no template {0:?} associated with template \"gotpl\"")]
    NoTemplate(String),
}

/// An execution error at a node: `template: <file>:<line>:<col>: executing
/// "<template>" at <<expr>>: <reason>`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ExecError {
    /// The template executing.
    pub template: String,
    /// The file its source came from.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 0-based byte column.
    pub col: usize,
    /// The expression (truncated as Go does).
    pub context: String,
    /// Why.
    pub reason: String,
}

impl ExecError {
    /// An error with no position (raised outside any node).
    pub fn plain(reason: String) -> Self {
        ExecError { template: String::new(), file: String::new(), line: 0, col: 0, context: String::new(), reason }
    }

    fn render(&self) -> String {
        if self.file.is_empty() {
            return self.reason.clone();
        }
        format!(
            "template: {}:{}:{}: executing {:?} at <{}>: {}",
            self.file, self.line, self.col, self.template, self.context, self.reason
        )
    }
}

impl Templates {
    /// An empty set using `functions`.
    pub fn new(functions: Arc<Functions>) -> Self {
        Templates { trees: HashMap::new(), functions }
    }

    /// Parses `src` as template `name`, adding it and the templates it
    /// defines. A later definition replaces an earlier one unless it is empty.
    pub fn parse(&mut self, name: &str, src: &str) -> Result<(), TemplateError> {
        let trees = parse::parse(name, src, &self.functions.names).map_err(|e| TemplateError::Parse {
            name: name.to_string(),
            line: e.line,
            message: e.message,
        })?;
        for tree in trees {
            if parse::is_empty(&tree.root) && self.trees.contains_key(&tree.name) {
                continue;
            }
            self.trees.insert(tree.name.clone(), Arc::new(tree));
        }
        Ok(())
    }

    /// Executes template `name` with `data`.
    pub fn execute(&self, name: &str, data: &Value) -> Result<String, TemplateError> {
        if !self.trees.contains_key(name) {
            return Err(TemplateError::NoTemplate(name.to_string()));
        }
        Ok(Exec::new(self).execute_template(name, data)?)
    }

    /// Whether a template of that name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.trees.contains_key(name)
    }

    pub(crate) fn tree(&self, name: &str) -> Option<Arc<Tree>> {
        self.trees.get(name).cloned()
    }

    pub(crate) fn function(&self, name: &str) -> Option<Func> {
        self.functions.map.get(name).cloned()
    }

    pub(crate) fn function_names(&self) -> &HashSet<String> {
        &self.functions.names
    }
}
