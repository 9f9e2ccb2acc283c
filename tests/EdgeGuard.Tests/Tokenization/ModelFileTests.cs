using System.Text;
using EdgeGuard.ModelFiles;
using EdgeGuard.Testing;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Tests.Tokenization;

/// <summary>Reading <c>spm.model</c>: good files load, anything else is a <see cref="ModelFileException"/>.</summary>
public sealed class ModelFileTests
{
    private static readonly Lazy<byte[]> SmallModel = new(() => File.ReadAllBytes(TokenizerFixtures.ModelPath("spm-unigram-2k")));

    [Fact]
    public void FromFile_MissingFile_ThrowsModelFileExceptionNamingThePath()
    {
        string path = Path.Combine(Path.GetTempPath(), $"edgeguard-missing-{Guid.NewGuid():N}", "spm.model");

        var ex = Assert.Throws<ModelFileException>(() => DebertaTokenizer.FromFile(path));

        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromFile_Directory_ThrowsModelFileException()
    {
        string path = RepoPaths.Tokenizer("spm-unigram-2k");

        var ex = Assert.Throws<ModelFileException>(() => DebertaTokenizer.FromFile(path));

        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromFile_CorruptFile_MessageNamesThePathAndTheProblem()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, SmallModel.Value.AsSpan(0, 1000).ToArray());

            var ex = Assert.Throws<ModelFileException>(() => DebertaTokenizer.FromFile(path));

            Assert.StartsWith(path + ": ", ex.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', ex.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void FromSentencePieceModel_EveryTruncation_ThrowsModelFileException()
    {
        byte[] model = SmallModel.Value;
        var lengths = Enumerable.Range(0, 1200)
            .Concat(Enumerable.Range(0, model.Length / 997).Select(i => i * 997))
            .Concat(Enumerable.Range(model.Length - 600, 600))
            .Distinct();

        foreach (int length in lengths)
        {
            var ex = Record.Exception(() => DebertaTokenizer.FromSentencePieceModel(model.AsSpan(0, length)));
            Assert.True(ex is ModelFileException, $"length {length}: {ex?.GetType().Name ?? "loaded"}: {ex?.Message}");
        }
    }

    [Fact]
    public void FromSentencePieceModel_FlippedBytes_LoadOrThrowModelFileException()
    {
        byte[] original = SmallModel.Value;
        var random = new Random(20240611);
        int loaded = 0;
        for (int trial = 0; trial < 400; trial++)
        {
            byte[] model = (byte[])original.Clone();
            int flips = 1 + random.Next(4);
            for (int f = 0; f < flips; f++)
            {
                // Most flips land in the charsmap (89% of this file): a damaged rule must not break encoding either.
                model[random.Next(model.Length)] ^= (byte)(1 << random.Next(8));
            }

            DebertaTokenizer tokenizer;
            try
            {
                tokenizer = DebertaTokenizer.FromSentencePieceModel(model);
            }
            catch (ModelFileException)
            {
                continue;
            }

            loaded++;
            int[] ids = tokenizer.Encode("Hello wörld! ＡＢＣ 中文 \u0007\0 😀 [SEP]");
            Assert.All(ids, id => Assert.InRange(id, 0, tokenizer.PieceCount - 1));
            tokenizer.Decode(ids);
        }

        Assert.InRange(loaded, 1, 399);
    }

    [Fact]
    public void FromSentencePieceModel_RandomBytes_ThrowsModelFileException()
    {
        var random = new Random(7);
        for (int trial = 0; trial < 500; trial++)
        {
            byte[] bytes = new byte[random.Next(0, 4096)];
            random.NextBytes(bytes);

            Assert.Throws<ModelFileException>(() => DebertaTokenizer.FromSentencePieceModel(bytes));
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("hello world")]
    [InlineData("{\"model_type\": \"UNIGRAM\", \"pieces\": []}")]
    [InlineData("\u0008\u0096\u0001")]
    public void FromSentencePieceModel_NotAProtobufModel_ThrowsModelFileException(string content)
    {
        var ex = Assert.Throws<ModelFileException>(() => DebertaTokenizer.FromSentencePieceModel(Encoding.UTF8.GetBytes(content)));

        Assert.False(string.IsNullOrWhiteSpace(ex.Message));
    }

    [Fact]
    public void FromSentencePieceModel_BpeModel_ThrowsModelFileExceptionNamingTheType()
    {
        var model = SpmModelBuilder.WithDebertaSpecials(modelType: 2).Add("▁", -1).Add("a", -2);

        var ex = Assert.Throws<ModelFileException>(model.ToTokenizer);

        Assert.Contains("BPE", ex.Message, StringComparison.Ordinal);
        Assert.Contains("UNIGRAM", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromSentencePieceModel_SpecialTokenAsNormalPiece_ThrowsModelFileException()
    {
        var model = new SpmModelBuilder()
            .Add("[PAD]", 0, SpmModelBuilder.Control).Add("[CLS]", 0, SpmModelBuilder.Normal)
            .Add("[SEP]", 0, SpmModelBuilder.Control).Add("[UNK]", 0, SpmModelBuilder.Unknown).Add("a", -1);

        var ex = Assert.Throws<ModelFileException>(model.ToTokenizer);

        Assert.Contains("[CLS]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromSentencePieceModel_MissingSep_ThrowsModelFileException()
    {
        var model = new SpmModelBuilder()
            .Add("[PAD]", 0, SpmModelBuilder.Control).Add("[CLS]", 0, SpmModelBuilder.Control)
            .Add("[UNK]", 0, SpmModelBuilder.Unknown).Add("a", -1);

        var ex = Assert.Throws<ModelFileException>(model.ToTokenizer);

        Assert.Contains("[SEP]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromSentencePieceModel_DuplicatePiece_ThrowsModelFileException()
    {
        var model = SpmModelBuilder.WithDebertaSpecials().Add("a", -1).Add("b", -1).Add("a", -2);

        Assert.Throws<ModelFileException>(model.ToTokenizer);
    }

    [Fact]
    public void FromSentencePieceModel_BytePiecesWithoutByteFallback_ThrowsModelFileException()
    {
        var model = SpmModelBuilder.WithDebertaSpecials().Add("<0x41>", 0, SpmModelBuilder.Byte).Add("a", -1);

        Assert.Throws<ModelFileException>(model.ToTokenizer);
    }

    [Fact]
    public void FromSentencePieceModel_MissingNormalizerSpec_ThrowsModelFileException()
    {
        var model = new SpmModelBuilder { WriteNormalizerSpec = false }
            .Add("[PAD]", 0, SpmModelBuilder.Control).Add("[CLS]", 0, SpmModelBuilder.Control)
            .Add("[SEP]", 0, SpmModelBuilder.Control).Add("[UNK]", 0, SpmModelBuilder.Unknown).Add("a", -1);

        Assert.Throws<ModelFileException>(model.ToTokenizer);
    }

    [Fact]
    public void FromSentencePieceModel_CharsMapWithOverlongReplacement_ThrowsModelFileException()
    {
        byte[] charsMap = SpmModelBuilder.NmtNfkcCharsMap();
        byte[] tampered = [.. charsMap, .. Enumerable.Repeat((byte)'x', 2000), 0];
        var model = SpmModelBuilder.WithDebertaSpecials(charsMap: tampered).Add("a", -1);

        var ex = Assert.Throws<ModelFileException>(model.ToTokenizer);

        Assert.Contains("2000-byte replacement", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromSentencePieceModel_CharsMapTrieLargerThanItsBlob_ThrowsModelFileException()
    {
        byte[] charsMap = SpmModelBuilder.NmtNfkcCharsMap()[..1000];
        var model = SpmModelBuilder.WithDebertaSpecials(charsMap: charsMap).Add("a", -1);

        var ex = Assert.Throws<ModelFileException>(model.ToTokenizer);

        Assert.Contains("charsmap", ex.Message, StringComparison.Ordinal);
    }
}
