using EdgeGuard.Tokenization;

namespace EdgeGuard.Generation;

/// <summary>
/// A conversation with a model group: the messages so far (system, user, assistant) rendered by the primary model's chat
/// template, and a <see cref="Generator"/> that writes each assistant reply. The template's end-of-turn token ends a reply
/// besides the tokenizer's end-of-sequence token. Each turn only runs the tokens the generator's sessions do not hold yet.
/// Not thread-safe: one conversation, one turn at a time.
/// </summary>
public sealed class ChatSession
{
    private readonly List<ChatMessage> _messages = [];
    private readonly IGenerativeTokenizer _tokenizer;

    /// <summary>A conversation with <paramref name="group"/>, starting with <paramref name="systemPrompt"/> when given.</summary>
    /// <param name="dateString">Llama 3.1+ templates: the "Today Date" line (default: the template's own, <see cref="ChatTemplate.Llama3DefaultDate"/>).</param>
    /// <exception cref="ModelFiles.ModelFileException">The primary model's tokenizer has no chat template, or one this runtime does not know (named in the message).</exception>
    /// <exception cref="InvalidOperationException">The primary model has no tokenizer.</exception>
    public ChatSession(ModelGroup group, GenerationOptions? options = null, string? systemPrompt = null, string? dateString = null, int contextLength = 0)
    {
        ArgumentNullException.ThrowIfNull(group);
        _tokenizer = group.Tokenizer ?? throw new InvalidOperationException($"The model '{group.Primary.Name}' has no tokenizer, so it has no chat template.");
        Template = _tokenizer.GetChatTemplate();
        DateString = dateString;
        options ??= new GenerationOptions();
        int? endOfTurn = EndOfTurnToken(Template, _tokenizer);
        if (endOfTurn is int id && !options.StopTokenIds.Contains(id))
        {
            options = options with { StopTokenIds = [.. options.StopTokenIds, id] };
        }

        Generator = new Generator(group, options, contextLength);
        if (systemPrompt is not null)
        {
            _messages.Add(new ChatMessage("system", systemPrompt));
        }
    }

    /// <summary>The template the conversation is rendered with.</summary>
    public ChatTemplate Template { get; }

    /// <summary>The Llama 3.1+ "Today Date" line, or null for the template's default.</summary>
    public string? DateString { get; }

    /// <summary>The generator that writes the replies (its <see cref="Generator.LastResult"/> is the last reply's outcome).</summary>
    public Generator Generator { get; }

    /// <summary>The conversation so far.</summary>
    public IReadOnlyList<ChatMessage> Messages => _messages;

    /// <summary>Adds a message without generating (e.g. an earlier assistant turn).</summary>
    public void Add(ChatMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        _messages.Add(message);
    }

    /// <summary>The ids of the conversation followed by the header of an assistant turn, as the model reads it.</summary>
    public int[] RenderPrompt() => Template.Encode(_tokenizer, _messages, addGenerationPrompt: true, DateString);

    /// <summary>
    /// Adds the user's <paramref name="message"/>, generates the reply and adds it as the assistant's turn. A cancelled
    /// reply adds nothing: the conversation stays as it was.
    /// </summary>
    /// <exception cref="ArgumentException">The roles break the template's rules, or the conversation no longer fits the context (and overflow is refused).</exception>
    public GenerationResult Send(string message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        _messages.Add(new ChatMessage("user", message));
        GenerationResult result;
        try
        {
            result = Generator.Generate(RenderPrompt(), cancellationToken);
        }
        catch
        {
            _messages.RemoveAt(_messages.Count - 1);
            throw;
        }

        Conclude(result);
        return result;
    }

    /// <summary>As <see cref="Send"/>, streaming the reply as it is written.</summary>
    public async IAsyncEnumerable<string> SendStreamingAsync(string message, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        _messages.Add(new ChatMessage("user", message));
        bool concluded = false;
        try
        {
            int[] prompt = RenderPrompt();
            await foreach (string piece in Generator.GenerateStreamingAsync(prompt, cancellationToken).ConfigureAwait(false))
            {
                yield return piece;
            }

            Conclude(Generator.LastResult!);
            concluded = true;
        }
        finally
        {
            if (!concluded)
            {
                _messages.RemoveAt(_messages.Count - 1);
            }
        }
    }

    private void Conclude(GenerationResult result)
    {
        if (result.FinishReason == FinishReason.Cancelled)
        {
            _messages.RemoveAt(_messages.Count - 1);
            return;
        }

        _messages.Add(new ChatMessage("assistant", result.Text));
    }

    /// <summary>The token that closes a turn in <paramref name="template"/>'s family, when the tokenizer has it.</summary>
    private static int? EndOfTurnToken(ChatTemplate template, IGenerativeTokenizer tokenizer) => template.Family switch
    {
        ChatTemplateFamily.Llama3 => tokenizer.SpecialTokenId("<|eot_id|>"),
        ChatTemplateFamily.ChatMl => tokenizer.SpecialTokenId("<|im_end|>"),
        _ => tokenizer.EosId,
    };
}
