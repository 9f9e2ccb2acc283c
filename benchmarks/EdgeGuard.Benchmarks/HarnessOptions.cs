namespace EdgeGuard.Benchmarks;

/// <summary>Positional arguments and <c>--name value</c> / <c>--flag</c> options.</summary>
internal sealed class HarnessOptions
{
    private readonly Dictionary<string, string> _named = [];

    public HarnessOptions(string[] args)
    {
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i].StartsWith("--", StringComparison.Ordinal))
            {
                bool hasValue = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal);
                _named[args[i][2..]] = hasValue ? args[++i] : "true";
            }
            else
            {
                Positional.Add(args[i]);
            }
        }
    }

    public List<string> Positional { get; } = [];

    public bool Flag(string name) => _named.ContainsKey(name);

    public string? String(string name) => _named.TryGetValue(name, out string? v) ? v : null;

    public int Int(string name, int fallback) => _named.TryGetValue(name, out string? v) ? int.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : fallback;

    public int[] Ints(string name, int[] fallback) =>
        _named.TryGetValue(name, out string? v) ? [.. v.Split(',').Select(s => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture))] : fallback;
}
