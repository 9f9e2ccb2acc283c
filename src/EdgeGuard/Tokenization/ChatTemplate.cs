using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Tokenization;

/// <summary>The chat template families this runtime writes as code (no Jinja engine).</summary>
public enum ChatTemplateFamily
{
    /// <summary>Llama 3: <c>&lt;|begin_of_text|&gt;&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\ncontent&lt;|eot_id|&gt;</c>; Llama 3.1+ also write a system header with the knowledge and today's dates.</summary>
    Llama3,

    /// <summary>ChatML (Qwen2, SmolLM2): <c>&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n</c>, with the template's default system prompt when it has one.</summary>
    ChatMl,

    /// <summary>Llama 2 chat: <c>&lt;s&gt;[INST] &lt;&lt;SYS&gt;&gt;\nsystem\n&lt;&lt;/SYS&gt;&gt;\n\nuser [/INST] answer &lt;/s&gt;</c>.</summary>
    Llama2,

    /// <summary>Zephyr (TinyLlama chat): <c>&lt;|user|&gt;\ncontent&lt;/s&gt;\n</c> … <c>&lt;|assistant|&gt;\n</c>.</summary>
    Zephyr,
}

/// <summary>One turn of a conversation.</summary>
/// <param name="Role"><c>system</c>, <c>user</c> or <c>assistant</c> (Llama 3 and ChatML print any role as it is).</param>
/// <param name="Content">The turn's text; text that spells a special token stays text.</param>
public sealed record ChatMessage(string Role, string Content);

/// <summary>
/// A model's chat template, recognised from the Jinja source in <c>tokenizer_config.json</c> by the markers of a family
/// (<see cref="ChatTemplateFamily"/>) and rendered by code that reproduces what Hugging Face's <c>apply_chat_template</c>
/// makes of plain role/content messages (no tools, no reasoning fields). Role content is always text: a message that spells
/// <c>&lt;|im_end|&gt;</c> or <c>&lt;/s&gt;</c> cannot end its turn. Immutable.
/// </summary>
public sealed partial class ChatTemplate
{
    /// <summary>What Llama 3.1+ templates print as today's date when the caller gives none (their own fallback).</summary>
    public const string Llama3DefaultDate = "26 Jul 2024";

    private const int QuotedLength = 80;

    private readonly string? _bosToken;
    private readonly bool _alwaysGenerationPrompt;
    private readonly string? _eosToken;

    private ChatTemplate(ChatTemplateFamily family, string? defaultSystemPrompt, bool dateHeader, string? bosToken, string? eosToken, bool alwaysGenerationPrompt = false)
    {
        _alwaysGenerationPrompt = alwaysGenerationPrompt;
        Family = family;
        DefaultSystemPrompt = defaultSystemPrompt;
        HasDateHeader = dateHeader;
        _bosToken = bosToken;
        _eosToken = eosToken;
    }

    /// <summary>The family the template was recognised as.</summary>
    public ChatTemplateFamily Family { get; }

    /// <summary>The system prompt a ChatML template puts first when the conversation has none (Qwen2's "You are a helpful assistant."), or null.</summary>
    public string? DefaultSystemPrompt { get; }

    /// <summary>A Llama 3.1+ template: a system header with "Cutting Knowledge Date" and "Today Date" always comes first.</summary>
    public bool HasDateHeader { get; }

    /// <summary>
    /// Recognises <paramref name="template"/> (the Jinja source) as one of the families by its distinctive markers.
    /// <paramref name="bosToken"/> and <paramref name="eosToken"/> are what the template's <c>bos_token</c> and <c>eos_token</c> print.
    /// </summary>
    /// <exception cref="ModelFileException">There is no template, or it is none of the families; the message quotes its start.</exception>
    public static ChatTemplate Recognize(string? template, string origin, string? bosToken = null, string? eosToken = null)
    {
        if (string.IsNullOrWhiteSpace(template))
        {
            throw new ModelFileException($"{origin}: the tokenizer has no chat_template; chat needs one of the families llama3, chatml, llama2, zephyr.");
        }

        bool Has(string marker) => template.Contains(marker, StringComparison.Ordinal);
        if (Has("<|start_header_id|>") && Has("<|end_header_id|>") && Has("<|eot_id|>"))
        {
            // The first Llama 3 instruct template ended every conversation with the assistant header, whatever the caller asked.
            return new(ChatTemplateFamily.Llama3, null, Has("Cutting Knowledge Date"), bosToken, eosToken, alwaysGenerationPrompt: !Has("add_generation_prompt"));
        }

        if (Has("<|im_start|>") && Has("<|im_end|>"))
        {
            var match = DefaultSystemPromptPattern().Match(template);
            return new(ChatTemplateFamily.ChatMl, match.Success ? match.Groups[1].Value : null, false, bosToken, eosToken);
        }

        if (Has("[INST]") && Has("[/INST]") && Has("<<SYS>>"))
        {
            return new(ChatTemplateFamily.Llama2, null, false, bosToken, eosToken);
        }

        if (Has("<|user|>") && Has("<|assistant|>") && Has("eos_token") && !Has("<|end|>"))
        {
            return new(ChatTemplateFamily.Zephyr, null, false, bosToken, eosToken);
        }

        string start = template.Length <= QuotedLength ? template : template[..QuotedLength] + "…";
        throw new ModelFileException($"{origin}: the chat_template is none of the families this runtime knows (llama3, chatml, llama2, zephyr): {ErrorText.Quote(start)}.");
    }

    /// <summary>
    /// The text of the conversation as the template prints it, special tokens spelled out; what Hugging Face's
    /// <c>apply_chat_template(..., tokenize=False)</c> returns for the same messages.
    /// </summary>
    /// <param name="messages">The conversation.</param>
    /// <param name="addGenerationPrompt">End with the header of an assistant turn, for the model to write it.</param>
    /// <param name="dateString">Llama 3.1+: the "Today Date" line (default <see cref="Llama3DefaultDate"/>).</param>
    /// <exception cref="ArgumentException">The roles break the family's rules (Llama 2 alternates user and assistant; Zephyr knows system, user, assistant).</exception>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, string? dateString = null)
    {
        var text = new StringBuilder();
        foreach (var part in Parts(messages, addGenerationPrompt, dateString))
        {
            text.Append(part.Text);
        }

        return text.ToString();
    }

    /// <summary>
    /// The ids of the conversation: the template's special tokens as their ids, everything between them (role names,
    /// separators, message content) encoded as ordinary text, as Hugging Face tokenizes the rendered text, except that
    /// content spelling a special token stays text.
    /// </summary>
    /// <exception cref="ArgumentException">The roles break the family's rules.</exception>
    /// <exception cref="ModelFileException">The tokenizer lacks a special token the template prints.</exception>
    public int[] Encode(IGenerativeTokenizer tokenizer, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, string? dateString = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var ids = new List<int>();
        var text = new StringBuilder();
        foreach (var part in Parts(messages, addGenerationPrompt, dateString))
        {
            if (!part.Special)
            {
                text.Append(part.Text);
                continue;
            }

            int id = tokenizer.SpecialTokenId(part.Text)
                ?? throw new ModelFileException($"The {Family} chat template prints {ErrorText.Quote(part.Text)}, which is not a special token of this tokenizer.");
            Flush(tokenizer, text, ids);
            ids.Add(id);
        }

        Flush(tokenizer, text, ids);
        return [.. ids];
    }

    /// <summary>The <c>chat_template</c> of a <c>tokenizer_config.json</c>: a string, or a list of named templates of which "default" is taken; null when absent.</summary>
    internal static string? ReadFromConfig(JsonElement config, string path)
    {
        if (!config.TryGetProperty("chat_template", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.String)
        {
            return value.GetString();
        }

        if (value.ValueKind == JsonValueKind.Array)
        {
            foreach (var named in value.EnumerateArray())
            {
                if (named.ValueKind == JsonValueKind.Object && TokenizerFileReader.String(named, "name", path) == "default")
                {
                    return TokenizerFileReader.String(named, "template", path);
                }
            }

            throw new ModelFileException($"{path}: chat_template is a list without a template named \"default\".");
        }

        throw new ModelFileException($"{path}: chat_template must be a string or a list of {{name, template}}.");
    }

    private static void Flush(IGenerativeTokenizer tokenizer, StringBuilder text, List<int> ids)
    {
        if (text.Length > 0)
        {
            tokenizer.Encode(text.ToString(), ids);
            text.Clear();
        }
    }

    private List<Part> Parts(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, string? dateString)
    {
        ArgumentNullException.ThrowIfNull(messages);
        foreach (var message in messages)
        {
            ArgumentNullException.ThrowIfNull(message, nameof(messages));
            ArgumentNullException.ThrowIfNull(message.Role, nameof(messages));
            ArgumentNullException.ThrowIfNull(message.Content, nameof(messages));
        }

        var parts = new List<Part>();
        switch (Family)
        {
            case ChatTemplateFamily.Llama3:
                Llama3(messages, addGenerationPrompt, dateString ?? Llama3DefaultDate, parts);
                break;
            case ChatTemplateFamily.ChatMl:
                ChatMl(messages, addGenerationPrompt, parts);
                break;
            case ChatTemplateFamily.Llama2:
                Llama2(messages, parts);
                break;
            default:
                Zephyr(messages, addGenerationPrompt, parts);
                break;
        }

        return parts;
    }

    private void Llama3(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, string date, List<Part> parts)
    {
        // Llama 3.0 prints bos_token in front of the first message, Llama 3.1+ in front of everything.
        if (HasDateHeader || messages.Count > 0)
        {
            Special(parts, Require(_bosToken, "bos_token"));
        }

        int first = 0;
        if (HasDateHeader)
        {
            string system = messages.Count > 0 && messages[0].Role == "system" ? PythonStrip(messages[0].Content) : string.Empty;
            first = messages.Count > 0 && messages[0].Role == "system" ? 1 : 0;
            Header(parts, "system");
            Text(parts, $"Cutting Knowledge Date: December 2023\nToday Date: {date}\n\n");
            Text(parts, system);
            Special(parts, "<|eot_id|>");
        }

        for (int i = first; i < messages.Count; i++)
        {
            Header(parts, messages[i].Role);
            Text(parts, PythonStrip(messages[i].Content));
            Special(parts, "<|eot_id|>");
        }

        if (addGenerationPrompt || _alwaysGenerationPrompt)
        {
            Header(parts, "assistant");
        }

        static void Header(List<Part> parts, string role)
        {
            Special(parts, "<|start_header_id|>");
            Text(parts, role);
            Special(parts, "<|end_header_id|>");
            Text(parts, "\n\n");
        }
    }

    private void ChatMl(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, List<Part> parts)
    {
        // The templates print the default inside their message loop: an empty conversation gets none.
        if (DefaultSystemPrompt is not null && messages.Count > 0 && messages[0].Role != "system")
        {
            Turn(parts, "system", DefaultSystemPrompt);
        }

        foreach (var message in messages)
        {
            Turn(parts, message.Role, message.Content);
        }

        if (addGenerationPrompt)
        {
            Special(parts, "<|im_start|>");
            Text(parts, "assistant\n");
        }

        static void Turn(List<Part> parts, string role, string content)
        {
            Special(parts, "<|im_start|>");
            Text(parts, role + "\n");
            Text(parts, content);
            Special(parts, "<|im_end|>");
            Text(parts, "\n");
        }
    }

    // The generation prompt is the open [INST] … [/INST] itself: the template prints nothing more for it.
    private void Llama2(IReadOnlyList<ChatMessage> messages, List<Part> parts)
    {
        string? system = messages.Count > 0 && messages[0].Role == "system" ? messages[0].Content : null;
        int offset = system is null ? 0 : 1;
        for (int i = offset; i < messages.Count; i++)
        {
            var message = messages[i];
            bool userTurn = (i - offset) % 2 == 0;
            if (message.Role != (userTurn ? "user" : "assistant"))
            {
                throw new ArgumentException($"Llama 2 chat needs roles alternating user/assistant/… after an optional system message; message {i} is '{message.Role}'.", nameof(messages));
            }

            string content = i == offset && system is not null ? $"<<SYS>>\n{system}\n<</SYS>>\n\n{message.Content}" : message.Content;
            if (userTurn)
            {
                Special(parts, Require(_bosToken, "bos_token"));
                Text(parts, "[INST] " + PythonStrip(content) + " [/INST]");
            }
            else
            {
                Text(parts, " " + PythonStrip(content) + " ");
                Special(parts, Require(_eosToken, "eos_token"));
            }
        }
    }

    private void Zephyr(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, List<Part> parts)
    {
        foreach (var message in messages)
        {
            if (message.Role is not ("system" or "user" or "assistant"))
            {
                throw new ArgumentException($"The Zephyr chat template knows the roles system, user and assistant, not '{message.Role}'.", nameof(messages));
            }

            Text(parts, $"<|{message.Role}|>\n{message.Content}");
            Special(parts, Require(_eosToken, "eos_token"));
            Text(parts, "\n");
        }

        // The template prints the generation prompt inside its message loop (after the last message): none without messages.
        if (addGenerationPrompt && messages.Count > 0)
        {
            Text(parts, "<|assistant|>\n");
        }
    }

    private string Require(string? token, string name) =>
        token ?? throw new ModelFileException($"The {Family} chat template prints {name}, which the tokenizer's files do not name.");

    private static void Special(List<Part> parts, string token) => parts.Add(new Part(token, true));

    private static void Text(List<Part> parts, string text) => parts.Add(new Part(text, false));

    /// <summary>Python's <c>str.strip()</c> (Jinja's <c>trim</c>): white space as Python counts it, which adds U+001C..U+001F to .NET's.</summary>
    private static string PythonStrip(string text)
    {
        int start = 0, end = text.Length;
        while (start < end && IsPythonSpace(text[start]))
        {
            start++;
        }

        while (end > start && IsPythonSpace(text[end - 1]))
        {
            end--;
        }

        return text[start..end];

        static bool IsPythonSpace(char c) => char.IsWhiteSpace(c) || c is >= '\u001C' and <= '\u001F';
    }

    [GeneratedRegex(@"<\|im_start\|>system(?:\\n|\n)([^'""{}\\]+?)<\|im_end\|>")]
    private static partial Regex DefaultSystemPromptPattern();

    private readonly record struct Part(string Text, bool Special);
}
