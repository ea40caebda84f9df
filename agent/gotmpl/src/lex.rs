//! The lexer: template source to tokens, as Go's `text/template/parse`
//! scans it (`{{`/`}}` delimiters, `{{- `/` -}}` trim markers, comments,
//! string, raw string, character and number literals).

use super::parse::ParseError;

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// Plain text outside actions (already trimmed by trim markers).
    Text(String),
    /// `{{` (pos of the delimiter).
    Open,
    /// `}}`.
    Close,
    /// A run of spaces inside an action.
    Space,
    /// An identifier or keyword (`if`, `range`, `printf`...).
    Ident(String),
    /// `.Name` (the name without the dot).
    Field(String),
    /// `.` alone.
    Dot,
    /// `$name` or `$`.
    Var(String),
    /// A quoted string, unescaped.
    Str(String),
    /// A number as written.
    Number(String),
    /// A character constant's value.
    Char(char),
    /// `true` / `false`.
    Bool(bool),
    /// `nil`.
    Nil,
    /// `:=`.
    Declare,
    /// `=`.
    Assign,
    /// `,`.
    Comma,
    /// `|`.
    Pipe,
    /// `(`.
    LParen,
    /// `)`.
    RParen,
    /// End of input.
    Eof,
}

/// A token and its byte offset in the source.
#[derive(Debug, Clone)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Byte offset of its first character.
    pub pos: usize,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Splits `src` into tokens.
pub fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
    Lexer { src, bytes: src.as_bytes(), pos: 0, tokens: Vec::new(), paren_depth: 0 }.run()
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    tokens: Vec<Token>,
    paren_depth: usize,
}

impl Lexer<'_> {
    fn error(&self, pos: usize, message: impl Into<String>) -> ParseError {
        ParseError::at(self.src, pos, message)
    }

    fn push(&mut self, tok: Tok, pos: usize) {
        self.tokens.push(Token { tok, pos });
    }

    fn run(mut self) -> Result<Vec<Token>, ParseError> {
        let mut trim_next_text = false;
        loop {
            let rest = &self.src[self.pos..];
            let open = rest.find("{{");
            let text_end = open.map_or(self.src.len(), |i| self.pos + i);
            let mut text = &self.src[self.pos..text_end];
            if trim_next_text {
                text = text.trim_start_matches([' ', '\t', '\r', '\n']);
            }
            let left_trim = open.is_some() && {
                let after = &self.bytes[text_end + 2..];
                after.len() >= 2 && after[0] == b'-' && is_space(after[1])
            };
            if left_trim {
                text = text.trim_end_matches([' ', '\t', '\r', '\n']);
            }
            if !text.is_empty() {
                let text_pos = text.as_ptr() as usize - self.src.as_ptr() as usize;
                self.push(Tok::Text(text.to_string()), text_pos);
            }
            let Some(_) = open else {
                self.push(Tok::Eof, self.src.len());
                return Ok(self.tokens);
            };
            let open_pos = text_end;
            self.pos = open_pos + 2 + if left_trim { 2 } else { 0 };
            trim_next_text = self.action(open_pos)?;
        }
    }

    /// Whether the input at `pos` closes the action; returns (trim, length).
    fn at_close(&self, pos: usize) -> Option<(bool, usize)> {
        let rest = &self.bytes[pos..];
        if rest.starts_with(b"}}") {
            return Some((false, 2));
        }
        if rest.len() >= 4 && is_space(rest[0]) && rest[1] == b'-' && &rest[2..4] == b"}}" {
            return Some((true, 4));
        }
        None
    }

    /// Lexes one action after its opening delimiter; returns whether it
    /// ends with a trim marker.
    fn action(&mut self, open_pos: usize) -> Result<bool, ParseError> {
        // A comment fills the whole action.
        let after_spaces = self.pos;
        if self.src[after_spaces..].starts_with("/*") {
            let Some(end) = self.src[after_spaces + 2..].find("*/") else {
                return Err(self.error(open_pos, "unclosed comment"));
            };
            let close = after_spaces + 2 + end + 2;
            return match self.at_close(close) {
                Some((trim, len)) => {
                    self.pos = close + len;
                    Ok(trim)
                }
                None => Err(self.error(open_pos, "comment ends before closing delimiter")),
            };
        }
        self.push(Tok::Open, open_pos);
        loop {
            if let Some((trim, len)) = self.at_close(self.pos) {
                if self.paren_depth > 0 {
                    return Err(self.error(self.pos, "unclosed left paren"));
                }
                self.push(Tok::Close, self.pos);
                self.pos += len;
                return Ok(trim);
            }
            let start = self.pos;
            let Some(c) = self.src[self.pos..].chars().next() else {
                return Err(self.error(open_pos, "unclosed action"));
            };
            match c {
                ' ' | '\t' | '\r' | '\n' => {
                    while self.pos < self.bytes.len() && is_space(self.bytes[self.pos]) {
                        if self.paren_depth == 0 && self.at_close(self.pos).is_some_and(|(trim, _)| trim) {
                            break;
                        }
                        self.pos += 1;
                    }
                    if self.pos > start {
                        self.push(Tok::Space, start);
                    }
                }
                '=' => {
                    self.pos += 1;
                    self.push(Tok::Assign, start);
                }
                ':' => {
                    if self.bytes.get(self.pos + 1) != Some(&b'=') {
                        return Err(self.error(start, "expected :="));
                    }
                    self.pos += 2;
                    self.push(Tok::Declare, start);
                }
                '|' => {
                    self.pos += 1;
                    self.push(Tok::Pipe, start);
                }
                ',' => {
                    self.pos += 1;
                    self.push(Tok::Comma, start);
                }
                '(' => {
                    self.pos += 1;
                    self.paren_depth += 1;
                    self.push(Tok::LParen, start);
                }
                ')' => {
                    if self.paren_depth == 0 {
                        return Err(self.error(start, "unexpected right paren"));
                    }
                    self.pos += 1;
                    self.paren_depth -= 1;
                    self.push(Tok::RParen, start);
                }
                '"' => {
                    let value = self.quoted(start)?;
                    self.push(Tok::Str(value), start);
                }
                '`' => {
                    let Some(end) = self.src[start + 1..].find('`') else {
                        return Err(self.error(start, "unterminated raw quoted string"));
                    };
                    self.pos = start + 1 + end + 1;
                    self.push(Tok::Str(self.src[start + 1..start + 1 + end].to_string()), start);
                }
                '\'' => {
                    let value = self.char_constant(start)?;
                    self.push(Tok::Char(value), start);
                }
                '$' => {
                    self.pos += 1;
                    let name = self.word();
                    self.push(Tok::Var(format!("${name}")), start);
                    self.check_terminator()?;
                }
                '.' => {
                    let next = self.src[self.pos + 1..].chars().next();
                    if next.is_some_and(|c| c.is_ascii_digit()) {
                        let number = self.number(start)?;
                        self.push(Tok::Number(number), start);
                    } else if next.is_some_and(is_alnum) {
                        self.pos += 1;
                        let name = self.word();
                        self.push(Tok::Field(name), start);
                        self.check_terminator()?;
                    } else {
                        self.pos += 1;
                        self.push(Tok::Dot, start);
                    }
                }
                '+' | '-' | '0'..='9' => {
                    let number = self.number(start)?;
                    self.push(Tok::Number(number), start);
                }
                c if is_alnum(c) => {
                    let word = self.word();
                    let tok = match word.as_str() {
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        "nil" => Tok::Nil,
                        _ => Tok::Ident(word),
                    };
                    self.push(tok, start);
                    self.check_terminator()?;
                }
                other => {
                    return Err(self.error(start, format!("unexpected {other:?} in command")));
                }
            }
        }
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        for c in self.src[start..].chars() {
            if !is_alnum(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
        self.src[start..self.pos].to_string()
    }

    /// After an identifier, field or variable the next character must end it.
    fn check_terminator(&self) -> Result<(), ParseError> {
        let Some(c) = self.src[self.pos..].chars().next() else { return Ok(()) };
        if matches!(c, ' ' | '\t' | '\r' | '\n' | '.' | ',' | '|' | ':' | ')' | '(' | '=')
            || self.at_close(self.pos).is_some()
        {
            return Ok(());
        }
        Err(self.error(self.pos, format!("bad character {c:?}")))
    }

    /// A number literal (Go's `lexNumber`): one number, or a complex
    /// constant written as a number, a sign and an imaginary number.
    fn number(&mut self, start: usize) -> Result<String, ParseError> {
        let bad = |lexer: &Self, end: usize| {
            lexer.error(start, format!("bad number syntax: {:?}", &lexer.src[start..end.min(lexer.src.len())]))
        };
        let (len, ok) = crate::number::scan(&self.src[self.pos..]);
        if !ok {
            return Err(bad(self, self.pos + len));
        }
        self.pos += len;
        if matches!(self.bytes.get(self.pos), Some(b'+' | b'-')) {
            let (len, ok) = crate::number::scan(&self.src[self.pos..]);
            if !ok || !self.src[self.pos..self.pos + len].ends_with('i') {
                return Err(bad(self, self.pos + len));
            }
            self.pos += len;
        }
        Ok(self.src[start..self.pos].to_string())
    }

    fn quoted(&mut self, start: usize) -> Result<String, ParseError> {
        let mut out = String::new();
        let mut chars = self.src[start + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos = start + 1 + i + 1;
                    return Ok(out);
                }
                '\n' => break,
                '\\' => {
                    let Some((_, e)) = chars.next() else { break };
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '\\' => out.push('\\'),
                        '"' => out.push('"'),
                        '\'' => out.push('\''),
                        'a' => out.push('\u{7}'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'v' => out.push('\u{b}'),
                        '0'..='7' => {
                            let mut code = e.to_digit(8).unwrap_or(0);
                            for _ in 0..2 {
                                let Some((_, d)) = chars.next() else { break };
                                code = code * 8 + d.to_digit(8).unwrap_or(0);
                            }
                            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                        }
                        'x' | 'u' | 'U' => {
                            let len = match e {
                                'x' => 2,
                                'u' => 4,
                                _ => 8,
                            };
                            let hex: String = (0..len).filter_map(|_| chars.next().map(|(_, d)| d)).collect();
                            let code = u32::from_str_radix(&hex, 16)
                                .map_err(|_| self.error(start, "invalid syntax in quoted string"))?;
                            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                        }
                        _ => return Err(self.error(start, "invalid syntax in quoted string")),
                    }
                }
                c => out.push(c),
            }
        }
        Err(self.error(start, "unterminated quoted string"))
    }

    fn char_constant(&mut self, start: usize) -> Result<char, ParseError> {
        // Go's lexChar: up to the first quote not escaped, on one line.
        let rest = &self.src[start + 1..];
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, c)) if c != '\n' => {}
                    _ => return Err(self.error(start, "unterminated character constant")),
                },
                Some((_, '\n')) | None => return Err(self.error(start, "unterminated character constant")),
                Some((i, '\'')) => break i,
                Some(_) => {}
            }
        };
        let value = crate::number::unquote_char(&rest[..end]).map_err(|e| self.error(start, e))?;
        self.pos = start + 1 + end + 1;
        Ok(value)
    }
}
