using System.Text;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Tests.Tokenization;

/// <summary>
/// Writes small SentencePiece <c>ModelProto</c> files for tests that need a vocabulary or options the shared
/// models do not have. Field numbers follow sentencepiece_model.proto.
/// </summary>
internal sealed class SpmModelBuilder
{
    public const int Normal = 1;
    public const int Unknown = 2;
    public const int Control = 3;
    public const int UserDefined = 4;
    public const int Byte = 6;

    private readonly List<(string Text, float Score, int Type)> _pieces = [];

    public int ModelType { get; init; } = 1;

    public bool ByteFallback { get; init; }

    public byte[] CharsMap { get; init; } = [];

    public string NormalizerName { get; init; } = "identity";

    public bool WriteTrainerSpec { get; init; } = true;

    public bool WriteNormalizerSpec { get; init; } = true;

    /// <summary>A model with the DeBERTa specials at ids 0..3 and, if <paramref name="withBytes"/>, the 256 byte pieces.</summary>
    public static SpmModelBuilder WithDebertaSpecials(bool withBytes = false, byte[]? charsMap = null, int modelType = 1)
    {
        var model = new SpmModelBuilder
        {
            ByteFallback = withBytes,
            CharsMap = charsMap ?? [],
            NormalizerName = charsMap is null ? "identity" : "nmt_nfkc",
            ModelType = modelType,
        };
        model.Add("[PAD]", 0, Control).Add("[CLS]", 0, Control).Add("[SEP]", 0, Control).Add("[UNK]", 0, Unknown);
        if (withBytes)
        {
            for (int b = 0; b < 256; b++)
            {
                model.Add($"<0x{b:X2}>", 0, Byte);
            }
        }

        return model;
    }

    /// <summary>The nmt_nfkc rule of the shared test models.</summary>
    public static byte[] NmtNfkcCharsMap() =>
        SentencePieceModelReader.Read(File.ReadAllBytes(TokenizerFixtures.ModelPath("spm-unigram-2k"))).Normalizer.PrecompiledCharsMap;

    public int Count => _pieces.Count;

    public SpmModelBuilder Add(string text, float score, int type = Normal)
    {
        _pieces.Add((text, score, type));
        return this;
    }

    public int IdOf(string text) => _pieces.FindIndex(p => p.Text == text);

    public byte[] ToBytes()
    {
        var model = new MemoryStream();
        foreach (var (text, score, type) in _pieces)
        {
            var piece = new MemoryStream();
            WriteBytes(piece, 1, Encoding.UTF8.GetBytes(text));
            WriteTag(piece, 2, 5);
            piece.Write(BitConverter.GetBytes(score));
            WriteTag(piece, 3, 0);
            WriteVarint(piece, (ulong)type);
            WriteBytes(model, 1, piece.ToArray());
        }

        if (WriteTrainerSpec)
        {
            var trainer = new MemoryStream();
            WriteTag(trainer, 3, 0);
            WriteVarint(trainer, (ulong)ModelType);
            WriteTag(trainer, 35, 0);
            WriteVarint(trainer, ByteFallback ? 1UL : 0UL);
            WriteBytes(model, 2, trainer.ToArray());
        }

        if (WriteNormalizerSpec)
        {
            var normalizer = new MemoryStream();
            WriteBytes(normalizer, 1, Encoding.UTF8.GetBytes(NormalizerName));
            if (CharsMap.Length > 0)
            {
                WriteBytes(normalizer, 2, CharsMap);
            }

            WriteBytes(model, 3, normalizer.ToArray());
        }

        return model.ToArray();
    }

    public DebertaTokenizer ToTokenizer() => DebertaTokenizer.FromSentencePieceModel(ToBytes());

    private static void WriteBytes(Stream stream, int field, byte[] bytes)
    {
        WriteTag(stream, field, 2);
        WriteVarint(stream, (ulong)bytes.Length);
        stream.Write(bytes);
    }

    private static void WriteTag(Stream stream, int field, int wireType) => WriteVarint(stream, ((ulong)field << 3) | (uint)wireType);

    private static void WriteVarint(Stream stream, ulong value)
    {
        while (value >= 0x80)
        {
            stream.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }

        stream.WriteByte((byte)value);
    }
}
