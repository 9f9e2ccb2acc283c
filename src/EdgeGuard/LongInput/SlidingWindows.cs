using EdgeGuard.Tokenization;

namespace EdgeGuard.LongInput;

/// <summary>A model window: a slice of the prompt's tokens and a slice of the response's tokens.</summary>
internal readonly record struct TokenWindow(int PromptStart, int PromptLength, int ResponseStart, int ResponseLength)
{
    /// <summary>Tokens of the window's row, the special tokens of <paramref name="template"/> included.</summary>
    public int TokenCount(PairTemplate template, bool hasResponse) => template.RowLength(PromptLength, ResponseLength, hasResponse);
}

/// <summary>
/// Plans the windows that cover a long input. A prompt alone is cut into overlapping windows. For a pair, the
/// response gets at least half of each window (it is what a pair's label judges) and the prompt the rest; the
/// windows are every combination of a prompt slice and a response slice, so every token of both is seen and every
/// response slice is seen with every part of its prompt.
/// </summary>
internal static class SlidingWindows
{
    /// <summary>Adds the windows for the given segment lengths to <paramref name="windows"/>.</summary>
    /// <param name="template">The rows' layout, which says how many special tokens each window holds.</param>
    /// <param name="windowTokens">Tokens per window, special tokens included.</param>
    /// <param name="stride">Tokens between window starts over one segment; null for half the segment's window.</param>
    public static void Plan(int promptTokens, int responseTokens, bool hasResponse, PairTemplate template, int windowTokens, int? stride, List<TokenWindow> windows)
    {
        int budget = windowTokens - template.SpecialTokenCount(hasResponse);
        if (budget < (hasResponse ? 2 : 1))
        {
            throw new ArgumentOutOfRangeException(nameof(windowTokens), windowTokens, "The window is too small to hold the special tokens and any text.");
        }

        if (promptTokens + responseTokens <= budget)
        {
            windows.Add(new TokenWindow(0, promptTokens, 0, responseTokens));
            return;
        }

        if (!hasResponse)
        {
            foreach (int start in Starts(promptTokens, budget, stride))
            {
                windows.Add(new TokenWindow(start, budget, 0, 0));
            }

            return;
        }

        int responseSize = Math.Min(responseTokens, budget - Math.Min(promptTokens, budget / 2));
        int promptSize = Math.Min(promptTokens, budget - responseSize);
        foreach (int p in Starts(promptTokens, promptSize, stride))
        {
            foreach (int r in Starts(responseTokens, responseSize, stride))
            {
                windows.Add(new TokenWindow(p, promptSize, r, responseSize));
            }
        }
    }

    /// <summary>Number of windows <see cref="Plan"/> would add, without listing them.</summary>
    public static long Count(int promptTokens, int responseTokens, bool hasResponse, PairTemplate template, int windowTokens, int? stride)
    {
        int budget = windowTokens - template.SpecialTokenCount(hasResponse);
        if (promptTokens + responseTokens <= budget)
        {
            return 1;
        }

        if (!hasResponse)
        {
            return CountStarts(promptTokens, budget, stride);
        }

        int responseSize = Math.Min(responseTokens, budget - Math.Min(promptTokens, budget / 2));
        int promptSize = Math.Min(promptTokens, budget - responseSize);
        return CountStarts(promptTokens, promptSize, stride) * CountStarts(responseTokens, responseSize, stride);
    }

    /// <summary>Window starts over a segment: every stride, and a last window flush with the segment's end.</summary>
    private static IEnumerable<int> Starts(int length, int size, int? stride)
    {
        if (length <= size)
        {
            yield return 0;
            yield break;
        }

        int step = StepFor(size, stride);
        int start = 0;
        for (; start + size < length; start += step)
        {
            yield return start;
        }

        yield return length - size;
    }

    private static long CountStarts(int length, int size, int? stride)
    {
        if (length <= size)
        {
            return 1;
        }

        int step = StepFor(size, stride);
        return ((length - size + step - 1) / step) + 1;
    }

    private static int StepFor(int size, int? stride) => Math.Clamp(stride ?? (size / 2), 1, Math.Max(1, size));
}
