namespace EdgeGuard.Tokenization;

/// <summary>
/// One model row built by a <see cref="PairTemplate"/> from a prompt, or a prompt and a response: e.g.
/// <c>[CLS] prompt [SEP]</c> or <c>[CLS] prompt [SEP] response [SEP]</c>.
/// </summary>
/// <param name="Ids">The token ids including the special tokens.</param>
/// <param name="TokenTypeIds">The segment of each id (same length as <paramref name="Ids"/>): 0 for the prompt part, the
/// template's <see cref="PairTemplate.SecondSegmentTokenType"/> for the response part.</param>
/// <param name="PromptTokens">Prompt tokens kept after truncation (special tokens not counted).</param>
/// <param name="ResponseTokens">Response tokens kept after truncation; 0 when there is no response.</param>
/// <param name="Truncated">Whether any prompt or response token was cut to fit the maximum length.</param>
public sealed record EncodedPair(int[] Ids, int[] TokenTypeIds, int PromptTokens, int ResponseTokens, bool Truncated);
