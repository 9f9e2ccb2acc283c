using EdgeGuard.ModelFiles;

namespace EdgeGuard.Tokenization;

/// <summary>
/// A model's tokenizer as the files that define it, byte for byte, and the kind of tokenizer they make: read from a
/// Hugging Face directory or from a bundle, which carries the same files, so both open the same tokenizer.
/// </summary>
public sealed class TokenizerFiles
{
    /// <summary>SentencePiece Unigram (<c>spm.model</c>), DeBERTa-v3's tokenizer.</summary>
    public const string SentencePieceUnigram = "spm-unigram";

    /// <summary>BERT's WordPiece (<c>vocab.txt</c>, with <c>tokenizer_config.json</c> or <c>tokenizer.json</c> for its normaliser settings).</summary>
    public const string WordPiece = "wordpiece";

    /// <summary>GPT-2/RoBERTa byte-level BPE (<c>vocab.json</c> + <c>merges.txt</c>, or <c>tokenizer.json</c>).</summary>
    public const string ByteLevelBpe = "bpe-bytelevel";

    /// <summary>
    /// A byte-level BPE <c>tokenizer.json</c> as Hugging Face <c>tokenizers</c> writes it for decoder models (GPT-2, Llama 3,
    /// Qwen2, SmolLM), with <c>tokenizer_config.json</c> (BOS/EOS, chat template) when present.
    /// </summary>
    public const string HuggingFaceTokenizerJson = "hf-tokenizer-json";

    /// <summary>SentencePiece BPE (<c>tokenizer.model</c>, Llama 2 / TinyLlama), with <c>tokenizer_config.json</c> when present.</summary>
    public const string SentencePieceBpe = "spm-bpe";

    // A tokenizer file larger than this is not a tokenizer: refused before it is read.
    private const long MaxFileBytes = 64L << 20;

    private static readonly Dictionary<string, string[]> FileNamesByKind = new(StringComparer.Ordinal)
    {
        [SentencePieceUnigram] = ["spm.model"],
        [WordPiece] = ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"],
        [ByteLevelBpe] = ["vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"],
        [HuggingFaceTokenizerJson] = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"],
        [SentencePieceBpe] = ["tokenizer.model", "tokenizer_config.json", "chat_template.jinja"],
    };

    /// <param name="kind">One of the kind constants of this class.</param>
    /// <param name="files">File name → contents.</param>
    /// <param name="origin">Where the files come from, for messages.</param>
    public TokenizerFiles(string kind, IReadOnlyDictionary<string, ReadOnlyMemory<byte>> files, string origin)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(files);
        if (!FileNamesByKind.ContainsKey(kind))
        {
            throw new ModelFileException($"{origin}: tokenizer kind {ErrorText.Quote(kind)} is not supported ({string.Join(", ", Kinds)}).");
        }

        Kind = kind;
        Files = files;
        Origin = origin;
    }

    /// <summary>Every tokenizer kind this runtime reads.</summary>
    public static IReadOnlyCollection<string> Kinds => FileNamesByKind.Keys;

    /// <summary>The tokenizer's kind.</summary>
    public string Kind { get; }

    /// <summary>File name → contents.</summary>
    public IReadOnlyDictionary<string, ReadOnlyMemory<byte>> Files { get; }

    /// <summary>Where the files come from.</summary>
    public string Origin { get; }

    /// <summary>The names of the files a tokenizer of <paramref name="kind"/> may be made from, in order of preference.</summary>
    public static IReadOnlyList<string> FileNames(string kind) => FileNamesByKind.TryGetValue(kind, out string[]? names) ? names : [];

    /// <summary>What a tokenizer of <paramref name="kind"/> cannot do without, for messages.</summary>
    public static string RequiredFiles(string kind) => kind switch
    {
        SentencePieceUnigram => "spm.model",
        WordPiece => "vocab.txt (or tokenizer.json)",
        ByteLevelBpe => "vocab.json with merges.txt (or tokenizer.json)",
        HuggingFaceTokenizerJson => "tokenizer.json",
        SentencePieceBpe => "tokenizer.model",
        _ => string.Join(" or ", FileNames(kind)),
    };

    /// <summary>
    /// The kind of tokenizer <paramref name="directory"/> holds, judged by its files, for model types the registry does not
    /// know: <c>spm.model</c>, else <c>vocab.txt</c>, else <c>vocab.json</c> or a <c>tokenizer.json</c>; null when none is there.
    /// </summary>
    public static string? KindInDirectory(string directory) =>
        File.Exists(Path.Combine(directory, "spm.model")) ? SentencePieceUnigram
        : File.Exists(Path.Combine(directory, "vocab.txt")) ? WordPiece
        : File.Exists(Path.Combine(directory, "vocab.json")) || File.Exists(Path.Combine(directory, "tokenizer.json")) ? ByteLevelBpe
        : null;

    /// <summary>
    /// The kind of a decoder model's tokenizer in <paramref name="directory"/>: <c>tokenizer.model</c> (SentencePiece BPE,
    /// which Llama 2 / TinyLlama directories hold beside a <c>tokenizer.json</c> converted from it), else <c>tokenizer.json</c>
    /// (byte-level BPE), else GPT-2's <c>vocab.json</c> + <c>merges.txt</c>; null when none is there.
    /// </summary>
    public static string? DecoderKindInDirectory(string directory) =>
        File.Exists(Path.Combine(directory, "tokenizer.model")) ? SentencePieceBpe
        : File.Exists(Path.Combine(directory, "tokenizer.json")) ? HuggingFaceTokenizerJson
        : File.Exists(Path.Combine(directory, "vocab.json")) && File.Exists(Path.Combine(directory, "merges.txt")) ? ByteLevelBpe
        : null;

    /// <summary>Reads the files of a <paramref name="kind"/> tokenizer that <paramref name="directory"/> holds.</summary>
    /// <exception cref="ModelFileException">None of them is there, or one cannot be read.</exception>
    public static TokenizerFiles FromDirectory(string directory, string kind)
    {
        var files = new Dictionary<string, ReadOnlyMemory<byte>>(StringComparer.Ordinal);
        foreach (string name in FileNames(kind))
        {
            string path = Path.Combine(directory, name);
            if (!File.Exists(path))
            {
                continue;
            }

            try
            {
                long length = new FileInfo(path).Length;
                if (length > MaxFileBytes)
                {
                    throw new ModelFileException($"{path}: {length} bytes is too large for a tokenizer file (limit {MaxFileBytes >> 20} MiB).");
                }

                files[name] = File.ReadAllBytes(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ModelFileException($"{path}: cannot read the tokenizer file ({e.Message}).", e);
            }
        }

        if (files.Count == 0)
        {
            throw new ModelFileException($"{directory}: {RequiredFiles(kind)} is missing; a {kind} tokenizer is made from it.");
        }

        return new TokenizerFiles(kind, files, directory);
    }

    /// <summary>The contents of <paramref name="name"/>, or null when the tokenizer has no such file.</summary>
    public ReadOnlyMemory<byte>? Find(string name) => Files.TryGetValue(name, out ReadOnlyMemory<byte> bytes) ? bytes : (ReadOnlyMemory<byte>?)null;
}
