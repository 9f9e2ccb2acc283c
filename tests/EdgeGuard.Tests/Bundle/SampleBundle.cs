using System.Runtime.InteropServices;
using EdgeGuard.ModelFiles;
using EdgeGuard.ModelFiles.Bundle;

namespace EdgeGuard.Tests.Bundle;

/// <summary>A small but complete model for bundle tests: odd shapes, all three float types, awkward values.</summary>
internal static class SampleBundle
{
    public const string ConfigJson = """
        {
          "model_type": "deberta-v2",
          "hidden_size": 8,
          "layer_norm_eps": 1e-07,
          "id2label": { "0": "safe", "1": "unsafe" },
          "note": "café <ok>"
        }
        """;

    public static BundleContents Contents(int tokenizerBytes = 97) => new(
        Architecture: "deberta-v2",
        ConfigJson,
        Tokenizer: new BundleTokenizer("spm-unigram", new Dictionary<string, byte[]> { ["spm.model"] = RandomBytes(tokenizerBytes, seed: 11) }),
        Classifier: new BundleClassifier(["safe", "unsafe"], UnsafeLabel: 1, Threshold: 0.37f),
        Precision: BundleFormat.PrecisionF32,
        Name: "tiny-guard",
        Source: "tests");

    /// <summary>F32 tensors with NaN payloads, signed zero, infinities and subnormals; F16 and BF16 with finite values.</summary>
    public static InMemoryTensorSource Weights()
    {
        var random = new Random(3);
        var source = new InMemoryTensorSource();
        float[] special = [BitConverter.UInt32BitsToSingle(0x7FC0_ABCD), -0.0f, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, 1e-40f];
        source.AddF32("deberta.embeddings.word_embeddings.weight", [13, 8], RandomFloats(random, 13 * 8, special));
        source.AddF32("deberta.embeddings.LayerNorm.bias", [8], RandomFloats(random, 8, []));
        source.AddF32("classifier.bias", [], [0.25f]);
        source.AddF32("odd.cube", [3, 1, 5], RandomFloats(random, 15, []));
        source.Add("half.matrix", TensorDType.F16, [7, 3], FiniteHalves(random, 21));
        source.Add("brain.float.tensor", TensorDType.BF16, [1, 2, 3, 5], FiniteBFloats(random, 30));
        return source;
    }

    public static byte[] RandomBytes(int count, int seed)
    {
        byte[] bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static float[] RandomFloats(Random random, int count, float[] special)
    {
        float[] values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = i < special.Length ? special[i] : (float)(random.NextDouble() * 4 - 2);
        }

        return values;
    }

    private static byte[] FiniteHalves(Random random, int count)
    {
        var halves = new ushort[count];
        for (int i = 0; i < count; i++)
        {
            halves[i] = BitConverter.HalfToUInt16Bits((Half)(random.NextDouble() * 200 - 100));
        }

        halves[0] = 0x8000; // -0
        halves[1] = 0x0001; // smallest subnormal
        return MemoryMarshal.AsBytes(halves.AsSpan()).ToArray();
    }

    private static byte[] FiniteBFloats(Random random, int count)
    {
        var values = new ushort[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (ushort)(BitConverter.SingleToUInt32Bits((float)(random.NextDouble() * 8 - 4)) >> 16);
        }

        return MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
    }
}
