using System.Text.Json;

namespace EdgeGuard.ModelFiles;

/// <summary>
/// A checkpoint saved in several safetensors files (<c>model-00001-of-00002.safetensors</c>, …) with the index
/// <c>model.safetensors.index.json</c> that maps each tensor to its file, as <c>save_pretrained</c> writes models
/// larger than its shard size. Every shard is memory-mapped and validated like a single file; the index and the shards
/// must agree exactly, so a missing, extra or doubled tensor is found at open, not at first use.
/// </summary>
public sealed class ShardedSafetensors : ITensorSource
{
    /// <summary>The index's file name in a Hugging Face directory.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    // An index lists names only: a few hundred KiB for the largest public models.
    private const long MaxIndexBytes = 16L << 20;

    private readonly SafetensorsFile[] _shards;
    private readonly Dictionary<string, SafetensorsFile> _shardOf;

    private ShardedSafetensors(string origin, SafetensorsFile[] shards, Dictionary<string, SafetensorsFile> shardOf)
    {
        Origin = origin;
        _shards = shards;
        _shardOf = shardOf;
        Tensors = [.. shards.SelectMany(s => s.Tensors)];
    }

    /// <inheritdoc />
    public string Origin { get; }

    /// <inheritdoc />
    public IReadOnlyCollection<TensorInfo> Tensors { get; }

    /// <summary>The shard files, in the order the index first names them.</summary>
    public IReadOnlyList<string> ShardPaths => [.. _shards.Select(s => s.Origin)];

    /// <summary>Opens the index at <paramref name="indexPath"/> and every shard it names (in its directory).</summary>
    /// <exception cref="ModelFileException">The index is unreadable or malformed, names a file outside its directory or one that is missing, or disagrees with the shards.</exception>
    public static ShardedSafetensors Open(string indexPath)
    {
        ArgumentNullException.ThrowIfNull(indexPath);
        string path = Path.GetFullPath(indexPath);
        Dictionary<string, string> weightMap = ReadWeightMap(path);
        string directory = Path.GetDirectoryName(path)!;
        var files = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (string file in weightMap.Values)
            {
                if (!files.ContainsKey(file))
                {
                    string shardPath = Path.Combine(directory, file);
                    if (!File.Exists(shardPath))
                    {
                        throw new ModelFileException($"{path}: the shard {ErrorText.Quote(file)} it names is missing.");
                    }

                    files.Add(file, SafetensorsFile.Open(shardPath));
                }
            }

            var shardOf = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
            foreach ((string name, string file) in weightMap)
            {
                SafetensorsFile shard = files[file];
                if (shard.Find(name) is null)
                {
                    throw new ModelFileException($"{path}: the tensor {ErrorText.Quote(name)} is mapped to {ErrorText.Quote(file)}, which does not hold it.");
                }

                shardOf.Add(name, shard);
            }

            foreach ((string file, SafetensorsFile shard) in files)
            {
                foreach (TensorInfo tensor in shard.Tensors)
                {
                    if (!weightMap.TryGetValue(tensor.Name, out string? mapped) || mapped != file)
                    {
                        string where = mapped is null ? "the index does not list it" : $"the index maps it to {ErrorText.Quote(mapped)}";
                        throw new ModelFileException($"{Path.Combine(directory, file)}: holds the tensor {ErrorText.Quote(tensor.Name)}, but {where} ({IndexFileName} and its shards must agree).");
                    }
                }
            }

            return new ShardedSafetensors(path, [.. files.Values], shardOf);
        }
        catch
        {
            foreach (SafetensorsFile shard in files.Values)
            {
                shard.Dispose();
            }

            throw;
        }
    }

    /// <inheritdoc />
    public TensorInfo? Find(string name) => _shardOf.TryGetValue(name, out SafetensorsFile? shard) ? shard.Find(name) : null;

    /// <inheritdoc />
    public ReadOnlyMemory<float> ReadFloat32(string name) =>
        _shardOf.TryGetValue(name, out SafetensorsFile? shard)
            ? shard.ReadFloat32(name)
            : throw new ModelFileException($"{Origin}: no tensor named {ErrorText.Quote(name)}.");

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (SafetensorsFile shard in _shards)
        {
            shard.Dispose();
        }
    }

    /// <summary>The index's <c>weight_map</c>: tensor name → shard file name (a plain name in the index's directory).</summary>
    private static Dictionary<string, string> ReadWeightMap(string path)
    {
        JsonDocument document;
        try
        {
            long length = new FileInfo(path).Length;
            if (length > MaxIndexBytes)
            {
                throw new ModelFileException($"{path}: {length} bytes is too large for a shard index (limit {MaxIndexBytes >> 20} MiB).");
            }

            document = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFileException($"{path}: cannot read the shard index ({e.Message}).", e);
        }
        catch (JsonException e)
        {
            throw new ModelFileException($"{path}: not valid JSON ({e.Message}).", e);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("weight_map", out JsonElement map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new ModelFileException($"{path}: a shard index needs a \"weight_map\" object (tensor name → shard file).");
            }

            var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (JsonProperty entry in map.EnumerateObject())
            {
                string? file = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString() : null;
                if (string.IsNullOrEmpty(file) || file != Path.GetFileName(file) || file is "." or ".." || !file.EndsWith(".safetensors", StringComparison.Ordinal))
                {
                    throw new ModelFileException($"{path}: weight_map maps {ErrorText.Quote(entry.Name)} to {ErrorText.Quote(entry.Value.GetRawText())}; a shard is a .safetensors file name in the index's directory.");
                }

                if (!weightMap.TryAdd(entry.Name, file))
                {
                    throw new ModelFileException($"{path}: weight_map lists {ErrorText.Quote(entry.Name)} twice.");
                }
            }

            if (weightMap.Count == 0)
            {
                throw new ModelFileException($"{path}: weight_map is empty.");
            }

            return weightMap;
        }
    }
}
