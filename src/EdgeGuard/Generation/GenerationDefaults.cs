using System.Text.Json;
using EdgeGuard.Generation.Logits;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Generation;

/// <summary>
/// A model's own generation settings, from its Hugging Face <c>generation_config.json</c>: how it samples by default and
/// which tokens end a reply. Read as <c>transformers</c> reads them: <c>do_sample</c> false (its default) is greedy;
/// sampling uses <c>temperature</c> (1), <c>top_k</c> (50; 0 is off), <c>top_p</c> (1), <c>min_p</c> (off);
/// <c>repetition_penalty</c> (1) applies to both; <c>eos_token_id</c> (one id or a list) ends generation;
/// <c>max_new_tokens</c> bounds it. Other fields (beam search, <c>max_length</c>, …) are not read.
/// </summary>
/// <param name="Sampling">The selector and filters the model's authors chose.</param>
/// <param name="EndOfSequenceIds">Token ids that end generation (a chat model lists its end-of-turn tokens here).</param>
/// <param name="MaxNewTokens">The most new tokens, or null when the file does not say.</param>
public sealed record GenerationDefaults(SamplingSettings Sampling, IReadOnlyList<int> EndOfSequenceIds, int? MaxNewTokens)
{
    /// <summary>The generation options these defaults give (<see cref="GenerationOptions"/>'s own for what they do not set).</summary>
    public GenerationOptions ToOptions() => new()
    {
        Sampling = Sampling,
        StopTokenIds = EndOfSequenceIds,
        MaxNewTokens = MaxNewTokens ?? new GenerationOptions().MaxNewTokens,
    };

    /// <summary>Reads <paramref name="json"/>, the text of <c>generation_config.json</c>.</summary>
    /// <param name="origin">Where the text comes from, for messages.</param>
    /// <exception cref="ModelFileException">Not a JSON object, or a field this type reads has a value of the wrong type or out of range (named).</exception>
    public static GenerationDefaults Parse(string json, string origin)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new ModelFileException($"{origin}: generation_config.json is not valid JSON ({e.Message}).", e);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ModelFileException($"{origin}: generation_config.json must be a JSON object.");
            }

            bool sample = Bool(root, "do_sample", origin) ?? false;
            float repetition = (float)(Number(root, "repetition_penalty", origin) ?? 1.0);
            int? topK = Integer(root, "top_k", origin) ?? 50;
            SamplingSettings sampling = sample
                ? new SamplingSettings
                {
                    Temperature = (float)(Number(root, "temperature", origin) ?? 1.0),
                    TopK = topK == 0 ? null : topK,
                    TopP = Number(root, "top_p", origin) ?? 1.0,
                    MinP = Number(root, "min_p", origin) ?? 0.0,
                    RepetitionPenalty = repetition,
                }
                : SamplingSettings.Greedy with { RepetitionPenalty = repetition };
            try
            {
                sampling.Validate();
            }
            catch (ArgumentOutOfRangeException e)
            {
                throw new ModelFileException($"{origin}: generation_config.json: {e.Message}", e);
            }

            int? maxNewTokens = Integer(root, "max_new_tokens", origin);
            if (maxNewTokens is < 1)
            {
                throw new ModelFileException($"{origin}: generation_config.json: max_new_tokens is {maxNewTokens}; it must be at least 1.");
            }

            return new GenerationDefaults(sampling, EndOfSequence(root, origin), maxNewTokens);
        }
    }

    private static int[] EndOfSequence(JsonElement root, string origin)
    {
        if (!root.TryGetProperty("eos_token_id", out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        JsonElement[] items = value.ValueKind == JsonValueKind.Array ? [.. value.EnumerateArray()] : [value];
        var ids = new int[items.Length];
        for (int i = 0; i < items.Length; i++)
        {
            if (items[i].ValueKind != JsonValueKind.Number || !items[i].TryGetInt32(out ids[i]) || ids[i] < 0)
            {
                throw new ModelFileException($"{origin}: generation_config.json: eos_token_id must be a token id or a list of them (ids are whole numbers ≥ 0), not {ErrorText.Quote(value.GetRawText())}.");
            }
        }

        return ids;
    }

    private static bool? Bool(JsonElement root, string field, string origin) =>
        !root.TryGetProperty(field, out JsonElement value) || value.ValueKind == JsonValueKind.Null ? null
        : value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean()
        : throw new ModelFileException($"{origin}: generation_config.json: {field} must be true or false, not {ErrorText.Quote(value.GetRawText())}.");

    private static double? Number(JsonElement root, string field, string origin) =>
        !root.TryGetProperty(field, out JsonElement value) || value.ValueKind == JsonValueKind.Null ? null
        : value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double number) && double.IsFinite(number) ? number
        : throw new ModelFileException($"{origin}: generation_config.json: {field} must be a number, not {ErrorText.Quote(value.GetRawText())}.");

    private static int? Integer(JsonElement root, string field, string origin) =>
        !root.TryGetProperty(field, out JsonElement value) || value.ValueKind == JsonValueKind.Null ? null
        : value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int number) && number >= 0 ? number
        : throw new ModelFileException($"{origin}: generation_config.json: {field} must be a whole number ≥ 0, not {ErrorText.Quote(value.GetRawText())}.");
}
