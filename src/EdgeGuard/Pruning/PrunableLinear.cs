using EdgeGuard.Generation.Decoding;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models.Gpt2;
using EdgeGuard.Models.Layers;

namespace EdgeGuard.Pruning;

/// <summary>Which linear layers of the decoder blocks Antidote prunes.</summary>
public enum PrunedLinears
{
    /// <summary>The attention's query, key and value projections (Antidote's full fine-tune branch; GPT-2's fused <c>c_attn</c>).</summary>
    QueryKeyValue,

    /// <summary>Every linear layer of the blocks; never the embeddings or the LM head.</summary>
    All,
}

/// <summary>
/// One linear layer of a loaded float32 decoder that pruning may change: its weights as <c>[out, in]</c> rows, its name as
/// the training pipeline's <c>antidote</c> stage reports it, and the tensor that stores it.
/// </summary>
public sealed class PrunableLinear
{
    private static readonly string[] LlamaQueryKeyValue = [".self_attn.q_proj", ".self_attn.k_proj", ".self_attn.v_proj"];
    private static readonly string[] LlamaAll = [.. LlamaQueryKeyValue, ".self_attn.o_proj", ".mlp.gate_proj", ".mlp.up_proj", ".mlp.down_proj"];
    private static readonly string[] Gpt2QueryKeyValue = [".attn.c_attn"];
    private static readonly string[] Gpt2All = [.. Gpt2QueryKeyValue, ".attn.c_proj", ".mlp.c_fc", ".mlp.c_proj"];

    private PrunableLinear(Linear layer, string prefix, bool storedInputMajor)
    {
        Layer = layer;
        TensorName = prefix + ".weight";

        // The reference names GPT-2's modules under transformer. whichever naming the file uses (checkpoints of the
        // original conversion store h.N... bare), so reports of the two implementations compare name by name.
        Name = (storedInputMajor && !prefix.StartsWith("transformer.", StringComparison.Ordinal) ? "transformer." + prefix : prefix) + ".weight";
        StoredInputMajor = storedInputMajor;
    }

    /// <summary>The weight's name as the <c>antidote</c> stage reports it (the Hugging Face module name + <c>.weight</c>).</summary>
    public string Name { get; }

    /// <summary>The weight's tensor in the model's file.</summary>
    public string TensorName { get; }

    /// <summary>Outputs: rows of the mask.</summary>
    public int OutFeatures => Layer.OutFeatures;

    /// <summary>Inputs: columns of the mask.</summary>
    public int InFeatures => Layer.InFeatures;

    /// <summary>Whether the file stores the weight <c>[in, out]</c> (GPT-2's <c>Conv1D</c>) rather than <c>[out, in]</c>.</summary>
    public bool StoredInputMajor { get; }

    /// <summary>The weights as <c>[out, in]</c> rows, as the forward pass multiplies them.</summary>
    public ReadOnlySpan<float> Weight => Layer.Weight.Span;

    internal Linear Layer { get; }

    /// <summary>The layers <paramref name="which"/> names, in the order a forward pass runs them (the order the reference reports them).</summary>
    /// <exception cref="ModelFileException">The model runs in int8 (pruning needs its float32 weights), or has no such layers.</exception>
    public static IReadOnlyList<PrunableLinear> Choose(DecoderModel model, PrunedLinears which)
    {
        ArgumentNullException.ThrowIfNull(model);
        bool gpt2 = model.Graph is Gpt2Decoder;
        string[] suffixes = (gpt2, which) switch
        {
            (true, PrunedLinears.QueryKeyValue) => Gpt2QueryKeyValue,
            (true, _) => Gpt2All,
            (false, PrunedLinears.QueryKeyValue) => LlamaQueryKeyValue,
            (false, _) => LlamaAll,
        };
        var chosen = new List<PrunableLinear>();
        foreach (DecoderLinears.Named named in model.Graph.BlockLinears)
        {
            if (!suffixes.Any(s => named.Prefix.EndsWith(s, StringComparison.Ordinal)))
            {
                continue;
            }

            if (named.Layer.Quantized is not null || named.Layer.Weight.IsEmpty)
            {
                throw new ModelFileException($"{named.Prefix}: the layer has int8 weights; pruning scores and zeroes float32 weights (prune the float32 model, then convert it to int8).");
            }

            chosen.Add(new PrunableLinear(named.Layer, named.Prefix, gpt2));
        }

        return chosen.Count > 0
            ? chosen
            : throw new ModelFileException($"The {model.Config.ModelType} model has no {(which == PrunedLinears.All ? "block" : "query/key/value")} linear layers to prune.");
    }
}
