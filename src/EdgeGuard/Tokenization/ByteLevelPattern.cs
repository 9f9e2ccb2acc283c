namespace EdgeGuard.Tokenization;

/// <summary>
/// The regular expression that cuts text into pre-tokens before byte-level BPE. Each supported pattern is matched by hand
/// (<see cref="Gpt2PreTokenizer"/>, <see cref="Cl100kPreTokenizer"/>); a <c>tokenizer.json</c> naming any other is refused.
/// </summary>
public enum ByteLevelPattern
{
    /// <summary>No pattern: the text (or each digit split) is one pre-token.</summary>
    None,

    /// <summary>GPT-2's pattern (the <c>ByteLevel</c> pre-tokenizer with <c>use_regex</c>): GPT-2, RoBERTa, SmolLM.</summary>
    Gpt2,

    /// <summary>tiktoken's <c>cl100k_base</c> pattern with up to three digits per pre-token: Llama 3.</summary>
    Llama3,

    /// <summary>The <c>cl100k_base</c> pattern with one digit per pre-token: Qwen2, Qwen2.5, Qwen3.</summary>
    Qwen2,
}

/// <summary>How a <c>Digits</c> pre-tokenizer splits numbers off before the pattern runs.</summary>
public enum DigitSplitting
{
    /// <summary>No <c>Digits</c> step.</summary>
    None,

    /// <summary><c>Digits</c> with <c>individual_digits</c>: every numeric code point is its own piece (SmolLM).</summary>
    Individual,

    /// <summary><c>Digits</c> without <c>individual_digits</c>: each run of numeric code points is one piece.</summary>
    Runs,
}

/// <summary>Runs a <see cref="ByteLevelPattern"/> and a <see cref="DigitSplitting"/> over text, without allocating.</summary>
internal static class ByteLevelPreTokenizer
{
    /// <summary>The pattern a <c>Split</c> pre-tokenizer's regex spells, or null when it is none this runtime implements.</summary>
    public static ByteLevelPattern? FromRegex(string regex) => regex switch
    {
        Gpt2PreTokenizer.Regex => ByteLevelPattern.Gpt2,
        Cl100kPreTokenizer.Llama3Regex => ByteLevelPattern.Llama3,
        Cl100kPreTokenizer.Qwen2Regex => ByteLevelPattern.Qwen2,
        _ => null,
    };

    /// <summary>Length in UTF-16 units of the pre-token at the start of <paramref name="text"/> (not empty).</summary>
    public static int NextLength(ReadOnlySpan<char> text, ByteLevelPattern pattern) => pattern switch
    {
        ByteLevelPattern.Gpt2 => Gpt2PreTokenizer.NextLength(text),
        ByteLevelPattern.Llama3 => Cl100kPreTokenizer.NextLength(text, maxDigits: 3),
        ByteLevelPattern.Qwen2 => Cl100kPreTokenizer.NextLength(text, maxDigits: 1),
        _ => text.Length,
    };

    /// <summary>Length of the <c>Digits</c> piece at the start of <paramref name="text"/>: a digit (or run of digits), or the non-digits before the next.</summary>
    public static int DigitPieceLength(ReadOnlySpan<char> text, DigitSplitting digits)
    {
        if (digits == DigitSplitting.None)
        {
            return text.Length;
        }

        if (PreTokenizerText.ClassAt(text, out int width) == CharClass.Number)
        {
            return digits == DigitSplitting.Individual ? width : PreTokenizerText.RunLength(text, CharClass.Number);
        }

        int at = width;
        while (at < text.Length && PreTokenizerText.ClassAt(text[at..], out width) != CharClass.Number)
        {
            at += width;
        }

        return at;
    }
}
