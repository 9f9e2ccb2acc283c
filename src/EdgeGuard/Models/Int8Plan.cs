using System.Text.RegularExpressions;
using EdgeGuard.Kernels.Int8;

namespace EdgeGuard.Models;

/// <summary>
/// How a model loaded in int8 quantises its linear layers: the weight limit, and the layers kept in float32 (mixed
/// precision, for layers whose int8 rounding moves decisions). A layer is named as its weights are
/// (<c>bert.encoder.layer.5.output.dense</c>); a pattern matches a name whole, <c>*</c> standing for any run of
/// characters within one dot-separated part and <c>**</c> for any run across parts.
/// </summary>
public sealed class Int8Plan
{
    private readonly bool _keepsEveryFloatLayer;
    private readonly HashSet<string> _matchedPatterns = new(StringComparer.Ordinal);

    /// <param name="weightLimit">The largest |w| of the int8 weights: <see cref="PackedInt8Matrix.FullWeightLimit"/> or <see cref="PackedInt8Matrix.SevenBitWeightLimit"/>.</param>
    /// <param name="keepFloat">Patterns of the layers to keep in float32; none for every linear layer in int8.</param>
    /// <exception cref="ArgumentException">An empty pattern.</exception>
    public Int8Plan(int weightLimit, IEnumerable<string>? keepFloat = null)
    {
        WeightLimit = weightLimit;
        KeepFloat = [.. keepFloat ?? []];
        foreach (string pattern in KeepFloat)
        {
            if (string.IsNullOrWhiteSpace(pattern))
            {
                throw new ArgumentException("A pattern of layers to keep in float32 is empty.", nameof(keepFloat));
            }
        }
    }

    private Int8Plan(int weightLimit, bool keepsEveryFloatLayer)
        : this(weightLimit) => _keepsEveryFloatLayer = keepsEveryFloatLayer;

    /// <summary>The largest |w| of weights quantised at load.</summary>
    public int WeightLimit { get; }

    /// <summary>Patterns of the layers kept in float32.</summary>
    public IReadOnlyList<string> KeepFloat { get; }

    /// <summary>The patterns that matched no layer the model loaded so far (a misspelt name, or one of another architecture).</summary>
    public IEnumerable<string> UnmatchedPatterns => KeepFloat.Where(p => !_matchedPatterns.Contains(p));

    /// <summary>
    /// For an int8 bundle: its packed layers as stored, and every layer it stores in float32 kept so (that is how a
    /// mixed-precision bundle records its choice).
    /// </summary>
    internal static Int8Plan AsStored(int weightLimit) => new(weightLimit, keepsEveryFloatLayer: true);

    /// <summary>Whether the layer named <paramref name="name"/> stays in float32 (noting which pattern matched it).</summary>
    internal bool KeepsFloat(string name)
    {
        if (_keepsEveryFloatLayer)
        {
            return true;
        }

        bool kept = false;
        foreach (string pattern in KeepFloat)
        {
            if (Matches(pattern, name))
            {
                _matchedPatterns.Add(pattern);
                kept = true;
            }
        }

        return kept;
    }

    /// <summary>
    /// Whether <paramref name="name"/> matches <paramref name="pattern"/> whole: <c>*</c> matches any run of characters
    /// within one dot-separated part of the name, <c>**</c> any run across parts.
    /// </summary>
    public static bool Matches(string pattern, string name)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(name);
        string expression = Regex.Escape(pattern).Replace(@"\*\*", ".*", StringComparison.Ordinal).Replace(@"\*", "[^.]*", StringComparison.Ordinal);
        return Regex.IsMatch(name, "^" + expression + "$", RegexOptions.CultureInvariant);
    }
}
