using System.Globalization;
using EdgeGuard.Kernels.Float32;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models.Layers;

namespace EdgeGuard.Models.Llama;

/// <summary>
/// <c>LlamaForCausalLM</c> / <c>Qwen2ForCausalLM</c> exactly as Hugging Face computes them: token embeddings, then per
/// layer <c>x += o_proj(attention(RoPE(q_proj(n)), RoPE(k_proj(n)), v_proj(n)))</c> with <c>n = RMSNorm(x)</c> and
/// <c>x += down_proj(SiLU(gate_proj(n′)) · up_proj(n′))</c> with <c>n′ = RMSNorm(x)</c>, a final RMSNorm and
/// <c>lm_head</c>. Qwen2 adds biases to q, k and v.
/// </summary>
/// <remarks>
/// Deviation that changes no value: rotary angles are computed per position as needed rather than from a cached table
/// of every position.
/// </remarks>
public sealed class LlamaDecoder : DecoderGraph
{
    private readonly EmbeddingTable _embeddings;
    private readonly Layer[] _layers;
    private readonly RmsNormWeights _norm;
    private readonly float[] _inverseFrequencies;
    private readonly float _scale;

    private LlamaDecoder(LlamaConfig config, WorkerPool pool, DecoderShape shape, EmbeddingTable embeddings, Layer[] layers, RmsNormWeights norm, DecoderLinears.Named head, ModelPrecision precision)
        : base(config, pool, shape, head, precision)
    {
        _embeddings = embeddings;
        _layers = layers;
        _norm = norm;
        _inverseFrequencies = RopeFrequencies.Compute(config);
        _scale = 1f / MathF.Sqrt(shape.HeadSize);
    }

    private protected override IEnumerable<DecoderLinears.Named> LayerLinears =>
        _layers.SelectMany(l => new[] { l.Query, l.Key, l.Value, l.Output, l.GateProjection, l.UpProjection, l.DownProjection });

    /// <summary>Validates <paramref name="config"/> against <paramref name="weights"/> and loads every tensor by its Hugging Face name.</summary>
    /// <param name="precision">float32 (the reference), or int8 linear layers (the LM head included) quantised at load as <paramref name="int8Plan"/> says.</param>
    /// <exception cref="ModelFileException">An unsupported config, or a missing or misshapen tensor.</exception>
    public static LlamaDecoder Load(LlamaConfig config, ITensorSource weights, WorkerPool pool, ModelPrecision precision, Int8Plan int8Plan)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(pool);
        config.Validate();
        config.ValidateAgainst(weights);
        var shape = new DecoderShape(
            config.VocabSize, config.HiddenSize, config.IntermediateSize, config.NumHiddenLayers, config.NumAttentionHeads, config.KeyValueHeads, config.HeadSize, config.MaxPositionEmbeddings);
        int hidden = shape.Hidden;
        float eps = (float)config.RmsNormEps;
        bool bias = config.QueryKeyValueBias;
        var root = new WeightLoader(weights);
        WeightLoader model = root.Child("model");
        var layers = new Layer[shape.Layers];
        for (int i = 0; i < layers.Length; i++)
        {
            WeightLoader layer = model.Child("layers").Child(i.ToString(CultureInfo.InvariantCulture));
            WeightLoader attention = layer.Child("self_attn"), mlp = layer.Child("mlp");
            layers[i] = new Layer(
                RmsNormWeights.Load(layer.Child("input_layernorm"), hidden, eps),
                DecoderLinears.Load(attention.Child("q_proj"), hidden, shape.QueryWidth, bias),
                DecoderLinears.Load(attention.Child("k_proj"), hidden, shape.KeyValueWidth, bias),
                DecoderLinears.Load(attention.Child("v_proj"), hidden, shape.KeyValueWidth, bias),
                DecoderLinears.Load(attention.Child("o_proj"), shape.QueryWidth, hidden, bias: false),
                RmsNormWeights.Load(layer.Child("post_attention_layernorm"), hidden, eps),
                DecoderLinears.Load(mlp.Child("gate_proj"), hidden, shape.Intermediate, bias: false),
                DecoderLinears.Load(mlp.Child("up_proj"), hidden, shape.Intermediate, bias: false),
                DecoderLinears.Load(mlp.Child("down_proj"), shape.Intermediate, hidden, bias: false));
        }

        WeightLoader embedding = model.Child("embed_tokens");
        DecoderLinears.Named head = LmHead.Load(root, config.TieWordEmbeddings, shape.Vocabulary, hidden, embedding);
        // A bundle's int8 layers run in int8 whatever was asked (and the layers it stores in float32 as they are).
        bool int8 = precision == ModelPrecision.Int8 || head.Layer.Quantized is not null || layers.Any(l => l.IsInt8);
        if (precision == ModelPrecision.Int8)
        {
            layers = [.. layers.Select(l => l.WithInt8Weights(int8Plan))];
            head = DecoderLinears.WithInt8Weights(head, int8Plan);
        }

        return new LlamaDecoder(
            config, pool, shape, EmbeddingTable.Load(embedding, shape.Vocabulary, hidden), layers, RmsNormWeights.Load(model.Child("norm"), hidden, eps), head,
            int8 ? ModelPrecision.Int8 : ModelPrecision.Float32);
    }

    private protected override void Embed(DecoderState state, ReadOnlySpan<int> tokens, int start)
    {
        int hidden = Shape.Hidden, half = Shape.HeadSize / 2;
        for (int r = 0; r < tokens.Length; r++)
        {
            _embeddings.CopyRow(tokens[r], state.Hidden.AsSpan(r * hidden, hidden));

            // The angle in float32 as the reference multiplies it, its cosine and sine rounded from double.
            float position = start + r;
            for (int i = 0; i < half; i++)
            {
                float angle = position * _inverseFrequencies[i];
                state.Cos[(r * half) + i] = (float)Math.Cos(angle);
                state.Sin[(r * half) + i] = (float)Math.Sin(angle);
            }
        }
    }

    private protected override void RunLayer(DecoderState state, int layer, int rows, int start)
    {
        Layer l = _layers[layer];
        int hidden = Shape.Hidden, kvWidth = Shape.KeyValueWidth, queryWidth = Shape.QueryWidth, half = Shape.HeadSize / 2;
        l.InputNorm.Forward(Pool, state.Hidden.AsSpan(0, rows * hidden), state.Normed, rows);
        Project(l.Query.Layer, state, state.Normed, rows, state.Query);
        Span<float> keys = state.NewKeys(layer, start, rows);
        Project(l.Key.Layer, state, state.Normed, rows, keys);
        Project(l.Value.Layer, state, state.Normed, rows, state.NewValues(layer, start, rows));
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> cos = state.Cos.AsSpan(r * half, half), sin = state.Sin.AsSpan(r * half, half);
            RotaryEmbedding.Apply(state.Query.AsSpan(r * queryWidth, queryWidth), Shape.Heads, cos, sin);
            RotaryEmbedding.Apply(keys.Slice(r * kvWidth, kvWidth), Shape.KeyValueHeads, cos, sin);
        }

        state.StoreNew(layer, start, rows);
        CausalSelfAttention.Forward(Pool, Shape, state, layer, rows, start, _scale);
        Project(l.Output.Layer, state, state.Context, rows, state.Normed);
        AddResidual(state, state.Normed, rows);

        l.PostAttentionNorm.Forward(Pool, state.Hidden.AsSpan(0, rows * hidden), state.Normed, rows);
        int width = rows * Shape.Intermediate;
        Project(l.GateProjection.Layer, state, state.Normed, rows, state.Gate);
        Project(l.UpProjection.Layer, state, state.Normed, rows, state.Up);
        GatedActivations.SiluMultiply(state.Gate.AsSpan(0, width), state.Up.AsSpan(0, width), state.Gate.AsSpan(0, width));
        Project(l.DownProjection.Layer, state, state.Gate, rows, state.Normed);
        AddResidual(state, state.Normed, rows);
    }

    private protected override void FinalNorm(ReadOnlySpan<float> input, Span<float> output, int rows) => _norm.Forward(Pool, input, output, rows);

    private sealed record Layer(
        RmsNormWeights InputNorm,
        DecoderLinears.Named Query,
        DecoderLinears.Named Key,
        DecoderLinears.Named Value,
        DecoderLinears.Named Output,
        RmsNormWeights PostAttentionNorm,
        DecoderLinears.Named GateProjection,
        DecoderLinears.Named UpProjection,
        DecoderLinears.Named DownProjection)
    {
        /// <summary>Whether any of the layer's linears runs in int8.</summary>
        public bool IsInt8 => new[] { Query, Key, Value, Output, GateProjection, UpProjection, DownProjection }.Any(l => l.Layer.Quantized is not null);

        public Layer WithInt8Weights(Int8Plan plan) => new(
            InputNorm, DecoderLinears.WithInt8Weights(Query, plan), DecoderLinears.WithInt8Weights(Key, plan), DecoderLinears.WithInt8Weights(Value, plan),
            DecoderLinears.WithInt8Weights(Output, plan), PostAttentionNorm, DecoderLinears.WithInt8Weights(GateProjection, plan),
            DecoderLinears.WithInt8Weights(UpProjection, plan), DecoderLinears.WithInt8Weights(DownProjection, plan));
    }
}
