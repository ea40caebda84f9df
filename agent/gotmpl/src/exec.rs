//! The executor: walks a parsed template with a data value and writes the
//! output, with Go's evaluation rules (fields and map keys, variables and
//! their scopes, `and`/`or` short-circuit, `range` over lists, sorted maps
//! and integers, `break`/`continue`) and Go's error positions.

use std::collections::HashMap;
use std::sync::Arc;

use super::parse::{Command, Literal, Node, Operand, Pipe, Span, Tree, line_col};
use super::value::{Value, write_display};
use super::{ExecError, Templates};

/// Deepest nesting of `template`/`include` calls; beyond it execution stops
/// with an error instead of exhausting the stack.
const MAX_DEPTH: usize = 1000;

/// Go's output for a missing value printed by an action (Helm removes it).
pub const NO_VALUE: &str = "<no value>";

enum Flow {
    Normal,
    Break,
    Continue,
}

/// One execution: the template set, variables and nesting depth. Functions
/// receive it so `include` and `tpl` can execute templates of the same set.
pub struct Exec<'a> {
    set: &'a Templates,
    /// Templates defined by `tpl` strings, visible while that `tpl` runs.
    overlay: Vec<HashMap<String, Arc<Tree>>>,
    vars: Vec<(String, Value)>,
    depth: usize,
    /// The tree being executed and the node being evaluated (for errors).
    tree: Option<Arc<Tree>>,
    template_name: String,
    span: Span,
    /// How often each template is currently being included (Helm's limit).
    pub(super) includes: HashMap<String, usize>,
}

type Result<T> = std::result::Result<T, ExecError>;

impl<'a> Exec<'a> {
    pub(super) fn new(set: &'a Templates) -> Self {
        Exec {
            set,
            overlay: Vec::new(),
            vars: Vec::new(),
            depth: 0,
            tree: None,
            template_name: String::new(),
            span: Span::default(),
            includes: HashMap::new(),
        }
    }

    /// The template set being executed.
    pub fn templates(&self) -> &'a Templates {
        self.set
    }

    /// The name of the template executing now (Helm's `.Template.Name` for `tpl`).
    pub fn current_template(&self) -> &str {
        &self.template_name
    }

    fn lookup(&self, name: &str) -> Option<Arc<Tree>> {
        self.overlay.iter().rev().find_map(|o| o.get(name).cloned()).or_else(|| self.set.tree(name))
    }

    /// Executes the template `name` with `data`, returning its output.
    pub fn execute_template(&mut self, name: &str, data: &Value) -> std::result::Result<String, ExecError> {
        let Some(tree) = self.lookup(name) else {
            return Err(ExecError::plain(format!("template: no template {name:?} associated with template \"gotpl\"")));
        };
        let mut out = String::new();
        self.run(tree, data, &mut out)?;
        Ok(out)
    }

    /// Parses `src` as a template named `name` that sees every template of
    /// the set, and executes it with `data` (Helm's `tpl`). Templates it
    /// defines are visible only during this call.
    pub fn execute_source(
        &mut self,
        name: &str,
        src: &str,
        data: &Value,
    ) -> std::result::Result<String, super::TemplateError> {
        let trees = super::parse::parse(name, src, self.set.function_names())
            .map_err(|e| super::TemplateError::Parse { name: name.to_string(), line: e.line, message: e.message })?;
        let mut defined = HashMap::new();
        let mut main = None;
        for (i, tree) in trees.into_iter().enumerate() {
            if i == 0 {
                main = Some(Arc::new(tree));
            } else {
                defined.insert(tree.name.clone(), Arc::new(tree));
            }
        }
        let Some(main) = main else { return Ok(String::new()) };
        self.overlay.push(defined);
        let mut out = String::new();
        let result = self.run(main, data, &mut out);
        self.overlay.pop();
        result.map_err(super::TemplateError::Exec)?;
        Ok(out)
    }

    fn run(&mut self, tree: Arc<Tree>, data: &Value, out: &mut String) -> Result<()> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!("exceeded maximum template depth ({MAX_DEPTH})")));
        }
        self.depth += 1;
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$".to_string(), data.clone())]);
        let saved_tree = self.tree.replace(tree.clone());
        let saved_name = std::mem::replace(&mut self.template_name, tree.name.clone());
        let result = self.walk(data, &tree.root, out);
        self.vars = saved_vars;
        self.tree = saved_tree;
        self.template_name = saved_name;
        self.depth -= 1;
        result.map(|_| ())
    }

    /// An error at the node being evaluated, in Go's format.
    fn error(&self, reason: impl Into<String>) -> ExecError {
        let Some(tree) = &self.tree else { return ExecError::plain(reason.into()) };
        let (line, col) = line_col(&tree.src, self.span.pos);
        let context = self.span.text(&tree.src).to_string();
        ExecError {
            template: self.template_name.clone(),
            file: tree.parse_name.clone(),
            line,
            col,
            context,
            reason: reason.into(),
        }
    }

    fn at(&mut self, span: &Span) {
        self.span = span.clone();
    }

    fn walk(&mut self, dot: &Value, nodes: &[Node], out: &mut String) -> Result<Flow> {
        for node in nodes {
            match node {
                Node::Text(text) => out.push_str(text),
                Node::Action(pipe) => {
                    let value = self.pipe(dot, pipe, true)?;
                    if pipe.vars.is_empty() {
                        print_value(out, &value);
                    }
                }
                Node::Branch { with, pipe, then, otherwise } => {
                    let mark = self.vars.len();
                    let value = self.pipe(dot, pipe, true)?;
                    let flow = if value.truthy() {
                        if *with { self.walk(&value, then, out)? } else { self.walk(dot, then, out)? }
                    } else {
                        self.walk(dot, otherwise, out)?
                    };
                    self.vars.truncate(mark);
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::Range { pipe, body, otherwise } => {
                    self.range(dot, pipe, body, otherwise, out)?;
                }
                Node::Template { span, name, pipe } => {
                    let data = match pipe {
                        Some(pipe) => self.pipe(dot, pipe, true)?,
                        None => Value::Nil,
                    };
                    self.at(span);
                    let Some(tree) = self.lookup(name) else {
                        let mut error = self.error(format!("template {name:?} not defined"));
                        // Go shows the action itself as the context.
                        error.context = format!("{{{{template {name:?}}}}}");
                        return Err(error);
                    };
                    self.run(tree, &data, out)?;
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }

    fn range(&mut self, dot: &Value, pipe: &Pipe, body: &[Node], otherwise: &[Node], out: &mut String) -> Result<()> {
        let mark = self.vars.len();
        let value = self.pipe(dot, pipe, false)?;
        let items: Vec<(Value, Value)> = match &value {
            Value::Nil => Vec::new(),
            Value::List(items, _) => items.iter().enumerate().map(|(i, v)| (Value::Int(i as i64), v.clone())).collect(),
            Value::Map(map) => map.borrow().iter().map(|(k, v)| (Value::str(k.as_str()), v.clone())).collect(),
            Value::Int(n) | Value::Int64(n) => (0..*n).map(|i| (Value::Int(i), Value::Int(i))).collect(),
            other => {
                self.at(&pipe.span);
                return Err(self.error(format!("range can't iterate over {}", super::value::display(other))));
            }
        };
        if items.is_empty() {
            self.walk(dot, otherwise, out)?;
            self.vars.truncate(mark);
            return Ok(());
        }
        for (key, item) in items {
            match pipe.vars.as_slice() {
                [] => {}
                [v] => self.set_var(v, item.clone(), pipe.assign),
                [k, v, ..] => {
                    self.set_var(k, key, pipe.assign);
                    self.set_var(v, item.clone(), pipe.assign);
                }
            }
            let iteration_mark = self.vars.len();
            let flow = self.walk(&item, body, out)?;
            self.vars.truncate(if pipe.assign { iteration_mark } else { mark });
            if matches!(flow, Flow::Break) {
                break;
            }
        }
        self.vars.truncate(mark);
        Ok(())
    }

    fn set_var(&mut self, name: &str, value: Value, assign: bool) {
        if assign {
            if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                slot.1 = value;
            }
        } else {
            self.vars.push((name.to_string(), value));
        }
    }

    fn var(&self, name: &str) -> Value {
        self.vars.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_default()
    }

    /// Evaluates a pipeline; `declare` says whether its variables are
    /// declared/assigned here (not for `range`, which sets them per element).
    fn pipe(&mut self, dot: &Value, pipe: &Pipe, declare: bool) -> Result<Value> {
        let mut value = None;
        for cmd in &pipe.cmds {
            value = Some(self.command(dot, cmd, value)?);
        }
        let value = value.unwrap_or_default();
        if declare {
            for name in &pipe.vars {
                self.set_var(name, value.clone(), pipe.assign);
            }
        }
        Ok(value)
    }

    fn command(&mut self, dot: &Value, cmd: &Command, last: Option<Value>) -> Result<Value> {
        let first = &cmd.args[0];
        let args = &cmd.args[1..];
        match first {
            Operand::Field(span, names) => {
                self.at(span);
                self.field_chain(dot, dot.clone(), names, args, last, true)
            }
            Operand::Variable(span, name, fields) => {
                let value = self.var(name);
                if fields.is_empty() {
                    self.at(span);
                    self.no_args(args, &last, name)?;
                    return Ok(value);
                }
                self.at(span);
                self.field_chain(dot, value, fields, args, last, false)
            }
            Operand::Pipe(span, pipe, fields) => {
                let mark = self.vars.len();
                let value = self.pipe(dot, pipe, true)?;
                self.vars.truncate(mark);
                self.at(span);
                if fields.is_empty() {
                    self.no_args(args, &last, "pipeline")?;
                    return Ok(value);
                }
                self.field_chain(dot, value, fields, args, last, false)
            }
            Operand::Function(_, name) => self.function(dot, &cmd.span, name, args, last),
            Operand::Nil(span) => {
                self.at(span);
                Err(self.error("nil is not a command"))
            }
            Operand::Dot(span) | Operand::Literal(span, _) => {
                self.at(span);
                let value = self.operand(dot, first)?;
                if !args.is_empty() || last.is_some() {
                    return Err(
                        self.error(format!("can't give argument to non-function {}", super::value::display(&value)))
                    );
                }
                Ok(value)
            }
        }
    }

    fn no_args(&self, args: &[Operand], last: &Option<Value>, what: &str) -> Result<()> {
        if !args.is_empty() || last.is_some() {
            return Err(self.error(format!("can't give argument to non-function {what}")));
        }
        Ok(())
    }

    /// Evaluates an operand used as an argument.
    fn operand(&mut self, dot: &Value, operand: &Operand) -> Result<Value> {
        match operand {
            Operand::Dot(_) => Ok(dot.clone()),
            Operand::Nil(_) => Ok(Value::Nil),
            Operand::Literal(span, literal) => Ok(match literal {
                Literal::Str(s) => Value::Str(s.clone()),
                Literal::Bool(b) => Value::Bool(*b),
                Literal::Int(i) => Value::Int(*i),
                Literal::Float(f) => Value::Float(*f),
                Literal::Complex(re, im) => Value::Object(std::rc::Rc::new(crate::value::Complex(*re, *im))),
                Literal::Overflow(text) => {
                    self.at(span);
                    return Err(self.error(format!("{text} overflows int")));
                }
            }),
            Operand::Field(span, names) => {
                self.at(span);
                self.field_chain(dot, dot.clone(), names, &[], None, true)
            }
            Operand::Variable(span, name, fields) => {
                let value = self.var(name);
                if fields.is_empty() {
                    return Ok(value);
                }
                self.at(span);
                self.field_chain(dot, value, fields, &[], None, false)
            }
            Operand::Pipe(span, pipe, fields) => {
                let mark = self.vars.len();
                let value = self.pipe(dot, pipe, true)?;
                self.vars.truncate(mark);
                if fields.is_empty() {
                    return Ok(value);
                }
                self.at(span);
                self.field_chain(dot, value, fields, &[], None, false)
            }
            Operand::Function(span, name) => self.function(dot, span, name, &[], None),
        }
    }

    /// Evaluates `.a.b.c` on `receiver`. Go tells a nil that came out of a
    /// map or list (a nil interface: a field of it is an error) from the
    /// "no value" a pipeline or variable yields (a field of it is no value);
    /// `nil_is_error` says which the receiver is. Values looked up along the
    /// chain are always the former.
    fn field_chain(
        &mut self,
        dot: &Value,
        receiver: Value,
        names: &[String],
        args: &[Operand],
        last: Option<Value>,
        nil_is_error: bool,
    ) -> Result<Value> {
        let span = self.span.clone();
        let mut value = receiver;
        let n = names.len();
        for (i, name) in names.iter().enumerate() {
            if value.is_nil() && i == 0 && !nil_is_error {
                return Ok(Value::Nil);
            }
            if i + 1 < n {
                value = self.field(dot, &value, name, &[], None, &span)?;
            } else {
                return self.field(dot, &value, name, args, last, &span);
            }
        }
        Ok(value)
    }

    fn field(
        &mut self,
        dot: &Value,
        receiver: &Value,
        name: &str,
        args: &[Operand],
        last: Option<Value>,
        span: &Span,
    ) -> Result<Value> {
        let has_args = !args.is_empty() || last.is_some();
        match receiver {
            Value::Map(map) => {
                if has_args {
                    self.at(span);
                    return Err(self.error(format!("{name} is not a method but has arguments")));
                }
                Ok(map.borrow().get(name).cloned().unwrap_or_default())
            }
            Value::Object(object) => {
                if has_args {
                    let mut values = Vec::with_capacity(args.len() + 1);
                    for arg in args {
                        values.push(self.operand(dot, arg)?);
                    }
                    values.extend(last);
                    self.at(span);
                    return match object.call(name, &values) {
                        Some(result) => result.map_err(|reason| self.error(format!("error calling {name}: {reason}"))),
                        None => Err(self.error(format!("{name} has arguments but cannot take any"))),
                    };
                }
                match object.field(name) {
                    Some(result) => {
                        self.at(span);
                        result.map_err(|reason| self.error(format!("error calling {name}: {reason}")))
                    }
                    None => {
                        self.at(span);
                        Err(self.error(format!("can't evaluate field {name} in type {}", object.type_name())))
                    }
                }
            }
            Value::Nil => {
                self.at(span);
                Err(self.error(format!("nil pointer evaluating interface {{}}.{name}")))
            }
            _ => {
                self.at(span);
                Err(self.error(format!("can't evaluate field {name} in type interface {{}}")))
            }
        }
    }

    /// Calls function `name`; errors are reported at `span`, the command
    /// (or the bare identifier when it is an argument), as Go does.
    fn function(
        &mut self,
        dot: &Value,
        span: &Span,
        name: &str,
        args: &[Operand],
        last: Option<Value>,
    ) -> Result<Value> {
        // `and` and `or` stop at the first operand that decides the result.
        if name == "and" || name == "or" {
            let total = args.len() + usize::from(last.is_some());
            if total == 0 {
                self.at(span);
                return Err(self.error(format!("wrong number of args for {name}: want at least 1 got 0")));
            }
            let mut value = Value::Nil;
            for arg in args {
                value = self.operand(dot, arg)?;
                if value.truthy() == (name == "or") {
                    return Ok(value);
                }
            }
            if let Some(last) = last {
                value = last;
            }
            return Ok(value);
        }
        let Some(func) = self.set.function(name) else {
            self.at(span);
            return Err(self.error(format!("{name:?} is not a defined function")));
        };
        let mut values = Vec::with_capacity(args.len() + 1);
        for arg in args {
            values.push(self.operand(dot, arg)?);
        }
        values.extend(last);
        let result = func(self, values);
        self.at(span);
        result.map_err(|reason| match super::funcs::split_arg_error(&reason) {
            Some((index, message)) => {
                if let Some(arg) = args.get(index) {
                    self.at(arg.span());
                }
                self.error(message.to_string())
            }
            None => self.error(format!("error calling {name}: {reason}")),
        })
    }
}

/// How an action prints a value: Go's `fmt.Fprint`, and `<no value>` for a
/// missing one.
fn print_value(out: &mut String, value: &Value) {
    match value {
        Value::Nil => out.push_str(NO_VALUE),
        other => write_display(out, other),
    }
}
