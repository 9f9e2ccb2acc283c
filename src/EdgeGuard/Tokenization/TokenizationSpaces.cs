using System.Text;

namespace EdgeGuard.Tokenization;

/// <summary>Hugging Face transformers' <c>clean_up_tokenization</c>, which decoders apply to text joined with spaces.</summary>
internal static class TokenizationSpaces
{
    private static readonly (string From, string To)[] Rules =
    [
        (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
    ];

    /// <summary>Removes the space before <c>. ? ! ,</c> and English contractions, rule after rule as transformers does.</summary>
    public static string CleanUp(StringBuilder text)
    {
        foreach (var (from, to) in Rules)
        {
            text.Replace(from, to);
        }

        return text.ToString();
    }
}
