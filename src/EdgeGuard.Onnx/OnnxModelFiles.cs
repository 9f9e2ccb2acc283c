using EdgeGuard.ModelFiles;
using EdgeGuard.Models;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Onnx;

/// <summary>
/// The files of an ONNX classifier as exporters lay them out: the <c>.onnx</c> graph and the Hugging Face files that
/// describe it, <c>config.json</c> and the tokenizer (<c>spm.model</c> or <c>vocab.txt</c>). Finding them checks only that
/// they exist.
/// </summary>
internal static class OnnxModelFiles
{
    /// <summary>The model file looked for when a directory is given.</summary>
    public const string ModelFileName = "model.onnx";

    private const string ConfigFileName = "config.json";
    private const string HuggingFaceSubdirectory = "hf";

    // Hugging Face model types whose tokenizer is WordPiece over vocab.txt.
    private static readonly string[] WordPieceModelTypes = ["bert", "distilbert", "electra", "mobilebert", "squeezebert", "convbert", "megatron-bert"];

    /// <summary>
    /// Resolves <paramref name="path"/> (a <c>.onnx</c> file, or a directory holding <c>model.onnx</c>) and the Hugging Face
    /// directory that describes it: the model's own directory when it has <c>config.json</c>, else its <c>hf/</c>
    /// subdirectory (the layout of <c>make bench-models</c>: <c>f32.onnx</c> and <c>int8.onnx</c> beside <c>hf/</c>), else its
    /// parent (the layout of Hugging Face ONNX exports: <c>onnx/model.onnx</c> below the config and tokenizer).
    /// </summary>
    /// <exception cref="ModelFileException">The model is missing, or none of those directories has config.json.</exception>
    public static (string ModelPath, string Directory, string ConfigPath) LocateModel(string path)
    {
        string modelPath;
        if (Directory.Exists(path))
        {
            modelPath = Path.Combine(path, ModelFileName);
            if (!File.Exists(modelPath))
            {
                string[] others = Directory.GetFiles(path, "*.onnx").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToArray();
                string hint = others.Length > 0
                    ? $"it has {string.Join(", ", others)}; pass the file itself"
                    : "export one with `python3 -m edgeguard_train export --model <hf-dir> --output <dir>`";
                throw new ModelFileException($"{path}: no {ModelFileName} in this directory ({hint}).");
            }
        }
        else if (File.Exists(path))
        {
            modelPath = path;
        }
        else
        {
            throw new ModelFileException($"{path}: no such ONNX model file or directory.");
        }

        string modelDirectory = Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        string?[] candidates = [modelDirectory, Path.Combine(modelDirectory, HuggingFaceSubdirectory), Path.GetDirectoryName(modelDirectory)];
        foreach (string? directory in candidates)
        {
            if (directory is not null && File.Exists(Path.Combine(directory, ConfigFileName)))
            {
                return (modelPath, directory, Path.Combine(directory, ConfigFileName));
            }
        }

        throw new ModelFileException(
            $"{modelPath}: no {ConfigFileName} beside it, in {HuggingFaceSubdirectory}/ or in the directory above; the ONNX backend reads the labels (id2label), "
            + "the model type and the tokenizer from the Hugging Face files that describe the model.");
    }

    /// <summary>
    /// The tokenizer files <paramref name="modelType"/> needs in <paramref name="directory"/>: the registered architecture's
    /// tokenizer kind, WordPiece for the other BERT relatives, else the kind the directory's files show.
    /// </summary>
    /// <exception cref="ModelFileException">The tokenizer's files are missing; the message names the file the model type needs.</exception>
    public static TokenizerFiles LocateTokenizer(string directory, string modelType)
    {
        string? kind = ModelArchitectures.Find(modelType)?.TokenizerKind
            ?? (WordPieceModelTypes.Contains(modelType) ? TokenizerFiles.WordPiece : TokenizerFiles.KindInDirectory(directory));
        return kind is not null
            ? TokenizerFiles.FromDirectory(directory, kind)
            : throw new ModelFileException(
                $"{directory}: no tokenizer for model_type '{modelType}': expected spm.model (SentencePiece), vocab.txt (WordPiece), or vocab.json with merges.txt or tokenizer.json (byte-level BPE) next to the model.");
    }
}
