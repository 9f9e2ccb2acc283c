namespace EdgeGuard.Tokenization;

/// <summary>Conveniences every <see cref="ITokenizer"/> gets from its <see cref="ITokenizer.Template"/>.</summary>
public static class TokenizerExtensions
{
    /// <summary>
    /// Encodes a prompt, or a prompt and a response, as one model row through the tokenizer's template, truncated
    /// longest-first to <paramref name="maxLength"/> tokens (see <see cref="PairTemplate.Build"/>).
    /// </summary>
    /// <param name="tokenizer">The tokenizer.</param>
    /// <param name="prompt">The user prompt.</param>
    /// <param name="response">The model's response, or null to encode the prompt alone. An empty response still gets its special tokens.</param>
    /// <param name="maxLength">The most tokens to return, special tokens included.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLength"/> cannot hold the template's special tokens.</exception>
    public static EncodedPair EncodePair(this ITokenizer tokenizer, string prompt, string? response, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(prompt);
        var template = tokenizer.Template;
        bool hasResponse = response is not null;
        if (maxLength < template.SpecialTokenCount(hasResponse))
        {
            // Checked before encoding so a bad length costs nothing.
            return template.Build([], [], hasResponse, maxLength);
        }

        var promptIds = new List<int>();
        var responseIds = new List<int>();
        tokenizer.Encode(prompt, promptIds);
        if (response is not null)
        {
            tokenizer.Encode(response, responseIds);
        }

        return template.Build(
            System.Runtime.InteropServices.CollectionsMarshal.AsSpan(promptIds),
            System.Runtime.InteropServices.CollectionsMarshal.AsSpan(responseIds),
            hasResponse,
            maxLength);
    }
}
