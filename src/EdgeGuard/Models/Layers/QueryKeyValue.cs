using EdgeGuard.Kernels.Int8;
using EdgeGuard.Kernels.Threading;

namespace EdgeGuard.Models.Layers;

/// <summary>The three input projections of self-attention, as every encoder attention computes them.</summary>
internal sealed class QueryKeyValue(Linear query, Linear key, Linear value)
{
    public Linear Query => query;

    public Linear Key => key;

    public Linear Value => value;

    /// <summary>The three layers, for export.</summary>
    public IEnumerable<Linear> Linears => [query, key, value];

    /// <summary>Loads <c>P.query</c>, <c>P.key</c>, <c>P.value</c> (or the given names) of <c>[hidden, hidden]</c>.</summary>
    public static QueryKeyValue Load(WeightLoader weights, int hidden, string queryName = "query", string keyName = "key", string valueName = "value") =>
        new(Linear.Load(weights.Child(queryName), hidden, hidden), Linear.Load(weights.Child(keyName), hidden, hidden), Linear.Load(weights.Child(valueName), hidden, hidden));

    /// <summary>These projections in int8, as <paramref name="plan"/> quantises them.</summary>
    public QueryKeyValue WithInt8Weights(Int8Plan plan) =>
        new(query.WithInt8Weights(plan), key.WithInt8Weights(plan), value.WithInt8Weights(plan));

    /// <summary>
    /// Keys and values of every token of <see cref="EncoderWorkspace.Hidden"/>, queries of every token or, with
    /// <paramref name="classTokensOnly"/>, of <see cref="EncoderWorkspace.Cls"/> only. int8 quantises the input once for
    /// the projections that run in int8 (the queries' own rows again when they are fewer); a projection kept in
    /// float32 reads the float input.
    /// </summary>
    public void Project(WorkerPool pool, EncoderWorkspace workspace, bool classTokensOnly)
    {
        int hidden = query.InFeatures;
        int tokens = workspace.Tokens;
        float[] queryInput = classTokensOnly ? workspace.Cls : workspace.Hidden;
        int queries = classTokensOnly ? workspace.Batch : tokens;
        QuantizedRows q = workspace.QuantizedActivations;
        bool hiddenQuantized = false;
        ProjectTokens(pool, key, workspace, workspace.Key, ref hiddenQuantized);
        ProjectTokens(pool, value, workspace, workspace.Value, ref hiddenQuantized);
        if (query.Quantized is null)
        {
            query.Forward(pool, queryInput, queries, workspace.Query);
            return;
        }

        if (classTokensOnly || !hiddenQuantized)
        {
            q.Quantize(pool, queryInput, hidden, queries, hidden);
        }

        query.Forward(pool, q, workspace.Query);
    }

    /// <summary><paramref name="layer"/> on every token of <see cref="EncoderWorkspace.Hidden"/>, quantising them first if no earlier projection did.</summary>
    private static void ProjectTokens(WorkerPool pool, Linear layer, EncoderWorkspace workspace, float[] output, ref bool hiddenQuantized)
    {
        int hidden = layer.InFeatures, tokens = workspace.Tokens;
        if (layer.Quantized is null)
        {
            layer.Forward(pool, workspace.Hidden, tokens, output);
            return;
        }

        if (!hiddenQuantized)
        {
            workspace.QuantizedActivations.Quantize(pool, workspace.Hidden, hidden, tokens, hidden);
            hiddenQuantized = true;
        }

        layer.Forward(pool, workspace.QuantizedActivations, output);
    }
}
