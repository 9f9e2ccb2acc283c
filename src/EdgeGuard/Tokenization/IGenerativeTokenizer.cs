namespace EdgeGuard.Tokenization;

/// <summary>
/// What a decoder language model needs from its tokenizer beyond <see cref="ITokenizer"/>: the beginning- and
/// end-of-sequence ids, text with special tokens when the caller asks for them explicitly, decoding that streams, and the
/// model's chat template. <see cref="ITokenizer.Template"/> is how a prompt is framed (Llama's BOS in front, or nothing).
/// Implementations are immutable and safe to use from many threads.
/// </summary>
/// <remarks>
/// <see cref="ITokenizer.Encode(string)"/> never gives a special id, whatever the text spells
/// (docs/decisions/0003-special-token-text.md); only <see cref="EncodeWithSpecialTokens"/>, which a caller must choose,
/// reads token texts as their ids.
/// </remarks>
public interface IGenerativeTokenizer : ITokenizer
{
    /// <summary>The beginning-of-sequence id (<c>bos_token</c>), or null when the model has none (Qwen2, GPT-2 without one).</summary>
    int? BosId { get; }

    /// <summary>The end-of-sequence id (<c>eos_token</c>), or null when the files name none.</summary>
    int? EosId { get; }

    /// <summary>The id of the special or added token spelled <paramref name="content"/>, or null when there is none.</summary>
    int? SpecialTokenId(string content);

    /// <summary>Whether <paramref name="id"/> is a special token (Decode prints nothing for it).</summary>
    bool IsSpecial(int id);

    /// <summary>
    /// Appends the ids of <paramref name="text"/> to <paramref name="ids"/>, reading every added or special token text in it
    /// as that token's id (the longest at each position), the rest as ordinary text. For trusted text only: a user who can
    /// put <c>&lt;|im_end|&gt;</c> into it can end a turn.
    /// </summary>
    void EncodeWithSpecialTokens(ReadOnlySpan<char> text, List<int> ids);

    /// <summary>A decoder that takes ids one at a time and gives back only complete text (see <see cref="StreamingDecoder"/>).</summary>
    StreamingDecoder CreateStreamingDecoder();

    /// <summary>The model's chat template, recognised from <c>tokenizer_config.json</c>'s <c>chat_template</c>.</summary>
    /// <exception cref="ModelFiles.ModelFileException">The files have no chat template, or one this runtime does not know (named in the message).</exception>
    ChatTemplate GetChatTemplate();
}
