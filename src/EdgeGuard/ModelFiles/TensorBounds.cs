using System.Globalization;

namespace EdgeGuard.ModelFiles;

/// <summary>
/// Holds a config's sizes to the tensors a source actually has. A config is text and costs nothing to inflate
/// (<c>"num_labels": 20000000</c>), while a tensor of a size is backed by that many bytes of the file; so a size that a
/// tensor fixes is believed only when the two agree, and that is checked before anything is allocated from it.
/// Every check throws a <see cref="ModelFileException"/> naming the config field, its value and what the weights hold.
/// </summary>
/// <param name="weights">The tensors.</param>
/// <param name="configOrigin">Where the config came from, for messages.</param>
internal readonly struct TensorBounds(ITensorSource weights, string configOrigin)
{
    /// <summary>
    /// Requires <paramref name="field"/> = <paramref name="value"/> to be dimension <paramref name="axis"/> of
    /// <paramref name="tensor"/> divided by <paramref name="perUnit"/> (e.g. 2 rows of a relative-position table per bucket).
    /// </summary>
    /// <exception cref="ModelFileException">The tensor is missing, has no such dimension, or disagrees.</exception>
    public void RequireDimension(string field, long value, string tensor, int axis, int perUnit = 1)
    {
        TensorInfo info = weights.Find(tensor)
            ?? throw new ModelFileException($"{weights.Origin}: tensor '{tensor}' is missing (it is needed to check {field}={value} of {configOrigin}).");
        if (info.Shape.Count <= axis)
        {
            throw new ModelFileException($"{weights.Origin}: tensor '{tensor}' has shape {info.ShapeText}, which has no dimension {axis} to check {field}={value} of {configOrigin} against.");
        }

        long size = info.Shape[axis];
        if (size == value * perUnit)
        {
            return;
        }

        string implied = size % perUnit == 0
            ? string.Create(CultureInfo.InvariantCulture, $"so {field}={size / perUnit}")
            : string.Create(CultureInfo.InvariantCulture, $"whose dimension {axis} ({size}) is not {perUnit} × {field} for any {field}");
        throw new ModelFileException($"{configOrigin}: {field}={value} does not match the weights: tensor '{tensor}' of {weights.Origin} has shape {info.ShapeText}, {implied}.");
    }

    /// <summary>
    /// Requires tensors named <c>{prefix}{i}.…</c> for exactly the indices 0 … <paramref name="value"/> - 1 (numbered
    /// layers): an index below the count with no tensors, or a tensor of an index at or beyond it, is a mismatch.
    /// Costs one pass over the tensor names, whatever the value.
    /// </summary>
    /// <param name="field">The config field that counts the blocks.</param>
    /// <param name="value">Its value.</param>
    /// <param name="prefix">The name prefix before the index, with its trailing dot.</param>
    /// <param name="unit">What one block is, for messages (<c>layer</c>).</param>
    /// <exception cref="ModelFileException">The blocks present are not exactly 0 … value - 1.</exception>
    public void RequireNumberedBlocks(string field, int value, string prefix, string unit)
    {
        var present = new HashSet<int>();
        foreach (TensorInfo tensor in weights.Tensors)
        {
            string name = tensor.Name;
            if (!name.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            int end = name.IndexOf('.', prefix.Length);
            ReadOnlySpan<char> digits = end < 0 ? name.AsSpan(prefix.Length) : name.AsSpan(prefix.Length, end - prefix.Length);
            if (digits.IsEmpty || digits.ContainsAnyExceptInRange('0', '9'))
            {
                continue;
            }

            // An index too large for an int is beyond any count.
            if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int index) || index >= value)
            {
                throw new ModelFileException($"{weights.Origin}: tensor '{name}' belongs to {unit} {digits}, but {configOrigin} has {field}={value}.");
            }

            present.Add(index);
        }

        // Fewer blocks than the count: the first gap is at most present.Count, so this ends quickly for any value.
        for (int i = 0; i < value; i++)
        {
            if (!present.Contains(i))
            {
                throw new ModelFileException(
                    $"{configOrigin}: {field}={value} does not match the weights: {weights.Origin} has tensors for {present.Count} {unit}s and none for {unit} {i} ('{prefix}{i}.*').");
            }
        }
    }
}
