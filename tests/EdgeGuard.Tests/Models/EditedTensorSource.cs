using EdgeGuard.ModelFiles;

namespace EdgeGuard.Tests.Models;

/// <summary>Another source's tensors with some removed, replaced or added, for load-failure tests.</summary>
internal sealed class EditedTensorSource(ITensorSource inner) : ITensorSource
{
    private readonly HashSet<string> _removed = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (TensorInfo Info, float[] Values)> _replaced = new(StringComparer.Ordinal);

    public string Origin => "edited:" + inner.Origin;

    public IReadOnlyCollection<TensorInfo> Tensors =>
        [.. inner.Tensors.Where(t => !_removed.Contains(t.Name) && !_replaced.ContainsKey(t.Name)), .. _replaced.Values.Select(r => r.Info)];

    public EditedTensorSource Remove(string name)
    {
        _removed.Add(name);
        return this;
    }

    public EditedTensorSource Set(string name, long[] shape, float[]? values = null)
    {
        var info = new TensorInfo(name, TensorDType.F32, shape);
        _replaced[name] = (info, values ?? new float[info.ElementCount]);
        return this;
    }

    public TensorInfo? Find(string name) =>
        _replaced.TryGetValue(name, out var replaced) ? replaced.Info : _removed.Contains(name) ? null : inner.Find(name);

    public ReadOnlyMemory<float> ReadFloat32(string name) =>
        _replaced.TryGetValue(name, out var replaced) ? replaced.Values
        : _removed.Contains(name) ? throw new ModelFileException($"{Origin}: no tensor named '{name}'.")
        : inner.ReadFloat32(name);

    public void Dispose()
    {
    }
}
