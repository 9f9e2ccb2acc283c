using EdgeGuard.Generation.Decoding;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models;
using EdgeGuard.Pruning;
using EdgeGuard.Tests.Generation;

namespace EdgeGuard.Tests.Pruning;

/// <summary>The decoder graph's linear-input observer as pruning uses it: what each layer sees, summed per input feature.</summary>
public sealed class LinearInputSquaresTests
{
    [Fact]
    public void OneToken_FirstQueryInputIsTheRmsNormOfItsEmbedding()
    {
        DecoderModel model = DecoderFixtures.Model("llama-gqa-tied");
        IReadOnlyList<PrunableLinear> layers = PrunableLinear.Choose(model, PrunedLinears.QueryKeyValue);
        Assert.Equal(
            ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.v_proj.weight",
             "model.layers.1.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.weight", "model.layers.1.self_attn.v_proj.weight"],
            layers.Select(l => l.Name));
        var squares = new LinearInputSquares(layers);
        const int token = 17;
        squares.Add(model, [[token]]);

        using var source = ModelSource.Open(DecoderFixtures.Path("llama-gqa-tied"));
        int hidden = 32;
        ReadOnlySpan<float> embedding = source.Weights.ReadFloat32("model.embed_tokens.weight").Span.Slice(token * hidden, hidden);
        ReadOnlySpan<float> norm = source.Weights.ReadFloat32("model.layers.0.input_layernorm.weight").Span;
        double meanSquare = 0;
        foreach (float x in embedding)
        {
            meanSquare += (double)x * x;
        }

        double scale = 1 / Math.Sqrt((meanSquare / hidden) + 1e-5);
        ReadOnlySpan<double> sums = squares.Of(layers[0]);
        for (int j = 0; j < hidden; j++)
        {
            double expected = embedding[j] * scale * norm[j];
            Assert.Equal(expected * expected, sums[j], 1e-5 * Math.Max(1, expected * expected));
        }

        // q, k and v read the same normed rows.
        Assert.Equal(sums.ToArray(), squares.Of(layers[1]).ToArray());
        Assert.Equal(sums.ToArray(), squares.Of(layers[2]).ToArray());
        Assert.Equal(1, squares.Tokens);
    }

    [Fact]
    public void Rows_AddUp_AndEveryBlockLinearOfGpt2IsSeen()
    {
        DecoderModel model = DecoderFixtures.Model("gpt2-long");
        IReadOnlyList<PrunableLinear> layers = PrunableLinear.Choose(model, PrunedLinears.All);
        Assert.Equal(8, layers.Count);
        Assert.Equal("transformer.h.0.attn.c_attn.weight", layers[0].Name);
        Assert.True(layers[0].StoredInputMajor);
        Assert.Equal((96, 32), (layers[0].OutFeatures, layers[0].InFeatures));

        int[] first = [5, 9, 33, 120, 7], second = [64, 3];
        var apart = new LinearInputSquares(layers);
        apart.Add(model, [first]);
        apart.Add(model, [second]);
        var together = new LinearInputSquares(layers);
        together.Add(model, [first, second]);
        Assert.Equal(7, together.Tokens);
        foreach (PrunableLinear layer in layers)
        {
            double[] a = apart.Of(layer).ToArray(), b = together.Of(layer).ToArray();
            Assert.Equal(a, b);
            Assert.All(b, v => Assert.True(v > 0, $"{layer.Name}: every input feature sees a non-zero value"));
        }
    }

    [Fact]
    public void Squares_OfALayerNotChosen_Throw()
    {
        DecoderModel model = DecoderFixtures.Model("llama-gqa-tied");
        var squares = new LinearInputSquares(PrunableLinear.Choose(model, PrunedLinears.QueryKeyValue));
        PrunableLinear down = PrunableLinear.Choose(model, PrunedLinears.All).Last();
        Assert.Equal("model.layers.1.mlp.down_proj.weight", down.Name);
        Assert.Throws<ArgumentException>(() => squares.Of(down));
    }
}
