namespace EdgeGuard.ModelFiles;

/// <summary>
/// A Hugging Face model directory as the Hub and <c>training/</c> export it: <c>config.json</c>,
/// <c>model.safetensors</c> (or its shards and <c>model.safetensors.index.json</c>) and the tokenizer's files. What the config means is the architecture's business
/// (<c>Models.ModelArchitectures</c>); this type only finds, reads and maps the files.
/// </summary>
public sealed class HuggingFaceDirectory : IDisposable
{
    /// <summary>File names inside the directory.</summary>
    public const string ConfigFileName = "config.json", WeightsFileName = "model.safetensors", GenerationConfigFileName = "generation_config.json";

    // A config.json larger than this is not a config: refused before it is read.
    private const long MaxConfigBytes = 4L << 20;

    private HuggingFaceDirectory(string path, string configJson, string? generationConfigJson, ITensorSource weights)
    {
        DirectoryPath = path;
        ConfigJson = configJson;
        GenerationConfigJson = generationConfigJson;
        Weights = weights;
    }

    /// <summary>The directory.</summary>
    public string DirectoryPath { get; }

    /// <summary>Full path of <c>config.json</c>, for messages.</summary>
    public string ConfigPath => Path.Combine(DirectoryPath, ConfigFileName);

    /// <summary>The text of <c>config.json</c>.</summary>
    public string ConfigJson { get; }

    /// <summary>The text of <c>generation_config.json</c> (a decoder's default generation settings), or null when there is none.</summary>
    public string? GenerationConfigJson { get; }

    /// <summary>The memory-mapped weights (one file, or every shard of a sharded checkpoint); valid until this object is disposed.</summary>
    public ITensorSource Weights { get; }

    /// <summary>Full path of the file <paramref name="name"/> in the directory, or null when there is none.</summary>
    public string? FindFile(string name)
    {
        string path = Path.Combine(DirectoryPath, name);
        return File.Exists(path) ? path : null;
    }

    /// <summary>Opens <paramref name="directory"/>: reads the config text, maps and validates the weights.</summary>
    /// <exception cref="ModelFileException">The directory or a required file is missing, or a file is invalid.</exception>
    public static HuggingFaceDirectory Open(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string path = Path.GetFullPath(directory);
        if (!Directory.Exists(path))
        {
            throw new ModelFileException($"{path}: model directory not found.");
        }

        string configPath = Path.Combine(path, ConfigFileName);
        if (!File.Exists(configPath))
        {
            throw new ModelFileException($"{path}: {ConfigFileName} is missing (a Hugging Face model directory needs config.json and model.safetensors).");
        }

        string weightsPath = Path.Combine(path, WeightsFileName);
        string indexPath = Path.Combine(path, ShardedSafetensors.IndexFileName);
        bool single = File.Exists(weightsPath), sharded = File.Exists(indexPath);
        if (single && sharded)
        {
            throw new ModelFileException($"{path}: both {WeightsFileName} and {ShardedSafetensors.IndexFileName} are present; keep the checkpoint you mean and remove the other.");
        }

        if (!single && !sharded)
        {
            string hint = File.Exists(Path.Combine(path, "pytorch_model.bin"))
                ? "only safetensors weights are read; convert pytorch_model.bin (save_pretrained(..., safe_serialization=True))"
                : "the weights file is required";
            throw new ModelFileException($"{path}: {WeightsFileName} is missing ({hint}).");
        }

        string configJson = ReadConfig(configPath);
        string generationConfigPath = Path.Combine(path, GenerationConfigFileName);
        string? generationConfigJson = File.Exists(generationConfigPath) ? ReadConfig(generationConfigPath) : null;
        ITensorSource weights = single ? SafetensorsFile.Open(weightsPath) : ShardedSafetensors.Open(indexPath);
        return new HuggingFaceDirectory(path, configJson, generationConfigJson, weights);
    }

    /// <inheritdoc />
    public void Dispose() => Weights.Dispose();

    private static string ReadConfig(string configPath)
    {
        try
        {
            long length = new FileInfo(configPath).Length;
            if (length > MaxConfigBytes)
            {
                throw new ModelFileException($"{configPath}: {length} bytes is too large for a model config (limit {MaxConfigBytes >> 20} MiB).");
            }

            return File.ReadAllText(configPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFileException($"{configPath}: cannot read the model config ({e.Message}).", e);
        }
    }
}
