using EdgeGuard.ModelFiles;

namespace EdgeGuard.Models.Layers;

/// <summary>
/// Reads named float32 weights under a name prefix and checks each shape, so a module's loader states the
/// Hugging Face names and shapes it needs and nothing else.
/// </summary>
internal readonly struct WeightLoader(ITensorSource source, string prefix)
{
    public WeightLoader(ITensorSource source)
        : this(source, string.Empty)
    {
    }

    public ITensorSource Source => source;

    /// <summary>The Hugging Face name prefix this loader reads under (empty at the root).</summary>
    public string Prefix => prefix;

    /// <summary>A loader for the names under <c>prefix.name.</c>.</summary>
    public WeightLoader Child(string name) => new(source, Qualify(name));

    /// <summary>A 2-D tensor of exactly <paramref name="rows"/>×<paramref name="columns"/>.</summary>
    public ReadOnlyMemory<float> Matrix(string name, int rows, int columns) => Read(name, [rows, columns]);

    /// <summary>A 1-D tensor of exactly <paramref name="length"/>.</summary>
    public ReadOnlyMemory<float> Vector(string name, int length) => Read(name, [length]);

    private ReadOnlyMemory<float> Read(string name, long[] expected)
    {
        string fullName = Qualify(name);
        if (source is ITensorFactory factory)
        {
            return factory.Create(fullName, expected);
        }

        string expectedText = "[" + string.Join(", ", expected) + "]";
        TensorInfo? info = source.Find(fullName);
        if (info is null)
        {
            // The container may know the name but not serve it (a dtype it cannot read); its message says which.
            string detail = "is missing";
            try
            {
                source.ReadFloat32(fullName);
            }
            catch (ModelFileException e)
            {
                detail = $"cannot be read: {e.Message}";
            }

            throw new ModelFileException($"{source.Origin}: tensor '{fullName}' (expected shape {expectedText}) {detail}");
        }

        if (!info.Shape.SequenceEqual(expected))
        {
            throw new ModelFileException($"{source.Origin}: tensor '{fullName}' has shape {info.ShapeText}, expected {expectedText}.");
        }

        return source.ReadFloat32(fullName);
    }

    private string Qualify(string name) => prefix.Length == 0 ? name : prefix + "." + name;
}
