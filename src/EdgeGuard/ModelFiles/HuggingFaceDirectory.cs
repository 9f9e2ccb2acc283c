using EdgeGuard.Models.Deberta;

namespace EdgeGuard.ModelFiles;

/// <summary>
/// A Hugging Face model directory as the Hub and <c>training/</c> export it: <c>config.json</c> (a DeBERTa-v3
/// classifier config), <c>model.safetensors</c> and, usually, the SentencePiece model <c>spm.model</c>.
/// </summary>
public sealed class HuggingFaceDirectory : IDisposable
{
    /// <summary>File names inside the directory.</summary>
    public const string ConfigFileName = "config.json", WeightsFileName = "model.safetensors", SpmFileName = "spm.model";

    private HuggingFaceDirectory(string path, DebertaConfig config, SafetensorsFile weights, string? spmModelPath)
    {
        DirectoryPath = path;
        Config = config;
        Weights = weights;
        SpmModelPath = spmModelPath;
    }

    /// <summary>The directory.</summary>
    public string DirectoryPath { get; }

    /// <summary>The parsed config, validated on its own and against the weights' shapes (<see cref="DebertaConfig.ValidateAgainst"/>).</summary>
    public DebertaConfig Config { get; }

    /// <summary>The memory-mapped weights; valid until this object is disposed.</summary>
    public SafetensorsFile Weights { get; }

    /// <summary>Full path of <c>spm.model</c>, or null when the directory has none.</summary>
    public string? SpmModelPath { get; }

    /// <summary>
    /// Opens <paramref name="directory"/>: reads and validates the config, maps and validates the weights, and checks every
    /// size the weights fix (labels, vocabulary, hidden size, buckets, layers) against the config.
    /// </summary>
    /// <exception cref="ModelFileException">The directory or a required file is missing, or a file is invalid or of an unsupported variant.</exception>
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
        if (!File.Exists(weightsPath))
        {
            string hint = File.Exists(Path.Combine(path, "model.safetensors.index.json"))
                ? "sharded checkpoints are not supported; save the model as one model.safetensors"
                : File.Exists(Path.Combine(path, "pytorch_model.bin"))
                    ? "only safetensors weights are read; convert pytorch_model.bin (save_pretrained(..., safe_serialization=True))"
                    : "the weights file is required";
            throw new ModelFileException($"{path}: {WeightsFileName} is missing ({hint}).");
        }

        DebertaConfig config = DebertaConfig.Load(configPath);
        config.Validate();
        string spmPath = Path.Combine(path, SpmFileName);
        SafetensorsFile weights = SafetensorsFile.Open(weightsPath);
        try
        {
            // Before anyone sizes anything (labels, layers, tables) by the config.
            config.ValidateAgainst(weights);
        }
        catch
        {
            weights.Dispose();
            throw;
        }

        return new HuggingFaceDirectory(path, config, weights, File.Exists(spmPath) ? spmPath : null);
    }

    /// <inheritdoc />
    public void Dispose() => Weights.Dispose();
}
