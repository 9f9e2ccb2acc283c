using System.Text.Json;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models.Bert;
using EdgeGuard.Models.Deberta;
using EdgeGuard.Models.Gpt2;
using EdgeGuard.Models.Llama;

namespace EdgeGuard.Models;

/// <summary>The architecture registry: every model family the runtime runs, by <c>model_type</c>.</summary>
public static class ModelArchitectures
{
    private static readonly ModelArchitecture[] Registered =
    [
        new DebertaArchitecture(),
        BertArchitecture.Bert,
        BertArchitecture.Roberta,
        LlamaArchitecture.Llama,
        LlamaArchitecture.Qwen2,
        new Gpt2Architecture(),
    ];

    /// <summary>Every registered architecture.</summary>
    public static IReadOnlyList<ModelArchitecture> All => Registered;

    /// <summary>The architecture of <paramref name="modelType"/>, or null when none is registered.</summary>
    public static ModelArchitecture? Find(string? modelType) =>
        Array.Find(Registered, a => string.Equals(a.ModelType, modelType, StringComparison.Ordinal));

    /// <summary>The architecture of <paramref name="modelType"/>.</summary>
    /// <exception cref="ModelFileException">No architecture implements it; the message lists those that exist.</exception>
    public static ModelArchitecture Get(string? modelType, string origin)
    {
        if (Find(modelType) is { } architecture)
        {
            return architecture;
        }

        string known = string.Join(", ", Registered.Select(a => a.ModelType));
        throw new ModelFileException(modelType is null
            ? $"{origin}: model_type is missing; this runtime implements {known}."
            : $"{origin}: model_type={ErrorText.Quote(modelType)} is not implemented by this runtime ({known}).");
    }

    /// <summary>Reads <c>model_type</c> from <paramref name="json"/>, then parses and validates the config with its architecture.</summary>
    /// <exception cref="ModelFileException">Not a JSON object, an unknown model_type, or an invalid config.</exception>
    public static (ModelArchitecture Architecture, IModelConfig Config) ParseConfig(string json, string origin)
    {
        ModelArchitecture architecture = Get(ReadModelType(json, origin), origin);
        return (architecture, architecture.ParseConfig(json, origin));
    }

    private static string? ReadModelType(string json, string origin)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ModelFileException($"{origin}: the config is a JSON {document.RootElement.ValueKind}, not an object.");
            }

            if (!document.RootElement.TryGetProperty("model_type", out JsonElement type))
            {
                return null;
            }

            return type.ValueKind == JsonValueKind.String
                ? type.GetString()
                : throw new ModelFileException($"{origin}: $.model_type is a JSON {type.ValueKind}; it must be a string naming the architecture.");
        }
        catch (JsonException e)
        {
            throw new ModelFileException($"{origin}: not valid JSON ({ErrorText.Quote(e.Message)}).", e);
        }
    }
}
