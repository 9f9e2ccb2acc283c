using System.Globalization;
using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models.Layers;

namespace EdgeGuard.Models.Gpt2;

/// <summary>
/// <c>GPT2LMHeadModel</c> exactly as Hugging Face computes it: <c>wte[id] + wpe[position]</c>, then per block
/// <c>x += c_proj(attention(split(c_attn(LN₁(x)))))</c> and <c>x += mlp.c_proj(gelu_new(c_fc(LN₂(x))))</c>, a final
/// LayerNorm and the head tied to <c>wte</c> (or <c>lm_head</c> when untied).
/// </summary>
/// <remarks>
/// Deviation that changes no value: the <c>Conv1D</c> weights (stored <c>[in, out]</c>) are transposed once at load into
/// the <c>[out, in]</c> layout every other linear layer uses.
/// </remarks>
public sealed class Gpt2Decoder : DecoderGraph
{
    private readonly EmbeddingTable _tokens;
    private readonly EmbeddingTable _positions;
    private readonly Block[] _blocks;
    private readonly LayerNormWeights _finalNorm;
    private readonly float _scale;

    private Gpt2Decoder(Gpt2Config config, WorkerPool pool, DecoderShape shape, EmbeddingTable tokens, EmbeddingTable positions, Block[] blocks, LayerNormWeights finalNorm, DecoderLinears.Named head, ModelPrecision precision)
        : base(config, pool, shape, head, precision)
    {
        _tokens = tokens;
        _positions = positions;
        _blocks = blocks;
        _finalNorm = finalNorm;
        _scale = config.ScaleAttnWeights ? 1f / MathF.Sqrt(shape.HeadSize) : 1f;
    }

    private protected override int FusedWidth => 3 * Shape.Hidden;

    private protected override IEnumerable<DecoderLinears.Named> LayerLinears =>
        _blocks.SelectMany(b => new[] { b.Attention, b.AttentionOutput, b.FeedForward, b.FeedForwardOutput });

    /// <summary>Validates <paramref name="config"/> against <paramref name="weights"/> and loads every tensor, under either naming.</summary>
    /// <exception cref="ModelFileException">An unsupported config, or a missing or misshapen tensor.</exception>
    public static Gpt2Decoder Load(Gpt2Config config, ITensorSource weights, WorkerPool pool, ModelPrecision precision, Int8Plan int8Plan)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(pool);
        config.Validate();
        config.ValidateAgainst(weights);
        int hidden = config.NEmbd, inner = config.IntermediateSize;
        var shape = new DecoderShape(config.VocabSize, hidden, inner, config.NLayer, config.NHead, config.NHead, hidden / config.NHead, config.NPositions);
        float eps = (float)config.LayerNormEpsilon;
        var root = new WeightLoader(weights);
        string prefix = Gpt2Config.WeightPrefix(weights);
        WeightLoader body = prefix.Length == 0 ? root : root.Child(prefix.TrimEnd('.'));
        var blocks = new Block[shape.Layers];
        for (int i = 0; i < blocks.Length; i++)
        {
            WeightLoader block = body.Child("h").Child(i.ToString(CultureInfo.InvariantCulture));
            WeightLoader attention = block.Child("attn"), mlp = block.Child("mlp");
            blocks[i] = new Block(
                LayerNormWeights.Load(block.Child("ln_1"), hidden, eps),
                DecoderLinears.LoadConv1D(attention.Child("c_attn"), hidden, 3 * hidden),
                DecoderLinears.LoadConv1D(attention.Child("c_proj"), hidden, hidden),
                LayerNormWeights.Load(block.Child("ln_2"), hidden, eps),
                DecoderLinears.LoadConv1D(mlp.Child("c_fc"), hidden, inner),
                DecoderLinears.LoadConv1D(mlp.Child("c_proj"), inner, hidden));
        }

        WeightLoader wte = body.Child("wte");
        DecoderLinears.Named head = LmHead.Load(root, config.TieWordEmbeddings, shape.Vocabulary, hidden, wte);
        // A bundle's int8 layers run in int8 whatever was asked (and the layers it stores in float32 as they are).
        bool int8 = precision == ModelPrecision.Int8 || head.Layer.Quantized is not null || blocks.Any(b => b.IsInt8);
        if (precision == ModelPrecision.Int8)
        {
            blocks = [.. blocks.Select(b => b.WithInt8Weights(int8Plan))];
            head = DecoderLinears.WithInt8Weights(head, int8Plan);
        }

        return new Gpt2Decoder(
            config, pool, shape, EmbeddingTable.Load(wte, shape.Vocabulary, hidden), EmbeddingTable.Load(body.Child("wpe"), shape.MaxPositions, hidden), blocks,
            LayerNormWeights.Load(body.Child("ln_f"), hidden, eps), head, int8 ? ModelPrecision.Int8 : ModelPrecision.Float32);
    }

    private protected override void Embed(DecoderState state, ReadOnlySpan<int> tokens, int start)
    {
        int hidden = Shape.Hidden;
        for (int r = 0; r < tokens.Length; r++)
        {
            Span<float> row = state.Hidden.AsSpan(r * hidden, hidden);
            _tokens.CopyRow(tokens[r], row);
            _positions.AddRow(start + r, row);
        }
    }

    private protected override void RunLayer(DecoderState state, int layer, int rows, int start)
    {
        Block b = _blocks[layer];
        int hidden = Shape.Hidden;
        Span<float> normed = state.Normed.AsSpan(0, rows * hidden);
        b.Norm1.Forward(Pool, state.Hidden.AsSpan(0, rows * hidden), default, normed, rows);
        Project(b.Attention.Layer, state, normed, rows, state.Fused);

        // c_attn's output rows are [q | k | v]; keys and values go to the cache at their positions.
        Span<float> keys = state.NewKeys(layer, start, rows), values = state.NewValues(layer, start, rows);
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> fused = state.Fused.AsSpan(r * 3 * hidden, 3 * hidden);
            fused[..hidden].CopyTo(state.Query.AsSpan(r * hidden, hidden));
            fused.Slice(hidden, hidden).CopyTo(keys.Slice(r * hidden, hidden));
            fused.Slice(2 * hidden, hidden).CopyTo(values.Slice(r * hidden, hidden));
        }

        state.StoreNew(layer, start, rows);

        CausalSelfAttention.Forward(Pool, Shape, state, layer, rows, start, _scale);
        Project(b.AttentionOutput.Layer, state, state.Context, rows, state.Normed);
        AddResidual(state, state.Normed, rows);

        b.Norm2.Forward(Pool, state.Hidden.AsSpan(0, rows * hidden), default, normed, rows);
        Project(b.FeedForward.Layer, state, normed, rows, state.Gate);
        GatedActivations.GeluTanh(state.Gate.AsSpan(0, rows * Shape.Intermediate));
        Project(b.FeedForwardOutput.Layer, state, state.Gate, rows, state.Normed);
        AddResidual(state, state.Normed, rows);
    }

    private protected override void FinalNorm(ReadOnlySpan<float> input, Span<float> output, int rows) => _finalNorm.Forward(Pool, input, default, output, rows);

    private sealed record Block(
        LayerNormWeights Norm1,
        DecoderLinears.Named Attention,
        DecoderLinears.Named AttentionOutput,
        LayerNormWeights Norm2,
        DecoderLinears.Named FeedForward,
        DecoderLinears.Named FeedForwardOutput)
    {
        /// <summary>Whether any of the block's linears runs in int8.</summary>
        public bool IsInt8 => new[] { Attention, AttentionOutput, FeedForward, FeedForwardOutput }.Any(l => l.Layer.Quantized is not null);

        public Block WithInt8Weights(Int8Plan plan) => new(
            Norm1, DecoderLinears.WithInt8Weights(Attention, plan), DecoderLinears.WithInt8Weights(AttentionOutput, plan), Norm2,
            DecoderLinears.WithInt8Weights(FeedForward, plan), DecoderLinears.WithInt8Weights(FeedForwardOutput, plan));
    }
}
