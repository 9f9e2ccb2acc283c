namespace EdgeGuard;

/// <summary>What to do with input longer than one model window.</summary>
public enum LongInputMode
{
    /// <summary>
    /// Classify overlapping windows that together cover every token, and report the highest unsafe score
    /// of any window. Nothing is ignored; cost grows with length.
    /// </summary>
    SlidingWindow,

    /// <summary>
    /// Cut the input to one window (longest segment first) and set <see cref="Verdict.Truncated"/>.
    /// Faster, but text beyond the window is not seen.
    /// </summary>
    Truncate,
}

/// <summary>Options for <see cref="Guard.Open(string, GuardOptions?)"/>.</summary>
public sealed record GuardOptions
{
    /// <summary>Worker threads for inference; 0 means one per processor.</summary>
    public int Threads { get; init; }

    /// <summary>Decision threshold on the unsafe probability; null uses the model's own (0.5 for a Hugging Face directory without one).</summary>
    public float? Threshold { get; init; }

    /// <summary>Tokens per model window including the special tokens; null uses the model's maximum, capped at 512.</summary>
    public int? WindowTokens { get; init; }

    /// <summary>Tokens between the starts of consecutive windows over one segment; null uses half the segment's window.</summary>
    public int? WindowStride { get; init; }

    /// <summary>How input longer than one window is handled.</summary>
    public LongInputMode LongInput { get; init; } = LongInputMode.SlidingWindow;

    /// <summary>Largest number of windows one input may need before it is refused with an error instead of a verdict.</summary>
    public int MaxWindows { get; init; } = 2048;

    /// <summary>Largest number of windows run through the model together.</summary>
    public int MaxBatch { get; init; } = 8;

    /// <summary>
    /// Check the bundle's tensor-data checksum at open. Reading every weight once costs start-up time on slow storage;
    /// the header is always checked.
    /// </summary>
    public bool VerifyWeights { get; init; } = true;

    /// <summary>Class index that means unsafe, overriding the model's labels (for Hugging Face directories whose labels say nothing).</summary>
    public int? UnsafeLabel { get; init; }

    /// <summary>
    /// Sanitise prompts and responses before tokenizing them (<see cref="Text.InputSanitizer"/>): remove invisible and
    /// control characters, undo bidi overrides, fold styled letters to ASCII, so that text spelled to look harmless to
    /// a tokenizer is judged as it reads. On by default; turn it off only to measure what it changes.
    /// </summary>
    public bool SanitizeInput { get; init; } = true;

    internal void Validate()
    {
        if (Threads < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "Threads must be 0 (one per processor) or positive.");
        }

        if (Threshold is { } t && !(t > 0f && t < 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(Threshold), t, "The threshold must lie strictly between 0 and 1.");
        }

        if (WindowTokens is { } w && w < 4)
        {
            throw new ArgumentOutOfRangeException(nameof(WindowTokens), w, "A window needs at least 4 tokens ([CLS], [SEP] and one token of each segment).");
        }

        if (WindowStride is { } s && s < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(WindowStride), s, "The window stride must be positive.");
        }

        if (MaxWindows < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxWindows), MaxWindows, "MaxWindows must be positive.");
        }

        if (MaxBatch < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBatch), MaxBatch, "MaxBatch must be positive.");
        }
    }
}
