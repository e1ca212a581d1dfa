//! Splits AWS IoT SQL text into tokens, each with the line and column it starts at.

use crate::error::SqlError;

/// One token.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// A name or keyword, as written.
    Ident(String),
    /// `@name`, without the `@`.
    Var(String),
    /// A single- or double-quoted string, unescaped.
    Str(String),
    /// A topic filter written without quotes after the statement's FROM (`FROM topic/#`, as
    /// some of AWS's examples do).
    Topic(String),
    /// A whole-number literal that fits an `i64`.
    Int(i64),
    /// Any other numeric literal.
    Dec(f64),
    Comma,
    Dot,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Colon,
    Star,
    Plus,
    Minus,
    Slash,
    Percent,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Var(s) => format!("'@{s}'"),
            Tok::Str(s) => format!("string '{s}'"),
            Tok::Topic(s) => format!("'{s}'"),
            Tok::Int(i) => format!("'{i}'"),
            Tok::Dec(d) => format!("'{d}'"),
            Tok::Eof => "end of input".to_owned(),
            other => format!("'{}'", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::Comma => ",",
            Tok::Dot => ".",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::Colon => ":",
            Tok::Star => "*",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Slash => "/",
            Tok::Percent => "%",
            Tok::Eq => "=",
            Tok::Ne => "<>",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            _ => "",
        }
    }
}

/// A token and where it starts.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) line: usize,
    pub(crate) column: usize,
}

/// Tokenises `text`, whose first character is at `line`:`column` (templates start mid-line).
pub(crate) fn tokenize(text: &str, line: usize, column: usize) -> Result<Vec<Token>, SqlError> {
    let chars: Vec<char> = text.chars().collect();
    let mut lexer = Lexer {
        chars,
        pos: 0,
        line,
        column,
    };
    let mut tokens: Vec<Token> = Vec::new();
    // Parentheses open around the current token: only the statement's own FROM (depth 0) names
    // a topic; a nested query's FROM names an expression.
    let mut depth = 0usize;
    loop {
        lexer.skip_whitespace();
        let (line, column) = (lexer.line, lexer.column);
        let after_from = depth == 0
            && matches!(tokens.last(), Some(Token { tok: Tok::Ident(word), .. }) if word.eq_ignore_ascii_case("from"));
        let tok = match lexer.peek() {
            Some(c) if after_from && c != '\'' && c != '"' => Tok::Topic(lexer.bare_topic()),
            _ => lexer.next_token()?,
        };
        match tok {
            Tok::LParen => depth += 1,
            Tok::RParen => depth = depth.saturating_sub(1),
            _ => {}
        }
        let done = tok == Tok::Eof;
        tokens.push(Token { tok, line, column });
        if done {
            return Ok(tokens);
        }
    }
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    column: usize,
}

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn error(&self, line: usize, column: usize, message: impl Into<String>) -> SqlError {
        SqlError {
            line,
            column,
            message: message.into(),
        }
    }

    fn next_token(&mut self) -> Result<Tok, SqlError> {
        let (line, column) = (self.line, self.column);
        let Some(c) = self.bump() else {
            return Ok(Tok::Eof);
        };
        Ok(match c {
            ',' => Tok::Comma,
            '.' => Tok::Dot,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            '{' => Tok::LBrace,
            '}' => Tok::RBrace,
            ':' => Tok::Colon,
            '*' => Tok::Star,
            '+' => Tok::Plus,
            '-' => Tok::Minus,
            '/' => Tok::Slash,
            '%' => Tok::Percent,
            '=' => Tok::Eq,
            '!' if self.peek() == Some('=') => {
                self.bump();
                Tok::Ne
            }
            '<' => match self.peek() {
                Some('=') => {
                    self.bump();
                    Tok::Le
                }
                Some('>') => {
                    self.bump();
                    Tok::Ne
                }
                _ => Tok::Lt,
            },
            '>' if self.peek() == Some('=') => {
                self.bump();
                Tok::Ge
            }
            '>' => Tok::Gt,
            '\'' | '"' => Tok::Str(self.string(c, line, column)?),
            '@' => {
                let name = self.word();
                if name.is_empty() {
                    return Err(self.error(line, column, "Expected a variable name after '@'"));
                }
                Tok::Var(name)
            }
            c if c.is_ascii_digit() => self.number(c, line, column)?,
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut name = String::from(c);
                name.push_str(&self.word());
                Tok::Ident(name)
            }
            other => {
                return Err(self.error(line, column, format!("Unexpected character '{other}'")));
            }
        })
    }

    /// An unquoted topic filter: everything up to the next whitespace.
    fn bare_topic(&mut self) -> String {
        let mut topic = String::new();
        while let Some(c) = self.peek().filter(|c| !c.is_whitespace()) {
            topic.push(c);
            self.bump();
        }
        topic
    }

    fn word(&mut self) -> String {
        let mut word = String::new();
        while let Some(c) = self
            .peek()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            word.push(c);
            self.bump();
        }
        word
    }

    /// A quoted string. The quote is escaped by doubling it (SQL) or with a backslash; `\n`,
    /// `\t`, `\r`, `\\` and `\uXXXX` are decoded, and any other backslash is kept as written so
    /// regular expressions such as `'\d+'` need no double escaping.
    fn string(&mut self, quote: char, line: usize, column: usize) -> Result<String, SqlError> {
        let mut out = String::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(self.error(
                    line,
                    column,
                    format!("Expected a closing {quote} for this string"),
                ));
            };
            if c == quote {
                if self.peek() == Some(quote) {
                    self.bump();
                    out.push(quote);
                    continue;
                }
                return Ok(out);
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            match self.peek() {
                Some(q @ ('\'' | '"' | '\\' | '/')) => {
                    self.bump();
                    out.push(q);
                }
                Some('n') => {
                    self.bump();
                    out.push('\n');
                }
                Some('t') => {
                    self.bump();
                    out.push('\t');
                }
                Some('r') => {
                    self.bump();
                    out.push('\r');
                }
                Some('u') => {
                    let hex: String = (1..=4).filter_map(|i| self.peek_at(i)).collect();
                    match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                        Some(decoded) if hex.len() == 4 => {
                            for _ in 0..5 {
                                self.bump();
                            }
                            out.push(decoded);
                        }
                        _ => out.push('\\'),
                    }
                }
                _ => out.push('\\'),
            }
        }
    }

    fn number(&mut self, first: char, line: usize, column: usize) -> Result<Tok, SqlError> {
        let mut text = String::from(first);
        let mut decimal = false;
        while let Some(c) = self.peek().filter(char::is_ascii_digit) {
            text.push(c);
            self.bump();
        }
        if self.peek() == Some('.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            decimal = true;
            text.push('.');
            self.bump();
            while let Some(c) = self.peek().filter(char::is_ascii_digit) {
                text.push(c);
                self.bump();
            }
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let sign = usize::from(matches!(self.peek_at(1), Some('-' | '+')));
            if self.peek_at(1 + sign).is_some_and(|c| c.is_ascii_digit()) {
                decimal = true;
                for _ in 0..=sign {
                    text.extend(self.bump());
                }
                while let Some(c) = self.peek().filter(char::is_ascii_digit) {
                    text.push(c);
                    self.bump();
                }
            }
        }
        if self
            .peek()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        {
            let suffix = self.word();
            return Err(self.error(line, column, format!("Invalid number '{text}{suffix}'")));
        }
        if !decimal && let Ok(int) = text.parse::<i64>() {
            return Ok(Tok::Int(int));
        }
        match text.parse::<f64>() {
            Ok(d) if d.is_finite() => Ok(Tok::Dec(d)),
            _ => Err(self.error(line, column, format!("Number '{text}' is out of range"))),
        }
    }
}
