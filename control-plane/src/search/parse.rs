//! The search language of logs and spans, parsed into an [`Expr`]: free text, `field:value`,
//! quoted phrases, `*` wildcards, `AND`/`OR`/`NOT` (and `-term`) with parentheses, comparisons
//! (`duration:>250ms`), ranges (`http.status_code:[500 TO 599]`, `{…}` for open ends) and
//! existence (`attr:*`). Terms side by side are ANDed; AND binds tighter than OR. Errors say
//! where (a character offset) and why. Hand-written rather than generated: the grammar is
//! small, and errors need the offsets a parser generator would hide.

use std::fmt;

/// Longest query accepted, in bytes.
pub(crate) const MAX_QUERY_BYTES: usize = 4096;
/// Deepest nesting of parentheses and NOTs.
const MAX_DEPTH: usize = 32;
/// Most terms in a query.
const MAX_TERMS: usize = 64;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    /// Matches everything (the empty query).
    All,
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Term(Term),
}

/// `field:predicate`, or a predicate on the default text field.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Term {
    /// `None`: the signal's text (a log's body, a span's name).
    pub field: Option<String>,
    pub pred: Pred,
}

/// What a term asks of its field.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pred {
    /// Contains this text (bare words: case-insensitive), or, for a named field, equals it.
    Word(String),
    /// A quoted phrase: contains (text) or equals (a field) exactly this.
    Phrase(String),
    /// A pattern with `*` (any run of characters).
    Wildcard(String),
    /// `>`, `>=`, `<`, `<=` a value.
    Compare(Cmp, String),
    /// Between two values; `None` is an open end (`*`).
    Range {
        low: Option<String>,
        high: Option<String>,
        inclusive: bool,
    },
    /// The field is present.
    Exists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Gt,
    Ge,
    Lt,
    Le,
}

impl Cmp {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
        }
    }
}

/// Why a query cannot be run: where (a character offset from 0) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub at: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.at + 1, self.message)
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
    terms: usize,
}

/// Parses `text` into an expression.
pub(crate) fn parse(text: &str) -> Result<Expr, ParseError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(ParseError {
            at: 0,
            message: format!("a query has at most {MAX_QUERY_BYTES} bytes"),
        });
    }
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
        depth: 0,
        terms: 0,
    };
    p.skip_space();
    if p.at_end() {
        return Ok(Expr::All);
    }
    let expr = p.or()?;
    p.skip_space();
    if !p.at_end() {
        return Err(p.error(match p.peek() {
            Some(')') => "a ')' without its '('".to_owned(),
            Some(c) => format!("unexpected {c:?}"),
            None => "unexpected end".to_owned(),
        }));
    }
    Ok(expr)
}

/// Characters that end a bare word.
fn ends_word(c: char) -> bool {
    c.is_whitespace() || c == '(' || c == ')' || c == '"'
}

impl Parser {
    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            at: self.pos,
            message: message.into(),
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Whether the upper-case keyword `word` stands here as a word of its own.
    fn keyword(&self, word: &str) -> bool {
        let n = word.chars().count();
        let here: String = self.chars.iter().skip(self.pos).take(n).collect();
        here == word && self.chars.get(self.pos + n).is_none_or(|c| ends_word(*c))
    }

    fn nest(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH}")));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut parts = vec![self.and()?];
        loop {
            self.skip_space();
            if self.keyword("OR") {
                self.pos += 2;
                self.skip_space();
                parts.push(self.and()?);
            } else {
                break;
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut parts = vec![self.not()?];
        loop {
            self.skip_space();
            if self.at_end() || self.peek() == Some(')') || self.keyword("OR") {
                break;
            }
            if self.keyword("AND") {
                self.pos += 3;
                self.skip_space();
            }
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        self.skip_space();
        if self.keyword("NOT") {
            self.pos += 3;
            self.nest()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        if self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|c| !ends_word(*c))
        {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.primary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        self.skip_space();
        match self.peek() {
            None => Err(self.error("a term is missing at the end")),
            Some('(') => {
                let open = self.pos;
                self.pos += 1;
                self.nest()?;
                let inner = self.or()?;
                self.depth -= 1;
                self.skip_space();
                if self.peek() != Some(')') {
                    return Err(ParseError {
                        at: open,
                        message: "this '(' is not closed".into(),
                    });
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(')') => Err(self.error("a term is missing before ')'")),
            Some(_) if self.keyword("AND") || self.keyword("OR") => {
                Err(self.error("AND and OR need a term on each side"))
            }
            Some(_) => self.term().map(Expr::Term),
        }
    }

    fn term(&mut self) -> Result<Term, ParseError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(self.error(format!("a query has at most {MAX_TERMS} terms")));
        }
        if self.peek() == Some('"') {
            return Ok(Term {
                field: None,
                pred: Pred::Phrase(self.quoted()?),
            });
        }
        let start = self.pos;
        let mut word = String::new();
        while let Some(c) = self.peek() {
            if ends_word(c) || c == ':' {
                break;
            }
            if c == '\\'
                && let Some(next) = self.chars.get(self.pos + 1)
            {
                word.push(*next);
                self.pos += 2;
                continue;
            }
            word.push(c);
            self.pos += 1;
        }
        if self.peek() == Some(':') {
            if word.is_empty() {
                return Err(self.error("a field name is missing before ':'"));
            }
            if !word
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '/'))
            {
                return Err(ParseError {
                    at: start,
                    message: format!("{word:?} is not a field name"),
                });
            }
            self.pos += 1;
            let pred = self.value()?;
            return Ok(Term {
                field: Some(word),
                pred,
            });
        }
        Ok(Term {
            field: None,
            pred: bare(word),
        })
    }

    /// A `"…"` phrase (`\"` and `\\` escape).
    fn quoted(&mut self) -> Result<String, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let mut text = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(ParseError {
                        at: open,
                        message: "this '\"' is not closed".into(),
                    });
                }
                Some('"') => {
                    self.pos += 1;
                    return Ok(text);
                }
                Some('\\') if self.chars.get(self.pos + 1).is_some() => {
                    text.push(self.chars[self.pos + 1]);
                    self.pos += 2;
                }
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// A bare value up to the next space or parenthesis.
    fn bare_value(&mut self) -> Result<String, ParseError> {
        let mut value = String::new();
        while let Some(c) = self.peek() {
            if ends_word(c) {
                break;
            }
            value.push(c);
            self.pos += 1;
        }
        if value.is_empty() {
            return Err(self.error("a value is missing"));
        }
        Ok(value)
    }

    /// What follows `field:`.
    fn value(&mut self) -> Result<Pred, ParseError> {
        match self.peek() {
            Some('"') => Ok(Pred::Phrase(self.quoted()?)),
            Some(open @ ('[' | '{')) => {
                let at = self.pos;
                self.pos += 1;
                self.skip_space();
                let low = self.range_end()?;
                self.skip_space();
                if !self.keyword("TO") {
                    return Err(self.error("a range is [low TO high]"));
                }
                self.pos += 2;
                self.skip_space();
                let high = self.range_end()?;
                self.skip_space();
                let close = if open == '[' { ']' } else { '}' };
                if self.peek() != Some(close) {
                    return Err(ParseError {
                        at,
                        message: format!("this range is not closed with '{close}'"),
                    });
                }
                self.pos += 1;
                if low.is_none() && high.is_none() {
                    return Err(ParseError {
                        at,
                        message: "a range needs at least one end".into(),
                    });
                }
                Ok(Pred::Range {
                    low,
                    high,
                    inclusive: open == '[',
                })
            }
            Some('>' | '<') => {
                let greater = self.peek() == Some('>');
                self.pos += 1;
                let equal = self.peek() == Some('=');
                if equal {
                    self.pos += 1;
                }
                let cmp = match (greater, equal) {
                    (true, false) => Cmp::Gt,
                    (true, true) => Cmp::Ge,
                    (false, false) => Cmp::Lt,
                    (false, true) => Cmp::Le,
                };
                let value = if self.peek() == Some('"') {
                    self.quoted()?
                } else {
                    self.bare_value()?
                };
                Ok(Pred::Compare(cmp, value))
            }
            Some(c) if ends_word(c) => Err(self.error("a value is missing after ':'")),
            None => Err(self.error("a value is missing after ':'")),
            Some(_) => {
                let value = self.bare_value()?;
                if value == "*" {
                    return Ok(Pred::Exists);
                }
                Ok(bare(value))
            }
        }
    }

    /// One end of a range: a value, or `*` for an open end.
    fn range_end(&mut self) -> Result<Option<String>, ParseError> {
        let mut value = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || matches!(c, ']' | '}') {
                break;
            }
            value.push(c);
            self.pos += 1;
        }
        match value.as_str() {
            "" => Err(self.error("a range end is missing")),
            "*" => Ok(None),
            _ => Ok(Some(value)),
        }
    }
}

/// A bare word: a wildcard pattern when it holds `*`.
fn bare(word: String) -> Pred {
    if word.contains('*') {
        Pred::Wildcard(word)
    } else {
        Pred::Word(word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(field: Option<&str>, pred: Pred) -> Expr {
        Expr::Term(Term {
            field: field.map(str::to_owned),
            pred,
        })
    }

    fn word(w: &str) -> Pred {
        Pred::Word(w.into())
    }

    #[test]
    fn queries_parse_into_what_they_say() {
        let table: Vec<(&str, Expr)> = vec![
            ("", Expr::All),
            ("timeout", term(None, word("timeout"))),
            (
                "\"connection reset\"",
                term(None, Pred::Phrase("connection reset".into())),
            ),
            ("time*ut", term(None, Pred::Wildcard("time*ut".into()))),
            ("service:checkout", term(Some("service"), word("checkout"))),
            (
                "service:checkout error",
                Expr::And(vec![
                    term(Some("service"), word("checkout")),
                    term(None, word("error")),
                ]),
            ),
            (
                "a AND b OR c",
                Expr::Or(vec![
                    Expr::And(vec![term(None, word("a")), term(None, word("b"))]),
                    term(None, word("c")),
                ]),
            ),
            (
                "a AND (b OR c)",
                Expr::And(vec![
                    term(None, word("a")),
                    Expr::Or(vec![term(None, word("b")), term(None, word("c"))]),
                ]),
            ),
            ("NOT a", Expr::Not(Box::new(term(None, word("a"))))),
            (
                "-service:x",
                Expr::Not(Box::new(term(Some("service"), word("x")))),
            ),
            (
                "duration:>250ms",
                term(Some("duration"), Pred::Compare(Cmp::Gt, "250ms".into())),
            ),
            (
                "severity:>=warn",
                term(Some("severity"), Pred::Compare(Cmp::Ge, "warn".into())),
            ),
            (
                "http.status_code:[500 TO 599]",
                term(
                    Some("http.status_code"),
                    Pred::Range {
                        low: Some("500".into()),
                        high: Some("599".into()),
                        inclusive: true,
                    },
                ),
            ),
            (
                "n:{10 TO *}",
                term(
                    Some("n"),
                    Pred::Range {
                        low: Some("10".into()),
                        high: None,
                        inclusive: false,
                    },
                ),
            ),
            (
                "resource.k8s.pod.name:*",
                term(Some("resource.k8s.pod.name"), Pred::Exists),
            ),
            (
                "http.route:/api/*",
                term(Some("http.route"), Pred::Wildcard("/api/*".into())),
            ),
            (
                "msg:\"a \\\"b\\\"\"",
                term(Some("msg"), Pred::Phrase("a \"b\"".into())),
            ),
            (
                "and or not",
                Expr::And(vec![
                    term(None, word("and")),
                    term(None, word("or")),
                    term(None, word("not")),
                ]),
            ),
            ("a\\:b", term(None, word("a:b"))),
        ];
        for (query, want) in table {
            assert_eq!(parse(query), Ok(want), "{query:?}");
        }
    }

    #[test]
    fn errors_say_where_and_why() {
        let table = [
            ("(a OR b", 0, "not closed"),
            ("a)", 1, "without its '('"),
            ("\"open", 0, "not closed"),
            ("service:", 8, "missing"),
            (":x", 0, "field name is missing"),
            ("a AND", 5, "missing at the end"),
            ("OR a", 0, "need a term"),
            ("n:[1 TO 2", 2, "not closed"),
            ("n:[1 2]", 5, "[low TO high]"),
            ("n:[* TO *]", 2, "at least one end"),
            ("bad field!:x", 4, "not a field name"),
        ];
        for (query, at, why) in table {
            let error = parse(query).expect_err(query);
            assert_eq!(error.at, at, "{query:?}: {error}");
            assert!(error.message.contains(why), "{query:?}: {error}");
        }
        assert!(parse(&"a ".repeat(100)).is_err(), "too many terms");
        assert!(parse(&"(".repeat(40)).is_err(), "too deep");
        assert!(parse(&"x".repeat(5000)).is_err(), "too long");
    }
}
