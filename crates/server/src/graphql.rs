//! The part of GraphQL that ao clients send to a gateway: one query operation with variables,
//! fields with arguments and selection sets, aliases, and the literal kinds (strings, numbers,
//! enums, booleans, null, lists, objects). Fragments, directives and mutations are refused with a
//! clear error rather than misread.

use std::collections::HashMap;

use serde_json::Value;

/// A selected field.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The name the answer uses (the alias, else the name).
    pub key: String,
    /// The field's name.
    pub name: String,
    /// Arguments, variables substituted.
    pub args: HashMap<String, Value>,
    /// Sub-fields (empty for leaves).
    pub selection: Vec<Field>,
}

impl Field {
    /// The argument `name`, if given and not null.
    pub fn arg(&self, name: &str) -> Option<&Value> {
        self.args.get(name).filter(|v| !v.is_null())
    }
}

/// Parses a request: the query text and its variables; answers the top-level fields.
///
/// # Errors
/// A message naming what is not understood.
pub fn parse(query: &str, variables: &Value) -> Result<Vec<Field>, String> {
    let tokens = tokenize(query)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        variables,
        defaults: Vec::new(),
        depth: 0,
    };
    let fields = parser.document()?;
    Ok(fields)
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Name(String),
    Str(String),
    Number(String),
    Punct(char),
    Spread,
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' | ',' | '\u{feff}' => i += 1,
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '{' | '}' | '(' | ')' | '[' | ']' | ':' | '$' | '!' | '=' | '@' | '|' | '&' => {
                tokens.push(Token::Punct(c));
                i += 1;
            }
            '.' if chars.get(i + 1) == Some(&'.') && chars.get(i + 2) == Some(&'.') => {
                tokens.push(Token::Spread);
                i += 3;
            }
            '"' => {
                if chars.get(i + 1) == Some(&'"') && chars.get(i + 2) == Some(&'"') {
                    return Err("block strings are not supported".into());
                }
                i += 1;
                let mut s = String::new();
                loop {
                    let Some(&c) = chars.get(i) else {
                        return Err("unterminated string".into());
                    };
                    i += 1;
                    match c {
                        '"' => break,
                        '\\' => {
                            let Some(&e) = chars.get(i) else {
                                return Err("unterminated string".into());
                            };
                            i += 1;
                            match e {
                                '"' | '\\' | '/' => s.push(e),
                                'n' => s.push('\n'),
                                't' => s.push('\t'),
                                'r' => s.push('\r'),
                                'b' => s.push('\u{8}'),
                                'f' => s.push('\u{c}'),
                                'u' => {
                                    let hex: String = chars
                                        .get(i..i + 4)
                                        .ok_or("bad \\u escape")?
                                        .iter()
                                        .collect();
                                    let code = u32::from_str_radix(&hex, 16)
                                        .map_err(|_| "bad \\u escape")?;
                                    s.push(char::from_u32(code).ok_or("bad \\u escape")?);
                                    i += 4;
                                }
                                other => return Err(format!("bad escape \\{other}")),
                            }
                        }
                        c => s.push(c),
                    }
                }
                tokens.push(Token::Str(s));
            }
            c if c == '-' || c.is_ascii_digit() => {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_digit()
                        || matches!(chars[i], '.' | 'e' | 'E' | '+' | '-'))
                {
                    i += 1;
                }
                tokens.push(Token::Number(chars[start..i].iter().collect()));
            }
            c if c == '_' || c.is_ascii_alphabetic() => {
                let start = i;
                while i < chars.len() && (chars[i] == '_' || chars[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                tokens.push(Token::Name(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected character {other:?}")),
        }
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    variables: &'a Value,
    /// Defaults of variables the request did not give.
    defaults: Vec<(String, Value)>,
    /// How deeply selections and values nest here (bounded: a request must not exhaust the
    /// stack).
    depth: usize,
}

/// The deepest nesting of selections or values accepted.
const MAX_DEPTH: usize = 32;

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        match self.next() {
            Some(Token::Punct(p)) if p == c => Ok(()),
            other => Err(format!("expected {c:?}, found {other:?}")),
        }
    }

    fn name(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Name(n)) => Ok(n),
            other => Err(format!("expected a name, found {other:?}")),
        }
    }

    fn is(&self, c: char) -> bool {
        self.peek() == Some(&Token::Punct(c))
    }

    fn document(&mut self) -> Result<Vec<Field>, String> {
        let fields = match self.peek() {
            Some(Token::Punct('{')) => self.selection()?,
            Some(Token::Name(n)) if n == "query" => {
                self.next();
                if matches!(self.peek(), Some(Token::Name(_))) {
                    self.next();
                }
                if self.is('(') {
                    self.variable_definitions()?;
                }
                if self.is('@') {
                    return Err("directives are not supported".into());
                }
                self.selection()?
            }
            Some(Token::Name(n)) => return Err(format!("{n} operations are not supported")),
            other => return Err(format!("expected a query, found {other:?}")),
        };
        match self.peek() {
            None => Ok(fields),
            Some(Token::Name(n)) if n == "fragment" => Err("fragments are not supported".into()),
            Some(other) => Err(format!("unexpected {other:?} after the query")),
        }
    }

    /// `($name: Type = default, …)`: only defaults matter (types are not checked).
    fn variable_definitions(&mut self) -> Result<(), String> {
        self.expect('(')?;
        while !self.is(')') {
            self.expect('$')?;
            let name = self.name()?;
            self.expect(':')?;
            // The type: names, brackets and bangs.
            while matches!(
                self.peek(),
                Some(Token::Name(_)) | Some(Token::Punct('[' | ']' | '!'))
            ) {
                self.next();
            }
            if self.is('=') {
                self.next();
                let default = self.value()?;
                if self.variables.get(&name).is_none() {
                    self.defaults.push((name, default));
                }
            }
        }
        self.expect(')')
    }

    fn deeper(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("the query nests deeper than {MAX_DEPTH} levels"));
        }
        Ok(())
    }

    fn selection(&mut self) -> Result<Vec<Field>, String> {
        self.deeper()?;
        let fields = self.selection_inner();
        self.depth -= 1;
        fields
    }

    fn value(&mut self) -> Result<Value, String> {
        self.deeper()?;
        let value = self.value_inner();
        self.depth -= 1;
        value
    }

    fn selection_inner(&mut self) -> Result<Vec<Field>, String> {
        self.expect('{')?;
        let mut fields = Vec::new();
        while !self.is('}') {
            if self.peek() == Some(&Token::Spread) {
                return Err("fragments are not supported".into());
            }
            let first = self.name()?;
            let (key, name) = if self.is(':') {
                self.next();
                (first, self.name()?)
            } else {
                (first.clone(), first)
            };
            let mut args = HashMap::new();
            if self.is('(') {
                self.next();
                while !self.is(')') {
                    let arg = self.name()?;
                    self.expect(':')?;
                    args.insert(arg, self.value()?);
                }
                self.expect(')')?;
            }
            if self.is('@') {
                return Err("directives are not supported".into());
            }
            let selection = if self.is('{') {
                self.selection()?
            } else {
                Vec::new()
            };
            fields.push(Field {
                key,
                name,
                args,
                selection,
            });
        }
        self.expect('}')?;
        Ok(fields)
    }

    fn value_inner(&mut self) -> Result<Value, String> {
        match self.next() {
            Some(Token::Punct('$')) => {
                let name = self.name()?;
                Ok(self
                    .variables
                    .get(&name)
                    .cloned()
                    .or_else(|| {
                        self.defaults
                            .iter()
                            .find(|(n, _)| *n == name)
                            .map(|(_, v)| v.clone())
                    })
                    .unwrap_or(Value::Null))
            }
            Some(Token::Str(s)) => Ok(Value::String(s)),
            Some(Token::Number(n)) => n
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| n.parse::<f64>().map(Value::from))
                .map_err(|_| format!("bad number {n}")),
            Some(Token::Name(n)) => Ok(match n.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                // Enums read as their names.
                _ => Value::String(n),
            }),
            Some(Token::Punct('[')) => {
                let mut items = Vec::new();
                while !self.is(']') {
                    items.push(self.value()?);
                }
                self.expect(']')?;
                Ok(Value::Array(items))
            }
            Some(Token::Punct('{')) => {
                let mut fields = serde_json::Map::new();
                while !self.is('}') {
                    let name = self.name()?;
                    self.expect(':')?;
                    fields.insert(name, self.value()?);
                }
                self.expect('}')?;
                Ok(Value::Object(fields))
            }
            other => Err(format!("expected a value, found {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    /// The queries aoconnect and the units send: variables, aliases, nested lists of objects,
    /// enums; unsupported parts are refused by name.
    fn parses_what_ao_clients_send() {
        let q = r#"
          query GetSchedulers ($owners: [String!]!, $first: Int = 1) {
            transactions(owners: $owners, tags: [{ name: "Data-Protocol", values: ["ao"] },
                         {name:"Type", values:["Scheduler-Location"]}], sort: HEIGHT_DESC, first: $first) {
              edges { node { id owner { address } tags { name value } } }
            }
            latest: blocks(first: 1) { edges { node { height timestamp } } }
          }"#;
        let fields = parse(q, &json!({"owners": ["abc"]})).expect("parses");
        assert_eq!(fields.len(), 2);
        let tx = &fields[0];
        assert_eq!(tx.name, "transactions");
        assert_eq!(tx.arg("owners"), Some(&json!(["abc"])));
        assert_eq!(tx.arg("first"), Some(&json!(1)));
        assert_eq!(tx.arg("sort"), Some(&json!("HEIGHT_DESC")));
        assert_eq!(
            tx.arg("tags"),
            Some(
                &json!([{"name": "Data-Protocol", "values": ["ao"]}, {"name": "Type", "values": ["Scheduler-Location"]}])
            )
        );
        assert_eq!(tx.selection[0].selection[0].selection.len(), 3);
        assert_eq!(fields[1].key, "latest");
        assert_eq!(fields[1].name, "blocks");
        assert!(parse("{ a { ...F } }", &Value::Null).is_err());
        assert!(parse("mutation { a }", &Value::Null).is_err());
        assert!(parse("{ a(x: \"unterminated) }", &Value::Null).is_err());
        // Deep nesting is refused, not a stack overflow.
        let deep = format!(
            "{{ a(x: {}1{}) }}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(parse(&deep, &Value::Null).is_err_and(|e| e.contains("deeper")));
        let nested = format!("{}{}", "{ a ".repeat(100_000), "}".repeat(100_000));
        assert!(parse(&nested, &Value::Null).is_err());
        assert_eq!(
            parse(r#"{ t(ids: ["a\"b\u0041"]) { id } }"#, &Value::Null).expect("escapes")[0]
                .arg("ids"),
            Some(&json!(["a\"bA"]))
        );
    }
}
