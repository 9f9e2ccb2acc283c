namespace EdgeGuard;

/// <summary>The guard's decision on one prompt, or one prompt and response.</summary>
/// <param name="UnsafeScore">Probability of the unsafe class; with several windows, the highest of any window.</param>
/// <param name="Flagged">True when <paramref name="UnsafeScore"/> is at or above the threshold.</param>
/// <param name="Label">The model's name of the decided class.</param>
/// <param name="TokenCount">Tokens of the whole input, special tokens included, before any windowing or truncation.</param>
/// <param name="Truncated">True when part of the input was not seen (only with <see cref="LongInputMode.Truncate"/>).</param>
/// <param name="Windows">Model windows classified for this input.</param>
public sealed record Verdict(float UnsafeScore, bool Flagged, string Label, int TokenCount, bool Truncated, int Windows);

/// <summary>One input of <see cref="Guard.ClassifyBatch"/>: a prompt and, optionally, the response to judge.</summary>
public readonly record struct GuardInput(string Prompt, string? Response = null);
