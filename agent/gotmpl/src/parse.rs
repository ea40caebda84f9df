//! The parser: tokens to a tree of nodes, with Go's grammar and checks
//! (functions must exist, variables must be declared, `break`/`continue`
//! only inside `range`, `define` only at the top level).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::lex::{Tok, Token, lex};
use crate::number::Number;

/// A syntax error: the template's line and Go's message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line of the offending token.
    pub line: usize,
    /// Go's message (`unexpected {{end}}`, `function "x" not defined`...).
    pub message: String,
}

impl ParseError {
    /// An error at byte `pos` of `src`.
    pub fn at(src: &str, pos: usize, message: impl Into<String>) -> Self {
        ParseError { line: line_col(src, pos).0, message: message.into() }
    }
}

/// 1-based line and 0-based byte column of `pos`, as Go reports them.
pub fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let before = &src[..pos.min(src.len())];
    let line = 1 + before.matches('\n').count();
    let col = match before.rfind('\n') {
        Some(nl) => pos - nl - 1,
        None => pos,
    };
    (line, col)
}

/// One parsed template: its name, source (for error positions) and body.
#[derive(Debug)]
pub struct Tree {
    /// The template's name.
    pub name: String,
    /// The name of the file it was parsed from (Go's `ParseName`).
    pub parse_name: String,
    /// The source text.
    pub src: Arc<str>,
    /// The body.
    pub root: Vec<Node>,
}

/// A node of a template body.
#[derive(Debug)]
pub enum Node {
    /// Literal text.
    Text(String),
    /// `{{pipeline}}`: prints the value unless the pipeline declares variables.
    Action(Pipe),
    /// `{{if}}` and `{{with}}` (`with` sets dot).
    Branch {
        /// `if` or `with`.
        with: bool,
        /// The condition.
        pipe: Pipe,
        /// The body when true.
        then: Vec<Node>,
        /// The `else` body.
        otherwise: Vec<Node>,
    },
    /// `{{range}}`.
    Range {
        /// What is ranged over (with the optional `$i, $v :=`).
        pipe: Pipe,
        /// The body per element.
        body: Vec<Node>,
        /// The body when there are no elements.
        otherwise: Vec<Node>,
    },
    /// `{{template "name" pipeline}}`.
    Template {
        /// Position of the action.
        span: Span,
        /// The template invoked.
        name: String,
        /// Its data (dot if absent: no, nil; Go passes nil when absent).
        pipe: Option<Pipe>,
    },
    /// `{{break}}`.
    Break,
    /// `{{continue}}`.
    Continue,
}

/// Where a node is in the source: the byte offset errors report (Go's
/// node position) and the source range shown as error context.
#[derive(Debug, Clone, Default)]
pub struct Span {
    /// Byte offset reported in errors.
    pub pos: usize,
    /// Start of the node's text.
    pub start: usize,
    /// Byte offset just past the node's text.
    pub end: usize,
}

impl Span {
    fn new(start: usize, end: usize) -> Self {
        Span { pos: start, start, end }
    }

    /// The node's source text, as shown in `executing ... at <...>`.
    pub fn text<'s>(&self, src: &'s str) -> &'s str {
        src.get(self.start..self.end).unwrap_or_default().trim_end()
    }
}

/// A pipeline: optional variable declaration and a chain of commands.
#[derive(Debug)]
pub struct Pipe {
    /// Position of the pipeline.
    pub span: Span,
    /// Variables declared (`:=`) or assigned (`=`).
    pub vars: Vec<String>,
    /// Whether `vars` are assigned rather than declared.
    pub assign: bool,
    /// The commands; each one's result is the last argument of the next.
    pub cmds: Vec<Command>,
}

/// A command: an operand followed by arguments.
#[derive(Debug)]
pub struct Command {
    /// Position of the command.
    pub span: Span,
    /// Operands; the first one is the function or value.
    pub args: Vec<Operand>,
}

/// An operand of a command.
#[derive(Debug)]
pub enum Operand {
    /// `.` — dot.
    Dot(Span),
    /// `nil`.
    Nil(Span),
    /// A literal.
    Literal(Span, Literal),
    /// `.A.B`: fields of dot.
    Field(Span, Vec<String>),
    /// `$x.A.B`.
    Variable(Span, String, Vec<String>),
    /// A function name.
    Function(Span, String),
    /// `(pipeline)` or `(pipeline).A.B`.
    Pipe(Span, Box<Pipe>, Vec<String>),
}

/// A literal constant.
#[derive(Debug, Clone)]
pub enum Literal {
    /// A string.
    Str(Arc<str>),
    /// `true`/`false`.
    Bool(bool),
    /// An integer constant (typed `int` when used).
    Int(i64),
    /// A float constant.
    Float(f64),
    /// A complex constant (real, imaginary).
    Complex(f64, f64),
    /// An integer constant too large for `int`: an error when evaluated.
    Overflow(Arc<str>),
}

impl Operand {
    /// The operand's position.
    pub fn span(&self) -> &Span {
        match self {
            Operand::Dot(s)
            | Operand::Nil(s)
            | Operand::Literal(s, _)
            | Operand::Field(s, _)
            | Operand::Variable(s, _, _)
            | Operand::Function(s, _)
            | Operand::Pipe(s, _, _) => s,
        }
    }
}

/// Parses `src` (named `name`) into its main tree and the trees it
/// `define`s. `functions` says which function names exist.
pub fn parse(name: &str, src: &str, functions: &HashSet<String>) -> Result<Vec<Tree>, ParseError> {
    let src: Arc<str> = Arc::from(src);
    let tokens = lex(&src)?;
    let mut parser =
        Parser { src: &src, tokens, at: 0, functions, vars: vec!["$".into()], range_depth: 0, blocks: Vec::new() };
    let mut trees = Vec::new();
    let mut root = Vec::new();
    loop {
        if parser.peek() == &Tok::Eof {
            break;
        }
        if parser.is_action_keyword("define") {
            trees.push(parser.define(name, &src)?);
            continue;
        }
        match parser.item()? {
            Item::Node(node) => root.push(node),
            Item::End(pos, word) => return Err(ParseError::at(&src, pos, format!("unexpected {{{{{word}}}}}"))),
        }
    }
    trees.insert(0, Tree { name: name.to_string(), parse_name: name.to_string(), src: src.clone(), root });
    for mut block in parser.blocks {
        block.parse_name = name.to_string();
        trees.push(block);
    }
    Ok(trees)
}

/// Whether a body has nothing but spaces (an empty `define` does not replace
/// an existing one, as in Go).
pub fn is_empty(nodes: &[Node]) -> bool {
    nodes.iter().all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
}

enum Item {
    Node(Node),
    /// `{{end}}` or `{{else ...}}` closing a block; the position and word.
    End(usize, &'static str),
}

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    at: usize,
    functions: &'a HashSet<String>,
    vars: Vec<String>,
    range_depth: usize,
    /// Templates defined by `block` actions.
    blocks: Vec<Tree>,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.tokens[self.at.min(self.tokens.len() - 1)].tok
    }

    fn pos(&self) -> usize {
        self.tokens[self.at.min(self.tokens.len() - 1)].pos
    }

    fn next(&mut self) -> Token {
        let token = self.tokens[self.at.min(self.tokens.len() - 1)].clone();
        self.at += 1;
        token
    }

    fn skip_space(&mut self) {
        while self.peek() == &Tok::Space {
            self.at += 1;
        }
    }

    fn next_non_space(&mut self) -> Token {
        self.skip_space();
        self.next()
    }

    fn peek_non_space(&mut self) -> &Tok {
        self.skip_space();
        self.peek()
    }

    fn error(&self, pos: usize, message: impl Into<String>) -> ParseError {
        ParseError::at(self.src, pos, message)
    }

    /// Whether the next tokens are `{{ keyword`.
    fn is_action_keyword(&self, keyword: &str) -> bool {
        if self.peek() != &Tok::Open {
            return false;
        }
        let mut i = self.at + 1;
        while self.tokens.get(i).is_some_and(|t| t.tok == Tok::Space) {
            i += 1;
        }
        matches!(self.tokens.get(i), Some(Token { tok: Tok::Ident(w), .. }) if w == keyword)
    }

    fn expect_close(&mut self, context: &str) -> Result<(), ParseError> {
        let token = self.next_non_space();
        match token.tok {
            Tok::Close => Ok(()),
            other => Err(self.error(token.pos, format!("unexpected {} in {context}", describe(&other)))),
        }
    }

    fn define(&mut self, file: &str, src: &Arc<str>) -> Result<Tree, ParseError> {
        self.next(); // {{
        self.next_non_space(); // define
        let token = self.next_non_space();
        let Tok::Str(name) = token.tok else {
            return Err(self.error(token.pos, "unexpected token in define clause: name must be a string"));
        };
        self.expect_close("define clause")?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (body, end) = self.list()?;
        self.vars = saved;
        if end.1 != "end" {
            return Err(self.error(end.0, format!("unexpected {{{{{}}}}} in define", end.1)));
        }
        Ok(Tree { name, parse_name: file.to_string(), src: src.clone(), root: body })
    }

    /// Items up to `{{end}}` or `{{else}}`, which is returned (not consumed
    /// past its keyword for `else`).
    fn list(&mut self) -> Result<(Vec<Node>, (usize, &'static str)), ParseError> {
        let mut nodes = Vec::new();
        loop {
            if self.peek() == &Tok::Eof {
                return Err(self.error(self.pos(), "unexpected EOF"));
            }
            match self.item()? {
                Item::Node(node) => nodes.push(node),
                Item::End(pos, word) => return Ok((nodes, (pos, word))),
            }
        }
    }

    fn item(&mut self) -> Result<Item, ParseError> {
        let token = self.next();
        match token.tok {
            Tok::Text(text) => Ok(Item::Node(Node::Text(text))),
            Tok::Open => self.action(),
            other => Err(self.error(token.pos, format!("unexpected {}", describe(&other)))),
        }
    }

    fn action(&mut self) -> Result<Item, ParseError> {
        let keyword = match self.peek_non_space().clone() {
            Tok::Ident(word) => word,
            _ => {
                let pipe = self.pipeline("command")?;
                return Ok(Item::Node(Node::Action(pipe)));
            }
        };
        let pos = self.pos();
        match keyword.as_str() {
            "end" => {
                self.next();
                self.expect_close("end")?;
                Ok(Item::End(pos, "end"))
            }
            "else" => {
                self.next();
                // `else if`/`else with` keep the token stream at the keyword.
                if matches!(self.peek_non_space(), Tok::Ident(w) if w == "if" || w == "with") {
                    return Ok(Item::End(pos, "else-chain"));
                }
                self.expect_close("else")?;
                Ok(Item::End(pos, "else"))
            }
            "if" | "with" => {
                self.next();
                self.branch(keyword == "with").map(Item::Node)
            }
            "range" => {
                self.next();
                self.range().map(Item::Node)
            }
            "template" | "block" => {
                self.next();
                self.template(keyword == "block", pos).map(Item::Node)
            }
            "break" | "continue" => {
                self.next();
                if self.range_depth == 0 {
                    return Err(self.error(pos, format!("{{{{{keyword}}}}} outside {{{{range}}}}")));
                }
                self.expect_close(&keyword)?;
                Ok(Item::Node(if keyword == "break" { Node::Break } else { Node::Continue }))
            }
            "define" => Err(self.error(pos, "unexpected <define> in command")),
            _ => {
                let pipe = self.pipeline("command")?;
                Ok(Item::Node(Node::Action(pipe)))
            }
        }
    }

    fn branch(&mut self, with: bool) -> Result<Node, ParseError> {
        let context = if with { "with" } else { "if" };
        let mark = self.vars.len();
        let pipe = self.pipeline(context)?;
        let (then, end) = self.list()?;
        let otherwise = match end.1 {
            "end" => Vec::new(),
            "else" => self.else_list()?,
            _ => {
                // else if / else with: the chained branch ends with the same {{end}}.
                let chained_with = matches!(self.peek_non_space(), Tok::Ident(w) if w == "with");
                self.next();
                vec![self.branch(chained_with)?]
            }
        };
        self.vars.truncate(mark);
        Ok(Node::Branch { with, pipe, then, otherwise })
    }

    /// The body after `{{else}}`, up to its `{{end}}`.
    fn else_list(&mut self) -> Result<Vec<Node>, ParseError> {
        let (otherwise, end) = self.list()?;
        if end.1 != "end" {
            return Err(self.error(end.0, format!("expected end; found {{{{{}}}}}", end.1)));
        }
        Ok(otherwise)
    }

    fn range(&mut self) -> Result<Node, ParseError> {
        let mark = self.vars.len();
        let pipe = self.pipeline("range")?;
        self.range_depth += 1;
        let (body, end) = self.list()?;
        self.range_depth -= 1;
        let otherwise = match end.1 {
            "end" => Vec::new(),
            "else" => self.else_list()?,
            _ => return Err(self.error(end.0, "unexpected {{else if}} in range")),
        };
        self.vars.truncate(mark);
        Ok(Node::Range { pipe, body, otherwise })
    }

    fn template(&mut self, block: bool, pos: usize) -> Result<Node, ParseError> {
        let context = if block { "block clause" } else { "template clause" };
        let token = self.next_non_space();
        let name_pos = token.pos;
        let Tok::Str(name) = token.tok else {
            return Err(self.error(token.pos, format!("unexpected {} in {context}", describe(&token.tok))));
        };
        let pipe = if self.peek_non_space() == &Tok::Close {
            self.next();
            None
        } else {
            Some(self.pipeline(context)?)
        };
        if block {
            // A block defines its body as a template and invokes it.
            let saved = std::mem::replace(&mut self.vars, vec!["$".into()]);
            let (body, end) = self.list()?;
            self.vars = saved;
            if end.1 != "end" {
                return Err(self.error(end.0, format!("unexpected {{{{{}}}}} in block", end.1)));
            }
            self.blocks.push(Tree {
                name: name.clone(),
                parse_name: String::new(),
                src: Arc::from(self.src),
                root: body,
            });
        }
        // Go reports a template call at its name.
        Ok(Node::Template { span: Span { pos: name_pos, start: pos, end: name_pos }, name, pipe })
    }

    /// A pipeline up to the closing `}}` (consumed).
    fn pipeline(&mut self, context: &str) -> Result<Pipe, ParseError> {
        self.skip_space();
        let start = self.pos();
        let mut vars = Vec::new();
        let mut assign = false;
        // Variable declarations: `$x :=`, `$x =`, `$i, $v :=`.
        if let Tok::Var(_) = self.peek() {
            let save = self.at;
            let mut names = Vec::new();
            while let Tok::Var(name) = self.peek().clone() {
                self.next();
                names.push(name);
                match self.peek_non_space() {
                    Tok::Comma if context == "range" && names.len() < 2 => {
                        self.next();
                        self.skip_space();
                    }
                    _ => break,
                }
            }
            match self.peek_non_space() {
                Tok::Declare => {
                    self.next();
                    vars = names;
                }
                Tok::Assign => {
                    self.next();
                    for name in &names {
                        if !self.vars.contains(name) {
                            return Err(self.error(start, format!("undefined variable {name:?}")));
                        }
                    }
                    vars = names;
                    assign = true;
                }
                _ => self.at = save,
            }
        }
        let mut cmds = Vec::new();
        loop {
            match self.peek_non_space() {
                Tok::Close => {
                    let end = self.pos();
                    self.next();
                    if cmds.is_empty() {
                        return Err(self.error(start, format!("missing value for {context}")));
                    }
                    if !assign {
                        self.vars.extend(vars.iter().cloned());
                    }
                    return Ok(Pipe { span: Span::new(start, end), vars, assign, cmds });
                }
                Tok::Pipe if !cmds.is_empty() => {
                    self.next();
                    continue;
                }
                _ => {}
            }
            cmds.push(self.command(false)?);
        }
    }

    /// A parenthesised pipeline after its `(`, up to the `)` (consumed).
    fn sub_pipeline(&mut self, open: usize) -> Result<Pipe, ParseError> {
        let mut cmds = Vec::new();
        loop {
            match self.peek_non_space() {
                Tok::RParen => {
                    let end = self.pos() + 1;
                    self.next();
                    if cmds.is_empty() {
                        return Err(self.error(open, "missing value for parenthesized pipeline"));
                    }
                    return Ok(Pipe { span: Span::new(open, end), vars: Vec::new(), assign: false, cmds });
                }
                Tok::Pipe if !cmds.is_empty() => {
                    self.next();
                }
                Tok::Close | Tok::Eof => return Err(self.error(open, "unclosed left paren")),
                _ => {}
            }
            cmds.push(self.command(true)?);
        }
    }

    fn command(&mut self, in_parens: bool) -> Result<Command, ParseError> {
        self.skip_space();
        let start = self.pos();
        let mut args = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                Tok::Close | Tok::Pipe => break,
                Tok::RParen if in_parens => break,
                Tok::Eof => return Err(self.error(start, "unclosed action")),
                _ => {}
            }
            let operand = self.operand()?;
            args.push(operand);
            match self.peek() {
                Tok::Space | Tok::Close | Tok::Pipe | Tok::RParen => {}
                other => {
                    let pos = self.pos();
                    return Err(self.error(pos, format!("missing space? unexpected {}", describe(&other.clone()))));
                }
            }
        }
        if args.is_empty() {
            return Err(self.error(start, "empty command"));
        }
        let end = args.last().map_or(start, |a| a.span().end);
        Ok(Command { span: Span::new(start, end), args })
    }

    fn operand(&mut self) -> Result<Operand, ParseError> {
        let token = self.next();
        let pos = token.pos;
        let span = |end: usize| Span::new(pos, end);
        let term = match token.tok {
            Tok::Dot => Operand::Dot(span(pos + 1)),
            Tok::Nil => Operand::Nil(span(pos + 3)),
            Tok::Bool(b) => Operand::Literal(span(self.pos()), Literal::Bool(b)),
            Tok::Str(s) => Operand::Literal(span(self.pos()), Literal::Str(Arc::from(s))),
            Tok::Char(c) => Operand::Literal(span(self.pos()), Literal::Int(c as i64)),
            Tok::Number(text) => {
                let literal = match crate::number::parse(&text).map_err(|e| self.error(pos, e))? {
                    Number::Int(i) => Literal::Int(i),
                    Number::Float(f) => Literal::Float(f),
                    Number::Complex(re, im) => Literal::Complex(re, im),
                    Number::Overflow => Literal::Overflow(Arc::from(text)),
                };
                Operand::Literal(span(self.pos()), literal)
            }
            Tok::Field(name) => Operand::Field(span(self.pos()), vec![name]),
            Tok::Var(name) => {
                if !self.vars.contains(&name) {
                    return Err(self.error(pos, format!("undefined variable {name:?}")));
                }
                Operand::Variable(span(self.pos()), name, Vec::new())
            }
            Tok::Ident(name) => {
                if !self.functions.contains(&name) {
                    return Err(self.error(pos, format!("function {name:?} not defined")));
                }
                Operand::Function(span(self.pos()), name)
            }
            Tok::LParen => {
                let pipe = self.sub_pipeline(pos)?;
                Operand::Pipe(span(self.pos()), Box::new(pipe), Vec::new())
            }
            other => return Err(self.error(pos, format!("unexpected {} in operand", describe(&other)))),
        };
        // Field chains after a term: `.A.B`, `$x.A`, `(pipe).A`.
        let mut chain = Vec::new();
        let mut chain_pos = None;
        while let Tok::Field(name) = self.peek().clone() {
            chain_pos.get_or_insert(self.pos());
            self.next();
            chain.push(name);
        }
        if chain.is_empty() {
            return Ok(term);
        }
        let end = self.pos();
        // Go reports a chain at the position of its second element.
        let chain_pos = chain_pos.unwrap_or(pos);
        let whole = Span::new(pos, end);
        Ok(match term {
            Operand::Field(_, mut names) => {
                names.extend(chain);
                Operand::Field(Span { pos: chain_pos, start: pos, end }, names)
            }
            Operand::Variable(_, name, _) => Operand::Variable(whole, name, chain),
            Operand::Pipe(_, pipe, _) => Operand::Pipe(whole, pipe, chain),
            Operand::Dot(_) | Operand::Nil(_) | Operand::Literal(..) | Operand::Function(..) => {
                return Err(self.error(chain_pos, "unexpected . after term"));
            }
        })
    }
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Text(_) => "text".into(),
        Tok::Open => "\"{{\"".into(),
        Tok::Close => "\"}}\"".into(),
        Tok::Space => "space".into(),
        Tok::Ident(w) => format!("<{w}>"),
        Tok::Field(f) => format!("<.{f}>"),
        Tok::Dot => "<.>".into(),
        Tok::Var(v) => format!("<{v}>"),
        Tok::Str(s) => format!("{s:?}"),
        Tok::Number(n) => format!("<{n}>"),
        Tok::Char(c) => format!("{c:?}"),
        Tok::Bool(b) => format!("<{b}>"),
        Tok::Nil => "<nil>".into(),
        Tok::Declare => "\":=\"".into(),
        Tok::Assign => "\"=\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::Pipe => "\"|\"".into(),
        Tok::LParen => "\"(\"".into(),
        Tok::RParen => "\")\"".into(),
        Tok::Eof => "EOF".into(),
    }
}

/// Names declared by `define`/`block` in a parse, for quick lookup.
pub type TreeMap = HashMap<String, Arc<Tree>>;
