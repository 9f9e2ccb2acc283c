using EdgeGuard.ModelFiles;

namespace EdgeGuard.Tokenization;

/// <summary>Makes the tokenizer a set of <see cref="TokenizerFiles"/> defines.</summary>
public static class Tokenizers
{
    /// <summary>The tokenizer of <paramref name="files"/>, by its kind.</summary>
    /// <exception cref="ModelFileException">A file the kind needs is missing, or a file is not valid.</exception>
    public static ITokenizer Load(TokenizerFiles files)
    {
        ArgumentNullException.ThrowIfNull(files);
        return files.Kind switch
        {
            TokenizerFiles.SentencePieceUnigram => DebertaTokenizer.FromSentencePieceModel(Require(files, "spm.model").Span),
            TokenizerFiles.WordPiece => WordPieceTokenizer.Load(files),
            TokenizerFiles.ByteLevelBpe => ByteLevelBpeTokenizer.Load(files),
            TokenizerFiles.HuggingFaceTokenizerJson => ByteLevelBpeTokenizer.Load(files),
            TokenizerFiles.SentencePieceBpe => SentencePieceBpeTokenizer.Load(files),
            _ => throw new ModelFileException($"{files.Origin}: tokenizer kind '{files.Kind}' is not implemented by this runtime."),
        };
    }

    /// <summary>The tokenizer of <paramref name="files"/> for a decoder language model: BOS/EOS, streaming decode, chat template.</summary>
    /// <exception cref="ModelFileException">A file is missing or not valid, or the kind is not one a decoder model uses.</exception>
    public static IGenerativeTokenizer LoadGenerative(TokenizerFiles files) =>
        Load(files) as IGenerativeTokenizer
        ?? throw new ModelFileException($"{files.Origin}: a {files.Kind} tokenizer cannot drive a decoder model; expected {TokenizerFiles.HuggingFaceTokenizerJson}, {TokenizerFiles.SentencePieceBpe} or {TokenizerFiles.ByteLevelBpe}.");

    private static ReadOnlyMemory<byte> Require(TokenizerFiles files, string name) =>
        files.Find(name) ?? throw new ModelFileException($"{files.Origin}: the {files.Kind} tokenizer needs {name}, which is missing.");
}
