//! Tokenizers: SentencePiece-style (merges by score, byte fallback; GGUF `llama` models and
//! llama2.c `tokenizer.bin`) and GPT-2-style byte-level BPE (merges by rank; GGUF `gpt2`).

use std::collections::HashMap;

use unicode_general_category::{GeneralCategory, get_general_category};

use crate::Error;
use crate::gguf::{Gguf, Value};

/// What a token is (GGUF's `tokenizer.ggml.token_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenType {
    /// Ordinary text.
    Normal,
    /// The unknown token.
    Unknown,
    /// A control token (`<s>`, `<|im_start|>`): never produced from text unless specials are
    /// parsed, and printed as nothing.
    Control,
    /// A user-defined token: matched as a whole in text, printed as its text.
    UserDefined,
    /// Unused.
    Unused,
    /// A byte-fallback token (`<0x0A>`).
    Byte,
}

impl TokenType {
    fn from_gguf(n: i64) -> Self {
        match n {
            2 => Self::Unknown,
            3 => Self::Control,
            4 => Self::UserDefined,
            5 => Self::Unused,
            6 => Self::Byte,
            _ => Self::Normal,
        }
    }
}

/// How text is split before merges (GGUF `tokenizer.ggml.pre`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreTokenizer {
    /// GPT-2's pattern.
    Gpt2,
    /// Every digit alone, then GPT-2's pattern (`smollm`, `starcoder`, `refact`, …).
    DigitsThenGpt2,
}

#[derive(Clone, Debug)]
enum Algorithm {
    /// Merge the adjacent pair whose joined piece has the highest score.
    Spm {
        /// What a space is written as in pieces (`▁` in GGUF vocabularies, ' ' in llama2.c).
        space: char,
        space_prefix: bool,
        bytes: Box<[Option<u32>; 256]>,
    },
    /// Merge the adjacent pair with the lowest merge rank.
    Bpe {
        pre: PreTokenizer,
        merges: HashMap<(u32, u32), (u32, u32)>,
        byte_char: Box<[char; 256]>,
        char_byte: HashMap<char, u8>,
    },
}

/// A model's tokenizer.
#[derive(Clone, Debug)]
pub struct Tokenizer {
    pieces: Vec<String>,
    ids: HashMap<String, u32>,
    scores: Vec<f32>,
    types: Vec<TokenType>,
    /// Control and user-defined tokens, longest first, for matching in text.
    specials: Vec<(String, u32)>,
    algorithm: Algorithm,
    /// Beginning-of-sequence token.
    pub bos: Option<u32>,
    /// End-of-sequence token.
    pub eos: Option<u32>,
    /// Whether a prompt starts with `bos`.
    pub add_bos: bool,
    /// Tokens that end generation.
    eog: Vec<u32>,
    unknown: Option<u32>,
}

/// Texts of control tokens that end a turn in common chat formats.
const END_OF_TURN: &[&str] = &[
    "</s>",
    "<|endoftext|>",
    "<|im_end|>",
    "<|eot_id|>",
    "<|end_of_text|>",
    "<|end|>",
    "<end_of_turn>",
];

impl Tokenizer {
    #[allow(clippy::too_many_arguments)]
    fn build(
        pieces: Vec<String>,
        scores: Vec<f32>,
        types: Vec<TokenType>,
        algorithm: Algorithm,
        bos: Option<u32>,
        eos: Option<u32>,
        add_bos: bool,
        eot: Option<u32>,
    ) -> Self {
        let ids: HashMap<String, u32> = pieces
            .iter()
            .enumerate()
            .map(|(i, p)| (p.clone(), i as u32))
            .collect();
        let mut specials: Vec<(String, u32)> = types
            .iter()
            .enumerate()
            .filter(|(i, t)| {
                matches!(t, TokenType::Control | TokenType::UserDefined) && !pieces[*i].is_empty()
            })
            .map(|(i, _)| (pieces[i].clone(), i as u32))
            .collect();
        specials.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
        let mut eog: Vec<u32> = eos.into_iter().chain(eot).collect();
        for (text, id) in &specials {
            if types[*id as usize] == TokenType::Control && END_OF_TURN.contains(&text.as_str()) {
                eog.push(*id);
            }
        }
        eog.sort_unstable();
        eog.dedup();
        let unknown = types
            .iter()
            .position(|t| *t == TokenType::Unknown)
            .map(|i| i as u32);
        Self {
            pieces,
            ids,
            scores,
            types,
            specials,
            algorithm,
            bos,
            eos,
            add_bos,
            eog,
            unknown,
        }
    }

    /// The tokenizer in a GGUF file's metadata (`tokenizer.ggml.*`).
    ///
    /// # Errors
    /// [`Error::Format`] when the metadata lacks the vocabulary or is inconsistent;
    /// [`Error::Unsupported`] for tokenizer models other than `llama` and `gpt2`.
    pub fn from_gguf(gguf: &Gguf) -> Result<Self, Error> {
        let strings = |key: &str| -> Result<Vec<String>, Error> {
            match gguf.get(key) {
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| Error::Format(format!("{key} holds a non-string")))
                    })
                    .collect(),
                _ => Err(Error::Format(format!("the GGUF file has no {key}"))),
            }
        };
        let id = |key: &str| {
            gguf.get(key)
                .and_then(Value::as_u64)
                .and_then(|v| u32::try_from(v).ok())
        };
        let flag = |key: &str| match gguf.get(key) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        };
        let pieces = strings("tokenizer.ggml.tokens")?;
        let n = pieces.len();
        let types: Vec<TokenType> = match gguf.get("tokenizer.ggml.token_type") {
            Some(Value::Array(items)) if items.len() == n => items
                .iter()
                .map(|v| match v {
                    Value::I64(k) => TokenType::from_gguf(*k),
                    Value::U64(k) => TokenType::from_gguf(*k as i64),
                    _ => TokenType::Normal,
                })
                .collect(),
            _ => vec![TokenType::Normal; n],
        };
        let scores: Vec<f32> = match gguf.get("tokenizer.ggml.scores") {
            Some(Value::Array(items)) if items.len() == n => items
                .iter()
                .map(|v| v.as_f64().unwrap_or(0.0) as f32)
                .collect(),
            _ => vec![0.0; n],
        };
        let model = gguf
            .get("tokenizer.ggml.model")
            .and_then(Value::as_str)
            .unwrap_or("llama");
        let bos = id("tokenizer.ggml.bos_token_id");
        let eos = id("tokenizer.ggml.eos_token_id");
        let eot = id("tokenizer.ggml.eot_token_id");
        let check = |t: Option<u32>| t.filter(|&t| (t as usize) < n);
        let (algorithm, default_bos) = match model {
            "llama" => {
                let mut bytes = Box::new([None; 256]);
                for (i, p) in pieces.iter().enumerate() {
                    if types[i] == TokenType::Byte
                        && let Some(b) = parse_byte_piece(p)
                    {
                        bytes[b as usize] = Some(i as u32);
                    }
                }
                (
                    Algorithm::Spm {
                        space: '\u{2581}',
                        space_prefix: flag("tokenizer.ggml.add_space_prefix").unwrap_or(true),
                        bytes,
                    },
                    true,
                )
            }
            "gpt2" => {
                let ids: HashMap<&str, u32> = pieces
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (p.as_str(), i as u32))
                    .collect();
                let mut merges = HashMap::new();
                for (rank, line) in strings("tokenizer.ggml.merges")?.iter().enumerate() {
                    let Some((a, b)) = line.split_once(' ') else {
                        return Err(Error::Format(format!("merge {line:?} is not a pair")));
                    };
                    let joined = format!("{a}{b}");
                    if let (Some(&a), Some(&b), Some(&j)) =
                        (ids.get(a), ids.get(b), ids.get(joined.as_str()))
                    {
                        merges.entry((a, b)).or_insert((rank as u32, j));
                    }
                }
                let pre = match gguf.get("tokenizer.ggml.pre").and_then(Value::as_str) {
                    Some("smollm" | "starcoder" | "refact" | "codeshell" | "exaone") => {
                        PreTokenizer::DigitsThenGpt2
                    }
                    _ => PreTokenizer::Gpt2,
                };
                let byte_char = Box::new(byte_chars());
                let char_byte = byte_char
                    .iter()
                    .enumerate()
                    .map(|(b, &c)| (c, b as u8))
                    .collect();
                (
                    Algorithm::Bpe {
                        pre,
                        merges,
                        byte_char,
                        char_byte,
                    },
                    false,
                )
            }
            other => {
                return Err(Error::Unsupported(format!(
                    "tokenizer model {other:?} (supported: llama, gpt2)"
                )));
            }
        };
        let add_bos = flag("tokenizer.ggml.add_bos_token").unwrap_or(default_bos);
        Ok(Self::build(
            pieces,
            scores,
            types,
            algorithm,
            check(bos),
            check(eos),
            add_bos,
            check(eot),
        ))
    }

    /// A llama2.c `tokenizer.bin` for a vocabulary of `vocab` tokens (`<unk>`, `<s>`, `</s>`,
    /// then byte tokens `<0x00>`…, then pieces with real spaces).
    ///
    /// # Errors
    /// [`Error::Format`] when the file is shorter than its vocabulary.
    pub fn from_llama2c(bytes: &[u8], vocab: usize) -> Result<Self, Error> {
        let short = || Error::Format("tokenizer.bin ends early".into());
        let mut at = 4usize;
        let mut pieces = Vec::with_capacity(vocab);
        let mut scores = Vec::with_capacity(vocab);
        for _ in 0..vocab {
            let head = bytes.get(at..at + 8).ok_or_else(short)?;
            let score = f32::from_le_bytes([head[0], head[1], head[2], head[3]]);
            let len = i32::from_le_bytes([head[4], head[5], head[6], head[7]]);
            let len = usize::try_from(len)
                .map_err(|_| Error::Format(format!("token length {len} in tokenizer.bin")))?;
            at += 8;
            let text = bytes.get(at..at + len).ok_or_else(short)?;
            at += len;
            pieces.push(String::from_utf8_lossy(text).into_owned());
            scores.push(score);
        }
        let mut types = vec![TokenType::Normal; vocab];
        let mut byte_ids = Box::new([None; 256]);
        for (i, p) in pieces.iter().enumerate() {
            if let Some(b) = parse_byte_piece(p) {
                types[i] = TokenType::Byte;
                byte_ids[b as usize] = Some(i as u32);
            }
        }
        for (i, t) in types.iter_mut().enumerate().take(vocab.min(3)) {
            *t = if i == 0 {
                TokenType::Unknown
            } else {
                TokenType::Control
            };
        }
        Ok(Self::build(
            pieces,
            scores,
            types,
            Algorithm::Spm {
                space: ' ',
                space_prefix: true,
                bytes: byte_ids,
            },
            (vocab > 1).then_some(1),
            (vocab > 2).then_some(2),
            true,
            None,
        ))
    }

    /// Tokens in the vocabulary.
    pub fn len(&self) -> usize {
        self.pieces.len()
    }

    /// Whether the vocabulary is empty.
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// The token whose text is exactly `piece`.
    pub fn id(&self, piece: &str) -> Option<u32> {
        self.ids.get(piece).copied()
    }

    /// The raw vocabulary text of `token`.
    pub fn piece(&self, token: u32) -> Option<&str> {
        self.pieces.get(token as usize).map(String::as_str)
    }

    /// Whether `token` ends generation.
    pub fn is_end(&self, token: u32) -> bool {
        self.eog.binary_search(&token).is_ok()
    }

    /// Tokens of `text`: `bos` first when `add_bos`, control and user-defined token texts
    /// matched as single tokens when `specials`.
    pub fn encode(&self, text: &str, add_bos: bool, specials: bool) -> Vec<u32> {
        let mut out = Vec::new();
        if add_bos && let Some(bos) = self.bos {
            out.push(bos);
        }
        let mut first = true;
        let mut rest = text;
        while !rest.is_empty() {
            let (plain, special) = if specials {
                self.next_special(rest)
            } else {
                (rest.len(), None)
            };
            if plain > 0 {
                self.encode_plain(&rest[..plain], first, &mut out);
            }
            first = false;
            match special {
                Some((len, id)) => {
                    out.push(id);
                    rest = &rest[plain + len..];
                }
                None => rest = &rest[plain..],
            }
        }
        out
    }

    /// Bytes before the first special token in `text`, and that token's length and id.
    fn next_special(&self, text: &str) -> (usize, Option<(usize, u32)>) {
        for (at, _) in text.char_indices() {
            for (s, id) in &self.specials {
                if text[at..].starts_with(s.as_str()) {
                    return (at, Some((s.len(), *id)));
                }
            }
        }
        (text.len(), None)
    }

    fn encode_plain(&self, text: &str, first: bool, out: &mut Vec<u32>) {
        match &self.algorithm {
            Algorithm::Spm {
                space,
                space_prefix,
                bytes,
            } => {
                let mut s = String::with_capacity(text.len() + 3);
                if *space_prefix && first {
                    s.push(*space);
                }
                s.extend(text.chars().map(|c| if c == ' ' { *space } else { c }));
                self.spm(&s, bytes, out);
            }
            Algorithm::Bpe {
                pre,
                merges,
                byte_char,
                ..
            } => {
                for word in pre_tokenize(*pre, text) {
                    let mapped: String = word.bytes().map(|b| byte_char[b as usize]).collect();
                    if let Some(&id) = self.ids.get(&mapped) {
                        out.push(id);
                        continue;
                    }
                    let mut symbols: Vec<u32> = mapped
                        .chars()
                        .filter_map(|c| {
                            let mut buf = [0u8; 4];
                            self.id(c.encode_utf8(&mut buf)).or(self.unknown)
                        })
                        .collect();
                    loop {
                        let best = symbols
                            .windows(2)
                            .enumerate()
                            .filter_map(|(i, w)| merges.get(&(w[0], w[1])).map(|m| (m.0, i, m.1)))
                            .min();
                        let Some((_, i, joined)) = best else { break };
                        symbols[i] = joined;
                        symbols.remove(i + 1);
                    }
                    out.extend(symbols);
                }
            }
        }
    }

    /// SentencePiece merges: spans of `s` joined while the joined text is a token, best score
    /// first (leftmost on ties); spans that are not tokens fall back to byte tokens.
    fn spm(&self, s: &str, bytes: &[Option<u32>; 256], out: &mut Vec<u32>) {
        let mut spans: Vec<(usize, usize)> = s
            .char_indices()
            .map(|(i, c)| (i, i + c.len_utf8()))
            .collect();
        loop {
            let mut best: Option<(f32, usize, u32)> = None;
            for i in 0..spans.len().saturating_sub(1) {
                let joined = &s[spans[i].0..spans[i + 1].1];
                if let Some(&id) = self.ids.get(joined) {
                    let score = self.scores[id as usize];
                    if best.is_none_or(|(b, _, _)| score > b) {
                        best = Some((score, i, id));
                    }
                }
            }
            let Some((_, i, _)) = best else { break };
            spans[i].1 = spans[i + 1].1;
            spans.remove(i + 1);
        }
        for (a, b) in spans {
            match self.ids.get(&s[a..b]) {
                Some(&id) => out.push(id),
                None => {
                    for byte in s[a..b].bytes() {
                        if let Some(id) = bytes[byte as usize].or(self.unknown) {
                            out.push(id);
                        }
                    }
                }
            }
        }
    }

    /// The bytes `token` stands for when printed (control tokens print nothing). After `bos`
    /// a SentencePiece leading space is dropped, as the prefix added to the prompt was.
    pub fn decode(&self, previous: Option<u32>, token: u32) -> Vec<u8> {
        let Some(piece) = self.pieces.get(token as usize) else {
            return Vec::new();
        };
        match self.types[token as usize] {
            TokenType::Control | TokenType::Unknown | TokenType::Unused => return Vec::new(),
            TokenType::Byte => {
                if let Some(b) = parse_byte_piece(piece) {
                    return vec![b];
                }
            }
            TokenType::UserDefined | TokenType::Normal => {}
        }
        match &self.algorithm {
            Algorithm::Spm { space, .. } => {
                let text: String = piece
                    .chars()
                    .map(|c| if c == *space { ' ' } else { c })
                    .collect();
                let text = if previous.is_some() && previous == self.bos {
                    text.strip_prefix(' ').unwrap_or(&text).to_owned()
                } else {
                    text
                };
                text.into_bytes()
            }
            Algorithm::Bpe { char_byte, .. } => {
                if self.types[token as usize] == TokenType::UserDefined {
                    return piece.as_bytes().to_vec();
                }
                let mut out = Vec::with_capacity(piece.len());
                for c in piece.chars() {
                    match char_byte.get(&c) {
                        Some(&b) => out.push(b),
                        None => out.extend(c.encode_utf8(&mut [0; 4]).as_bytes()),
                    }
                }
                out
            }
        }
    }

    /// The text of a token sequence (invalid UTF-8 replaced).
    pub fn decode_all(&self, tokens: &[u32]) -> String {
        let mut bytes = Vec::new();
        let mut previous = None;
        for &t in tokens {
            bytes.extend(self.decode(previous, t));
            previous = Some(t);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// `<0x0A>` → 10.
fn parse_byte_piece(p: &str) -> Option<u8> {
    let hex = p.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

/// GPT-2's reversible map from bytes to printable characters.
fn byte_chars() -> [char; 256] {
    let mut out = ['\0'; 256];
    let mut next = 256u32;
    for (b, slot) in out.iter_mut().enumerate() {
        let printable = (33..=126).contains(&b) || (161..=172).contains(&b) || b >= 174;
        *slot = if printable {
            char::from(b as u8)
        } else {
            let c = char::from_u32(next).unwrap_or('\u{fffd}');
            next += 1;
            c
        };
    }
    out
}

fn is_letter(c: char) -> bool {
    use GeneralCategory::*;
    matches!(
        get_general_category(c),
        UppercaseLetter | LowercaseLetter | TitlecaseLetter | ModifierLetter | OtherLetter
    )
}

fn is_number(c: char) -> bool {
    use GeneralCategory::*;
    matches!(
        get_general_category(c),
        DecimalNumber | LetterNumber | OtherNumber
    )
}

/// Splits text as the pre-tokenizer's regular expression would.
pub fn pre_tokenize(pre: PreTokenizer, text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    match pre {
        PreTokenizer::Gpt2 => gpt2_split(text, &mut out),
        PreTokenizer::DigitsThenGpt2 => {
            let mut start = 0;
            for (i, c) in text.char_indices() {
                if is_number(c) {
                    gpt2_split(&text[start..i], &mut out);
                    out.push(&text[i..i + c.len_utf8()]);
                    start = i + c.len_utf8();
                }
            }
            gpt2_split(&text[start..], &mut out);
        }
    }
    out
}

/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
fn gpt2_split<'a>(text: &'a str, out: &mut Vec<&'a str>) {
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        let len = gpt2_match(rest);
        out.push(&rest[..len]);
        at += len;
    }
}

/// Length of the pattern's match at the start of `rest` (never 0 for a non-empty `rest`).
fn gpt2_match(rest: &str) -> usize {
    for suffix in ["s", "t", "re", "ve", "m", "ll", "d"] {
        if rest.starts_with('\'') && rest[1..].starts_with(suffix) {
            return 1 + suffix.len();
        }
    }
    let skip = usize::from(rest.starts_with(' '));
    let body = &rest[skip..];
    if let Some(c) = body.chars().next() {
        let run = |f: &dyn Fn(char) -> bool| -> usize {
            body.char_indices()
                .find(|&(_, c)| !f(c))
                .map_or(body.len(), |(i, _)| i)
        };
        let n = if is_letter(c) {
            run(&is_letter)
        } else if is_number(c) {
            run(&is_number)
        } else if !c.is_whitespace() {
            run(&|c| !c.is_whitespace() && !is_letter(c) && !is_number(c))
        } else {
            0
        };
        if n > 0 {
            return skip + n;
        }
    }
    // Whitespace: all of it at the end, else all but the last character before a
    // non-space (which then leads the next word), else one character.
    let end = rest
        .char_indices()
        .find(|&(_, c)| !c.is_whitespace())
        .map_or(rest.len(), |(i, _)| i);
    if end == rest.len() {
        return end;
    }
    let last = rest[..end].chars().next_back().map_or(0, char::len_utf8);
    if end > last {
        end - last
    } else {
        end.max(rest.chars().next().map_or(1, char::len_utf8))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    /// The splitter follows GPT-2's pattern, including its whitespace look-ahead.
    fn gpt2_pattern() {
        let split = |t| pre_tokenize(PreTokenizer::Gpt2, t);
        assert_eq!(split("Hello, world!"), ["Hello", ",", " world", "!"]);
        assert_eq!(
            split("it's  two  spaces"),
            ["it", "'s", " ", " two", " ", " spaces"]
        );
        assert_eq!(split("a\n\nb  "), ["a", "\n", "\n", "b", "  "]);
        assert_eq!(split("x 123 café"), ["x", " 123", " café"]);
        assert_eq!(
            pre_tokenize(PreTokenizer::DigitsThenGpt2, "x 123"),
            ["x", " ", "1", "2", "3"]
        );
    }
}
