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

    /// <summary>These projections in int8.</summary>
    public QueryKeyValue WithInt8Weights(int weightLimit) =>
        new(query.WithInt8Weights(weightLimit), key.WithInt8Weights(weightLimit), value.WithInt8Weights(weightLimit));

    /// <summary>
    /// Keys and values of every token of <see cref="EncoderWorkspace.Hidden"/>, queries of every token or, with
    /// <paramref name="classTokensOnly"/>, of <see cref="EncoderWorkspace.Cls"/> only. int8 quantises the input once for
    /// all three (the queries' own rows again when they are fewer).
    /// </summary>
    public void Project(WorkerPool pool, EncoderWorkspace workspace, bool classTokensOnly)
    {
        int hidden = query.InFeatures;
        int tokens = workspace.Tokens;
        float[] queryInput = classTokensOnly ? workspace.Cls : workspace.Hidden;
        int queries = classTokensOnly ? workspace.Batch : tokens;
        if (query.Quantized is not null)
        {
            QuantizedRows q = workspace.QuantizedActivations;
            q.Quantize(pool, workspace.Hidden, hidden, tokens, hidden);
            key.Forward(pool, q, workspace.Key);
            value.Forward(pool, q, workspace.Value);
            if (classTokensOnly)
            {
                q.Quantize(pool, queryInput, hidden, queries, hidden);
            }

            query.Forward(pool, q, workspace.Query);
        }
        else
        {
            query.Forward(pool, queryInput, queries, workspace.Query);
            key.Forward(pool, workspace.Hidden, tokens, workspace.Key);
            value.Forward(pool, workspace.Hidden, tokens, workspace.Value);
        }
    }
}
