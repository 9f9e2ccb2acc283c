using System.Text.Json;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Tokenization;

/// <summary>
/// Reading the Hugging Face tokenizer files (<c>tokenizer.json</c>, <c>tokenizer_config.json</c>,
/// <c>special_tokens_map.json</c>, <c>vocab.txt</c>, <c>vocab.json</c>, <c>merges.txt</c>) with errors that name the file.
/// </summary>
internal static class TokenizerFileReader
{
    /// <summary>The bytes of <paramref name="path"/>; <paramref name="what"/> names the file in the error.</summary>
    /// <exception cref="ModelFileException">Missing or unreadable.</exception>
    public static byte[] ReadBytes(string path, string what)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ModelFileException($"{path}: {what} not found.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new ModelFileException($"{path}: cannot read the {what}: {e.Message}", e);
        }
    }

    /// <summary>The file at <paramref name="path"/>, read whole.</summary>
    public static TokenizerFile Open(string path, string what) => new(path, ReadBytes(path, what));

    /// <summary>The lines of a UTF-8 text file (CR LF or LF), without a final empty line.</summary>
    public static List<string> ReadLines(string path, string what) => ReadLines(Open(path, what));

    /// <summary>The lines of a UTF-8 text file already read (CR LF or LF), without a final empty line.</summary>
    public static List<string> ReadLines(TokenizerFile file)
    {
        using var reader = new StreamReader(new MemoryStream(file.Bytes.ToArray(), writable: false), System.Text.Encoding.UTF8);
        var lines = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            lines.Add(line);
        }

        return lines;
    }

    /// <summary>Parses <paramref name="path"/> as a JSON object.</summary>
    /// <exception cref="ModelFileException">Unreadable, not JSON, or not an object.</exception>
    public static JsonDocument ReadObject(string path, string what) => ReadObject(Open(path, what), what);

    /// <summary>Parses a file already read as a JSON object.</summary>
    /// <exception cref="ModelFileException">Not JSON, or not an object.</exception>
    public static JsonDocument ReadObject(TokenizerFile file, string what)
    {
        string path = file.Origin;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(file.Bytes, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new ModelFileException($"{path}: the {what} is not valid JSON: {e.Message}", e);
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new ModelFileException($"{path}: the {what} is not a JSON object.");
        }

        return document;
    }

    /// <summary>An optional boolean member; null when absent or null.</summary>
    public static bool? Bool(JsonElement parent, string name, string path)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new ModelFileException($"{path}: {name} must be true, false or null."),
        };
    }

    /// <summary>An optional integer member; null when absent or null.</summary>
    public static int? Int(JsonElement parent, string name, string path)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int n)
            ? n
            : throw new ModelFileException($"{path}: {name} must be an integer.");
    }

    /// <summary>An optional string member; null when absent or null.</summary>
    public static string? String(JsonElement parent, string name, string path)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : throw new ModelFileException($"{path}: {name} must be a string.");
    }

    /// <summary>
    /// A special token member of <c>tokenizer_config.json</c> or <c>special_tokens_map.json</c>: written as its text or, by
    /// newer transformers, as an AddedToken object with <c>content</c>. Null when absent or null.
    /// </summary>
    public static string? Token(JsonElement parent, string name, string path)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.String)
        {
            return value.GetString();
        }

        if (value.ValueKind == JsonValueKind.Object && value.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
        {
            return content.GetString();
        }

        throw new ModelFileException($"{path}: {name} must be a token string or an object with \"content\".");
    }

    /// <summary>The <c>added_tokens</c> of a <c>tokenizer.json</c>: content and id of each.</summary>
    public static List<(string Content, int Id, bool Special)> AddedTokens(JsonElement root, string path)
    {
        var tokens = new List<(string, int, bool)>();
        if (!root.TryGetProperty("added_tokens", out var added) || added.ValueKind == JsonValueKind.Null)
        {
            return tokens;
        }

        if (added.ValueKind != JsonValueKind.Array)
        {
            throw new ModelFileException($"{path}: added_tokens must be an array.");
        }

        foreach (var token in added.EnumerateArray())
        {
            string content = token.ValueKind == JsonValueKind.Object ? String(token, "content", path) ?? string.Empty : string.Empty;
            int id = token.ValueKind == JsonValueKind.Object ? Int(token, "id", path) ?? -1 : -1;
            if (content.Length == 0 || id < 0)
            {
                throw new ModelFileException($"{path}: every entry of added_tokens needs a non-empty \"content\" and an \"id\" of at least 0.");
            }

            tokens.Add((content, id, Bool(token, "special", path) ?? false));
        }

        return tokens;
    }

    /// <summary>The <c>model</c> object of a <c>tokenizer.json</c>, checked to be of <paramref name="type"/>.</summary>
    public static JsonElement Model(JsonElement root, string type, string path)
    {
        if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
        {
            throw new ModelFileException($"{path}: the tokenizer has no \"model\" object.");
        }

        string? actual = String(model, "type", path);
        if (actual is not null && actual != type)
        {
            throw new ModelFileException($"{path}: the tokenizer model is {actual}, expected {type}.");
        }

        return model;
    }

    /// <summary>A <c>vocab</c> object (token → id) as a token list in id order; every id in [0, count) exactly once.</summary>
    public static string[] VocabularyInIdOrder(JsonElement vocab, string path)
    {
        if (vocab.ValueKind != JsonValueKind.Object)
        {
            throw new ModelFileException($"{path}: the vocabulary must be a JSON object of token -> id.");
        }

        var byId = new List<(int Id, string Token)>();
        foreach (var entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
            {
                throw new ModelFileException($"{path}: vocabulary entry \"{entry.Name}\" must map to an id of at least 0.");
            }

            byId.Add((id, entry.Name));
        }

        var tokens = new string[byId.Count];
        foreach (var (id, token) in byId)
        {
            if (id >= tokens.Length || tokens[id] is not null)
            {
                throw new ModelFileException($"{path}: the vocabulary's ids must be 0..{tokens.Length - 1} with none repeated; \"{token}\" has {id}.");
            }

            tokens[id] = token;
        }

        return tokens;
    }
}

/// <summary>A tokenizer file's contents and where they came from (a path, or a bundle and a file name), for messages.</summary>
internal readonly record struct TokenizerFile(string Origin, ReadOnlyMemory<byte> Bytes)
{
    /// <summary>The file <paramref name="name"/> of <paramref name="files"/>, or null when it has none.</summary>
    public static TokenizerFile? Find(TokenizerFiles files, string name) =>
        files.Find(name) is { } bytes ? new TokenizerFile($"{files.Origin} ({name})", bytes) : null;
}
