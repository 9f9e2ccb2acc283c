namespace EdgeGuard.Tokenization;

/// <summary>
/// Model input for one prompt, or one prompt and response: <c>[CLS] prompt [SEP]</c> or
/// <c>[CLS] prompt [SEP] response [SEP]</c>.
/// </summary>
/// <param name="Ids">The token ids including the special tokens.</param>
/// <param name="PromptTokens">Prompt tokens kept after truncation (special tokens not counted).</param>
/// <param name="ResponseTokens">Response tokens kept after truncation; 0 when there is no response.</param>
/// <param name="Truncated">Whether any prompt or response token was cut to fit the maximum length.</param>
public sealed record EncodedPair(int[] Ids, int PromptTokens, int ResponseTokens, bool Truncated);
