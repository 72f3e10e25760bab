//! Chat prompts: a conversation laid out the way the model was trained to read it.
//!
//! GGUF files carry their chat template as Jinja source. Rather than run Jinja, the template is
//! recognised by its markers (as llama.cpp does) and the matching layout is written here:
//! ChatML (`<|im_start|>`), Llama 3 (`<|start_header_id|>`), Llama 2 (`[INST]`), Zephyr
//! (`<|user|>`) and Gemma (`<start_of_turn>`). A ChatML template that inserts a default system
//! message when the conversation has none (SmolLM2's does) has that message taken from it.

/// One turn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// What was said.
    pub content: String,
}

impl Message {
    /// A turn.
    pub fn new(role: &str, content: &str) -> Self {
        Self {
            role: role.to_owned(),
            content: content.to_owned(),
        }
    }
}

/// Template families.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `<|im_start|>role\n…<|im_end|>\n`.
    ChatMl,
    /// Llama 3's header blocks.
    Llama3,
    /// `[INST] … [/INST]`.
    Llama2,
    /// `<|role|>\n…</s>\n`.
    Zephyr,
    /// `<start_of_turn>role\n…<end_of_turn>\n`.
    Gemma,
}

/// The family of a Jinja chat template (ChatML when there is none).
pub fn family(template: Option<&str>) -> Family {
    let Some(t) = template else {
        return Family::ChatMl;
    };
    if t.contains("<|im_start|>") {
        Family::ChatMl
    } else if t.contains("<|start_header_id|>") {
        Family::Llama3
    } else if t.contains("<start_of_turn>") {
        Family::Gemma
    } else if t.contains("[INST]") {
        Family::Llama2
    } else if t.contains("<|user|>") {
        Family::Zephyr
    } else {
        Family::ChatMl
    }
}

/// The default system message a ChatML template adds when the first turn is not a system turn.
fn default_system(template: &str) -> Option<String> {
    if !template.contains("messages[0]['role'] != 'system'") {
        return None;
    }
    let start = template.find("<|im_start|>system\n")? + "<|im_start|>system\n".len();
    let end = template[start..].find("<|im_end|>")? + start;
    Some(template[start..end].to_owned())
}

/// The prompt for `messages`, ending with the opening of the assistant's turn.
pub fn prompt(template: Option<&str>, messages: &[Message]) -> String {
    let mut out = String::new();
    match family(template) {
        Family::ChatMl => {
            let needs_system = messages.first().is_none_or(|m| m.role != "system");
            if needs_system && let Some(system) = template.and_then(default_system) {
                out += &format!("<|im_start|>system\n{system}<|im_end|>\n");
            }
            for m in messages {
                out += &format!("<|im_start|>{}\n{}<|im_end|>\n", m.role, m.content);
            }
            out += "<|im_start|>assistant\n";
        }
        Family::Llama3 => {
            out += "<|begin_of_text|>";
            for m in messages {
                out += &format!(
                    "<|start_header_id|>{}<|end_header_id|>\n\n{}<|eot_id|>",
                    m.role,
                    m.content.trim()
                );
            }
            out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
        }
        Family::Llama2 => {
            let mut system = None;
            for m in messages {
                match m.role.as_str() {
                    "system" => system = Some(m.content.trim().to_owned()),
                    "user" => {
                        let text = match system.take() {
                            Some(s) => format!("<<SYS>>\n{s}\n<</SYS>>\n\n{}", m.content.trim()),
                            None => m.content.trim().to_owned(),
                        };
                        out += &format!("<s>[INST] {text} [/INST]");
                    }
                    _ => out += &format!(" {} </s>", m.content.trim()),
                }
            }
        }
        Family::Zephyr => {
            for m in messages {
                out += &format!("<|{}|>\n{}</s>\n", m.role, m.content);
            }
            out += "<|assistant|>\n";
        }
        Family::Gemma => {
            let mut system = String::new();
            for m in messages {
                let role = if m.role == "assistant" {
                    "model"
                } else {
                    m.role.as_str()
                };
                if role == "system" {
                    system = format!("{}\n\n", m.content.trim());
                    continue;
                }
                let content = format!("{}{}", std::mem::take(&mut system), m.content.trim());
                out += &format!("<start_of_turn>{role}\n{content}<end_of_turn>\n");
            }
            out += "<start_of_turn>model\n";
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    /// SmolLM2's template: ChatML with its default system message taken from the template.
    fn chatml_with_default_system() {
        let template = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are helpful<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}";
        let p = prompt(Some(template), &[Message::new("user", "Hi")]);
        assert_eq!(
            p,
            "<|im_start|>system\nYou are helpful<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
        let own = prompt(
            Some(template),
            &[
                Message::new("system", "Be brief"),
                Message::new("user", "Hi"),
            ],
        );
        assert!(own.starts_with("<|im_start|>system\nBe brief<|im_end|>"));
        assert_eq!(family(Some("{{ '[INST] ' }}")), Family::Llama2);
    }
}
