//! Bundling a multi-file Lua process into one `lua-5.3` chunk.
//!
//! Every file but the main one becomes a `package.preload` entry under its require name
//! (`a/b.lua` → `a.b`, `a/init.lua` → `a`), compiled with its own chunk name so errors point at
//! the right file and line; then the main file runs. `require('.a.b')`, as aos writes it,
//! resolves through the sandbox's `require`.

use std::fmt::Write as _;

/// One source file: its path relative to the process folder (with `/`) and its text.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// `a/b.lua`.
    pub path: String,
    /// The file's contents.
    pub text: String,
}

/// Why a folder does not bundle.
#[derive(Debug, PartialEq, Eq)]
pub enum BundleError {
    /// The main file is not among the files.
    MissingMain(String),
    /// Two files map to one require name.
    Duplicate(String),
}

/// The require name of a path: `a/b.lua` → `a.b`, `a/init.lua` → `a`.
pub fn require_name(path: &str) -> String {
    let stem = path.strip_suffix(".lua").unwrap_or(path);
    let stem = stem.strip_suffix("/init").unwrap_or(stem);
    stem.replace('/', ".")
}

/// Bundles `files` into one chunk whose last part runs `main` (a path among them). Entries are
/// written in path order, so the same folder always gives the same bytes.
///
/// # Errors
/// [`BundleError::MissingMain`], [`BundleError::Duplicate`].
pub fn bundle(files: &[SourceFile], main: &str) -> Result<String, BundleError> {
    let mut sorted: Vec<&SourceFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let main_file = sorted
        .iter()
        .find(|f| f.path == main)
        .ok_or_else(|| BundleError::MissingMain(main.to_owned()))?;
    let mut names = std::collections::BTreeSet::new();
    let mut out = String::from("-- bundled by `aorta module build`\n");
    for file in sorted.iter().filter(|f| f.path != main) {
        let name = require_name(&file.path);
        if !names.insert(name.clone()) {
            return Err(BundleError::Duplicate(name));
        }
        let _ = writeln!(
            out,
            "package.preload[{}] = assert(load({}, {}))",
            quote(&name),
            long_string(&file.text),
            quote(&format!("={}", file.path)),
        );
    }
    let _ = writeln!(
        out,
        "return assert(load({}, {}))(...)",
        long_string(&main_file.text),
        quote(&format!("={}", main_file.path)),
    );
    Ok(out)
}

/// A Lua short string literal.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\{}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A Lua long string holding `text` exactly: the level is one no closing bracket in the text
/// uses. A leading newline is added because Lua drops the first one after the opening bracket.
fn long_string(text: &str) -> String {
    let mut level = 0;
    while text.contains(&format!("]{}]", "=".repeat(level))) {
        level += 1;
    }
    let eq = "=".repeat(level);
    format!("[{eq}[\n{text}]{eq}]")
}

impl std::fmt::Display for BundleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingMain(main) => write!(f, "the main file {main:?} is not in the folder"),
            Self::Duplicate(name) => write!(f, "two files give the require name {name:?}"),
        }
    }
}

impl std::error::Error for BundleError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn require_names() {
        assert_eq!(require_name("a/b.lua"), "a.b");
        assert_eq!(require_name("a/init.lua"), "a");
        assert_eq!(require_name("top.lua"), "top");
    }

    #[test]
    fn long_strings_survive_any_brackets() {
        let text = "x = [[a]] .. [=[b]=] -- ]==]";
        let lit = long_string(text);
        assert!(lit.starts_with("[===[\n"), "{lit}");
        assert!(lit.ends_with("]===]"));
    }
}
