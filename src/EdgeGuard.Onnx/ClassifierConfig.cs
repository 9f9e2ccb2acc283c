using System.Globalization;
using System.Text.Json;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Onnx;

/// <summary>
/// The parts of a Hugging Face <c>config.json</c> the ONNX backend needs, read from any sequence-classifier family
/// (DeBERTa, BERT, DistilBERT, …): model type, labels, window length, vocabulary size, and the shape for display.
/// </summary>
internal sealed record ClassifierConfig(
    string ModelType, IReadOnlyList<string>? Labels, int? NumLabels, int MaxPositionEmbeddings, int VocabSize, int Layers, int HiddenSize)
{
    /// <summary>Reads <paramref name="path"/>.</summary>
    /// <exception cref="ModelFileException">Unreadable or malformed JSON, or a missing or inconsistent field, named with the file.</exception>
    public static ClassifierConfig Load(string path)
    {
        byte[] json;
        try
        {
            json = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFileException($"{path}: cannot read the config: {e.Message}", e);
        }

        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ModelFileException($"{path}: the config is not a JSON object.");
            }

            return Parse(document.RootElement, path);
        }
        catch (JsonException e)
        {
            throw new ModelFileException($"{path}: not valid JSON: {e.Message}", e);
        }
    }

    private static ClassifierConfig Parse(JsonElement root, string path)
    {
        string modelType = OptionalString(root, "model_type", path) ?? "unknown";
        // DistilBERT names the shape fields differently from the BERT family.
        int layers = OptionalInt(root, "num_hidden_layers", path) ?? OptionalInt(root, "n_layers", path) ?? 0;
        int hidden = OptionalInt(root, "hidden_size", path) ?? OptionalInt(root, "dim", path) ?? 0;
        int maxPositions = OptionalInt(root, "max_position_embeddings", path)
            ?? throw new ModelFileException($"{path}: max_position_embeddings is missing; it gives the most tokens one window may hold.");
        int vocabSize = OptionalInt(root, "vocab_size", path)
            ?? throw new ModelFileException($"{path}: vocab_size is missing; token ids are checked against it.");
        if (maxPositions < 4)
        {
            throw new ModelFileException($"{path}: max_position_embeddings={maxPositions}; a window needs at least 4 tokens.");
        }

        if (vocabSize < 1)
        {
            throw new ModelFileException($"{path}: vocab_size={vocabSize} must be positive.");
        }

        int? numLabels = OptionalInt(root, "num_labels", path);
        IReadOnlyList<string>? labels = ReadLabels(root, path);
        if (numLabels is int n && labels is not null && n != labels.Count)
        {
            throw new ModelFileException($"{path}: num_labels={n} disagrees with id2label, which has {labels.Count} entries.");
        }

        return new ClassifierConfig(modelType, labels, numLabels, maxPositions, vocabSize, layers, hidden);
    }

    /// <summary>Names by class id from <c>id2label</c>, else from <c>label2id</c>; null when the config names none.</summary>
    private static string[]? ReadLabels(JsonElement root, string path)
    {
        if (root.TryGetProperty("id2label", out var id2label) && id2label.ValueKind != JsonValueKind.Null)
        {
            if (id2label.ValueKind != JsonValueKind.Object)
            {
                throw new ModelFileException($"{path}: id2label must be an object {{\"0\": \"name\", ...}}.");
            }

            var byId = new Dictionary<int, string>();
            foreach (var entry in id2label.EnumerateObject())
            {
                if (!int.TryParse(entry.Name, NumberStyles.None, CultureInfo.InvariantCulture, out int id) || entry.Value.ValueKind != JsonValueKind.String)
                {
                    throw new ModelFileException($"{path}: id2label entry \"{entry.Name}\" must map a class id to a name.");
                }

                byId[id] = entry.Value.GetString()!;
            }

            return Dense(byId, "id2label", path);
        }

        // label2id alone: Hugging Face writes both, but hand-made configs sometimes carry only this one.
        if (root.TryGetProperty("label2id", out var label2id) && label2id.ValueKind == JsonValueKind.Object)
        {
            var byId = new Dictionary<int, string>();
            foreach (var entry in label2id.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || !byId.TryAdd(id, entry.Name))
                {
                    throw new ModelFileException($"{path}: label2id entry \"{entry.Name}\" must map a name to a distinct class id.");
                }
            }

            return Dense(byId, "label2id", path);
        }

        return null;
    }

    private static string[] Dense(Dictionary<int, string> byId, string field, string path)
    {
        var names = new string[byId.Count];
        for (int i = 0; i < names.Length; i++)
        {
            if (!byId.TryGetValue(i, out var name))
            {
                throw new ModelFileException($"{path}: {field} must cover the class ids 0..{names.Length - 1}; {i} is missing.");
            }

            names[i] = name;
        }

        return names;
    }

    private static string? OptionalString(JsonElement root, string name, string path)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : throw new ModelFileException($"{path}: {name} must be a string.");
    }

    private static int? OptionalInt(JsonElement root, string name, string path)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int n)
            ? n
            : throw new ModelFileException($"{path}: {name} must be an integer.");
    }
}
