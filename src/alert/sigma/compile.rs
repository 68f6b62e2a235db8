//! A Sigma detection compiled into an [`Expr`]: field names mapped onto the
//! event, values and modifiers turned into tests, the condition's
//! selectors expanded, `eventSource` decided. Anything it cannot express
//! exactly is refused with the field and the reason.

use std::collections::HashMap;

use ipnet::IpNet;
use regex::RegexBuilder;
use rsigma_parser::value::{SpecialChar, StringPart};
use rsigma_parser::{
    ConditionExpr, Detection, DetectionItem, Detections, Modifier, Quantifier, SelectorPattern,
    SigmaValue,
};

use super::Refused;
use super::eval::{Expr, FIELDS, SigmaField, Test};

/// The deepest condition or detection nesting accepted.
pub const MAX_DEPTH: usize = 32;
/// The most values (tests) one rule may hold.
const MAX_TESTS: usize = 4096;
/// The compiled size a pattern may reach.
const REGEX_SIZE: usize = 1 << 20;
/// The only source kmstop reads.
const KMS_SOURCE: &str = "kms.amazonaws.com";

pub(super) struct Compiled {
    pub(super) expr: Expr,
    /// The event names the condition requires, as `CloudTrail` spells them;
    /// empty when it does not limit the name to a known KMS operation.
    pub(super) names: Vec<String>,
}

fn refuse<T>(field: Option<&str>, reason: impl Into<String>) -> Result<T, Refused> {
    Err((field.map(str::to_owned), reason.into()))
}

struct Compiler<'d> {
    named: &'d HashMap<String, Detection>,
    tests: usize,
    /// `eventSource` values the rule asked for other than KMS's.
    other_sources: Vec<String>,
}

pub(super) fn condition(detection: &Detections) -> Result<Compiled, Refused> {
    if detection.timeframe.is_some() {
        return refuse(
            Some("timeframe"),
            "timeframes and aggregations are not supported (kmstop runs single-event Sigma rules)",
        );
    }
    if detection.conditions.is_empty() {
        return refuse(Some("condition"), "the rule has no condition");
    }
    let mut c = Compiler {
        named: &detection.named,
        tests: 0,
        other_sources: Vec::new(),
    };
    let mut parts = Vec::new();
    for cond in &detection.conditions {
        parts.push(c.condition(cond, 0)?);
    }
    // Several conditions: the rule matches when any of them does.
    let expr = Expr::or(parts);
    if matches!(expr, Expr::Const(false)) {
        if c.other_sources.is_empty() {
            return refuse(Some("condition"), "the condition can never match");
        }
        c.other_sources.sort();
        c.other_sources.dedup();
        return refuse(
            Some("eventSource"),
            format!(
                "the rule matches only events from {}; kmstop reads only {KMS_SOURCE} events",
                c.other_sources.join(", ")
            ),
        );
    }
    let names = super::names::required(&expr).unwrap_or_default();
    Ok(Compiled { expr, names })
}

/// `*` any run, `?` one character; everything else literal.
fn glob(pattern: &str, name: &str) -> bool {
    let mut re = String::from("^");
    for ch in pattern.chars() {
        match ch {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    re.push('$');
    regex::Regex::new(&re).is_ok_and(|r| r.is_match(name))
}

impl Compiler<'_> {
    fn condition(&mut self, cond: &ConditionExpr, depth: usize) -> Result<Expr, Refused> {
        if depth > MAX_DEPTH {
            return refuse(Some("condition"), format!("nested deeper than {MAX_DEPTH}"));
        }
        Ok(match cond {
            ConditionExpr::And(all) => Expr::and(
                all.iter()
                    .map(|x| self.condition(x, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            ConditionExpr::Or(any) => Expr::or(
                any.iter()
                    .map(|x| self.condition(x, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            ConditionExpr::Not(x) => Expr::not(self.condition(x, depth + 1)?),
            ConditionExpr::Identifier(name) => {
                let Some(d) = self.named.get(name) else {
                    return refuse(
                        Some("condition"),
                        format!("names {name:?}, which the detection does not define"),
                    );
                };
                self.detection(d, depth + 1)?
            }
            ConditionExpr::Selector {
                quantifier,
                pattern,
            } => self.selector(quantifier, pattern, depth)?,
        })
    }

    fn selector(
        &mut self,
        quantifier: &Quantifier,
        pattern: &SelectorPattern,
        depth: usize,
    ) -> Result<Expr, Refused> {
        let mut names: Vec<&String> = self
            .named
            .keys()
            .filter(|n| match pattern {
                SelectorPattern::Them => !n.starts_with('_'),
                SelectorPattern::Pattern(p) => glob(p, n),
            })
            .collect();
        names.sort();
        let mut parts = Vec::new();
        for n in names {
            let d = &self.named[n];
            parts.push(self.detection(d, depth + 1)?);
        }
        if parts.is_empty() {
            return refuse(
                Some("condition"),
                format!("selector {pattern:?} names no detection"),
            );
        }
        match quantifier {
            Quantifier::Any | Quantifier::Count(1) => Ok(Expr::or(parts)),
            Quantifier::All => Ok(Expr::and(parts)),
            Quantifier::Count(n) => refuse(
                Some("condition"),
                format!("`{n} of` is not supported (only `1 of` and `all of`)"),
            ),
        }
    }

    fn detection(&mut self, d: &Detection, depth: usize) -> Result<Expr, Refused> {
        if depth > MAX_DEPTH {
            return refuse(Some("detection"), format!("nested deeper than {MAX_DEPTH}"));
        }
        match d {
            Detection::AllOf(items) => Ok(Expr::and(
                items
                    .iter()
                    .map(|i| self.item(i))
                    .collect::<Result<_, _>>()?,
            )),
            Detection::AnyOf(ds) => Ok(Expr::or(
                ds.iter()
                    .map(|x| self.detection(x, depth + 1))
                    .collect::<Result<_, _>>()?,
            )),
            Detection::And(ds) => Ok(Expr::and(
                ds.iter()
                    .map(|x| self.detection(x, depth + 1))
                    .collect::<Result<_, _>>()?,
            )),
            Detection::Keywords(_) => refuse(
                Some("detection"),
                "keyword lists (values without a field) are not supported",
            ),
            Detection::ArrayMatch { field, .. } => refuse(
                Some(field),
                "array quantifier blocks (`field[any]`) are not supported",
            ),
            Detection::Conditional { .. } => refuse(
                Some("detection"),
                "element-scoped conditions are not supported",
            ),
        }
    }

    fn item(&mut self, item: &DetectionItem) -> Result<Expr, Refused> {
        let Some(name) = item.field.name.as_deref() else {
            return refuse(
                Some("detection"),
                "keyword values without a field are not supported",
            );
        };
        let mods = Mods::of(name, &item.field.modifiers)?;
        self.tests += item.values.len();
        if self.tests > MAX_TESTS {
            return refuse(
                Some(name),
                format!("more than {MAX_TESTS} values in the rule"),
            );
        }
        if name == "eventSource" {
            return self.event_source(name, &mods, &item.values);
        }
        let Some(&(_, field)) = FIELDS.iter().find(|(n, _)| *n == name) else {
            return refuse(Some(name), format!("kmstop does not read {name}"));
        };
        // kmstop holds an assumed role's caller as its role ARN: a test for
        // the session's own ARN would load and never match, silently.
        let session_arn = |v: &SigmaValue| matches!(v, SigmaValue::String(s) if s.original.to_ascii_lowercase().contains("assumed-role"));
        if field == SigmaField::PrincipalArn && item.values.iter().any(session_arn) {
            return refuse(
                Some(name),
                "kmstop holds an assumed role's caller as the role's ARN (arn:aws:iam::…:role/NAME), never the session's assumed-role ARN: such a test could never match",
            );
        }
        let tests = item
            .values
            .iter()
            .map(|v| test(name, &mods, v).map(|t| Expr::Test(field, t)))
            .collect::<Result<Vec<_>, _>>()?;
        if tests.is_empty() {
            return refuse(Some(name), "no value given");
        }
        Ok(if mods.all {
            Expr::and(tests)
        } else {
            Expr::or(tests)
        })
    }

    /// `eventSource` against the one source kmstop reads, decided now.
    fn event_source(
        &mut self,
        name: &str,
        mods: &Mods,
        values: &[SigmaValue],
    ) -> Result<Expr, Refused> {
        let mut results = Vec::new();
        for v in values {
            let t = test(name, mods, v)?;
            let holds = t.holds(Some(KMS_SOURCE));
            if !holds && let SigmaValue::String(s) = v {
                self.other_sources.push(s.original.clone());
            }
            results.push(Expr::Const(holds));
        }
        Ok(if mods.all {
            Expr::and(results)
        } else {
            Expr::or(results)
        })
    }
}

/// How a value is compared, from the field's modifiers.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
enum Shape {
    /// Sigma's default: the whole value, `*` and `?` wildcards.
    #[default]
    Equal,
    Contains,
    StartsWith,
    EndsWith,
    Re,
    Cidr,
    Exists,
}

/// The modifiers of one field, checked.
#[derive(Default)]
struct Mods {
    shape: Shape,
    all: bool,
    cased: bool,
    flags: String,
}

impl Mods {
    fn of(field: &str, modifiers: &[Modifier]) -> Result<Mods, Refused> {
        let mut m = Mods::default();
        for modifier in modifiers {
            let shape = match modifier {
                Modifier::Contains => Shape::Contains,
                Modifier::StartsWith => Shape::StartsWith,
                Modifier::EndsWith => Shape::EndsWith,
                Modifier::Re => Shape::Re,
                Modifier::Cidr => Shape::Cidr,
                Modifier::Exists => Shape::Exists,
                Modifier::All => {
                    m.all = true;
                    continue;
                }
                Modifier::Cased => {
                    m.cased = true;
                    continue;
                }
                Modifier::IgnoreCase | Modifier::Multiline | Modifier::DotAll => {
                    m.flags.push(match modifier {
                        Modifier::IgnoreCase => 'i',
                        Modifier::Multiline => 'm',
                        _ => 's',
                    });
                    continue;
                }
                other => {
                    let name = serde_json::to_value(other)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_else(|| format!("{other:?}").to_ascii_lowercase());
                    return refuse(
                        Some(field),
                        format!("the modifier |{name} is not supported"),
                    );
                }
            };
            if m.shape != Shape::Equal {
                return refuse(Some(field), "these modifiers cannot be combined");
            }
            m.shape = shape;
        }
        if !m.flags.is_empty() && m.shape != Shape::Re {
            return refuse(Some(field), "regex flags need the |re modifier");
        }
        Ok(m)
    }
}

fn pattern_regex(field: &str, pattern: &str) -> Result<Test, Refused> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE)
        .build()
        .map(Test::Pattern)
        .or_else(|e| {
            let reason = e.to_string();
            let reason = reason.lines().last().unwrap_or_default().trim().to_owned();
            refuse(Some(field), format!("bad pattern: {reason}"))
        })
}

/// One value of one field as a test.
fn test(field: &str, m: &Mods, value: &SigmaValue) -> Result<Test, Refused> {
    let text = match value {
        SigmaValue::Null => return Ok(Test::Present(false)),
        SigmaValue::Bool(b) if m.shape == Shape::Exists => return Ok(Test::Present(*b)),
        _ if m.shape == Shape::Exists => return refuse(Some(field), "|exists takes true or false"),
        SigmaValue::Bool(b) => return Ok(equals(&b.to_string(), m.cased)),
        SigmaValue::Integer(n) => return Ok(equals(&n.to_string(), m.cased)),
        SigmaValue::Float(x) => return Ok(equals(&x.to_string(), m.cased)),
        SigmaValue::String(s) => s,
    };
    if m.shape == Shape::Re {
        let flags = if m.flags.is_empty() {
            String::new()
        } else {
            format!("(?{})", m.flags)
        };
        return pattern_regex(field, &format!("{flags}{}", text.original));
    }
    if m.shape == Shape::Cidr {
        return text.original.parse::<IpNet>().map(Test::Cidr).or_else(|_| {
            refuse(
                Some(field),
                format!("{:?} is not a CIDR block", text.original),
            )
        });
    }
    let wild = text
        .parts
        .iter()
        .any(|p| matches!(p, StringPart::Special(_)));
    let plain = text.parts.iter().all(|p| match p {
        StringPart::Plain(s) => s.is_ascii(),
        StringPart::Special(_) => false,
    });
    if plain && !wild && m.shape == Shape::Equal {
        let joined: String = text
            .parts
            .iter()
            .filter_map(|p| match p {
                StringPart::Plain(s) => Some(s.as_str()),
                StringPart::Special(_) => None,
            })
            .collect();
        return Ok(equals(&joined, m.cased));
    }
    let mut re = String::from(if m.cased { "(?s)" } else { "(?is)" });
    if matches!(m.shape, Shape::Equal | Shape::StartsWith) {
        re.push('^');
    }
    for part in &text.parts {
        match part {
            StringPart::Plain(s) => re.push_str(&regex::escape(s)),
            StringPart::Special(SpecialChar::WildcardMulti) => re.push_str(".*"),
            StringPart::Special(SpecialChar::WildcardSingle) => re.push('.'),
        }
    }
    if matches!(m.shape, Shape::Equal | Shape::EndsWith) {
        re.push('$');
    }
    pattern_regex(field, &re)
}

fn equals(text: &str, cased: bool) -> Test {
    Test::Equals {
        text: text.into(),
        cased,
    }
}
