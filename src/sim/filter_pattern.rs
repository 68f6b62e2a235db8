//! The CloudWatch Logs JSON filter patterns kmstop sends, and no more:
//! empty (everything), or `{ $.a.b = "value" }` terms joined by `&&` and
//! `||`, grouped with parentheses. Anything else (regexes, wildcards,
//! numbers, `!=`, arrays, space-delimited patterns) is refused with a
//! message naming what is unsupported, so a client relying on more than
//! the simulator understands finds out at once instead of reading wrong
//! results. The grammar is a handful of rules: a recursive-descent parser
//! is smaller than any dependency, and its depth is bounded.

use serde_json::Value;

/// The longest pattern the API accepts (`FilterPattern`, max 1024).
pub const MAX_LEN: usize = 1024;
/// Parentheses nested deeper than this are refused: the parser recurses.
const MAX_DEPTH: usize = 16;

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// Empty: every event matches.
    All,
    Expr(Expr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// `$.a.b = "v"`: the field at the path is the string `v`.
    Equals {
        path: Vec<String>,
        value: String,
    },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

impl Pattern {
    /// Parses `text`; the error says what is wrong, for an
    /// `InvalidParameterException`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > MAX_LEN {
            return Err(format!("filter pattern longer than {MAX_LEN} characters"));
        }
        if text.trim().is_empty() {
            return Ok(Pattern::All);
        }
        let mut p = Parser {
            s: text.as_bytes(),
            at: 0,
            depth: 0,
        };
        p.skip_ws();
        if !p.eat(b'{') {
            return Err("the simulator supports only JSON filter patterns: { $.field = \"value\" } joined by && and ||".into());
        }
        let expr = p.or()?;
        p.skip_ws();
        if !p.eat(b'}') {
            return Err(p.unexpected("'}', '&&' or '||'"));
        }
        p.skip_ws();
        if p.at != p.s.len() {
            return Err(p.unexpected("the end of the pattern"));
        }
        Ok(Pattern::Expr(expr))
    }

    /// Whether a log event whose message is `message` matches. A message
    /// that is not JSON matches only the empty pattern.
    pub fn matches(&self, message: &str) -> bool {
        match self {
            Pattern::All => true,
            Pattern::Expr(e) => {
                serde_json::from_str::<Value>(message).is_ok_and(|record| e.matches(&record))
            }
        }
    }

    /// Whether every event matches (no need to read messages).
    pub fn is_all(&self) -> bool {
        matches!(self, Pattern::All)
    }
}

impl Expr {
    pub fn matches(&self, record: &Value) -> bool {
        match self {
            Expr::Equals { path, value } => path
                .iter()
                .try_fold(record, |v, key| v.get(key))
                .and_then(Value::as_str)
                .is_some_and(|s| s == value),
            Expr::And(a, b) => a.matches(record) && b.matches(record),
            Expr::Or(a, b) => a.matches(record) || b.matches(record),
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.s.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.s.get(self.at) == Some(&b) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn eat_str(&mut self, token: &str) -> bool {
        self.skip_ws();
        if self.s[self.at..].starts_with(token.as_bytes()) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    fn unexpected(&self, wanted: &str) -> String {
        let found = self.s.get(self.at..).map_or(String::new(), |rest| {
            String::from_utf8_lossy(&rest[..rest.len().min(20)]).into_owned()
        });
        if found.is_empty() {
            format!("filter pattern ends where {wanted} was expected")
        } else {
            format!(
                "filter pattern: expected {wanted} at character {}, found {found:?}",
                self.at + 1
            )
        }
    }

    /// `and ('||' and)*`
    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.eat_str("||") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    /// `primary ('&&' primary)*`: `&&` binds tighter than `||`.
    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.primary()?;
        while self.eat_str("&&") {
            left = Expr::And(Box::new(left), Box::new(self.primary()?));
        }
        Ok(left)
    }

    /// `'(' or ')' | term`
    fn primary(&mut self) -> Result<Expr, String> {
        self.skip_ws();
        if self.eat(b'(') {
            if self.depth == MAX_DEPTH {
                return Err(format!(
                    "filter pattern nests parentheses deeper than {MAX_DEPTH}"
                ));
            }
            self.depth += 1;
            let inner = self.or()?;
            self.depth -= 1;
            self.skip_ws();
            if !self.eat(b')') {
                return Err(self.unexpected("')'"));
            }
            return Ok(inner);
        }
        self.term()
    }

    /// `'$' ('.' name)+ '=' string`
    fn term(&mut self) -> Result<Expr, String> {
        if !self.eat(b'$') {
            return Err(self.unexpected("a selector such as $.eventName"));
        }
        let mut path = Vec::new();
        while self.eat(b'.') {
            let start = self.at;
            while self
                .s
                .get(self.at)
                .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
            {
                self.at += 1;
            }
            if start == self.at {
                return Err(self.unexpected("a field name after '.'"));
            }
            path.push(String::from_utf8_lossy(&self.s[start..self.at]).into_owned());
        }
        if path.is_empty() {
            return Err(self.unexpected("'.' and a field name after '$'"));
        }
        if self.s.get(self.at) == Some(&b'[') {
            return Err(
                "the simulator does not support array selectors ([n]) in filter patterns".into(),
            );
        }
        self.skip_ws();
        if self.s[self.at..].starts_with(b"!=") {
            return Err("the simulator supports only '=' in filter patterns, not '!='".into());
        }
        if !self.eat(b'=') {
            return Err(self.unexpected("'='"));
        }
        self.skip_ws();
        let value = self.string()?;
        Ok(Expr::Equals { path, value })
    }

    /// A double-quoted string; `\"` and `\\` escape. Wildcards are refused.
    fn string(&mut self) -> Result<String, String> {
        if !self.eat(b'"') {
            return Err(format!(
                "{} (the simulator supports only quoted string values)",
                self.unexpected("a quoted string")
            ));
        }
        let mut out = Vec::new();
        loop {
            match self.s.get(self.at).copied() {
                None => return Err("filter pattern: unterminated string".into()),
                Some(b'"') => {
                    self.at += 1;
                    break;
                }
                Some(b'\\') => match self.s.get(self.at + 1).copied() {
                    Some(c @ (b'"' | b'\\')) => {
                        out.push(c);
                        self.at += 2;
                    }
                    _ => return Err(self.unexpected("\\\" or \\\\ after a backslash")),
                },
                Some(b'*') => {
                    return Err(
                        "the simulator does not support wildcards (*) in filter pattern values"
                            .into(),
                    );
                }
                Some(c) => {
                    out.push(c);
                    self.at += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| "filter pattern: a value is not UTF-8".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(path: &str, value: &str) -> Expr {
        Expr::Equals {
            path: path.split('.').map(str::to_string).collect(),
            value: value.into(),
        }
    }

    #[test]
    fn parses_the_subset() {
        assert_eq!(Pattern::parse("").expect("empty"), Pattern::All);
        assert_eq!(Pattern::parse("  \n").expect("blank"), Pattern::All);
        assert_eq!(
            Pattern::parse(r#"{ $.eventSource = "kms.amazonaws.com" }"#).expect("one"),
            Pattern::Expr(eq("eventSource", "kms.amazonaws.com"))
        );
        assert_eq!(
            Pattern::parse(r#"{$.a.b="x"&&$.c="y"||$.d="z"}"#).expect("precedence"),
            Pattern::Expr(Expr::Or(
                Box::new(Expr::And(Box::new(eq("a.b", "x")), Box::new(eq("c", "y")))),
                Box::new(eq("d", "z")),
            ))
        );
        assert_eq!(
            Pattern::parse(r#"{ $.a = "x" && ( $.c = "y" || $.d = "z" ) }"#).expect("parens"),
            Pattern::Expr(Expr::And(
                Box::new(eq("a", "x")),
                Box::new(Expr::Or(Box::new(eq("c", "y")), Box::new(eq("d", "z")))),
            ))
        );
        assert_eq!(
            Pattern::parse(r#"{ $.a = "say \"hi\" \\" }"#).expect("escapes"),
            Pattern::Expr(eq("a", r#"say "hi" \"#))
        );
    }

    #[test]
    fn refuses_everything_else_by_name() {
        for (bad, says) in [
            ("ERROR", "only JSON"),
            ("%regex%", "only JSON"),
            (r#"{ $.a = "x" "#, "'}'"),
            (r#"{ $.a = "x" } junk"#, "end of the pattern"),
            (r#"{ $.a != "x" }"#, "'!='"),
            (r"{ $.a = 5 }", "quoted string"),
            (r#"{ $.a = "x*" }"#, "wildcards"),
            (r#"{ $.a[0] = "x" }"#, "array"),
            (r#"{ $ = "x" }"#, "field name"),
            (r#"{ $. = "x" }"#, "field name"),
            (r#"{ a = "x" }"#, "selector"),
            (r#"{ ($.a = "x" }"#, "')'"),
            (r#"{ $.a = "x }"#, "unterminated"),
            (r#"{ $.a = "x" && }"#, "selector"),
            ("{", "ends where"),
        ] {
            let e = Pattern::parse(bad).expect_err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
        let deep = format!("{{ {}$.a = \"x\"{} }}", "(".repeat(40), ")".repeat(40));
        assert!(Pattern::parse(&deep).expect_err("deep").contains("deeper"));
        let long = format!("{{ $.a = \"{}\" }}", "x".repeat(MAX_LEN));
        assert!(Pattern::parse(&long).expect_err("long").contains("longer"));
        // Arbitrary bytes never panic.
        for junk in [
            "{\"",
            "{$",
            "{$.",
            "{$.a",
            "{$.a=",
            "{$.a=\"\\",
            "{((",
            "é{",
        ] {
            assert!(Pattern::parse(junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn matches_records() {
        let record = r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt",
            "userIdentity":{"type":"AssumedRole","arn":"arn:x"},"n":5}"#;
        let yes = |p: &str| Pattern::parse(p).expect(p).matches(record);
        assert!(yes(""));
        assert!(yes(r#"{ $.eventName = "Decrypt" }"#));
        assert!(yes(r#"{ $.userIdentity.type = "AssumedRole" }"#));
        assert!(!yes(r#"{ $.userIdentity.type = "IAMUser" }"#));
        assert!(!yes(r#"{ $.missing.path = "x" }"#));
        assert!(!yes(r#"{ $.n = "5" }"#), "a number is not the string");
        assert!(yes(
            r#"{ ($.eventName = "Encrypt" || $.eventName = "Decrypt") && $.eventSource = "kms.amazonaws.com" }"#
        ));
        assert!(!yes(
            r#"{ $.eventName = "Encrypt" || $.eventName = "Sign" && $.eventSource = "kms.amazonaws.com" }"#
        ));
        assert!(
            !Pattern::parse(r#"{ $.a = "x" }"#)
                .expect("p")
                .matches("not json")
        );
    }
}
